"""Issue 15's bar on its own: `orderarchive add` of N plain-text notices and of N HTML articles,
each set in one call, against `minisign -S` once per file on the same files, alternating.

    python -m benchmarks.fastadd [--n 2000] [--rounds 3] [--out benchmarks/out/fastadd]

Prints, per set, the medians per document (wall and CPU) and minisign ÷ add (≥ 3 is the bar),
then the first search after the add (the index's full text, filled then) against an index
built eagerly. See docs/benchmarks.md, "`add` of articles and notices (issue 15 item 3)".
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from . import corpus
from .measure import Sample, Series, rounds, run

REPO = Path(__file__).resolve().parents[1]
ORIGIN = "bench.example/orders"


def generate(directory: Path, n: int) -> dict[str, list[Path]]:
    """*n* HTML articles and *n* plain-text notices (2-40 KB), made as the corpus makes them."""
    sets: dict[str, list[Path]] = {"text": [], "html": []}
    for kind in sets:
        (directory / kind).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rng = random.Random(f"orderarchive-benchmarks-fastadd:{i}")
        issued = date(2020, 1, 1) + timedelta(days=rng.randrange(2000))
        title = corpus._sentence(rng)[:70].rstrip(".")
        target = rng.randint(2 * 1024, 40 * 1024)
        page = directory / "html" / f"article-{i:05d}.html"
        notice = directory / "text" / f"notice-{i:05d}.txt"
        if not page.exists():
            page.write_bytes(corpus.html_article(
                rng, title, author="Ann Lee", issued=issued,
                url=f"https://ledger.example/a/{i}", target=target))
        if not notice.exists():
            notice.write_bytes(corpus.text_notice(rng, title, target))
        sets["html"].append(page)
        sets["text"].append(notice)
    return sets


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fastadd", description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="documents per set [2000]")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds [3]")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "fastadd")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERARCHIVE_")}
    env.update(ORDERARCHIVE_CACHE=str(out / "cache"), ORDERARCHIVE_STATE_DIR=str(out / "state"),
               NO_COLOR="1")
    oa = [sys.executable, "-m", "orderarchive"]
    sets = generate(out / f"docs-{args.n}", args.n)
    keys, secret = out / "keys", out / "orderarchive.key"
    if not secret.exists():
        run([*oa, "key", "generate", ORIGIN, "--unencrypted", "--keys-dir", str(keys),
             "--secret-key", str(secret)], env=env)
    minisign = shutil.which("minisign")
    mkey = out / "minisign.key"
    if minisign and not mkey.exists():
        subprocess.run([minisign, "-G", "-W", "-p", str(out / "minisign.pub"), "-s", str(mkey)],
                       check=True, capture_output=True)
    sigs = out / "minisigs"
    script = ('for f in "$@"; do "$0" -S -s "$MKEY" -m "$f" -x "$SIGS/${f##*/}.minisig" '
              '>/dev/null || exit 1; done')
    series: dict[str, Series] = {}
    for kind, files in sets.items():
        archive = out / f"archive-{kind}"

        def prepare(name: str, archive: Path = archive) -> None:
            if name.startswith("add"):
                shutil.rmtree(archive, ignore_errors=True)
                shutil.rmtree(out / "cache", ignore_errors=True)
                run([*oa, "--archive", str(archive), "init", "--origin", ORIGIN], env=env)
            else:
                shutil.rmtree(sigs, ignore_errors=True)
                sigs.mkdir()
            os.sync()

        tasks: dict[str, Callable[[], Sample]] = {f"add-{kind}": functools.partial(
            run, [*oa, "--archive", str(archive), "add", "--key", str(secret),
                  *map(str, files)], env=env)}
        series[f"add-{kind}"] = Series(f"orderarchive add ({kind})", "orderarchive add FILES")
        if minisign:
            tasks[f"minisign-{kind}"] = functools.partial(
                run, ["sh", "-c", script, minisign, *map(str, files)],
                env={**env, "MKEY": str(mkey), "SIGS": str(sigs)})
            series[f"minisign-{kind}"] = Series(f"minisign -S ({kind})", "minisign -S per file")
        rounds(tasks, series, args.rounds, before=prepare, warmup=False)
        first = run([sys.executable, "-m", "benchmarks.tasks", "first-search", str(archive),
                     str(keys)], env={**env, "PYTHONPATH": str(REPO)}, capture=True)
        series[f"first-search-{kind}"] = Series("first search", "benchmarks.tasks first-search")
        got = json.loads(first.stdout)
        series[f"first-search-{kind}"].samples.append(
            Sample(got["fill"], got["fill_cpu"], first.peak_bytes, 0))
        series[f"eager-index-{kind}"] = Series("eager index", "benchmarks.tasks first-search")
        series[f"eager-index-{kind}"].samples.append(
            Sample(got["eager"], got["eager_cpu"], first.peak_bytes, 0))
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"\nper document, medians of {args.rounds} rounds, N = {args.n}; load {load}")
    for key, s in series.items():
        print(f"{key:20} wall {s.median / args.n * 1000:7.3f} ms  "
              f"CPU {s.cpu_median / args.n * 1000:7.3f} ms  peak {s.peak / 2**20:5.0f} MiB")
    for kind in sets:
        if f"minisign-{kind}" in series:
            add, sign = series[f"add-{kind}"], series[f"minisign-{kind}"]
            print(f"{kind}: minisign ÷ add = {sign.median / add.median:.2f}× wall, "
                  f"{sign.cpu_median / add.cpu_median:.2f}× CPU (bar: ≥ 3×)")


if __name__ == "__main__":
    main()
