"""The basic CLI, run as real subprocesses: init, key generate, add, release, list, show,
verify, repair, and one-line errors for every bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ORIGIN = "example.gov/orders"


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "orderarchive", *args],
        cwd=cwd,
        env=full,
        text=True,
        capture_output=True,
        input=stdin,
        timeout=120,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(("error:", "Error:", "Usage:")) or "Error" in lines[0]
    return lines[0]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A clerk's working directory with an archive, an unencrypted key and three documents."""
    assert run("init", "--origin", ORIGIN, cwd=tmp_path).returncode == 0
    r = run(
        "key", "generate", ORIGIN, "--unencrypted", "--secret-key", "secret/clerk.key", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    assert "NOT encrypted" in r.stdout
    for i in range(3):
        (tmp_path / f"order-{i}.txt").write_text(
            f"Executive Order {i}\n\nSection 1. The City shall do thing {i}.\n", encoding="utf-8"
        )
    return tmp_path


KEY = ("--key", "secret/clerk.key")


def test_clerk_workflow(work: Path) -> None:
    r = run(
        "add",
        *KEY,
        "order-0.txt",
        "order-1.txt",
        "--issuer",
        "City of Example",
        "--issued",
        "2026-02-05",
        cwd=work,
    )
    assert r.returncode == 0, r.stderr
    assert "added order-0 as entry 0" in r.stdout
    r = run(
        "add",
        *KEY,
        "order-2.txt",
        "--id",
        "eo-2-amended",
        "--amends",
        "order-0",
        "--title",
        "Amending order",
        cwd=work,
    )
    assert r.returncode == 0, r.stderr
    r = run("release", *KEY, cwd=work)
    assert r.returncode == 0 and "released: tree size 3" in r.stdout
    assert (work / "archive" / "releases" / "3").is_file()
    r = run("verify", cwd=work)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "verified example.gov/orders: 3 entries" in r.stdout
    r = run("list", cwd=work)
    assert "order-1" in r.stdout and "eo-2-amended" in r.stdout
    r = run("show", "order-0", cwd=work)
    assert r.returncode == 0 and "status:     amended" in r.stdout
    assert "amended by eo-2-amended" in r.stdout
    r = run("--json", "show", "eo-2-amended", cwd=work)
    assert '"status": "in-force"' in r.stdout
    # A copied archive verifies elsewhere with only the public key.
    copy = work / "mirror"
    shutil.copytree(work / "archive", copy)
    r = run("--archive", str(copy), "verify", "--trusted-key", str(work / "keys"), cwd=work.parent)
    assert r.returncode == 0, r.stdout + r.stderr


def test_encrypted_key_passphrase(tmp_path: Path) -> None:
    assert run("init", "--origin", ORIGIN, cwd=tmp_path).returncode == 0
    env = {"ORDERARCHIVE_PASSPHRASE": "a long passphrase"}
    r = run("key", "generate", ORIGIN, "--secret-key", "k.key", cwd=tmp_path, env=env)
    assert r.returncode == 0 and "(encrypted" in r.stdout, r.stderr
    assert "a long passphrase" not in (tmp_path / "k.key").read_text()
    (tmp_path / "doc.txt").write_text("An order.\n\nWith text.\n")
    r = run(
        "add", "--key", "k.key", "doc.txt", cwd=tmp_path, env={"ORDERARCHIVE_PASSPHRASE": "wrong"}
    )
    assert "wrong passphrase" in one_line_error(r, 2)
    r = run("add", "--key", "k.key", "doc.txt", cwd=tmp_path)  # no TTY, no env
    assert "passphrase" in one_line_error(r, 2)
    assert not (tmp_path / "archive" / "log" / "entries").exists()
    r = run("add", "--key", "k.key", "doc.txt", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr


def _snapshot(root: Path) -> dict[str, bytes]:
    skip = {"index.sqlite", "index.sqlite-wal", "index.sqlite-shm", "lock", "index.lock"}
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in skip
    }


@pytest.mark.parametrize(
    ("case", "args", "code", "needle"),
    [
        ("missing-file", ["add", *KEY, "nope.txt"], 2, "no such file"),
        ("directory", ["add", *KEY, "archive"], 2, "inside the archive"),
        ("unknown-key-file", ["add", "--key", "missing.key", "order-0.txt"], 2, "not found"),
        ("bad-id", ["add", *KEY, "order-0.txt", "--id", "Bad Id!"], 2, "invalid document id"),
        ("bad-date", ["add", *KEY, "order-0.txt", "--issued", "2026-13-45"], 2, "not a date"),
        (
            "unknown-relation-target",
            ["add", *KEY, "order-0.txt", "--amends", "ghost"],
            2,
            "not in the archive",
        ),
        ("bad-option", ["add", "--frobnicate", "order-0.txt"], 2, "no such option"),
        ("bad-kind", ["add", *KEY, "order-0.txt", "--kind", "decree"], 2, "invalid value"),
        ("no-archive", ["--archive", "elsewhere", "list"], 3, "no archive"),
        ("empty-file", ["add", *KEY, "empty.txt"], 2, "empty"),
        ("binary-junk", ["add", *KEY, "junk.bin"], 2, ""),
        (
            "id-for-many",
            ["add", *KEY, "order-0.txt", "order-1.txt", "--id", "x"],
            2,
            "one document",
        ),
        ("release-empty", ["release", *KEY], 2, "empty"),
        ("unknown-doc", ["show", "ghost"], 2, "no document"),
        ("trusted-key-missing", ["verify", "--trusted-key", "nokey.vkey"], 2, "not found"),
        (
            "trusted-key-garbage",
            ["verify", "--trusted-key", "garbage.vkey"],
            2,
            "not a verifier key",
        ),
        ("init-existing", ["init", "--origin", ORIGIN], 2, "not empty"),
        ("init-bad-origin", ["init", "fresh", "--origin", "https://x y"], 2, "invalid origin"),
    ],
)
def test_bad_input_one_line_error(
    work: Path, case: str, args: list[str], code: int, needle: str
) -> None:
    (work / "empty.txt").write_bytes(b"")
    (work / "junk.bin").write_bytes(bytes(range(256)) * 4)
    (work / "garbage.vkey").write_text("this is not a key\n")
    before = _snapshot(work / "archive")
    line = one_line_error(run(*args, cwd=work), code)
    assert needle.lower() in line.lower(), line
    assert _snapshot(work / "archive") == before


def test_duplicate_add_changes_nothing(work: Path) -> None:
    assert run("add", *KEY, "order-0.txt", cwd=work).returncode == 0
    before = _snapshot(work / "archive")
    line = one_line_error(run("add", *KEY, "order-0.txt", cwd=work), 2)
    assert "already" in line
    shutil.copy(work / "order-0.txt", work / "copy.txt")
    assert "already archived" in one_line_error(run("add", *KEY, "copy.txt", cwd=work), 2)
    assert _snapshot(work / "archive") == before


def test_verify_failures_and_unreadable(work: Path) -> None:
    assert run("add", *KEY, "order-0.txt", "order-1.txt", cwd=work).returncode == 0
    assert run("release", *KEY, cwd=work).returncode == 0
    log = work / "archive" / "log" / "entries"
    data = bytearray(log.read_bytes())
    data[40] ^= 0x01
    log.write_bytes(bytes(data))
    r = run("verify", cwd=work)
    assert r.returncode == 1 and "FAIL" in r.stdout and "Traceback" not in r.stderr
    r = run("--json", "verify", cwd=work)
    assert r.returncode == 1 and '"ok": false' in r.stdout
    (work / "archive" / "orderarchive.json").write_text("{broken")
    r = run("verify", cwd=work)
    one_line_error(r, 3)


def test_crash_debris_refused_then_repaired(work: Path) -> None:
    assert run("add", *KEY, "order-0.txt", cwd=work).returncode == 0
    with open(work / "archive" / "log" / "entries", "ab") as f:
        f.write(b'{"v":1,"half')
    r = run("verify", cwd=work)
    assert r.returncode == 1 and "orderarchive repair" in r.stdout
    r = run("repair", cwd=work)
    assert r.returncode == 0 and "removed 12 uncommitted bytes" in r.stdout
    assert run("verify", cwd=work).returncode == 0


def test_version_and_help(tmp_path: Path) -> None:
    r = run("--version", cwd=tmp_path)
    assert r.returncode == 0 and "orderarchive, version" in r.stdout
    r = run("--help", cwd=tmp_path)
    assert r.returncode == 0 and "verify" in r.stdout


def test_help_and_verify_do_not_import_pypdf() -> None:
    code = (
        "import sys; from orderarchive.cli import cli; import orderarchive.archive, "
        "orderarchive.index; print('pypdf' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_search_and_show_on_the_sample_archive() -> None:
    repo = Path(__file__).resolve().parents[1]
    r = run("search", "police", "residents", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert "boston-eo-2026-02-05-specimen (page 1, paragraph 5)" in r.stdout
    assert "\n" not in r.stdout.splitlines()[0]
    r = run("--json", "search", '"federal operations"', "--limit", "2", cwd=repo)
    assert r.returncode == 0 and r.stdout.count('"doc"') == 2
    r = run("search", "NEAR(", cwd=repo)
    assert r.returncode == 0 and "no matches" in r.stdout
    r = run("show", "boston-eo-2026-02-05-specimen", cwd=repo)
    assert "status:     amended" in r.stdout and "reported on by:" in r.stdout


def test_cli_reference_is_current() -> None:
    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo / "docs"))
    try:
        import cli_reference
    finally:
        sys.path.pop(0)
    assert (repo / "docs" / "CLI.md").read_text(encoding="utf-8") == cli_reference.render(), (
        "docs/CLI.md is stale: run python docs/cli_reference.py"
    )


def test_no_color_and_piped_output_have_no_escape_codes(work: Path) -> None:
    r = run("verify", cwd=work, env={"NO_COLOR": "1"})
    assert "\x1b[" not in r.stdout + r.stderr


def _on_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run the CLI with a pseudo-terminal as stdout and stderr; return what it printed."""
    import pty

    primary, secondary = pty.openpty()
    full = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    full.update(env)
    proc = subprocess.Popen([sys.executable, "-m", "orderarchive", *args], stdout=secondary,
                            stderr=secondary, stdin=subprocess.DEVNULL, env=full,
                            cwd=Path(__file__).resolve().parents[1])
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(primary)
    return b"".join(chunks).decode(errors="replace")


def test_colour_and_progress_only_on_a_terminal() -> None:
    import re

    colour = re.compile(r"\x1b\[[0-9;]*m")
    shown = _on_terminal(["verify"], {})
    assert "\x1b[32m" in shown and "verifying" in shown  # green summary, progress bar
    assert not colour.search(_on_terminal(["verify"], {"NO_COLOR": "1"}))
    piped = run("verify", cwd=Path(__file__).resolve().parents[1])
    assert "\x1b" not in piped.stdout + piped.stderr and "verifying" not in piped.stderr
