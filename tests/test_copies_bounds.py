"""The copy comparison's work is bounded, and over its bounds it gives no verdict (issue 11,
item 3): the diff is correct (property tests), repetitive text takes Myers' path, and the word
limit and time budget end `check` with a one-line error and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ORIGIN, REPO
from orderarchive import copies
from orderarchive.archive import Archive, document_fields
from orderarchive.cli import cli
from orderarchive.copies import CompareLimits, CompareTimeoutError, CopyTooLargeError, diff_tokens
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.textlayer import TextLayer
from orderarchive.proofs import check_copy

SEED = REPO / "tests" / "data" / "seeds" / "whdh-2026-02-05-wu-signs-executive-order.txt"


def _replay(a: list[str], b: list[str], ops: list[tuple[str, int, int, int, int]]) -> list[str]:
    """Apply opcodes to *a*; check they are contiguous and that "equal" blocks are equal."""
    out: list[str] = []
    i = j = 0
    for op, i1, i2, j1, j2 in ops:
        assert (i1, j1) == (i, j)
        if op == "equal":
            assert a[i1:i2] == b[j1:j2]
            out += a[i1:i2]
        else:
            assert op in ("insert", "delete", "replace")
            out += b[j1:j2]
        i, j = i2, j2
    assert (i, j) == (len(a), len(b))
    return out


tokens = st.lists(st.sampled_from(["the", "city", "shall", "not", "assist", ",", "."]),
                  max_size=60)


@settings(max_examples=300, deadline=None)
@given(a=tokens, b=tokens)
def test_diff_turns_a_into_b(a: list[str], b: list[str]) -> None:
    ops, undecided = diff_tokens(a, b)
    assert undecided == 0
    assert _replay(a, b, ops) == b
    if a != b:
        assert any(op != "equal" for op, *_ in ops)


@settings(max_examples=200, deadline=None)
@given(a=tokens, b=tokens)
def test_anchored_and_myers_paths_turn_a_into_b(a: list[str], b: list[str]) -> None:
    # With difflib's gap bound at 4 token pairs, the patience anchors and, for repetitive
    # ranges, Myers' algorithm do all the work.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(copies, "_SMALL_GAP", 4)
        ops, undecided = diff_tokens(a, b)
    assert undecided == 0
    assert _replay(a, b, ops) == b


def test_myers_finds_the_few_edits_in_repetitive_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(copies, "_SMALL_GAP", 16)
    a = ["a", "b"] * 500
    b = list(a)
    b[301] = "c"
    b.insert(700, "a")
    ops, undecided = diff_tokens(a, b)
    assert undecided == 0 and _replay(a, b, ops) == b
    assert sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in ops if op != "equal") == 2


def test_too_many_edits_in_repetitive_text_is_undecided(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(copies, "_SMALL_GAP", 16)
    monkeypatch.setattr(copies, "MAX_EDIT_DISTANCE", 3)
    a = ["a", "b"] * 50
    b = ["b", "a"] * 50
    b[10:20] = ["a"] * 10
    _, undecided = diff_tokens(a, b)
    assert undecided > 0


def test_a_past_deadline_stops_the_diff() -> None:
    with pytest.raises(CompareTimeoutError):
        diff_tokens(["a", "b"], ["b", "a"], deadline=0.0)


# -- through check_copy and the CLI ------------------------------------------------------------


@pytest.fixture
def seeded(tmp_path: Path, signer: Signer) -> tuple[Archive, str, Path]:
    body = SEED.read_text(encoding="utf-8")
    archive = Archive.init(tmp_path / "a", ORIGIN)
    archive.add([document_fields(body.encode(), doc="whdh", kind="article", title="WHDH",
                                 issuer="WHDH", issued=None, media_type="text/plain",
                                 text=TextLayer.from_text(body), extractor="x")], signer)
    archive.release(signer)
    key = tmp_path / "k.vkey"
    key.write_text(str(signer.verifier()) + "\n")
    return archive, body, key


def test_word_limit_is_an_error_not_a_verdict(
    seeded: tuple[Archive, str, Path], verifiers: list[VerifierKey], tmp_path: Path
) -> None:
    archive, body, key = seeded
    edited = body.replace("Boston", "Springfield", 1)
    words = len(body.split())
    with pytest.raises(CopyTooLargeError, match="limit"):
        check_copy(archive, edited.encode(), verifiers, filename="c.txt",
                   limits=CompareLimits(max_words=words // 2))
    ok = check_copy(archive, edited.encode(), verifiers, filename="c.txt",
                    limits=CompareLimits(max_words=words * 2))
    assert ok.status == "modified-copy"
    copy = tmp_path / "c.txt"
    copy.write_text(edited)
    result = CliRunner().invoke(cli, ["--archive", str(tmp_path / "a"), "check",
                                      "--trusted-key", str(key), "--max-words", "10", str(copy)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "--max-words" in lines[0]
    assert "Traceback" not in result.output


def test_time_budget_is_an_error_not_a_verdict(
    seeded: tuple[Archive, str, Path], tmp_path: Path
) -> None:
    _, body, key = seeded
    copy = tmp_path / "c.txt"
    copy.write_text(body.replace("Boston", "Springfield", 1))
    result = CliRunner().invoke(cli, ["--archive", str(tmp_path / "a"), "check",
                                      "--trusted-key", str(key), "--timeout", "0.000001",
                                      str(copy)])
    assert result.exit_code == 2
    assert result.output.startswith("error:") and "--timeout" in result.output
    for bad in (["--timeout", "0"], ["--timeout", "-1"], ["--max-words", "0"]):
        out = CliRunner().invoke(cli, ["--archive", str(tmp_path / "a"), "check", *bad,
                                       str(copy)])
        assert out.exit_code == 2 and "Traceback" not in out.output


def test_long_copy_of_a_short_article_is_not_official(
    seeded: tuple[Archive, str, Path], verifiers: list[VerifierKey]
) -> None:
    # A copy far longer than any candidate cannot be 60% similar: decided without a diff.
    archive, body, _ = seeded
    long_copy = "\n\n".join([body] * 60)
    assert check_copy(archive, long_copy.encode(), verifiers,
                      filename="c.txt").status == "not-official"
