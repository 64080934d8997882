"""Ctrl-C exits 130 and leaves nothing behind; `verify` reports files the format does not name
and `repair` removes the tool's own leftovers only (issue 14, item 6)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import ORIGIN, ok, text_request
from orderarchive.archive import Archive
from orderarchive.cli import cli
from orderarchive.log.layout import debris, named
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.store import FileStore, interrupts_until_commit

KEY = ("--key", "clerk.key")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def clerk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    ok(run("init", "--origin", ORIGIN))
    ok(run("key", "generate", ORIGIN, "--unencrypted", "--secret-key", "clerk.key"))
    return tmp_path


def snapshot(archive: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and directory (None) of the archive but the writers' lock."""
    return {
        p.relative_to(archive).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(archive.rglob("*"))
        if p.name != "lock"
    }


def stray(archive: Path) -> list[str]:
    """The members the format does not name, and empty object fan-out directories."""
    return [
        name
        for name, is_dir, empty in FileStore(archive).members()
        if not named(name, is_dir=is_dir) or debris(name, is_dir=is_dir, empty=empty)
    ]


def batch(directory: Path, trial: int, count: int = 300) -> list[str]:
    directory.mkdir()
    names = []
    for i in range(count):
        path = directory / f"t{trial}-{i}.txt"
        path.write_text(f"Notice {trial} {i}\n\nThe council noted item {i} of {trial}.\n", "utf-8")
        names.append(str(path))
    return names


def add_process(clerk: Path, files: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "orderarchive", "add", *KEY, *files],
        cwd=clerk,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def size(clerk: Path) -> int:
    """The archive's committed size, after `verify` passed on it."""
    ok(run("verify"))
    return Archive.open(clerk / "archive").head().size


def test_ctrl_c_during_add_exits_130_and_leaves_the_archive_as_before_or_committed(
    clerk: Path,
) -> None:
    """Real `orderarchive add` processes of 300 files, each sent SIGINT after a seeded delay
    spread over a whole add's run time: each exits 130 with the archive byte for byte as
    before (but for objects of a batch written before the interrupt, which no entry names),
    or 0 with all 300 committed; `verify` passes and no stray file is ever left."""
    rng = random.Random(20261206)
    archive = clerk / "archive"
    started = time.monotonic()
    timing = add_process(clerk, batch(clerk / "warm", 0))
    _, err = timing.communicate(timeout=120)
    whole = time.monotonic() - started
    assert timing.returncode == 0, err
    expected = 300
    outcomes = []
    for trial in range(1, 11):
        files = batch(clerk / f"b{trial}", trial)
        before = snapshot(archive)
        proc = add_process(clerk, files)
        time.sleep(rng.uniform(0.15, 1.1) * whole)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        outcomes.append(proc.returncode)
        if proc.returncode == 130:
            assert err.strip().splitlines()[-1] == "error: interrupted", err
            assert "Traceback" not in err
            # A batch written before the interrupt leaves its objects (content-addressed,
            # named by no entry: harmless); everything else is as before, byte for byte (the
            # add cut its own records back to the committed size; issue 15 item 1).
            after = snapshot(archive)
            new = set(after) - set(before)
            assert all(name.startswith("objects/sha256/") for name in new), new
            assert {k: after[k] for k in before} == before
        else:
            assert proc.returncode == 0, err
            expected += 300
        assert stray(archive) == []
        assert size(clerk) == expected
    assert 130 in outcomes  # the schedule does interrupt some adds (seeded, so always)


def test_ctrl_c_exits_130_for_any_command_under_json_too(clerk: Path) -> None:
    """A command interrupted (here while it waits for a passphrase on a pipe) exits 130,
    plain and under --json, not 2 with "aborted"."""
    for extra in ((), ("--json",)):
        proc = subprocess.Popen(
            [sys.executable, "-m", "orderarchive", *extra, "key", "generate", ORIGIN,
             "--secret-key", "other.key", "--passphrase-fd", "0"],
            cwd=clerk, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)  # let it start and block reading standard input
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, (out, err)
        assert "Traceback" not in err
        assert not (clerk / "other.key").exists()
        if extra:
            assert '"exit_code": 130' in out
        else:
            assert "interrupted" in err


def test_verify_reports_and_repair_removes_only_the_tools_own_leftovers(clerk: Path) -> None:
    article = clerk / "a.txt"
    article.write_text("Mayor signs order\n\nThe mayor signed it.\n", "utf-8")
    ok(run("add", *KEY, "a.txt"))
    archive = clerk / "archive"
    fanout = next((archive / "objects" / "sha256").iterdir())
    temporary = fanout / f".{'0' * 62}.4242.123456789.tmp"
    temporary.write_bytes(b"half an object")
    (archive / "objects" / "sha256" / "zz").mkdir()  # unknown name: not a fan-out
    (archive / "objects" / "sha256" / "ab").mkdir(exist_ok=True)  # empty fan-out: debris
    checkpoint_tmp = archive / ".checkpoint.4242.987654321.tmp"
    checkpoint_tmp.write_bytes(b"x")
    (archive / "notes.txt").write_text("someone's notes\n", "utf-8")
    result = run("verify")
    assert result.exit_code == 1, result.output
    assert "verification FAILED: 5 problem(s)" in result.stderr
    for name in (temporary.name, "zz", "objects/sha256/ab", checkpoint_tmp.name, "notes.txt"):
        assert name in result.output, name
    out = ok(run("repair"))
    assert "removed leftover" in out and "kept unknown notes.txt" in out
    assert "kept unknown objects/sha256/zz" in out
    assert not temporary.exists() and not checkpoint_tmp.exists()
    assert not (archive / "objects" / "sha256" / "ab").exists()
    assert (archive / "notes.txt").exists() and (archive / "objects" / "sha256" / "zz").exists()
    os.remove(archive / "notes.txt")
    os.rmdir(archive / "objects" / "sha256" / "zz")
    ok(run("verify"))
    assert ok(run("repair")).strip() == "nothing to repair"
    temporary.write_bytes(b"again")
    doc = json.loads(ok(run("--json", "repair")))
    assert doc["removed_leftovers"] == [temporary.relative_to(archive).as_posix()]
    assert doc["unknown_kept"] == [] and doc["removed_bytes"] == {}


def test_ctrl_c_inside_the_write_phase_is_held_until_the_commit(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministically: SIGINT arrives while the objects are being written (the third
    temporary file); the add still commits whole, nothing is left over, and the interrupt is
    recorded for the command, not raised in the middle of the write."""
    import orderarchive.log.store as store_module

    archive = Archive.init(tmp_path / "archive", ORIGIN)
    original = store_module._write_in
    calls = []

    def interrupted(directory: int, name: str, data: bytes) -> None:
        calls.append(name)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        original(directory, name, data)

    monkeypatch.setattr(store_module, "_write_in", interrupted)
    with interrupts_until_commit() as scope:
        entries = archive.add([text_request(i) for i in range(20)], signer)
    assert len(calls) > 3 and scope.interrupted and len(entries) == 20
    assert archive.verify(verifiers).size == 20
    assert stray(tmp_path / "archive") == []
    with interrupts_until_commit(), pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)  # outside a write phase Ctrl-C is Ctrl-C
