"""Tamper evidence: every single change to a small archive makes ``verify`` fail.

One mutation at a time — a flipped bit in every byte of the entry log, its offsets, the stored
tree hashes, every checkpoint and the config; a sample of bytes in every object; truncated,
deleted, duplicated and reordered entries, records and files — is applied to a pristine archive,
checked with :meth:`Archive.audit` (the code path of ``orderarchive verify``) and undone. A
replayed older checkpoint with a consistently truncated log passes ``audit`` (nothing inside
the archive can tell) and is caught by ``--since`` and by the remembered checkpoint. A handful
of mutations go through the real CLI.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import ORIGIN, text_request
from orderarchive.archive import RELEASE_EXT, Archive
from orderarchive.errors import OrderArchiveError
from orderarchive.history import check_history
from orderarchive.log.checkpoint import Checkpoint, sign_checkpoint
from orderarchive.log.note import Signer, VerifierKey

NOW = datetime(2026, 2, 5, 12, 0, 0, tzinfo=UTC)
# Every byte of these is flipped (XOR 0x01: the smallest change, one bit).
FLIP_ALL = ("orderarchive.json", "log/entries", "log/offsets", "log/hashes", "checkpoint",
            "releases/3", "releases/5")
OBJECT_STRIDE = 5  # bytes 0, 5, 10, ... and the last byte of every object


def build(root: Path, signer: Signer) -> Archive:
    """Three entries released, two more released, one unreleased; deterministic bytes."""
    archive = Archive.init(root, ORIGIN)
    archive.add([text_request(i) for i in range(3)], signer, now=NOW)
    archive.release(signer)
    archive.add([text_request(i) for i in range(3, 5)], signer, now=NOW)
    archive.release(signer)
    archive.add([text_request(5)], signer, now=NOW)
    assert not (root / "index.sqlite").exists()  # the derived index lives in the user's cache
    return archive


DERIVED = ("lock", "index.sqlite", "index.lock")  # lock files and the never-trusted index


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and p.name not in DERIVED)


def caught(root: Path, keys: list[VerifierKey]) -> bool:
    """Whether verification fails: the archive does not open, or audit reports a problem."""
    try:
        report = Archive.open(root).audit(keys)
    except OrderArchiveError:
        return True
    return not report.ok


Mutation = tuple[str, Callable[[Path], object]]
Edit = Callable[[list[bytes], int], bytes]


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _records(data: bytes, unit: int) -> list[bytes]:
    return [data[k : k + unit] for k in range(0, len(data), unit)]


def _dup(items: list[bytes], i: int) -> bytes:
    return b"".join(items[: i + 1] + items[i:])


def _drop(items: list[bytes], i: int) -> bytes:
    return b"".join(items[:i] + items[i + 1 :])


def _swap(items: list[bytes], i: int) -> bytes:
    items[i], items[i + 1] = items[i + 1], items[i]
    return b"".join(items)


def _newline_after(items: list[bytes], i: int, member: bytes) -> bytes:
    """Entry *i* with a JSON-escaped newline at the end of the string *member* starts."""
    start = items[i].index(member) + len(member)
    end = items[i].index(b'"', start)
    items[i] = items[i][:end] + b"\\n" + items[i][end:]
    return b"".join(items)


def _swap_files(a: Path, b: Path) -> None:
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)


def rewrite(name: str, change: Callable[[bytes], bytes]) -> Callable[[Path], object]:
    return lambda r: (r / name).write_bytes(change((r / name).read_bytes()))


def edit_lines(name: str, edit: Edit, i: int) -> Callable[[Path], object]:
    return rewrite(name, lambda d: edit(_lines(d), i))


def edit_records(name: str, unit: int, edit: Edit, i: int) -> Callable[[Path], object]:
    return rewrite(name, lambda d: edit(_records(d, unit), i))


def delete(name: str) -> Callable[[Path], object]:
    return lambda r: (r / name).unlink()


def copy(src: str, dst: str) -> Callable[[Path], object]:
    return lambda r: shutil.copyfile(r / src, r / dst)


def swap_files(a: str, b: str) -> Callable[[Path], object]:
    return lambda r: _swap_files(r / a, r / b)


def structural(root: Path) -> Iterator[Mutation]:
    """Truncations, deletions, duplications and reorderings of entries, records and files."""
    names = files(root)
    objects = [n for n in names if n.startswith("objects/")]
    for name in names:
        if not name.startswith("releases/"):  # see test_deleted_release_is_caught
            yield f"delete {name}", delete(name)
        yield f"truncate {name} to 0", rewrite(name, lambda d: b"")
        yield f"truncate {name} by 1", rewrite(name, lambda d: d[:-1])
        yield f"truncate {name} to half", rewrite(name, lambda d: d[: len(d) // 2])
        yield f"append a byte to {name}", rewrite(name, lambda d: d + b"\n")

    count = len(_lines((root / "log/entries").read_bytes()))
    for i in range(count):
        yield f"duplicate entry {i}", edit_lines("log/entries", _dup, i)
        yield f"delete entry {i}", edit_lines("log/entries", _drop, i)
    for i in range(count - 1):
        yield f"swap entries {i} and {i + 1}", edit_lines("log/entries", _swap, i)
    yield "reverse the entries", rewrite("log/entries", lambda d: b"".join(_lines(d)[::-1]))
    for i in range(count):  # "eo-1\n" printed beside "eo-1" looks the same (issue 11 item 8)
        yield f"trailing newline in the id of entry {i}", edit_lines(
            "log/entries", lambda items, k: _newline_after(items, k, b'"doc":"'), i)

    for name, unit in (("log/offsets", 8), ("log/hashes", 32)):
        records = (root / name).stat().st_size // unit
        for i in range(records - 1):
            yield f"swap records {i} and {i + 1} of {name}", edit_records(name, unit, _swap, i)
        for i in range(records):
            yield f"duplicate record {i} of {name}", edit_records(name, unit, _dup, i)

    yield "replay release 3 as the checkpoint", copy("releases/3", "checkpoint")
    yield "replay release 5 as the checkpoint", copy("releases/5", "checkpoint")
    yield "release 3 filed as release 4", copy("releases/3", "releases/4")
    yield "release 5 filed as release 6", copy("releases/5", "releases/6")
    yield "release 3 filed as release 5", copy("releases/3", "releases/5")
    yield "checkpoint filed as release 5", copy("checkpoint", "releases/5")
    yield "rename release 5 to 6", lambda r: (r / "releases/5").rename(r / "releases/6")
    for a, b in itertools.pairwise(objects):
        yield f"swap objects {a} and {b}", swap_files(a, b)
        yield f"object {b} replaced by {a}", copy(a, b)
    yield "config names another origin", rewrite(
        "orderarchive.json", lambda d: d.replace(b"example.gov/orders", b"example.gov/order"))


def snapshot(root: Path) -> dict[str, bytes]:
    return {n: (root / n).read_bytes() for n in files(root)}


def restore(root: Path, saved: dict[str, bytes]) -> None:
    for name in files(root):
        if name not in saved:
            (root / name).unlink()
    for name, data in saved.items():
        path = root / name
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)


def object_offsets(size: int) -> list[int]:
    return sorted(set(range(0, size, OBJECT_STRIDE)) | {size - 1})


@pytest.mark.slow
def test_every_mutation_is_caught(tmp_path: Path, signer: Signer,
                                  verifiers: list[VerifierKey]) -> None:
    root = tmp_path / "archive"
    build(root, signer)
    saved = snapshot(root)
    assert not caught(root, verifiers), "the pristine archive must verify"
    objects = [n for n in saved if n.startswith("objects/")]
    # Six documents; a plain-text document's text layer has the same bytes, hence one object.
    assert len(objects) == 6

    missed: list[str] = []
    tried = 0
    flips = 0
    for name in FLIP_ALL + tuple(objects):
        offsets = (range(len(saved[name])) if name in FLIP_ALL
                   else object_offsets(len(saved[name])))
        path = root / name
        for offset in offsets:
            data = bytearray(saved[name])
            data[offset] ^= 0x01
            path.write_bytes(data)
            tried += 1
            flips += 1
            if not caught(root, verifiers):
                missed.append(f"{name} byte {offset}")
        path.write_bytes(saved[name])

    mutations = list(structural(root))
    for label, mutate in mutations:
        mutate(root)
        tried += 1
        if not caught(root, verifiers):
            missed.append(label)
        restore(root, saved)

    assert not caught(root, verifiers), "restoring every mutation must give a verifying archive"
    expected_flips = sum(len(saved[n]) for n in FLIP_ALL) + sum(
        len(object_offsets(len(saved[n]))) for n in objects)
    print(f"\ntamper sweep: {tried} mutations tried ({flips} bit flips, "
          f"{len(mutations)} structural), {tried - len(missed)} caught")
    assert not missed, f"{len(missed)} mutations not caught: {missed[:20]}"
    assert flips == expected_flips
    # 5 per file (4 for releases), 6 entries (2 each), 5 entry swaps, 1 reversal, record swaps and
    # duplications of 6 offsets and 10 stored hashes, 7 release/checkpoint moves, 5 object
    # pairs (2 each), 1 config edit.
    # One trailing-newline id per entry (6).
    assert len(mutations) == (5 * len(saved) - 2 + 2 * 6 + 5 + 1 + 6 + (5 + 6) + (9 + 10) + 7
                              + 2 * 5 + 1)
    assert tried == flips + len(mutations)


@pytest.mark.parametrize(
    ("member", "loosened"),
    [("doc", "valid_doc_id"), ("issued", "_DATE"), ("media_type", "_MEDIA")],
)
def test_a_signed_trailing_newline_is_refused(
    member: str, loosened: str, *, tmp_path: Path, signer: Signer,
    verifiers: list[VerifierKey], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A publisher's (or a stolen key's) correctly signed and logged entry whose id, date,
    or media type ends in a newline: "$" accepted it, fullmatch does not. (A relation target
    "eo-0\\n" is also caught by the audit: no such document was recorded.)"""
    from orderarchive.log import entry as entry_module

    root = tmp_path / "archive"
    archive = Archive.init(root, ORIGIN)
    archive.add([text_request(0, doc="eo-0")], signer, now=NOW)
    request = text_request(1)
    values = {a.name: getattr(request.fields, a.name)
              for a in type(request.fields).__attrs_attrs__}
    values[member] += "\n"
    with monkeypatch.context() as m:  # the hostile publisher's tool checks nothing
        m.setattr(entry_module, "refuse_unsafe_text", lambda *a, **k: None)
        if loosened == "valid_doc_id":
            m.setattr(entry_module, loosened, lambda doc: True)
        else:
            m.setattr(entry_module, loosened, re.compile(r"(?s).*"))
        m.setattr(Archive, "_check_new", lambda self, *args: None)
        hostile = type(request)(data=request.data, text=request.text,
                                fields=entry_module.DocumentFields(**values))
        archive.add([hostile], signer, now=NOW)
        archive.release(signer)
        assert not caught(root, verifiers), "the loosened reader accepts it: the test is sound"
    assert caught(root, verifiers)


@pytest.mark.parametrize("size", [3, 5])
def test_deleted_release_is_caught(size: int, tmp_path: Path, signer: Signer,
                                   verifiers: list[VerifierKey]) -> None:
    root = tmp_path / "archive"
    build(root, signer)
    (root / f"releases/{size}").unlink()
    assert caught(root, verifiers)


def rolled_back_copy(root: Path, dest: Path, signer: Signer) -> Path:
    """A copy that replays release 3: checkpoint and log cut back consistently to 3 entries."""
    shutil.copytree(root, dest)
    archive = Archive.open(dest)
    end = archive.entry_span(2)[1]
    for name, length in (("log/entries", end), ("log/offsets", 3 * 8), ("log/hashes", 4 * 32)):
        with (dest / name).open("r+b") as f:
            f.truncate(length)
    # The latest checkpoint as it stood right after release 3 (Ed25519 is deterministic, so
    # re-signing it reproduces the bytes an attacker would have kept and replayed).
    old = Checkpoint(ORIGIN, 3, archive.tree_hash(3), (f"{RELEASE_EXT}3",))
    (dest / "checkpoint").write_bytes(sign_checkpoint(old, signer))
    (dest / "releases/5").unlink()
    return dest


def test_replayed_checkpoint_is_caught_by_since_and_by_memory(
    tmp_path: Path, signer: Signer, verifiers: list[VerifierKey]
) -> None:
    root = tmp_path / "archive"
    build(root, signer)
    pristine = Archive.open(root)
    first = check_history(pristine, verifiers, pristine.audit(verifiers))
    assert first.ok and first.first_check

    old = rolled_back_copy(root, tmp_path / "old", signer)
    archive = Archive.open(old)
    report = archive.audit(verifiers)
    assert report.ok, "a consistent rollback is invisible from inside the archive"

    since = tmp_path / "seen.checkpoint"
    since.write_bytes((root / "releases/5").read_bytes())
    result = check_history(archive, verifiers, report, since=since)
    assert [p.code for p in result.problems] == ["rollback"]
    assert result.evidence is not None
    assert Path(result.evidence, "old.checkpoint").read_bytes() == since.read_bytes()

    remembered = check_history(archive, verifiers, report)
    assert [p.code for p in remembered.problems] == ["rollback"]


# -- through the real CLI ----------------------------------------------------------------------


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orderarchive", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=120, env=dict(os.environ), check=False)


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(data)


CLI_MUTATIONS: dict[str, Callable[[Path], object]] = {
    "entry-bit-flip": lambda r: flip(r / "log/entries", 40),
    "stored-hash-bit-flip": lambda r: flip(r / "log/hashes", 100),
    "checkpoint-signature-bit-flip": lambda r: flip(r / "checkpoint",
                                                    (r / "checkpoint").stat().st_size - 10),
    "release-replaced-by-checkpoint": lambda r: shutil.copyfile(r / "checkpoint",
                                                                r / "releases/5"),
    "swapped-objects": lambda r: _swap_files(*[r / n for n in files(r)
                                               if n.startswith("objects/")][1:5:3]),
    "truncated-offsets": lambda r: (r / "log/offsets").write_bytes(
        (r / "log/offsets").read_bytes()[:-8]),
}


@pytest.fixture
def cli_archive(tmp_path: Path, signer: Signer) -> tuple[Path, Path]:
    root = tmp_path / "archive"
    build(root, signer)
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "origin.vkey").write_text(signer.verifier().to_string() + "\n")
    return root, keys


def test_cli_verify_passes_on_the_pristine_archive(cli_archive: tuple[Path, Path]) -> None:
    root, keys = cli_archive
    r = cli("--archive", str(root), "verify", "--trusted-key", str(keys), cwd=root.parent)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name", sorted(CLI_MUTATIONS))
def test_cli_verify_fails_on_mutation(name: str, cli_archive: tuple[Path, Path]) -> None:
    root, keys = cli_archive
    CLI_MUTATIONS[name](root)
    r = cli("--archive", str(root), "verify", "--trusted-key", str(keys), cwd=root.parent)
    assert r.returncode in (1, 3), r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith(("verification FAILED", "error:"))


def test_cli_since_catches_replayed_checkpoint(cli_archive: tuple[Path, Path],
                                               tmp_path: Path, signer: Signer) -> None:
    root, keys = cli_archive
    since = tmp_path / "release-5.checkpoint"
    since.write_bytes((root / "releases/5").read_bytes())
    old = rolled_back_copy(root, tmp_path / "old", signer)
    r = cli("--archive", str(old), "verify", "--trusted-key", str(keys), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = cli("--archive", str(old), "verify", "--trusted-key", str(keys), "--since", str(since),
            cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "rolled back" in r.stdout and "evidence" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr
