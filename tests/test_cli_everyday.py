"""Everyday CLI habits (issue 14): `check A B C` checks every file and exits with the worst
outcome (item 7); every row of the README's exit-code table, by a real command (item 8)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from orderarchive.cli import cli

REPO = Path(__file__).resolve().parents[1]
SAMPLE = ("--archive", str(REPO / "archive"), "--keys", str(REPO / "keys"))
ORDER = str(REPO / "docs" / "sample" / "sources" / "boston-eo-2026-02-05-SPECIMEN.pdf")
AMENDMENT = str(REPO / "docs/sample/sources/boston-eo-2026-02-05-SPECIMEN-amendment-1.pdf")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, [*SAMPLE, *args])


@pytest.fixture
def stranger(tmp_path: Path) -> str:
    path = tmp_path / "forged.txt"
    path.write_text("An executive order that was never issued.\n", "utf-8")
    return str(path)


def test_check_reports_every_file_and_exits_with_the_worst(tmp_path: Path, stranger: str) -> None:
    missing = str(tmp_path / "missing.pdf")
    r = run("check", ORDER, missing, stranger)
    assert r.exit_code == 2, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"OFFICIAL      {ORDER}")
    assert lines[1].startswith(f"NOT OFFICIAL  {stranger}")
    assert r.stderr.strip().splitlines() == [f"error: {missing} not found (no such file)"]
    r = run("check", ORDER, stranger, AMENDMENT)
    assert r.exit_code == 1, r.output
    assert [line.split()[0] for line in r.stdout.splitlines()] == ["OFFICIAL", "NOT", "OFFICIAL"]
    assert run("check", ORDER, AMENDMENT).exit_code == 0
    r = run("check", missing, str(tmp_path))
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 2


def test_check_json_names_each_files_outcome(tmp_path: Path, stranger: str) -> None:
    missing = str(tmp_path / "missing.pdf")
    r = run("--json", "check", missing, ORDER, stranger)
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    assert doc["ok"] is False
    first, second, third = doc["files"]
    assert first["file"] == missing and first["ok"] is False
    error = first["error"]
    assert error["type"] == "MalformedError" and "no such file" in error["message"]
    assert error["exit_code"] == 2
    assert second["official"] is True and third["official"] is False


# -- item 8: every row of the README's exit-code table, by a real command ----------------------

QUOTE = "City personnel shall prioritize de-escalation"
SAMPLE_KEY = str(next((REPO / "keys").glob("*.vkey")))


def real(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orderarchive", *args],
        cwd=cwd, env={**os.environ, **(env or {})}, text=True, capture_output=True,
        timeout=120, check=False,
    )


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clerk's archive with an encrypted key, a tampered copy of the sample, a stranger's key,
    a proof and a forged file, side by side."""
    root = tmp_path_factory.mktemp("exit-codes")
    env = {"ORDERARCHIVE_PASSPHRASE": "correct horse battery staple",
           "ORDERARCHIVE_STATE_DIR": str(root / "state")}
    for args in (
        ("init", "--origin", "example.gov/orders"),
        ("key", "generate", "example.gov/orders", "--secret-key", "clerk.key"),
        ("key", "generate", "other.gov/x", "--unencrypted", "--secret-key", "o.key",
         "--keys-dir", "other"),
        ("--archive", str(REPO / "archive"), "--keys", str(REPO / "keys"), "prove",
         "boston-eo-2026-02-05-specimen",
         "-o", "order.tlog-proof"),
        ("--archive", str(REPO / "archive"), "--keys", str(REPO / "keys"), "cite",
         "boston-eo-2026-02-05-specimen", "--quote", QUOTE, "-o", "quote.evidence"),
    ):
        r = real(*args, cwd=root, env=env)
        assert r.returncode == 0, r.stderr
    shutil.copytree(REPO / "archive", root / "tampered",
                    ignore=shutil.ignore_patterns("index.*"))
    obj = max((p for p in (root / "tampered" / "objects").rglob("*") if p.is_file()),
              key=lambda p: p.stat().st_size)
    data = bytearray(obj.read_bytes())
    data[len(data) // 2] ^= 1
    obj.write_bytes(bytes(data))
    (root / "forged.txt").write_text("An order that was never issued.\n", "utf-8")
    (root / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not a PDF at all\n")
    (root / "layout").mkdir()
    (root / "layout" / "orderarchive.json").write_text("{not json", "utf-8")
    return root


S = ("--archive", str(REPO / "archive"), "--keys", str(REPO / "keys"))
ROWS = [
    # 0: success: verified, official, exact or normalised quotation
    ("verified", 0, (*S, "verify"), {}),
    ("official", 0, (*S, "check", ORDER), {}),
    ("exact-quote", 0, (*S, "quote", QUOTE), {}),
    ("normalised-quote", 0, (*S, "quote", QUOTE.replace(" shall ", "\nshall ")), {}),
    ("proof-verified", 0, ("verify-proof", ORDER, "order.tlog-proof", "--trusted-key",
                           SAMPLE_KEY), {}),
    # 1: verification failed: bad signature, proof or hash; not official; misquoted, not found
    ("bad-hash", 1, ("--archive", "tampered", "--keys", str(REPO / "keys"), "verify"), {}),
    ("not-official", 1, (*S, "check", "forged.txt"), {}),
    ("misquoted", 1, (*S, "quote", QUOTE.replace("de-escalation", "escalation")), {}),
    ("not-found", 1, (*S, "quote", "the moon is made of green cheese today"), {}),
    ("bad-proof", 1, ("verify-proof", "forged.txt", "order.tlog-proof", "--trusted-key",
                      SAMPLE_KEY), {}),
    # 2: usage error or bad input: option, file, key, passphrase, unreadable document
    ("option", 2, (*S, "verify", "--no-such-option"), {}),
    ("file", 2, (*S, "check", "missing.pdf"), {}),
    ("key-for-another-origin", 2, ("--archive", str(REPO / "archive"), "verify",
                                   "--trusted-key", "other"), {}),
    ("proof-key-for-another-origin", 2, ("verify-proof", ORDER, "order.tlog-proof",
                                         "--trusted-key", "other"), {}),
    ("evidence-key-for-another-origin", 2, ("verify-evidence", "quote.evidence",
                                            "--trusted-key", "other"), {}),
    ("cite-key-for-another-origin", 2, ("--archive", str(REPO / "archive"), "cite",
                                        "boston-eo-2026-02-05-specimen", "--trusted-key",
                                        "other"), {}),
    ("key-file", 2, (*S, "verify", "--trusted-key", "forged.txt"), {}),
    ("passphrase", 2, ("add", "--key", "clerk.key", "forged.txt", "--issued", "2026-01-01"),
     {"ORDERARCHIVE_PASSPHRASE": "wrong passphrase"}),
    ("unreadable-document", 2, ("add", "--key", "clerk.key", "broken.pdf", "--issued",
                                "2026-01-01"), {}),
    # 3: the archive cannot be read at all: missing, unreadable or malformed layout
    ("missing-archive", 3, ("--archive", "nowhere", "--keys", str(REPO / "keys"), "verify"), {}),
    ("malformed-layout", 3, ("--archive", "layout", "list"), {}),
]


@pytest.mark.parametrize(("case", "code", "args", "env"), ROWS, ids=[r[0] for r in ROWS])
def test_exit_code_table(
    place: Path, case: str, code: int, args: tuple[str, ...], env: dict[str, str]
) -> None:
    full = {"ORDERARCHIVE_PASSPHRASE": "correct horse battery staple",
            "ORDERARCHIVE_STATE_DIR": str(place / "state" / case), **env}
    r = real(*args, cwd=place, env=full)
    assert r.returncode == code, (case, r.returncode, r.stdout[-1500:], r.stderr)
    assert "Traceback" not in r.stdout + r.stderr
    if code in {2, 3}:
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr


def test_exit_code_table_is_the_readmes() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| ([0-3]) \| (.+) \|$", readme, flags=re.MULTILINE)
    assert [int(c) for c, _ in table] == [0, 1, 2, 3]
    assert {code for _, code, _, _ in ROWS} == {0, 1, 2, 3}


@pytest.mark.parametrize("args", [(), ("key",), ("state",)], ids=["bare", "key", "state"])
def test_a_bare_command_prints_its_usage_and_exits_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    r = real(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith(f"Usage: orderarchive {' '.join(args)}".rstrip() + " [OPTIONS]")
    assert "error" not in r.stderr.lower().split("commands:")[0]
    assert "Traceback" not in r.stderr and r.stdout == ""
