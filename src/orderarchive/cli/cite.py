"""CLI commands for citations: quote, cite, cite-check and verify-evidence. Each parses, makes
one library call (:mod:`.cite`) and renders."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from ..citations.cite import (
    MAX_BRIEF_BYTES,
    MAX_BRIEF_QUOTATIONS,
    MAX_EVIDENCE_BYTES,
    BriefReport,
    Citation,
    QuoteReport,
    VerifiedEvidence,
    verify_evidence,
)
from ..citations.quote import QuoteStatus
from ..citing import check_brief, check_quote, cite, make_evidence
from ..documents import DocumentTooLargeError
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    Ctx,
    SizeType,
    _content,
    _read,
    _require_origin_key,
    _trusted,
    _witness_lines,
    _witness_policy,
    _write,
    echo,
    emit_json,
    errors_handled,
    failed_verdict,
    pass_ctx,
    quiet,
    quiet_option,
    trusted_key_option,
    witness_policy_option,
)

_LABELS = {
    QuoteStatus.EXACT: ("EXACT", "green"),
    QuoteStatus.NORMALISED: ("NORMALISED", "green"),
    QuoteStatus.ALTERED: ("ALTERED", "green"),
    QuoteStatus.NEEDS_REVIEW: ("REVIEW", "yellow"),
    QuoteStatus.MISQUOTED: ("MISQUOTED", "red"),
    QuoteStatus.NOT_FOUND: ("NOT FOUND", "red"),
}


_SHOW_SOURCE = frozenset([QuoteStatus.MISQUOTED, QuoteStatus.NEEDS_REVIEW])


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
    if report.is_match and report.released is False:
        label, colour = f"{label} (unreleased)", "yellow"  # exit 1, as check's UNRELEASED
    entry = report.entry
    if report.status is QuoteStatus.NOT_FOUND or entry is None or entry.document is None:
        scope = f"in {doc}" if doc else (
            f"in the archive ({report.searched} candidate documents compared)"
        )
        yield f"{label:<11}not {scope}", colour
        return
    d = entry.document
    yield f'{label:<10} {d.doc} "{d.title}" (entry {entry.seq}), {_where(report)}', colour
    if report.normalisations:
        yield f"  after normalising: {', '.join(report.normalisations)}", None
    for alteration in report.alterations:
        yield f"  alteration: {_short(alteration, 200)}", None
    for review in report.reviews:
        yield f"  needs review: {_short(review, 240)}", "yellow"
    for diff in report.differences:
        quoted, source = _short(diff.quoted, 120), _short(diff.source, 120)
        if diff.op == "changed":
            text = f'quoted "{quoted}" where the source says "{source}"'
        elif diff.op == "removed":
            text = f'left out "{source}" without an ellipsis'
        else:
            text = f'added "{quoted}", which the source does not have'
        yield f"  {diff.op}: {text} (paragraph {diff.paragraph})", None
        if diff.reversal:
            yield f"    {diff.reversal}", "red"
    if report.status in _SHOW_SOURCE and report.match.source_text:
        yield f'  the source reads: "{_short(report.match.source_text, 200)}"', None
    if report.signer is not None:
        yield f"  entry signed by {report.signer}", None
    for warning in report.warnings:
        yield f"  warning: {warning}", "yellow"


@click.command("quote")
@click.argument("text")
@click.option("--doc", metavar="DOC", help="Look only in this document.")
@trusted_key_option
@quiet_option("exact, normalised, altered, needs-review, misquoted, not-found (a match in an "
              "entry not yet released: exact-unreleased...), or 'failed' (a verification failed)")
@pass_ctx
def quote_command(ctx: Ctx, text: str, doc: str | None, trusted: tuple[str, ...]) -> None:
    """Check the quotation TEXT against the archive's signed text layers.

    Says whether it is EXACT, NORMALISED (typography only: quotes, dashes, line breaks...),
    ALTERED (benign alterations such as [T]he, [sic] or an ellipsis inside a paragraph, each
    listed with the source words it stands for), REVIEW (needs-review: an alteration a person
    must read, such as a bracketed substitution or an ellipsis across paragraphs), MISQUOTED
    (with each word-level difference; also any alteration that reverses the source) or NOT
    FOUND, where it is (document, page, paragraph, characters) and whether the document has
    since been amended, superseded or rescinded; the policy is docs/CITATIONS.md.
    Exit 0 only for exact, normalised or altered in a released entry; 1 otherwise
    (needs-review included, and a match in an entry no signed release covers yet, shown as
    e.g. EXACT (unreleased), as 'check' says UNRELEASED of its file). With
    trusted keys (--trusted-key or the --keys directory), the entry's signature and inclusion
    are checked too.
    """
    with errors_handled(ctx):
        terse = quiet(ctx)
        archive = ctx.archive()
        keys = _trusted(ctx, trusted)
        with failed_verdict(terse):
            report = check_quote(archive, text, doc=doc, verifiers=keys)
    if ctx.as_json:
        emit_json({"ok": report.ok, **report.to_dict()})
    elif terse:
        echo(report.verdict)
    else:
        for line, colour in _report_lines(report, doc):
            echo(line, fg=colour)
    sys.exit(EXIT_OK if report.ok else EXIT_FAILED)


def _render_citation(citation: Citation) -> None:
    echo(citation.text)
    report = citation.quote
    if report is not None and not report.is_match:
        for line, colour in _report_lines(report, citation.doc):
            echo(f"accepted for review: {line.strip()}", fg=colour or "yellow", err=True)
    for warning in citation.warnings:
        echo(f"warning: {warning}", fg="yellow", err=True)


@click.command("cite")
@click.argument("doc")
@click.option("--quote", "quote_text", metavar="TEXT",
              help="A quotation to cite: it must match the signed text; the pin cite is its page "
              "(PDF) or paragraph.")
@click.option("--page", type=click.IntRange(min=1), help="Pin cite to this page (PDFs).")
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), metavar="EVIDENCE",
              help="Also write an evidence file for 'orderarchive verify-evidence' "
              "('-' for standard output).")
@click.option("--accept-review", is_flag=True,
              help="Cite a quotation that needs review or is misquoted anyway, after reading "
              "what the policy flags; the status is printed and recorded in the evidence.")
@trusted_key_option
@pass_ctx
def cite_command(ctx: Ctx, *, doc: str, quote_text: str | None, page: int | None,
                 output: Path | None, accept_review: bool, trusted: tuple[str, ...]) -> None:
    """Print a ready-to-paste citation of DOC, optionally with an evidence file.

    The citation names the issuer, title, pin cite, date, original source URL and the archive's
    identifier (orderarchive:ORIGIN/DOC@sha256:HASH). A quotation must be exact, normalised or
    altered (docs/CITATIONS.md); one that needs review or is misquoted is refused (exit 1)
    unless --accept-review is given. The evidence file (-o) carries the
    quotation, its locator, the whole signed text layer and the offline proof of the entry,
    so that anyone can check it with only the public key:
    orderarchive verify-evidence EVIDENCE --trusted-key KEY.
    """
    with errors_handled(ctx):
        archive = ctx.archive()
        keys = _trusted(ctx, trusted)
        _require_origin_key(keys, archive.origin)
        citation = cite(archive, doc, quote=quote_text, page=page, verifiers=keys,
                        accept_review=accept_review)
        where, evidence = None, b""
        if output is not None:
            evidence = make_evidence(archive, citation, keys)
            where = _write(output, evidence, as_json=ctx.as_json)
    if ctx.as_json:
        emit_json({"ok": True, **citation.to_dict(), "evidence": where,
                   **_content(where or "", evidence)})
        return
    if where == "standard output":
        return
    _render_citation(citation)
    if where is not None:
        echo(f"wrote {where}: evidence for {citation.doc} (check it with "
             "'orderarchive verify-evidence')", err=True)


_BRIEF_SUMMARY = {"too-short": "too short to check", "title": "title(s)"}


def _render_brief(report: BriefReport, doc: str | None) -> None:
    for item in report.items:
        f = item.found
        place = f"page {f.page}, line {f.line}" if f.page is not None else f"line {f.line}"
        echo(f'{place}: "{_short(f.text)}"')
        if f.removed:
            echo(f"  note: {', '.join(f'{name} removed' for name in f.removed)} "
                 "(Markdown markup, not words of the quotation)")
        if item.title is not None:
            e = item.title.entry
            d = e.document
            title = d.title if d else ""
            echo(f'  TITLE      {e.doc} "{title}" (entry {e.seq}): the signed title', fg="green")
            if item.title.signer is not None:
                echo(f"    entry signed by {item.title.signer}")
            continue
        if item.report is None:
            echo(f"  TOO SHORT  {item.skipped}; not checked", fg="yellow")
            continue
        for line, colour in _report_lines(item.report, doc):
            echo(f"  {line}", fg=colour)
    totals = report.totals
    summary = ", ".join(
        f"{n} {_BRIEF_SUMMARY.get(status, status.replace('-', ' '))}"
        for status, n in totals.items()
    )
    echo(f"{len(report.items)} quotation(s): {summary}",
         fg="green" if report.ok else "red", err=not report.ok)


@click.command("cite-check")
@click.argument("brief", type=click.Path(path_type=Path))
@click.option("--doc", metavar="DOC", help="Check every quotation against this document only.")
@click.option("--max-size", type=SizeType(), default=MAX_BRIEF_BYTES,
              show_default=True, metavar="SIZE",
              help="Refuse a brief larger than this (bytes, or e.g. 64K, 200M, 2G).")
@click.option("--max-quotations", type=click.IntRange(min=1), default=MAX_BRIEF_QUOTATIONS,
              show_default=True, metavar="N", help="Refuse a brief with more quotations.")
@trusted_key_option
@quiet_option("'ok' (every quotation checked and matching) or 'failed'")
@pass_ctx
def cite_check(ctx: Ctx, *, brief: Path, doc: str | None, max_size: int, max_quotations: int,
               trusted: tuple[str, ...]) -> None:
    """Check every quotation in BRIEF (PDF, HTML, text or Markdown) against the archive.

    Finds quotations in double quotation marks (nested ones too), HTML <q> and <blockquote>,
    and block quotes (Markdown '>' or indented); removes Markdown emphasis, links and code
    marks from them (and says so); checks each as 'orderarchive quote' does and reports its
    status, locator and differences, then the totals. A quotation that is an archived
    document's signed title is reported as TITLE; one of two or three words as TOO SHORT (not
    checked). Exit 0 only if every quotation was checked and matches: exit 1 if any is
    misquoted, not found or too short to check.
    """
    with errors_handled(ctx):
        terse = quiet(ctx)
        data = _read_brief(brief, max_size)
        archive = ctx.archive()
        keys = _trusted(ctx, trusted)
        with failed_verdict(terse):
            report = check_brief(archive, data, brief.name, doc, verifiers=keys,
                                 max_bytes=max_size, max_quotations=max_quotations)
    if ctx.as_json:
        emit_json(report.to_dict())
    elif terse:
        echo("ok" if report.ok else "failed")
    else:
        _render_brief(report, doc)
    sys.exit(EXIT_OK if report.ok else EXIT_FAILED)


def _read_brief(path: Path, max_size: int) -> bytes:
    """The brief's bytes, refused before reading if the file is over *max_size*."""
    try:
        size = path.stat().st_size if path.is_file() else 0
    except OSError:
        size = 0  # _read says what is wrong with it
    if size > max_size:
        raise DocumentTooLargeError(
            f"{path} is {size} bytes, over the limit of {max_size} bytes",
            hint="raise the limit with --max-size, or check the brief in parts",
        )
    return _read(path)


def _claimed_origin(data: bytes) -> str | None:
    """The origin an evidence file's proof claims (unverified: it only tells a wrong key,
    exit 2, from a failed verification, exit 1), or None when the file cannot say; then
    :func:`.cite.verify_evidence` reports what is wrong with it."""
    from ..canonical import loads_strict
    from ..errors import OrderArchiveError
    from ..log.tlogproof import inner_proof

    try:
        body = loads_strict(data.decode("utf-8"))
        proof = body.get("proof") if isinstance(body, dict) else None
        if not isinstance(proof, str):
            return None
        return inner_proof(proof.encode("utf-8")).parsed_checkpoint()[0].origin
    except (OrderArchiveError, UnicodeError):
        return None


def _render_evidence(result: VerifiedEvidence, path: Path) -> None:
    d = result.fields
    echo(f'VERIFIED  {path}: {d.doc} "{d.title}", entry {result.entry.seq} in release '
         f"{result.checkpoint.size} of {result.checkpoint.origin}, signed by "
         f"{result.entry_signer}", fg="green" if result.accepted else "yellow")
    q = result.quotation
    if q is not None and q.locator is not None:
        how = q.status.value
        if not q.is_match:
            how = f"{how.upper()} (cited with --accept-review: NOT an accepted quotation)"
        if q.normalisations:
            how += f" (after normalising: {', '.join(q.normalisations)})"
        echo(f"  quotation: {how}, characters {q.locator.start}–{q.locator.end} of the signed "
             "text layer", fg=None if q.is_match else "red")
        for alteration in q.alterations:
            echo(f"  alteration: {_short(alteration, 200)}")
        for review in q.reviews:
            echo(f"  needs review: {_short(review, 240)}", fg="yellow")
        for diff in q.differences:
            echo(f'  {diff.op}: quoted "{_short(diff.quoted, 120)}", the source says '
                 f'"{_short(diff.source, 120)}" (paragraph {diff.paragraph})'
                 + (f"; {diff.reversal}" if diff.reversal else ""), fg="red")
    echo(f"  citation: {result.citation}")
    # A standing other than in force is proven by the signed acts the file carries; "in
    # force" is only their absence, and an act left out of the file cannot be detected
    # offline (docs/FORMAT.md, evidence `status`).
    status = (
        "in force as far as this evidence shows (it carries no amending, superseding or "
        "rescinding act; one left out cannot be detected offline: 'orderarchive show' asks "
        "the archive)"
        if result.status == "in-force" else result.status
    )
    echo(f"  status in release {result.checkpoint.size}: {status}")
    for e in result.changed_by:
        if e.document is not None:
            echo(f"    {e.document.doc} (entry {e.seq}): {e.document.title}")


@click.command("verify-evidence")
@click.argument("evidence", type=click.Path(path_type=Path))
@trusted_key_option
@witness_policy_option
@quiet_option("'verified', the quotation's status if it was cited with --accept-review "
              "(needs-review, misquoted), or 'failed'")
@pass_ctx
def verify_evidence_command(ctx: Ctx, evidence: Path, trusted: tuple[str, ...],
                            policy_file: Path | None) -> None:
    """Check an EVIDENCE file from 'orderarchive cite -o' with only the public key.

    Needs no archive. Checks the release's signature, the entry's signature and its inclusion
    in the release, that the carried text layer is the signed one, that the quotation is found
    in it at the recorded place with the recorded status, and the citation and status the file
    states. Exit 1 if the file verifies but its quotation was cited with --accept-review
    (needs-review or misquoted): the status is printed.
    """
    with errors_handled(ctx):
        terse = quiet(ctx)
        keys = _trusted(ctx, trusted, offline=True)
        data = _read(evidence, MAX_EVIDENCE_BYTES)
        claimed = _claimed_origin(data)
        if claimed is not None:
            _require_origin_key(keys, claimed, "the evidence")
        policy = _witness_policy(policy_file)
        with failed_verdict(terse):
            result = verify_evidence(data, keys)
            cosigned = None
            if policy is not None:
                from ..witnessing import require_cosigned_evidence

                cosigned = require_cosigned_evidence(data, result.trust or keys, policy,
                                                     result.checkpoint)
    if ctx.as_json:
        witnesses = {} if cosigned is None else {"witnesses": cosigned.to_dict()}
        emit_json({"ok": result.accepted, "evidence": str(evidence), **result.to_dict(),
                   **witnesses})
    elif terse:
        q = result.quotation
        echo("verified" if result.accepted or q is None else q.status.value)
    else:
        _render_evidence(result, evidence)
        for line in _witness_lines(cosigned) if cosigned is not None else ():
            echo(line)
    sys.exit(EXIT_OK if result.accepted else EXIT_FAILED)
