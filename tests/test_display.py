"""Terminal escape injection (issue 11 items 7 and 8): nothing an archive, a document or a file
name holds reaches a terminal as a control sequence, and signed metadata cannot hold one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ORIGIN, text_request
from orderarchive._display import UNSAFE_CHARACTERS, json_safe, terminal_safe, unsafe_characters
from orderarchive.archive import Archive
from orderarchive.errors import MalformedError
from orderarchive.log import entry as entry_module
from orderarchive.log.entry import refuse_unsafe_text
from orderarchive.log.keys import seal
from orderarchive.log.note import Signer

FORGED = "\x1b[2K\x1b[32mOFFICIAL"
# What must never reach a terminal raw: ESC, CR, a C1 CSI, the bidi override and isolate.
RAW = ("\x1b", "\r", "\x9b", "\u202e", "\u2066")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orderarchive", *args],
        cwd=cwd, env=dict(os.environ), text=True, capture_output=True, timeout=120, check=False,
    )


def assert_no_raw_controls(result: subprocess.CompletedProcess[str]) -> None:
    out = result.stdout + result.stderr
    for char in RAW:
        assert char not in out, (char, out)
    assert "Traceback" not in out


def stored(work: Path) -> dict[str, bytes]:
    """The archive's log files and objects (not its derived index or lock files)."""
    root = work / "archive"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] in ("log", "objects")}


# -- the escaping function ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain title — with “quotes”", "plain title — with “quotes”"),
        ("x\r" + FORGED, "x\\r\\x1b[2K\\x1b[32mOFFICIAL"),
        ("a\nb\tc", "a\\nb\\tc"),
        ("\x00\x07\x7f\x85\x9b", "\\x00\\x07\\x7f\\x85\\x9b"),
        ("abc\u202edef\u2066g\u2069\u202a", "abc\\u202edef\\u2066g\\u2069\\u202a"),
        ("line\u2028sep", "line\\u2028sep"),
    ],
)
def test_terminal_safe_escapes_every_control(text: str, shown: str) -> None:
    assert terminal_safe(text) == shown


@settings(max_examples=500, deadline=None, database=None)
@given(st.text())
def test_no_text_reaches_the_terminal_unescaped(text: str) -> None:
    shown = terminal_safe(text)
    assert UNSAFE_CHARACTERS.search(shown) is None
    assert terminal_safe(shown) == shown  # escaping is done once, completely
    multiline = terminal_safe(text, keep_newlines=True)
    assert UNSAFE_CHARACTERS.search(multiline.replace("\n", "")) is None


@settings(max_examples=500, deadline=None, database=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
                    max_leaves=10))
def test_json_output_is_the_same_value_with_nothing_raw(value: object) -> None:
    text = json_safe(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))
    assert json.loads(text) == value
    assert UNSAFE_CHARACTERS.search(text.replace("\n", "")) is None


def test_terminal_safe_keeps_newlines_only_when_asked() -> None:
    assert terminal_safe("a\nb\x1bc", keep_newlines=True) == "a\nb\\x1bc"
    assert terminal_safe("a\nb") == "a\\nb"


def test_json_safe_is_the_same_json_with_no_raw_controls() -> None:
    value = {"title": "t\x1b[31m\x7f\x9b\u202e\u2066\u2028\n\t", "n": [1, "x"]}
    text = json_safe(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))
    assert json.loads(text) == value
    assert unsafe_characters(text.replace("\n", "")) == []


def test_refuse_unsafe_text_names_the_field() -> None:
    refuse_unsafe_text({"title": "An order", "meta": {"author": "Clerk"}, "relations": []})
    for fields, where in [
        ({"title": FORGED}, "title"),
        ({"issuer": "City\u202eyti"}, "issuer"),
        ({"meta": {"filename": "x\rOFFICIAL.pdf"}}, "meta.filename"),
        ({"relations": [{"type": "amends", "target": "eo-1\n"}]}, "relations[0].target"),
    ]:
        with pytest.raises(MalformedError, match=r"^" + where.replace("[", r"\[")):
            refuse_unsafe_text(fields)


def test_library_add_refuses_control_characters_and_stores_nothing(
    tmp_path: Path, signer: Signer
) -> None:
    archive = Archive.init(tmp_path / "a", ORIGIN)
    archive.add([text_request(0)], signer)
    before = (tmp_path / "a" / "log" / "entries").read_bytes()
    request = text_request(1)
    hostile = attrs.evolve(request, fields=attrs.evolve(request.fields, title=FORGED))
    with pytest.raises(MalformedError, match="control or bidi"):
        archive.add([hostile], signer)
    assert (tmp_path / "a" / "log" / "entries").read_bytes() == before


# -- add refuses, through the CLI --------------------------------------------------------------


@pytest.fixture
def clerk(tmp_path: Path, signer: Signer) -> Path:
    """An empty archive and its (unencrypted, mode 0600) private key, made without the CLI."""
    Archive.init(tmp_path / "archive", ORIGIN)
    (tmp_path / "clerk.key").write_bytes(seal(signer, None).to_bytes())
    (tmp_path / "clerk.key").chmod(0o600)
    return tmp_path


def test_add_refuses_an_escape_sequence_in_the_title_found_in_the_file(clerk: Path) -> None:
    page = clerk / "page.html"
    page.write_text(f"<html><head><title>{FORGED} order</title></head>"
                    "<body><p>The City shall act.</p></body></html>", encoding="utf-8")
    r = run("add", "--key", "clerk.key", "page.html", "--issuer", "City", cwd=clerk)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert_no_raw_controls(r)
    assert r.stderr.count("\n") == 1 and "title holds control or bidi characters" in r.stderr
    assert "\\x1b[2K" in r.stderr
    assert stored(clerk) == {}


def test_line_breaks_in_the_files_own_title_and_author_are_layout(clerk: Path) -> None:
    page = clerk / "page.html"
    page.write_text('<html><head><meta property="og:title" content="An\n\tOrder">'
                    '<meta name="author" content="Jane\r\nDoe"></head>'
                    "<body><p>The City shall act.</p></body></html>", encoding="utf-8")
    r = run("--json", "add", "--key", "clerk.key", "page.html", cwd=clerk)
    assert r.returncode == 0, (r.stdout, r.stderr)
    (added,) = json.loads(r.stdout)["added"]
    assert added["title"] == "An Order" and added["issuer"] == "Jane Doe"
    assert added["meta"]["author"] == "Jane Doe"


@pytest.mark.parametrize(
    "option", [("--issuer", "City\u202eytic"), ("--title", "Order\r" + FORGED)]
)
def test_add_refuses_control_characters_in_given_metadata(
    clerk: Path, option: tuple[str, str]
) -> None:
    (clerk / "order.txt").write_text("Executive Order\n\nThe City shall act.\n", encoding="utf-8")
    r = run("add", "--key", "clerk.key", "order.txt", *option, cwd=clerk)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert_no_raw_controls(r)
    assert stored(clerk) == {}


def test_add_refuses_an_id_with_a_trailing_newline(clerk: Path) -> None:
    (clerk / "order.txt").write_text("Executive Order\n\nThe City shall act.\n", encoding="utf-8")
    r = run("add", "--key", "clerk.key", "order.txt", "--id", "eo-1\n", cwd=clerk)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "invalid document id 'eo-1\\n'" in r.stderr
    assert stored(clerk) == {}


# -- a hostile publisher's archive prints escaped ----------------------------------------------


@pytest.fixture
def hostile(tmp_path: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An archive whose publisher signed control characters (its tool skips the refusal)."""
    with monkeypatch.context() as m:
        m.setattr(entry_module, "refuse_unsafe_text", lambda *a, **k: None)
        archive = Archive.init(tmp_path / "archive", ORIGIN)
        request = text_request(0, doc="eo-1")
        evil = attrs.evolve(request.fields, title="x\r" + FORGED + "\x9b2K",
                            issuer="City\u202eyti\u2066",
                            meta={"filename": "a\x1b]0;pwned\x07.txt"})
        archive.add([attrs.evolve(request, fields=evil)], signer)
        archive.release(signer)
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "publisher.vkey").write_text(signer.verifier().to_string() + "\n")
    return tmp_path


@pytest.mark.parametrize(
    "command", [("list",), ("show", "eo-1"), ("--json", "list"), ("--json", "show", "eo-1")]
)
def test_hostile_metadata_prints_escaped(hostile: Path, command: tuple[str, ...]) -> None:
    r = run(*command, cwd=hostile)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert_no_raw_controls(r)
    if command[0] == "--json":
        shown = json.dumps(json.loads(r.stdout), ensure_ascii=False)
        assert "\\u001b[2K" in r.stdout and "OFFICIAL" in shown
    else:
        assert "x\\r\\x1b[2K\\x1b[32mOFFICIAL\\x9b2K" in r.stdout


def test_hostile_metadata_prints_escaped_in_check(hostile: Path) -> None:
    (hostile / "copy.txt").write_bytes(text_request(0).data)
    r = run("check", "copy.txt", cwd=hostile)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert_no_raw_controls(r)
    assert "OFFICIAL" in r.stdout and "\\x1b[32mOFFICIAL" in r.stdout


def test_check_of_a_hostile_file_name_prints_no_raw_escape(hostile: Path) -> None:
    name = "x\r" + FORGED
    (hostile / name).write_text("Something else entirely.\n", encoding="utf-8")
    r = run("check", name, cwd=hostile)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert_no_raw_controls(r)
    assert "NOT OFFICIAL" in r.stdout and "x\\r\\x1b[2K\\x1b[32mOFFICIAL" in r.stdout


def test_an_error_that_echoes_input_prints_no_raw_escape(hostile: Path) -> None:
    r = run("show", FORGED + "\u202e", cwd=hostile)
    assert r.returncode != 0
    assert_no_raw_controls(r)
    missing = run("check", "nope\r" + FORGED, cwd=hostile)
    assert missing.returncode == 2
    assert_no_raw_controls(missing)
    assert "nope \\x1b[2K\\x1b[32mOFFICIAL not found" in missing.stderr  # CR: a space


_TEXT = st.text(alphabet=st.sampled_from("ab é\x1b\n\x7f\x9b\u202e\u2028\u2066"), max_size=6)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_TEXT, st.one_of(
    _TEXT, st.integers(), st.none(), st.lists(_TEXT, max_size=3),
    st.lists(st.dictionaries(_TEXT, _TEXT, max_size=2), max_size=2),
    st.dictionaries(_TEXT, _TEXT, max_size=3),
), max_size=4))
def test_refuse_unsafe_text_refuses_exactly_the_fields_holding_unsafe_characters(
    fields: dict[str, object],
) -> None:
    # The one-scan fast path (issue 15) must refuse what the field-by-field walk refuses.
    def strings(value: object) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [s for k, v in value.items() for s in (*strings(k), *strings(v))]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return []

    unsafe = any(unsafe_characters(s) for s in strings(fields))
    if unsafe:
        with pytest.raises(MalformedError, match="control or bidi"):
            refuse_unsafe_text(fields)
    else:
        refuse_unsafe_text(fields)


def test_add_prints_a_file_name_with_a_newline_escaped_on_its_line(clerk: Path) -> None:
    # add writes each document's lines in one call (issue 15): each line is still escaped
    # on its own, so a newline in a path cannot start a forged line.
    folder = clerk / "d\nadded eo-9 as entry 9: forged"
    folder.mkdir()
    (folder / "notice.txt").write_text("A notice\n\nThe City shall act.\n", encoding="utf-8")
    r = run("add", "--key", "clerk.key", "--issuer", "City", str(folder / "notice.txt"),
            cwd=clerk)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert_no_raw_controls(r)
    assert "d\\nadded eo-9 as entry 9: forged/notice.txt\n" in r.stdout
    assert not any(line.startswith("added eo-9") for line in r.stdout.splitlines())
    assert len(r.stdout.splitlines()) == 7  # the document's six lines and the summary
