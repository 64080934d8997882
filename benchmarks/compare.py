"""Two versions of orderarchive side by side on one synthetic archive (issue 13: "no slower").

    python -m benchmarks.compare --old /tmp/bench-old [--new .] [--entries 20000]
                                 [--add 2000] [--rounds 5] [--out benchmarks/out/compare]

Each version is a checkout (``git worktree add /tmp/bench-old <commit>``): its ``src`` and its
own ``benchmarks`` tasks run with ``PYTHONPATH`` pointing at them and the checkout as working
directory (the dependencies are this interpreter's). One synthetic archive of ``--entries``
entries is built once (its bytes are the same under both versions: the format did not
change), then the commands run alternately, old new old new …, after one untimed round of each:

* ``verify`` — ``orderarchive --archive A verify --trusted-key K`` (all CPUs);
* ``add`` — ``python -m benchmarks.tasks synthetic`` into a new archive: ``--add`` entries
  through ``Archive.add`` in one batch (index update included), and a release;
* ``check``, ``prove``, ``verify-proof`` — the CLI commands on the entry in the middle;
* ``check/prove/verify-proof in-process`` — the same three calls timed inside one process
  (``python -m benchmarks.tasks inprocess``), without the interpreter's start-up.

Medians and fastest of ``--rounds`` runs are printed as a Markdown table, with new ÷ old.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from .measure import Sample, run

REPO = Path(__file__).resolve().parents[1]
ORIGIN = "bench.example/synthetic"


def _env(root: Path, state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERARCHIVE_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        XDG_CONFIG_HOME=str(state / "config"),
        XDG_STATE_HOME=str(state / "state"),
        XDG_CACHE_HOME=str(state / "cache"),
        ORDERARCHIVE_STATE_DIR=str(state / "orderarchive"),
        NO_COLOR="1",
        PYTHONPATH=os.pathsep.join([str(root / "src"), str(root)]),
    )
    return env


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare")
    parser.add_argument("--old", type=Path, required=True, help="the old version's checkout")
    parser.add_argument("--new", type=Path, default=REPO, help="the new version's checkout")
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--add", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "compare")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    roots = {"old": args.old.resolve(), "new": args.new.resolve()}
    envs = {name: _env(root, out / f"state-{name}") for name, root in roots.items()}
    oa = [sys.executable, "-m", "orderarchive"]
    keys, secret, archive = out / "keys", out / "synthetic.key", out / "archive"
    run([*oa, "key", "generate", ORIGIN, "--unencrypted", "--keys-dir", str(keys),
         "--secret-key", str(secret)], env=envs["new"], cwd=roots["new"])
    task = [sys.executable, "-m", "benchmarks.tasks"]
    built = run([*task, "synthetic", str(archive), str(secret), str(args.entries)],
                env=envs["new"], cwd=roots["new"], capture=True)
    print(f"built {args.entries} entries in {json.loads(built.stdout)['seconds']:.1f} s",
          flush=True)
    middle = args.entries // 2
    doc = f"n-{middle:07d}"
    copy = out / "copy.txt"
    sys.path.insert(0, str(REPO))
    from .synthetic import notice

    copy.write_bytes(notice(middle))
    a = ["--archive", str(archive)]
    trusted = ["--trusted-key", str(keys)]
    fresh = [0]

    def add(name: str) -> Sample:
        fresh[0] += 1
        target = out / f"add-{fresh[0]}"
        try:
            return run([*task, "synthetic", str(target), str(secret), str(args.add)],
                       env=envs[name], cwd=roots[name])
        finally:
            shutil.rmtree(target, ignore_errors=True)

    def cli(*argv: str) -> Callable[[str], Sample]:
        return lambda name: run([*oa, *argv], env=envs[name], cwd=roots[name])

    commands: dict[str, Callable[[str], Sample]] = {
        "verify": cli(*a, "verify", *trusted),
        f"add ({args.add} entries)": add,
        "check": cli(*a, "check", str(copy), *trusted),
        "prove": cli(*a, "prove", doc, "-o", str(out / "proof"), *trusted),
        "verify-proof": cli("verify-proof", str(copy), str(out / "proof"), *trusted),
    }
    samples: dict[tuple[str, str], list[float]] = {}
    inproc: dict[tuple[str, str], list[float]] = {}
    for r in range(args.rounds + 1):  # round 0 is untimed: caches, index, bytecode
        for what, command in commands.items():
            for name in ("old", "new") if r % 2 else ("new", "old"):
                seconds = command(name).seconds
                if r:
                    samples.setdefault((what, name), []).append(seconds)
        for name in ("old", "new") if r % 2 else ("new", "old"):
            result = run([*task, "inprocess", str(archive), str(keys), str(copy), doc],
                         env=envs[name], cwd=roots[name], capture=True)
            if r:
                for what, seconds in json.loads(result.stdout).items():
                    inproc.setdefault((f"{what} in-process", name), []).append(seconds)
        print(f"round {r}/{args.rounds} done", flush=True)
    samples.update(inproc)
    whats = list(dict.fromkeys(w for w, _ in samples))
    print(f"\n{args.entries:,} entries; medians of {args.rounds} alternating runs\n")
    # The fastest run is the one least disturbed by other work on the machine: on a shared
    # machine it is the steadier figure, the median the usual one.
    print("| what | old median | new median | new ÷ old | old fastest | new fastest "
          "| new ÷ old |")
    print("|---|---|---|---|---|---|---|")
    for what in whats:
        old, new = samples[(what, "old")], samples[(what, "new")]
        mo, mn = statistics.median(old), statistics.median(new)
        fo, fn = min(old), min(new)
        print(f"| {what} | {_fmt(mo)} | {_fmt(mn)} | {mn / mo:.2f}× | {_fmt(fo)} | {_fmt(fn)} "
              f"| {fn / fo:.2f}× |")


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    main()
