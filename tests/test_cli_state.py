"""The remembered release: a rollback failure says what to do, and `state show` / `state
forget` show and forget what is remembered for an origin (issue 14, item 9)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import ORIGIN, ok, one_line_error
from orderarchive.cli import cli
from orderarchive.history import remembered_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """archive/ (production, 2 releases) and old/ (a valid copy of its first release)."""
    monkeypatch.chdir(tmp_path)
    ok(run("init", "--origin", ORIGIN))
    ok(run("key", "generate", ORIGIN, "--unencrypted", "--secret-key", "clerk.key"))
    for n in (1, 2):
        Path(f"d{n}.txt").write_text(f"Order {n}\n\nSection 1. Do {n}.\n", "utf-8")
    ok(run("add", "--key", "clerk.key", "d1.txt"))
    ok(run("release", "--key", "clerk.key"))
    shutil.copytree("archive", "old")
    ok(run("add", "--key", "clerk.key", "d2.txt"))
    ok(run("release", "--key", "clerk.key"))
    return tmp_path


def test_an_older_copy_fails_saying_what_to_do_then_forget_lets_it_pass(copies: Path) -> None:
    ok(run("verify"))
    r = run("--archive", "old", "verify")
    assert r.exit_code == 1
    assert "rolled back" in r.stdout
    assert "get the latest release" in r.stdout
    assert f"orderarchive state forget {ORIGIN}" in r.stdout
    assert "ORDERARCHIVE_STATE_DIR" in r.stdout
    out = ok(run("state", "show", ORIGIN))
    assert out.startswith(f"{ORIGIN}: tree size 2, root sha256:")
    out = ok(run("state", "forget", ORIGIN))
    assert out.startswith(f"forgot {ORIGIN}: tree size 2")
    assert not remembered_path(ORIGIN).exists()
    assert "nothing remembered" in ok(run("state", "show"))
    ok(run("--archive", "old", "verify"))
    # ...and the memory starts again from the copy just accepted.
    doc = json.loads(ok(run("--json", "state", "show")))
    assert [(r["origin"], r["size"]) for r in doc["remembered"]] == [(ORIGIN, 1)]


def test_state_show_and_forget_edge_cases(copies: Path) -> None:
    assert "nothing remembered for other.gov/x" in ok(run("state", "forget", "other.gov/x"))
    doc = json.loads(ok(run("--json", "state", "forget", "other.gov/x")))
    assert doc == {"ok": True, "command": "state forget", "origin": "other.gov/x",
                   "forgot": None, "verified_states_forgotten": 0}
    ok(run("verify"))
    assert "nothing remembered for other.gov/x" in ok(run("state", "show", "other.gov/x"))
    # A damaged remembered file is shown as such, and can be forgotten.
    remembered_path(ORIGIN).write_bytes(b"garbage\n")
    assert "unreadable" in ok(run("state", "show"))
    assert "unreadable" in ok(run("state", "forget", ORIGIN))
    assert not remembered_path(ORIGIN).exists()


def test_state_dir_that_is_a_file_is_one_error(
    copies: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("notadir").write_text("x", "utf-8")
    monkeypatch.setenv("ORDERARCHIVE_STATE_DIR", str(copies / "notadir"))
    assert "state directory" in one_line_error(run("state", "show"), 2)
    assert "state directory" in one_line_error(run("state", "forget", ORIGIN), 2)
