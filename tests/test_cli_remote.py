"""The CLI over HTTP: verify URL, check/prove --archive URL, mirror; publish's bad inputs.
Every outcome with its exit code: 0 official, 1 failed or not official, 2 bad input, 3 the
site cannot be read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from _httpsite import serve
from orderarchive.cli import cli
from orderarchive.log.note import Signer

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "docs" / "sample" / "sources"
ORDER = SOURCES / "boston-eo-2026-02-05-SPECIMEN.pdf"
VKEY = REPO / "keys" / "sample.orderarchive.example_boston-executive-orders.vkey"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["--keys", str(REPO / "keys"), *map(str, args)])


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "archive", tmp_path / "archive",
                    ignore=shutil.ignore_patterns("index.sqlite*", "lock", "index.lock"))
    r = run("--archive", tmp_path / "archive", "publish", tmp_path / "site", "--key-file", VKEY)
    assert r.exit_code == 0, r.output
    return tmp_path / "site"


def test_check_prove_verify_over_http(site: Path, tmp_path: Path) -> None:
    altered = tmp_path / "altered.pdf"
    altered.write_bytes(ORDER.read_bytes().replace(b"Boston", b"Bostin", 1))
    with serve(site) as served:
        r = run("--archive", served.url, "check", ORDER)
        assert r.exit_code == 0 and r.stdout.startswith("OFFICIAL"), r.output
        assert "inclusion proof from the tiles" in r.stdout
        r = run("--archive", served.url, "check", "-q", ORDER, altered)
        assert r.exit_code == 1 and r.stdout.splitlines() == [
            f"official {ORDER}", f"same-text {altered}"], r.output
        r = run("verify", served.url)
        assert r.exit_code == 0 and "its tiles reproduce the signed root" in r.stdout, r.output
        # what verify URL did not check is said, not implied
        assert "not fetched: the entries' signatures and the documents" in r.stdout, r.output
        r = run("--archive", served.url, "verify", "-q")
        assert r.exit_code == 0 and r.stdout == "verified\n", r.output
        proof = tmp_path / "order.tlog-proof"
        r = run("--archive", served.url, "prove", "boston-eo-2026-02-05-specimen", "-o", proof)
        assert r.exit_code == 0, r.output
        r = run("verify-proof", ORDER, proof, "--trusted-key", VKEY)
        assert r.exit_code == 0 and "OFFICIAL" in r.stdout, r.output
        # A tampered tile: a failed verification (1), never official.
        tile = site / "tile/0/000.p/4"
        tile.write_bytes(bytes([tile.read_bytes()[0] ^ 1]) + tile.read_bytes()[1:])
        r = run("--archive", served.url, "check", "-q", ORDER)
        assert r.exit_code == 1 and r.stdout == f"failed {ORDER}\n", r.output
        r = run("verify", served.url)
        assert r.exit_code == 1 and "do not reproduce the signed root" in r.stderr, r.output


def test_bad_input_and_unreadable_sites(site: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.vkey"
    other.write_text(Signer(name="example.gov/other", seed=bytes(32)).verifier().to_string())
    with serve(site) as served:
        r = run("verify", served.url, "--trusted-key", other)
        assert r.exit_code == 2 and "no trusted key is for the site's origin" in r.stderr
        r = run("--archive", served.url, "list")
        assert r.exit_code == 2 and "reads an archive directory" in r.stderr
        r = run("--archive", served.url, "prove", "no-such-doc")
        assert r.exit_code == 2 and "lists no document" in r.stderr
    r = run("verify", "http://127.0.0.1:9", "--no-objects")
    assert r.exit_code == 2 and "apply to an archive directory" in r.stderr
    for url in ["http://", "http://example.org/site?x=1"]:
        r = run("verify", url)
        assert r.exit_code == 2, (url, r.output)
    r = run("verify", "http://127.0.0.1:9")
    assert r.exit_code == 3 and "cannot reach" in r.stderr
    r = run("mirror", "http://127.0.0.1:9", tmp_path / "m")
    assert r.exit_code == 3 and not (tmp_path / "m" / "checkpoint").exists()


def test_init_does_not_take_a_url_for_a_directory(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = run("--archive", "http://127.0.0.1:9/site", "init", "--origin", "example.gov/x")
    assert r.exit_code == 2 and "reads an archive directory" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_publish_bad_inputs(tmp_path: Path) -> None:
    shutil.copytree(REPO / "archive", tmp_path / "archive",
                    ignore=shutil.ignore_patterns("index.sqlite*", "lock", "index.lock"))
    (tmp_path / "afile").write_text("x")
    r = run("--archive", tmp_path / "archive", "publish", tmp_path / "afile")
    assert r.exit_code == 2 and "not a directory" in r.stderr, r.output
    (tmp_path / "notakey").write_text("x\n")
    r = run("--archive", tmp_path / "archive", "publish", tmp_path / "s",
            "--key-file", tmp_path / "notakey")
    assert r.exit_code == 2 and not (tmp_path / "s" / "checkpoint").exists(), r.output
    r = run("--archive", tmp_path / "nowhere", "publish", tmp_path / "s")
    assert r.exit_code == 3


def test_an_interrupted_mirror_resumes(site: Path, tmp_path: Path) -> None:
    # An object the server cannot serve stops the mirror before its checkpoint; once it
    # is back, the mirror completes without fetching again what it already checked.
    objects = sorted(p for p in site.rglob("objects/sha256/*/*") if p.is_file())
    hidden = objects[-1]
    saved = hidden.read_bytes()
    hidden.unlink()
    copy = tmp_path / "mirror"
    with serve(site) as served:
        r = run("mirror", served.url, copy)
        assert r.exit_code == 3 and not (copy / "checkpoint").exists(), r.output
        assert "is not on the server" in r.stderr
        missing = sorted("/" + p.relative_to(site).as_posix() for p in objects
                         if not (copy / p.relative_to(site)).exists())
        # every object that did arrive is kept: only the one the server could not serve is left
        assert missing == ["/" + hidden.relative_to(site).as_posix()]
        # A damaged object the first run left is fetched again and replaced.
        damaged = next(copy / p.relative_to(site) for p in objects
                       if (copy / p.relative_to(site)).exists())
        damaged.write_bytes(b"damaged")
        missing = sorted([*missing, "/" + damaged.relative_to(copy).as_posix()])
        hidden.write_bytes(saved)
        served.paths.clear()
        r = run("--json", "mirror", served.url, copy)
        assert r.exit_code == 0, r.output
        fetched = [p for p in served.paths if p.startswith("/objects/")]
        assert sorted(fetched) == missing
    # the log is mirrored byte for byte (the pages too: test_remote_full.py)
    log = ("checkpoint", "tile/", "releases/", "objects/", "lookup/")
    for p in site.rglob("*"):
        if p.is_file() and p.relative_to(site).as_posix().startswith(log):
            assert (copy / p.relative_to(site)).read_bytes() == p.read_bytes()
