"""The witness commands: keygen (key sealed at rest), add-log, serve (a real process on a
port the OS picks), list; and each bad input as a one-line error with its exit code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ok, one_line_error
from orderarchive.cli import cli
from orderarchive.log.cosignature import Cosigner
from orderarchive.log.keys import SecretKeyFile
from orderarchive.log.note import Signer
from orderarchive.log.witness_http import post_add_checkpoint
from witnesslog import ScratchLog

LOG = "example.gov/orders-log"
PASSPHRASE = "a witness passphrase of some length"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sealed witness (Argon2id is slow on purpose), copied for each test."""
    root = tmp_path_factory.mktemp("witness")
    pw = root / "pass"
    pw.write_text(PASSPHRASE + "\n")
    d = root / "w"
    out = ok(CliRunner().invoke(cli, ["witness", "keygen", "witness.example/w1", "--dir", str(d),
                                      "--passphrase-file", str(pw)]))
    assert out.startswith("witness key: witness.example/w1+")
    return d


@pytest.fixture
def wdir(template: Path, tmp_path: Path) -> Path:
    (tmp_path / "pass").write_text(PASSPHRASE + "\n")
    shutil.copytree(template, tmp_path / "w")
    return tmp_path / "w"


def test_keygen_seals_the_key_and_writes_a_0x04_verifier_key(wdir: Path) -> None:
    sealed = SecretKeyFile.from_bytes((wdir / "witness.key").read_bytes())
    assert sealed.encrypted and (wdir / "witness.key").stat().st_mode & 0o077 == 0
    signer = sealed.unlock(PASSPHRASE)
    vkey = (wdir / "witness.vkey").read_text().strip()
    assert vkey == str(Cosigner(signer.name, signer.seed).verifier())
    assert "a witness passphrase" not in (wdir / "witness.key").read_text()
    # nothing is overwritten
    r = CliRunner().invoke(cli, ["witness", "keygen", "witness.example/w1", "--dir", str(wdir),
                                 "--unencrypted"])
    assert "refusing to overwrite" in one_line_error(r, 2)


def test_keygen_without_a_passphrase_is_refused(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["witness", "keygen", "w.example/x", "--dir", str(tmp_path / "w")])
    assert "passphrase" in one_line_error(r, 2)
    assert not (tmp_path / "w" / "witness.key").exists()


@pytest.mark.parametrize(
    ("origin", "key", "message"),
    [
        (LOG, "witness", "not an Ed25519 key named after the origin"),  # a 0x04 key
        ("example.gov/other", "log", "not an Ed25519 key named after the origin"),
        (LOG, "nonsense", "not found"),
    ],
)
def test_add_log_bad_input(wdir: Path, origin: str, key: str, message: str) -> None:
    keys = {"witness": (wdir / "witness.vkey").read_text().strip(),
            "log": str(Signer(LOG, bytes(32)).verifier()), "nonsense": "nonsense"}
    r = CliRunner().invoke(cli, ["witness", "add-log", origin, keys[key], "--dir", str(wdir)])
    assert message in one_line_error(r, 2)


def test_serve_needs_the_passphrase_and_a_host_port(wdir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_text("not the passphrase\n")
    r = CliRunner().invoke(cli, ["witness", "serve", "--dir", str(wdir), "--passphrase-file",
                                 str(bad), "--max-connections", "0"])
    assert "wrong passphrase" in one_line_error(r, 2)
    r = CliRunner().invoke(cli, ["witness", "serve", "--dir", str(wdir), "--listen", "x:y",
                                 "--passphrase-file", str(tmp_path / "pass")])
    assert "HOST:PORT" in one_line_error(r, 2)
    r = CliRunner().invoke(cli, ["witness", "list", "--dir", str(tmp_path / "none")])
    assert "no witness" in one_line_error(r, 3)


def test_serve_cosigns_over_http_and_list_shows_it(wdir: Path, tmp_path: Path) -> None:
    log = ScratchLog(Signer(LOG, bytes([3]) * 32))
    ok(CliRunner().invoke(cli, ["witness", "add-log", LOG, str(log.signer.verifier()),
                                "--dir", str(wdir)]))
    with subprocess.Popen(
        [sys.executable, "-m", "orderarchive", "witness", "serve", "--dir", str(wdir),
         "--passphrase-file", str(tmp_path / "pass"), "--max-connections", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            url = line.rsplit(" ", 1)[-1].strip()
            assert line.startswith("witness witness.example/w1+") and url.startswith("http://127.")
            first = post_add_checkpoint(url, log.request(0, 4))
            second = post_add_checkpoint(url, log.request(0, 6))  # stale: the witness is at 4
            assert (first.status, second.status, second.body) == (200, 409, b"4\n")
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    out = ok(CliRunner().invoke(cli, ["--json", "witness", "list", "--dir", str(wdir)]))
    assert [(c["origin"], c["size"]) for c in json.loads(out)["cosigned"]] == [(LOG, 4)]


def test_the_server_refuses_bodies_without_length_or_too_large(wdir: Path) -> None:
    import http.client

    from orderarchive.log.witness import MAX_REQUEST_BYTES, open_witness
    from orderarchive.log.witness_http import make_server

    srv = make_server(open_witness(wdir, PASSPHRASE))
    srv.serve_in_thread()
    try:
        host, port = srv.server_address[:2]
        for headers, expected in [({"Transfer-Encoding": "chunked"}, 411),
                                  ({"Content-Length": str(MAX_REQUEST_BYTES + 1)}, 413),
                                  ({"Content-Length": "-5"}, 400)]:
            conn = http.client.HTTPConnection(str(host), port, timeout=10)
            conn.putrequest("POST", "/add-checkpoint")
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders()
            assert conn.getresponse().status == expected
            conn.close()
        conn = http.client.HTTPConnection(str(host), port, timeout=10)
        conn.request("POST", "/elsewhere", body=b"x")
        assert conn.getresponse().status == 404
        conn.close()
    finally:
        srv.shutdown()
        srv.server_close()
