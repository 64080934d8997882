"""CLI command over HTTP against a site 'orderarchive publish' wrote: mirror (the URL forms
of verify, check and prove live with those commands). Parses, makes one library call,
renders."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import (
    Ctx,
    _trusted,
    echo,
    emit_json,
    errors_handled,
    pass_ctx,
    trusted_key_option,
)

# -- mirror ------------------------------------------------------------------------------------


@click.command()
@click.argument("url")
@click.argument("directory", type=click.Path(path_type=Path))
@trusted_key_option
@pass_ctx
def mirror(ctx: Ctx, url: str, directory: Path, trusted: tuple[str, ...]) -> None:
    """Copy the site at URL (written by 'orderarchive publish') into DIRECTORY.

    Pulls only what DIRECTORY lacks, checks that the site's log extends what the mirror held
    before (and the release remembered for its origin), verifies every file, and writes the
    checkpoint last; an interrupted mirror is resumed by running it again.

    The site's document pages, index page and search index are copied as they are; the verify
    page, its scripts, trust.json and keys/ are written by this program from the keys given
    here (--keys/--trusted-key), never taken from the site. Keys found in a mirror are not to
    be trusted either: get the clerk's key another way.
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
        if report.pages:
            echo(f"{report.pages} pages copied; the verify page, its scripts, trust.json and "
                 "keys/ written from the keys this mirror was verified with (never the site's)")
        elif report.pages_skipped:
            echo(f"pages not copied: {report.pages_skipped}")
