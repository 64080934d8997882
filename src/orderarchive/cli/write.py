"""The commands that write the archive: init, add, release, repair."""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from ..errors import ConflictError, MalformedError, NotFoundError
from ._common import (
    WRITER_RETRIES,
    Ctx,
    _entry_summary,
    _load_signer,
    _oneline,
    _progress,
    _s3_url,
    _witness_round,
    _writer_verifier,
    echo,
    emit_json,
    emit_json_items,
    errors_handled,
    key_option,
    pass_ctx,
    witnesses_option,
    write_user_file,
)

# -- init --------------------------------------------------------------------------------------


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--origin", required=True, help="The log's name, e.g. boston.gov/executive-orders.")
@pass_ctx
def init(ctx: Ctx, directory: Path | None, origin: str) -> None:
    """Create an empty archive in DIRECTORY (default: --archive, else ./archive)."""
    from ..archive import Archive

    with errors_handled(ctx):
        if directory is None and ctx.archive_url is not None:
            ctx.archive()  # a URL is not a directory to create: the one-line refusal
        url = _s3_url(directory) or (ctx.bucket_url if directory is None else None)
        if url is not None:  # a bucket (issue 19): it must not hold an archive already
            store = ctx.s3_store(url)
            if store.exists("orderarchive.json"):
                raise ConflictError(f"{url} already holds an archive")
            archive = Archive.init_store(store, origin)
        else:
            archive = Archive.init(directory or ctx.archive_given or Path("archive"), origin)
    where = url or archive.path
    if ctx.as_json:
        emit_json({"ok": True, "archive": str(where), "origin": origin})
    else:
        echo(f"created archive {where} for origin {origin}")


# -- add ---------------------------------------------------------------------------------------

RELATION_OPTIONS = ("amends", "supersedes", "rescinds", "corrects", "reports_on")


@click.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--id", "doc_id", help="Stable document id (default: from the file name).")
@click.option(
    "--kind",
    type=click.Choice(
        ["executive-order", "article", "press-release", "ordinance", "memorandum", "other"]
    ),
    help="Default: executive-order for PDFs, article otherwise.",
)
@click.option("--title", help="Default: the title found in the file, else the file name.")
@click.option("--issuer", help="Who issued it (default: the author found in the file).")
@click.option(
    "--issued",
    help="Date issued or published, YYYY-MM-DD (default: from the file, except for orders).",
)
@click.option(
    "--issued-from-file",
    is_flag=True,
    help="Sign an order's date found in the file's metadata (refused otherwise: a PDF's "
    "creation date is usually the day it was exported).",
)
@click.option("--source-url", help="Where the original was published.")
@click.option("--media-type", help="Override the detected media type.")
@click.option("--amends", multiple=True, metavar="DOC", help="This document amends DOC.")
@click.option("--supersedes", multiple=True, metavar="DOC", help="This document supersedes DOC.")
@click.option("--rescinds", multiple=True, metavar="DOC", help="This document rescinds DOC.")
@click.option("--corrects", multiple=True, metavar="DOC", help="This document corrects DOC.")
@click.option("--reports-on", multiple=True, metavar="DOC", help="This article reports on DOC.")
@click.option(
    "--include",
    multiple=True,
    metavar="GLOB",
    help="In a directory, add only files whose path or name matches GLOB (repeatable).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="In a directory, skip files whose path or name matches GLOB (repeatable).",
)
@click.option(
    "--manifest",
    type=click.Path(path_type=Path),
    help="A CSV file naming each file and its metadata (docs/FORMAT.md, 'Add manifest').",
)
@click.option("--dry-run", is_flag=True, help="Show what would be signed; write nothing.")
@key_option
@witnesses_option
@pass_ctx
def add(
    ctx: Ctx,
    /,
    files: tuple[Path, ...],
    doc_id: str | None,
    kind: str | None,
    title: str | None,
    issuer: str | None,
    issued: str | None,
    issued_from_file: bool,
    source_url: str | None,
    media_type: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    manifest: Path | None,
    dry_run: bool,
    key_path: Path | None,
    witnesses_file: Path | None,
    **relations: tuple[str, ...],
) -> None:
    """Archive FILES (documents or directories) as signed entries, all or none.

    Prints what it signs for each document (id, kind, title, issuer, issued) and where each
    value came from: given, file metadata, file name or file type. Directories are read
    recursively in sorted order; --manifest reads files and metadata from a CSV file.
    """
    from ..documents.ingest import (
        AddOptions,
        FileItems,
        expand_paths,
        item_chunks,
        plan_items,
        read_manifest,
    )

    with errors_handled(ctx):
        if (manifest is None) == (not files):
            raise MalformedError("name the FILES to add, or pass --manifest (not both)")
        archive = ctx.archive()
        paths = expand_paths(files, include=include, exclude=exclude, archive=archive.path)
        if (len(paths) > 1 or manifest) and (doc_id or title or source_url):
            raise MalformedError(
                "--id, --title and --source-url name one document; add files one at a time"
            )
        rels = [
            (name.replace("_", "-"), target)
            for name in RELATION_OPTIONS
            for target in relations.get(name, ())
        ]
        options = AddOptions(
            doc_id=doc_id,
            kind=kind,
            title=title,
            issuer=issuer,
            issued=issued,
            source_url=source_url,
            media_type=media_type,
            relations=tuple(rels),
            issued_from_file=issued_from_file,
        )
        items = (
            read_manifest(manifest, options, archive=archive.path)
            if manifest is not None
            else FileItems(paths, options)
        )
        chunks = item_chunks(items)
        if len(chunks) > 1:  # more than one batch: read, checked and written batch by batch
            _add_in_batches(ctx, archive, items, chunks, dry_run, key_path, witnesses_file)
            return
        planned = plan_items(items, progress=_progress("reading", not ctx.as_json))
        requests = [p.request for p in planned]
        # Before the passphrase prompt; add checks again with the unlocked key.
        archive.check_new(requests, _writer_verifier(ctx, key_path, archive.origin,
                                                     dry_run=dry_run))
        witnessed = None
        if dry_run:
            entries = []
        else:
            signer = _load_signer(ctx, key_path, archive.origin)
            entries = archive.add(requests, signer, retries=WRITER_RETRIES)
            head = archive.head()
            if entries and head.note is not None:
                witnessed = _witness_round(ctx, archive, head.note, "checkpoint",
                                           witnesses_file)
    docs = [
        {**p.request.fields.to_dict(), "sources": dict(p.sources), "file": str(p.path)}
        for p in planned
    ]
    _report_added(ctx, docs, [e.seq for e in entries], dry_run, witnessed,
                  summaries=[_entry_summary(e) for e in entries])


def _add_in_batches(ctx: Ctx, archive: Any, items: Sequence[Any], chunks: Sequence[range],
                    dry_run: bool, key_path: Path | None, witnesses_file: Path | None) -> None:
    """add of more documents than one batch: each batch read, checked (against the archive
    and the batches before it) and written in turn, one commit at the end; what is printed
    per document waits in a temporary file until the commit (memory stays bounded)."""
    from ..documents.ingest import check_items, plan_chunks, read_ahead

    with errors_handled(ctx), tempfile.TemporaryFile() as spool:
        # Every file opened (not read) before the passphrase prompt, as a one-batch add
        # reads them all first: a typo in the 1000th name must not cost a passphrase.
        check_items(items)

        def requests() -> Iterator[list[Any]]:
            spool.seek(0)
            spool.truncate()  # a retry after a lost race reads and prints everything again
            progress = _progress("reading", not ctx.as_json)
            # The next batch is read while this one is checked, signed and written.
            for planned in read_ahead(plan_chunks(items, chunks, progress=progress)):
                spool.writelines(
                    json.dumps({**p.request.fields.to_dict(), "sources": dict(p.sources),
                                "file": str(p.path)}).encode() + b"\n"
                    for p in planned
                )
                yield [p.request for p in planned]

        witnessed = None
        if dry_run:
            archive.check_new_chunks(
                requests(), _writer_verifier(ctx, key_path, archive.origin, dry_run=True)
            )
            seqs: Iterable[int] = ()
            summaries: Iterable[dict[str, Any]] | None = None
        else:
            # The passphrase before the documents are read (each file was only opened
            # above): their contents are checked as they are read.
            signer = _load_signer(ctx, key_path, archive.origin)
            added = archive.add_chunks(requests, signer, retries=WRITER_RETRIES)
            head = archive.head()
            if added.end > added.start and head.note is not None:
                witnessed = _witness_round(ctx, archive, head.note, "checkpoint",
                                           witnesses_file)
            seqs = range(added.start, added.end)
            summaries = (
                (_entry_summary(e) for e in archive.iter_entries(added.start, added.end))
                if ctx.as_json else None
            )
        spool.seek(0)
        docs = (json.loads(line) for line in spool)
        _report_added(ctx, docs, seqs, dry_run, witnessed, summaries=summaries)


def _report_added(ctx: Ctx, docs: Iterable[dict[str, Any]], seqs: Iterable[int], dry_run: bool,
                  witnessed: Any, *, summaries: Iterable[dict[str, Any]] | None) -> None:
    """Print what add signed (or would sign), document by document, as the items arrive."""
    if ctx.as_json:
        if dry_run:
            emit_json_items({"ok": True, "dry_run": True}, "documents", docs)
        else:
            emit_json_items(
                {"ok": True,
                 **({} if witnessed is None else {"witnesses": witnessed.to_dict()})},
                "added",
                ({**e, "sources": d["sources"], "file": d["file"]}
                 for e, d in zip(summaries or (), docs, strict=True)),
            )
        return
    from .._display import terminal_safe

    count = 0
    for f, seq in zip(docs, itertools.chain(seqs, itertools.repeat(None)), strict=False):
        count += 1
        head = f"would add {f['doc']}" if dry_run else f"added {f['doc']} as entry {seq}"
        lines = [f"{head}: {_oneline(f['title'])} (sha256:{f['sha256'][:16]}…) from {f['file']}"]
        lines.extend(
            f"    {name:<7} {_oneline(value) or '-':<40}  ({f['sources'][name]})"
            for name, value in (("id", f["doc"]), ("kind", f["kind"]), ("title", f["title"]),
                                ("issuer", f["issuer"]), ("issued", f.get("issued") or ""))
        )
        # One write per document, each line escaped on its own (a newline in a file name
        # stays visible as \n, as echo() shows it).
        echo("\n".join(terminal_safe(line) for line in lines), multiline=True)
    if dry_run:
        echo(f"dry run: {count} document(s) would be added; nothing was written")
    else:
        echo(
            f"{count} document(s) added, not yet released "
            "(run 'orderarchive release' to publish them)"
        )


# -- release -----------------------------------------------------------------------------------


@click.command()
@click.option("--prepare", "prepare", type=click.Path(path_type=Path), metavar="FILE",
              help="Write the release of the current tree, signed by the writer only, to FILE "
              "for the release key holders to co-sign (k-of-n releases).")
@click.option("--cosign", "cosign_file", type=click.Path(path_type=Path), metavar="FILE",
              help="Add your signature line (--key: your release key) to the prepared FILE.")
@click.option("--publish", "publish", type=click.Path(path_type=Path), metavar="FILE",
              help="Publish the co-signed FILE once it carries the release threshold.")
@key_option
@witnesses_option
@pass_ctx
def release(ctx: Ctx, prepare: Path | None, cosign_file: Path | None, publish: Path | None,
            key_path: Path | None, witnesses_file: Path | None) -> None:
    """Sign a release checkpoint of the current tree (it must extend the last release).

    With a witness file, the release is sent to each witness; fewer cosignatures than its
    quorum exits 1 (the release stays; run release again to resend). Where the log's key
    sets require several release keys: --prepare FILE on the writer's machine, --cosign FILE
    on each holder's, then --publish FILE."""
    if sum(x is not None for x in (prepare, cosign_file, publish)) > 1:
        raise click.UsageError("give one of --prepare, --cosign and --publish")
    if prepare or cosign_file:
        _release_step(ctx, prepare, cosign_file, key_path)
        return
    with errors_handled(ctx):
        archive = ctx.archive()
        signer = _load_signer(ctx, key_path, archive.origin)
        if publish is not None:
            from ..userfiles import read_bounded

            note = read_bounded(publish, 1 << 20, what="prepared release", missing=NotFoundError)
            rel = archive.publish_release(note, signer)
        else:
            rel = archive.release(signer, retries=WRITER_RETRIES)
        if not ctx.as_json:
            state = "released" if rel.created else "already released"
            echo(f"{state}: tree size {rel.size}, root sha256:{rel.root.hex()}")
            echo(rel.note.decode().rstrip("\n"), multiline=True)
        report = _witness_round(ctx, archive, rel.note, "release", witnesses_file)
    if ctx.as_json:
        doc = {
            "ok": True,
            "size": rel.size,
            "root": rel.root.hex(),
            "new": rel.created,
            "checkpoint": rel.note.decode(),
        }
        if report is not None:
            doc["witnesses"] = report.to_dict()
        emit_json(doc)


def _release_step(
    ctx: Ctx, prepare: Path | None, cosign_file: Path | None, key_path: Path | None
) -> None:
    """release --prepare FILE / --cosign FILE: write the note; nothing in the archive."""
    from ..log.checkpoint import Checkpoint
    from ..log.keyset import cosign
    from ..log.note import SignedNote
    from ..userfiles import read_bounded

    with errors_handled(ctx):
        if prepare is not None:
            archive = ctx.archive()
            note = archive.prepare_release(_load_signer(ctx, key_path, archive.origin))
            path = prepare
            write_user_file(path, note, exclusive=True)
        elif cosign_file is not None:
            path = cosign_file
            note = read_bounded(path, 1 << 20, what="prepared release", missing=NotFoundError)
            cp = Checkpoint.parse(SignedNote.parse(note).text)
            note = cosign(note, _load_signer(ctx, key_path, cp.origin))
            write_user_file(path, note)
        else:
            raise click.UsageError("give --prepare FILE or --cosign FILE")
        cp = Checkpoint.parse(SignedNote.parse(note).text)
        count = len(SignedNote.parse(note).signatures)
    if ctx.as_json:
        emit_json({"ok": True, "prepared": str(path), "size": cp.size,
                   "root": cp.root_hash.hex(), "signatures": count})
    else:
        what = "prepared" if prepare is not None else "co-signed"
        echo(f"{what} {path}: release of tree size {cp.size}, root sha256:"
             f"{cp.root_hash.hex()}, {count} signature{'s' if count != 1 else ''}")


@click.command()
@click.option(
    "--discard-uncheckpointed",
    is_flag=True,
    help="Also discard entries when no checkpoint exists (an interrupted first add).",
)
@pass_ctx
def repair(ctx: Ctx, discard_uncheckpointed: bool) -> None:
    """Remove debris an interrupted add left past the last checkpoint.

    Only bytes that no signed checkpoint covers are removed: nothing committed is lost.
    """
    with errors_handled(ctx):
        archive = ctx.archive()
        cut = archive.repair(discard_uncheckpointed=discard_uncheckpointed)
        removed, kept = archive.remove_debris()
    if ctx.as_json:
        emit_json({"ok": True, "removed_bytes": cut, "removed_leftovers": removed,
                   "unknown_kept": kept})
        return
    for name, n in cut.items():
        echo(f"removed {n} uncommitted bytes from {name}")
    for name in removed:
        echo(f"removed leftover {name}")
    for name in kept:
        echo(f"kept unknown {name} (not the tool's own; remove it by hand if not needed)")
    if not (cut or removed or kept):
        echo("nothing to repair")
