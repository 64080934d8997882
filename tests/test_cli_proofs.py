"""CLI: check, prove, verify-proof, consistency, export-sig, key export, verify --since.

Every bad input must give a one-line error and a non-zero exit, never a traceback. The minisign
tests run the real ``minisign`` binary, as a person without orderarchive would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import ORIGIN, need_tool, ok, one_line_error, text_request
from orderarchive.archive import Archive
from orderarchive.cli import cli
from orderarchive.log.checkpoint import open_checkpoint
from orderarchive.log.keys import seal
from orderarchive.log.note import Signer
from test_proofs import named_cases


class Clerk:
    """A working directory: an archive (3 released + 1 unreleased), keys and document files."""

    def __init__(self, root: Path, signer: Signer) -> None:
        self.root = root
        self.signer = signer
        self.archive_path = root / "archive"
        self.archive = Archive.init(self.archive_path, ORIGIN)
        self.archive.add([text_request(i) for i in range(3)], signer)
        self.archive.release(signer)
        self.archive.add([text_request(3)], signer)
        self.keys = root / "keys"
        self.keys.mkdir()
        self.vkey = self.keys / "origin.vkey"
        self.vkey.write_text(signer.verifier().to_string() + "\n")
        self.secret = root / "clerk.key"
        self.secret.write_bytes(seal(signer, None).to_bytes())
        self.secret.chmod(0o600)  # a private key others can read is refused
        self.docs = []
        for i in range(4):
            path = root / f"order-{i}.txt"
            path.write_bytes(text_request(i).data)
            self.docs.append(path)
        self.forged = root / "forged.txt"
        self.forged.write_bytes(text_request(1).data.replace(b"item 1", b"item 7"))

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        base = ["--archive", str(self.archive_path), "--keys", str(self.keys)]
        return CliRunner().invoke(cli, [*base, *args], env=env)


@pytest.fixture
def clerk(tmp_path: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch) -> Clerk:
    monkeypatch.chdir(tmp_path)
    return Clerk(tmp_path, signer)



# -- check -------------------------------------------------------------------------------------


def test_check_official(clerk: Clerk) -> None:
    out = ok(clerk.run("check", str(clerk.docs[1])))
    assert out.startswith("OFFICIAL")
    assert 'eo-1 "Order 1", entry 1, release 3, signed by example.gov/orders+' in out


def test_check_mixed_files(clerk: Clerk) -> None:
    r = clerk.run("check", str(clerk.docs[0]), str(clerk.docs[3]), str(clerk.forged))
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    # The forged file is eo-1 with one word changed: a modified copy, located word by word.
    assert [line.split()[0] for line in lines[:3]] == ["OFFICIAL", "UNRELEASED", "MODIFIED"]
    assert "of eo-1" in lines[2]
    assert "paragraph 2: \u201c1\u201d changed to \u201c7\u201d" in lines[3]
    (clerk.forged.parent / "unrelated.txt").write_text("Parking rules for snow emergencies.\n")
    r = clerk.run("check", str(clerk.forged.parent / "unrelated.txt"))
    assert r.exit_code == 1 and r.stdout.startswith("NOT OFFICIAL")
    assert "not an archived document" in r.stdout


def test_check_json(clerk: Clerk) -> None:
    r = clerk.run("--json", "check", str(clerk.docs[2]), str(clerk.forged))
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["ok"] is False
    first, second = doc["files"]
    assert (first["status"], first["doc"], first["seq"], first["release"]) == (
        "official", "eo-2", 2, 3)
    assert second["status"] == "modified-copy" and second["doc"] == "eo-1"
    assert second["text"]["words_changed"] == 1
    r = clerk.run("--json", "check", str(clerk.docs[2]))
    assert json.loads(ok(r))["ok"] is True


def test_check_a_copied_archive_without_its_index(clerk: Clerk, tmp_path: Path) -> None:
    copy = tmp_path / "mirror"
    shutil.copytree(clerk.archive_path, copy)
    (copy / "index.sqlite").unlink(missing_ok=True)
    r = CliRunner().invoke(cli, ["--archive", str(copy), "check", "--trusted-key",
                                 str(clerk.vkey), str(clerk.docs[0])])
    assert ok(r).startswith("OFFICIAL")


@pytest.mark.parametrize("case", ["missing-file", "directory", "wrong-key", "no-keys",
                                  "no-archive", "tampered-log"])
def test_check_bad_input(case: str, clerk: Clerk, tmp_path: Path) -> None:
    args = ["check", str(clerk.docs[0])]
    if case == "missing-file":
        args = ["check", str(tmp_path / "nope.pdf")]
    elif case == "directory":
        args = ["check", str(tmp_path)]
    elif case == "wrong-key":
        args += ["--trusted-key", Signer.generate(ORIGIN).verifier().to_string()]
    elif case == "no-keys":
        shutil.rmtree(clerk.keys)
    elif case == "no-archive":
        shutil.rmtree(clerk.archive_path)
    elif case == "tampered-log":
        entries = clerk.archive_path / "log" / "entries"
        entries.write_bytes(entries.read_bytes().replace(b"Order 0", b"Order O"))
    one_line_error(clerk.run(*args))


# -- prove / verify-proof ----------------------------------------------------------------------


def test_prove_and_verify_proof(clerk: Clerk, tmp_path: Path) -> None:
    out = ok(clerk.run("prove", "eo-1"))
    assert "wrote eo-1.tlog-proof" in out and "release 3" in out
    proof = tmp_path / "eo-1.tlog-proof"
    assert proof.read_bytes().startswith(b"c2sp.org/tlog-proof@v1\n")
    # Anyone: the file, the proof and the public key; no archive, no keys directory.
    r = CliRunner().invoke(cli, ["--archive", str(tmp_path / "none"), "--keys",
                                 str(tmp_path / "none"), "verify-proof", str(clerk.docs[1]),
                                 str(proof), "--trusted-key", str(clerk.vkey)])
    out = ok(r)
    assert out.startswith("OFFICIAL") and "eo-1" in out and "release 3 of example.gov/orders" in out
    r = clerk.run("--json", "verify-proof", str(clerk.docs[1]), str(proof))
    assert json.loads(ok(r))["doc"] == "eo-1"


def test_prove_a_file_and_to_stdout(clerk: Clerk) -> None:
    out = ok(clerk.run("prove", str(clerk.docs[2])))
    assert f"wrote {clerk.docs[2]}.tlog-proof" in out
    r = clerk.run("prove", "eo-2", "-o", "-")
    assert ok(r).encode() == Path(f"{clerk.docs[2]}.tlog-proof").read_bytes()
    r = clerk.run("--json", "prove", "eo-0", "-o", "zero.proof")
    assert json.loads(ok(r)) == {"ok": True, "command": "prove", "proof": "zero.proof",
                                 "doc": "eo-0", "seq": 0, "release": 3}


@pytest.mark.parametrize("ref", ["eo-3", "no-such-doc", "forged"])
def test_prove_errors(ref: str, clerk: Clerk) -> None:
    target = str(clerk.forged) if ref == "forged" else ref
    line = one_line_error(clerk.run("prove", target), 2)
    if ref == "eo-3":
        assert "hint: run 'orderarchive release'" in line


def _bad_proofs(clerk: Clerk) -> dict[str, bytes]:
    clerk.archive.add([text_request(i) for i in range(4, 6)], clerk.signer)
    clerk.archive.release(clerk.signer)
    assert clerk.archive.releases() == [3, 6]
    from orderarchive.proofs import prove

    proof = prove(clerk.archive, "eo-2", [clerk.signer.verifier()])
    cases = named_cases(clerk.archive, proof, clerk.signer)
    for i in range(0, len(proof), max(1, len(proof) // 12)):
        cases[f"truncated-at-{i}"] = proof[:i]
        bad = bytearray(proof)
        bad[i] ^= 0x10
        cases[f"byte-{i}-bit-4"] = bytes(bad)
    return cases


def test_verify_proof_refuses_every_bad_proof(clerk: Clerk, tmp_path: Path) -> None:
    cases = _bad_proofs(clerk)
    assert len(cases) > 30
    for name, data in cases.items():
        path = tmp_path / f"{name}.tlog-proof"
        path.write_bytes(data)
        r = clerk.run("verify-proof", str(clerk.docs[2]), str(path))
        try:
            one_line_error(r)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from e


@pytest.mark.parametrize("case", ["wrong-file", "wrong-key", "missing-proof", "missing-file",
                                  "key-is-garbage", "proof-is-a-directory"])
def test_verify_proof_bad_input(case: str, clerk: Clerk, tmp_path: Path) -> None:
    ok(clerk.run("prove", "eo-1", "-o", "p.tlog-proof"))
    file, proof, key = str(clerk.docs[1]), "p.tlog-proof", str(clerk.vkey)
    if case == "wrong-file":
        file = str(clerk.forged)
    elif case == "wrong-key":
        key = Signer.generate(ORIGIN).verifier().to_string()
    elif case == "missing-proof":
        proof = "missing.tlog-proof"
    elif case == "missing-file":
        file = "missing.txt"
    elif case == "key-is-garbage":
        (tmp_path / "garbage.vkey").write_text("garbage+1234+@@@\n")
        key = str(tmp_path / "garbage.vkey")
    elif case == "proof-is-a-directory":
        proof = str(tmp_path)
    line = one_line_error(clerk.run("verify-proof", file, proof, "--trusted-key", key))
    if case == "wrong-file":
        assert "expected sha256:" in line


# -- consistency -------------------------------------------------------------------------------


def test_consistency(clerk: Clerk) -> None:
    clerk.archive.release(clerk.signer)
    out = ok(clerk.run("consistency", "3"))
    lines = out.splitlines()
    assert lines[0].startswith("# example.gov/orders: release 3 -> release 4, 3 hashes")
    assert len(lines) == 3 + 3
    doc = json.loads(ok(clerk.run("--json", "consistency", "3", "4")))
    assert (doc["old_size"], doc["new_size"], len(doc["proof"])) == (3, 4, 3)
    assert doc["proof"] == lines[3:]


@pytest.mark.parametrize("args", [["x"], ["3", "4x"], ["2"], ["3", "99"], ["1" * 30], ["٣"]])
def test_consistency_bad_input(args: list[str], clerk: Clerk) -> None:
    one_line_error(clerk.run("consistency", *args), 2)


# -- verify --since and the remembered checkpoint ----------------------------------------------


def test_verify_since_and_fork(clerk: Clerk, tmp_path: Path) -> None:
    since = tmp_path / "seen.checkpoint"
    since.write_bytes(clerk.archive.release_note(3))
    clerk.archive.release(clerk.signer)
    out = ok(clerk.run("verify", "--since", str(since)))
    assert "extends the checkpoint in" in out and "3 -> 4" in out
    out = ok(clerk.run("verify"))
    assert "first check of example.gov/orders" in out
    # Another history of the same log, signed by the same key: a fork.
    fork = tmp_path / "fork"
    other = Archive.init(fork, ORIGIN)
    other.add([text_request(i, body=f"Other text {i}.\n") for i in range(5)], clerk.signer)
    other.release(clerk.signer)
    r = CliRunner().invoke(cli, ["--archive", str(fork), "--keys", str(clerk.keys), "verify"])
    assert r.exit_code == 1
    assert "FAIL the checkpoint seen before: FORK" in r.stdout
    evidence = Path(r.stdout.split("kept in ")[1].split()[0])
    assert (evidence / "old.checkpoint").read_bytes() == clerk.archive.release_note(4)
    new_note = (evidence / "new.checkpoint").read_bytes()
    new_cp, _ = open_checkpoint(new_note, [clerk.signer.verifier()])
    assert (new_cp.size, new_cp.root_hash) == (5, other.tree_hash(5))
    r = CliRunner().invoke(cli, ["--archive", str(fork), "--keys", str(clerk.keys), "--json",
                                 "verify"])
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["history"]["evidence"]
    assert [p["code"] for p in doc["problems"]] == ["fork"]


@pytest.mark.parametrize("case", ["missing", "garbage", "other-key", "directory"])
def test_verify_since_bad_file(case: str, clerk: Clerk, tmp_path: Path) -> None:
    since = tmp_path / "since"
    if case == "garbage":
        since.write_bytes(b"\x00garbage")
    elif case == "other-key":
        stranger = Signer.generate(ORIGIN)
        other = Archive.init(tmp_path / "other", ORIGIN)
        other.add([text_request(0)], stranger)
        since.write_bytes(other.head().note or b"")
    elif case == "directory":
        since = tmp_path
    r = clerk.run("verify", "--since", str(since))
    assert r.exit_code in (1, 2) and "Traceback" not in r.output
    if case in ("missing", "directory"):
        one_line_error(r, 2)
    else:
        assert "FAIL" in r.stdout


# -- minisign, checked by the real minisign binary ---------------------------------------------


def minisign_verify(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need_tool("minisign"), "-V", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)


def run(*args: str, cwd: Path, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orderarchive", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=120, env={**os.environ, **(env or {})},
                          check=False)


def test_stock_minisign_verifies_the_official_file(clerk: Clerk, tmp_path: Path) -> None:
    need_tool("minisign")
    r = run("export-sig", "eo-1", "--key", str(clerk.secret), "-o", "eo-1.minisig", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("key", "export", "--minisign", "-o", "key.pub", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    shutil.rmtree(clerk.archive_path)  # minisign needs only the file, signature and key
    m = minisign_verify("-m", str(clerk.docs[1]), "-x", "eo-1.minisig", "-p", "key.pub",
                        cwd=tmp_path)
    assert m.returncode == 0, m.stderr
    assert "Signature and comment signature verified" in m.stdout
    assert "orderarchive doc:eo-1 sha256:" in m.stdout and f"origin:{ORIGIN}" in m.stdout
    m = minisign_verify("-m", str(clerk.forged), "-x", "eo-1.minisig", "-p", "key.pub",
                        cwd=tmp_path)
    assert m.returncode != 0


def test_export_sig_next_to_the_file_with_an_encrypted_key(clerk: Clerk, tmp_path: Path) -> None:
    need_tool("minisign")
    sealed = tmp_path / "sealed.key"
    sealed.write_bytes(seal(clerk.signer, "correct horse", opslimit=1, memlimit=8192).to_bytes())
    sealed.chmod(0o600)
    env = {"ORDERARCHIVE_KEY": str(sealed), "ORDERARCHIVE_PASSPHRASE": "correct horse"}
    r = run("export-sig", str(clerk.docs[2]), cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert Path(f"{clerk.docs[2]}.minisig").is_file()
    # The public half is read from the private key file without its passphrase.
    r = run("--keys", "nowhere", "key", "export", "--minisign", "--key", str(sealed),
            "-o", "pub", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    m = minisign_verify("-m", str(clerk.docs[2]), "-p", "pub", cwd=tmp_path)
    assert m.returncode == 0, m.stderr
    r = run("export-sig", "eo-2", cwd=tmp_path, env={**env, "ORDERARCHIVE_PASSPHRASE": "wrong"})
    assert r.returncode == 2 and r.stderr.startswith("error: wrong passphrase")


def test_key_export_formats(clerk: Clerk) -> None:
    out = ok(clerk.run("key", "export"))
    assert out == clerk.signer.verifier().to_string() + "\n"
    out = ok(clerk.run("key", "export", "--minisign"))
    assert out.startswith("untrusted comment: minisign public key ")
    assert out.splitlines()[1].startswith("RW")  # base64 of "Ed"


@pytest.mark.parametrize("case", ["unreleased", "no-key", "wrong-key", "garbage-key",
                                  "unknown-doc", "unwritable-output"])
def test_export_sig_bad_input(case: str, clerk: Clerk, tmp_path: Path) -> None:
    args = ["export-sig", "eo-1", "--key", str(clerk.secret)]
    if case == "unreleased":
        args[1] = "eo-3"
    elif case == "no-key":
        args = ["export-sig", "eo-1"]
    elif case == "wrong-key":
        other = tmp_path / "other.key"
        other.write_bytes(seal(Signer.generate(ORIGIN), None).to_bytes())
        other.chmod(0o600)
        args[-1] = str(other)
    elif case == "garbage-key":
        (tmp_path / "garbage.key").write_text("garbage")
        args[-1] = str(tmp_path / "garbage.key")
    elif case == "unknown-doc":
        args[1] = "eo-99"
    elif case == "unwritable-output":
        args += ["-o", str(tmp_path / "no" / "such" / "dir" / "x.minisig")]
    one_line_error(clerk.run(*args))


@pytest.mark.parametrize("case", ["two-keys", "garbage-key", "missing-key"])
def test_key_export_bad_input(case: str, clerk: Clerk, tmp_path: Path) -> None:
    args = ["key", "export", "--minisign"]
    if case == "two-keys":
        (clerk.keys / "second.vkey").write_text(
            Signer.generate(ORIGIN).verifier().to_string() + "\n")
    elif case == "garbage-key":
        (tmp_path / "g.key").write_text("garbage")
        args += ["--key", str(tmp_path / "g.key")]
    elif case == "missing-key":
        args += ["--key", str(tmp_path / "missing.key")]
    one_line_error(clerk.run(*args), 2)
