"""Fast paths of text normalisation give exactly what the written rules give.

Text layers are signed, so a faster normaliser must not change one byte of its output: it is
compared here with the rule written out plainly (per line: controls to spaces, runs of spaces
to one space, strip; blank lines dropped) on adversarial and on realistic input.
"""

from __future__ import annotations

import random
import re
import unicodedata

from orderarchive.log.textlayer import normalise_paragraph, split_paragraphs

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def reference(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_SPACES.sub(" ", _CONTROL.sub(" ", line)).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


# Every character class the rule treats specially, plus letters that compose under NFC.
ALPHABET = (" \t\n\r\f\v\x00\x08\x0b\x1b\x1c\x1f\x7f\x85\x9f\u00a0\u1680\u2000\u200a\u2028"
            "\u2029\u202f\u205f\u3000ae\u0301\u00e9\u212b-.")


def test_fast_path_matches_the_rule_on_random_input() -> None:
    rng = random.Random(20260205)
    for _ in range(20_000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 16)))
        assert normalise_paragraph(text) == reference(text), repr(text)


def test_fast_path_matches_the_rule_on_prose() -> None:
    rng = random.Random(7)
    words = ["Executive", "Order", "Boston", "federal", "café", "naïve", "—", "§ 2.", "(a)"]
    for _ in range(2_000):
        parts = []
        for _ in range(rng.randint(1, 60)):
            parts.append(rng.choice(words))
            parts.append(rng.choice([" ", " ", " ", "  ", "\n", " \n ", "\t", "\u00a0", ""]))
        text = "".join(parts)
        assert normalise_paragraph(text) == reference(text), repr(text)
        assert split_paragraphs(text) == [p for p in map(reference, re.split(
            r"\n[ \t\u00a0]*\n", text.replace("\r\n", "\n").replace("\r", "\n"))) if p]


def test_plain_ascii_paragraph_is_returned_unchanged() -> None:
    text = "Section 1. Purpose.\nThe City of Boston affirms its commitment."
    assert normalise_paragraph(text) == text
    assert normalise_paragraph("a  b\tc") == "a b c"


def test_html_whitespace_collapse_matches_the_rule() -> None:
    from orderarchive.documents.html import _collapse

    rule = re.compile(r"[ \t\n\r\f]+")
    rng = random.Random(3)
    for _ in range(20_000):
        text = "".join(rng.choice(" \t\n\r\f\v\u00a0ab") for _ in range(rng.randint(0, 10)))
        assert _collapse(text) == rule.sub(" ", text), repr(text)


def _split_reference(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [p for p in map(reference, re.split(r"\n[ \t\u00a0]*\n", text)) if p]


def test_split_paragraphs_whole_text_fast_path_matches_the_rule() -> None:
    """split_paragraphs proves most texts need no rewriting with one scan of the whole text
    (NFC, all printable, no run of spaces): random texts of many paragraphs built
    mostly from characters that pass that scan, with rare ones that do not (combining
    marks, controls, odd spaces), split both ways."""
    rng = random.Random(20261206)
    common = [*"abc \n", "\n\n", "\n \n", "é", "—", "Å"]
    rare = [*ALPHABET, "\u0301", "e\u0301", "\u212b", "\u1100\u1161", "\u00a0\n"]
    fast = unpadded = 0
    for _ in range(20_000):
        pieces = [rng.choice(rare if rng.random() < 0.02 else common)
                  for _ in range(rng.randint(0, 40))]
        text = "".join(pieces)
        assert split_paragraphs(text) == _split_reference(text), repr(text)
        plain = text.replace("\r\n", "\n").replace("\r", "\n")
        if unicodedata.is_normalized("NFC", plain) and "  " not in plain and (
                plain.replace("\n", "").isprintable()):
            fast += 1
            unpadded += not (" \n" in plain or "\n " in plain or plain[:1] == " "
                             or plain[-1:] == " ")
    # Both fast paths were exercised, not only the per-paragraph one.
    assert fast > 5_000 and unpadded > 1_000, (fast, unpadded)
