"""CLI commands for key sets (issue 16): key add / rotate / revoke / sign / record, keys,
trust init / show.

A change of the key set is a *proposal file* (docs/FORMAT.md §23): ``key add``, ``key rotate``
and ``key revoke`` write the next version (unsigned); each root key holder runs ``key sign`` on
their own machine; ``key record`` appends it to the log once signed by the root thresholds of
the old and the new key set. ``trust init`` writes the trust file a verifier pins.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..errors import KeyFileError, MalformedError, NotFoundError
from ._common import (
    Ctx,
    _load_signer,
    _trusted,
    echo,
    emit_json,
    errors_handled,
    key_option,
    pass_ctx,
    trusted_key_option,
    write_user_file,
)

MAX_KEYSET_FILE = 1 << 20
_FILE_HELP = "The proposal file (read if it exists, then rewritten)."


def _read(path: Path, what: str) -> bytes:
    from ..userfiles import read_bounded

    return read_bounded(path, MAX_KEYSET_FILE, what=what, error=MalformedError,
                        missing=NotFoundError)


def _vkey(text: str) -> Any:
    from ..log.keys import load_verifiers

    keys = load_verifiers([text])
    if len(keys) != 1:
        raise KeyFileError(f"{text}: name one verifier key (a .vkey file or name+hash+key)")
    return keys[0]


def _parts(ctx: Ctx, proposal: Path) -> tuple[Any, Any]:
    """(archive, the parts of the proposal to change): the proposal file if it exists, else
    the version after the newest key set recorded in the log (version 1 if none)."""
    from ..log.keyset import next_of, read_proposal

    archive = ctx.archive()
    if os.path.lexists(proposal):
        ks, _ = read_proposal(_read(proposal, "key set proposal"))
        if ks.origin != archive.origin:
            raise KeyFileError(f"{proposal} is a key set for {ks.origin}, not {archive.origin}")
        return archive, (ks.version, ks.prev, list(ks.keys), dict(ks.thresholds),
                         list(ks.revoked))
    history = archive.recorded_history()
    return archive, next_of(history.newest if history else None, archive.origin)


def _thresholds(values: Sequence[str]) -> dict[str, int]:
    from ..log.keyset import ROLES

    out: dict[str, int] = {}
    for value in values:
        role, _, n = value.partition("=")
        if role not in ROLES or not n.isdigit() or not n.isascii():
            raise click.BadParameter(f"{value!r} is not ROLE=N (roles: {', '.join(ROLES)})",
                                     param_hint="--threshold")
        out[role] = int(n)
    return out


def _summary(ks: Any) -> dict[str, Any]:
    return {
        "origin": ks.origin,
        "version": ks.version,
        "sha256": ks.digest,
        "prev": ks.prev,
        "keys": [{"key": r.key.to_string(), "roles": list(r.roles)} for r in ks.keys],
        "thresholds": dict(ks.thresholds),
        "revoked": [r.to_dict() for r in ks.revoked],
    }


def _print_keyset(ks: Any, at: int | None = None) -> None:
    where = f" (log entry {at})" if at is not None else ""
    echo(f"key set version {ks.version}{where}: sha256:{ks.digest}")
    for r in ks.keys:
        echo(f"  {', '.join(r.roles):<24} {r.key.to_string()}")
    echo("  thresholds: " + ", ".join(f"{k} {v}" for k, v in sorted(ks.thresholds.items())))
    for r in ks.revoked:
        echo(f"  revoked from entry {r.index} ({r.reason}): {r.key.to_string()}")


def _proposed(ctx: Ctx, proposal: Path, ks: Any, did: str) -> None:
    write_user_file(proposal, ks.text.encode("utf-8"))
    if ctx.as_json:
        emit_json({"ok": True, "proposal": str(proposal), "keyset": _summary(ks),
                   "signatures": 0})
        return
    echo(f"{did}; wrote {proposal} (unsigned): version {ks.version}")
    _print_keyset(ks)
    echo("next: each root key holder runs 'orderarchive key sign "
         f"{proposal} --key THEIR.key', then 'orderarchive key record {proposal}'")


_ROLE_CHOICE = click.Choice(["root", "entry", "release", "log"])


@click.command("add")
@click.argument("vkey")
@click.option("--role", "roles", multiple=True, required=True, type=_ROLE_CHOICE,
              help="A role the key holds (repeatable).")
@click.option("--threshold", "thresholds", multiple=True, metavar="ROLE=N",
              help="How many distinct keys of ROLE must sign (repeatable; default 1, or as "
              "before).")
@click.option("--expires", metavar="YYYY-MM-DDTHH:MM:SSZ",
              help="The key signs no entry recorded at or after this UTC time.")
@click.option("-f", "--file", "proposal", type=click.Path(path_type=Path), required=True,
              help=_FILE_HELP)
@pass_ctx
def key_add(ctx: Ctx, vkey: str, roles: tuple[str, ...], thresholds: tuple[str, ...],
            expires: str | None, proposal: Path) -> None:
    """Propose the next key set with VKEY (a .vkey file or name+hash+key) holding --role.

    Without key sets in the log yet, this builds version 1 (add every root key first)."""
    from ..log.keyset import propose_add

    with errors_handled(ctx):
        archive, parts = _parts(ctx, proposal)
        ks = propose_add(parts, archive.origin, _vkey(vkey), roles, _thresholds(thresholds),
                         expires=expires)
    _proposed(ctx, proposal, ks, f"added {vkey if '+' in vkey else Path(vkey).name}")


@click.command("rotate")
@click.argument("old")
@click.argument("new")
@click.option("-f", "--file", "proposal", type=click.Path(path_type=Path), required=True,
              help=_FILE_HELP)
@pass_ctx
def key_rotate(ctx: Ctx, old: str, new: str, proposal: Path) -> None:
    """Propose the next key set with NEW taking over every role of OLD.

    What OLD signed before the key set is recorded stays valid; it signs nothing after."""
    from ..log.keyset import propose_rotate

    with errors_handled(ctx):
        archive, parts = _parts(ctx, proposal)
        ks = propose_rotate(parts, archive.origin, _vkey(old), _vkey(new))
    _proposed(ctx, proposal, ks, "rotated")


@click.command("revoke")
@click.argument("vkey")
@click.option("--from-index", "index", type=click.IntRange(min=0), required=True,
              help="The first log index the key signs nothing valid at (the theft; at most "
              "the index the key set will be recorded at).")
@click.option("--reason", default="key-compromise", show_default=True,
              help="Why (recorded in the log).")
@click.option("-f", "--file", "proposal", type=click.Path(path_type=Path), required=True,
              help=_FILE_HELP)
@pass_ctx
def key_revoke(ctx: Ctx, vkey: str, index: int, reason: str, proposal: Path) -> None:
    """Propose the next key set revoking VKEY from log index --from-index on.

    What it signed before that index stays valid; everything from it on is refused."""
    from ..log.keyset import propose_revoke

    with errors_handled(ctx):
        archive, parts = _parts(ctx, proposal)
        ks = propose_revoke(parts, archive.origin, _vkey(vkey), index, reason)
    _proposed(ctx, proposal, ks, "revoked")


@click.command("sign")
@click.argument("proposal", type=click.Path(path_type=Path))
@key_option
@pass_ctx
def key_sign(ctx: Ctx, proposal: Path, key_path: Path | None) -> None:
    """Add your signature line to the key set PROPOSAL (with your root key, --key)."""
    from ..log.keyset import read_proposal, sign_proposal

    with errors_handled(ctx):
        ks, signed = read_proposal(_read(proposal, "key set proposal"))
        signer = _load_signer(ctx, key_path, ks.origin)
        signed = sign_proposal(ks, signed, signer)
        write_user_file(proposal, signed.to_bytes())
    count = len(signed.note.signatures)
    if ctx.as_json:
        emit_json({"ok": True, "proposal": str(proposal), "keyset": _summary(ks),
                   "signatures": count})
    else:
        echo(f"signed {proposal} as {signer.verifier().to_string()} ({count} signature"
             f"{'s' if count != 1 else ''})")


@click.command("record")
@click.argument("proposal", type=click.Path(path_type=Path))
@key_option
@pass_ctx
def key_record(ctx: Ctx, proposal: Path, key_path: Path | None) -> None:
    """Record the signed key set PROPOSAL in the log (signed by the writer's key, --key).

    Refused unless it is exactly the next version, signed by the root thresholds of the key
    set in force and of its own, and the writer may write under it."""
    from ..log.keyset import read_proposal

    with errors_handled(ctx):
        archive = ctx.archive()
        _, signed = read_proposal(_read(proposal, "key set proposal"))
        if signed is None:
            raise MalformedError(
                f"{proposal} is not signed yet",
                hint=f"the root key holders run 'orderarchive key sign {proposal} --key KEY'",
            )
        signer = _load_signer(ctx, key_path, archive.origin)
        entry = archive.append_keyset(signed, signer)
    ks = signed.keyset
    if ctx.as_json:
        emit_json({"ok": True, "proposal": str(proposal), "keyset": _summary(ks),
                   "signatures": len(signed.note.signatures), "entry": entry.seq})
    else:
        echo(f"recorded key set version {ks.version} as entry {entry.seq}: sha256:{ks.digest}")
        if ks.version == 1:
            echo("next: 'orderarchive trust init' writes the trust file verifiers pin")


@click.command("keys")
@trusted_key_option
@pass_ctx
def keys_(ctx: Ctx, trusted: tuple[str, ...]) -> None:
    """Show the key-set history recorded in the log, with its log positions.

    With a trust file (keys/*.trust or --trusted-key FILE.trust) the history is walked from
    the pinned version 1 and checked; without one it is read from the log's own version 1
    and said to be unpinned."""
    from ..log.keyset import KeyHistory

    with errors_handled(ctx):
        archive = ctx.archive()
        history: Any = None
        pinned = _has_trust_file(ctx, trusted)
        if pinned:
            keys = _trusted(ctx, trusted)
            history = keys if isinstance(keys, KeyHistory) else None
        if history is None:
            history = archive.recorded_history()
    items = history.holders() if history is not None else []
    if ctx.as_json:
        emit_json({"ok": True, "origin": archive.origin, "pinned": bool(pinned),
                   "keysets": [{"entry": at, **_summary(ks)} for at, ks in items]})
        return
    if not items:
        echo(f"{archive.origin}: no key sets recorded (single-key archive: --trusted-key)")
        return
    echo(f"{archive.origin}: {len(items)} key set{'s' if len(items) != 1 else ''}, "
         + ("walked from the pinned trust file" if pinned else
            "NOT pinned (read from the log's own version 1; run 'orderarchive trust init')"))
    for at, ks in items:
        _print_keyset(ks, at)


def _has_trust_file(ctx: Ctx, trusted: Sequence[str]) -> bool:
    sources = [Path(s) for s in trusted] if trusted else [ctx.keys_dir]
    return any(p.suffix == ".trust" or (p.is_dir() and any(p.glob("*.trust")))
               for p in sources)


@click.group()
def trust() -> None:
    """Write or show the trust file: the pinned key set version 1 verifiers trust."""


@trust.command("init")
@click.option("--from", "source", type=click.Path(path_type=Path),
              help="A signed key set version 1 (default: the one recorded in the log).")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Where to write it (default: <keys dir>/<origin>.trust).")
@pass_ctx
def trust_init(ctx: Ctx, source: Path | None, output: Path | None) -> None:
    """Write the trust file: key set version 1, checked to be signed by its root threshold.

    Publish it (and its SHA-256) where verifiers get the clerk's public key; it replaces the
    keys/ folder of *.vkey files for archives with key sets."""
    from ..log.keys import file_stem
    from ..log.keyset import read_trust

    with errors_handled(ctx):
        if source is not None:
            data = _read(source, "key set")
        else:
            archive = ctx.archive()
            found = archive.keyset_entries(archive.head().size)
            if not found or found[0].keyset is None or found[0].keyset.keyset.version != 1:
                raise NotFoundError(
                    "no key set version 1 is recorded in this log",
                    hint="propose one with 'orderarchive key add', sign it, 'key record' it",
                )
            data = found[0].keyset.to_bytes()
        ks = read_trust(data)
        path = output or ctx.keys_dir / f"{file_stem(ks.origin)}.trust"
        write_user_file(path, data, exclusive=True)
    if ctx.as_json:
        emit_json({"ok": True, "trust_file": str(path), "keyset": _summary(ks)})
    else:
        echo(f"wrote {path}: key set version 1 of {ks.origin}, sha256:{ks.digest}")


@trust.command("show")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@pass_ctx
def trust_show(ctx: Ctx, file: Path | None) -> None:
    """Show the trust file FILE (default: the one in the keys directory), checked."""
    from ..log.keyset import read_trust

    with errors_handled(ctx):
        if file is None:
            found = sorted(ctx.keys_dir.glob("*.trust")) if ctx.keys_dir.is_dir() else []
            if len(found) != 1:
                raise KeyFileError(
                    f"{len(found)} trust files in {ctx.keys_dir}; name the one to show",
                    hint="orderarchive trust show FILE.trust",
                )
            file = found[0]
        ks = read_trust(_read(file, "trust file"))
    if ctx.as_json:
        emit_json({"ok": True, "trust_file": str(file), "keyset": _summary(ks)})
    else:
        echo(f"{file}: {ks.origin}")
        _print_keyset(ks)
