"""Debian's nginx serving a published site on a loopback port, with the server block that
``orderarchive publish --nginx-conf`` writes; everything nginx writes (pid, logs, temporary
files) stays in a temporary directory, so it runs without root."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from conftest import need_tool
from orderarchive.site import nginx_conf

_MAIN = """\
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/server.conf;
}}
"""


def nginx_bin() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    return found or need_tool("nginx")


def _free_port() -> int:
    # nginx cannot listen on port 0 (and crashes on an inherited socket without a master
    # process): the OS picks a free port, which nginx then binds; a lost race is retried.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path) -> bool:
    for _ in range(200):
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (http to loopback)
                return True
        except urllib.error.HTTPError:
            return True
        except (OSError, urllib.error.URLError):
            time.sleep(0.025)
    raise AssertionError(f"nginx did not answer: {log.read_text(errors='replace')[-2000:]}")


@contextlib.contextmanager
def serve(site: Path, tmp: Path) -> Iterator[str]:
    """Serve *site* with nginx on 127.0.0.1; yields the base URL (no trailing slash)."""
    binary = nginx_bin()
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "main.conf").write_text(_MAIN.format(tmp=tmp))
    for _attempt in range(5):
        port = _free_port()
        (tmp / "server.conf").write_text(nginx_conf(site.resolve(), listen=f"127.0.0.1:{port}"))
        proc = subprocess.Popen(
            [binary, "-p", str(tmp), "-c", str(tmp / "main.conf"), "-e", str(tmp / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            if not _wait(url + "/", proc, tmp / "error.log"):
                continue  # the port was taken meanwhile: another one
            yield url
            return
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    raise AssertionError(f"nginx would not start: {(tmp / 'error.log').read_text()[-2000:]}")
