"""`check`, `prove` and `verify-proof` do not grow with the archive (issue 15, item 3).

At a million entries these commands must cost what they cost at ten thousand. Timing cannot be
asserted in a unit test, so this counts what the work is made of instead, on two archives of
the same kind of entries, 32 and 2,048 entries: every call to the store and the bytes it
returns, and the SQLite virtual-machine steps of the derived index. Between the two sizes only
the inclusion proof may grow (log2 n hashes of 32 bytes); an O(n) pass (reading the log, the
hashes or every release, a scan of an index table) would multiply these counts by up to 64.
"""

from __future__ import annotations

import collections
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import orderarchive.index as index_module
from conftest import text_request
from orderarchive.archive import Archive
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.proofs import check_copy, prove, verify_proof

SMALL, LARGE = 32, 2048
#: Log2(2048) − log2(32) = 6 more proof hashes, each read at most twice (check reads the path
#: once; prove reads it and the proof re-verifies it) — far below a pass over 2,016 entries.
PROOF_BYTES = 6 * 32 * 2 * 2


class CountingStore:
    """A store that forwards every call and counts them, and the bytes read."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: collections.Counter[str] = collections.Counter()
        self.bytes = 0

    def _count(self, value: Any) -> None:
        if isinstance(value, bytes):
            self.bytes += len(value)
        elif isinstance(value, list):
            self.bytes += sum(len(v) for v in value if isinstance(v, bytes))

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            result = attr(*args, **kwargs)
            if name == "read_chunks":
                return self._chunks(result)
            self._count(result)
            return result

        return counted

    def _chunks(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.bytes += len(chunk)
            yield chunk


@pytest.fixture
def vm_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """SQLite VM steps (in units of 10) of every index connection opened from now on."""
    steps = [0]
    connect = index_module._connect

    def counting(path: Path) -> sqlite3.Connection:
        conn = connect(path)

        def tick() -> int:
            steps[0] += 1
            return 0

        conn.set_progress_handler(tick, 10)
        return conn

    monkeypatch.setattr(index_module, "_connect", counting)
    return steps


def _archive(root: Path, n: int, signer: Signer) -> Archive:
    archive = Archive.init(root, "example.gov/orders")
    archive.add([text_request(i) for i in range(n)], signer)
    archive.release(signer)
    return archive


def _rchar() -> int:
    """Bytes this process has read through read(2) and friends (Linux: /proc/self/io), which
    also counts a stream the store hands out and SQLite's page reads."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def _measure(
    root: Path, vm_steps: list[int], work: Callable[[Archive], object]
) -> tuple[collections.Counter[str], int, int, int]:
    opened = Archive.open(root)
    store = CountingStore(opened.store)
    counted = Archive(store, opened.config, root)  # type: ignore[arg-type]
    vm_steps[0] = 0
    before = _rchar()
    work(counted)
    return store.calls, store.bytes, vm_steps[0], _rchar() - before


@pytest.fixture
def two_sizes(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey]
) -> dict[int, Path]:
    roots = {}
    for n in (SMALL, LARGE):
        root = tmp_path / f"archive-{n}"
        archive = _archive(root, n, signer)
        with archive.index(verifiers):  # the index brought up to date, as after any add
            pass
        roots[n] = root
    return roots


def _same_work(small: tuple[Any, ...], large: tuple[Any, ...]) -> None:
    (calls_s, bytes_s, vm_s, read_s), (calls_l, bytes_l, vm_l, read_l) = small, large
    assert calls_l == calls_s, (calls_s, calls_l)
    assert bytes_l <= bytes_s + PROOF_BYTES, (bytes_s, bytes_l)
    assert vm_l <= vm_s + 5, (vm_s, vm_l)
    # SQLite reads whole pages (4 KiB): one more B-tree level per lookup is allowed.
    assert read_l <= read_s + PROOF_BYTES + 8 * 4096, (read_s, read_l)


def _doc(n: int) -> bytes:
    # The middle entry's document: text_request's bytes, as the copy a user holds.
    return text_request(n // 2).data


def test_check_reads_the_same_at_2048_entries_as_at_32(
    two_sizes: dict[int, Path], vm_steps: list[int], verifiers: list[VerifierKey]
) -> None:
    seen = {}
    for n, root in two_sizes.items():
        data = _doc(n)

        def work(archive: Archive, data: bytes = data) -> None:
            assert check_copy(archive, data, verifiers).official

        work(Archive.open(root))  # warm: nothing left to index
        seen[n] = _measure(root, vm_steps, work)
    _same_work(seen[SMALL], seen[LARGE])


def test_prove_and_verify_proof_read_the_same_at_2048_entries_as_at_32(
    two_sizes: dict[int, Path], vm_steps: list[int], verifiers: list[VerifierKey]
) -> None:
    seen = {}
    proofs = {}
    for n, root in two_sizes.items():
        doc = f"eo-{n // 2}"

        def work(archive: Archive, n: int = n, doc: str = doc) -> None:
            proofs[n] = prove(archive, doc, verifiers)

        work(Archive.open(root))
        seen[n] = _measure(root, vm_steps, work)
    _same_work(seen[SMALL], seen[LARGE])
    # verify-proof reads no archive at all: only the proof, whose size is O(log n).
    sizes = {n: len(proof) for n, proof in proofs.items()}
    # Six base64 hashes more (44 characters and a newline each), and longer numbers (the
    # entry's id, sequence number and tree sizes): a few hundred bytes, not kilobytes.
    assert sizes[LARGE] - sizes[SMALL] <= 6 * 45 + 64, sizes
    for n in (SMALL, LARGE):
        verify_proof(_doc(n), proofs[n], verifiers)


def _loaded(argv: list[str]) -> set[str]:
    """The modules a CLI run imports (``python -X importtime``), after checking it succeeded."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "orderarchive", *argv],
                            capture_output=True, text=True, env=env, check=False, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines()
            if line.startswith("import time:")}


def test_check_prove_verify_proof_of_an_official_file_load_no_text_comparison(
    tmp_path: Path, signer: Signer
) -> None:
    # Start-up is most of what these commands cost (issue 15, item 3): an official file is
    # answered from its hash, so the text comparison (orderarchive.copies, difflib), the
    # document readers and the text layers are never loaded.
    root = tmp_path / "archive"
    _archive(root, 4, signer)
    copy = tmp_path / "copy.txt"
    copy.write_bytes(_doc(4))
    proof = tmp_path / "copy.tlog-proof"
    key = signer.verifier().to_string()
    runs = {
        "check": ["--archive", str(root), "check", str(copy), "--trusted-key", key],
        "prove": ["--archive", str(root), "prove", "eo-2", "-o", str(proof),
                  "--trusted-key", key],
        "verify-proof": ["verify-proof", str(copy), str(proof), "--trusted-key", key],
    }
    for name, argv in runs.items():
        loaded = _loaded(argv)
        heavy = ["orderarchive.copies", "orderarchive.documents", "orderarchive.log.textlayer",
                 "pypdf"]
        if "-o" not in argv:  # click's parser imports difflib to try `-o` as a long option
            heavy.append("difflib")
        for module in heavy:
            assert module not in loaded, (name, module)
