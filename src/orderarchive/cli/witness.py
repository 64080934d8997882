"""CLI commands for running a witness (c2sp.org/tlog-witness): witness keygen, add-log, serve,
list. Each parses, makes one library call, renders."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._common import (
    Ctx,
    LazyGroup,
    _new_passphrase,
    _passphrase,
    echo,
    emit_json,
    errors_handled,
    pass_ctx,
    passphrase_options,
)

_DIR_HELP = "The witness's directory: its key, public key and state database."


def _dir_option(f: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--dir",
        "directory",
        type=click.Path(path_type=Path, file_okay=False),
        required=True,
        envvar="ORDERARCHIVE_WITNESS_DIR",
        show_envvar=True,
        help=_DIR_HELP,
    )(f)


@click.group(cls=LazyGroup)
def witness() -> None:
    """Run a witness that cosigns other logs' checkpoints (c2sp.org/tlog-witness)."""


@witness.command("keygen")
@click.argument("name")
@_dir_option
@click.option("--unencrypted", is_flag=True, help="Store the key without a passphrase (tests).")
@passphrase_options
@pass_ctx
def witness_keygen(ctx: Ctx, name: str, directory: Path, unencrypted: bool) -> None:
    """Create a witness named NAME (e.g. witness.example.org/w1) in --dir: a new key,
    encrypted with a passphrase, and an empty state database."""
    from ..errors import KeyFileError
    from ..log.witness import KEY_FILE, VKEY_FILE, init_witness

    with errors_handled(ctx):
        passphrase = None if unencrypted else _new_passphrase(ctx)
        if passphrase is None and not unencrypted:
            raise KeyFileError(
                "a passphrase is needed to encrypt the witness key",
                hint="pass --passphrase-fd N or --passphrase-file FILE, or --unencrypted",
            )
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise KeyFileError(f"cannot create {directory}: {e.strerror}") from e
        vkey = init_witness(directory, name, passphrase)
    if ctx.as_json:
        emit_json({"ok": True, "witness_key": str(vkey), "directory": str(directory),
                   "encrypted": passphrase is not None})
        return
    echo(f"witness key: {vkey}")
    echo(f"private key written to {directory / KEY_FILE} "
         f"({'encrypted' if passphrase else 'NOT encrypted'}, mode 0600)")
    echo(f"public key written to {directory / VKEY_FILE}")


@witness.command("add-log")
@click.argument("origin")
@click.argument("key")
@_dir_option
@pass_ctx
def witness_add_log(ctx: Ctx, origin: str, key: str, directory: Path) -> None:
    """Witness the log ORIGIN, whose checkpoints are signed by KEY (a verifier key string or
    .vkey file)."""
    from ..log.keys import load_verifiers
    from ..log.witness import open_state

    with errors_handled(ctx):
        (vkey,) = load_verifiers([key])
        added = open_state(directory).add_log(origin, vkey)
    if ctx.as_json:
        emit_json({"ok": True, "origin": origin, "log_key": str(vkey), "added": added})
        return
    echo(f"{'now witnessing' if added else 'already witnessing'} {origin} with key {vkey}")


@witness.command("serve")
@_dir_option
@click.option("--listen", default="127.0.0.1:0", show_default=True, metavar="HOST:PORT",
              help="Where to listen (port 0: a free port, printed).")
@click.option("--prefix", default="", help="URL path prefix (submission prefix).")
@click.option("--max-connections", type=click.IntRange(min=0), default=None, metavar="N",
              help="Stop after N connections (0: check the key and state, print, exit).")
@passphrase_options
@pass_ctx
def witness_serve(ctx: Ctx, directory: Path, listen: str, prefix: str,
                  max_connections: int | None) -> None:
    """Answer POST <prefix>/add-checkpoint and show what was cosigned at GET <prefix>/.

    Prints where it listens (with --json, one JSON line) once the port is open, then serves
    until interrupted. Every cosigned checkpoint is committed to the state database before
    the answer is sent."""
    from ..errors import MalformedError, StorageError
    from ..log.witness import open_witness, witness_key_file
    from ..log.witness_http import make_server

    with errors_handled(ctx):
        host, sep, port_text = listen.rpartition(":")
        if not sep or not port_text.isdigit() or int(port_text) > 65535:
            raise MalformedError(f"--listen {listen!r} is not HOST:PORT")
        sealed = witness_key_file(directory)
        w = open_witness(directory, _passphrase(ctx) if sealed.encrypted else None)
        try:
            server = make_server(w, host or "127.0.0.1", int(port_text), prefix)
        except OSError as e:
            raise StorageError(f"cannot listen on {listen}: {e.strerror}") from e
    if ctx.as_json:
        emit_json({"ok": True, "witness_key": str(w.cosigner.verifier()), "url": server.url})
    else:
        echo(f"witness {w.cosigner.verifier()} listening on {server.url}")
    sys.stdout.flush()
    try:
        if max_connections is None:
            server.serve_forever()
        server.daemon_threads = False  # server_close then waits for the answers being sent
        for _ in range(max_connections or 0):
            server.handle_request()
    finally:
        server.server_close()


@witness.command("list")
@_dir_option
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@pass_ctx
def witness_list(ctx: Ctx, directory: Path, limit: int) -> None:
    """Show what the witness has cosigned, newest first."""
    from ..log.witness import open_state

    with errors_handled(ctx):
        records = open_state(directory).cosigned(limit)
    if ctx.as_json:
        emit_json({"ok": True, "cosigned": [r.to_dict() for r in records]})
        return
    for r in records:
        echo(f"{r.origin} {r.size} {r.to_dict()['root']} {r.time}")
