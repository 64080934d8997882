"""CLI commands for the verifier's remembered state: state show, state forget."""

from __future__ import annotations

from typing import Any

import click

from ..history import RememberedFile, forget, remembered_all, state_dir
from ._common import Ctx, echo, emit_json, errors_handled, pass_ctx


def _summary(item: RememberedFile) -> dict[str, Any]:
    out: dict[str, Any] = {"file": str(item.path)}
    if item.seen is None:
        out["problem"] = item.problem
        return out
    cp = item.seen.checkpoint
    out.update({"origin": cp.origin, "size": cp.size, "root": cp.root_hash.hex()})
    return out


def _line(item: RememberedFile) -> str:
    if item.seen is None:
        return f"{item.path}: unreadable ({item.problem})"
    cp = item.seen.checkpoint
    return f"{cp.origin}: tree size {cp.size}, root sha256:{cp.root_hash.hex()} ({item.path})"


@click.group()
def state() -> None:
    """Show or forget the releases remembered per origin by verify.

    verify remembers the newest release it accepted for each origin, and fails if a later
    copy of that log is older (rolled back) or forked. The state directory is
    $ORDERARCHIVE_STATE_DIR, else $XDG_STATE_HOME/orderarchive, else ~/.local/state/orderarchive.
    """


@state.command("show")
@click.argument("origin", required=False)
@pass_ctx
def state_show(ctx: Ctx, origin: str | None) -> None:
    """Show the release remembered for ORIGIN (default: every origin).

    The signature of each was checked when it was remembered; it is not checked again here.
    """
    with errors_handled(ctx):
        items = [
            i
            for i in remembered_all()
            if origin is None or (i.seen is not None and i.seen.checkpoint.origin == origin)
        ]
    if ctx.as_json:
        emit_json(
            {"ok": True, "state_dir": str(state_dir()), "remembered": [_summary(i) for i in items]}
        )
        return
    for item in items:
        echo(_line(item))
    if not items:
        echo(f"nothing remembered{f' for {origin}' if origin else ''} in {state_dir()}")


@state.command("forget")
@click.argument("origin")
@pass_ctx
def state_forget(ctx: Ctx, origin: str) -> None:
    """Forget the release remembered for ORIGIN.

    The next verify of ORIGIN accepts whatever validly signed release it sees first, as on a
    new machine. Use it after checking a test copy that shares the production log's origin;
    never to get past a rollback of the log you rely on. Kept evidence is not removed. The
    fully verified states of ORIGIN's archives are forgotten too (incremental verify).
    """
    with errors_handled(ctx):
        from ..verified import forget_verified

        gone = forget(origin)
        verified = forget_verified(origin)
    if ctx.as_json:
        emit_json({"ok": True, "origin": origin, "forgot": _summary(gone) if gone else None,
                   "verified_states_forgotten": verified})
        return
    if gone is None:
        echo(f"nothing remembered for {origin} in {state_dir()}")
    else:
        echo(f"forgot {_line(gone)}")
        echo(f"the next verify of {origin} will trust the first valid release it sees")
    if verified:
        echo(f"forgot {verified} fully verified state(s) of {origin}: the next verify of "
             "each archive checks everything")
