"""The witness on HTTP: ``POST <prefix>/add-checkpoint`` (c2sp.org/tlog-witness) and a page
listing what the witness has cosigned (``GET <prefix>/``, text; ``?json`` for JSON).

The standard library's :class:`http.server.ThreadingHTTPServer` carries it: one thread per
connection, HTTP/1.1 keep-alive, no new dependency. The witness's work per request is one
Ed25519 verification, one SQLite transaction with a synced commit and one signature, so the
server is not the bottleneck (docs/benchmarks.md measures it); the atomicity that matters is
SQLite's, not the server's. Bodies are bounded (:data:`~.witness.MAX_REQUEST_BYTES`) and must
come with a Content-Length (no chunked uploads).
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..errors import OrderArchiveError, WitnessUnreachableError
from .witness import MAX_REQUEST_BYTES, Response, Witness

__all__ = ["WitnessServer", "make_server", "post_add_checkpoint"]

_READ_TIMEOUT = 30  # seconds a client may take to send its request
_MAX_ANSWER_BYTES = 64 * 1024


class WitnessServer(ThreadingHTTPServer):
    """A threading HTTP server that answers for one :class:`Witness`."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], witness: Witness, prefix: str = "") -> None:
        super().__init__(address, _Handler)
        self.witness = witness
        self.prefix = prefix.rstrip("/")

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}{self.prefix}"

    def serve_in_thread(self) -> threading.Thread:
        """Serve on a daemon thread (tests, embedding); stop with :meth:`shutdown`."""
        thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        return thread


def make_server(witness: Witness, host: str = "127.0.0.1", port: int = 0,
                prefix: str = "") -> WitnessServer:
    """A :class:`WitnessServer` bound to *host*:*port* (0: a free port the OS picks)."""
    return WitnessServer((host, port), witness, prefix)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: WitnessServer
    timeout = _READ_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the witness's record is its database, not stderr."""

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def do_POST(self) -> None:
        if self.path != f"{self.server.prefix}/add-checkpoint":
            self._send(Response.text(404, "not found"))
            return
        length_text = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or length_text is None:
            self.close_connection = True
            self._send(Response.text(411, "a Content-Length is required"))
            return
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self.close_connection = True
            self._send(Response.text(413 if length > 0 else 400, "bad or too large body"))
            return
        body = self.rfile.read(length)
        try:
            response = self.server.witness.add_checkpoint(body)
        except OrderArchiveError as e:  # the database failed: nothing was cosigned
            response = Response.text(500, f"witness error: {e}")
        self._send(response)

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path not in (f"{self.server.prefix}/", self.server.prefix or "/"):
            self._send(Response.text(404, "not found"))
            return
        try:
            records = self.server.witness.state.cosigned()
        except OrderArchiveError as e:
            self._send(Response.text(500, f"witness error: {e}"))
            return
        key = str(self.server.witness.cosigner.verifier())
        if query == "json":
            doc = {"witness": key, "cosigned": [r.to_dict() for r in records]}
            body = json.dumps(doc, sort_keys=True).encode() + b"\n"
            self._send(Response(200, "application/json", body))
            return
        lines = [f"witness {key}", "# origin size root time (newest first)"]
        lines += [
            f"{r.origin} {r.size} {r.to_dict()['root']} {r.time}" for r in records
        ]
        self._send(Response.text(200, "\n".join(lines)))


def post_add_checkpoint(url: str, body: bytes, *, timeout: float = 30) -> Response:
    """POST *body* to ``<url>/add-checkpoint`` and return the witness's answer.

    Network failures become :class:`~.errors.WitnessUnreachableError`; the answer's body is
    bounded (a cosignature line is about 120 bytes; a witness may return several)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WitnessUnreachableError(f"witness URL {url!r} is not an http(s) URL")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(
            "POST",
            parts.path.rstrip("/") + "/add-checkpoint",
            body=body,
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        answer = conn.getresponse()
        data = answer.read(_MAX_ANSWER_BYTES + 1)
        content_type = answer.getheader("Content-Type", "")
    except (OSError, http.client.HTTPException) as e:
        raise WitnessUnreachableError(f"witness at {url} did not answer: {e}") from e
    finally:
        conn.close()
    if len(data) > _MAX_ANSWER_BYTES:
        raise WitnessUnreachableError(f"witness at {url} sent an oversized answer")
    return Response(answer.status, content_type, data)
