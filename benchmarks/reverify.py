"""Re-verification after growth (issue 15): incremental ``verify`` against ``verify --full``.

    python -m benchmarks.reverify [--size 100000] [--growth 0.01] [--rounds 3] [--out DIR]

Builds the synthetic archive (benchmarks/synthetic.py) of SIZE entries, verifies it fully once
(which remembers the verified state), grows it by GROWTH, then times, alternately in each
round, ``verify`` from the remembered state (restored before each run, so that every run checks
the same new entries) and ``verify --full`` of the grown archive. Prints the medians and their
ratio (the bar: at most 5%) as text and JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

from .measure import Sample, run
from .synthetic import ORIGIN

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reverify")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--growth", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "reverify")
    parser.add_argument("--reuse", action="store_true",
                        help="time again the grown archive and state an earlier run left in OUT")
    args = parser.parse_args(argv)
    work: Path = args.out
    reuse = args.reuse and (work / "state-base").is_dir() and (work / "archive").is_dir()
    if not reuse:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: compiled modules are cached
    oa = [sys.executable, "-m", "orderarchive"]
    keys, secret, archive = work / "keys", work / "bench.key", work / "archive"

    def cmd(argv: list[str], state: Path | None = None, *, capture: bool = False) -> Sample:
        e = dict(env, ORDERARCHIVE_STATE_DIR=str(state or work / "state-misc"))
        return run(argv, env=e, cwd=REPO, capture=capture)

    grown = args.size + max(1, round(args.size * args.growth))
    verify = [*oa, "--archive", str(archive), "verify", "--trusted-key", str(keys)]
    base = work / "state-base"
    if not reuse:
        cmd([*oa, "key", "generate", ORIGIN, "--unencrypted", "--keys-dir", str(keys),
             "--secret-key", str(secret)])
        built = cmd([sys.executable, "-m", "benchmarks.tasks", "synthetic", str(archive),
                     str(secret), str(args.size)], capture=True)
        print(f"built {args.size} entries in {json.loads(built.stdout)['seconds']:.1f} s",
              flush=True)
        first = cmd(verify, base)
        print(f"first (full) verify of {args.size}: {first.seconds:.2f} s", flush=True)
        cmd([sys.executable, "-m", "benchmarks.tasks", "synthetic", str(archive), str(secret),
             str(grown)])
        print(f"grown to {grown} entries", flush=True)
    incremental: list[Sample] = []
    full: list[Sample] = []
    for r in range(args.rounds):
        state = work / "state-inc"
        shutil.rmtree(state, ignore_errors=True)
        shutil.copytree(base, state)
        sample = cmd([*verify, "--json"], state, capture=True)
        doc = json.loads(sample.stdout)
        if not (doc["ok"] and doc["incremental"]["incremental"]
                and doc["entries_checked"] == grown - args.size):
            raise SystemExit(f"the incremental verify did not do what was asked: {doc}")
        incremental.append(sample)
        sample = cmd([*verify, "--full", "--json"], work / "state-full", capture=True)
        doc = json.loads(sample.stdout)
        if not (doc["ok"] and doc["entries_checked"] == grown):
            raise SystemExit(f"verify --full did not check everything: {doc}")
        full.append(sample)
        print(f"round {r + 1}: incremental {incremental[-1].seconds:.3f} s, "
              f"full {full[-1].seconds:.2f} s", flush=True)
    inc = statistics.median(s.seconds for s in incremental)
    whole = statistics.median(s.seconds for s in full)
    result = {
        "size": args.size,
        "grown": grown,
        "rounds": args.rounds,
        "incremental_seconds": inc,
        "incremental_cpu_seconds": statistics.median(s.cpu_seconds for s in incremental),
        "incremental_peak_bytes": max(s.peak_bytes for s in incremental),
        "full_seconds": whole,
        "full_cpu_seconds": statistics.median(s.cpu_seconds for s in full),
        "full_peak_bytes": max(s.peak_bytes for s in full),
        "ratio": inc / whole,
    }
    cpu_ratio = result["incremental_cpu_seconds"] / result["full_cpu_seconds"]  # type: ignore[operator]
    result["cpu_ratio"] = cpu_ratio
    print(f"verify after {grown - args.size} new entries: {inc:.3f} s; verify --full: "
          f"{whole:.2f} s; ratio {inc / whole:.3f} (bar <= 0.05); CPU time ratio "
          f"{cpu_ratio:.3f}; load average {os.getloadavg()[0]:.1f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
