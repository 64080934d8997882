"""Peak memory and time of one `orderarchive add DIR` of N small plain-text notices, for
several versions of the code side by side (issue 15 item 1: a streaming add).

    python -m benchmarks.add_memory WORKDIR NAME=SRC[,NAME=SRC...] N [N ...]

Each NAME=SRC is a source tree (a ``src`` directory; e.g. one exported with ``git archive
<commit> src | tar -x -C /tmp/old``) run as ``PYTHONPATH=SRC python -m orderarchive``. For
each N, a corpus of N notices of ~4 KB (in subdirectories of 1,000; reused when present) is
added with one `add` into a fresh archive and a fresh index cache, in a fresh process whose
only child is the add: its peak RSS is ``RUSAGE_CHILDREN``'s ``ru_maxrss``. A version named
``before`` is skipped above 20,000 documents (the unbatched add needs gigabytes there).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

ORIGIN = "bench.example/orders"
WORDS = ["the", "city", "shall", "council", "order", "section", "record", "public", "request",
         "mayor", "department", "notice", "hearing"]
_CHILD = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "print(r.returncode, time.perf_counter() - t,"
    " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def corpus(directory: Path, n: int) -> Path:
    """*n* notices of ~4 KB each (deterministic), written once."""
    done = directory / "DONE"
    if done.exists() and done.read_text() == str(n):
        return directory
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for i in range(n):
        rng = random.Random(i)
        sub = directory / f"{i // 1000:04d}"
        sub.mkdir(exist_ok=True)
        body = f"Notice {i}\n\n" + " ".join(rng.choice(WORDS) for _ in range(650)) + "\n"
        (sub / f"notice-{i:06d}.txt").write_text(body[:4096], "utf-8")
    done.write_text(str(n))
    return directory


def measure(src: str, n: int, work: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one add of the *n*-notice corpus with the code in *src*."""
    docs = corpus(work / f"docs-{n}", n)
    archive, cache = work / "archive", work / "cache"
    shutil.rmtree(archive, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": src, "XDG_CACHE_HOME": str(cache),
           "XDG_CONFIG_HOME": str(work / "config"), "XDG_STATE_HOME": str(work / "state"),
           "ORDERARCHIVE_CACHE": str(cache / "orderarchive")}
    cli = [sys.executable, "-m", "orderarchive"]
    subprocess.run([*cli, "init", str(archive), "--origin", ORIGIN], env=env, check=True,
                   capture_output=True)
    key = work / "bench.key"
    if not key.exists():
        subprocess.run([*cli, "key", "generate", ORIGIN, "--unencrypted", "--secret-key",
                        str(key)], env=env, check=True, capture_output=True, cwd=work)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, *cli, "--archive", str(archive), "add", "--key",
         str(key), str(docs)], env=env, check=True, capture_output=True, text=True,
    ).stdout.split()
    if out[0] != "0":
        raise SystemExit(f"add of {n} documents with {src} failed ({out[0]})")
    return float(out[1]), int(out[2]) / 1024


def main() -> None:
    work = Path(sys.argv[1])
    work.mkdir(parents=True, exist_ok=True)
    versions = [v.split("=", 1) for v in sys.argv[2].split(",")]
    for n in map(int, sys.argv[3:]):
        for name, src in versions:
            if name == "before" and n > 20000:
                continue
            seconds, rss = measure(src, n, work)
            print(f"{name:10} n={n:7}  {seconds:8.2f} s  {1000 * seconds / n:6.3f} ms/document"
                  f"  peak RSS {rss:7.1f} MiB", flush=True)


if __name__ == "__main__":
    main()
