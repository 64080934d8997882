"""Checks over HTTP against a published site: check, prove, verify, mirror; hostile servers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from _httpsite import serve
from conftest import text_request
from orderarchive.archive import Archive
from orderarchive.errors import MalformedError, NotFoundError, SignatureError, VerificationError
from orderarchive.history import LogForkedError, LogRolledBackError
from orderarchive.log import merkle
from orderarchive.log.checkpoint import Checkpoint, sign_checkpoint
from orderarchive.log.entry import make_entry
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.tiles import Tile, TileMismatchError, entry_bundle, tile_data
from orderarchive.proofs import verify_proof
from orderarchive.publish import doc_lookup_path, publish, sha256_lookup_path
from orderarchive.remote import (
    HttpSite,
    RemoteError,
    check_remote,
    mirror,
    prove_remote,
    verify_remote,
)


def _doc(archive: Archive, seq: int) -> bytes:
    d = archive.entry(seq).document
    assert d is not None
    return archive.read_object(d.sha256, d.size)


@pytest.fixture
def site(tmp_path: Path, make_archive: Callable[..., Archive],
         verifiers: list[VerifierKey]) -> tuple[Archive, Path]:
    archive = make_archive(300)
    publish(archive, tmp_path / "site", verifiers)
    return archive, tmp_path / "site"


def test_check_official_altered_and_unknown(site: tuple[Archive, Path], tmp_path: Path,
                                            verifiers: list[VerifierKey]) -> None:
    archive, root = site
    state = tmp_path / "state"
    official = _doc(archive, 261)
    with serve(root) as served:
        result = check_remote(served.url, official, verifiers, state=state)
        assert result.official and result.entry is not None and result.entry.seq == 261
        assert result.to_dict()["doc"] == "eo-261"
        altered = check_remote(served.url, official.replace(b"City", b"Town"), verifiers,
                               state=state)
        # its text is compared, as the local check compares it (tests/test_remote_text.py)
        assert altered.status == "modified-copy" and altered.entry is not None
        assert altered.entry.seq == 261 and altered.text is not None
        by_hash = check_remote(served.url, official.replace(b"City", b"Town"), verifiers,
                               state=state, compare_text=False)
        assert by_hash.status == "not-official" and by_hash.entry is None
        assert "lists no document" in (by_hash.reason or "")


def test_a_lying_lookup_or_tampered_site_is_refused(site: tuple[Archive, Path], tmp_path: Path,
                                                     verifiers: list[VerifierKey]) -> None:
    archive, root = site
    state = tmp_path / "state"
    official = _doc(archive, 5)
    d = archive.entry(5).document
    assert d is not None
    lookup = root / sha256_lookup_path(d.sha256)
    with serve(root) as served:
        lookup.write_bytes(b"6\n")  # points at another document
        with pytest.raises(VerificationError, match="another document"):
            check_remote(served.url, official, verifiers, state=state)
        lookup.write_bytes(b"5\n")
        tile = root / "tile/0/000"
        good = tile.read_bytes()
        tile.write_bytes(good[:100] + bytes([good[100] ^ 1]) + good[101:])
        with pytest.raises(TileMismatchError):
            check_remote(served.url, official, verifiers, state=state)
        tile.write_bytes(good)
        bundle = root / "tile/entries/000"
        good = bundle.read_bytes()
        at = good.index(b"eo-5")
        bundle.write_bytes(good[:at] + b"eo-X" + good[at + 4:])
        with pytest.raises(VerificationError):
            check_remote(served.url, official, verifiers, state=state)
        bundle.write_bytes(good)
        cp = root / "checkpoint"
        good = cp.read_bytes()
        cp.write_bytes(good.replace(b"\n300\n", b"\n299\n"))
        with pytest.raises(VerificationError):
            check_remote(served.url, official, verifiers, state=state)
        cp.write_bytes(good)
        assert check_remote(served.url, official, verifiers, state=state).official


def test_no_trusted_key_or_another_key(site: tuple[Archive, Path], tmp_path: Path) -> None:
    _archive, root = site
    other = Signer(name="example.gov/orders", seed=bytes(32))
    with serve(root) as served:
        with pytest.raises(VerificationError):
            check_remote(served.url, b"x", [], state=tmp_path)
        with pytest.raises(SignatureError):
            check_remote(served.url, b"x", [other.verifier()], state=tmp_path)


def test_rollback_and_fork_over_http(tmp_path: Path, signer: Signer,
                                     verifiers: list[VerifierKey],
                                     make_archive: Callable[..., Archive]) -> None:
    state = tmp_path / "state"
    archive = make_archive(10)
    old_site, new_site = tmp_path / "old", tmp_path / "new"
    publish(archive, old_site, verifiers)
    archive.add([text_request(i) for i in range(10, 20)], signer)
    archive.release(signer)
    publish(archive, new_site, verifiers)
    with serve(new_site) as served:
        result = verify_remote(served.url, verifiers, state=state)
        assert result["size"] == 20 and result["releases"] == [10, 20]
        # A withheld or altered release on the chain is a failed verification.
        release = new_site / "releases/10"
        saved = release.read_bytes()
        release.unlink()
        with pytest.raises(VerificationError, match="withholds release 10"):
            verify_remote(served.url, verifiers, state=state)
        release.write_bytes(saved.replace(b"\n10\n", b"\n9\n"))
        with pytest.raises(VerificationError):
            verify_remote(served.url, verifiers, state=state)
        release.write_bytes(saved)
    with serve(old_site) as served, pytest.raises(LogRolledBackError):
        verify_remote(served.url, verifiers, state=state)
    # Another log under the same origin and key, larger: a fork of what was seen.
    other = make_archive(0)
    other.add([text_request(i, doc=f"x-{i}") for i in range(25)], signer)
    other.release(signer)
    publish(other, tmp_path / "fork", verifiers)
    with serve(tmp_path / "fork") as served, pytest.raises(LogForkedError):
        verify_remote(served.url, verifiers, state=state)
    assert list((state / "evidence").rglob("evidence.json"))


def test_prove_over_http(site: tuple[Archive, Path], tmp_path: Path,
                         verifiers: list[VerifierKey]) -> None:
    archive, root = site
    with serve(root) as served:
        proof = prove_remote(served.url, "eo-42", verifiers, state=tmp_path)
        verify_proof(_doc(archive, 42), proof, verifiers)
        d = archive.entry(7).document
        assert d is not None
        prove_remote(served.url, f"sha256:{d.sha256}", verifiers, state=tmp_path)
        with pytest.raises(NotFoundError):
            prove_remote(served.url, "eo-999", verifiers, state=tmp_path)
        with pytest.raises(NotFoundError):
            prove_remote(served.url, "../checkpoint", verifiers, state=tmp_path)


def test_mirror_pulls_only_what_is_new(tmp_path: Path, signer: Signer,
                                       verifiers: list[VerifierKey],
                                       make_archive: Callable[..., Archive]) -> None:
    archive = make_archive(300)
    root, copy = tmp_path / "site", tmp_path / "mirror"
    publish(archive, root, verifiers)
    with serve(root) as served:
        first = mirror(served.url, copy, verifiers, state=tmp_path / "s")
        files = {p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file()}
        published = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
        assert files == published
        for name in files:
            assert (copy / name).read_bytes() == (root / name).read_bytes(), name
        again = mirror(served.url, copy, verifiers, state=tmp_path / "s")
        assert again.written == () and again.requests == 1  # the checkpoint
        archive.add([text_request(i) for i in range(300, 310)], signer)
        archive.release(signer)
        publish(archive, root, verifiers)
        served.paths.clear()
        grown = mirror(served.url, copy, verifiers, state=tmp_path / "s")
    assert first.size == 300 and grown.old_size == 300 and grown.size == 310
    # Only the new entries' objects, the one bundle that changed, the new release.
    fetched = sorted(p for p in served.paths if p.startswith("/objects/"))
    expected = []
    for seq in range(300, 310):
        d = archive.entry(seq).document
        assert d is not None
        for sha in [d.sha256] + ([d.text.sha256] if d.text else []):
            expected.append(f"/objects/sha256/{sha[:2]}/{sha[2:]}")
    assert fetched == sorted(set(expected))
    assert [p for p in served.paths if p.startswith("/tile/entries/")] == [
        "/tile/entries/001.p/54"]
    assert not [p for p in served.paths if p.startswith("/tile/0/000")]
    assert grown.requests <= 10 + 20 + 5
    for name in {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}:
        assert (copy / name).read_bytes() == (root / name).read_bytes(), name


def test_mirror_refuses_a_site_that_does_not_extend_it(
        tmp_path: Path, signer: Signer, verifiers: list[VerifierKey],
        make_archive: Callable[..., Archive]) -> None:
    publish(make_archive(10), tmp_path / "a", verifiers)
    other = make_archive(0)
    other.add([text_request(i, doc=f"x-{i}") for i in range(12)], signer)
    other.release(signer)
    publish(other, tmp_path / "b", verifiers)
    with serve(tmp_path / "a") as served:
        mirror(served.url, tmp_path / "m", verifiers, state=tmp_path / "s1")
    before = (tmp_path / "m" / "checkpoint").read_bytes()
    with serve(tmp_path / "b") as served, pytest.raises(TileMismatchError):
        mirror(served.url, tmp_path / "m", verifiers, state=tmp_path / "s2")
    assert (tmp_path / "m" / "checkpoint").read_bytes() == before


# -- hostile servers ---------------------------------------------------------------------------


@contextmanager
def hostile(body: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            with suppress(BrokenPipeError, ConnectionResetError):
                body(self)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = False  # server_close() waits for the handlers to end
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_oversized_answer_is_cut_off(verifiers: list[VerifierKey]) -> None:
    def big(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.end_headers()  # no Content-Length: the reader must count
        for _ in range(64):
            h.wfile.write(b"x" * 65536)

    with hostile(big) as url, pytest.raises(RemoteError, match="more than"):
        verify_remote(url, verifiers)


def test_a_declared_oversized_answer_is_not_read(verifiers: list[VerifierKey]) -> None:
    def declared(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(1 << 40))
        h.end_headers()

    with hostile(declared) as url, pytest.raises(RemoteError, match="more than"):
        verify_remote(url, verifiers)


def test_a_trickling_server_is_cut_off(verifiers: list[VerifierKey]) -> None:
    stop = threading.Event()

    def trickle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.end_headers()
        while not stop.is_set():
            h.wfile.write(b"x")
            h.wfile.flush()
            time.sleep(0.05)

    with hostile(trickle) as url:
        try:
            with pytest.raises(RemoteError, match="took more than"):
                check_remote(url, b"x", verifiers, timeout=0.5)
        finally:
            stop.set()


def test_a_server_trickling_its_headers_is_cut_off(verifiers: list[VerifierKey]) -> None:
    stop = threading.Event()

    def headers(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.0 200 OK\r\n")
        while not stop.is_set():
            h.wfile.write(b"X")
            h.wfile.flush()
            time.sleep(0.05)

    with hostile(headers) as url:
        try:
            with pytest.raises(RemoteError, match="took more than"):
                check_remote(url, b"x", verifiers, timeout=0.5)
        finally:
            stop.set()


def test_errors_and_bad_urls(verifiers: list[VerifierKey]) -> None:
    def status(h: BaseHTTPRequestHandler) -> None:
        h.send_response(500)
        h.end_headers()

    with hostile(status) as url, pytest.raises(RemoteError, match="HTTP 500"):
        verify_remote(url, verifiers)
    with hostile(lambda h: h.send_error(404)) as url, pytest.raises(RemoteError, match="404"):
        verify_remote(url, verifiers)
    for bad in ["ftp://example.org/x", "http://", "http://h/x?y=1", "file:///etc"]:
        with pytest.raises(MalformedError):
            HttpSite(bad)
    with pytest.raises(RemoteError, match="cannot"):
        verify_remote("http://127.0.0.1:9/", verifiers)


# -- a large log: requests are O(log n) --------------------------------------------------------


def test_check_of_a_100k_entry_log_needs_a_few_requests(tmp_path: Path, signer: Signer,
                                                        verifiers: list[VerifierKey]) -> None:
    size, target = 100_000, 77_777
    data = b"the official text of order 77777\n"
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    fields = {"type": "document", "doc": "eo-77777", "kind": "executive-order",
              "title": "Order", "issuer": "City", "media_type": "text/plain",
              "size": len(data), "sha256": sha}
    real = make_entry(fields, seq=target, signer=signer, recorded="2026-01-01T00:00:00Z").raw
    raws = [b"filler %d" % i for i in range(size)]
    raws[target] = real
    store = merkle.MemoryHashStore(merkle.leaf_hash(r) for r in raws)
    root = merkle.tree_hash(size, store.read)
    note = sign_checkpoint(Checkpoint(signer.name, size, root), signer)
    served: list[str] = []

    def answer(h: BaseHTTPRequestHandler) -> None:
        path = h.path.lstrip("/")
        served.append(path)
        body: bytes | None = None
        if path == "checkpoint":
            body = note
        elif path == sha256_lookup_path(sha) or path == doc_lookup_path("eo-77777"):
            body = b"77777\n"
        elif path.startswith("tile/entries/"):
            n = int(path.split("/")[2].split(".")[0])
            body = entry_bundle(raws[n * 256:(n + 1) * 256])
        elif path.startswith("tile/"):
            body = tile_data(Tile.parse(path), store.read)
        if body is None:
            h.send_error(404)
            return
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    with hostile(answer) as url:
        result = check_remote(url, data, verifiers, state=tmp_path)
    assert result.official and result.entry is not None and result.entry.seq == target
    assert result.requests == len(served) <= 12, served


def test_a_stale_checkpoint_reads_its_partial_tiles_from_the_full_ones(
        tmp_path: Path, signer: Signer, verifiers: list[VerifierKey],
        make_archive: Callable[..., Archive]) -> None:
    # A cache serving yesterday's checkpoint after the site grew: the partial tiles of that
    # tree were removed when their tiles filled; the client reads the full tiles' prefixes.
    archive = make_archive(300)
    root = tmp_path / "site"
    publish(archive, root, verifiers)
    stale = (root / "checkpoint").read_bytes()
    archive.add([text_request(i) for i in range(300, 520)], signer)
    archive.release(signer)
    publish(archive, root, verifiers)
    assert not (root / "tile/0/001.p").exists()
    (root / "checkpoint").write_bytes(stale)
    with serve(root) as served:
        result = check_remote(served.url, _doc(archive, 261), verifiers, state=tmp_path / "s")
    assert result.official and result.checkpoint.size == 300
    assert "/tile/0/001.p/44" in served.paths and "/tile/0/001" in served.paths
    assert "/tile/entries/001.p/44" in served.paths and "/tile/entries/001" in served.paths
