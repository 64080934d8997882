"""``publish --nginx-conf``: Debian's nginx, started with the server block it writes, serves
the immutable files as immutable, the checkpoint and pages as no-cache, with the right content
types, and archived documents only as downloads."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from _nginx import serve
from conftest import REPO, ok
from orderarchive.cli import cli

IMMUTABLE = "public, max-age=31536000, immutable"


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 (http to loopback)
            return r.status, dict(r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), b""


def test_nginx_serves_the_site_with_its_cache_rules(tmp_path: Path) -> None:
    site = tmp_path / "site"
    ok(CliRunner().invoke(cli, ["--archive", str(REPO / "archive"), "--keys", str(REPO / "keys"),
                                "publish", str(site), "--key-file",
                                str(next((REPO / "keys").glob("*.vkey")))]))
    sha = "cea7b8eb0c0d34aedc43476002410b7590975e79831453f47c98df955f481286"
    cases = {
        "/checkpoint": ("no-cache", "text/plain; charset=utf-8"),
        "/tile/0/000.p/4": (IMMUTABLE, "application/octet-stream"),
        "/tile/entries/000.p/4": (IMMUTABLE, "application/octet-stream"),
        "/releases/4": (IMMUTABLE, "text/plain; charset=utf-8"),
        f"/lookup/sha256/{sha[:2]}/{sha[2:]}": (IMMUTABLE, "text/plain; charset=utf-8"),
        f"/objects/sha256/{sha[:2]}/{sha[2:]}": (IMMUTABLE, "application/octet-stream"),
        "/keys/sample.orderarchive.example_boston-executive-orders.vkey":
            (IMMUTABLE, "text/plain; charset=utf-8"),
        "/": ("no-cache", "text/html; charset=utf-8"),
        "/index.html": ("no-cache", "text/html; charset=utf-8"),
        "/verify.html": ("no-cache", "text/html; charset=utf-8"),
        "/doc/boston-eo-2026-02-05-specimen.html": ("no-cache", "text/html; charset=utf-8"),
        "/verify.js": ("no-cache", "text/javascript; charset=utf-8"),
        "/style.css": ("no-cache", "text/css; charset=utf-8"),
        "/search-index.json": ("no-cache", "application/json; charset=utf-8"),
        "/trust.json": ("no-cache", "application/json; charset=utf-8"),
    }
    with serve(site, tmp_path / "nginx") as base:
        for path, (cache, ctype) in cases.items():
            status, headers, body = _get(base + path)
            assert status == 200, path
            assert headers.get("Cache-Control") == cache, (path, headers)
            assert headers.get("Content-Type") == ctype, (path, headers)
            assert headers.get("X-Content-Type-Options") == "nosniff", path
            local = site / ("index.html" if path == "/" else path.lstrip("/"))
            assert body == local.read_bytes(), path
        # an archived document is a download in a sandbox, never a page of the site's origin
        _, headers, _ = _get(f"{base}/objects/sha256/{sha[:2]}/{sha[2:]}")
        assert headers["Content-Disposition"] == "attachment"
        assert headers["Content-Security-Policy"].startswith("sandbox")
        # pages carry the site's script policy
        _, headers, _ = _get(base + "/verify.html")
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert _get(base + "/no-such-file")[0] == 404
        assert _get(base + "/tile/")[0] in (403, 404)  # no directory listings
