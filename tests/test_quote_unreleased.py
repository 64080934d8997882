"""A quotation found in an entry no signed release covers yet is not a plain yes: `quote`,
`cite --quote` and `cite-check` exit 1 with an "unreleased" status, as `check` of the same
document's file says UNRELEASED (exit 1). Before, they said EXACT with exit 0 and a warning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from conftest import ORIGIN, text_request
from orderarchive.archive import Archive
from orderarchive.cli import cli
from orderarchive.log.keys import Signer
from test_json_schemas import SCHEMAS, schema_file


def validate(doc: Any, command: str) -> None:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schemas = [json.loads(p.read_text("utf-8")) for p in sorted(SCHEMAS.glob("*.schema.json"))]
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)
    schema = json.loads(schema_file(command).read_text("utf-8"))
    Draft202012Validator(schema, registry=registry).validate(doc)


BODY = "Section 1. The City shall publish its records every quarter without fail.\n"
QUOTE = "The City shall publish its records every quarter without fail."


def _setup(tmp_path: Path) -> tuple[Archive, Signer, list[str]]:
    signer = Signer(name=ORIGIN, seed=bytes(range(32)))
    archive = Archive.init(tmp_path / "archive", ORIGIN)
    archive.add([text_request(1, doc="eo-1")], signer)
    archive.release(signer)
    archive.add([text_request(2, doc="eo-2", body=BODY)], signer)  # not released
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "origin.vkey").write_text(signer.verifier().to_string() + "\n")
    (tmp_path / "eo-2.txt").write_text(BODY)
    return archive, signer, ["--archive", str(tmp_path / "archive"), "--keys", str(keys)]


def run(base: list[str], *args: str) -> Result:
    return CliRunner().invoke(cli, [*base, *args])


def test_a_quotation_of_an_unreleased_entry_fails_as_check_does(tmp_path: Path) -> None:
    archive, signer, base = _setup(tmp_path)
    checked = run(base, "check", str(tmp_path / "eo-2.txt"))
    assert checked.exit_code == 1 and "UNRELEASED" in checked.output
    r = run(base, "quote", QUOTE)
    assert r.exit_code == 1, r.output
    assert "EXACT (unreleased) eo-2" in r.output
    assert "not yet covered by a signed release" in r.output
    q = run(base, "quote", "-q", QUOTE)
    assert (q.exit_code, q.output) == (1, "exact-unreleased\n")
    j = run(base, "quote", "--json", QUOTE)
    doc = json.loads(j.stdout)
    assert j.exit_code == 1
    assert (doc["ok"], doc["status"], doc["released"], doc["verdict"]) == (
        False, "exact", False, "exact-unreleased")
    validate(doc, "quote")
    archive.release(signer)  # once released, the same quotation is a plain yes
    r = run(base, "quote", QUOTE)
    assert r.exit_code == 0 and "EXACT      eo-2" in r.output, r.output
    doc = json.loads(run(base, "quote", "--json", QUOTE).stdout)
    assert (doc["ok"], doc["released"], doc["verdict"]) == (True, True, "exact")
    validate(doc, "quote")


def test_cite_refuses_a_quotation_of_an_unreleased_entry(tmp_path: Path) -> None:
    archive, signer, base = _setup(tmp_path)
    r = run(base, "cite", "eo-2", "--quote", QUOTE)
    assert r.exit_code == 1, r.output
    assert "not yet covered by a signed release: no citation for it" in r.output
    assert "orderarchive release" in r.output
    archive.release(signer)
    assert run(base, "cite", "eo-2", "--quote", QUOTE).exit_code == 0


def test_cite_check_counts_an_unreleased_quotation_as_not_ok(tmp_path: Path) -> None:
    archive, signer, base = _setup(tmp_path)
    brief = tmp_path / "brief.txt"
    brief.write_text(f'The order says "{QUOTE}" plainly.\n')
    r = run(base, "cite-check", str(brief))
    assert r.exit_code == 1, r.output
    assert "EXACT (unreleased)" in r.output and "1 exact unreleased" in r.output
    j = run(base, "cite-check", "--json", str(brief))
    doc = json.loads(j.stdout)
    assert doc["ok"] is False and doc["quotations"][0]["status"] == "exact-unreleased"
    assert doc["totals"]["exact-unreleased"] == 1
    validate(doc, "cite-check")
    archive.release(signer)
    assert run(base, "cite-check", str(brief)).exit_code == 0
