"""Shared fixtures. Every test runs with its own config/state directories."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from orderarchive.archive import AddRequest, Archive, document_fields
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.log.store import MemoryStore
from orderarchive.log.textlayer import TextLayer
from s3servers import (  # noqa: F401 (fixtures)
    moto_endpoint,
    rclone_endpoint,
    rgw_endpoint,
    s3_bucket_url,
    s3_env,
)

ORIGIN = "example.gov/orders"
REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"  # conformance vectors and seed articles: tests/data/README.md

# Stock tools the interoperability tests run. Without one, its tests skip with the reason
# below; .ci/run installs them all and sets ORDERARCHIVE_REQUIRE_TOOLS=1, under which a
# missing tool fails the tests instead (a CI image that lost one must not pass quietly).
REQUIRE_TOOLS_ENV = "ORDERARCHIVE_REQUIRE_TOOLS"
GOPATH = Path("/usr/share/gocode")  # Debian's golang-golang-x-mod-dev installs x/mod here
TOOLS = {
    "minisign": "minisign is not installed (apt-get install minisign)",
    "qpdf": "qpdf is not installed (apt-get install qpdf)",
    "go": "Go and golang.org/x/mod are not installed "
    "(apt-get install golang-go golang-golang-x-mod-dev)",
    "node": "Node.js is not installed (apt-get install nodejs npm)",
    "nginx": "nginx is not installed (apt-get install nginx-light)",
    "chromium": "Chromium is not installed (apt-get install chromium)",
}


def need_tool(name: str) -> str:
    """The path of the stock tool *name*; skip (or, under ORDERARCHIVE_REQUIRE_TOOLS=1, fail)
    the calling test when it is missing."""
    path = shutil.which(name)
    if name == "go" and not (GOPATH / "src/golang.org/x/mod/sumdb/tlog").is_dir():
        path = None
    if path is not None:
        return path
    reason = f"{TOOLS[name]}; .ci/run installs it"
    if os.environ.get(REQUIRE_TOOLS_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_TOOLS_ENV}=1: a missing tool is a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def minisign_bin() -> str:
    return need_tool("minisign")


@pytest.fixture(scope="session")
def qpdf_bin() -> str:
    return need_tool("qpdf")


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("ORDERARCHIVE_STATE_DIR", str(home / "state" / "orderarchive"))
    monkeypatch.setenv("ORDERARCHIVE_CACHE", str(home / "cache" / "orderarchive"))
    monkeypatch.delenv("ORDERARCHIVE_KEYS", raising=False)
    monkeypatch.delenv("ORDERARCHIVE_PASSPHRASE", raising=False)
    monkeypatch.delenv("ORDERARCHIVE_KEY", raising=False)
    monkeypatch.delenv("ORDERARCHIVE_ARCHIVE", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture
def signer() -> Signer:
    return Signer(name=ORIGIN, seed=bytes(range(32)))


@pytest.fixture
def verifiers(signer: Signer) -> list[VerifierKey]:
    return [signer.verifier()]


def text_request(
    n: int,
    *,
    doc: str | None = None,
    body: str | None = None,
    relations: tuple[tuple[str, str], ...] = (),
) -> AddRequest:
    text = body or f"Executive order number {n}.\n\nSection 1. The City shall act on item {n}.\n"
    data = text.encode()
    return document_fields(
        data,
        doc=doc or f"eo-{n}",
        kind="executive-order",
        title=f"Order {n}",
        issuer="City of Example",
        issued="2026-02-05",
        media_type="text/plain",
        text=TextLayer.from_text(text),
        extractor="orderarchive-text/1",
        relations=relations,
    )


#: The storage implementations the archive suite runs against (issue 13 item 2).
STORE_KINDS = ("directory", "memory")


@pytest.fixture
def store_kind() -> str:
    """Which store ``make_archive`` builds on: the directory store, unless a test module
    overrides this fixture with ``params=STORE_KINDS`` to run against every implementation."""
    return "directory"


#: A test that reads or damages the archive's files itself runs on the directory store only
#: (in a module that overrides ``store_kind`` to run on every store).
directory_only = pytest.mark.parametrize("store_kind", ["directory"])


def new_archive(kind: str, root: Path, origin: str = ORIGIN) -> Archive:
    """An empty archive on the store *kind* (a directory at *root*, or in memory)."""
    if kind == "memory":
        return Archive.init_store(MemoryStore(), origin)
    assert kind == "directory", kind
    return Archive.init(root, origin)


@pytest.fixture
def make_archive(tmp_path: Path, signer: Signer, store_kind: str) -> Callable[..., Archive]:
    counter = iter(range(1000))

    def make(n: int = 3, *, release: bool = True, origin: str = ORIGIN) -> Archive:
        archive = new_archive(store_kind, tmp_path / f"archive{next(counter)}", origin)
        if n:
            archive.add([text_request(i) for i in range(n)], signer)
        if release and n:
            archive.release(signer)
        return archive

    return make


@pytest.fixture
def archive(make_archive: Callable[..., Archive]) -> Archive:
    return make_archive()


def ok(result: Result) -> str:
    """The output of a CliRunner result that must have succeeded."""
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def one_line_error(result: Result, code: int | tuple[int, ...] = (1, 2, 3)) -> str:
    """The one error line of a CliRunner result that must have failed cleanly."""
    codes = (code,) if isinstance(code, int) else code
    assert result.exit_code in codes, (result.exit_code, result.output)
    assert isinstance(result.exception, SystemExit) or result.exception is None, result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="session")
def gocosig(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/interop/gocosig.go built against Debian's x/mod: opens cosigned checkpoints with
    note.Open and its own 0x04 (tlog-cosignature) verifier."""
    import subprocess

    go = need_tool("go")
    out = tmp_path_factory.mktemp("gocosig")
    env = dict(os.environ, GO111MODULE="off", GOPATH=str(GOPATH), GOCACHE=str(out / "cache"),
               GOFLAGS="")
    src = REPO / "tests" / "interop" / "gocosig.go"
    subprocess.run([go, "build", "-o", str(out / "gocosig"), str(src)],
                   env=env, check=True, capture_output=True, timeout=300)
    return out / "gocosig"
