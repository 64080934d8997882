"""The results as Markdown: the bars of issue 6 with their ratios, then every measurement.

:func:`write` replaces the part of a file between ``<!-- results:begin -->`` and
``<!-- results:end -->`` (docs/benchmarks.md keeps its prose around it), or writes a file
holding only the results.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"
NA = "not available"


def _median(results: dict[str, Any], key: str, field: str = "seconds") -> float | None:
    series = results["series"].get(key)
    if not series or not series[field]:
        return None
    return float(statistics.median(series[field]))


def _peak(results: dict[str, Any], key: str) -> int | None:
    series = results["series"].get(key)
    return max(series["peak_bytes"]) if series and series["peak_bytes"] else None


def _s(value: float | None) -> str:
    if value is None:
        return NA
    if value >= 100:
        return f"{value:.0f} s"
    if value >= 1:
        return f"{value:.2f} s"
    return f"{value * 1000:.1f} ms"


def _mib(value: int | None) -> str:
    return NA if value is None else f"{value / 2**20:.0f} MiB"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _r(value: float | None) -> str:
    return NA if value is None else f"{value:.2f}×"


def _met(value: float | None, ok: bool) -> str:
    return "–" if value is None else ("**met**" if ok else "**not met**")


def bars(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(bar, target, measured, met, how) rows."""
    m = _median
    rows: list[tuple[str, str, str, str, str]] = []
    facts = results["facts"]
    verify = m(results, "verify")
    ratio = _ratio(verify, m(results, "bagit"))
    rows.append(("full `verify` of the corpus vs `bagit.py --validate`", "≤ 0.60×",
                 _r(ratio), _met(ratio, ratio is not None and ratio <= 0.60),
                 "median `verify` ÷ median `bagit.py --validate`"))
    ratio = _ratio(verify, m(results, "openssl"))
    rows.append(("full `verify` of the corpus vs `openssl dgst -sha256`", "≤ 2.5×", _r(ratio),
                 _met(ratio, ratio is not None and ratio <= 2.5),
                 "median `verify` ÷ median `openssl dgst`"))
    articles = facts.get("documents-articles")
    add = m(results, "add-articles")
    sign = m(results, "minisign-articles")
    speedup = _ratio(sign, add)
    rows.append(("`add` of non-PDF documents vs `minisign -S` once per file, per document",
                 "≥ 10× faster", _r(speedup), _met(speedup, speedup is not None and speedup >= 10),
                 f"median `minisign` loop ÷ median `add`, same {articles} files"))
    for key, what in (("text", "plain-text notices"), ("html", "HTML articles")):
        # Issue 15: each kind on its own, the full text of the index left to the first search.
        speedup = _ratio(m(results, f"minisign-{key}"), m(results, f"add-{key}"))
        rows.append((f"`add` of {what} vs `minisign -S` once per file, per document",
                     "≥ 3× faster", _r(speedup), _met(speedup, speedup is not None
                                                       and speedup >= 3),
                     f"median `minisign` loop ÷ median `add`, same "
                     f"{facts.get(f'documents-{key}')} files"))
    ratio = _ratio(m(results, "ingest-1cpu"), m(results, "pypdf-1cpu"))
    rows.append(("PDF ingest vs bare pypdf `extract_text()`, one CPU", "≤ 1.15×", _r(ratio),
                 _met(ratio, ratio is not None and ratio <= 1.15),
                 "median ingest ÷ median bare pypdf, both on one CPU"))
    ratio = _ratio(m(results, "ingest-all"), m(results, "pypdf-1cpu"))
    rows.append(("PDF ingest on all CPUs vs bare pypdf on one", "< 1.00×", _r(ratio),
                 _met(ratio, ratio is not None and ratio < 1.0),
                 "median ingest (all CPUs) ÷ median bare pypdf (one CPU)"))
    size = results["settings"]["synthetic"]
    start = m(results, "m-help")
    for key, what in (("m-check", "`check` of a copy"), ("m-prove", "`prove`"),
                      ("m-verify-proof", "`verify-proof`")):
        ratio = _ratio(m(results, key), start)
        rows.append((f"{what} at {size:,} entries vs CLI start-up", "< 1.5×", _r(ratio),
                     _met(ratio, ratio is not None and ratio < 1.5),
                     "median command ÷ median `orderarchive --help`"))
    scaling = results.get("scaling") or []
    if scaling:
        last = scaling[-1]
        peak = last["verify_peak"]
        rows.append((f"`verify` peak memory at {size:,} entries", "< 200 MB",
                     f"{peak / 1e6:.0f} MB", _met(peak, peak < 200e6),
                     "largest sum of RSS over the process tree"))
        per = [s["verify_seconds"] / s["entries"] for s in scaling]
        growth = per[-1] / per[0]
        rows.append(("`verify` scales linearly",
                     "time per entry flat", f"{growth:.2f}× per entry from "
                     f"{scaling[0]['entries']:,} to {last['entries']:,}",
                     _met(growth, growth <= 1.25), "per-entry time at the largest size ÷ at "
                     "the smallest (≤ 1.25 counts as linear)"))
    imports = results.get("imports_pypdf")
    if imports:
        for key in ("help", "check"):
            loaded = imports.get(key)
            rows.append((f"`orderarchive {'--help' if key == 'help' else 'check'}` does not "
                         "import pypdf", "not imported",
                         "imported" if loaded else "not imported",
                         "**met**" if not loaded else "**not met**", "`python -X importtime`"))
    return rows


def _series_rows(results: dict[str, Any], keys: list[str], per: int | None = None,
                 reference: str | None = None) -> list[str]:
    lines = []
    for key in keys:
        series = results["series"].get(key)
        if not series or not series["seconds"]:
            continue
        median = statistics.median(series["seconds"])
        cpu = statistics.median(series["cpu_seconds"]) if any(series["cpu_seconds"]) else None
        extra = ""
        if per:
            extra = f" | {median / per * 1000:.2f} ms"
        if reference:
            base = _median(results, reference)
            extra += f" | {_r(_ratio(median, base))}"
        lines.append(
            f"| {series['label']} | `{series['command']}` | {_s(median)} | "
            f"{_s(cpu) if cpu else '–'} | {_mib(max(series['peak_bytes']))} | "
            f"{len(series['seconds'])}{extra} |"
        )
    return lines


def render(results: dict[str, Any]) -> str:
    machine = results["machine"]
    settings = results["settings"]
    facts = results["facts"]
    out = [BEGIN, ""]
    quick = " (quick mode: a smoke test, not a measurement)" if settings["quick"] else ""
    out.append(f"Produced by `{results['command'].strip()}` in "
               f"{results['seconds'] / 60:.0f} minutes{quick}.")
    out.append("")
    v = machine["versions"]
    out.append(f"Machine: {machine['cpu']}, {machine['cpus']} CPUs, {machine['memory']} RAM, "
               f"Linux {machine['kernel']}, {machine['filesystem']} file system; Python "
               f"{v.get('python')}, pypdf {v.get('pypdf')}, PyNaCl {v.get('nacl')}, bagit "
               f"{v.get('bagit')}, {v.get('minisign')}, {v.get('openssl')}, "
               f"{v.get('sha256sum')}.")
    before = machine.get("load_before")
    after = machine.get("load_after")
    if before and after:
        out.append(f"Load average (1, 5, 15 min) before the run: "
                   f"{', '.join(f'{x:.2f}' for x in before)}; after: "
                   f"{', '.join(f'{x:.2f}' for x in after)}.")
    out.append("")
    out.append("### The bars")
    out.append("")
    out.append("| bar | target | measured | | how |")
    out.append("|---|---|---|---|---|")
    for bar, target, measured, met, how in bars(results):
        out.append(f"| {bar} | {target} | {measured} | {met} | {how} |")
    out.append("")
    corpus = facts.get("corpus")
    if corpus:
        out.append(f"### The corpus: {corpus['documents']:,} documents")
        out.append("")
        out.append(f"{corpus['pdf']:,} PDFs, {corpus['html']:,} HTML articles, "
                   f"{corpus['text']:,} plain-text notices; {corpus['bytes'] / 2**20:.0f} MiB "
                   f"(seed {settings['seed']}). Medians of {settings['rounds']} or more "
                   "rounds, the commands of a comparison run alternately (A B A B …).")
        out.append("")
        for title, keys, per_key, reference in (
            ("Adding documents", ["add-all", "minisign-all"], "documents-all", None),
            ("Adding documents other than PDFs", ["add-articles", "minisign-articles",
                                                  "archive-add-articles",
                                                  "archive-add-noindex"],
             "documents-articles", None),
            ("… HTML articles only", ["add-html", "minisign-html", "first-search-html",
                                      "eager-index-html"], "documents-html", None),
            ("… plain-text notices only", ["add-text", "minisign-text", "first-search-text",
                                           "eager-index-text"], "documents-text", None),
            ("Verifying", ["verify", "verify-1cpu", "bagit", "sha256sum", "openssl"],
             "documents-all", "verify"),
            ("Reading PDFs", ["ingest-1cpu", "ingest-all", "pypdf-1cpu"], None, "pypdf-1cpu"),
        ):
            rows = _series_rows(results, keys, facts.get(per_key) if per_key else None,
                                reference)
            if not rows:
                continue
            out.append(f"#### {title}")
            out.append("")
            head = "| what | command | median | CPU | peak RSS | runs |"
            rule = "|---|---|---|---|---|---|"
            if per_key:
                head += " per document |"
                rule += "---|"
            if reference:
                head += " ratio |"
                rule += "---|"
            out.extend([head, rule, *rows, ""])
    scaling = results.get("scaling")
    if scaling:
        size = settings["synthetic"]
        out.append(f"### The synthetic archive: {size:,} entries")
        out.append("")
        out.append("Small plain-text notices, one object each, added in batches of 20,000 "
                   "through `Archive.add` (`python -m benchmarks.tasks synthetic`); a release "
                   f"at each quarter. {facts.get('synthetic_bytes', 0) / 2**20:.0f} MiB on "
                   "disk, index included. `verify` is timed on the archive as it was at each "
                   "quarter (its logs copied when the quarter was reached, the create-only "
                   "objects shared), the four sizes alternating in each round; medians of "
                   f"{scaling[0].get('verify_runs', 1)} runs after an untimed one.")
        out.append("")
        out.append("| entries | added in | entries/s | `verify` | per entry | CPU | peak RSS |")
        out.append("|---|---|---|---|---|---|---|")
        for s in scaling:
            out.append(
                f"| {s['entries']:,} | {_s(s['build_seconds'])} | "
                f"{s['built_entries'] / s['build_seconds']:,.0f} | {_s(s['verify_seconds'])} "
                f"| {s['verify_seconds'] / s['entries'] * 1e6:.0f} µs | "
                f"{_s(s['verify_cpu_seconds'])} | {_mib(s['verify_peak'])} |"
            )
        out.append("")
        out.append(f"Commands at {size:,} entries (the copy and the proof are of entry "
                   f"{facts.get('synthetic_target', 0):,}):")
        out.append("")
        out.append("| what | command | median | CPU | peak RSS | runs | × `--help` |")
        out.append("|---|---|---|---|---|---|---|")
        out.extend(_series_rows(results, [f"m-{k}" for k in (
            "pass", "help", "check", "prove", "verify-proof", "consistency", "search")],
            None, "m-help"))
        out.append("")
        inprocess = results.get("inprocess")
        if inprocess:
            out.append("The same library calls in a warm process, without interpreter start-up "
                       "and imports (`python -m benchmarks.tasks inprocess`): " + ", ".join(
                           f"{k} {v * 1000:.1f} ms" for k, v in inprocess.items()) + ".")
            out.append("")
    for note in results.get("notes", []):
        out.append(f"Note: {note}")
        out.append("")
    out.append(END)
    return "\n".join(out) + "\n"


def write(path: Path, results: dict[str, Any]) -> None:
    block = render(results)
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        path.write_text(head + block.rstrip("\n") + tail)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# orderarchive benchmarks\n\n" + block)
