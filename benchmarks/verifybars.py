"""The full-verify bars alone (issue 15): ``verify --full`` beside bagit and openssl.

    python -m benchmarks.verifybars [--n 10000] [--seed 20260205] [--rounds 5] [--out DIR]
                                    [--reuse]

Builds (or, with ``--reuse``, takes from an earlier run in OUT) the corpus of
``python -m benchmarks`` (benchmarks/corpus.py), one archive of all of it (``add
--issued-from-file``, one release) and a bag of the same files, then runs, alternately in each
round after one untimed round: ``orderarchive verify --full`` (all CPUs),
``bagit.py --validate --processes CPUS`` and ``xargs -0 openssl dgst -sha256``. Prints the
median wall and CPU times, the peak RSS and the ratios the bars are stated in (wall:
≤ 0.9× bagit, ≤ 3.5× openssl), and the same as JSON. On a shared machine the CPU-time ratios
are the steadier figures: a loaded machine takes cores from a two-process ``verify`` more
than from the mostly single-process bagit. A missing bagit or openssl is reported, not an
error. Building the 10,000-document archive takes a few minutes (the PDFs are read).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from .corpus import generate
from .measure import Sample, run

REPO = Path(__file__).resolve().parents[1]
ORIGIN = "bench.example/orders"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.verifybars")
    parser.add_argument("--n", type=int, default=10_000, help="documents in the corpus")
    parser.add_argument("--seed", type=int, default=20260205)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "verifybars")
    parser.add_argument("--reuse", action="store_true",
                        help="time again the archive and bag an earlier run left in OUT")
    args = parser.parse_args(argv)
    work: Path = args.out.resolve()
    archive, bag, keys, secret = work / "archive", work / "bag", work / "keys", work / "oa.key"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERARCHIVE_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: compiled modules are cached
    env["ORDERARCHIVE_STATE_DIR"] = str(work / "state")
    oa = [sys.executable, "-m", "orderarchive"]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    has_bagit = importlib.util.find_spec("bagit") is not None
    openssl = shutil.which("openssl")

    def cmd(argv: list[str]) -> Sample:
        return run(argv, env=env, cwd=REPO)

    files = generate(work / "corpus", args.n, args.seed)
    listing = work / "all.list0"
    listing.write_bytes(b"\0".join(str(f).encode() for f in files))
    built = (work / "built").is_file()
    if not (args.reuse and built):
        for old in (archive, bag, keys, secret, work / "state", work / "built"):
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(True)
        cmd([*oa, "key", "generate", ORIGIN, "--unencrypted", "--keys-dir", str(keys),
             "--secret-key", str(secret)])
        cmd([*oa, "--archive", str(archive), "init", "--origin", ORIGIN])
        added = cmd([*oa, "--archive", str(archive), "add", "--key", str(secret),
                     "--issued-from-file", *map(str, files)])
        cmd([*oa, "--archive", str(archive), "release", "--key", str(secret)])
        print(f"archive of {len(files)} documents added in {added.seconds:.1f} s", flush=True)
        if has_bagit:
            bag.mkdir()
            for f in files:
                shutil.copyfile(f, bag / f.name)
            cmd([sys.executable, "-m", "bagit", "--sha256", "--processes", str(cpus),
                 str(bag)])
        (work / "built").write_text("ok\n")
    tasks: dict[str, Callable[[], Sample]] = {
        "verify": lambda: cmd([*oa, "--archive", str(archive), "verify", "--full",
                               "--trusted-key", str(keys)]),
    }
    if has_bagit:
        tasks["bagit"] = lambda: cmd([sys.executable, "-m", "bagit", "--validate",
                                      "--processes", str(cpus), str(bag)])
    else:
        print("bagit is not installed (pip install -e '.[dev]'): not available")
    if openssl:
        tasks["openssl"] = lambda: cmd(["sh", "-c", 'xargs -0 "$1" dgst -sha256 < "$2"', "sh",
                                        openssl, str(listing)])
    else:
        print("openssl is not installed: not available")
    samples: dict[str, list[Sample]] = {name: [] for name in tasks}
    load_before = os.getloadavg()
    for r in range(args.rounds + 1):  # round 0 is untimed: page cache, bytecode, state
        order = list(tasks) if r % 2 else list(tasks)[::-1]
        for name in order:
            sample = tasks[name]()
            if r:
                samples[name].append(sample)
        if r:
            print(f"round {r}/{args.rounds}: " + ", ".join(
                f"{name} {samples[name][-1].seconds:.3f} s" for name in tasks), flush=True)
    result: dict[str, object] = {
        "documents": len(files), "rounds": args.rounds, "cpus": cpus,
        "load_before": load_before, "load_after": os.getloadavg(),
    }
    for name, got in samples.items():
        result[name] = {
            "seconds": statistics.median(s.seconds for s in got),
            "fastest_seconds": min(s.seconds for s in got),
            "cpu_seconds": statistics.median(s.cpu_seconds for s in got),
            "peak_bytes": max(s.peak_bytes for s in got),
        }
        m = result[name]
        assert isinstance(m, dict)
        print(f"{name:8} median {m['seconds']:.3f} s (fastest {m['fastest_seconds']:.3f} s), "
              f"CPU {m['cpu_seconds']:.3f} s, peak RSS {m['peak_bytes'] / 2**20:.0f} MiB")
    v = result["verify"]
    assert isinstance(v, dict)
    for name, bar in (("bagit", 0.9), ("openssl", 3.5)):
        other = result.get(name)
        if isinstance(other, dict):
            wall = v["seconds"] / other["seconds"]
            cpu = v["cpu_seconds"] / other["cpu_seconds"]
            result[f"ratio_{name}"] = {"wall": wall, "cpu": cpu, "bar": bar}
            print(f"verify --full ÷ {name}: {wall:.2f}× wall (bar ≤ {bar}×, "
                  f"{'met' if wall <= bar else 'not met'}), {cpu:.2f}× CPU time")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
