"""history: remembered checkpoints, proofs of extension, rollback and fork evidence."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from conftest import ORIGIN, STORE_KINDS, directory_only, text_request
from orderarchive.archive import Archive
from orderarchive.errors import (
    ForkError,
    MalformedError,
    NotFoundError,
    RollbackError,
    SignatureError,
    VerificationError,
)
from orderarchive.history import (
    STATE_ENV,
    ExtensionSummary,
    ForkEvidence,
    HistoryReport,
    LogForkedError,
    LogRolledBackError,
    check_extends,
    check_history,
    last_seen,
    remember,
    remembered_path,
    state_dir,
)
from orderarchive.log import merkle
from orderarchive.log.checkpoint import Checkpoint, sign_checkpoint
from orderarchive.log.note import Signer, VerifierKey


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every test here runs on each storage implementation (issue 13 item 2)."""
    return str(request.param)


MakeArchive = Callable[..., Archive]


def grow(archive: Archive, signer: Signer, start: int, count: int, *, prefix: str = "eo") -> None:
    archive.add([text_request(i, doc=f"{prefix}-{i}", body=f"{prefix} text {i}.\n")
                 for i in range(start, start + count)], signer)
    archive.release(signer)


def forked_pair(make_archive: MakeArchive, signer: Signer, tmp_path: Path,
                extra: int = 2) -> tuple[Archive, Archive]:
    """Two archives of one log, signed by its key, that share 3 entries and then differ."""
    a = make_archive(3)
    assert a.path is not None
    shutil.copytree(a.path, tmp_path / "fork")
    b = Archive.open(tmp_path / "fork")
    grow(a, signer, 3, 2)
    grow(b, signer, 3, extra, prefix="other")
    return a, b


def note_of(archive: Archive) -> bytes:
    note = archive.head().note
    assert note is not None
    return note


# -- state directory ---------------------------------------------------------------------------


def test_state_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "explicit"))
    assert state_dir() == tmp_path / "explicit"
    monkeypatch.delenv(STATE_ENV)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_dir() == tmp_path / "xdg" / "orderarchive"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert state_dir() == tmp_path / "home" / ".local" / "state" / "orderarchive"


def test_remembered_paths_are_distinct_for_similar_origins() -> None:
    assert remembered_path("a.gov/b") != remembered_path("a.gov_b")
    assert remembered_path("a.gov/b").parent.name == "checkpoints"


# -- remember / last_seen ----------------------------------------------------------------------


def test_remember_round_trip_and_never_backwards(
    make_archive: MakeArchive, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(3)
    assert last_seen(ORIGIN, verifiers) is None
    small = note_of(archive)
    grow(archive, signer, 3, 2)
    big = note_of(archive)
    kept = remember(big, verifiers)
    assert kept.checkpoint.size == 5
    assert kept.path.read_bytes() == big
    assert remember(small, verifiers).checkpoint.size == 5  # never goes back
    seen = last_seen(ORIGIN, verifiers)
    assert seen is not None and seen.note == big
    assert [p.name for p in kept.path.parent.iterdir() if p.name.endswith(".tmp")] == []


@directory_only
def test_remember_refuses_another_root_at_the_same_size(
    make_archive: MakeArchive, signer: Signer, verifiers: list[VerifierKey], tmp_path: Path
) -> None:
    a, b = forked_pair(make_archive, signer, tmp_path)
    remember(note_of(a), verifiers)
    with pytest.raises(LogForkedError) as info:
        remember(note_of(b), verifiers)
    info.value.evidence.verify(verifiers)


def test_remember_checks_the_signature(make_archive: MakeArchive) -> None:
    archive = make_archive(3)
    with pytest.raises(SignatureError):
        remember(note_of(archive), [Signer.generate(ORIGIN).verifier()])


def test_last_seen_rejects_a_corrupt_file(verifiers: list[VerifierKey]) -> None:
    path = remembered_path(ORIGIN)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint\n")
    with pytest.raises(MalformedError):
        last_seen(ORIGIN, verifiers)


# -- check_extends -----------------------------------------------------------------------------


def test_extends(make_archive: MakeArchive, signer: Signer, verifiers: list[VerifierKey]) -> None:
    archive = make_archive(3)
    old = note_of(archive)
    same = check_extends(old, archive, verifiers)
    assert (same.old.size, same.new.size, same.proof) == (3, 3, ())
    grow(archive, signer, 3, 4)
    ext = check_extends(old, archive, verifiers)
    assert (ext.old.size, ext.new.size) == (3, 7)
    assert len(ext.proof) > 0


@directory_only
def test_rollback(make_archive: MakeArchive, signer: Signer, verifiers: list[VerifierKey],
                  tmp_path: Path) -> None:
    archive = make_archive(3)
    assert archive.path is not None
    shutil.copytree(archive.path, tmp_path / "stale")
    grow(archive, signer, 3, 2)
    with pytest.raises(LogRolledBackError) as info:
        check_extends(note_of(archive), Archive.open(tmp_path / "stale"), verifiers)
    assert isinstance(info.value, RollbackError) and not isinstance(info.value, ForkError)
    evidence = info.value.evidence
    assert evidence.kind == "rollback"
    evidence.verify(verifiers)
    assert "rolled back" in str(info.value)


@pytest.mark.parametrize("extra", [2, 3], ids=["same-size", "larger"])
@directory_only
def test_fork_is_proven(extra: int, make_archive: MakeArchive, signer: Signer,
                        verifiers: list[VerifierKey], tmp_path: Path) -> None:
    a, b = forked_pair(make_archive, signer, tmp_path, extra)
    with pytest.raises(LogForkedError) as info:
        check_extends(note_of(a), b, verifiers)
    evidence = info.value.evidence
    assert evidence.kind == "fork" and "FORK" in str(info.value)
    evidence.verify(verifiers)
    assert bool(evidence.proof) == (extra != 2)
    # Written and read back, the evidence still proves the fork to anyone with the key.
    where = evidence.write()
    assert sorted(p.name for p in where.iterdir()) == [
        "evidence.json", "new.checkpoint", "old.checkpoint"]
    again = ForkEvidence.read(where)
    assert again == evidence
    again.verify(verifiers)
    assert evidence.write() != where  # a second report never overwrites the first


@directory_only
def test_fork_evidence_cannot_be_faked(make_archive: MakeArchive, signer: Signer,
                                       verifiers: list[VerifierKey], tmp_path: Path) -> None:
    a, b = forked_pair(make_archive, signer, tmp_path, 3)
    with pytest.raises(LogForkedError) as info:
        check_extends(note_of(a), b, verifiers)
    evidence = info.value.evidence
    # Consistent checkpoints are no fork, whatever prefix root is claimed.
    honest = attrs.evolve(evidence, new_note=note_of(a), proof=())
    with pytest.raises(VerificationError):
        honest.verify(verifiers)
    # A proof that does not lead to the new root proves nothing.
    bad = attrs.evolve(evidence, proof=(bytes(32), *evidence.proof[1:]))
    with pytest.raises(VerificationError):
        bad.verify(verifiers)
    with pytest.raises(SignatureError):
        evidence.verify([Signer.generate(ORIGIN).verifier()])


@directory_only
def test_damaged_hashes_are_not_called_a_fork(make_archive: MakeArchive, signer: Signer,
                                              verifiers: list[VerifierKey]) -> None:
    archive = make_archive(3)
    old = note_of(archive)
    grow(archive, signer, 3, 2)
    assert archive.path is not None
    hashes = archive.path / "log" / "hashes"
    data = bytearray(hashes.read_bytes())
    data[merkle.stored_hash_index(1, 0) * 32] ^= 1  # the node over entries 0-1
    hashes.write_bytes(bytes(data))
    with pytest.raises(VerificationError) as info:
        check_extends(old, archive, verifiers)
    assert not isinstance(info.value, RollbackError)


def test_check_extends_checks_origin_and_signature(
    make_archive: MakeArchive, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(3)
    other = Signer(name="other.gov/orders", seed=bytes(range(32)))
    foreign = sign_checkpoint(Checkpoint("other.gov/orders", 1, bytes(32)), other)
    with pytest.raises(SignatureError):
        check_extends(foreign, archive, [*verifiers, other.verifier()])
    stranger = Signer.generate(ORIGIN)
    unsigned = sign_checkpoint(Checkpoint(ORIGIN, 1, bytes(32)), stranger)
    with pytest.raises(SignatureError):
        check_extends(unsigned, archive, verifiers)


# -- check_history (what `verify` calls) -------------------------------------------------------


def test_history_remembers_then_extends(make_archive: MakeArchive, signer: Signer,
                                        verifiers: list[VerifierKey]) -> None:
    archive = make_archive(3)
    first = check_history(archive, verifiers, archive.audit(verifiers))
    assert first.checked and first.ok and first.first_check
    assert first.remembered_size == 3 and first.remembered == remembered_path(ORIGIN)
    archive.add([text_request(9)], signer)  # unreleased: the newest release stays remembered
    second = check_history(archive, verifiers, archive.audit(verifiers))
    assert second.ok and not second.first_check
    assert second.extends == ExtensionSummary(old_size=3, new_size=4, proof_hashes=3)
    assert second.remembered_size == 3
    assert second.to_dict()["extends"] == {"old_size": 3, "new_size": 4, "proof_hashes": 3}


def test_history_before_the_first_release_remembers_the_checkpoint(
    make_archive: MakeArchive, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(2, release=False)
    result = check_history(archive, verifiers, archive.audit(verifiers))
    assert result.remembered_size == 2


@directory_only
def test_history_reports_a_fork_and_keeps_state(
    make_archive: MakeArchive, signer: Signer, verifiers: list[VerifierKey], tmp_path: Path
) -> None:
    a, b = forked_pair(make_archive, signer, tmp_path)
    check_history(a, verifiers, a.audit(verifiers))
    before = remembered_path(ORIGIN).read_bytes()
    report = b.audit(verifiers)
    assert report.ok  # each archive is fine on its own
    result = check_history(b, verifiers, report)
    assert [p.code for p in result.problems] == ["fork"]
    assert result.diverged and result.evidence is not None and result.evidence_error is None
    evidence = result.evidence
    assert (evidence / "old.checkpoint").read_bytes() == before
    assert (evidence / "new.checkpoint").read_bytes() == note_of(b)
    assert result.to_dict()["evidence"] == str(evidence)
    assert remembered_path(ORIGIN).read_bytes() == before
    ForkEvidence.read(evidence).verify(verifiers)


def test_history_with_since(make_archive: MakeArchive, signer: Signer,
                            verifiers: list[VerifierKey], tmp_path: Path) -> None:
    archive = make_archive(3)
    since = tmp_path / "seen.checkpoint"
    since.write_bytes(note_of(archive))
    grow(archive, signer, 3, 2)
    result = check_history(archive, verifiers, archive.audit(verifiers), since=since)
    assert result.ok and result.since == since and result.remembered is None
    assert result.extends is not None and result.extends.new_size == 5
    assert not remembered_path(ORIGIN).exists()  # --since neither reads nor writes the memory


def test_history_with_bad_since_files(make_archive: MakeArchive, verifiers: list[VerifierKey],
                                      tmp_path: Path) -> None:
    archive = make_archive(3)
    report = archive.audit(verifiers)
    with pytest.raises(NotFoundError):
        check_history(archive, verifiers, report, since=tmp_path / "missing")
    (tmp_path / "garbage").write_bytes(b"\xff\x00garbage")
    result = check_history(archive, verifiers, report, since=tmp_path / "garbage")
    assert [p.code for p in result.problems] == ["history"]
    with pytest.raises(MalformedError):
        check_history(archive, verifiers, report, since=tmp_path)


@directory_only
def test_history_skips_a_failed_report(make_archive: MakeArchive,
                                       verifiers: list[VerifierKey]) -> None:
    archive = make_archive(3)
    assert archive.path is not None
    (archive.path / "log" / "entries").write_bytes(b"")
    report = archive.audit(verifiers)
    assert not report.ok
    assert check_history(archive, verifiers, report) == HistoryReport(checked=False)
    assert not remembered_path(ORIGIN).exists()


def test_history_reports_an_unusable_memory(make_archive: MakeArchive,
                                            verifiers: list[VerifierKey]) -> None:
    archive = make_archive(3)
    path = remembered_path(ORIGIN)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    result = check_history(archive, verifiers, archive.audit(verifiers))
    assert [p.code for p in result.problems] == ["history"]
    assert path.read_bytes() == b"garbage"
