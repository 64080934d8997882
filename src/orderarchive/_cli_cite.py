"""CLI commands for citations: quote, cite, cite-check and verify-evidence. Each parses, makes
one library call (:mod:`.cite`) and renders."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from ._cli_proofs import _optional_trusted, _read, _write
from .cite import (
    MAX_EVIDENCE_BYTES,
    BriefReport,
    Citation,
    QuoteReport,
    VerifiedEvidence,
    check_brief,
    check_quote,
    cite,
    make_evidence,
    verify_evidence,
)
from .cli import (
    EXIT_FAILED,
    EXIT_OK,
    Ctx,
    _trusted,
    cli,
    echo,
    emit_json,
    errors_handled,
    pass_ctx,
    trusted_key_option,
)
from .quote import QuoteStatus

_LABELS = {
    QuoteStatus.EXACT: ("EXACT", "green"),
    QuoteStatus.NORMALISED: ("NORMALISED", "green"),
    QuoteStatus.MISQUOTED: ("MISQUOTED", "red"),
    QuoteStatus.NOT_FOUND: ("NOT FOUND", "red"),
}


def _short(text: str, width: int = 72) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _where(report: QuoteReport) -> str:
    loc = report.locator
    if loc is None:
        return ""
    parts = []
    if loc.page is not None:
        last = report.last_page or loc.page
        parts.append(f"page {loc.page}" if last == loc.page else f"pages {loc.page}–{last}")
    last_para = report.last_paragraph or loc.paragraph
    parts.append(
        f"paragraph {loc.paragraph}"
        if last_para == loc.paragraph
        else f"paragraphs {loc.paragraph}–{last_para}"
    )
    parts.append(f"characters {loc.start}–{loc.end}")
    return ", ".join(parts)


def _report_lines(report: QuoteReport, doc: str | None) -> Iterator[tuple[str, str | None]]:
    """(line, colour) pairs describing one quotation's result."""
    label, colour = _LABELS[report.status]
    entry = report.entry
    if report.status is QuoteStatus.NOT_FOUND or entry is None or entry.document is None:
        scope = f"in {doc}" if doc else (
            f"in the archive ({report.searched} candidate documents compared)"
        )
        yield f"{label:<11}not {scope}", colour
        return
    d = entry.document
    yield f'{label:<11}{d.doc} "{d.title}" (entry {entry.seq}), {_where(report)}', colour
    if report.normalisations:
        yield f"  after normalising: {', '.join(report.normalisations)}", None
    for alteration in report.alterations:
        yield f"  alteration: {alteration}", None
    for diff in report.differences:
        quoted, source = _short(diff.quoted, 120), _short(diff.source, 120)
        if diff.op == "changed":
            text = f'quoted "{quoted}" where the source says "{source}"'
        elif diff.op == "removed":
            text = f'left out "{source}" without an ellipsis'
        else:
            text = f'added "{quoted}", which the source does not have'
        yield f"  {diff.op}: {text} (paragraph {diff.paragraph})", None
    if report.status is QuoteStatus.MISQUOTED and report.match.source_text:
        yield f'  the source reads: "{_short(report.match.source_text, 200)}"', None
    if report.signer is not None:
        yield f"  entry signed by {report.signer}", None
    for warning in report.warnings:
        yield f"  warning: {warning}", "yellow"


@cli.command("quote")
@click.argument("text")
@click.option("--doc", metavar="DOC", help="Look only in this document.")
@trusted_key_option
@pass_ctx
def quote_command(ctx: Ctx, text: str, doc: str | None, trusted: tuple[str, ...]) -> None:
    """Check the quotation TEXT against the archive's signed text layers.

    Says whether it is EXACT, NORMALISED (and which normalisations, such as typographic quotes
    or line breaks, and which bracketed alterations and ellipses were needed), MISQUOTED (with
    each word-level difference) or NOT FOUND, where it is (document, page, paragraph,
    characters) and whether the document has since been amended, superseded or rescinded.
    Exit 0 only for an exact or normalised match. With trusted keys (--trusted-key or the
    --keys directory), the entry's signature and inclusion are checked too.
    """
    with errors_handled(ctx):
        archive = ctx.archive()
        report = check_quote(archive, text, doc=doc, verifiers=_optional_trusted(ctx, trusted))
    if ctx.as_json:
        emit_json({"ok": report.is_match, **report.to_dict()})
    else:
        for line, colour in _report_lines(report, doc):
            echo(line, fg=colour)
    sys.exit(EXIT_OK if report.is_match else EXIT_FAILED)


def _render_citation(citation: Citation) -> None:
    echo(citation.text)
    for warning in citation.warnings:
        echo(f"warning: {warning}", fg="yellow", err=True)


@cli.command("cite")
@click.argument("doc")
@click.option("--quote", "quote_text", metavar="TEXT",
              help="A quotation to cite: it must match the signed text; the pin cite is its page "
              "(PDF) or paragraph.")
@click.option("--page", type=click.IntRange(min=1), help="Pin cite to this page (PDFs).")
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), metavar="EVIDENCE",
              help="Also write an evidence file for 'orderarchive verify-evidence' "
              "('-' for standard output).")
@trusted_key_option
@pass_ctx
def cite_command(ctx: Ctx, *, doc: str, quote_text: str | None, page: int | None,
                 output: Path | None, trusted: tuple[str, ...]) -> None:
    """Print a ready-to-paste citation of DOC, optionally with an evidence file.

    The citation names the issuer, title, pin cite, date, original source URL and the archive's
    identifier (orderarchive:ORIGIN/DOC@sha256:HASH). The evidence file (-o) carries the
    quotation, its locator, the whole signed text layer and the offline proof of the entry,
    so that anyone can check it with only the public key:
    orderarchive verify-evidence EVIDENCE --trusted-key KEY.
    """
    with errors_handled(ctx):
        archive = ctx.archive()
        keys = _optional_trusted(ctx, trusted)
        citation = cite(archive, doc, quote=quote_text, page=page, verifiers=keys)
        where = None
        if output is not None:
            where = _write(output, make_evidence(archive, citation, keys))
    if where == "standard output":
        return
    if ctx.as_json:
        emit_json({"ok": True, **citation.to_dict(), "evidence": where})
        return
    _render_citation(citation)
    if where is not None:
        echo(f"wrote {where}: evidence for {citation.doc} (check it with "
             "'orderarchive verify-evidence')", err=True)


def _render_brief(report: BriefReport, doc: str | None) -> None:
    for item in report.items:
        f = item.found
        place = f"page {f.page}, line {f.line}" if f.page is not None else f"line {f.line}"
        echo(f'{place}: "{_short(f.text)}"')
        if item.report is None:
            echo(f"  SKIPPED    {item.skipped}", fg="yellow")
            continue
        for line, colour in _report_lines(item.report, doc):
            echo(f"  {line}", fg=colour)
    totals = report.totals
    summary = ", ".join(f"{n} {status.replace('-', ' ')}" for status, n in totals.items())
    echo(f"{len(report.items)} quotation(s): {summary}",
         fg="green" if report.ok else "red", err=not report.ok)


@cli.command("cite-check")
@click.argument("brief", type=click.Path(path_type=Path))
@click.option("--doc", metavar="DOC", help="Check every quotation against this document only.")
@trusted_key_option
@pass_ctx
def cite_check(ctx: Ctx, brief: Path, doc: str | None, trusted: tuple[str, ...]) -> None:
    """Check every quotation in BRIEF (PDF, HTML, text or Markdown) against the archive.

    Finds quotations in double quotation marks and block quotes (Markdown '>' or indented),
    checks each as 'orderarchive quote' does and reports its status, locator and differences,
    then the totals. Exit 1 if any quotation is misquoted or not found.
    """
    with errors_handled(ctx):
        data = _read(brief)
        archive = ctx.archive()
        report = check_brief(archive, data, brief.name, doc,
                             verifiers=_optional_trusted(ctx, trusted))
    if ctx.as_json:
        emit_json(report.to_dict())
    else:
        _render_brief(report, doc)
    sys.exit(EXIT_OK if report.ok else EXIT_FAILED)


def _render_evidence(result: VerifiedEvidence, path: Path) -> None:
    d = result.fields
    echo(f'VERIFIED  {path}: {d.doc} "{d.title}", entry {result.entry.seq} in release '
         f"{result.checkpoint.size} of {result.checkpoint.origin}, signed by "
         f"{result.entry_signer}", fg="green")
    q = result.quotation
    if q is not None and q.locator is not None:
        how = q.status.value
        if q.normalisations:
            how += f" (after normalising: {', '.join(q.normalisations)})"
        echo(f"  quotation: {how}, characters {q.locator.start}–{q.locator.end} of the signed "
             "text layer")
        for alteration in q.alterations:
            echo(f"  alteration: {alteration}")
    echo(f"  citation: {result.citation}")
    status = "in force" if result.status == "in-force" else result.status
    echo(f"  status in release {result.checkpoint.size}: {status}")
    for e in result.changed_by:
        if e.document is not None:
            echo(f"    {e.document.doc} (entry {e.seq}): {e.document.title}")


@cli.command("verify-evidence")
@click.argument("evidence", type=click.Path(path_type=Path))
@trusted_key_option
@pass_ctx
def verify_evidence_command(ctx: Ctx, evidence: Path, trusted: tuple[str, ...]) -> None:
    """Check an EVIDENCE file from 'orderarchive cite -o' with only the public key.

    Needs no archive. Checks the release's signature, the entry's signature and its inclusion
    in the release, that the carried text layer is the signed one, that the quotation matches
    it at the recorded place, and the citation and status the file states.
    """
    with errors_handled(ctx):
        keys = _trusted(ctx, trusted)
        result = verify_evidence(_read(evidence, MAX_EVIDENCE_BYTES), keys)
    if ctx.as_json:
        emit_json({"ok": True, "evidence": str(evidence), **result.to_dict()})
    else:
        _render_evidence(result, evidence)
