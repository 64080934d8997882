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
    order = ("--kind", "executive-order")
    ok(run("add", *key, "eo-1.txt", *order, "--issued", "2026-01-05"))
    ok(run("release", *key))
    ok(run("add", *key, "eo-2.txt", *order, "--issued", "2026-02-01", "--amends", "eo-1"))
    ok(run("add", *key, "news.txt", "--kind", "article", "--issuer", "GBH News",
           "--reports-on", "eo-1"))
    ok(run("release", *key))
    ok(run("add", *key, "eo-3.txt", *order, "--issued", "2026-03-01", "--rescinds", "eo-2"))
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
    ["log"],
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
    assert r.exit_code == 3 and json.loads(r.stdout)["error"]["type"] == "ArchiveNotFoundError"


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
    monkeypatch.setattr("orderarchive.cli._common._interactive", lambda: True)
    monkeypatch.chdir(tmp_path)


def test_the_prompt_allows_retries(terminal: None) -> None:
    from orderarchive.log.keys import read_secret_key

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


# -- item 10: list shows the status in aligned columns -----------------------------------------


def test_list_shows_each_status_in_aligned_columns(project: Path) -> None:
    lines = ok(run("list")).splitlines()
    assert lines[0].split() == ["SEQ", "DOC", "KIND", "ISSUED", "STATUS", "TITLE"]
    rows = {line.split()[1]: line for line in lines[1:]}
    assert set(rows) == {"eo-1", "eo-2", "news", "eo-3"}
    status_at = lines[0].index("STATUS")
    title_at = lines[0].index("TITLE")
    for doc, status in (("eo-1", "amended"), ("eo-2", "rescinded"), ("news", "in force"),
                        ("eo-3", "in force")):
        assert rows[doc][status_at:title_at].strip() == status, rows[doc]
    assert rows["eo-3"].endswith("(unreleased)") and "(unreleased)" not in rows["eo-2"]
    # the same status as show, and in --json
    assert "status:     rescinded" in ok(run("show", "eo-2"))
    doc = json.loads(ok(run("--json", "list")))
    assert {d["doc"]: d["status"] for d in doc["documents"]} == {
        "eo-1": "amended", "eo-2": "rescinded", "news": "in-force", "eo-3": "in-force"}
    # --kind lists fewer documents, with the statuses that acts of any kind give them
    lines = ok(run("list", "--kind", "executive-order")).splitlines()
    assert [line.split()[1] for line in lines[1:]] == ["eo-1", "eo-2", "eo-3"]


def test_list_status_comes_from_signed_entries_not_the_index(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache index whose relation rows were deleted changes no status."""
    import sqlite3

    ok(run("list"))
    (cached,) = Path(os.environ["ORDERARCHIVE_CACHE"]).glob("*.sqlite")
    conn = sqlite3.connect(cached)
    conn.execute("DELETE FROM relations")
    conn.commit()
    conn.close()
    doc = json.loads(ok(run("--json", "list")))
    assert {d["doc"]: d["status"] for d in doc["documents"]}["eo-1"] == "amended"


@pytest.mark.parametrize("command", ["list", "log"])
def test_list_and_log_escape_and_align_a_hostile_title(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """A publisher who signed control characters (his tool skipped the refusal): printed
    escaped, and the columns after it stay aligned."""
    import attrs

    from conftest import text_request
    from orderarchive.archive import Archive
    from orderarchive.log import entry as entry_module
    from orderarchive.log.note import Signer

    signer = Signer(name=ORIGIN, seed=bytes(range(32)))
    with monkeypatch.context() as m:
        m.setattr(entry_module, "refuse_unsafe_text", lambda *a, **k: None)
        archive = Archive.init(tmp_path / "archive", ORIGIN)
        requests = [text_request(1, doc="eo-1"), text_request(2, doc="eo-2")]
        evil = attrs.evolve(requests[0].fields, title="x\r\x1b[2K\x1b[32mOFFICIAL",
                            kind="a\x1b[2Kb")
        archive.add([attrs.evolve(requests[0], fields=evil), requests[1]], signer)
        archive.release(signer)
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "k.vkey").write_text(signer.verifier().to_string() + "\n")
    monkeypatch.chdir(tmp_path)
    out = ok(run(command))
    assert "\x1b" not in out and "\r" not in out
    assert "x\\r\\x1b[2K\\x1b[32mOFFICIAL" in out and "a\\x1b[2Kb" in out
    if command == "list":
        lines = out.splitlines()
        at = lines[0].index("ISSUED")
        assert [line[at:at + 10] for line in lines[1:]] == ["2026-02-05"] * 2


# -- item 10: log ------------------------------------------------------------------------------


def test_log_shows_what_each_release_added(project: Path) -> None:
    out = ok(run("log"))
    blocks = out.split("\n")
    heads = [line for line in blocks if line and not line.startswith(" ")]
    assert [h.split(":")[0] for h in heads] == ["not yet released", "release 3", "release 1"]
    assert heads[0].startswith("not yet released: entry 3, root sha256:")
    assert heads[1].startswith("release 3: entries 1-2, root sha256:")
    text = "\n".join(" ".join(line.split()) for line in out.splitlines())
    assert "+ eo-2 executive-order 2026-02-01" in text
    assert "amends eo-1" in out and "reports on eo-1" in out and "rescinds eo-2" in out
    assert "status of eo-1: in force -> amended" in out
    assert "status of eo-2: in force -> rescinded" in out
    doc = json.loads(ok(run("--json", "log")))
    assert [(r["from"], r["to"], r["released"]) for r in doc["releases"]] == [
        (3, 4, False), (1, 3, True), (0, 1, True)]
    assert [a["doc"] for a in doc["releases"][1]["added"]] == ["eo-2", "news"]
    assert doc["releases"][1]["added"][0]["relations"] == [{"type": "amends", "target": "eo-1"}]


def test_log_between_two_releases(project: Path) -> None:
    out = ok(run("log", "1", "3"))
    assert out.startswith(f"{ORIGIN}: release 1 -> release 3 (entries 1-2)")
    assert "status of eo-1: in force -> amended" in out and "eo-3" not in out
    assert ok(run("log", "1")) == out  # NEW: the latest release
    doc = json.loads(ok(run("--json", "log", "1", "3")))
    assert doc["status_changes"] == [
        {"doc": "eo-1", "title": doc["status_changes"][0]["title"], "before": "in-force",
         "after": "amended"}]
    assert "no signed release of tree size 2" in one_line_error(run("log", "1", "2"), 2)
    assert "not a release" in one_line_error(run("log", "3", "4"), 2)
    assert "not after" in one_line_error(run("log", "3", "1"), 2)
    assert "not a release" in one_line_error(run("log", "x"), 2)


def test_log_refuses_what_does_not_verify(project: Path) -> None:
    # a release file that is not signed by the trusted key
    release = project / "archive" / "releases" / "1"
    data = release.read_bytes()
    release.chmod(0o644)
    release.write_bytes(data[:-4] + (b"AAA\n" if data[-4:-1] != b"AAA" else b"BBB\n"))
    one_line_error(run("log"), 1)
    release.write_bytes(data)
    ok(run("log"))
    # a deleted release file that the signed chain names
    release.unlink()
    assert "release 1, named by a signed checkpoint, is missing" in one_line_error(
        run("log"), 1)


def test_log_refuses_an_edited_entry(project: Path) -> None:
    """An entry whose bytes changed (and its leaf hash with it) does not give the signed
    root: log answers nothing."""
    entries = project / "archive" / "log" / "entries"
    data = entries.read_bytes()
    entries.chmod(0o644)
    entries.write_bytes(data.replace(b"2026-02-01", b"2026-02-02", 1))
    r = run("log")
    assert r.exit_code == 1 and r.stdout == ""


# -- item 10: -q prints only the verdict -------------------------------------------------------


def test_quiet_prints_only_the_verdict(project: Path) -> None:
    assert run("verify", "-q").stdout == "verified\n"
    r = run("check", "-q", "eo-1.txt", "eo-3.txt", "missing.txt")
    assert r.exit_code == 2
    assert r.stdout == ("official eo-1.txt\nofficial-unreleased eo-3.txt\nerror missing.txt\n")
    assert run("quote", "--quiet", QUOTE).stdout == "exact\n"
    r = run("quote", "-q", QUOTE.replace("publish", "hide"))
    assert (r.exit_code, r.stdout) == (1, "misquoted\n")
    Path("brief.md").write_text(f'The order says "{QUOTE}"\n', "utf-8")
    assert run("cite-check", "-q", "brief.md").stdout == "ok\n"
    Path("bad.md").write_text('It says "The City shall never publish its records."\n')
    r = run("cite-check", "-q", "bad.md")
    assert (r.exit_code, r.stdout) == (1, "failed\n")
    ok(run("prove", "eo-1", "-o", "p.tlog-proof"))
    r = run("verify-proof", "-q", "eo-1.txt", "p.tlog-proof")
    assert (r.exit_code, r.stdout) == (0, "official\n")
    r = run("verify-proof", "-q", "eo-2.txt", "p.tlog-proof")
    assert (r.exit_code, r.stdout) == (1, "failed\n") and r.stderr.startswith("error: ")
    ok(run("cite", "eo-1", "--quote", QUOTE, "-o", "ev.json"))
    r = run("verify-evidence", "-q", "ev.json")
    assert (r.exit_code, r.stdout) == (0, "verified\n")
    ok(run("cite", "eo-1", "--quote", "The City shall publish [all] its records every quarter.",
           "--accept-review", "-o", "review.json"))
    r = run("verify-evidence", "-q", "review.json")
    assert (r.exit_code, r.stdout) == (1, "needs-review\n")
    # a failed verify
    objects = sorted((project / "archive" / "objects").rglob("*"))
    obj = next(p for p in objects if p.is_file())
    obj.chmod(0o644)
    obj.write_bytes(obj.read_bytes() + b"x")
    # --full: an object verified before is re-read only by a full verify (issue 15 item 2)
    r = run("verify", "--full", "-q")
    assert (r.exit_code, r.stdout) == (1, "failed\n")


def test_quiet_and_json_together_are_a_usage_error(project: Path) -> None:
    for args in (["verify"], ["quote", QUOTE], ["check", "eo-1.txt"]):
        r = run("--json", *args, "-q")
        assert r.exit_code == 2 and "give --json or -q, not both" in r.stderr


def test_quiet_says_failed_when_a_verification_raises(project: Path) -> None:
    """An entry whose signature no longer verifies: the verdict is 'failed', with the error
    on standard error, for quote, check and cite-check alike."""
    other = project.parent / "other.vkey"
    from orderarchive.log.note import Signer

    other.write_text(Signer.generate(ORIGIN).verifier().to_string() + "\n")
    for args in (["quote", QUOTE], ["check", "eo-1.txt"], ["verify"]):
        r = run(*args, "-q", "--trusted-key", str(other))
        assert (r.exit_code, r.stdout) == (1, "failed\n" if args[0] != "check"
                                           else "failed eo-1.txt\n"), (args, r.output)
        assert r.stderr.startswith("error: ") or args[0] == "verify"


def test_log_refuses_a_signed_release_whose_root_the_entries_do_not_give(project: Path) -> None:
    """A fork: release 1 re-signed by the publisher's own key over another root. Every
    signature verifies; only the recomputed root shows it, and log answers nothing."""
    from orderarchive.log.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
    from orderarchive.log.keys import load_verifiers, read_secret_key

    signer = read_secret_key(project.parent / "k.key").unlock(None)
    release = project / "archive" / "releases" / "1"
    cp, _ = open_checkpoint(release.read_bytes(), load_verifiers([project / "keys"]))
    forked = Checkpoint(cp.origin, cp.size, bytes(32), cp.extensions)
    release.chmod(0o644)
    release.write_bytes(sign_checkpoint(forked, signer))
    r = run("log")
    assert r.exit_code == 1 and r.stdout == ""
    assert "do not hash to the signed root" in r.stderr
    assert "do not hash to the signed root" in one_line_error(run("log", "1", "3"), 1)
