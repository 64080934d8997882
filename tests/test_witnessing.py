"""Clerk and verifier sides of witnessing, through the CLI against a witness running on
loopback HTTP: release/add send checkpoints and keep cosignatures, 409 is resent from the
reported size, too few cosignatures is an error; verify, check, verify-proof and
verify-evidence require the user's policy; and the split view of issue 17's "Done when"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import ORIGIN, ok, one_line_error, text_request
from orderarchive.archive import Archive
from orderarchive.cli import cli
from orderarchive.log.cosignature import Cosigner
from orderarchive.log.keys import seal
from orderarchive.log.note import SignedNote, Signer
from orderarchive.log.witness import Witness, WitnessState
from orderarchive.log.witness_http import WitnessServer, make_server


@pytest.fixture
def cosigner() -> Cosigner:
    return Cosigner("witness.example/w1", bytes([6]) * 32)


@pytest.fixture
def witness(tmp_path: Path, signer: Signer, cosigner: Cosigner) -> Iterator[WitnessServer]:
    state = WitnessState(tmp_path / "witness.sqlite")
    state.add_log(ORIGIN, signer.verifier())
    srv = make_server(Witness(cosigner, state), port=0)
    srv.serve_in_thread()
    yield srv
    srv.shutdown()
    srv.server_close()


class Publisher:
    """One view of the log ORIGIN: an archive, the clerk's key and witness file."""

    def __init__(self, root: Path, signer: Signer, witness_file: Path, docs: range) -> None:
        root.mkdir()
        self.root = root
        self.archive_path = root / "archive"
        self.archive = Archive.init(self.archive_path, ORIGIN)
        self.keys = root / "keys"
        self.keys.mkdir()
        (self.keys / "origin.vkey").write_text(f"{signer.verifier()}\n")
        self.secret = root / "clerk.key"
        self.secret.write_bytes(seal(signer, None).to_bytes())
        self.secret.chmod(0o600)
        self.witness_file = witness_file
        self.docs = []
        for i in docs:
            path = root / f"order-{i}.txt"
            path.write_bytes(text_request(i).data)
            self.docs.append(path)

    def run(self, *args: str) -> Result:
        base = ["--archive", str(self.archive_path), "--keys", str(self.keys)]
        return CliRunner().invoke(cli, [*base, *args])

    def add(self, *paths: Path) -> Result:
        return self.run("add", *map(str, paths), "--key", str(self.secret),
                        "--witnesses", str(self.witness_file))

    def release(self) -> Result:
        return self.run("release", "--key", str(self.secret), "--witnesses",
                        str(self.witness_file))


@pytest.fixture
def files(tmp_path: Path, witness: WitnessServer, cosigner: Cosigner) -> tuple[Path, Path]:
    clerk_file = tmp_path / "witnesses.txt"
    clerk_file.write_text(f"witness {cosigner.verifier()} {witness.url}\nquorum 1\n")
    policy = tmp_path / "policy.txt"
    policy.write_text(f"# my witnesses\nwitness {cosigner.verifier()}\nquorum 1\n")
    return clerk_file, policy


def test_release_sends_to_the_witness_and_keeps_the_cosignature(
    tmp_path: Path, signer: Signer, files: tuple[Path, Path], witness: WitnessServer
) -> None:
    clerk_file, policy = files
    pub = Publisher(tmp_path / "pub", signer, clerk_file, range(3))
    ok(pub.add(*pub.docs[:2]))  # add sends its checkpoint (size 2)
    assert witness.witness.state.latest(ORIGIN)[0] == 2
    out = ok(pub.release())
    assert "cosigned by witness witness.example/w1: cosigned" in out
    kept = pub.archive_path / "cosignatures" / "2"
    assert sorted(p.name.split(".")[0] for p in kept.iterdir()) == ["checkpoint", "release"]
    release_note = (pub.archive_path / "releases" / "2").read_bytes()
    cosigned = (next(kept.glob("release.*"))).read_bytes()
    assert cosigned.startswith(release_note)  # the signed bytes are unchanged
    assert SignedNote.parse(cosigned).signatures[-1].name == "witness.example/w1"
    # verify (also: the new files are part of the format, not unknown files) and check
    out = ok(pub.run("verify", "--witness-policy", str(policy)))
    assert "release 2 cosigned by witness witness.example/w1" in out
    out = ok(pub.run("check", str(pub.docs[0]), "--witness-policy", str(policy)))
    assert "cosigned by witness witness.example/w1" in out
    # a proof and an evidence file carry the cosigned checkpoint: offline, with the policy
    proof = tmp_path / "eo-0.tlog-proof"
    ok(pub.run("prove", "order-0", "-o", str(proof)))
    key = str(pub.keys / "origin.vkey")
    out = ok(CliRunner().invoke(cli, ["verify-proof", str(pub.docs[0]), str(proof),
                                      "--trusted-key", key, "--witness-policy", str(policy)]))
    assert "cosigned by witness witness.example/w1" in out
    evidence = tmp_path / "eo-0.evidence"
    ok(pub.run("cite", "order-0", "-o", str(evidence)))
    r = CliRunner().invoke(cli, ["--json", "verify-evidence", str(evidence), "--trusted-key",
                                 key, "--witness-policy", str(policy)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["witnesses"]["cosigned_by"][0]["witness"] == "witness.example/w1"


def test_an_unwitnessed_archive_fails_every_policy_check(
    tmp_path: Path, signer: Signer, files: tuple[Path, Path]
) -> None:
    _clerk_file, policy = files
    pub = Publisher(tmp_path / "pub", signer, tmp_path / "none.txt", range(2))
    ok(pub.run("add", *map(str, pub.docs), "--key", str(pub.secret)))
    ok(pub.run("release", "--key", str(pub.secret)))
    ok(pub.run("verify"))
    r = pub.run("verify", "--witness-policy", str(policy))
    assert r.exit_code == 1 and "0 of the 1 witness cosignatures" in r.output
    msg = one_line_error(pub.run("check", str(pub.docs[0]), "--witness-policy", str(policy)), 1)
    assert "0 of the 1" in msg
    proof = tmp_path / "p"
    ok(pub.run("prove", "order-0", "-o", str(proof)))
    r = CliRunner().invoke(cli, ["verify-proof", str(pub.docs[0]), str(proof), "--trusted-key",
                                 str(pub.keys / "origin.vkey"), "--witness-policy", str(policy)])
    assert "0 of the 1" in one_line_error(r, 1)
    evidence = tmp_path / "e.json"
    ok(pub.run("cite", "order-0", "-o", str(evidence)))
    r = CliRunner().invoke(cli, ["verify-evidence", str(evidence), "--trusted-key",
                                 str(pub.keys / "origin.vkey"), "--witness-policy", str(policy)])
    assert "0 of the 1" in one_line_error(r, 1)


def test_split_view(tmp_path: Path, signer: Signer, files: tuple[Path, Path],
                    witness: WitnessServer) -> None:
    """Issue 17 "Done when": one origin, one log key, two histories shown to two readers. The
    witness cosigns the first and answers 409 to the second; a verifier with a 1-of-1 policy
    accepts the first view and refuses the second."""
    clerk_file, policy = files
    court = Publisher(tmp_path / "court", signer, clerk_file, range(3))
    press = Publisher(tmp_path / "press", signer, clerk_file, range(10, 13))
    ok(court.run("add", *map(str, court.docs), "--key", str(court.secret)))
    ok(court.release())
    ok(press.run("add", *map(str, press.docs), "--key", str(press.secret)))
    r = press.release()  # same size 3, another root: the witness has cosigned the court's
    assert r.exit_code == 1
    assert "NOT cosigned by witness witness.example/w1" in r.output
    assert "another tree of size 3" in r.output and "0 of the 1 required" in r.output
    assert not (press.archive_path / "cosignatures").exists()
    key = str(signer.verifier())
    results = {}
    for name, pub in (("court", court), ("press", press)):
        proof = tmp_path / f"{name}.tlog-proof"
        ok(pub.run("prove", pub.docs[0].stem, "-o", str(proof)))
        plain = CliRunner().invoke(cli, ["verify-proof", str(pub.docs[0]), str(proof),
                                         "--trusted-key", key])
        assert plain.exit_code == 0  # both are validly signed by the log key: the split view
        results[name] = CliRunner().invoke(
            cli, ["verify-proof", str(pub.docs[0]), str(proof), "--trusted-key", key,
                  "--witness-policy", str(policy)])
    assert results["court"].exit_code == 0, results["court"].output
    assert "0 of the 1" in one_line_error(results["press"], 1)
    # a larger forked view is refused too: the witness's 422 (or its size) is reported
    press.archive.add([text_request(20)], signer)
    r = press.release()
    assert r.exit_code == 1 and "fork" in r.output


def test_409_is_resent_from_the_size_the_witness_reports(
    tmp_path: Path, signer: Signer, files: tuple[Path, Path], witness: WitnessServer
) -> None:
    """The archive's kept files say the witness last cosigned nothing (they were lost), but
    it cosigned size 2: the clerk resends from 2 with the proof and succeeds."""
    clerk_file, _ = files
    pub = Publisher(tmp_path / "pub", signer, clerk_file, range(4))
    ok(pub.add(*pub.docs[:2]))
    for f in (pub.archive_path / "cosignatures").rglob("*.*"):
        f.unlink()
    sent: list[bytes] = []
    real = witness.witness.add_checkpoint

    def spy(body: bytes):  # type: ignore[no-untyped-def]
        sent.append(body.split(b"\n", 1)[0])
        return real(body)

    witness.witness.add_checkpoint = spy  # type: ignore[method-assign]
    ok(pub.add(*pub.docs[2:]))
    assert sent == [b"old 0", b"old 2"]
    assert witness.witness.state.latest(ORIGIN)[0] == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("witness {vkey}\n", "has no URL"),
        ("witness {vkey} http://127.0.0.1:1\nquorum 1\n", "did not answer"),
        ("nonsense\n", "expected"),
    ],
)
def test_bad_witness_files_and_unreachable_witnesses(
    tmp_path: Path, signer: Signer, cosigner: Cosigner, text: str, message: str
) -> None:
    wfile = tmp_path / "w.txt"
    wfile.write_text(text.format(vkey=cosigner.verifier()))
    pub = Publisher(tmp_path / "pub", signer, wfile, range(1))
    ok(pub.run("add", str(pub.docs[0]), "--key", str(pub.secret)))
    r = pub.release()
    assert r.exit_code in (1, 2) and message in r.output, r.output
    assert (pub.archive_path / "releases" / "1").exists()  # the release itself stands


def test_bad_policy_files_are_bad_input(tmp_path: Path, signer: Signer) -> None:
    pub = Publisher(tmp_path / "pub", signer, tmp_path / "none", range(1))
    ok(pub.run("add", str(pub.docs[0]), "--key", str(pub.secret)))
    ok(pub.run("release", "--key", str(pub.secret)))
    bad = tmp_path / "bad.txt"
    bad.write_text(f"witness {signer.verifier()}\n")  # a log key, not a witness key
    assert "not a cosignature key" in one_line_error(
        pub.run("verify", "--witness-policy", str(bad)), 2)
    assert "not found" in one_line_error(
        pub.run("check", str(pub.docs[0]), "--witness-policy", str(tmp_path / "missing")), 2)


@pytest.mark.parametrize("attack", ["forged-line", "other-checkpoints-line", "unknown-name"])
def test_kept_cosignature_files_are_untrusted(
    tmp_path: Path, signer: Signer, files: tuple[Path, Path], cosigner: Cosigner, attack: str
) -> None:
    """A hostile archive's cosignature files never make a checkpoint pass a policy: a forged
    line by the policy's witness, or its genuine line for another checkpoint, rejects it (one
    bad line by a known key rejects the note); a file the format does not name is not read."""
    _clerk_file, policy = files
    pub = Publisher(tmp_path / "pub", signer, tmp_path / "none", range(2))
    ok(pub.run("add", str(pub.docs[0]), "--key", str(pub.secret)))
    ok(pub.run("release", "--key", str(pub.secret)))
    ok(pub.run("add", str(pub.docs[1]), "--key", str(pub.secret)))
    ok(pub.run("release", "--key", str(pub.secret)))
    release2 = (pub.archive_path / "releases" / "2").read_bytes()
    text = SignedNote.parse(release2).text
    kid = cosigner.key_id.hex()
    (pub.archive_path / "cosignatures" / "2").mkdir(parents=True)
    target = pub.archive_path / "cosignatures" / "2" / f"release.{kid}"
    if attack == "forged-line":
        line = bytearray(cosigner.cosign(text, 1780000000).to_line().encode())
        line[-10] = ord("A") if line[-10] != ord("A") else ord("B")
        target.write_bytes(release2 + bytes(line))
    elif attack == "other-checkpoints-line":
        release1 = (pub.archive_path / "releases" / "1").read_bytes()
        other = cosigner.cosign(SignedNote.parse(release1).text, 1780000000).to_line()
        target.write_bytes(release2 + other.encode())
    else:
        good = cosigner.cosign(text, 1780000000).to_line().encode()
        target.with_name("stolen.note").write_bytes(release2 + good)
    r = pub.run("verify", "--witness-policy", str(policy))
    assert r.exit_code == 1
    assert ("0 of the 1" if attack == "unknown-name" else "invalid signature") in r.output
    if attack == "unknown-name":
        assert "unexpected file" in r.output  # the file itself is reported too


def test_add_and_release_answer_the_witness_report_in_json(
    tmp_path: Path, signer: Signer, files: tuple[Path, Path]
) -> None:
    clerk_file, _ = files
    pub = Publisher(tmp_path / "pub", signer, clerk_file, range(1))
    from referencing import Registry, Resource

    from test_json_schemas import SCHEMAS, validate

    registry = Registry().with_resources(
        (json.loads(p.read_text())["$id"], Resource.from_contents(json.loads(p.read_text())))
        for p in SCHEMAS.glob("*.schema.json"))
    r = pub.run("--json", "add", str(pub.docs[0]), "--key", str(pub.secret), "--witnesses",
                str(clerk_file))
    validate(registry, "add", json.loads(r.stdout))
    report = json.loads(ok(r))["witnesses"]
    assert (report["kind"], report["size"], report["ok"]) == ("checkpoint", 1, True)
    r = pub.run("--json", "release", "--key", str(pub.secret), "--witnesses", str(clerk_file))
    validate(registry, "release", json.loads(r.stdout))
    report = json.loads(ok(r))["witnesses"]
    r = pub.run("--json", "verify", "--witness-policy", str(files[1]))
    validate(registry, "verify", json.loads(ok(r)))
    assert report["kind"] == "release" and report["witnesses"][0]["cosigned"] is True


def test_add_with_a_witness_down_keeps_the_documents_and_says_so(
    tmp_path: Path, signer: Signer, cosigner: Cosigner
) -> None:
    wfile = tmp_path / "w.txt"
    wfile.write_text(f"witness {cosigner.verifier()} http://127.0.0.1:1\n")
    pub = Publisher(tmp_path / "pub", signer, wfile, range(1))
    r = pub.add(pub.docs[0])
    msg = one_line_error(r, 1)
    assert "checkpoint 1 is signed and stored" in msg and "the documents are added" in msg
    assert pub.archive.head().size == 1


def test_policy_checks_load_neither_the_archive_layer_nor_sqlite() -> None:
    """verify-proof and verify-evidence with --witness-policy need no archive (as without)."""
    import subprocess
    import sys

    script = ("import orderarchive.witnessing, orderarchive.log.cosignature, "
              "orderarchive.log.witness, sys; print(' '.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()
    for heavy in ("orderarchive.archive", "sqlite3", "click", "pypdf"):
        assert heavy not in out, heavy
