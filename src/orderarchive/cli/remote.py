"""CLI commands over HTTP against a site 'orderarchive publish' wrote: mirror, and the URL
forms of verify, check and prove (--archive URL). Each parses, makes one library call and
renders."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from ..errors import OrderArchiveError, VerificationError
from ..userfiles import read_user_file
from . import (
    EXIT_FAILED,
    EXIT_OK,
    Ctx,
    _exit_code,
    _trusted,
    cli,
    echo,
    emit_json,
    error_json,
    errors_handled,
    failed_verdict,
    pass_ctx,
    quiet,
    trusted_key_option,
)

# -- over HTTP: mirror, and the URL forms of verify, check and prove ----------------------------


@cli.command()
@click.argument("url")
@click.argument("directory", type=click.Path(path_type=Path))
@trusted_key_option
@pass_ctx
def mirror(ctx: Ctx, url: str, directory: Path, trusted: tuple[str, ...]) -> None:
    """Copy the site at URL (written by 'orderarchive publish') into DIRECTORY.

    Pulls only what DIRECTORY lacks, checks that the site's log extends what the mirror held
    before (and the release remembered for its origin), verifies every file, and writes the
    checkpoint last; an interrupted mirror is resumed by running it again.
    """
    from ..remote import mirror as mirror_site

    with errors_handled(ctx):
        report = mirror_site(url, directory, _trusted(ctx, trusted))
    if ctx.as_json:
        emit_json({"ok": True, **report.to_dict()})
        return
    if not report.written:
        echo(f"up to date: {directory} holds tree size {report.size} of {report.url}")
    else:
        echo(f"mirrored {report.url} into {directory}: tree size {report.old_size} -> "
             f"{report.size}, {len(report.written)} files, {report.requests} requests, "
             f"{report.received} bytes", fg="green")


def verify_url(ctx: Ctx, url: str, trusted: Sequence[str]) -> NoReturn:
    from ..remote import verify_remote

    with errors_handled(ctx):
        terse = quiet(ctx)
        with failed_verdict(terse):
            result = verify_remote(url, _trusted(ctx, trusted))
    if ctx.as_json:
        emit_json({"ok": True, "verified": True, **result})
    elif terse:
        echo("verified")
    else:
        what = "release" if result["released"] else "checkpoint (not a release)"
        echo(f"verified {result['url']}: {result['origin']}, signed {what} of tree size "
             f"{result['size']}, its tiles reproduce the signed root", fg="green")
        echo(f"{len(result['releases'])} signed releases on the chain, each a prefix of "
             "the published tree")
        if "extends" in result["history"]:
            echo(f"extends the tree of size {result['history']['extends']} seen before")
    sys.exit(EXIT_OK)


def check_url(ctx: Ctx, files: Sequence[Path], trusted: Sequence[str]) -> NoReturn:
    from ..remote import HttpSite, check_remote

    url = ctx.archive_url or ""
    with errors_handled(ctx):
        terse = quiet(ctx)
        keys = _trusted(ctx, trusted)
        site = HttpSite(url)
    results: list[tuple[Path, Any]] = []
    for path in files:
        try:
            results.append((path, check_remote(url, read_user_file(path), keys, site=site)))
        except OrderArchiveError as e:
            results.append((path, e))
    code = max(_exit_code(r) if isinstance(r, OrderArchiveError)
               else (EXIT_OK if r.official else EXIT_FAILED) for _, r in results)
    if ctx.as_json:
        emit_json({"ok": code == EXIT_OK, "files": [
            {"file": str(p), "ok": False, "error": error_json(
                type(r).__name__, " ".join(str(r).split()), r.hint, _exit_code(r))}
            if isinstance(r, OrderArchiveError) else {"file": str(p), **r.to_dict()}
            for p, r in results]})
        sys.exit(code)
    for path, r in results:
        if isinstance(r, OrderArchiveError):
            hint = f" (hint: {r.hint})" if r.hint else ""
            echo(f"error: {' '.join(str(r).split())}{hint}", fg="red", err=True)
            if terse:
                echo(f"{'failed' if isinstance(r, VerificationError) else 'error'} {path}")
            continue
        d = r.entry.document if r.entry else None
        if terse:
            echo(f"{r.status} {path}")
        elif r.official and r.entry and d:
            echo(f"OFFICIAL      {path}: {d.doc} \"{d.title}\", entry {r.entry.seq}, release "
                 f"{r.checkpoint.size}, signed by {r.signer.name if r.signer else '?'}; "
                 f"checked over HTTP: SHA-256, entry signature, inclusion proof from the "
                 f"tiles, signed checkpoint ({r.requests} requests)", fg="green")
        elif r.entry and d:
            echo(f"UNRELEASED    {path}: {d.doc} \"{d.title}\", entry {r.entry.seq}, is "
                 "published but not in a signed release", fg="yellow")
        else:
            echo(f"NOT OFFICIAL  {path}: sha256:{r.sha256}: {r.reason}", fg="red")
    sys.exit(code)
