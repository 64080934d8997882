"""One JSON shape per command (issue 14 item 5): every command, run for real against a copy of
the sample archive with keys/ trusted, answers --json with one document that validates against
its schema in docs/schemas/, on success, on a failed verification (exit 1), on bad input
(exit 2) and on an unreadable archive (exit 3); usage errors too (through the real entry
point, in a subprocess, since click's usage errors are rendered by ``main``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from _httpsite import serve
from orderarchive.cli import cli

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "docs" / "schemas"
SOURCES = REPO / "docs" / "sample" / "sources"
ORDER_ID = "boston-eo-2026-02-05-specimen"
QUOTE = "City personnel shall prioritize de-escalation"
MISQUOTE = "City personnel shall never prioritize de-escalation"
DEMO_KEY = "keys/DEMO-ONLY-NOT-SECRET.sample-archive.key"

#: Every command and the schema file that describes its --json output.
COMMANDS = [
    "init", "key generate", "key export", "add", "release", "list", "log", "show", "search",
    "verify",
    "repair", "check", "prove", "verify-proof", "consistency", "export-sig", "quote", "cite",
    "cite-check", "verify-evidence", "state show", "state forget", "publish", "mirror",
    "witness keygen", "witness add-log", "witness list", "witness serve",
]

#: Replaced by the URL of the site the "publish" case writes, served on loopback.
SITE = "{SITE}"
VKEY = "keys/sample.orderarchive.example_boston-executive-orders.vkey"


def schema_file(command: str | None) -> Path:
    return SCHEMAS / f"{(command or 'orderarchive').replace(' ', '-')}.schema.json"


@pytest.fixture(scope="module")
def registry() -> Registry:
    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text("utf-8"))
        Draft202012Validator.check_schema(schema)
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def validate(registry: Registry, command: str | None, doc: Any) -> None:
    schema = json.loads(schema_file(command).read_text("utf-8"))
    Draft202012Validator(schema, registry=registry).validate(doc)


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sample archive, its trusted keys, the order, a forged copy, briefs and a
    tampered copy of the archive (a signed title and a release changed)."""
    root = tmp_path_factory.mktemp("json")
    shutil.copytree(REPO / "archive", root / "archive")
    shutil.copytree(REPO / "keys", root / "keys")
    shutil.copy(SOURCES / "boston-eo-2026-02-05-SPECIMEN.pdf", root / "order.pdf")
    (root / "forged.txt").write_text("An executive order that was never issued.\n", "utf-8")
    (root / "new.txt").write_text("A new article about the order.\n", "utf-8")
    (root / "good.md").write_text(f'The order says "{QUOTE}" in plain words.\n', "utf-8")
    (root / "bad.md").write_text(f'The order says "{MISQUOTE}" in plain words.\n', "utf-8")
    (root / "notes.txt").write_text("not a proof\n", "utf-8")
    shutil.copytree(REPO / "archive", root / "tampered")
    entries = root / "tampered" / "log" / "entries"
    entries.write_bytes(entries.read_bytes().replace(b"SPECIMEN of An", b"SPECIMEN of A ", 1))
    release = root / "tampered" / "releases" / "3"  # a release whose signature fails
    release.write_bytes(release.read_bytes().replace(b"\n3\n", b"\n2\n", 1))
    return root


# (case, command, arguments after the command, expected exit code). Run in order: later
# cases read what earlier ones wrote (proof, signature, evidence, a released entry).
CASES: list[tuple[str, str, tuple[str, ...], int]] = [
    # -- success ---------------------------------------------------------------------------
    ("ok", "init", ("fresh", "--origin", "example.gov/fresh"), 0),
    ("ok", "key generate", ("example.gov/fresh", "--unencrypted", "--keys-dir", "newkeys",
                            "--secret-key", "newkeys/fresh.key"), 0),
    ("ok", "key export", (), 0),
    ("ok-file", "key export", ("--minisign", "-o", "sample.pub"), 0),
    ("ok-dry-run", "add", ("--dry-run", "new.txt", "--issuer", "A paper"), 0),
    ("ok", "add", ("new.txt", "--issuer", "A paper", "--key", DEMO_KEY), 0),
    ("ok", "release", ("--key", DEMO_KEY), 0),
    ("ok", "list", (), 0),
    ("ok", "log", (), 0),
    ("ok-range", "log", ("3", "4"), 0),
    ("ok", "show", (ORDER_ID,), 0),
    ("ok", "search", ("executive",), 0),
    ("ok", "verify", (), 0),
    ("ok", "repair", (), 0),
    ("ok", "check", ("order.pdf",), 0),
    ("ok", "prove", ("order.pdf", "-o", "order.proof"), 0),
    ("ok-stdout", "prove", (ORDER_ID, "-o", "-"), 0),
    ("ok", "verify-proof", ("order.pdf", "order.proof"), 0),
    ("ok", "consistency", ("3",), 0),
    ("ok", "export-sig", ("order.pdf", "--key", DEMO_KEY, "-o", "order.minisig"), 0),
    ("ok-stdout", "export-sig", ("order.pdf", "--key", DEMO_KEY, "-o", "-"), 0),
    ("ok", "quote", (QUOTE,), 0),
    ("ok", "cite", (ORDER_ID,), 0),
    ("ok-evidence", "cite", (ORDER_ID, "--quote", QUOTE, "-o", "evidence.json"), 0),
    ("ok-stdout", "cite", (ORDER_ID, "-o", "-"), 0),
    ("ok", "cite-check", ("good.md",), 0),
    ("ok", "verify-evidence", ("evidence.json",), 0),
    ("ok", "state show", (), 0),
    ("ok", "state forget", ("example.gov/none",), 0),
    ("ok", "publish", ("site", "--key-file", VKEY), 0),
    ("ok", "mirror", (SITE, "mirrored"), 0),
    ("ok-url", "verify", (SITE,), 0),
    ("ok-url", "check", ("--archive", SITE, "order.pdf"), 0),
    ("ok-url", "prove", ("--archive", SITE, ORDER_ID, "-o", "url.proof"), 0),
    ("ok", "witness keygen", ("witness.example/w1", "--dir", "wdir", "--unencrypted"), 0),
    ("ok", "witness add-log", ("sample.orderarchive.example/boston-executive-orders",
                               "keys/sample.orderarchive.example_boston-executive-orders.vkey",
                               "--dir", "wdir"), 0),
    ("ok", "witness list", ("--dir", "wdir"), 0),
    ("ok", "witness serve", ("--dir", "wdir", "--max-connections", "0"), 0),
    # -- failed verification (exit 1) ------------------------------------------------------
    ("failed", "check", ("forged.txt",), 1),
    ("failed", "verify-proof", ("forged.txt", "order.proof"), 1),
    ("failed", "quote", (MISQUOTE,), 1),
    ("failed", "cite", (ORDER_ID, "--quote", MISQUOTE), 1),
    ("failed", "cite-check", ("bad.md",), 1),
    ("failed", "verify", ("--no-objects",), 1),
    ("failed", "list", (), 1),
    ("failed", "log", (), 1),
    ("failed", "show", (ORDER_ID,), 1),
    ("failed", "search", ("executive",), 1),
    ("failed", "prove", (ORDER_ID, "-o", "tampered.proof"), 1),
    ("failed", "consistency", ("3",), 1),
    ("failed-url", "check", ("--archive", SITE, "forged.txt"), 1),
    # -- bad input (exit 2) ----------------------------------------------------------------
    ("bad", "init", ("archive", "--origin", "example.gov/again"), 2),
    ("bad", "key generate", ("example.gov/x", "--keys-dir", "k2"), 2),
    ("bad", "key export", ("--trusted-key", "notes.txt"), 2),
    ("bad", "add", ("missing.txt", "--key", DEMO_KEY), 2),
    ("bad", "release", ("--key", "missing.key"), 2),
    ("bad", "list", ("--trusted-key", "notes.txt"), 2),
    ("bad", "log", ("three",), 2),
    ("bad", "show", ("no-such-doc",), 2),
    ("bad", "search", ("executive", "--trusted-key", "notes.txt"), 2),
    ("bad", "verify", ("--trusted-key", "notes.txt"), 2),
    ("bad", "check", ("missing.pdf",), 2),
    ("bad", "prove", ("no-such-doc",), 2),
    ("bad", "verify-proof", ("order.pdf", "notes.txt"), 2),
    ("bad", "consistency", ("three",), 2),
    ("bad", "export-sig", ("order.pdf", "--key", "missing.key"), 2),
    ("bad", "quote", ("too short",), 2),
    ("bad", "cite", ("no-such-doc",), 2),
    ("bad", "cite-check", ("missing.md",), 2),
    ("bad", "verify-evidence", ("notes.txt",), 2),
    ("bad", "publish", ("site", "--trusted-key", "notes.txt"), 2),
    ("bad", "mirror", ("ftp://example.org/site", "mirrored"), 2),
    ("bad-url", "list", ("--archive", SITE), 2),
    ("bad", "witness keygen", ("witness.example/w1", "--dir", "wdir", "--unencrypted"), 2),
    ("bad", "witness add-log", ("example.gov/x", "notes.txt", "--dir", "wdir"), 2),
    ("bad", "witness serve", ("--dir", "wdir", "--listen", "nowhere"), 2),
    ("unreadable", "witness list", ("--dir", "no-witness-here"), 3),
    # -- the archive cannot be read (exit 3) -----------------------------------------------
    *[("unreadable", c, a, 3) for c, a in [
        ("add", ("new.txt", "--key", DEMO_KEY)), ("release", ("--key", DEMO_KEY)),
        ("list", ()), ("log", ()), ("show", (ORDER_ID,)), ("search", ("executive",)),
        ("verify", ()),
        ("repair", ()), ("check", ("order.pdf",)), ("prove", (ORDER_ID,)),
        ("consistency", ("3",)), ("export-sig", (ORDER_ID, "--key", DEMO_KEY)),
        ("quote", (QUOTE,)), ("cite", (ORDER_ID,)), ("cite-check", ("good.md",)),
        ("publish", ("site",)), ("mirror", ("http://127.0.0.1:9", "mirrored")),
    ]],
]

#: Cases run against the tampered copy of the archive (a signed title changed).
TAMPERED = {"list", "log", "show", "search", "verify", "prove", "consistency"}


def _archive_for(case: str, command: str) -> str:
    if case == "unreadable":
        return "nowhere"
    if case == "failed" and command in TAMPERED:
        return "tampered"
    return "archive"


@pytest.fixture(scope="module")
def answers(place: Path) -> dict[int, tuple[int, str, str]]:
    """Every case's (exit code, stdout, stderr), run once in order in *place*."""
    old = Path.cwd()
    os.chdir(place)
    # Module-scoped: set up before conftest's per-test isolation, so it isolates itself.
    env = {"ORDERARCHIVE_STATE_DIR": str(place / "state"),
           "ORDERARCHIVE_CACHE": str(place / "cache"),
           "XDG_CONFIG_HOME": str(place / "config"), "XDG_STATE_HOME": str(place / "xstate"),
           "NO_COLOR": "1", "ORDERARCHIVE_KEYS": None, "ORDERARCHIVE_KEY": None,
           "ORDERARCHIVE_PASSPHRASE": None, "ORDERARCHIVE_ARCHIVE": None}
    saved = {k: os.environ.get(k) for k in env}
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    (place / "site").mkdir(exist_ok=True)
    try:
        out = {}
        with serve(place / "site") as served:
            for i, (case, command, args, _) in enumerate(CASES):
                full = ["--archive", _archive_for(case, command), "--keys", "keys", "--json",
                        *command.split(), *(served.url if a == SITE else a for a in args)]
                r = CliRunner().invoke(cli, full)
                assert not isinstance(r.exception, AssertionError), r.exception
                out[i] = (r.exit_code, r.stdout, r.stderr)
        return out
    finally:
        os.chdir(old)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_every_command_has_a_schema(registry: Registry) -> None:
    names = {p.name for p in SCHEMAS.glob("*.schema.json")}
    groups = {"orderarchive.schema.json", "key.schema.json", "state.schema.json",
              "witness.schema.json", "defs.schema.json"}
    assert {schema_file(c).name for c in COMMANDS} | groups == names
    assert {c for _, c, _, _ in CASES} == set(COMMANDS)
    # every command is run on success, and each with an archive on an unreadable one
    assert {c for k, c, _, _ in CASES if k.startswith("ok")} == set(COMMANDS)


def test_every_registered_command_is_listed() -> None:
    from click import Context, Group

    found = []
    ctx = Context(cli, **cli.context_settings)  # as cli.main makes it (help options cached)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        if isinstance(command, Group):
            found += [f"{name} {sub}" for sub in command.list_commands(ctx)]
        else:
            found.append(name)
    assert sorted(found) == sorted(COMMANDS), "a new command needs a schema in docs/schemas/"


@pytest.mark.parametrize(
    "index", range(len(CASES)), ids=[f"{c.replace(' ', '-')}-{k}-{i}"
                                     for i, (k, c, _, _) in enumerate(CASES)]
)
def test_json_output_matches_its_schema(
    index: int, answers: dict[int, tuple[int, str, str]], registry: Registry
) -> None:
    case, command, _, code = CASES[index]
    exit_code, stdout, stderr = answers[index]
    assert exit_code == code, (stdout, stderr)
    doc = json.loads(stdout)  # one JSON document and nothing else on standard output
    validate(registry, command, doc)
    assert doc["command"] == command
    assert doc["ok"] is (code == 0)
    if "error" in doc and isinstance(doc["error"], dict):
        assert doc["error"]["exit_code"] == code
        assert stderr.startswith("error: ")
    if code == 1:
        # a failed verification never reads as verified
        assert doc.get("verified") is not True
    if case == "ok-stdout":
        assert doc["content"]  # what -o - would have written, inside the one document


def test_failed_verification_says_verified_false(
    answers: dict[int, tuple[int, str, str]]
) -> None:
    for i, (case, command, _, _) in enumerate(CASES):
        doc = json.loads(answers[i][1])
        if case == "failed" and "error" in doc:
            assert doc["verified"] is False, command
        if case == "ok" and command in {"list", "show", "search", "verify", "verify-evidence"}:
            assert doc["verified"] is True, command


def test_a_schema_rejects_the_old_error_shape(registry: Registry) -> None:
    """The schemas are not vacuous: the shape verify-proof used to print fails them."""
    from jsonschema import ValidationError

    old = {"ok": False, "command": "verify-proof", "error": "DigestMismatchError",
           "message": "m", "hint": None}
    with pytest.raises(ValidationError):
        validate(registry, "verify-proof", old)
    with pytest.raises(ValidationError):
        validate(registry, "quote", {"ok": True, "command": "quote"})


USAGE = [
    ("no-command", None, ("--json",)),
    ("unknown-command", None, ("--json", "no-such-command")),
    ("unknown-option", "verify", ("--json", "verify", "--no-such-option")),
    ("missing-argument", "verify-proof", ("--json", "verify-proof")),
    ("bad-value", "search", ("--json", "search", "x", "--limit", "0")),
    ("subgroup", "key export", ("--json", "key", "export", "--bogus")),
    ("group-without-command", "key", ("--json", "key")),
    ("unknown-subcommand", "state", ("--json", "state", "bogus")),
]


@pytest.mark.parametrize(("case", "command", "args"), USAGE, ids=[u[0] for u in USAGE])
def test_usage_errors_answer_in_json(
    case: str, command: str | None, args: tuple[str, ...], place: Path, registry: Registry
) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "orderarchive", *args], cwd=place, capture_output=True,
        text=True, check=False, timeout=60,
        env={**os.environ, "ORDERARCHIVE_STATE_DIR": str(place / "state")},
    )
    assert r.returncode == 2, r.stderr
    doc = json.loads(r.stdout)
    validate(registry, command, doc)
    assert doc["command"] == command
    assert doc["error"]["type"] == "UsageError" and doc["error"]["exit_code"] == 2
    assert "Traceback" not in r.stderr


def test_an_error_in_the_shared_options_names_the_command(
    place: Path, registry: Registry
) -> None:
    r = CliRunner().invoke(cli, ["--archive", str(place / "archive"), "--json",
                                 "--max-size", "lots", "verify"])
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    validate(registry, "verify", doc)
    assert doc["command"] == "verify" and doc["error"]["exit_code"] == 2


@pytest.mark.parametrize(("raised", "code"), [("abort", 2), ("interrupt", 130)])
def test_an_abort_or_interrupt_answers_in_json(
    raised: str, code: int, registry: Registry, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ctrl-C or an aborted prompt mid-command: still one JSON document (command unknown)."""
    import click

    from orderarchive import cli as cli_module

    def stop(*args: Any, **kwargs: Any) -> None:
        raise click.Abort if raised == "abort" else KeyboardInterrupt

    monkeypatch.setattr(cli_module.cli, "main", stop)
    monkeypatch.setattr(sys, "argv", ["orderarchive", "--json", "release"])
    with pytest.raises(SystemExit) as stopped:
        cli_module.main()
    assert stopped.value.code == code
    out = capsys.readouterr()
    doc = json.loads(out.out)
    validate(registry, None, doc)
    assert doc["error"]["exit_code"] == code
    assert out.err.startswith("error: ")
