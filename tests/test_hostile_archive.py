"""A hostile mirror: every read command, run as a real process under a 1 GiB address-space
limit, against archives whose files are links to devices and FIFOs, oversized (sparse) files,
non-ASCII names, huge offsets, a 200 MB entry line and directories in place of files; and
hostile user files (proofs, evidence, copies, briefs, keys, checkpoints).

Each case must end with a one-line error (or an honest success where the damage does not
concern the command), a documented exit code, no traceback, no hang, and the archive's files
unchanged (docs/THREATS.md, "Hostile files: bounds and limits").
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import ORIGIN, text_request
from orderarchive.archive import Archive
from orderarchive.log.note import Signer

pytestmark = pytest.mark.skipif(
    shutil.which("prlimit") is None, reason="prlimit (util-linux) is needed for the memory cap"
)

ADDRESS_SPACE = 1 << 30  # prlimit --as: 1 GiB
TIMEOUT = 60  # seconds: a hang fails the test instead of the suite
GIB = 1 << 30
QUOTE = "The City shall act on item 0."

# Files that may change under a read command: the derived index (rebuilt from the verified
# log) and the lock files; none is a source of any verdict.
DERIVED = ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm", "index.lock", "lock")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real archive with two releases, its key, and user files made by the CLI."""
    base = tmp_path_factory.mktemp("hostile-base")
    signer = Signer(name=ORIGIN, seed=bytes(range(32)))
    archive = Archive.init(base / "archive", ORIGIN)
    archive.add([text_request(i) for i in range(3)], signer)
    archive.release(signer)
    archive.add([text_request(3)], signer)
    archive.release(signer)
    (base / "keys").mkdir()
    (base / "keys" / "log.vkey").write_text(signer.verifier().to_string() + "\n")
    (base / "copy.txt").write_bytes(text_request(0).data)
    (base / "brief.md").write_text(f'The order says "{QUOTE}"\n')
    for args in (["prove", "eo-0", "-o", "proof"], ["cite", "eo-0", "--quote", QUOTE, "-o", "ev"]):
        r = _run(base, args)
        assert r.returncode == 0, r.stderr
    return base


def _env(case: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERARCHIVE_")}
    env.update(ORDERARCHIVE_STATE_DIR=str(case / "state"), NO_COLOR="1")
    return env


def _command(args: list[str]) -> list[str]:
    return [
        "prlimit", f"--as={ADDRESS_SPACE}", "--",
        sys.executable, "-m", "orderarchive", "--archive", "archive", "--keys", "keys", *args,
    ]


def _run(case: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    return _run_all(case, [args])[0]


def _run_all(case: Path, commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Run *commands* side by side (each a real process under the memory cap); a command
    that does not finish within TIMEOUT is killed and fails the test as a hang."""
    running = [
        (args, subprocess.Popen(_command(args), cwd=case, env=_env(case), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        for args in commands
    ]
    results: list[subprocess.CompletedProcess[str]] = []
    hung: list[str] = []
    for args, process in running:
        try:
            out, err = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            hung.append(" ".join(args))
        results.append(subprocess.CompletedProcess(args, process.returncode, out, err))
    if hung:
        pytest.fail(f"hung (no answer in {TIMEOUT} s): {'; '.join(hung)}")
    return results


def _tree(root: Path) -> dict[str, object]:
    """What every file of *root* is: link target, FIFO, or size and content hash (sparse
    giants by size and mtime, so that hashing them costs nothing)."""
    seen: dict[str, object] = {}
    for directory, dirs, files in os.walk(root):
        for name in sorted([*dirs, *files]):
            path = Path(directory, name)
            rel = path.relative_to(root).as_posix()
            if name in DERIVED:
                continue
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                seen[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                seen[rel] = "dir"
            elif not stat.S_ISREG(info.st_mode):
                seen[rel] = ("special", info.st_mode)
            elif info.st_size > 1 << 20:
                seen[rel] = ("big", info.st_size, info.st_mtime_ns)
            else:
                seen[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


# -- hostile variants ----------------------------------------------------------------------



def _object(archive: Path) -> Path:
    """The object of entry 0 (eo-0's text, its own text layer)."""
    doc = hashlib.sha256(text_request(0).data).hexdigest()
    return archive / "objects" / "sha256" / doc[:2] / doc[2:]


def _replace(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def to_dev_zero(member: str | Callable[[Path], Path]) -> Callable[[Path], None]:
    def apply(case: Path) -> None:
        path = _member(case, member)
        _replace(path)
        path.symlink_to("/dev/zero")

    return apply


def to_fifo(member: str | Callable[[Path], Path], *, linked: bool) -> Callable[[Path], None]:
    def apply(case: Path) -> None:
        path = _member(case, member)
        _replace(path)
        if linked:  # a link to a FIFO outside the archive
            os.mkfifo(case / "fifo")
            path.symlink_to(case / "fifo")
        else:
            os.mkfifo(path)

    return apply


def to_sparse(member: str | Callable[[Path], Path], size: int = GIB) -> Callable[[Path], None]:
    def apply(case: Path) -> None:
        with _member(case, member).open("r+b") as f:
            f.truncate(size)

    return apply


def to_directory(member: str | Callable[[Path], Path]) -> Callable[[Path], None]:
    def apply(case: Path) -> None:
        path = _member(case, member)
        _replace(path)
        path.mkdir()

    return apply


def _member(case: Path, member: str | Callable[[Path], Path]) -> Path:
    return member(case / "archive") if callable(member) else case / "archive" / member


def linked_directory(name: str) -> Callable[[Path], None]:
    """*name* moved outside the archive and linked back: a link inside the archive."""

    def apply(case: Path) -> None:
        outside = case / f"outside-{name.replace('/', '-')}"
        (case / "archive" / name).rename(outside)
        (case / "archive" / name).symlink_to(outside)

    return apply


def superscript_release(case: Path) -> None:
    shutil.copy(case / "archive/releases/3", case / "archive/releases/²")


def huge_first_offset(case: Path) -> None:
    path = case / "archive/log/offsets"
    data = path.read_bytes()
    path.write_bytes(struct.pack(">Q", 2**62) + data[8:])


def huge_entry_line(case: Path) -> None:
    """Entry 0 becomes a 200 MB line (sparse: it costs no disk) before the real entries."""
    entries = case / "archive/log/entries"
    offsets = case / "archive/log/offsets"
    size = 200 * 2**20
    real = entries.read_bytes()
    with entries.open("r+b") as f:
        f.truncate(0)
        f.seek(size - 1)
        f.write(b"\n" + real)
    ends = [size + e for e in struct.unpack(f">{len(offsets.read_bytes()) // 8}Q",
                                            offsets.read_bytes())]
    ends[0] = size
    offsets.write_bytes(struct.pack(f">{len(ends)}Q", *ends))


def remembered_to(kind: str) -> Callable[[Path], None]:
    """The state directory's remembered checkpoint: a link to /dev/zero, a FIFO, or 1 GB."""

    def apply(case: Path) -> None:
        r = _run(case, ["verify"])  # remembers the checkpoint
        assert r.returncode == 0, r.stderr
        (path,) = (case / "state" / "checkpoints").glob("*.checkpoint")
        if kind == "zero":
            to_dev_zero(lambda _: path)(case)
        elif kind == "fifo":
            to_fifo(lambda _: path, linked=False)(case)
        else:
            to_sparse(lambda _: path)(case)

    return apply


EVERY = ("verify", "check", "show", "list", "quote", "search", "prove", "consistency",
         "cite", "cite-check")
# `consistency` reads only release files: it may answer without the latest checkpoint.
HEAD = tuple(c for c in EVERY if c != "consistency")
COMMANDS: dict[str, list[str]] = {
    "verify": ["verify"],
    "check": ["check", "copy.txt"],
    "show": ["show", "eo-0"],
    "list": ["list"],
    "quote": ["quote", QUOTE],
    "search": ["search", "City"],
    "prove": ["prove", "eo-0", "-o", "out.tlog-proof"],
    "consistency": ["consistency", "3", "4"],
    "cite": ["cite", "eo-0", "--quote", QUOTE],
    "cite-check": ["cite-check", "brief.md"],
    "verify-proof": ["verify-proof", "copy.txt", "proof"],
    "verify-evidence": ["verify-evidence", "ev"],
    "release": ["release", "--key", "key.sec"],  # the private key file is read first
}

# (variant, how to make it, commands that must fail, commands that may also succeed). Every
# read command runs against the first hostile form of each member; further forms of the same
# member (FIFO, sparse giant, directory) run the commands that must refuse them, to keep the
# suite's process count (and CI time) down.
ARCHIVE_VARIANTS: list[tuple[str, Callable[[Path], None], tuple[str, ...], tuple[str, ...]]] = [
    ("checkpoint-dev-zero", to_dev_zero("checkpoint"), HEAD, EVERY),
    ("checkpoint-fifo", to_fifo("checkpoint", linked=False), HEAD, EVERY),
    ("checkpoint-link-to-fifo", to_fifo("checkpoint", linked=True), HEAD, ()),
    ("checkpoint-1gb-sparse", to_sparse("checkpoint"), HEAD, ()),
    ("checkpoint-directory", to_directory("checkpoint"), HEAD, ()),
    ("config-dev-zero", to_dev_zero("orderarchive.json"), EVERY, ()),
    ("release-dev-zero", to_dev_zero("releases/3"), ("verify", "consistency"), EVERY),
    ("release-link-to-fifo", to_fifo("releases/4", linked=True), ("verify", "check", "prove"), ()),
    ("release-1gb-sparse", to_sparse("releases/4"), ("verify", "check", "prove"), ()),
    ("release-superscript-name", superscript_release, ("verify",), EVERY),
    ("releases-linked-directory", linked_directory("releases"), ("verify", "check"), EVERY),
    ("entries-dev-zero", to_dev_zero("log/entries"), ("verify", "check", "prove"), EVERY),
    ("entries-fifo", to_fifo("log/entries", linked=True), ("verify", "check", "prove"), ()),
    ("offsets-dev-zero", to_dev_zero("log/offsets"), ("verify", "check", "prove"), EVERY),
    ("hashes-fifo", to_fifo("log/hashes", linked=False), ("verify", "check", "prove"), ()),
    ("hashes-directory", to_directory("log/hashes"), ("verify", "check", "prove"), ()),
    ("log-linked-directory", linked_directory("log"), ("verify", "check", "prove"), EVERY),
    ("huge-first-offset", huge_first_offset, ("verify", "check", "prove"), EVERY),
    ("entry-line-200mb", huge_entry_line, ("verify", "check", "prove"), EVERY),
    ("object-dev-zero", to_dev_zero(_object), ("verify", "prove", "quote"), EVERY),
    ("object-link-to-fifo", to_fifo(_object, linked=True), ("verify", "prove", "quote"), ()),
    ("object-1gb-sparse", to_sparse(_object), ("verify", "prove", "quote"), ()),
    ("object-directory", to_directory(_object), ("verify", "prove", "quote"), ()),
    ("remembered-dev-zero", remembered_to("zero"), ("verify",), ()),
    ("remembered-fifo", remembered_to("fifo"), ("verify",), ()),
    ("remembered-1gb-sparse", remembered_to("big"), ("verify",), ()),
]


def _user_file(name: str, kind: str) -> Callable[[Path], None]:
    def apply(case: Path) -> None:
        path = case / name
        if kind == "zero":
            _replace(path)
            path.symlink_to("/dev/zero")
        elif kind == "fifo":
            _replace(path)
            os.mkfifo(path)
        elif kind == "directory":
            _replace(path)
            path.mkdir()
        else:
            with path.open("r+b") as f:
                f.truncate(GIB)

    return apply


# (variant, how, command, extra arguments): user files must be refused as bad input (exit 2).
USER_VARIANTS: list[tuple[str, Callable[[Path], None], str, list[str]]] = [
    (f"{command}-{name}-{kind}", _user_file(name, kind), command, [])
    for command, name in (
        ("check", "copy.txt"),
        ("cite-check", "brief.md"),
        ("verify-proof", "proof"),
        ("verify-proof", "copy.txt"),
        ("verify-evidence", "ev"),
    )
    for kind in ("zero", "fifo", "sparse", "directory")
] + [
    (f"trusted-key-{kind}", _user_file("keys/log.vkey", kind), "verify-proof", [])
    for kind in ("zero", "fifo", "sparse")
] + [
    (f"since-{kind}", _user_file("since", kind), "verify", ["--since", "since"])
    for kind in ("zero", "fifo", "sparse")
] + [
    (f"private-key-{kind}", _user_file("key.sec", kind), "release", [])
    for kind in ("zero", "fifo", "sparse")
]


@pytest.fixture
def case(prepared: Path, tmp_path: Path) -> Path:
    target = tmp_path / "case"
    shutil.copytree(prepared, target, symlinks=True)
    (target / "since").write_bytes((target / "archive" / "releases" / "3").read_bytes())
    (target / "key.sec").write_bytes(b"not yet a key")
    return target


def _assert_clean_failure(r: subprocess.CompletedProcess[str], codes: tuple[int, ...]) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    assert r.returncode in codes, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    # verify lists its problems on stdout and ends with one summary line.
    assert len(lines) == 1 and lines[0].startswith(("error: ", "verification FAILED")), r.stderr


@pytest.mark.parametrize(
    ("make", "must_fail", "may_pass"),
    [pytest.param(make, fail, ok, id=name) for name, make, fail, ok in ARCHIVE_VARIANTS],
)
def test_hostile_archive(
    case: Path,
    make: Callable[[Path], None],
    must_fail: tuple[str, ...],
    may_pass: tuple[str, ...],
) -> None:
    make(case)
    before = _tree(case / "archive")
    commands = list(dict.fromkeys([*must_fail, *may_pass]))
    for command, r in zip(commands, _run_all(case, [COMMANDS[c] for c in commands]), strict=True):
        if r.returncode == 0 and command not in must_fail:
            assert "Traceback" not in r.stderr
            continue
        # 1: verification failed; 3: the archive (or remembered state) cannot be read; 2 for
        # verify: the remembered checkpoint in the state directory is bad input.
        _assert_clean_failure(r, (1, 2, 3) if command == "verify" else (1, 3))
    assert _tree(case / "archive") == before, "a read command changed the archive"


@pytest.mark.parametrize(
    ("make", "command", "extra"),
    [pytest.param(make, command, extra, id=name) for name, make, command, extra in USER_VARIANTS],
)
def test_hostile_user_file(
    case: Path, make: Callable[[Path], None], command: str, extra: list[str]
) -> None:
    make(case)
    before = _tree(case / "archive")
    r = _run(case, [*COMMANDS[command], *extra])
    _assert_clean_failure(r, (2,))
    assert _tree(case / "archive") == before


def test_max_size_limits_user_files(case: Path) -> None:
    """The user-file limit is configurable: --max-size and ORDERARCHIVE_MAX_FILE_SIZE."""
    r = _run(case, ["--max-size", "16", "check", "copy.txt"])
    _assert_clean_failure(r, (2,))
    assert "larger than 16 bytes" in r.stderr and "--max-size" in r.stderr
    r = _run(case, ["--max-size", "lots", "check", "copy.txt"])
    _assert_clean_failure(r, (2,))
    assert _run(case, ["--max-size", "1M", "check", "copy.txt"]).returncode == 0


@pytest.mark.parametrize(
    ("name", "command", "limit"),
    # a proof: its key-set chain (4 MiB) and the tlog-proof (1 MiB)
    [("proof", "verify-proof", "5 MiB"), ("ev", "verify-evidence", "64 MiB")],
)
def test_format_limits_apply_before_reading(
    case: Path, name: str, command: str, limit: str
) -> None:
    """A proof or evidence file over its format's limit (but under --max-size) is refused by
    its size before it is read, not read whole and then parsed (a 500 MB proof was)."""
    with (case / name).open("r+b") as f:
        f.truncate(65 * 2**20)  # sparse
    r = _run(case, COMMANDS[command])
    _assert_clean_failure(r, (2,))
    assert f"is larger than {limit}" in r.stderr
