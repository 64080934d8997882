"""A published site served on loopback (port chosen by the OS), counting what it serves."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Served:
    def __init__(self, url: str) -> None:
        self.url = url
        self.paths: list[str] = []
        self.bytes = 0


@contextmanager
def serve(root: Path) -> Iterator[Served]:
    served: Served

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            served.paths.append(self.path)
            path = Path(self.translate_path(self.path))
            if path.is_file():
                served.bytes += path.stat().st_size
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(Handler, directory=str(root)))
    served = Served(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
