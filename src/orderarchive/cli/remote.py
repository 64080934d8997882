"""CLI command over HTTP against a site 'orderarchive publish' wrote: mirror (the URL forms
of verify, check and prove live with those commands). Parses, makes one library call,
renders."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._common import (
    EXIT_FAILED,
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

    The site's document pages and index page are copied only if they hold nothing but what
    this program's own pages hold (no script but search.js, no event handler, no javascript:
    or data: link, no frame, form, base or refresh); a page that does not is refused: not
    written, named on stderr, and the command exits 1 once the rest is mirrored. The search
    index is copied when it matches its schema. The verify page, its scripts, trust.json and
    keys/ are written by this program from the keys given here (--keys/--trusted-key), never
    taken from the site. Keys found in a mirror are not to be trusted either: get the
    clerk's key another way.
    """
    from ..remote import mirror as mirror_site

    with errors_handled(ctx):
        report = mirror_site(url, directory, _trusted(ctx, trusted))
    if ctx.as_json:
        emit_json({"ok": not report.pages_refused, **report.to_dict()})
        if report.pages_refused:
            sys.exit(EXIT_FAILED)
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
    if report.pages_refused:
        echo(f"REFUSED {len(report.pages_refused)} pages of the site: they carry active content "
             "this program's pages never hold (not written; the site is hostile or broken)",
             fg="red", err=True)
        for line in report.pages_refused:
            echo(f"  {line}", err=True)
        sys.exit(EXIT_FAILED)
