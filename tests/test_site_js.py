"""The verify page's logic (site_assets/verify.js) under node's crypto.subtle, against
published sites: the official files, an altered copy, an unknown file, a tampered tile, a
tampered and a forged checkpoint, a tampered entry bundle, a lying lookup, a missing release
and a pinned key that is not the log's -- each with its verdict (tests/_sitefixtures.py); and
an entry of a 100,000-record log checked in a bounded number of requests."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from _sitefixtures import huge_site, large_site, sample_site
from conftest import REPO, need_tool
from orderarchive.log.note import Signer, VerifierKey

JS_TESTS = REPO / "tests" / "browser" / "verify.test.js"


def test_verify_js_verdicts(tmp_path: Path, signer: Signer, verifiers: list[VerifierKey]) -> None:
    node = need_tool("node")
    sites = {}
    site, files, expect = sample_site(tmp_path / "sample")
    sites["sample"] = {"dir": str(site), "files": {k: str(v) for k, v in files.items()},
                       "expect": expect}
    site, files, expect = large_site(tmp_path / "large", signer, verifiers)
    sites["large"] = {"dir": str(site), "files": {k: str(v) for k, v in files.items()},
                      "expect": expect}
    site, files, expect = huge_site(tmp_path / "huge", signer)
    sites["huge"] = {"dir": str(site), "files": {k: str(v) for k, v in files.items()},
                     "expect": expect}
    env = {**os.environ, "OA_TEST_SITES": json.dumps(sites)}
    run = subprocess.run(
        [node, "--test", "--test-reporter=tap", str(JS_TESTS)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    # every case ran (node --test reports a count, not a skip)
    want = 10 + sum(len(s["expect"]) for s in sites.values())
    assert f"# pass {want}" in run.stdout, run.stdout[-2000:]
