"""verify URL --full: every entry and every object of a published site fetched and checked;
the default still says what it did not fetch."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from _httpsite import serve
from orderarchive.archive import Archive
from orderarchive.cli import cli
from orderarchive.errors import RemoteError, VerificationError
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.tiles import TileMismatchError
from orderarchive.publish import publish
from orderarchive.remote import verify_remote

REPO = Path(__file__).resolve().parents[1]
VKEY = REPO / "keys" / "sample.orderarchive.example_boston-executive-orders.vkey"


def _objects(archive: Archive, size: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for seq in range(size):
        d = archive.entry(seq).document
        assert d is not None
        out[d.sha256] = d.size
        if d.text is not None:
            out[d.text.sha256] = d.text.size
    return out


@pytest.fixture
def site(tmp_path: Path, make_archive: Callable[..., Archive],
         verifiers: list[VerifierKey]) -> tuple[Archive, Path]:
    archive = make_archive(300)
    publish(archive, tmp_path / "site", verifiers)
    return archive, tmp_path / "site"


def test_full_checks_every_entry_and_object(site: tuple[Archive, Path], tmp_path: Path,
                                            verifiers: list[VerifierKey]) -> None:
    archive, root = site
    objects = _objects(archive, 300)
    with serve(root) as served:
        light = verify_remote(served.url, verifiers, state=tmp_path / "s")
        assert light["full"] is None
        served.paths.clear()
        full = verify_remote(served.url, verifiers, state=tmp_path / "s", full=True)
    assert full["full"] == {"entries": 300, "documents": 300, "objects": len(objects),
                            "object_bytes": sum(objects.values())}
    fetched = [p for p in served.paths if p.startswith("/objects/")]
    assert sorted(fetched) == sorted(f"/objects/sha256/{s[:2]}/{s[2:]}" for s in objects)
    # each bundle once (2 for 300 entries), each tile once: not a request per entry
    assert len([p for p in served.paths if p.startswith("/tile/entries/")]) == 2
    assert len(served.paths) <= len(objects) + 2 + 10 + 5


def test_full_refuses_a_damaged_object_or_entry(tmp_path: Path, verifiers: list[VerifierKey],
                                                make_archive: Callable[..., Archive]) -> None:
    archive, root = make_archive(40), tmp_path / "site"
    publish(archive, root, verifiers)
    d = archive.entry(23).document
    assert d is not None
    obj = root / "objects/sha256" / d.sha256[:2] / d.sha256[2:]
    good = obj.read_bytes()
    with serve(root) as served:
        obj.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
        # the default does not fetch objects: it passes, and says so ("full": None)
        assert verify_remote(served.url, verifiers, state=tmp_path / "s")["full"] is None
        with pytest.raises(VerificationError, match=r"1 of \d+ objects failed"):
            verify_remote(served.url, verifiers, state=tmp_path / "s", full=True)
        obj.unlink()
        with pytest.raises(RemoteError, match="not on the server"):
            verify_remote(served.url, verifiers, state=tmp_path / "s", full=True)
        obj.write_bytes(good)
        bundle = root / "tile/entries/000.p/40"
        data = bundle.read_bytes()
        at = data.index(b"eo-30")
        bundle.write_bytes(data[:at] + b"eo-31" + data[at + 5:])
        with pytest.raises(TileMismatchError):
            verify_remote(served.url, verifiers, state=tmp_path / "s", full=True)
        bundle.write_bytes(data)
        assert verify_remote(served.url, verifiers, state=tmp_path / "s",
                             full=True)["full"]["entries"] == 40


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["--keys", str(REPO / "keys"), *map(str, args)])


def test_cli_verify_url_full(tmp_path: Path) -> None:
    shutil.copytree(REPO / "archive", tmp_path / "archive",
                    ignore=shutil.ignore_patterns("index.sqlite*", "lock", "index.lock"))
    r = _run("--archive", tmp_path / "archive", "publish", tmp_path / "site")
    assert r.exit_code == 0, r.output
    with serve(tmp_path / "site") as served:
        r = _run("verify", served.url)
        assert r.exit_code == 0 and "not fetched: the entries' signatures" in r.stdout, r.output
        r = _run("verify", served.url, "--full")
        assert r.exit_code == 0, r.output
        assert "fetched and checked: 4 entries" in r.stdout and "not fetched" not in r.stdout
        obj = next(p for p in (tmp_path / "site/objects").rglob("*") if p.is_file())
        data = obj.read_bytes()
        obj.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
        r = _run("verify", served.url, "--full")
        assert r.exit_code == 1 and "objects failed the check" in r.stderr, r.output
    # with a directory, --full is the full re-check of issue 15 (test_verify_incremental.py)
    r = _run("--archive", tmp_path / "archive", "verify", "--full")
    assert r.exit_code == 0, r.output


def test_mirror_is_a_complete_site_whose_trust_is_its_own(tmp_path: Path) -> None:
    """mirror copies the pages and writes the verify page, scripts, trust file and keys/
    itself (from the keys it verified with): a site's planted script or key is not copied."""
    shutil.copytree(REPO / "archive", tmp_path / "archive",
                    ignore=shutil.ignore_patterns("index.sqlite*", "lock", "index.lock"))
    site, copy = tmp_path / "site", tmp_path / "mirror"
    r = _run("--archive", tmp_path / "archive", "publish", site, "--key-file", VKEY)
    assert r.exit_code == 0, r.output
    with serve(site) as served:
        r = _run("mirror", served.url, copy)
        assert r.exit_code == 0 and "pages copied" in r.stdout, r.output
    published = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    mirrored = {p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()}
    assert published == mirrored
    for name in published:
        assert (copy / name).read_bytes() == (site / name).read_bytes(), name
    # The mirror serves as a site: checked over HTTP like the original.
    with serve(copy) as served:
        r = _run("--archive", served.url, "check", REPO / "docs/sample/sources" /
                 "boston-eo-2026-02-05-SPECIMEN.pdf")
        assert r.exit_code == 0 and r.stdout.startswith("OFFICIAL"), r.output
    # A site that plants a script, another key and a page name outside doc/.
    hostile = tmp_path / "hostile"
    shutil.copytree(site, hostile)
    (hostile / "verify.js").write_text("verdict('OFFICIAL')\n")
    other = Signer(name="sample.orderarchive.example/boston-executive-orders", seed=bytes(32))
    (hostile / "trust.json").write_text(
        '{"format":"orderarchive-site-trust/v1","origin":"x","verifiers":["'
        + str(other.verifier()) + '"]}\n')
    with serve(hostile) as served:
        r = _run("mirror", served.url, tmp_path / "m2")
        assert r.exit_code == 0, r.output
        assert (tmp_path / "m2/verify.js").read_bytes() == (site / "verify.js").read_bytes()
        assert (tmp_path / "m2/trust.json").read_bytes() == (site / "trust.json").read_bytes()
        index = hostile / "search-index.json"
        index.write_text(index.read_text().replace('"doc":"boston-eo-2026-02-05-specimen"',
                                                   '"doc":"../../etc/passwd"', 1))
        r = _run("mirror", served.url, tmp_path / "m3")
        assert r.exit_code == 2 and "not a document id" in r.stderr, r.output
        assert not (tmp_path / "m3/checkpoint").exists()
