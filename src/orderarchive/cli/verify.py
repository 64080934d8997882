"""verify: the whole archive against the trusted keys."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    Ctx,
    _progress,
    _require_origin_key,
    _trusted,
    echo,
    emit_json,
    errors_handled,
    failed_verdict,
    pass_ctx,
    quiet,
    quiet_option,
    trusted_key_option,
)

# -- verify / repair ---------------------------------------------------------------------------


@click.command()
@trusted_key_option
@click.option(
    "--since",
    "since",
    type=click.Path(path_type=Path),
    help="A checkpoint seen before: prove the archive extends it.",
)
@click.option("--no-objects", is_flag=True, help="Skip re-hashing document objects.")
@quiet_option("'verified' or 'failed'")
@pass_ctx
def verify(ctx: Ctx, trusted: tuple[str, ...], since: Path | None, no_objects: bool) -> None:
    """Verify the whole archive: entries, signatures, objects, tree, releases."""
    with errors_handled(ctx):
        terse = quiet(ctx)
        archive = ctx.archive()  # "no archive here" before "no trusted keys"
        keys = _trusted(ctx, trusted)
        _require_origin_key(keys, archive.origin)
        with failed_verdict(terse):
            report = archive.audit(
                keys, progress=_progress("verifying", not (ctx.as_json or terse)),
                check_objects=not no_objects,
            )
            extra: dict[str, Any] = {}
            if since is not None or report.ok:
                from ..history import check_history

                extra = check_history(archive, keys, report, since=since)
    problems = list(report.problems) + list(extra.get("problems", ()))
    if ctx.as_json:
        out = report.to_dict()
        out["problems"] = [p.to_dict() for p in problems]
        out["ok"] = out["verified"] = not problems
        out.update({k: v for k, v in extra.items() if k != "problems"})
        emit_json(out)
    elif terse:
        echo("failed" if problems else "verified")
    else:
        for p in problems:
            echo(f"FAIL {p.message}", fg="red")
        for line in extra.get("lines", ()):
            echo(line)
        if not problems:
            echo(
                f"verified {report.origin}: {report.size} entries ({report.documents} documents), "
                f"{report.signatures_checked} signatures, {report.objects_checked} objects",
                fg="green",
            )
            if report.releases:
                echo(
                    f"released up to tree size {report.released_size}"
                    + (
                        f"; {report.unreleased} entries not yet released"
                        if report.unreleased
                        else ""
                    )
                )
            else:
                echo("no release yet: every entry is unreleased")
        else:
            echo(f"verification FAILED: {len(problems)} problem(s)", fg="red", err=True)
    sys.exit(EXIT_OK if not problems else EXIT_FAILED)
