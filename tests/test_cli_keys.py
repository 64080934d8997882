"""The key lifecycle through the CLI, end to end (issue 16; the README's scenario): a clerk's
archive adopts a key set, a release is co-signed 2-of-3, the clerk's writing key is rotated to
a successor and a deputy's stolen key revoked, and an old copy, the new copy and a mirror all
verify against the one pinned trust file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from test_cli import one_line_error, run

ORIGIN = "example.gov/orders"
STEM = "example.gov_orders"


def ok(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    r = run(*args, cwd=cwd, env=env)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    return r.stdout


def gen(cwd: Path, name: str, label: str) -> str:
    ok("key", "generate", name, "--unencrypted", "--keys-dir", "pub",
       "--secret-key", f"secret/{label}.key", cwd=cwd)
    vkey = next(p for p in (cwd / "pub").glob("*.vkey")
                if p.read_text().startswith(name + "+") and p.stem not in _seen(cwd))
    target = cwd / "pub" / f"{label}.vkey"
    vkey.rename(target)
    return str(target.relative_to(cwd))


def _seen(cwd: Path) -> set[str]:
    return {"clerk", "deputy", "attorney", "writer", "deputyw", "successor"}


def _validate(command: str, doc: object) -> None:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schemas = Path(__file__).resolve().parents[1] / "docs" / "schemas"
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s))
        for s in (json.loads(p.read_text("utf-8")) for p in schemas.glob("*.schema.json"))
    )
    schema = json.loads((schemas / f"{command}.schema.json").read_text("utf-8"))
    Draft202012Validator(schema, registry=registry).validate(doc)


def doc(cwd: Path, n: int) -> str:
    (cwd / f"order-{n}.txt").write_text(f"Executive Order {n}\n\nSection 1. Act on {n}.\n")
    return f"order-{n}.txt"


def release_2_of_3(cwd: Path, writer: str, holders: tuple[str, str], name: str) -> None:
    ok("release", "--prepare", name, "--key", f"secret/{writer}.key", cwd=cwd)
    for holder in holders:
        ok("release", "--cosign", name, "--key", f"secret/{holder}.key", cwd=cwd)
    ok("release", "--publish", name, "--key", f"secret/{writer}.key", cwd=cwd)


def test_key_lifecycle_scenario(tmp_path: Path) -> None:
    w = tmp_path
    ok("init", "--origin", ORIGIN, cwd=w)
    keys = {label: gen(w, name, label) for label, name in [
        ("clerk", f"{ORIGIN}/clerk"), ("deputy", f"{ORIGIN}/deputy"),
        ("attorney", f"{ORIGIN}/attorney"), ("writer", ORIGIN), ("deputyw", ORIGIN),
        ("successor", ORIGIN)]}
    (w / "keys").mkdir()
    shutil.copy(w / keys["writer"], w / "keys" / f"{STEM}.vkey")  # today's single key
    ok("add", "--key", "secret/writer.key", doc(w, 1), "--id", "eo-1", cwd=w)
    ok("release", "--key", "secret/writer.key", cwd=w)
    ok("verify", cwd=w)  # the single-key archive, as before

    # version 1: three root and release keys (2 of 3), the clerk's and the deputy's writers
    for label in ("clerk", "deputy"):
        ok("key", "add", keys[label], "--role", "root", "--role", "release", "-f", "ks1", cwd=w)
    r = run("key", "add", keys["attorney"], "--role", "root", "--threshold", "root=4", "-f",
            "ks1", cwd=w)
    assert "threshold 4 of root is more than its 3 keys" in one_line_error(r, 2)
    ok("key", "add", keys["attorney"], "--role", "root", "--role", "release",
       "--threshold", "root=2", "--threshold", "release=2", "-f", "ks1", cwd=w)
    for label in ("writer", "deputyw"):
        ok("key", "add", keys[label], "--role", "entry", "--role", "log", "-f", "ks1", cwd=w)
    r = run("key", "record", "ks1", "--key", "secret/writer.key", cwd=w)
    assert "not signed yet" in one_line_error(r, 2)  # unsigned: refused, nothing written
    ok("key", "sign", "ks1", "--key", "secret/clerk.key", cwd=w)
    ok("key", "sign", "ks1", "--key", "secret/clerk.key", cwd=w)  # again: still one line
    r = run("key", "record", "ks1", "--key", "secret/writer.key", cwd=w)
    assert "signed by 1" in one_line_error(r, 1)
    ok("key", "sign", "ks1", "--key", "secret/deputy.key", cwd=w)
    assert "as entry 1" in ok("key", "record", "ks1", "--key", "secret/writer.key", cwd=w)
    assert "wrote keys/" in ok("trust", "init", cwd=w)
    (w / "keys" / f"{STEM}.vkey").unlink()  # the trust file replaces the flat keys folder
    assert "version 1" in ok("trust", "show", cwd=w)

    ok("add", "--key", "secret/deputyw.key", doc(w, 2), "--id", "eo-2", cwd=w)
    r = run("release", "--key", "secret/writer.key", cwd=w)
    assert "signed by 0 of the 3 keys, 2 needed" in one_line_error(r, 1)
    release_2_of_3(w, "writer", ("clerk", "attorney"), "rel-3")
    ok("verify", cwd=w)
    shutil.copytree(w / "archive", w / "old-copy")

    # the deputy's writing key is stolen at the next index; the clerk hands over
    theft = 3
    ok("key", "rotate", keys["writer"], keys["successor"], "-f", "ks2", cwd=w)
    ok("key", "revoke", keys["deputyw"], "--from-index", str(theft), "--reason", "stolen",
       "-f", "ks2", cwd=w)
    for holder in ("clerk", "attorney"):
        ok("key", "sign", "ks2", "--key", f"secret/{holder}.key", cwd=w)
    assert "as entry 3" in ok("key", "record", "ks2", "--key", "secret/writer.key", cwd=w)
    ok("add", "--key", "secret/successor.key", doc(w, 4), "--id", "eo-4", cwd=w)
    release_2_of_3(w, "successor", ("deputy", "attorney"), "rel-5")

    history = json.loads(ok("--json", "keys", cwd=w))
    assert history["pinned"] and [(k["entry"], k["version"]) for k in history["keysets"]] == [
        (1, 1), (3, 2)]
    assert "revoked from entry 3 (stolen)" in ok("keys", cwd=w)

    # the thief and the retired writer are refused; nothing is written
    before = (w / "archive/log/entries").read_bytes()
    r = run("add", "--key", "secret/deputyw.key", doc(w, 9), "--id", "eo-9", cwd=w)
    assert "revoked from index 3" in one_line_error(r, 1)
    r = run("add", "--key", "secret/writer.key", doc(w, 9), "--id", "eo-9", cwd=w)
    assert "is not in it" in one_line_error(r, 1)
    assert (w / "archive/log/entries").read_bytes() == before

    # old copy, new copy and a mirror all verify against the one pinned trust file, each
    # by a verifier of its own (one who remembers the newer release refuses the old copy as
    # a rollback: history.py)
    shutil.copytree(w / "archive", w / "mirror")
    vkey = {label: (w / path).read_text().strip() for label, path in keys.items()}
    for copy in ("archive", "old-copy", "mirror"):
        env = {"ORDERARCHIVE_STATE_DIR": str(w / f"state-{copy}")}
        said = ok("--archive", copy, "verify", cwd=w, env=env)
        # which key signed what
        assert f"signed by {vkey['writer']} [" in said
        roles = "entry, log" if copy == "old-copy" else "not in the newest key set"
        assert f"signed by {vkey['deputyw']} [{roles}]: entries 2-2 (1)" in said
        assert f"signed by {vkey['clerk']} [release, root]: no entries; releases 3" in said
    answer = json.loads(ok("--json", "verify", cwd=w,
                           env={"ORDERARCHIVE_STATE_DIR": str(w / "state-json")}))
    _validate("verify", answer)
    assert {item["key"]: item["releases"] for item in answer["signers"]}[vkey["clerk"]] == [3]
    said = ok("verify", cwd=w, env={"ORDERARCHIVE_STATE_DIR": str(w / "state-archive")})
    assert f"signed by {vkey['successor']} [entry, log]: entries 4-4 (1); releases" in said
    for copy in ("archive", "old-copy", "mirror"):
        env = {"ORDERARCHIVE_STATE_DIR": str(w / f"state-{copy}")}
        ok("--archive", copy, "check", "order-2.txt", cwd=w, env=env)
    # a copy whose key-set entry was cut out (the revocation hidden) does not verify
    forged = w / "forged"
    shutil.copytree(w / "archive", forged)
    lines = (forged / "log/entries").read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b'"reason":"stolen"', b'"reason":"stolEn"')
    (forged / "log/entries").write_bytes(b"\n".join(lines))
    r = run("--archive", "forged", "verify", cwd=w)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr


def test_bad_key_set_input_is_a_one_line_error(tmp_path: Path) -> None:
    w = tmp_path
    ok("init", "--origin", ORIGIN, cwd=w)
    (w / "junk.keyset").write_text("not a key set\n")
    r = run("key", "sign", "junk.keyset", cwd=w)
    one_line_error(r, 2)
    r = run("trust", "show", "junk.keyset", cwd=w)
    one_line_error(r, 2)
    r = run("trust", "init", cwd=w)
    assert "no key set version 1" in one_line_error(r, 2)
    r = run("key", "add", "nokey.vkey", "--role", "root", "-f", "x", cwd=w)
    one_line_error(r, 2)
    r = run("release", "--cosign", "missing.note", cwd=w)
    one_line_error(r, 2)
    assert not (w / "x").exists()
