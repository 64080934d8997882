"""The benchmark run: python -m benchmarks [--quick] [options]; see docs/benchmarks.md."""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import corpus, report
from .measure import Sample, Series, rounds, run
from .synthetic import ORIGIN as SYNTHETIC_ORIGIN
from .synthetic import notice

REPO = Path(__file__).resolve().parents[1]
ORIGIN = "bench.example/orders"
SEED = 20260205


class Bench:
    """One run: its settings, directories, environment and results."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick: bool = args.quick
        self.out: Path = args.out.resolve()
        self.rounds: int = args.rounds
        self.results: dict[str, Any] = {"series": {}, "notes": [], "facts": {}}
        self.series: dict[str, Series] = {}
        self.out.mkdir(parents=True, exist_ok=True)
        state = self.out / "state"
        # Each run makes new keys: checkpoints remembered by an earlier run's verify (signed by
        # its keys) would be refused, rightly, as a change of key.
        shutil.rmtree(state, ignore_errors=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERARCHIVE_")}
        # Bytecode caches as a user has them (this sandbox may disable writing them).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(
            XDG_CONFIG_HOME=str(state / "config"),
            XDG_STATE_HOME=str(state / "state"),
            ORDERARCHIVE_STATE_DIR=str(state / "orderarchive"),
            ORDERARCHIVE_CACHE=str(state / "cache"),
            NO_COLOR="1",
            PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(
                os.pathsep
            ),
        )
        self.env = env
        script = Path(sys.executable).with_name("orderarchive")
        self.oa = [str(script)] if script.exists() else [sys.executable, "-m", "orderarchive"]
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.one_cpu: set[int] | None = {cpus[0]} if len(cpus) > 1 else None
        self.cpus = len(cpus) or (os.cpu_count() or 1)

    def log(self, text: str) -> None:
        print(text, flush=True)

    def cmd(self, argv: list[str], **kwargs: Any) -> Sample:
        return run(argv, env=self.env, cwd=kwargs.pop("cwd", REPO), **kwargs)

    def task(self, *args: str, **kwargs: Any) -> Sample:
        return self.cmd([sys.executable, "-m", "benchmarks.tasks", *args], **kwargs)

    def new_series(self, key: str, label: str, command: str) -> Series:
        self.series[key] = Series(label, command)
        return self.series[key]

    def note(self, text: str) -> None:
        self.results["notes"].append(text)
        self.log(f"note: {text}")

    def fact(self, key: str, value: Any) -> None:
        self.results["facts"][key] = value


def _sync() -> None:
    # Write back what earlier steps left dirty (deleted archives, signatures), so that one
    # step's I/O does not land in the next step's time.
    if hasattr(os, "sync"):
        os.sync()


def _snapshot(archive: Path, work: Path, size: int) -> Path:
    """The archive as it is now, for verifying later at this size: the logs, checkpoint,
    releases and settings copied; the objects hard-linked (objects are create-only, and
    verify reads only those its entries name; a symbolic link in an archive is refused, see
    docs/THREATS.md). The SQLite index is left out: verify never reads it."""
    target = work / f"archive-at-{size}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for name in ("log", "releases"):
        shutil.copytree(archive / name, target / name)
    for name in ("checkpoint", "orderarchive.json"):
        shutil.copy2(archive / name, target / name)
    shutil.copytree(archive / "objects", target / "objects", copy_function=os.link)
    return target


def _write_list(path: Path, files: list[Path]) -> Path:
    path.write_text("".join(f"{f}\n" for f in files))
    return path


def _call(functions: dict[str, Callable[[], None]], name: str) -> None:
    functions[name]()


def _tool(name: str) -> str | None:
    return shutil.which(name)


# -- machine -----------------------------------------------------------------------------------


def machine(b: Bench) -> None:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    versions: dict[str, str] = {"python": platform.python_version()}
    for name, distribution in (("pypdf", "pypdf"), ("nacl", "PyNaCl"), ("bagit", "bagit")):
        try:
            versions[name] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    tools = (("minisign", ["-v"]), ("openssl", ["version"]), ("sha256sum", ["--version"]))
    for tool, args in tools:
        path = _tool(tool)
        if path is None:
            versions[tool] = "not available"
            continue
        out = subprocess.run([path, *args], capture_output=True, text=True, check=False)
        versions[tool] = (out.stdout or out.stderr).strip().splitlines()[0] if (
            out.stdout or out.stderr) else "?"
    filesystem = "?"
    try:
        best = ""
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mount, fstype, *_ = line.split()
            if str(b.out).startswith(mount) and len(mount) > len(best):
                best, filesystem = mount, fstype
    except OSError:
        pass
    b.results["machine"] = {
        "cpu": cpu,
        "cpus": b.cpus,
        "memory": memory,
        "kernel": platform.release(),
        "filesystem": filesystem,
        "versions": versions,
        "load_before": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }



# -- the document corpus -----------------------------------------------------------------------


def corpus_section(b: Bench) -> None:
    n = b.args.n
    b.log(f"corpus: {n} documents (seed {b.args.seed})")
    start = time.perf_counter()
    files = corpus.generate(b.out / f"corpus-{b.args.seed}-{n}", n, b.args.seed)
    b.fact("corpus_seconds", time.perf_counter() - start)
    pdfs = [f for f in files if f.suffix == ".pdf"]
    html = [f for f in files if f.suffix == ".html"]
    text = [f for f in files if f.suffix == ".txt"]
    articles = html + text
    b.fact("corpus", {
        "documents": len(files), "pdf": len(pdfs), "html": len(html), "text": len(text),
        "bytes": sum(f.stat().st_size for f in files),
        "pdf_pages": None,
    })
    work = b.out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    lists = {
        "all": _write_list(work / "all.list", files),
        "pdf": _write_list(work / "pdf.list", pdfs),
        "articles": _write_list(work / "articles.list", articles),
        "html": _write_list(work / "html.list", html),
        "text": _write_list(work / "text.list", text),
    }
    (work / "all.list0").write_bytes(b"".join(os.fsencode(f) + b"\0" for f in files))

    # Keys: the archive's (unencrypted, as minisign's below: neither pays a KDF per use).
    keys = work / "keys"
    secret = work / "orderarchive.key"
    b.cmd([*b.oa, "key", "generate", ORIGIN, "--unencrypted", "--keys-dir", str(keys),
           "--secret-key", str(secret)])
    minisign = _tool("minisign")
    mkey = work / "minisign.key"
    if minisign:
        subprocess.run([minisign, "-G", "-W", "-p", str(work / "minisign.pub"), "-s",
                        str(mkey)], check=True, capture_output=True)
    else:
        b.note("minisign is not installed: its rows say 'not available'")

    def oa_add(archive: Path, listing: str) -> list[str]:
        names = [str(f) for f in {"all": files, "articles": articles, "html": html,
                                  "text": text, "pdf": pdfs}[listing]]
        # The synthetic orders carry their issued date in the PDF metadata on purpose.
        return [*b.oa, "--archive", str(archive), "add", "--key", str(secret),
                "--issued-from-file", *names]

    def fresh(archive: Path) -> Callable[[], None]:
        def prepare() -> None:
            shutil.rmtree(archive, ignore_errors=True)
            b.cmd([*b.oa, "--archive", str(archive), "init", "--origin", ORIGIN])
            _sync()
        return prepare

    sigs = work / "minisigs"
    sign_script = (
        'while IFS= read -r f; do "$1" -S -s "$2" -m "$f" -x "$3/${f##*/}.minisig" '
        '>/dev/null || exit 1; done < "$4"'
    )

    def minisign_all(listing: str) -> Callable[[], Sample]:
        return lambda: b.cmd(["sh", "-c", sign_script, "sh", str(minisign), str(mkey),
                              str(sigs), str(lists[listing])])

    def clear_sigs() -> None:
        shutil.rmtree(sigs, ignore_errors=True)
        sigs.mkdir()
        _sync()

    # Warm-up, untimed: the corpus in the page cache, bytecode compiled, one document added.
    for f in files:
        f.read_bytes()
    warm = work / "warm"
    fresh(warm)()
    b.cmd([*b.oa, "--archive", str(warm), "add", "--key", str(secret), "--issued-from-file",
           str(files[0])])
    shutil.rmtree(warm, ignore_errors=True)

    # 1. add: the whole corpus, and the articles (no PDFs) alone, against minisign -S.
    groups = [("all", "the whole corpus", files), ("articles", "HTML and text articles",
                                                   articles),
              ("html", "HTML articles", html), ("text", "plain-text notices", text)]
    for key, what, members in groups:
        if not members:
            continue
        archive = work / f"add-{key}"
        b.log(f"add {what} ({len(members)} files) vs minisign -S per file")
        tasks: dict[str, Callable[[], Sample]] = {}
        prepares: dict[str, Callable[[], None]] = {}
        b.new_series(f"add-{key}", f"orderarchive add: {what}",
                     f"orderarchive --archive A add --key K <{len(members)} files>")
        tasks[f"add-{key}"] = functools.partial(lambda a, k: b.cmd(oa_add(a, k)), archive, key)
        prepares[f"add-{key}"] = fresh(archive)
        if minisign:
            b.new_series(f"minisign-{key}", f"minisign -S, once per file: {what}",
                         "for f in FILES; do minisign -S -s KEY -m $f -x SIGS/$f.minisig; done")
            tasks[f"minisign-{key}"] = minisign_all(key)
            prepares[f"minisign-{key}"] = clear_sigs
        rounds(tasks, b.series, b.rounds, before=functools.partial(_call, prepares),
               warmup=False, log=b.log)
        b.fact(f"documents-{key}", len(members))

    # add leaves the index's full text to the first search (issue 15): what that first
    # search costs, against the index built eagerly from scratch, on the last round's archives.
    for key, what in (("text", "plain-text notices"), ("html", "HTML articles")):
        archive = work / f"add-{key}"
        if not (archive / "checkpoint").exists():
            continue
        fill = b.new_series(f"first-search-{key}",
                            f"first search after add: the full text filled ({what})",
                            f"python -m benchmarks.tasks first-search A KEYS ({key})")
        eager = b.new_series(f"eager-index-{key}", f"index built eagerly from scratch ({what})",
                             f"python -m benchmarks.tasks first-search A KEYS ({key})")
        for _ in range(b.rounds):
            out = b.task("first-search", str(archive), str(keys), capture=True)
            got = json.loads(out.stdout)
            fill.samples.append(Sample(got["fill"], 0.0, out.peak_bytes, 0))
            eager.samples.append(Sample(got["eager"], 0.0, out.peak_bytes, 0))

    # The same articles, read untimed, then Archive.add alone (with and without the derived
    # index's update): where the time of add goes.
    if articles:
        for key, label, flag in (
            ("archive-add-articles", "Archive.add alone (articles read beforehand)", "index"),
            ("archive-add-noindex", "Archive.add alone, without the index update", "no-index"),
        ):
            b.new_series(key, label,
                         f"python -m benchmarks.tasks archive-add A K articles.list {flag}")
            archive = work / "add-lib"
            samples = []
            for _ in range(b.rounds):
                fresh(archive)()
                out = b.task("archive-add", str(archive), str(secret), str(lists["articles"]),
                             flag, capture=True)
                seconds = json.loads(out.stdout)["seconds"]
                samples.append(Sample(seconds, 0.0, out.peak_bytes, 0))
            b.series[key].samples = samples

    # 2. verify the whole corpus, against bagit, sha256sum and openssl on the same files.
    archive = work / "add-all"  # the last round's archive of the whole corpus
    b.cmd([*b.oa, "--archive", str(archive), "release", "--key", str(secret)])
    tasks = {}
    # --full: after the first run a verify would check only what was added since (nothing).
    b.new_series("verify", "orderarchive verify --full (all CPUs)",
                 "orderarchive --archive A verify --full --trusted-key K")
    tasks["verify"] = lambda: b.cmd([*b.oa, "--archive", str(archive), "verify", "--full",
                                     "--trusted-key", str(keys)])
    if b.one_cpu:
        b.new_series("verify-1cpu", "orderarchive verify --full (one CPU)",
                     "taskset -c 0 orderarchive --archive A verify --full --trusted-key K")
        tasks["verify-1cpu"] = lambda: b.cmd([*b.oa, "--archive", str(archive), "verify",
                                              "--full", "--trusted-key", str(keys)],
                                             cpus=b.one_cpu)
    if importlib.util.find_spec("bagit") is not None:
        bag = work / "bag"
        shutil.rmtree(bag, ignore_errors=True)
        bag.mkdir()
        for f in files:
            shutil.copyfile(f, bag / f.name)
        b.cmd([sys.executable, "-m", "bagit", "--sha256", "--processes", str(b.cpus), str(bag)])
        b.new_series("bagit", f"bagit.py --validate (--processes {b.cpus})",
                     f"bagit.py --validate --processes {b.cpus} BAG")
        tasks["bagit"] = lambda: b.cmd([sys.executable, "-m", "bagit", "--validate",
                                        "--processes", str(b.cpus), str(bag)])
    else:
        b.note("bagit is not installed (pip install -e '.[dev]'): its rows say 'not available'")
    sha256sum = _tool("sha256sum")
    if sha256sum:
        manifest = work / "SHA256SUMS"
        with manifest.open("w") as listing:
            subprocess.run([sha256sum, *[x.name for x in files]], cwd=files[0].parent,
                           stdout=listing, check=True)
        b.new_series("sha256sum", "sha256sum -c", "sha256sum -c --quiet SHA256SUMS")
        tasks["sha256sum"] = lambda: b.cmd([sha256sum, "-c", "--quiet", str(manifest)],
                                           cwd=files[0].parent)
    openssl = _tool("openssl")
    if openssl:
        b.new_series("openssl", "openssl dgst -sha256 (hashing only)",
                     "xargs -0 openssl dgst -sha256 < FILES")
        tasks["openssl"] = lambda: b.cmd(["sh", "-c", 'xargs -0 "$1" dgst -sha256 < "$2"',
                                          "sh", openssl, str(work / "all.list0")])
    b.log("verify vs bagit / sha256sum / openssl")
    rounds(tasks, b.series, max(b.rounds, 3) if not b.quick else b.rounds, log=b.log)

    # 3. PDF ingest against bare pypdf extraction, on one CPU and on all.
    if pdfs:
        tasks = {}
        b.new_series("ingest-all", f"ingest of the PDFs ({b.cpus} CPUs)",
                     "python -m benchmarks.tasks ingest pdf.list")
        tasks["ingest-all"] = lambda: b.task("ingest", str(lists["pdf"]))
        b.new_series("pypdf-1cpu", "bare pypdf extract_text() (one CPU)",
                     "python -m benchmarks.tasks bare-pypdf pdf.list")
        tasks["pypdf-1cpu"] = lambda: b.task("bare-pypdf", str(lists["pdf"]), cpus=b.one_cpu)
        if b.one_cpu:
            b.new_series("ingest-1cpu", "ingest of the PDFs (one CPU)",
                         "taskset -c 0 python -m benchmarks.tasks ingest pdf.list")
            tasks["ingest-1cpu"] = lambda: b.task("ingest", str(lists["pdf"]), cpus=b.one_cpu)
        b.log("PDF ingest vs bare pypdf")
        rounds(tasks, b.series, b.rounds, log=b.log)


# -- the synthetic archive ---------------------------------------------------------------------


def synthetic_section(b: Bench) -> None:
    size = b.args.synthetic
    b.log(f"synthetic archive: {size} entries")
    work = b.out / "synthetic"
    archive = work / "archive"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    keys = work / "keys"
    secret = work / "synthetic.key"
    b.cmd([*b.oa, "key", "generate", SYNTHETIC_ORIGIN, "--unencrypted", "--keys-dir",
           str(keys), "--secret-key", str(secret)])
    stages = [size * k // 4 for k in range(1, 5)]
    builds: dict[int, dict[str, Any]] = {}
    archives: dict[int, Path] = {}
    for stage in stages:
        built = b.task("synthetic", str(archive), str(secret), str(stage), capture=True)
        builds[stage] = json.loads(built.stdout)
        b.log(f"  built {stage} entries in {builds[stage]['seconds']:.1f} s")
        archives[stage] = archive if stage == stages[-1] else _snapshot(archive, work, stage)
    _sync()
    # Linearity: verify of the archive as it was at each quarter, the sizes alternating in each
    # round (A B C D A B C D ...) so that a noisy minute does not land on one size only.
    verify: dict[str, Series] = {}
    tasks_v: dict[str, Callable[[], Sample]] = {}
    for stage in stages:
        key = f"v{stage}"
        verify[key] = Series(f"verify at {stage}", "orderarchive --archive A verify --full "
                             "--trusted-key K")
        # Each size remembers its own checkpoints: a smaller one after a larger one would be
        # reported, rightly, as a rollback.
        env = dict(b.env, ORDERARCHIVE_STATE_DIR=str(work / f"state-{stage}"))
        tasks_v[key] = functools.partial(
            run, [*b.oa, "--archive", str(archives[stage]), "verify", "--full",
                  "--trusted-key", str(keys)], env=env, cwd=REPO)
    b.log("verify at each size")
    rounds(tasks_v, verify, 1 if b.quick else 2, log=b.log)
    scaling: list[dict[str, Any]] = []
    for stage in stages:
        v = verify[f"v{stage}"]
        info = builds[stage]
        scaling.append({
            "entries": stage,
            "build_seconds": info["seconds"],
            "built_entries": info["entries"],
            "verify_seconds": v.median,
            "verify_cpu_seconds": v.cpu_median,
            "verify_peak": v.peak,
            "verify_runs": len(v.samples),
        })
        b.log(f"  {stage} entries: verify {v.median:.2f} s, peak {v.peak / 2**20:.0f} MiB")
    b.results["scaling"] = scaling
    b.fact("synthetic_bytes", sum(f.stat().st_size for f in archive.rglob("*") if f.is_file()))

    target = stages[-1] // 2
    copy = work / "copy.txt"
    copy.write_bytes(notice(target))
    doc = f"n-{target:07d}"
    proof = work / "copy.tlog-proof"
    a = [*b.oa, "--archive", str(archive)]
    commands: dict[str, tuple[str, str, list[str]]] = {
        "help": ("orderarchive --help (CLI start-up)", "orderarchive --help",
                 [*b.oa, "--help"]),
        "pass": ("python -c pass", "python -c pass", [sys.executable, "-c", "pass"]),
        "check": ("check of a copy", "orderarchive --archive A check COPY --trusted-key K",
                  [*a, "check", str(copy), "--trusted-key", str(keys)]),
        "prove": ("prove", f"orderarchive --archive A prove {doc} -o PROOF --trusted-key K",
                  [*a, "prove", doc, "-o", str(proof), "--trusted-key", str(keys)]),
        "verify-proof": ("verify-proof", "orderarchive verify-proof COPY PROOF --trusted-key K",
                         [*b.oa, "verify-proof", str(copy), str(proof), "--trusted-key",
                          str(keys)]),
        "consistency": ("consistency", f"orderarchive --archive A consistency {stages[0]} "
                        f"{stages[-1]} --trusted-key K",
                        [*a, "consistency", str(stages[0]), str(stages[-1]), "--trusted-key",
                         str(keys)]),
        "search": ("search", f"orderarchive --archive A search item {target} --trusted-key K",
                   [*a, "search", "item", str(target), "--limit", "5", "--trusted-key",
                    str(keys)]),
    }
    # The same commands on a small archive (same key, same kind of entries), in the same
    # rounds: what grows with the archive shows as the ratio of the two.
    small = b.args.small
    small_archive = work / "small"
    b.task("synthetic", str(small_archive), str(secret), str(small))
    small_target = small // 2
    small_copy = work / "small-copy.txt"
    small_copy.write_bytes(notice(small_target))
    small_doc = f"n-{small_target:07d}"
    small_proof = work / "small-copy.tlog-proof"
    s = [*b.oa, "--archive", str(small_archive)]
    small_commands: dict[str, tuple[str, str, list[str]]] = {
        "check": (f"check of a copy, {small:,} entries",
                  "orderarchive --archive A check COPY --trusted-key K",
                  [*s, "check", str(small_copy), "--trusted-key", str(keys)]),
        "prove": (f"prove, {small:,} entries",
                  f"orderarchive --archive A prove {small_doc} -o PROOF --trusted-key K",
                  [*s, "prove", small_doc, "-o", str(small_proof), "--trusted-key",
                   str(keys)]),
        "verify-proof": (f"verify-proof, {small:,} entries",
                         "orderarchive verify-proof COPY PROOF --trusted-key K",
                         [*b.oa, "verify-proof", str(small_copy), str(small_proof),
                          "--trusted-key", str(keys)]),
    }
    tasks: dict[str, Callable[[], Sample]] = {}
    for key, (label, shown, argv) in commands.items():
        b.new_series(f"m-{key}", label, shown)
        tasks[f"m-{key}"] = functools.partial(b.cmd, argv)
        if key in small_commands:
            small_label, small_shown, small_argv = small_commands[key]
            b.new_series(f"s-{key}", small_label, small_shown)
            tasks[f"s-{key}"] = functools.partial(b.cmd, small_argv)
    b.log(f"latency at full size and at {small} entries")
    rounds(tasks, b.series, max(b.rounds * 3, 9) if not b.quick else b.rounds, log=b.log)
    out = b.task("inprocess", str(archive), str(keys), str(copy), doc, capture=True)
    b.results["inprocess"] = json.loads(out.stdout)
    out = b.task("inprocess", str(small_archive), str(keys), str(small_copy), small_doc,
                 capture=True)
    b.results["inprocess_small"] = json.loads(out.stdout)
    b.fact("synthetic_target", target)
    b.fact("small_target", small_target)

    # Lazy imports: what --help and check load.
    imports: dict[str, bool] = {}
    for key, argv in (("help", [*b.oa, "--help"]),
                      ("check", [*a, "check", str(copy), "--trusted-key", str(keys)])):
        result = subprocess.run([sys.executable, "-X", "importtime", "-m", "orderarchive",
                                 *argv[len(b.oa):]], env=b.env, capture_output=True,
                                text=True, check=False, cwd=REPO)
        loaded = {line.split("|")[-1].strip() for line in result.stderr.splitlines()
                  if line.startswith("import time:")}
        imports[key] = "pypdf" in loaded
    b.results["imports_pypdf"] = imports


# -- at scale: one add of 100,000 documents, re-verification after 1% growth (issue 15) -------


def _state_env(b: Bench, root: Path) -> dict[str, str]:
    """The harness's environment with every remembered state and cache under *root*."""
    return dict(b.env, XDG_STATE_HOME=str(root / "state"), XDG_CONFIG_HOME=str(root / "config"),
                ORDERARCHIVE_STATE_DIR=str(root / "orderarchive"),
                ORDERARCHIVE_CACHE=str(root / "cache"))


def verify_supports_full(b: Bench) -> bool:
    """Whether this build's `verify` has a full mode beside an incremental one (--full)."""
    out = subprocess.run([*b.oa, "verify", "--help"], env=b.env, capture_output=True,
                         text=True, check=False, cwd=REPO)
    return "--full" in out.stdout


def scale_add_section(b: Bench) -> None:
    """Peak RSS and time of one `add` of N plain-text notices (4 KB each) and of N/10."""
    large = b.args.scale_docs
    small = max(large // 10, 1)
    b.log(f"scale: one add of {small} and of {large} plain-text notices")
    work = b.out / "scale-add"
    work.mkdir(parents=True, exist_ok=True)
    keys, secret = work / "keys", work / "scale.key"
    if not secret.exists():
        b.cmd([*b.oa, "key", "generate", ORIGIN, "--unencrypted", "--keys-dir", str(keys),
               "--secret-key", str(secret)])
    start = time.perf_counter()
    dirs = {}
    for count in (small, large):
        directory = work / f"notices-{b.args.seed}-{count}"
        corpus.generate_notices(directory, count, b.args.seed)
        dirs[count] = directory
    b.fact("scale_corpus_seconds", time.perf_counter() - start)
    b.fact("scale_docs", {"small": small, "large": large})
    tasks: dict[str, Callable[[], Sample]] = {}
    prepares: dict[str, Callable[[], None]] = {}
    for key, count in (("scale-add-small", small), ("scale-add-large", large)):
        archive = work / f"archive-{count}"
        b.new_series(key, f"orderarchive add: {count:,} plain-text notices in one call",
                     "orderarchive --archive A add --key K --exclude MANIFEST DIR")
        tasks[key] = functools.partial(
            lambda a, d: b.cmd([*b.oa, "--archive", str(a), "add", "--key", str(secret),
                                "--exclude", corpus.MANIFEST, str(d)]), archive, dirs[count])

        def prepare(archive: Path = archive) -> None:
            shutil.rmtree(archive, ignore_errors=True)
            b.cmd([*b.oa, "--archive", str(archive), "init", "--origin", ORIGIN])
            _sync()
        prepares[key] = prepare
    rounds(tasks, b.series, b.args.scale_rounds, before=functools.partial(_call, prepares),
           warmup=False, log=b.log)
    for count in (small, large):
        shutil.rmtree(work / f"archive-{count}", ignore_errors=True)


def reverify_section(b: Bench) -> None:
    """A synthetic archive of N entries verified once, grown by 1%: the second `verify`
    against a full one (`verify --full`, or a verify that remembers nothing)."""
    size = b.args.scale_entries
    growth = max(size // 100, 1)
    b.log(f"scale: re-verification of {size} entries after {growth} more")
    work = b.out / "reverify"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    keys, secret, archive = work / "keys", work / "synthetic.key", work / "archive"
    b.cmd([*b.oa, "key", "generate", SYNTHETIC_ORIGIN, "--unencrypted", "--keys-dir",
           str(keys), "--secret-key", str(secret)])
    built = json.loads(b.task("synthetic", str(archive), str(secret), str(size),
                              capture=True).stdout)
    verify = [*b.oa, "--archive", str(archive), "verify", "--trusted-key", str(keys)]
    first = work / "state-first"
    once = run(verify, env=_state_env(b, first), cwd=REPO)  # verified once, remembered
    b.task("synthetic", str(archive), str(secret), str(size + growth), capture=True)
    _sync()
    full = verify_supports_full(b)
    b.fact("reverify", {"entries": size, "growth": growth, "supports_full": full,
                        "build_seconds": built["seconds"], "first_verify": once.seconds})
    b.new_series("reverify-again", f"second verify, after {growth:,} entries were added",
                 "orderarchive --archive A verify --trusted-key K  (state: verified at "
                 f"{size:,})")
    if full:
        b.new_series("reverify-full", "verify --full (re-checks everything)",
                     "orderarchive --archive A verify --full --trusted-key K")
    else:
        b.new_series("reverify-full", "verify that remembers nothing (a full verify)",
                     "orderarchive --archive A verify --trusted-key K  (empty state)")
    again = work / "state-again"
    fresh = work / "state-none"

    def restore(name: str) -> None:
        for target in (again, fresh):
            shutil.rmtree(target, ignore_errors=True)
        if name == "reverify-again" or full:
            shutil.copytree(first, again)  # as it was after the first verify, each round
        _sync()

    tasks: dict[str, Callable[[], Sample]] = {
        "reverify-again": lambda: run(verify, env=_state_env(b, again), cwd=REPO,
                                      capture=True),
        "reverify-full": (lambda: run([*verify, "--full"], env=_state_env(b, again), cwd=REPO,
                                      capture=True)) if full else
        (lambda: run(verify, env=_state_env(b, fresh), cwd=REPO, capture=True)),
    }
    rounds(tasks, b.series, b.args.scale_rounds_verify, before=restore, log=b.log)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="a small run (30 documents, 2,000 synthetic entries, 1 round): "
                        "checks that the harness works, measures nothing reliably")
    parser.add_argument("--n", type=int, help="documents in the corpus [10000; quick: 30]")
    parser.add_argument("--synthetic", type=int,
                        help="entries in the synthetic archive [1000000; quick: 2000]")
    parser.add_argument("--rounds", type=int, help="timed rounds per comparison [3; quick: 1]")
    parser.add_argument("--seed", type=int, default=SEED, help=f"corpus seed [{SEED}]")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out",
                        help="working directory (large; not committed) [benchmarks/out]")
    parser.add_argument("--markdown", type=Path,
                        help="where to write the results [docs/benchmarks.md; quick: "
                        "OUT/benchmarks-quick.md]")
    parser.add_argument("--skip", choices=["corpus", "synthetic", "scale"], action="append",
                        default=[], help="leave out a section (scale: the 100,000-document "
                        "add and the re-verification after growth, ~15 minutes)")
    parser.add_argument("--small", type=int, help="entries in the small synthetic archive the "
                        "commands at full size are compared with [10000; quick: 200]")
    parser.add_argument("--scale-docs", type=int, help="documents in the large `add` of the "
                        "scale section; the small one is a tenth [100000; quick: 1000]")
    parser.add_argument("--scale-entries", type=int, help="entries of the archive re-verified "
                        "after 1%% growth [100000; quick: 2000]")
    parser.add_argument("--scale-rounds", type=int, help="rounds of the scale adds [1]")
    parser.add_argument("--scale-rounds-verify", type=int,
                        help="rounds of the re-verification [3; quick: 1]")
    args = parser.parse_args(argv)
    args.n = args.n or (30 if args.quick else 10_000)
    args.synthetic = args.synthetic or (2_000 if args.quick else 1_000_000)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.small = args.small or (200 if args.quick else 10_000)
    args.scale_docs = args.scale_docs or (1_000 if args.quick else 100_000)
    args.scale_entries = args.scale_entries or (2_000 if args.quick else 100_000)
    args.scale_rounds = args.scale_rounds or 1
    args.scale_rounds_verify = args.scale_rounds_verify or (1 if args.quick else 3)
    if args.quick and args.out == REPO / "benchmarks" / "out":
        args.out = REPO / "benchmarks" / "out" / "quick"
    markdown = args.markdown or (args.out / "benchmarks-quick.md" if args.quick
                                 else REPO / "docs" / "benchmarks.md")
    b = Bench(args)
    started = time.time()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src")], env=b.env,
                   check=False, capture_output=True)
    machine(b)
    if "corpus" not in args.skip:
        corpus_section(b)
    if "synthetic" not in args.skip:
        synthetic_section(b)
    if "scale" not in args.skip:
        scale_add_section(b)
        reverify_section(b)
    b.results["machine"]["load_after"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    b.results["seconds"] = time.time() - started
    b.results["command"] = "python -m benchmarks " + " ".join(argv if argv is not None
                                                               else sys.argv[1:])
    b.results["settings"] = {"n": args.n, "synthetic": args.synthetic, "rounds": args.rounds,
                             "seed": args.seed, "quick": args.quick, "small": args.small,
                             "scale_docs": args.scale_docs,
                             "scale_entries": args.scale_entries, "skip": args.skip}
    b.results["series"] = {
        key: {"label": s.label, "command": s.command,
              "seconds": [x.seconds for x in s.samples],
              "cpu_seconds": [x.cpu_seconds for x in s.samples],
              "peak_bytes": [x.peak_bytes for x in s.samples]}
        for key, s in b.series.items()
    }
    (args.out / "results.json").write_text(json.dumps(b.results, indent=2, default=str))
    report.write(markdown, b.results)
    b.log("bars:\n" + report.print_bars(b.results))
    b.log(f"wrote {markdown} ({b.results['seconds']:.0f} s)")

