"""The fast paths of verify (issue 8) decide exactly as the plain checks they stand in for.

* the text-layer scan: whatever it passes, ``TextLayer.from_bytes`` accepts and writes back
  byte for byte; it passes ordinary layers (so from_bytes is rarely asked);
* the NFC shortcut: no character it calls inert can change under NFC, checked against the
  whole Unicode database of this Python;
* signature checks made on libsodium directly: the verdicts of ``VerifierKey.verify``;
* object reads sized by the entry: the same problems for short, long, chunked objects.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ORIGIN, STORE_KINDS, directory_only
from orderarchive.archive import Archive, object_name
from orderarchive.errors import MalformedError
from orderarchive.log import audit as _audit
from orderarchive.log import entry as entry_module
from orderarchive.log import store as store_module
from orderarchive.log import textlayer
from orderarchive.log.entry import Entry, make_entry
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.store import FileStore
from orderarchive.log.textlayer import TextLayer


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every test here runs on each storage implementation (issue 13 item 2)."""
    return str(request.param)


def accepted(data: bytes) -> bool:
    try:
        layer = TextLayer.from_bytes(data)
    except MalformedError:
        return False
    assert layer.to_bytes() == data  # from_bytes accepts only what it writes back
    return True


def assert_scan_sound(data: bytes) -> None:
    if textlayer.plainly_normalised(data):
        assert accepted(data), data
    assert textlayer.text_layer_ok(data) == accepted(data), data


# -- the layout scan ---------------------------------------------------------------------------

_PIECES = ["a", "b", "Zz", ".", " ", "  ", "\n", "\n\n", "\n\n\n", "\f", "\n\f\n", "\n\f\n\f\n",
           "\n\n\f\n", "\n\f\n\n", "\t", "\r", "\x0b", "\x00", "\x1f", "\x7f", "\x85", "\xa0",
           "\u2028", "\u3000", "é", "e\u0301", "\u0301", "\u1161", "\uac00", "\u212b", "“"]


@settings(max_examples=6000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=24).map("".join))
def test_scan_is_sound_on_adversarial_layers(text: str) -> None:
    data = text.encode("utf-8")
    assert_scan_sound(data)
    assert_scan_sound(data + b"\n")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=40))
def test_scan_is_sound_on_arbitrary_bytes(data: bytes) -> None:
    assert_scan_sound(data)
    assert_scan_sound(data + b"\n")


def realistic_pages(rng: random.Random, pages: int) -> list[list[str]]:
    words = ["the", "City", "shall", "act", "Section", "1.", "order", "“quoted”", "café", "—",
             "§", "42", "Zoning", "e.g.", "(a)", "naïve", "Straße", "ﬁ", "ß"]
    return [
        ["\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
                   for _ in range(rng.randint(1, 5)))
         for _ in range(rng.randint(1, 6))]
        for _ in range(pages)
    ]


@pytest.mark.parametrize("pages", [1, 2, 9, 40])
def test_scan_passes_realistic_layers_and_each_one_byte_change_is_judged_right(
    pages: int,
) -> None:
    rng = random.Random(pages)
    layer = TextLayer.from_pages(realistic_pages(rng, pages))
    data = layer.to_bytes()
    assert len(data) > 100 and textlayer.plainly_normalised(data) and accepted(data)
    # Every position, each byte the rules care about: the scan never passes a broken layer.
    for at in range(0, len(data), max(1, len(data) // 400)):
        for byte in b" \n\f\t\r\x00\x7fx":
            assert_scan_sound(data[:at] + bytes([byte]) + data[at + 1 :])
            assert_scan_sound(data[:at] + bytes([byte]) + data[at:])
        assert_scan_sound(data[:at] + data[at + 1 :])


def test_scan_covers_long_layers_to_their_last_byte() -> None:
    # The mask that reads the windows grows with the layers: a forbidden pair at the very
    # end of a layer longer than any seen before is still found.
    for size in (70_000, 300_000):
        body = (b"word " * (size // 5))[:-1] + b"s"
        assert textlayer.plainly_normalised(body + b"\n")
        for bad in (b"  ", b" \n", b"\n ", b"\n\n\n"):
            assert not textlayer._plain_layout(body[:-4] + bad + b"end")
            assert not textlayer._plain_layout(body[:-3] + bad)
            assert_scan_sound(body[:-4] + bad + b"end\n")


def test_layout_arithmetic_is_the_rules_on_every_short_string() -> None:
    # Every string of up to 8 characters over one character of each class (another
    # character, space, LF, FF, a control): the one multiplication of _plain_layout decides
    # as the plain substring rules do.
    forbidden = (b"  ", b" \n", b"\n ", b"\n\n\n")
    for length in range(1, 9):
        for chars in itertools.product(b"a \n\f\t", repeat=length):
            body = bytes(chars)
            expected = b"\t" not in body and not any(f in body for f in forbidden)
            assert textlayer._plain_layout(body) == expected, body


def test_scan_page_rules() -> None:
    for good in (b"a\n\f\nb\n", b"a\n\nb\n\f\nc d\ne\n", b"a\n\f\nb\n\f\nc\n"):
        assert textlayer.plainly_normalised(good) and accepted(good)
    for bad in (b"\f\na\n", b"a\n\f\n", b"a\n\f\n\n", b"a\f\nb\n", b"a\n\fb\n", b"a\n\f\n\fb\n",
                b"a\n\n\f\nb\n", b"a\n\f\n\nb\n", b"a\n\f\n\f\nb\n", b"a \n\f\nb\n",
                b"a\n\f\n b\n", b"\n\f\nb\n", b"a\f\n"):
        assert not textlayer.plainly_normalised(bad), bad
        assert_scan_sound(bad)


# -- NFC ---------------------------------------------------------------------------------------


def test_inert_characters_never_change_under_nfc() -> None:
    # The characters that can be the second half of a canonical composition (NFC quick check
    # "Maybe") must not be called inert, nor any character NFC changes on its own.
    second_halves = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul V, T
    for cp in range(0x110000):
        decomposition = unicodedata.decomposition(chr(cp))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                second_halves.add(int(parts[1], 16))
    assert len(second_halves) > 60
    for cp in second_halves:
        assert not textlayer._nfc_inert(chr(cp)), hex(cp)
    rng = random.Random(8)
    for cp in rng.sample(range(0x80, 0x30000), 20000):
        char = chr(cp)
        if unicodedata.category(char) == "Cs":
            continue
        if textlayer._nfc_inert(char):
            assert unicodedata.normalize("NFC", char) == char
            for before in ("e", "A", "\u1100", "\uac00", "\u0b47", "é"):
                text = before + char
                assert unicodedata.is_normalized("NFC", text) == (
                    unicodedata.normalize("NFC", before) == before
                ), hex(cp)


@pytest.mark.parametrize("text", ["e\u0301x", "\u212bngstrom", "\u1100\u1161", "\uac00\u11a8",
                                  "a\u0308", "\u0b47\u0b3e", "caf\u00e9", "“q” é"])
def test_nfc_shortcut_agrees(text: str) -> None:
    assert_scan_sound(text.encode() + b"\n")


# -- signatures --------------------------------------------------------------------------------


def test_verifies_agrees_with_verifier_key(
    make_archive: Callable[..., Archive], signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(3)
    entries = list(archive.iter_entries())
    other = Signer.generate(ORIGIN).verifier()
    cosigner = VerifierKey.from_public_key(ORIGIN, verifiers[0].public_key, key_type=0x04)
    forged = [
        Entry.from_bytes(entries[1].raw.replace(b'"Order 1"', b'"Order 7"')),
        Entry.from_bytes(entries[1].raw.replace(
            entries[1].members["sig"].encode(), entries[2].members["sig"].encode())),
    ]
    twin = make_entry({**entries[1].members, "zz": {"sig": entries[1].members["sig"]}},
                      seq=1, signer=signer, recorded=entries[1].recorded)
    for entry in [*entries, *forged, twin]:
        for key in (verifiers[0], other, cosigner):
            assert entry_module._verifies(key, entry) == key.verify(
                entry.encoded_message(), entry.signature
            )
    assert all(entry_module._verifies(verifiers[0], e) for e in [*entries, twin])
    assert not any(entry_module._verifies(verifiers[0], e) for e in forged)


# -- objects -----------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [None, 7])
@directory_only
def test_object_reads_report_the_same_problems(
    make_archive: Callable[..., Archive], verifiers: list[VerifierKey],
    monkeypatch: pytest.MonkeyPatch, chunk: int | None,
) -> None:
    if chunk is not None:  # objects read in many small pieces
        monkeypatch.setattr(_audit, "CHUNK", chunk)
        monkeypatch.setattr(store_module, "_PROBE", 3)
        monkeypatch.setattr(store_module, "CHUNK_BYTES", chunk)
    archive = make_archive(4)
    assert archive.path is not None
    assert archive.audit(verifiers, workers=1).ok
    entries = list(archive.iter_entries())
    docs = [e.document for e in entries]
    assert all(d is not None and d.text is not None for d in docs)
    paths = [archive.path / object_name(d.sha256) for d in docs if d]
    texts = [archive.path / object_name(d.text.sha256) for d in docs if d and d.text]
    paths[0].write_bytes(paths[0].read_bytes() + b"x")  # longer than stated
    paths[1].write_bytes(paths[1].read_bytes()[:-1])  # shorter
    paths[2].unlink()
    texts[3].write_bytes(texts[3].read_bytes().replace(b"\n", b"\n\n\n", 1))
    problems = archive.audit(verifiers, workers=1).problems
    # The deleted object's fan-out directory, if it is now empty, is reported as debris too.
    got = [(p.code, p.seq) for p in problems if p.code != "unknown-file"]
    assert all(paths[2].parent.name in p.message for p in problems if p.code == "unknown-file")
    # Text documents: the document and its text layer are one object.
    assert got == [(code, seq) for code, seq in [("object-digest", 0), ("object-digest", 1),
                                                 ("object-missing", 2), ("object-digest", 3)]
                   for _ in range(2)]


@pytest.mark.parametrize("chunk", [None, 5])
def test_object_size_and_text_layer_problems(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey],
    monkeypatch: pytest.MonkeyPatch, chunk: int | None,
) -> None:
    if chunk is not None:
        monkeypatch.setattr(_audit, "CHUNK", chunk)
        monkeypatch.setattr(store_module, "_PROBE", 2)
        monkeypatch.setattr(store_module, "CHUNK_BYTES", chunk)
    store = FileStore(tmp_path)
    layers = {
        "good": TextLayer.from_pages([["One.", "Two\nlines."], ["Three."]]).to_bytes(),
        "blank-page": TextLayer.from_pages([["One."], [], ["Three."]]).to_bytes(),
        "bad": b"One.\n\n\nTwo.\n",
        "big": TextLayer.from_pages([["Word " * 40 + "end."] * 30] * 3).to_bytes(),
    }
    checker = _audit._EntryChecker(store, verifiers[0].name, verifiers, True, b"k" * 16)
    result = checker.start(0)
    for seq, (name, layer) in enumerate(layers.items()):
        doc = f"PDF {name}".encode()
        for data in (doc, layer):
            store.create(object_name(hashlib.sha256(data).hexdigest()), data)
        fields = {
            "type": "document", "doc": f"d-{seq}", "kind": "other", "title": name,
            "issuer": "x", "media_type": "application/pdf",
            "size": len(doc) + (1 if name == "good" else 0),  # "good": the size is wrong
            "sha256": hashlib.sha256(doc).hexdigest(),
            "text": {"sha256": hashlib.sha256(layer).hexdigest(), "size": len(layer),
                     "extractor": "t/1"},
        }
        entry = make_entry(fields, seq=seq, signer=signer, recorded="2026-01-01T00:00:00Z")
        checker.check(seq, entry.raw)
    assert [(p.code, p.seq) for p in result.problems] == [("object-size", 0), ("text-layer", 2)]
    assert f"is {len(b'PDF good')} bytes, entry says {len(b'PDF good') + 1}" in (
        result.problems[0].message
    )
    assert "not in normalised form" in result.problems[1].message
    assert result.signatures == 4 and result.objects == 8


@pytest.mark.parametrize("chunk", [None, 5])
def test_an_oversized_object_is_hashed_whole_but_not_kept(
    tmp_path: Path, verifiers: list[VerifierKey], monkeypatch: pytest.MonkeyPatch,
    chunk: int | None,
) -> None:
    # A hostile archive may put a huge file where a small text layer should be: verify hashes
    # it to its end (the digest is wrong) but keeps no more bytes than the entry states.
    if chunk is not None:
        monkeypatch.setattr(_audit, "CHUNK", chunk)
        monkeypatch.setattr(store_module, "_PROBE", 2)
        monkeypatch.setattr(store_module, "CHUNK_BYTES", chunk)
    store = FileStore(tmp_path)
    data = b"y" * 10_000
    name = object_name(hashlib.sha256(b"small").hexdigest())
    store.create(name, data)
    checker = _audit._EntryChecker(store, verifiers[0].name, verifiers, True, b"k" * 16)
    h = hashlib.sha256()
    pieces: list[bytes] = []
    assert checker._read_object(name, h, 5, pieces) == len(data)
    assert h.digest() == hashlib.sha256(data).digest()
    assert sum(map(len, pieces)) <= 5


_DOC_FIELDS = {
    "type": "document", "doc": "eo-1", "kind": "executive-order", "title": "T", "issuer": "I",
    "issued": "2025-01-02", "media_type": "text/plain", "size": 3, "sha256": "ab" * 32,
    "source_url": "https://example.gov/1", "no_text": "none", "meta": {"pages": 1},
}


@pytest.mark.parametrize(
    ("member", "value"),
    [(m, v) for m in ("seq", "size") for v in (True, "1", None, [1])]
    + [(m, v) for m in ("doc", "kind", "title", "issuer", "media_type", "sha256", "type",
                        "recorded", "signer") for v in (1, None, ["x"], {"a": "b"})]
    + [(m, v) for m in ("issued", "source_url", "no_text") for v in (1, False, ["x"])]
    + [("meta", v) for v in ("x", 1, [1], True)]
    + [("meta", {"k": v}) for v in (True, None, [1], {"a": 1})],
)
def test_entry_members_of_the_wrong_type_are_refused(member: str, value: object) -> None:
    # Entry.from_bytes takes members of the parser's exact types inline (issue 15, vfast) and
    # everything else through the checks that name the member: bool is not int, None is not
    # a string, and so on, for every member it reads.
    signer = Signer(name=ORIGIN, seed=bytes(32))
    good = make_entry(_DOC_FIELDS, seq=0, signer=signer, recorded="2026-01-01T00:00:00Z")
    assert good.document is not None and good.document.to_dict()["meta"] == {"pages": 1}
    members = dict(good.members)
    if value is None:
        members.pop(member)
        if member in ("issued", "source_url", "no_text", "meta"):
            return  # optional: absent is fine
    else:
        members[member] = value
    from orderarchive import canonical
    from orderarchive.errors import EntryFormatError

    with pytest.raises(EntryFormatError):
        Entry.from_bytes(canonical.dumps(members))
