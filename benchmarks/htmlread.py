"""Reading HTML articles on their own, the HTML share of issue 15 item 3's `add` bar.

    python -m benchmarks.htmlread [--n 2000] [--out benchmarks/out/fastadd] [--profile]

On the articles `benchmarks.fastadd` makes (the same files when given the same --out), prints
per article: the reader's CPU in this process (`documents._read`, best of 3 passes), and
`read_documents` in chunks of 256 as `add` calls it, from a cold pool of reader processes
(wall, this process's CPU, the reader processes' CPU with their start-up). Run it once with
this tree's code and once with another's (``PYTHONPATH=OTHER/src``) to compare; see
docs/benchmarks.md, "Reading HTML articles for `add`, faster". ``--profile`` prints where
the in-process time goes (cProfile, by cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import time
from pathlib import Path

from . import fastadd

CHUNK = 256  # documents a streaming add reads at a time (documents.ingest.CHUNK_DOCUMENTS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.htmlread", description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="articles [2000]")
    parser.add_argument("--out", type=Path,
                        default=fastadd.REPO / "benchmarks" / "out" / "fastadd")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the reader")
    args = parser.parse_args(argv)
    from orderarchive import documents
    from orderarchive.documents import DEFAULT_LIMITS, _sandbox, read_documents

    paths = fastadd.generate(args.out.resolve() / f"docs-{args.n}", args.n)["html"]
    items = [(p.read_bytes(), p.name) for p in paths]
    n = len(items)

    def read_all() -> None:
        for data, name in items:
            documents._read(data, None, name, DEFAULT_LIMITS)

    read_all()  # warm: imports, caches
    best = min(_cpu(read_all) for _ in range(3))
    print(f"{documents.__file__}\nN = {n} articles")
    print(f"reader in this process     CPU {best / n * 1000:7.3f} ms per article")
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(read_all)
        pstats.Stats(profile).sort_stats("cumtime").print_stats(r"documents|textlayer", 20)

    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, n, CHUNK):
        read_documents(items[start : start + CHUNK])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    _sandbox.shared_pool().close()  # reap the workers: their CPU is counted below
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers = children.ru_utime + children.ru_stime
    print(f"read_documents, cold pool  wall {wall / n * 1000:7.3f} ms  this process "
          f"{cpu / n * 1000:7.3f} ms  reader processes {workers / n * 1000:7.3f} ms "
          f"per article")


def _cpu(fn: object) -> float:
    assert callable(fn)
    start = time.process_time()
    fn()
    return time.process_time() - start


if __name__ == "__main__":
    main()
