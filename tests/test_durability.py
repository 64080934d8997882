"""Concurrency and crash safety with real processes (issue: durability designed in)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ORIGIN
from orderarchive.archive import Archive
from orderarchive.log.note import VerifierKey

WRITER = Path(__file__).with_name("_writer.py")


def _spawn(path: Path, prefix: str, count: int, batch: int = 1) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(path), prefix, str(count), str(batch)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_parallel_writers_lose_nothing(tmp_path: Path, verifiers: list[VerifierKey]) -> None:
    path = tmp_path / "archive"
    Archive.init(path, ORIGIN)
    writers = {f"w{i}": _spawn(path, f"w{i}", 60) for i in range(4)}
    committed: set[str] = set()
    for proc in writers.values():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        committed.update(out.split())
    assert len(committed) == 240
    archive = Archive.open(path)
    report = archive.verify(verifiers)
    assert report.size == 240
    docs = {e.doc for e in archive.iter_entries()}
    assert docs == committed
    assert [e.seq for e in archive.iter_entries()] == list(range(240))


@pytest.mark.slow
def test_kill_minus_nine_at_random_moments(tmp_path: Path, verifiers: list[VerifierKey]) -> None:
    """Kill a writer at random points; each time the archive verifies or is repairable, and
    nothing the writer reported as committed is ever lost."""
    rng = random.Random(20260205)
    path = tmp_path / "archive"
    Archive.init(path, ORIGIN)
    reported: set[str] = set()
    repaired = clean = 0
    for round_no in range(25):
        proc = _spawn(path, f"r{round_no}", 40, batch=rng.choice([1, 3, 7]))
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        reported.update(out.split())
        archive = Archive.open(path)
        report = archive.audit(verifiers)
        if not report.ok:
            # The only acceptable damage is an uncommitted tail, which repair removes.
            codes = {p.code for p in report.problems}
            # Killed during the very first append: no checkpoint yet, nothing was committed.
            first = "checkpoint-missing" in codes
            # kill -9 can also leave a temporary file: reported, and repair removes it.
            assert codes - {"checkpoint-missing"} <= {"uncommitted", "unknown-file"}, (
                report.problems
            )
            assert all(mine for _, _, mine in archive.leftovers()), archive.leftovers()
            archive.repair(discard_uncheckpointed=first)
            archive.remove_debris()
            repaired += 1
            report = archive.audit(verifiers)
        else:
            clean += 1
        assert report.ok, report.problems
        present = {e.doc for e in archive.iter_entries()}
        assert reported <= present, reported - present
    assert repaired + clean == 25
    print(f"kill -9 loop: 25 kills, {repaired} needed repair, {clean} were clean")
