"""The results as Markdown: the bars of issues 15 and 6 with their ratios, then every measurement.

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
    return "–" if value is None else ("**PASS**" if ok else "**MISS**")


def _row(bar: str, target: str, value: float | None, ok: bool, how: str, *,
         shown: str | None = None) -> tuple[str, str, str, str, str]:
    return (bar, target, shown if shown is not None else _r(value), _met(value, ok), how)


def bars(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(bar, target, measured, met, how) rows: the bars of issue 15, then those of issue 6
    that issue 15 did not restate."""
    m = _median
    rows: list[tuple[str, str, str, str, str]] = []
    facts = results["facts"]
    settings = results["settings"]
    skipped = settings.get("skip", [])

    # add at scale: peak RSS of one add of N plain-text documents, and against N/10.
    docs = facts.get("scale_docs")
    if docs:
        large, small = _peak(results, "scale-add-large"), _peak(results, "scale-add-small")
        rows.append((f"`add` peak RSS, {docs['large']:,} plain-text documents in one call",
                     "< 250 MB", NA if large is None else f"{large / 1e6:.0f} MB",
                     _met(large, large is not None and large < 250e6),
                     "largest sum of RSS over the process tree"))
        ratio = _ratio(large, small)
        rows.append(_row(f"`add` peak RSS, {docs['large']:,} ÷ {docs['small']:,} documents",
                         "≤ 1.2×", ratio, ratio is not None and ratio <= 1.2,
                         "peak RSS of the large add ÷ of the small one"))
    elif "scale" in skipped:
        rows.append(("`add` peak RSS, 100,000 plain-text documents", "< 250 MB; ≤ 1.2× 10k",
                     "not run (`--skip scale`)", "–", ""))
    reverify = facts.get("reverify")
    if reverify:
        what = (f"second `verify` after {reverify['growth']:,} entries added to "
                f"{reverify['entries']:,} vs full verify")
        if reverify["supports_full"]:
            ratio = _ratio(m(results, "reverify-again"), m(results, "reverify-full"))
            rows.append(_row(what, "≤ 5%", ratio, ratio is not None and ratio <= 0.05,
                             "median second `verify` ÷ median `verify --full`",
                             shown=None if ratio is None else f"{ratio * 100:.1f}%"))
        else:
            rows.append((what, "≤ 5%", "not supported by this build", "–",
                         "`verify --help` names no `--full`: this build has no incremental "
                         "verify (both times are in the table below)"))
    elif "scale" in skipped:
        rows.append(("re-verification after 1% growth", "≤ 5%", "not run (`--skip scale`)",
                     "–", ""))

    for key, what in (("html", "HTML"), ("text", "plain text")):
        speedup = _ratio(m(results, f"minisign-{key}"), m(results, f"add-{key}"))
        rows.append(_row(f"`add` per document vs `minisign -S` once per file, {what}",
                         "≥ 3× faster", speedup, speedup is not None and speedup >= 3,
                         f"median `minisign` loop ÷ median `add`, same "
                         f"{facts.get(f'documents-{key}', 0):,} files"))
    verify = m(results, "verify")
    ratio = _ratio(verify, m(results, "bagit"))
    rows.append(_row("full `verify` of the corpus vs `bagit.py --validate`", "≤ 0.9×", ratio,
                     ratio is not None and ratio <= 0.9,
                     "median `verify` ÷ median `bagit.py --validate`"))
    ratio = _ratio(verify, m(results, "openssl"))
    rows.append(_row("full `verify` of the corpus vs `openssl dgst -sha256`", "≤ 3.5×", ratio,
                     ratio is not None and ratio <= 3.5,
                     "median `verify` ÷ median `openssl dgst`"))
    size = settings["synthetic"]
    scaling = results.get("scaling") or []
    if scaling:
        last = scaling[-1]
        peak = last["verify_peak"]
        rows.append((f"`verify` peak memory at {size:,} entries", "< 200 MB",
                     f"{peak / 1e6:.0f} MB", _met(peak, peak < 200e6),
                     "largest sum of RSS over the process tree"))
    small = settings.get("small")
    for key, what in (("check", "`check` of a copy"), ("prove", "`prove`"),
                      ("verify-proof", "`verify-proof`")):
        ratio = _ratio(m(results, f"m-{key}"), m(results, f"s-{key}"))
        if small:
            rows.append(_row(f"{what} at {size:,} entries vs at {small:,}", "≤ 1.15×", ratio,
                             ratio is not None and ratio <= 1.15,
                             "median command at the large size ÷ at the small, same rounds"))
    inprocess = results.get("inprocess")
    if inprocess:
        slowest = max(inprocess.values())
        rows.append((f"in-process work of check, prove, verify-proof at {size:,} entries",
                     "< 2 ms", " / ".join(f"{v * 1000:.2f} ms" for v in inprocess.values()),
                     _met(slowest, slowest < 0.002),
                     "median of 51 calls each in a warm process "
                     "(`python -m benchmarks.tasks inprocess`)"))
    ratio = _ratio(m(results, "ingest-1cpu"), m(results, "pypdf-1cpu"))
    rows.append(_row("PDF ingest vs bare pypdf `extract_text()`, one CPU", "≤ 1.15×", ratio,
                     ratio is not None and ratio <= 1.15,
                     "median ingest ÷ median bare pypdf, both on one CPU"))
    # Issue 6's bars that issue 15 did not restate.
    ratio = _ratio(m(results, "ingest-all"), m(results, "pypdf-1cpu"))
    rows.append(_row("PDF ingest on all CPUs vs bare pypdf on one (issue 6)", "< 1.00×", ratio,
                     ratio is not None and ratio < 1.0,
                     "median ingest (all CPUs) ÷ median bare pypdf (one CPU)"))
    if scaling:
        per = [s["verify_seconds"] / s["entries"] for s in scaling]
        growth = per[-1] / per[0]
        rows.append(("`verify` scales linearly (issue 6)",
                     "time per entry flat", f"{growth:.2f}× per entry from "
                     f"{scaling[0]['entries']:,} to {scaling[-1]['entries']:,}",
                     _met(growth, growth <= 1.25), "per-entry time at the largest size ÷ at "
                     "the smallest (≤ 1.25 counts as linear)"))
    imports = results.get("imports_pypdf")
    if imports:
        for key in ("help", "check"):
            loaded = imports.get(key)
            rows.append((f"`orderarchive {'--help' if key == 'help' else 'check'}` does not "
                         "import pypdf (issue 6)", "not imported",
                         "imported" if loaded else "not imported",
                         "**PASS**" if not loaded else "**MISS**", "`python -X importtime`"))
    not_run = {"corpus": ("`add` per document", "full `verify` of the corpus", "PDF ingest"),
               "synthetic": ("`verify` peak memory", "`check` of a copy", "`prove`",
                             "`verify-proof`", "in-process work", "`verify` scales",
                             "`orderarchive ")}
    for section, prefixes in not_run.items():
        if section in skipped:
            rows = [(bar, target, f"not run (`--skip {section}`)", "–", how)
                    if bar.startswith(prefixes) and met == "–" else (bar, target, measured, met,
                                                                     how)
                    for bar, target, measured, met, how in rows]
    return rows


def print_bars(results: dict[str, Any]) -> str:
    """The bars as plain text, one per line, for the terminal."""
    return "\n".join(f"{met.strip('*') if met != '–' else '-':5} {bar}: {measured} "
                     f"(target {target})" for bar, target, measured, met, _ in bars(results))


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
        small = settings.get("small")
        if small and results["series"].get("s-check"):
            out.append(f"The same commands on an archive of {small:,} entries (same key, same "
                       "kind of entries), run in the same rounds:")
            out.append("")
            out.append(f"| command | at {small:,} | at {size:,} | ratio |")
            out.append("|---|---|---|---|")
            for key in ("check", "prove", "verify-proof"):
                a, b = _median(results, f"s-{key}"), _median(results, f"m-{key}")
                out.append(f"| {key} | {_s(a)} | {_s(b)} | {_r(_ratio(b, a))} |")
            out.append("")
        inprocess = results.get("inprocess")
        if inprocess:
            out.append("The same library calls in a warm process, without interpreter start-up "
                       "and imports (`python -m benchmarks.tasks inprocess`), at "
                       f"{size:,} entries: " + ", ".join(
                           f"{k} {v * 1000:.2f} ms" for k, v in inprocess.items()) + "")
            inprocess_small = results.get("inprocess_small")
            if inprocess_small and small:
                out[-1] += f"; at {small:,}: " + ", ".join(
                    f"{k} {v * 1000:.2f} ms" for k, v in inprocess_small.items())
            out[-1] += "."
            out.append("")
    docs = facts.get("scale_docs")
    if docs:
        out.append(f"### At scale: one `add` of {docs['large']:,} documents")
        out.append("")
        out.append(f"Plain-text notices of about 4 KB (`corpus.generate_notices`, seed "
                   f"{settings['seed']}), added from one directory in one call; the two sizes "
                   "alternate, each into a new archive.")
        out.append("")
        out.append("| what | command | median | CPU | peak RSS | runs | per document |")
        out.append("|---|---|---|---|---|---|---|")
        out.extend(_series_rows(results, ["scale-add-small"], docs["small"]))
        out.extend(_series_rows(results, ["scale-add-large"], docs["large"]))
        out.append("")
    reverify = facts.get("reverify")
    if reverify:
        out.append("### At scale: re-verification after 1% growth")
        out.append("")
        mode = ("`verify --full` re-checks everything" if reverify["supports_full"] else
                "this build's `verify` has no `--full` (no incremental verify): the full "
                "verify is a `verify` with no remembered state")
        out.append(f"A synthetic archive of {reverify['entries']:,} entries (built in "
                   f"{_s(reverify['build_seconds'])}) verified once "
                   f"({_s(reverify['first_verify'])}) with its state remembered, then grown by "
                   f"{reverify['growth']:,} entries and a release. Each round restores the state "
                   f"as the first verify left it; {mode}.")
        out.append("")
        out.append("| what | command | median | CPU | peak RSS | runs | ratio |")
        out.append("|---|---|---|---|---|---|---|")
        out.extend(_series_rows(results, ["reverify-again", "reverify-full"], None,
                                "reverify-full"))
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
