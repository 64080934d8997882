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

import hmac
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from .. import __version__
from .._display import json_safe, terminal_safe
from ..errors import (
    ArchiveNotFoundError,
    ConflictError,
    KeyFileError,
    MalformedError,
    OrderArchiveError,
    StorageError,
    VerificationError,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREADABLE = 3
EXIT_READER_GONE = 141  # standard output closed by its reader (128 + SIGPIPE)
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C), as a shell reports 128 + 2

PASSPHRASE_ENV = "ORDERARCHIVE_PASSPHRASE"  # noqa: S105 (a variable name)
KEY_ENV = "ORDERARCHIVE_KEY"


class Ctx:
    def __init__(self, archive: Path | None, as_json: bool, keys: Path | None) -> None:
        # --archive / --keys as given (option or environment), None when left to the default
        self.archive_given = archive
        #: --archive http(s)://...: a published site (orderarchive publish), read over HTTP
        self.archive_url: str | None = None
        self.keys_given = keys
        self.as_json = as_json
        # -q/--quiet on the commands that offer it: print only the verdict
        self.quiet = False
        # (option name, value) of --passphrase-fd / --passphrase-file, set by their callback
        self.passphrase_from: tuple[str, Any] | None = None
        self._found: tuple[Any, ...] | None = None

    def _find(self) -> Any:
        """The archive found upwards from the working directory (see _discover.py), once."""
        if self._found is None:
            from ._discover import find_archive

            try:
                cwd = Path.cwd()
            except OSError:  # the working directory was removed
                self._found = (None,)
            else:
                found = find_archive(cwd)
                if found is not None and found.root == cwd:  # say "archive", not /long/path
                    found = type(found)(archive=Path(found.archive.name), root=Path())
                self._found = (found,)
        return self._found[0]

    @property
    def archive_path(self) -> Path:
        """--archive or $ORDERARCHIVE_ARCHIVE, else the archive found upwards, else ./archive."""
        if self.archive_given is not None:
            return self.archive_given
        found = self._find()
        return found.archive if found is not None else Path("archive")

    @property
    def keys_dir(self) -> Path:
        """--keys or $ORDERARCHIVE_KEYS, else keys/ beside the found archive, else ./keys."""
        if self.keys_given is not None:
            return self.keys_given
        found = (self._find() if self.archive_given is None and self.archive_url is None
                 else None)
        return found.keys if found is not None else Path("keys")

    def archive(self) -> Any:
        from ..archive import Archive

        if self.archive_url is not None:
            raise MalformedError(
                f"this command reads an archive directory, not a published site "
                f"({self.archive_url})",
                hint="over HTTP: verify, check, prove and mirror; else pass --archive DIR",
            )
        if self.archive_given is None and self._find() is None:
            raise ArchiveNotFoundError(
                f"no archive here: neither {_cwd_name()} nor any directory above it holds an "
                "orderarchive archive (archive/orderarchive.json)",
                hint="run it where the archive is, pass --archive DIR or set "
                "ORDERARCHIVE_ARCHIVE, or create one with 'orderarchive init'",
            )
        return Archive.open(self.archive_path)


def _cwd_name() -> str:
    try:
        return str(Path.cwd())
    except OSError:
        return "the working directory"


pass_ctx = click.make_pass_decorator(Ctx)


def _use_color(err: bool = False) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    stream = sys.stderr if err else sys.stdout
    return stream.isatty() and "NO_COLOR" not in os.environ


def echo(
    text: str = "", *, fg: str | None = None, err: bool = False, multiline: bool = False
) -> None:
    """Print one line (or, with *multiline*, lines) with every control character escaped:
    titles, ids, file names and messages may come from an adversary (see _display.py)."""
    text = terminal_safe(text, keep_newlines=multiline)
    if fg and _use_color(err):
        text = click.style(text, fg=fg)
    click.echo(text, err=err)


def _command_name(ctx: click.Context | None) -> str | None:
    """The command a JSON document answers ("verify", "key export"), without the program's
    name; None when no command was named (a usage error before it)."""
    if ctx is None:
        return None
    words = ctx.command_path.split()[1:]
    if ctx.invoked_subcommand:
        words.append(ctx.invoked_subcommand)
    return " ".join(words) or None


def emit_json(obj: Any, *, command: str | None = None) -> None:
    """Print one JSON document in the envelope every command shares (docs/FORMAT.md, "JSON
    output"; a schema per command in docs/schemas/): ``ok``, ``command``, then the command's
    result fields or an ``error`` object."""
    if command is None:
        command = _command_name(click.get_current_context(silent=True))
    doc = {"command": command, **obj}
    click.echo(json_safe(json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True)))


def error_json(
    error_type: str, message: str, hint: str | None, exit_code: int
) -> dict[str, Any]:
    """The ``error`` object of a JSON document: {type, message, hint, exit_code}."""
    return {"type": error_type, "message": message, "hint": hint, "exit_code": exit_code}


def _error_document(error: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"ok": False, "error": error}
    if error["exit_code"] == EXIT_FAILED:
        doc["verified"] = False  # a check failed: nothing in this answer was verified
    return doc


def _exit_code(error: OrderArchiveError) -> int:
    if isinstance(error, VerificationError):
        return EXIT_FAILED
    if isinstance(error, ConflictError):  # a duplicate id or file: the user's input
        return EXIT_USAGE
    if isinstance(error, (ArchiveNotFoundError, StorageError)):
        return EXIT_UNREADABLE
    return EXIT_USAGE


def fail(error: OrderArchiveError, *, as_json: bool = False) -> NoReturn:
    """The one place errors become a one-line message and an exit code."""
    message = " ".join(str(error).split()) or type(error).__name__
    if as_json:
        emit_json(_error_document(error_json(type(error).__name__, message, error.hint,
                                             _exit_code(error))))
    line = f"error: {message}"
    if error.hint:
        line += f" (hint: {error.hint})"
    echo(line, fg="red", err=True)
    sys.exit(_exit_code(error))


@contextmanager
def errors_handled(ctx: Ctx | None = None) -> Iterator[None]:
    try:
        yield
    except OrderArchiveError as e:
        fail(e, as_json=bool(ctx and ctx.as_json))


@contextmanager
def failed_verdict(terse: bool) -> Iterator[None]:
    """With -q, a failed verification prints the verdict 'failed' before its error line."""
    try:
        yield
    except VerificationError:
        if terse:
            echo("failed")
        raise


def _progress(label: str, enabled: bool) -> Callable[[int, int], None] | None:
    """A progress bar on a terminal; nothing when piped."""
    if not enabled or not sys.stderr.isatty():
        return None
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = click.progressbar(length=total, label=label, file=sys.stderr)
            bar.__enter__()
            state["bar"] = bar
            state["done"] = 0
        bar.update(done - state["done"])
        state["done"] = done
        if done >= total:
            bar.__exit__(None, None, None)

    return update


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
    "publish": ("publish", "Publish the newest release as a static site (C2SP tlog-tiles)."),
    "mirror": ("remote", "Copy a published site into DIR, pulling only what is new."),
}
_LAZY_KEY_COMMANDS: dict[str, tuple[str, str]] = {
    "export": ("proofs", "Export the public key (C2SP verifier key, or --minisign)."),
}


class _ReaderGone(Exception):
    """Standard output was closed by its reader (orderarchive log | head -1)."""


@contextmanager
def _reader_gone() -> Iterator[None]:
    # click turns EPIPE into exit 1, which is this CLI's "verification failed": take it
    # before click does, for main() to answer once.
    try:
        yield
    except BrokenPipeError as e:
        raise _ReaderGone from e


class LazyGroup(click.Group):
    """A group some of whose commands live in modules imported on first use."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with _reader_gone():  # --help and --version print while the context is made
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with _reader_gone():
            return super().invoke(ctx)

    def __init__(
        self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            import importlib

            importlib.import_module(f".{self.lazy[cmd_name][0]}", __package__)
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _add_shared(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max((len(n) for n in names), default=0)
        rows = []
        for name in names:
            if name in self.commands:
                command = self.commands[name]
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
            else:
                rows.append((name, self.lazy[name][1]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


_ARCHIVE_HELP = (
    "The archive directory. Default: found as git finds a repository, from the working "
    "directory upwards: the first directory that is an archive (holds orderarchive.json) or "
    "holds one in archive/. Or the URL of a site 'orderarchive publish' wrote (http:// or "
    "https://), for verify, check and prove."
)
_KEYS_HELP = (
    "Directory of trusted verifier keys (*.vkey). Default: keys/ beside the archive found "
    "upwards (./keys with --archive). Keys inside the archive are never trusted."
)
_JSON_HELP = (
    "Machine-readable output: one JSON object per run, failures too (schemas in docs/schemas/)."
)
_MAX_SIZE_HELP = (
    "Largest document, copy or brief to read (bytes, or e.g. 64K, 200M, 2G).  [default: 512M]"
)


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
    max_size: str | None
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
    if max_size is not None:
        _set_max_size(ctx.obj, max_size)


def _set_archive(obj: Ctx, value: str) -> None:
    """--archive DIR, or --archive URL for a published site (a Path would fold its //)."""
    if value.startswith(("http://", "https://")):
        obj.archive_url, obj.archive_given = value, None
    else:
        obj.archive_url, obj.archive_given = None, Path(value)


def _set_max_size(obj: Ctx, value: str) -> None:
    from ..userfiles import parse_size, set_max_file_size

    with errors_handled(obj):
        set_max_file_size(parse_size(value))


class SizeType(click.ParamType[int]):
    """A size such as 1048576, 64K, 200M or 2G: the units the global --max-size accepts."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        from ..userfiles import parse_size

        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value))
        except MalformedError as e:
            self.fail(f"{e} ({e.hint})" if e.hint else str(e), param, ctx)


def _shared_after(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """A shared option given after the command: it overrides the one before."""
    obj = ctx.find_object(Ctx)
    if obj is None or value is None or value is False:
        return
    if param.name == "archive":
        _set_archive(obj, value)
    elif param.name == "keys":
        obj.keys_given = value
    elif param.name == "as_json":
        obj.as_json = True
    elif param.name == "max_size":
        _set_max_size(obj, value)


def _shared_options() -> list[click.Option]:
    path = click.Path(path_type=Path)
    common: dict[str, Any] = {"expose_value": False, "callback": _shared_after}
    return [
        click.Option(["--archive", "archive"], type=click.Path(path_type=str), metavar="DIR",
                     help="The archive directory (as before the command).", **common),
        click.Option(["--keys", "keys"], type=path, metavar="DIR",
                     help="Directory of trusted verifier keys (as before the command).",
                     **common),
        click.Option(["--json", "as_json"], is_flag=True, help=_JSON_HELP, **common),
        click.Option(["--max-size", "max_size"], metavar="SIZE",
                     help="Largest file to read (as before the command).", **common),
    ]


def _add_shared(command: click.Command) -> None:
    """Let the group's options follow the command too (orderarchive verify --json), as git
    and most tools allow; an option the command already has keeps its own meaning."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _add_shared(sub)
        return
    if getattr(command, "_shared_added", False):
        return
    taken = {opt for p in command.params for opt in getattr(p, "opts", ())}
    command.params.extend(o for o in _shared_options() if not set(o.opts) & taken)
    command._shared_added = True  # type: ignore[attr-defined]


_NO_KEYS_HINT = (
    "pass --trusted-key FILE with the publisher's verifier key, or a directory of *.vkey files "
    "with --keys DIR or ORDERARCHIVE_KEYS"
)


def _inside(path: Path, directory: Path) -> bool:
    try:
        return path.resolve().is_relative_to(directory.resolve())
    except (OSError, RuntimeError):
        return False


def _trusted(ctx: Ctx, trusted: Sequence[str]) -> list[Any]:
    """The user's trusted verifier keys, or a one-line error (exit 2): never none.

    A key file or directory inside the archive under test is refused: whoever wrote the
    archive could have put his own key there (issue 11 item 2).
    """
    from ..log.keys import load_verifiers

    sources: list[str | Path] = list(trusted) if trusted else [ctx.keys_dir]
    if not trusted and not ctx.keys_dir.is_dir():
        raise KeyFileError(
            f"no trusted keys: {ctx.keys_dir} does not exist; nothing can be verified",
            hint=_NO_KEYS_HINT,
        )
    for source in sources:
        path = Path(source)
        # A key file in the directory may be a symlink into the archive: each is resolved.
        files = sorted(path.glob("*.vkey")) if path.is_dir() else []
        for found in (path, *files):
            if os.path.lexists(found) and _inside(found, ctx.archive_path):
                raise KeyFileError(
                    f"{found} is inside the archive {ctx.archive_path}: keys found in the archive "
                    "under test are never trusted",
                    hint=_NO_KEYS_HINT,
                )
    keys = load_verifiers(sources)
    if not keys:
        raise KeyFileError(
            f"no trusted keys found in {', '.join(str(s) for s in sources)}",
            hint=_NO_KEYS_HINT,
        )
    return keys


def _require_origin_key(keys: Sequence[Any], origin: str, what: str = "this archive") -> None:
    """Bad input, not a failed check, when no trusted key is named for the log's origin.

    A key is named for the log it signs (C2SP signed-note key names); a key for another
    origin cannot have signed this archive, so every signature would "fail" (exit 1) only
    because the user passed the wrong key. A key with the right name but other key material
    still fails verification (exit 1): that is what a re-signed archive looks like. The
    origin compared is the one the input claims, not yet verified: it only chooses between
    these two failures, never a success.
    """
    if not any(k.name == origin for k in keys):
        names = ", ".join(sorted({k.name for k in keys}))
        raise KeyFileError(
            f"no trusted key is for {what}'s origin {origin} (the keys given are for "
            f"{names})",
            hint=f"pass the publisher's verifier key for {origin} with --trusted-key",
        )


trusted_key_option = click.option(
    "--trusted-key",
    "trusted",
    multiple=True,
    metavar="KEY",
    help="A verifier key file, directory of *.vkey files, or key string (repeatable). "
    "Default: the --keys directory.",
)


def _interactive() -> bool:
    """Whether a passphrase can be asked for (standard input is a terminal)."""
    return sys.stdin.isatty()


def _given_passphrase(ctx: Ctx | None) -> str | None:
    """The passphrase from (in order) --passphrase-fd, --passphrase-file or the environment
    variable. The first two keep it out of shell history and out of the environment other
    processes of the user can read."""
    source = ctx.passphrase_from if ctx else None
    if source is not None:
        from ..log.keys import read_passphrase

        option, value = source
        if option == "passphrase_fd":
            return read_passphrase(fd=value)
        return read_passphrase(path=value)
    return os.environ.get(PASSPHRASE_ENV)


def _passphrase(ctx: Ctx | None = None) -> str | None:
    """The passphrase of an existing key: given (see _given_passphrase), else a prompt on a
    terminal, else None."""
    value = _given_passphrase(ctx)
    if value is not None or not _interactive():
        return value
    result: str = click.prompt("Passphrase", hide_input=True, err=True)
    return result


#: Tries at the prompt for a new key's passphrase (too short, or the two entries differ).
NEW_PASSPHRASE_TRIES = 3


def _new_passphrase(ctx: Ctx) -> str | None:
    """The passphrase for a new key: given, else asked twice on a terminal, with
    NEW_PASSPHRASE_TRIES tries; a given one that is too short is refused by keys.generate."""
    from ..log.keys import check_new_passphrase

    value = _given_passphrase(ctx)
    if value is not None or not _interactive():
        return value
    for left in range(NEW_PASSPHRASE_TRIES - 1, -1, -1):
        again = f"; {left} more {'try' if left == 1 else 'tries'}" if left else ""
        first: str = click.prompt("New passphrase", hide_input=True, err=True, default="",
                                  show_default=False)
        try:
            check_new_passphrase(first)
        except KeyFileError as e:
            echo(f"{e}{again}", err=True)
            continue
        second: str = click.prompt("Repeat the passphrase", hide_input=True, err=True,
                                   default="", show_default=False)
        if hmac.compare_digest(first.encode(), second.encode()):
            return first
        echo(f"the two passphrases differ{again}", err=True)
    raise KeyFileError(
        f"no passphrase after {NEW_PASSPHRASE_TRIES} tries; nothing was written",
        hint="run 'orderarchive key generate' again",
    )


def _secret_key_file(key_path: Path | None, origin: str) -> tuple[Path, Any]:
    from ..log.keys import default_secret_dir, file_stem, read_secret_key

    path = key_path or default_secret_dir() / f"{file_stem(origin)}.key"
    if key_path is None and not path.exists():
        raise KeyFileError(
            f"no private key for {origin} at {path}",
            hint=f"pass --key FILE or set {KEY_ENV}, or run 'orderarchive key generate {origin}'",
        )
    return path, read_secret_key(path)


def _load_signer(ctx: Ctx, key_path: Path | None, origin: str) -> Any:
    path, sealed = _secret_key_file(key_path, origin)
    if sealed.is_demo:
        echo(f"warning: {path} is the published demo key: anyone can sign with it", err=True)
    return sealed.unlock(_passphrase(ctx) if sealed.encrypted else None)


def _writer_verifier(ctx: Ctx, key_path: Path | None, origin: str, *, dry_run: bool) -> Any:
    """The key whose entries ``add`` checks new requests against, before any passphrase:
    the public half of the writer's key file, or (a dry run with no key file) the trusted
    verifier key for the origin."""
    from ..log.note import VerifierKey

    try:
        _, sealed = _secret_key_file(key_path, origin)
    except KeyFileError:
        if not dry_run:
            raise
        keys = [k for k in _trusted(ctx, ()) if k.name == origin]
        if not keys:
            raise
        return keys[0]
    return VerifierKey.from_public_key(sealed.name, sealed.public_key)


def _set_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    obj = ctx.find_object(Ctx)
    if value and obj is not None:
        obj.quiet = True


def quiet_option(verdicts: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """-q/--quiet: print only the verdict (*verdicts* says which words), for scripts; the exit
    code is unchanged and errors still go to standard error."""
    return click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=_set_quiet,
        help=f"Print only the verdict: {verdicts}. Errors still go to standard error.",
    )


def quiet(ctx: Ctx) -> bool:
    """Whether to print only the verdict; -q with --json is a usage error."""
    if ctx.quiet and ctx.as_json:
        raise MalformedError("give --json or -q, not both")
    return ctx.quiet


def _passphrase_source(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is None:
        return
    obj = ctx.find_object(Ctx)
    if obj is None:
        return
    if obj.passphrase_from is not None:
        raise click.BadParameter("give --passphrase-fd or --passphrase-file, not both")
    obj.passphrase_from = (param.name or "", value)


def passphrase_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--passphrase-fd N and --passphrase-file PATH (not stored as command parameters)."""
    f = click.option(
        "--passphrase-file",
        type=click.Path(path_type=Path, dir_okay=False),
        expose_value=False,
        callback=_passphrase_source,
        help="Read the private key's passphrase from the first line of this file.",
    )(f)
    return click.option(
        "--passphrase-fd",
        type=click.IntRange(min=0),
        metavar="N",
        expose_value=False,
        callback=_passphrase_source,
        help="Read the passphrase from file descriptor N (e.g. 3 with 3<FILE, or a pipe): "
        f"never in shell history or the environment. Otherwise {PASSPHRASE_ENV} or a prompt.",
    )(f)


key_file_option = click.option(
    "--key",
    "key_path",
    type=click.Path(path_type=Path),
    envvar=KEY_ENV,
    help="The private key file (default: the user's config dir, named after the origin).",
)


def key_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """--key and the ways to give its passphrase (for commands that sign)."""
    return key_file_option(passphrase_options(f))


# -- init --------------------------------------------------------------------------------------


@cli.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--origin", required=True, help="The log's name, e.g. boston.gov/executive-orders.")
@pass_ctx
def init(ctx: Ctx, directory: Path | None, origin: str) -> None:
    """Create an empty archive in DIRECTORY (default: --archive, else ./archive)."""
    from ..archive import Archive

    with errors_handled(ctx):
        if directory is None and ctx.archive_url is not None:
            ctx.archive()  # a URL is not a directory to create: the one-line refusal
        archive = Archive.init(directory or ctx.archive_given or Path("archive"), origin)
    if ctx.as_json:
        emit_json({"ok": True, "archive": str(archive.path), "origin": origin})
    else:
        echo(f"created archive {archive.path} for origin {origin}")


# -- keys --------------------------------------------------------------------------------------


@cli.group(cls=LazyGroup, lazy=_LAZY_KEY_COMMANDS)
def key() -> None:
    """Generate and export signing keys."""


@key.command("generate")
@click.argument("name")
@click.option(
    "--keys-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the public verifier key (default: the --keys directory).",
)
@click.option(
    "--secret-key",
    "secret_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the private key (default: the user's config dir).",
)
@click.option(
    "--unencrypted",
    is_flag=True,
    help="Store the private key without a passphrase (demo and test keys only).",
)
@passphrase_options
@pass_ctx
def key_generate(
    ctx: Ctx, name: str, keys_dir: Path | None, secret_path: Path | None, unencrypted: bool
) -> None:
    """Generate an Ed25519 key named NAME (use the archive's origin).

    The private key is encrypted with a passphrase of at least 12 characters (from
    --passphrase-fd, --passphrase-file, ORDERARCHIVE_PASSPHRASE, or typed twice at the
    prompt, with 3 tries); a shorter one is refused and nothing is written.
    """
    from ..log.keys import generate

    with errors_handled(ctx):
        passphrase = None
        if not unencrypted:
            passphrase = _new_passphrase(ctx)
            if passphrase is None:
                raise KeyFileError(
                    "a passphrase is needed to encrypt the private key",
                    hint="pass --passphrase-fd N or --passphrase-file FILE, set "
                    f"{PASSPHRASE_ENV}, run on a terminal, or pass --unencrypted for a demo key",
                )
        made = generate(
            name, keys_dir=keys_dir or ctx.keys_dir, secret_path=secret_path, passphrase=passphrase
        )
    if ctx.as_json:
        emit_json(
            {
                "ok": True,
                "verifier_key": made.verifier.to_string(),
                "public_key_file": str(made.public_path),
                "private_key_file": str(made.secret_path),
                "encrypted": made.encrypted,
            }
        )
    else:
        echo(f"verifier key: {made.verifier.to_string()}")
        echo(f"public key written to {made.public_path}")
        echo(
            f"private key written to {made.secret_path} "
            f"({'encrypted' if made.encrypted else 'NOT encrypted'}, mode 0600)"
        )


# -- add ---------------------------------------------------------------------------------------

RELATION_OPTIONS = ("amends", "supersedes", "rescinds", "corrects", "reports_on")


@cli.command()
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
    **relations: tuple[str, ...],
) -> None:
    """Archive FILES (documents or directories) as signed entries, all or none.

    Prints what it signs for each document (id, kind, title, issuer, issued) and where each
    value came from: given, file metadata, file name or file type. Directories are read
    recursively in sorted order; --manifest reads files and metadata from a CSV file.
    """
    from ..documents.ingest import AddItem, AddOptions, expand_paths, plan_items, read_manifest

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
            else [AddItem(p, options, str(p)) for p in paths]
        )
        planned = plan_items(items, progress=_progress("reading", not ctx.as_json))
        requests = [p.request for p in planned]
        # Before the passphrase prompt; add checks again with the unlocked key.
        archive.check_new(requests, _writer_verifier(ctx, key_path, archive.origin,
                                                     dry_run=dry_run))
        if dry_run:
            entries = []
        else:
            signer = _load_signer(ctx, key_path, archive.origin)
            entries = archive.add(requests, signer)
    if ctx.as_json:
        docs = [
            {**p.request.fields.to_dict(), "sources": dict(p.sources), "file": str(p.path)}
            for p in planned
        ]
        if dry_run:
            emit_json({"ok": True, "dry_run": True, "documents": docs})
        else:
            emit_json(
                {
                    "ok": True,
                    "added": [
                        {**_entry_summary(e), "sources": d["sources"], "file": d["file"]}
                        for e, d in zip(entries, docs, strict=True)
                    ],
                }
            )
        return
    for i, p in enumerate(planned):
        f = p.request.fields
        head = f"would add {f.doc}" if dry_run else f"added {f.doc} as entry {entries[i].seq}"
        echo(f"{head}: {_oneline(f.title)} (sha256:{f.sha256[:16]}…) from {p.path}")
        shown = (
            ("id", f.doc),
            ("kind", f.kind),
            ("title", f.title),
            ("issuer", f.issuer),
            ("issued", f.issued or ""),
        )
        for name, value in shown:
            echo(f"    {name:<7} {_oneline(value) or '-':<40}  ({p.source(name)})")
    if dry_run:
        echo(f"dry run: {len(planned)} document(s) would be added; nothing was written")
    else:
        echo(
            f"{len(entries)} document(s) added, not yet released "
            "(run 'orderarchive release' to publish them)"
        )


def _oneline(text: str) -> str:
    """A value on one line, with control characters shown as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(text.split()))


def _entry_summary(e: Any) -> dict[str, Any]:
    d = e.document
    out: dict[str, Any] = {
        "seq": e.seq,
        "type": e.type,
        "recorded": e.recorded,
        "signer": f"{e.signer_name}+{e.signer_id}",
    }
    if d is not None:
        out.update(d.to_dict())
    return out


# -- release -----------------------------------------------------------------------------------


@cli.command()
@key_option
@pass_ctx
def release(ctx: Ctx, key_path: Path | None) -> None:
    """Sign a release checkpoint of the current tree (it must extend the last release)."""
    with errors_handled(ctx):
        archive = ctx.archive()
        signer = _load_signer(ctx, key_path, archive.origin)
        rel = archive.release(signer)
    if ctx.as_json:
        emit_json(
            {
                "ok": True,
                "size": rel.size,
                "root": rel.root.hex(),
                "new": rel.created,
                "checkpoint": rel.note.decode(),
            }
        )
    else:
        state = "released" if rel.created else "already released"
        echo(f"{state}: tree size {rel.size}, root sha256:{rel.root.hex()}")
        echo(rel.note.decode().rstrip("\n"), multiline=True)


# -- list / show -------------------------------------------------------------------------------


@cli.command("list")
@click.option("--kind", help="Only documents of this kind.")
@trusted_key_option
@pass_ctx
def list_(ctx: Ctx, kind: str | None, trusted: tuple[str, ...]) -> None:
    """List the archived documents with their status, in aligned columns.

    Every entry is verified against the trusted keys; the status (in force, amended,
    superseded, rescinded, corrected) comes from the relations in the signed entries, as
    'orderarchive show' gives it, counting acts not yet released.
    """
    from ..status import listed_with_status

    with errors_handled(ctx):
        archive = ctx.archive()
        docs, last = listed_with_status(archive, _trusted(ctx, trusted), kind=kind)
    if ctx.as_json:
        emit_json(
            {
                "ok": True,
                "verified": True,
                "documents": [
                    {
                        "seq": d.seq,
                        "doc": d.doc,
                        "kind": d.kind,
                        "title": d.title,
                        "issuer": d.issuer,
                        "issued": d.issued,
                        "sha256": d.sha256,
                        "released": d.seq < last,
                        "status": status,
                    }
                    for d, status in docs
                ],
            }
        )
        return
    if not docs:
        echo("the archive holds no documents")
        return
    rows = [("SEQ", "DOC", "KIND", "ISSUED", "STATUS", "TITLE")]
    for d, status in docs:
        flag = "" if d.seq < last else "  (unreleased)"
        rows.append((str(d.seq), d.doc, d.kind, d.issued or "-", status.replace("-", " "),
                     d.title + flag))
    for line in _columns(rows, right=(0,)):
        echo(line)


def _columns(rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    """*rows* as aligned columns, two spaces apart; widths measured on the text as printed
    (escaped), so that a hostile value cannot shift the columns after it."""
    cells = [[terminal_safe(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = []
    for row in cells:
        padded = [
            (c.rjust(w) if i in right else c.ljust(w)) if i < len(row) - 1 else c
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(padded).rstrip())
    return lines


@cli.command()
@click.argument("doc")
@trusted_key_option
@pass_ctx
def show(ctx: Ctx, doc: str, trusted: tuple[str, ...]) -> None:
    """Show a document: its entry, versions and status, and articles reporting on it."""
    from ..status import document_status

    with errors_handled(ctx):
        archive = ctx.archive()
        status = document_status(archive, doc, _trusted(ctx, trusted))
    if ctx.as_json:
        emit_json({"ok": True, "verified": True, **status.to_dict()})
    else:
        for line in status.render():
            echo(line)


@cli.command()
@click.argument("terms", nargs=-1, required=True)
@click.option("--doc", help="Search only this document.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@trusted_key_option
@pass_ctx
def search(
    ctx: Ctx, terms: tuple[str, ...], doc: str | None, limit: int, trusted: tuple[str, ...]
) -> None:
    """Full-text search of the signed text layers (every word must occur; "..." is a phrase).

    Shows the document, page and paragraph, and a snippet. Results come from an index built
    from entries verified against the trusted keys, and each hit is re-read from the signed
    text layer; use 'orderarchive quote' to check a passage against the signed text.
    """
    from ..status import search_documents

    with errors_handled(ctx):
        archive = ctx.archive()
        hits, suggestion = search_documents(archive, _trusted(ctx, trusted), " ".join(terms),
                                            limit=limit, doc=doc)
    if ctx.as_json:
        emit_json(
            {
                "ok": True,
                "verified": True,
                "suggestion": suggestion,
                "hits": [
                    {
                        "seq": h.seq,
                        "doc": h.doc,
                        "title": h.title,
                        "page": h.page,
                        "paragraph": h.paragraph,
                        "snippet": h.snippet,
                    }
                    for h in hits
                ],
            }
        )
        return
    for h in hits:
        place = (
            "title"
            if h.paragraph == 0
            else ((f"page {h.page}, " if h.page is not None else "") + f"paragraph {h.paragraph}")
        )
        echo(f"{h.doc} ({place}): {' '.join(h.snippet.split())}")
    if not hits:
        echo("no matches" + (f"; did you mean: {suggestion}" if suggestion else ""))


# -- verify / repair ---------------------------------------------------------------------------


@cli.command()
@trusted_key_option
@click.option(
    "--since",
    "since",
    type=click.Path(path_type=Path),
    help="A checkpoint seen before: prove the archive extends it.",
)
@click.option("--no-objects", is_flag=True, help="Skip re-hashing document objects.")
@click.argument("url", required=False)
@quiet_option("'verified' or 'failed'")
@pass_ctx
def verify(ctx: Ctx, trusted: tuple[str, ...], since: Path | None, no_objects: bool,
           url: str | None) -> None:
    """Verify the whole archive: entries, signatures, objects, tree, releases.

    With URL (or --archive URL), a site 'orderarchive publish' wrote: its signed checkpoint,
    that its tiles reproduce the signed root, and that it extends the release seen before.
    """
    if url is not None or ctx.archive_url is not None:
        from .remote import verify_url

        if since is not None or no_objects:
            with errors_handled(ctx):
                raise MalformedError("--since and --no-objects apply to an archive directory, "
                                     "not to a URL (its remembered release is checked)")
        verify_url(ctx, url or ctx.archive_url or "", trusted)
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


@cli.command()
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
    from ..log.store import interrupts_until_commit

    try:
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
