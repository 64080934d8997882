"""Everyday habits (issue 14, items 3 and 10): the archive is found as git finds a repository,
the shared options may follow the command, `list` shows each document's standing, `log` shows
what each release added and what changed, `-q` prints only the verdict, and a new key's
passphrase has a minimum length with a retry at the prompt.

(Named to sort after test_cli.py: see tests/test_cli.py::test_cli_reference_is_current.)
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import ORIGIN, ok, one_line_error
from orderarchive.cli import cli


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, input=stdin)


ORDER = "Executive Order 1\n\nSection 1. The City shall publish its records every quarter.\n"
QUOTE = "The City shall publish its records every quarter."


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """project/ with archive/ and keys/: release 1 holds eo-1; release 3 adds eo-2 (amends
    eo-1) and an article reporting on eo-1; eo-3 (rescinds eo-2) is added, not released."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    ok(run("init", "--origin", ORIGIN))
    ok(run("key", "generate", ORIGIN, "--unencrypted", "--secret-key", str(tmp_path / "k.key")))
    key = ("--key", str(tmp_path / "k.key"))
    Path("eo-1.txt").write_text(ORDER, "utf-8")
    Path("eo-2.txt").write_text("Executive Order 2\n\nSection 1. Order 1 is amended.\n", "utf-8")
    Path("eo-3.txt").write_text("Executive Order 3\n\nSection 1. Order 2 is rescinded.\n", "utf-8")
    Path("news.txt").write_text("News\n\nThe mayor signed an order today.\n", "utf-8")
    ok(run("add", *key, "eo-1.txt", "--issued", "2026-01-05"))
    ok(run("release", *key))
    ok(run("add", *key, "eo-2.txt", "--issued", "2026-02-01", "--amends", "eo-1"))
    ok(run("add", *key, "news.txt", "--kind", "article", "--issuer", "GBH News",
           "--reports-on", "eo-1"))
    ok(run("release", *key))
    ok(run("add", *key, "eo-3.txt", "--issued", "2026-03-01", "--rescinds", "eo-2"))
    (root / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    return root


# -- item 3: the archive is found upwards ------------------------------------------------------


def test_commands_work_from_a_subdirectory(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project / "sub" / "deeper")
    assert "verified example.gov/orders" in ok(run("verify"))
    assert "eo-1" in ok(run("list"))
    assert "status:     amended" in ok(run("show", "eo-1"))
    assert ok(run("check", "../../eo-1.txt")).startswith("OFFICIAL")
    assert "EXACT" in ok(run("quote", QUOTE))
    assert "eo-1" in ok(run("search", "quarter"))


def test_commands_work_from_inside_the_archive(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project / "archive" / "log")
    assert "verified example.gov/orders" in ok(run("verify"))
    assert "EXACT" in ok(run("quote", QUOTE))


def test_keys_inside_a_found_archive_are_never_trusted(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found from inside the archive, the default keys are keys/ beside it, never ./keys."""
    shutil.move(project / "keys", project / "archive" / "keys")
    monkeypatch.chdir(project / "archive")
    assert "no trusted keys" in one_line_error(run("verify"), 2)
    assert "never trusted" in one_line_error(run("verify", "--keys", "keys"), 2)
    assert "never trusted" in one_line_error(run("list", "--trusted-key", "keys"), 2)


UNRELATED = [
    ["verify"],
    ["list"],
    ["show", "eo-1"],
    ["quote", QUOTE],
    ["search", "quarter"],
    # ["log"], added with the log command
    ["consistency", "1"],
]


@pytest.mark.parametrize("args", UNRELATED, ids=lambda a: a[0])
def test_an_unrelated_directory_says_no_archive_here_before_no_keys(
    project: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(project.parent / "elsewhere")
    line = one_line_error(run(*args), 3)
    assert line.startswith("error: no archive here:") and "ORDERARCHIVE_ARCHIVE" in line
    # the same with a --json request: an error object, and still "no archive"
    r = run("--json", *args)
    assert r.exit_code == 3 and json.loads(r.stdout)["error"] == "ArchiveNotFoundError"


def test_check_in_an_unrelated_directory_says_no_archive_here(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.parent / "elsewhere")
    assert "no archive here" in one_line_error(run("check", str(project / "eo-1.txt")), 3)


def test_archive_and_keys_from_the_environment(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.parent / "elsewhere")
    env = {"ORDERARCHIVE_ARCHIVE": str(project / "archive"),
           "ORDERARCHIVE_KEYS": str(project / "keys")}
    assert "verified example.gov/orders" in ok(run("verify", env=env))
    # --archive given, no --keys: ./keys, as before (nothing is looked for beside it)
    only_archive = {"ORDERARCHIVE_ARCHIVE": str(project / "archive")}
    assert "no trusted keys" in one_line_error(run("verify", env=only_archive), 2)


def test_help_documents_the_environment() -> None:
    out = ok(run("--help"))
    for name in ("ORDERARCHIVE_ARCHIVE", "ORDERARCHIVE_KEYS", "ORDERARCHIVE_MAX_FILE_SIZE"):
        assert name in out
    assert "upwards" in out and "follow the command" in out


def test_shared_options_after_the_command(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = json.loads(ok(run("verify", "--json")))
    assert doc["ok"] is True and doc["size"] == 4
    monkeypatch.chdir(project.parent / "elsewhere")
    out = ok(run("list", "--archive", str(project / "archive"), "--keys", str(project / "keys")))
    assert "eo-1" in out
    doc = json.loads(ok(run("show", "eo-1", "--json", "--archive", str(project / "archive"),
                            "--keys", str(project / "keys"))))
    assert doc["status"] == "amended"
    # after the command wins over before it
    ok(run("--archive", "nowhere", "verify", "--archive", str(project / "archive"),
           "--keys", str(project / "keys")))
    ok(run("key", "export", "--trusted-key", str(project / "keys"), "--json"))
    # an option after the command is still checked
    line = one_line_error(run("verify", "--archive", str(project / "archive"), "--keys",
                              str(project / "keys"), "--max-size", "lots"), 2)
    assert "lots" in line
    # cite-check keeps its own --max-size (the brief's limit, in bytes)
    Path("brief.md").write_text(f'The order says "{QUOTE}"\n', "utf-8")
    line = one_line_error(run("cite-check", "brief.md", "--max-size", "5",
                              "--archive", str(project / "archive"),
                              "--keys", str(project / "keys")), 2)
    assert "over the limit of 5 bytes" in line


def test_init_creates_in_the_working_directory(project: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """init is not looked up: like git init, it makes ./archive (or --archive DIR)."""
    monkeypatch.chdir(project / "sub")
    ok(run("init", "--origin", "other.gov/x"))
    assert (project / "sub" / "archive" / "orderarchive.json").is_file()
    ok(run("init", "--origin", "other.gov/y", "--archive", "second"))
    assert (project / "sub" / "second" / "orderarchive.json").is_file()
    assert sorted(os.listdir(project / "archive" / "releases")) == ["1", "3"]


# -- item 10: a new key's passphrase -----------------------------------------------------------


@pytest.mark.parametrize("how", ["env", "file"])
def test_a_short_passphrase_is_refused_and_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("pass").write_text("eleven char\n", "utf-8")
    args = ["key", "generate", ORIGIN, "--secret-key", "k.key"]
    if how == "file":
        r = run(*args, "--passphrase-file", "pass")
    else:
        r = run(*args, env={"ORDERARCHIVE_PASSPHRASE": "eleven char"})
    line = one_line_error(r, 2)
    assert "at least 12 characters" in line and "eleven" not in line
    assert not Path("k.key").exists() and not Path("keys").exists()
    ok(run(*args, env={"ORDERARCHIVE_PASSPHRASE": "twelve chars"}))


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Standard input is a terminal: the passphrase is asked for."""
    monkeypatch.setattr("orderarchive.cli._interactive", lambda: True)
    monkeypatch.chdir(tmp_path)


def test_the_prompt_allows_retries(terminal: None) -> None:
    from orderarchive.keys import read_secret_key

    good = "correct horse battery staple"
    answers = ["short", good, "a typo in it", good, good]
    r = run("key", "generate", ORIGIN, "--secret-key", "k.key", stdin="\n".join(answers) + "\n")
    assert r.exit_code == 0, r.output
    assert "too short: a new key needs at least 12 characters; 2 more tries" in r.stderr
    assert "the two passphrases differ; 1 more try" in r.stderr
    assert read_secret_key(Path("k.key")).unlock(good).name == ORIGIN


def test_the_prompt_gives_up_after_three_tries(terminal: None) -> None:
    answers = ["short", "", "also a long one", "but not the same"]
    r = run("key", "generate", ORIGIN, "--secret-key", "k.key", stdin="\n".join(answers) + "\n")
    assert r.exit_code == 2
    assert r.stderr.strip().splitlines()[-1].startswith("error: no passphrase after 3 tries")
    assert not Path("k.key").exists() and not Path("keys").exists()
