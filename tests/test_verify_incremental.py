"""Incremental verify (issue 15 item 2): after a full verification here, only what was added
since is checked, against a remembered state that nobody but this user can forge."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import ORIGIN, ok, text_request
from orderarchive.archive import Archive
from orderarchive.history import state_dir
from orderarchive.log import audit as _audit
from orderarchive.log import merkle
from orderarchive.log.layout import object_name
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.verified import VerifyRun, audit_incrementally, remember_verified

MakeArchive = Callable[..., Archive]
needs_fork = pytest.mark.skipif(not _audit._can_fork(), reason="parallel verify needs fork")


def verified_dir() -> Path:
    return state_dir() / "verified"


def state_files() -> list[Path]:
    return sorted(verified_dir().glob("*.json"))


def remembered_size() -> int:
    (path,) = state_files()
    return int(json.loads(path.read_text())["size"])


def full_then_remember(archive: Archive, keys: list[VerifierKey]) -> VerifyRun:
    run = audit_incrementally(archive, keys, workers=1)
    assert run.report.ok, run.report.problems
    assert remember_verified(run) is not None
    return run


def grow(archive: Archive, signer: Signer, start: int, count: int, **kw: object) -> None:
    archive.add([text_request(i, **kw) for i in range(start, start + count)],  # type: ignore[arg-type]
                signer)
    archive.release(signer)


def object_path(archive: Archive, seq: int) -> Path:
    entry = archive.entry(seq)
    assert entry.document is not None and archive.path is not None
    return archive.path / object_name(entry.document.sha256)


def corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[3] ^= 0x01
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("workers", [1, 2])
def test_after_growth_only_the_new_entries_are_checked(
    make_archive: MakeArchive, signer: Signer, verifiers: list[VerifierKey], workers: int
) -> None:
    if workers == 2 and not _audit._can_fork():
        pytest.skip("parallel verify needs fork")
    archive = make_archive(6)
    first = full_then_remember(archive, verifiers)
    assert not first.incremental
    assert first.report.entries_checked == first.report.signatures_checked == 6
    grow(archive, signer, 6, 3)
    run = audit_incrementally(archive, verifiers, workers=workers)
    assert run.report.ok, run.report.problems
    assert run.incremental and run.since is not None and run.since.size == 6
    assert run.report.first_checked == 6
    assert run.report.entries_checked == run.report.signatures_checked == 3
    assert run.report.documents == 3 and run.report.size == 9
    assert run.report.releases == (6, 9)  # the releases are still all checked
    assert remember_verified(run) is not None
    assert remembered_size() == 9
    # Nothing added: the checkpoint and the root are still checked, no entry is.
    again = audit_incrementally(archive, verifiers, workers=workers)
    assert again.report.ok and again.incremental and again.report.entries_checked == 0


def test_a_tampered_new_entry_is_caught_and_nothing_is_remembered(
    make_archive: MakeArchive, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(4)
    full_then_remember(archive, verifiers)
    grow(archive, signer, 4, 2)
    corrupt(object_path(archive, 5))
    run = audit_incrementally(archive, verifiers, workers=1)
    assert run.incremental
    assert {(p.code, p.seq) for p in run.report.problems} == {("object-digest", 5)}
    assert remember_verified(run) is None
    assert remembered_size() == 4


def test_a_failing_first_verify_writes_no_state(
    make_archive: MakeArchive, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(3)
    corrupt(object_path(archive, 1))
    run = audit_incrementally(archive, verifiers, workers=1)
    assert not run.report.ok
    assert remember_verified(run) is None
    assert state_files() == []


@pytest.mark.parametrize("edit", ["size", "root", "mac", "garbage", "ids", "secret"])
def test_an_edited_state_is_not_trusted(
    make_archive: MakeArchive, signer: Signer, verifiers: list[VerifierKey], edit: str
) -> None:
    archive = make_archive(4)
    full_then_remember(archive, verifiers)
    (path,) = state_files()
    doc = json.loads(path.read_text())
    if edit == "size":  # claim more was verified than was
        doc["size"] = 5
    elif edit == "root":
        doc["root"] = doc["root"][:-4] + "AAA="
    elif edit == "mac":
        doc["mac"] = "0" * 64
    if edit in ("size", "root", "mac"):
        path.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")
    elif edit == "garbage":
        path.write_bytes(b"{not json")
    elif edit == "ids":
        ids = path.with_suffix(".ids")
        ids.write_bytes(bytes(len(ids.read_bytes())))
    else:  # a new secret: the old state's MAC no longer verifies
        secret = verified_dir() / "secret"
        secret.write_bytes(bytes(32))
    grow(archive, signer, 4, 1)
    run = audit_incrementally(archive, verifiers, workers=1)
    assert run.report.ok
    assert not run.incremental
    assert run.report.entries_checked == 5
    assert run.why_full is not None and "cannot be trusted" in run.why_full


def test_a_secret_readable_by_others_is_refused(
    make_archive: MakeArchive, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(2)
    full_then_remember(archive, verifiers)
    os.chmod(verified_dir() / "secret", 0o644)
    run = audit_incrementally(archive, verifiers, workers=1)
    assert not run.incremental and run.why_full is not None
    assert "0600" in run.why_full


def test_a_forked_log_fails_instead_of_verifying_in_full(
    make_archive: MakeArchive, signer: Signer, verifiers: list[VerifierKey], tmp_path: Path
) -> None:
    archive = make_archive(3)
    assert archive.path is not None
    shutil.copytree(archive.path, tmp_path / "fork")
    grow(archive, signer, 3, 2)
    full_then_remember(archive, verifiers)
    # The same directory now holds another history: entries 3.. differ.
    shutil.rmtree(archive.path)
    shutil.copytree(tmp_path / "fork", archive.path)
    forked = Archive.open(archive.path)
    grow(forked, signer, 3, 3, body="Another history.\n")
    run = audit_incrementally(forked, verifiers, workers=1)
    assert run.incremental
    assert [p.code for p in run.report.problems] == ["fork"]
    assert "not consistent with the state verified before (size 5)" in (
        run.report.problems[0].message)
    assert remember_verified(run) is None and remembered_size() == 5


def test_a_rolled_back_log_fails(
    make_archive: MakeArchive, signer: Signer, verifiers: list[VerifierKey], tmp_path: Path
) -> None:
    archive = make_archive(3)
    assert archive.path is not None
    shutil.copytree(archive.path, tmp_path / "old")
    grow(archive, signer, 3, 2)
    full_then_remember(archive, verifiers)
    shutil.rmtree(archive.path)
    shutil.copytree(tmp_path / "old", archive.path)
    run = audit_incrementally(Archive.open(archive.path), verifiers, workers=1)
    assert [p.code for p in run.report.problems] == ["rollback"]


def test_damaged_old_hashes_fail(
    make_archive: MakeArchive, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(4)
    full_then_remember(archive, verifiers)
    grow(archive, signer, 4, 1)
    assert archive.path is not None
    hashes = archive.path / "log" / "hashes"
    data = bytearray(hashes.read_bytes())
    # The root of entries 0..3, the compact range the new entries extend: the remembered
    # tree is no longer reproduced. (A leaf hash below it is not read: only verify --full.)
    data[merkle.stored_hash_index(2, 0) * 32] ^= 0x80
    os.chmod(hashes, 0o644)
    hashes.write_bytes(bytes(data))
    run = audit_incrementally(archive, verifiers, workers=1)
    assert run.incremental and not run.report.ok
    codes = {p.code for p in run.report.problems}
    assert codes & {"fork", "hashes"} and codes <= {"fork", "hashes", "release"}


def test_full_ignores_the_state_and_finds_old_damage(
    make_archive: MakeArchive, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(4)
    full_then_remember(archive, verifiers)
    corrupt(object_path(archive, 1))
    # The documented limit (docs/THREATS.md): damage before the remembered size is not seen...
    assert audit_incrementally(archive, verifiers, workers=1).report.ok
    # ...and is what --full is for.
    run = audit_incrementally(archive, verifiers, full=True, workers=1)
    assert not run.incremental and run.why_full is not None and "--full" in run.why_full
    assert {(p.code, p.seq) for p in run.report.problems} == {("object-digest", 1)}


def test_no_objects_neither_uses_nor_writes_the_state(
    make_archive: MakeArchive, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(3)
    run = audit_incrementally(archive, verifiers, check_objects=False, workers=1)
    assert run.report.ok and remember_verified(run) is None and state_files() == []
    full_then_remember(archive, verifiers)
    grow(archive, signer, 3, 1)
    run = audit_incrementally(archive, verifiers, check_objects=False, workers=1)
    assert not run.incremental and run.report.entries_checked == 4
    assert run.why_full is not None and "--no-objects" in run.why_full
    assert remember_verified(run) is None and remembered_size() == 3


def test_other_keys_mean_a_full_verify(
    make_archive: MakeArchive, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(3)
    full_then_remember(archive, verifiers)
    other = Signer(name="other.example/log", seed=bytes(range(1, 33))).verifier()
    run = audit_incrementally(archive, [*verifiers, other], workers=1)
    assert run.report.ok and not run.incremental
    assert run.why_full is not None and "trusted keys differ" in run.why_full
    assert run.report.entries_checked == 3


def test_another_copy_of_the_archive_is_verified_in_full(
    make_archive: MakeArchive, verifiers: list[VerifierKey], tmp_path: Path
) -> None:
    archive = make_archive(3)
    full_then_remember(archive, verifiers)
    assert archive.path is not None
    shutil.copytree(archive.path, tmp_path / "copy")
    run = audit_incrementally(Archive.open(tmp_path / "copy"), verifiers, workers=1)
    assert not run.incremental and run.report.entries_checked == 3


@pytest.mark.parametrize("workers", [1, 2])
def test_new_entries_are_checked_against_the_old_ids(
    make_archive: MakeArchive,
    signer: Signer,
    verifiers: list[VerifierKey],
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
) -> None:
    if workers == 2 and not _audit._can_fork():
        pytest.skip("parallel verify needs fork")
    archive = make_archive(5)
    full_then_remember(archive, verifiers)
    # A relation to an old document is fine...
    archive.add([text_request(20, relations=(("amends", "eo-2"),))], signer)
    run = audit_incrementally(archive, verifiers, workers=workers)
    assert run.report.ok, run.report.problems
    assert remember_verified(run) is not None
    # ...a reused old id or a relation to nothing is not (the writer refuses both; a forger
    # with the key would not).
    monkeypatch.setattr(Archive, "_check_new", lambda self, *args: None)
    archive.add([text_request(21, doc="eo-3", body="Other text.\n"),
                 text_request(22, relations=(("amends", "nope"),))], signer)
    run = audit_incrementally(archive, verifiers, workers=workers)
    assert run.incremental
    assert [(p.code, p.seq) for p in run.report.problems] == [
        ("duplicate-id", 6), ("relation", 7)]
    assert "'eo-3' reused" in run.report.problems[0].message


# -- the command -------------------------------------------------------------------------------


def cli_run(*args: str) -> Result:
    from orderarchive.cli import cli

    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def clerk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    ok(cli_run("init", "--origin", ORIGIN))
    ok(cli_run("key", "generate", ORIGIN, "--unencrypted", "--secret-key", "clerk.key"))
    for n in range(4):
        Path(f"d{n}.txt").write_text(f"Order {n}\n\nSection 1. Do {n}.\n", "utf-8")
    ok(cli_run("add", "--key", "clerk.key", "d0.txt", "d1.txt"))
    ok(cli_run("release", "--key", "clerk.key"))
    return tmp_path


def test_verify_command_says_what_it_checked(clerk: Path) -> None:
    out = ok(cli_run("verify"))
    assert "full verify: no earlier full verification of this archive here" in out
    ok(cli_run("add", "--key", "clerk.key", "d2.txt", "d3.txt"))
    ok(cli_run("release", "--key", "clerk.key"))
    out = ok(cli_run("verify"))
    assert "verified entries 2..3 and consistency with the state verified on " in out
    assert "(size 2); run verify --full to re-read everything" in out
    doc = json.loads(ok(cli_run("--json", "verify")))
    assert doc["incremental"]["incremental"] is True and doc["incremental"]["since_size"] == 4
    assert doc["entries_checked"] == doc["signatures_checked"] == 0
    doc = json.loads(ok(cli_run("--json", "verify", "--full")))
    assert doc["incremental"] == {"incremental": False, "why_full": "--full: checked everything"}
    assert doc["entries_checked"] == doc["signatures_checked"] == 4


def test_verify_command_fails_on_a_tampered_new_object_and_keeps_the_state(clerk: Path) -> None:
    ok(cli_run("verify"))
    ok(cli_run("add", "--key", "clerk.key", "d2.txt"))
    archive = Archive.open(clerk / "archive")
    corrupt(object_path(archive, 2))
    r = cli_run("verify")
    assert r.exit_code == 1
    assert "entry 2: document does not hash to" in r.output
    assert "checked against the state verified on " in r.output
    assert "(size 2); run verify --full to re-read everything" in r.output
    assert remembered_size() == 2


def test_odd_names_among_the_objects_are_still_reported(
    make_archive: MakeArchive, verifiers: list[VerifierKey]
) -> None:
    # The member check tests a fan-out directory's names all at once (log/layout.plain_files):
    # nothing that is not an object file may slip through it.
    archive = make_archive(3)
    path = object_path(archive, 0)
    fanout = path.parent
    a, b = "a" * 62, "b" * 62
    (fanout / f"{a}\n{b}").write_bytes(b"two names in one")
    (fanout / ("c" * 61)).write_bytes(b"short")
    (fanout / ("e" * 62)).mkdir()
    problems = [p.message for p in archive.audit(verifiers, workers=1).problems]
    assert len(problems) == 3, problems
    assert all("unexpected" in m for m in problems)
    assert any("aaaa\\nbbbb" in m for m in problems)
    assert any("c" * 61 in m for m in problems)
    assert any("unexpected directory" in m and "e" * 62 in m for m in problems)
    # Alone beside the real objects, the name holding two object names is still found.
    (fanout / ("c" * 61)).unlink()
    (fanout / ("e" * 62)).rmdir()
    problems = [p.message for p in archive.audit(verifiers, workers=1).problems]
    assert len(problems) == 1 and "aaaa\\nbbbb" in problems[0], problems


def test_state_forget_forgets_the_verified_states_too(clerk: Path) -> None:
    ok(cli_run("verify"))
    assert len(state_files()) == 1
    doc = json.loads(ok(cli_run("--json", "state", "forget", ORIGIN)))
    assert doc["verified_states_forgotten"] == 1 and state_files() == []
    assert list(verified_dir().glob("*.ids")) == []
    out = ok(cli_run("verify"))
    assert "full verify: no earlier full verification of this archive here" in out
    assert "forgot 1 fully verified state(s)" in ok(cli_run("state", "forget", ORIGIN))
    assert json.loads(ok(cli_run("--json", "state", "forget", "other.example/log")))[
        "verified_states_forgotten"] == 0
