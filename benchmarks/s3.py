"""add and verify of the benchmark corpus on Ceph RGW beside the same on local disk (issue 19).

    python -m benchmarks.s3 [--n 10000] [--out benchmarks/out]

Builds (or reuses) the corpus of benchmarks/corpus.py, starts Ceph RGW on loopback with
.ci/ceph-rgw-up.sh (Debian's ceph-mon, ceph-osd and radosgw; a memstore OSD), and times, as
subprocesses of the CLI, ``init`` + ``add`` of the whole corpus in one call and a full
``verify``, first into a local directory, then into a bucket (``--archive s3://...``).
Prints a Markdown table for docs/benchmarks.md. One round each: the run is about the ratio.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import corpus

REPO = Path(__file__).resolve().parents[1]
ORIGIN = "bench.example/orders"
SEED = 20260205


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds of the child, and its last output line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    r = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:6])} ... failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = (r.stdout.strip().splitlines() or [""])
    return wall, cpu, lines[-1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    args = parser.parse_args(argv)
    files = corpus.generate(args.out / f"corpus-{SEED}-{args.n}", args.n, SEED)
    size = sum(f.stat().st_size for f in files)
    work = Path(tempfile.mkdtemp(prefix="oa-s3-bench-", dir=args.out))
    oa = [sys.executable, "-m", "orderarchive"]
    env = dict(os.environ)
    env.update({
        "AWS_ACCESS_KEY_ID": "testkey", "AWS_SECRET_ACCESS_KEY": "testsecret123",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
        "ORDERARCHIVE_CACHE": str(work / "cache"),
    })
    keys, secret = work / "keys", work / "k.key"
    subprocess.run([*oa, "key", "generate", ORIGIN, "--unencrypted", "--keys-dir", str(keys),
                    "--secret-key", str(secret)], env=env, check=True, capture_output=True)
    port, mon = _free_port(), _free_port()
    ceph = work / "ceph"
    up = subprocess.run(["bash", str(REPO / ".ci/ceph-rgw-up.sh"), str(ceph), str(port),
                         str(mon)], capture_output=True, text=True, check=False)
    if "RGW_UP" not in up.stdout:
        raise SystemExit(f"Ceph RGW did not start: {up.stderr[-1000:]}")
    endpoint = f"http://127.0.0.1:{port}"
    rows = []
    try:
        import boto3

        boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id="testkey",
            aws_secret_access_key="testsecret123",  # noqa: S106 (the local RGW test user)
            region_name="us-east-1",
        ).create_bucket(Bucket="bench")
        names = [str(f) for f in files]
        for label, target, extra in (
            ("local disk", str(work / "archive"), []),
            ("Ceph RGW (S3)", "s3://bench/archive", ["--s3-endpoint", endpoint]),
        ):
            base = [*oa, "--archive", target, *extra]
            # Two archives of one origin: each its own "seen before" state, or verify of the
            # second would (rightly) call the two histories a fork.
            env["ORDERARCHIVE_STATE_DIR"] = str(work / f"state-{len(rows)}")
            subprocess.run([*base, "init", "--origin", ORIGIN], env=env, check=True,
                           capture_output=True)
            add = _timed([*base, "add", "--key", str(secret), "--issued-from-file", *names], env)
            verify = _timed([*base, "verify", "--trusted-key", str(keys)], env)
            rows.append((label, add, verify))
            print(f"{label}: add {add[0]:.1f} s, verify {verify[0]:.1f} s ({verify[2]})",
                  file=sys.stderr)
    finally:
        subprocess.run(["bash", str(REPO / ".ci/ceph-rgw-down.sh"), str(ceph)],
                       capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)
    local_add, local_verify = rows[0][1][0], rows[0][2][0]
    print(f"Corpus: {len(files):,} documents, {size / 2**20:.0f} MiB (seed {SEED}); one round.")
    print()
    print("| where | `add` (one call, all documents) | CPU | `verify` | CPU | add ÷ local | "
          "verify ÷ local |")
    print("|---|---|---|---|---|---|---|")
    for label, add, verify in rows:
        print(f"| {label} | {add[0]:.1f} s | {add[1]:.1f} s | {verify[0]:.1f} s | "
              f"{verify[1]:.1f} s | {add[0] / local_add:.2f}× | {verify[0] / local_verify:.2f}× |")


if __name__ == "__main__":
    main()
