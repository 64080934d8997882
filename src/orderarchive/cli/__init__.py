"""The command-line interface: parse, one library call, render.

Exit codes (one place: :func:`main`):

====  ==========================================================================
0     success (verified, official, found)
1     verification failed: a bad signature, proof or hash; not the official copy
2     usage error or bad input (option, file, key, passphrase, document)
3     the archive cannot be read at all (missing, unreadable, malformed layout)
====  ==========================================================================
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

from .. import __version__
from . import keys, query, verify, write
from ._common import (
    _ARCHIVE_HELP,
    _JSON_HELP,
    _KEYS_HELP,
    _MAX_SIZE_HELP,
    _S3_ENDPOINT_HELP,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_READER_GONE,
    EXIT_UNREADABLE,
    EXIT_USAGE,
    Ctx,
    LazyGroup,
    _command_name,
    _error_document,
    _ReaderGone,
    _set_archive,
    _set_max_size,
    echo,
    emit_json,
    error_json,
)

# -- the group ---------------------------------------------------------------------------------

# Commands defined in other modules, loaded only when run (or when full help is printed), so
# that start-up stays small: name -> (module, one-line help shown by --help).
_LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "check": (
        "proofs",
        "Check whether FILES are official: byte-identical to archived, "
        "released documents, or the same or a modified text.",
    ),
    "prove": ("proofs", "Write an offline proof (C2SP tlog-proof) that DOCUMENT is official."),
    "verify-proof": (
        "proofs",
        "Check FILE against an offline PROOF with only the public key.",
    ),
    "consistency": ("proofs", "Print the RFC 9162 consistency proof between two releases."),
    "export-sig": ("proofs", "Write a minisign signature of an official file."),
    "quote": ("cite", "Check the quotation TEXT against the archive's signed text layers."),
    "cite": ("cite", "Print a ready-to-paste citation of DOC, optionally with evidence."),
    "cite-check": ("cite", "Check every quotation in BRIEF against the archive."),
    "verify-evidence": ("cite", "Check an EVIDENCE file with only the public key."),
    "state": ("state", "Show or forget the releases remembered per origin by verify."),
    "log": ("log", "Show what each release added, or what changed between two releases."),
    "keys": ("keysets", "Show the key-set history recorded in the log, with its log positions."),
    "trust": ("keysets", "Write or show the trust file: the pinned key set verifiers trust."),
    "publish": ("publish", "Publish the newest release as a static site (C2SP tlog-tiles)."),
    "mirror": ("remote", "Copy a published site into DIR, pulling only what is new."),
    "witness": ("witness", "Run a witness that cosigns other logs' checkpoints."),
}


@click.group(
    cls=LazyGroup,
    lazy=_LAZY_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="The options above may also follow the command (orderarchive verify --json; "
    "there they win).",
)
@click.version_option(__version__, prog_name="orderarchive")
@click.option(
    "--archive",
    "archive",
    type=click.Path(path_type=str),
    default=None,
    metavar="DIR",
    envvar="ORDERARCHIVE_ARCHIVE",
    show_envvar=True,
    help=_ARCHIVE_HELP,
)
@click.option(
    "--keys",
    "keys",
    type=click.Path(path_type=Path),
    default=None,
    metavar="DIR",
    envvar="ORDERARCHIVE_KEYS",
    show_envvar=True,
    help=_KEYS_HELP,
)
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
@click.option(
    "--s3-endpoint",
    "s3_endpoint",
    metavar="URL",
    envvar="ORDERARCHIVE_S3_ENDPOINT",
    show_envvar=True,
    help=_S3_ENDPOINT_HELP,
)
@click.option(
    "--max-size",
    "max_size",
    metavar="SIZE",
    envvar="ORDERARCHIVE_MAX_FILE_SIZE",
    show_envvar=True,
    help=_MAX_SIZE_HELP,
)
@click.pass_context
def cli(
    ctx: click.Context, archive: str | None, keys: Path | None, as_json: bool,
    s3_endpoint: str | None, max_size: str | None
) -> None:
    """orderarchive: signed, append-only archives of official documents.

    Keeps each document with its SHA-256 hash and an Ed25519 signature in a Merkle-tree log
    with signed releases (C2SP checkpoints), so that any copy of a document, a quotation from
    it, or a mirror of the whole archive can be checked offline against the official version.

    Start with: orderarchive verify   (checks the archive found here or above against the keys
    in keys/ beside it)
    """
    ctx.obj = Ctx(None, as_json, keys)
    if archive is not None:
        _set_archive(ctx.obj, archive)
    ctx.obj.s3_endpoint = s3_endpoint
    if max_size is not None:
        _set_max_size(ctx.obj, max_size)


# The commands loaded with the group (the others are in _LAZY_COMMANDS, loaded on first use).
for _command in (write.init, keys.key, write.add, write.release, query.list_, query.show,
                 query.search, verify.verify, write.repair):
    cli.add_command(_command)


def _wants_json(ctx: click.Context | None, argv: Sequence[str]) -> bool:
    """Whether --json was asked for, also when click stopped before the group ran (a usage
    error in the shared options or the command's name)."""
    obj = ctx.find_object(Ctx) if ctx is not None else None
    words = list(argv)
    if "--" in words:
        words = words[: words.index("--")]
    return bool(obj is not None and obj.as_json) or "--json" in words


def _usage_failure(
    ctx: click.Context | None, argv: Sequence[str], error_type: str, message: str,
    hint: str | None, code: int,
) -> NoReturn:
    if _wants_json(ctx, argv):
        emit_json(_error_document(error_json(error_type, message, hint, code)),
                  command=_command_name(ctx))
    line = f"error: {message}" + (f" (hint: {hint})" if hint else "")
    echo(line, fg="red", err=True)
    sys.exit(code)


def main() -> None:
    """Entry point: run the CLI with every error as one line (click's usage errors included),
    and, with --json, as one JSON document on standard output."""
    argv = sys.argv[1:]
    try:
        # Imported inside: Ctrl-C during this import (start-up) is "interrupted", not a
        # traceback (tests/test_interrupt.py sends SIGINT at random times, start-up included).
        from ..log.store import interrupts_until_commit

        with interrupts_until_commit():  # Ctrl-C after a write phase began lets it finish
            cli.main(args=argv, prog_name="orderarchive", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.NoArgsIsHelpError as e:
        # A bare command is a usage error (exit 2, as the README's table says), but its help
        # is the answer, not an error message: print it as help, without "error:".
        if _wants_json(e.ctx, argv):
            where = e.ctx.command_path if e.ctx else "orderarchive"
            emit_json(_error_document(error_json(
                "UsageError", "no command given", f"see '{where} --help'", EXIT_USAGE)),
                command=_command_name(e.ctx))
        click.echo(e.format_message(), err=True)
        sys.exit(EXIT_USAGE)
    except click.UsageError as e:
        where = e.ctx.command_path if e.ctx else "orderarchive"
        _usage_failure(e.ctx, argv, "UsageError", e.format_message(),
                       f"see '{where} --help'", EXIT_USAGE)
    except click.Abort as e:
        if isinstance(e.__context__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            _usage_failure(None, argv, "Interrupted", "interrupted", None, EXIT_INTERRUPTED)
        _usage_failure(None, argv, "Aborted", "aborted", None, EXIT_USAGE)
    except click.ClickException as e:
        _usage_failure(None, argv, type(e).__name__, e.format_message(), None, e.exit_code)
    except KeyboardInterrupt:
        _usage_failure(None, argv, "Interrupted", "interrupted", None, EXIT_INTERRUPTED)
    except _ReaderGone:
        # Nothing more can be said on standard output: exit quietly as a process killed by
        # SIGPIPE does (128 + 13), neither 1 (a failed verification) nor 0 (an unread "no"
        # must not become a yes). Output still buffered goes to /dev/null, not to a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_READER_GONE)


__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_READER_GONE",
    "EXIT_UNREADABLE",
    "EXIT_USAGE",
    "Ctx",
    "cli",
    "main",
]
