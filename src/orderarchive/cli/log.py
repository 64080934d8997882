"""CLI command for the release history: log. Parses, makes one library call, renders."""

from __future__ import annotations

from collections.abc import Iterator

import click

from ..releaselog import Changes, between, release_log
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


def _size(text: str, what: str) -> int:
    from ..errors import MalformedError

    if not text.isascii() or not text.isdigit() or len(text) > 20:
        raise MalformedError(f"{what} {text!r} is not a release (a tree size)")
    return int(text)


def _entries(c: Changes) -> str:
    return f"entry {c.start}" if c.end - c.start == 1 else f"entries {c.start}-{c.end - 1}"


def _lines(c: Changes) -> Iterator[str]:
    rows = []
    for a in c.added:
        rows.append(("+", a.doc, a.kind, a.issued or "-", a.title))
        for kind, target in a.relations:
            rows.append(("", f"  {kind.replace('-', ' ')} {target}", "", "", ""))
    for line in _columns(rows) if rows else ():
        yield f"  {line}"
    for s in c.status_changes:
        yield (f"  status of {s.doc}: {s.before.replace('-', ' ')} -> "
               f"{s.after.replace('-', ' ')} ({s.title})")


@click.command("log")
@click.argument("old", required=False)
@click.argument("new", required=False)
@trusted_key_option
@pass_ctx
def log_command(ctx: Ctx, old: str | None, new: str | None, trusted: tuple[str, ...]) -> None:
    """Show what each release added (documents and their relations), newest first.

    With OLD (and NEW, default the latest release): what the releases after OLD up to NEW
    added, and whose status (in force, amended, superseded, rescinded, corrected) they changed.
    OLD and NEW are release tree sizes. Every entry's signature is checked against the trusted
    keys and every release's signed root recomputed from the entries before anything is shown.
    """
    with errors_handled(ctx):
        archive = ctx.archive()
        keys = _trusted(ctx, trusted)
        if old is None:
            log = release_log(archive, keys)
        else:
            old_size = _size(old, "OLD")
            if new is None:
                from ..releaselog import signed_releases

                chain = signed_releases(archive, keys)[1]
                new_size = chain[-1].size if chain else 0
            else:
                new_size = _size(new, "NEW")
            log = [between(archive, keys, old_size, new_size)]
    if ctx.as_json:
        body = {"ok": True, "verified": True, "origin": archive.origin}
        if old is None:
            emit_json({**body, "releases": [c.to_dict() for c in reversed(log)]})
        else:
            emit_json({**body, **log[0].to_dict()})
        return
    if old is not None:
        c = log[0]
        echo(f"{archive.origin}: release {c.start} -> release {c.end} ({_entries(c)}), "
             f"root sha256:{c.root.hex()}")
        for line in _lines(c):
            echo(line)
        if not c.status_changes:
            echo("  no document changed status")
        return
    for c in reversed(log):
        head = f"release {c.end}" if c.released else "not yet released"
        echo(f"{head}: {_entries(c)}, root sha256:{c.root.hex()}")
        for line in _lines(c):
            echo(line)
    if not log:
        echo(f"{archive.origin}: no entries yet")
