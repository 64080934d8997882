"""The queries: list, show, search (answers re-read from verified entries)."""

from __future__ import annotations

import click

from ._common import (
    Ctx,
    _columns,
    _trusted,
    echo,
    emit_json,
    errors_handled,
    pass_ctx,
    trusted_key_option,
)

# -- list / show -------------------------------------------------------------------------------


@click.command("list")
@click.option("--kind", help="Only documents of this kind.")
@trusted_key_option
@pass_ctx
def list_(ctx: Ctx, kind: str | None, trusted: tuple[str, ...]) -> None:
    """List the archived documents with their status, in aligned columns.

    Every entry is verified against the trusted keys; the status (in force, amended,
    superseded, rescinded, corrected) comes from the relations in the signed entries, as
    'orderarchive show' gives it, counting acts not yet released.
    """
    from ..status import list_documents

    with errors_handled(ctx):
        archive = ctx.archive()
        docs = list_documents(archive, _trusted(ctx, trusted), kind=kind)
    if ctx.as_json:
        emit_json({"ok": True, "verified": True, "documents": [d.to_dict() for d in docs]})
        return
    if not docs:
        echo("the archive holds no documents")
        return
    rows = [("SEQ", "DOC", "KIND", "ISSUED", "STATUS", "TITLE")]
    for d in docs:
        flag = "" if d.released else "  (unreleased)"
        rows.append((str(d.seq), d.doc, d.kind, d.issued or "-", d.status.replace("-", " "),
                     d.title + flag))
    for line in _columns(rows, right=(0,)):
        echo(line)


@click.command()
@click.argument("doc")
@trusted_key_option
@pass_ctx
def show(ctx: Ctx, doc: str, trusted: tuple[str, ...]) -> None:
    """Show a document: its entry, versions and status, and articles reporting on it."""
    from ..status import document_status

    with errors_handled(ctx):
        archive = ctx.archive()
        status = document_status(archive, doc, _trusted(ctx, trusted))
    if ctx.as_json:
        emit_json({"ok": True, "verified": True, **status.to_dict()})
    else:
        for line in status.render():
            echo(line)


@click.command()
@click.argument("terms", nargs=-1, required=True)
@click.option("--doc", help="Search only this document.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@trusted_key_option
@pass_ctx
def search(
    ctx: Ctx, terms: tuple[str, ...], doc: str | None, limit: int, trusted: tuple[str, ...]
) -> None:
    """Full-text search of the signed text layers (every word must occur; "..." is a phrase).

    Shows the document, page and paragraph, and a snippet. Results come from an index built
    from entries verified against the trusted keys, and each hit is re-read from the signed
    text layer; use 'orderarchive quote' to check a passage against the signed text.
    """
    from ..status import search_documents

    with errors_handled(ctx):
        archive = ctx.archive()
        hits, suggestion = search_documents(archive, _trusted(ctx, trusted), " ".join(terms),
                                            limit=limit, doc=doc)
    if ctx.as_json:
        emit_json(
            {
                "ok": True,
                "verified": True,
                "suggestion": suggestion,
                "hits": [
                    {
                        "seq": h.seq,
                        "doc": h.doc,
                        "title": h.title,
                        "page": h.page,
                        "paragraph": h.paragraph,
                        "snippet": h.snippet,
                    }
                    for h in hits
                ],
            }
        )
        return
    for h in hits:
        place = (
            "title"
            if h.paragraph == 0
            else ((f"page {h.page}, " if h.page is not None else "") + f"paragraph {h.paragraph}")
        )
        echo(f"{h.doc} ({place}): {' '.join(h.snippet.split())}")
    if not hits:
        echo("no matches" + (f"; did you mean: {suggestion}" if suggestion else ""))
