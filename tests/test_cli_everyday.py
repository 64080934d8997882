"""Everyday CLI habits (issue 14): `check A B C` checks every file and exits with the worst
outcome (item 7); every row of the README's exit-code table, by a real command (item 8)."""

from __future__ import annotations

import json
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
    assert r.stderr.strip().splitlines() == [f"error: {missing}: no such file"]
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
    assert first["error"] == "MalformedError" and "no such file" in first["message"]
    assert second["official"] is True and third["official"] is False
