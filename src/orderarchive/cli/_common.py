"""What every command module of the CLI shares: the context (Ctx), options, output (echo,
JSON), error rendering and exit codes, passphrases and keys, the lazily loading group class.

The ONE private module of :mod:`orderarchive.cli` that command modules import; they never
import each other (docs/ARCHITECTURE.md, tests/test_architecture.py).
"""

from __future__ import annotations

import hmac
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from .._display import json_safe, terminal_safe
from ..errors import (
    ArchiveNotFoundError,
    ConflictError,
    KeyFileError,
    MalformedError,
    OrderArchiveError,
    Remedy,
    StorageError,
    VerificationError,
)
from ..errors import OutputError as OutputError  # noqa: PLC0414 (defined in errors.py)
from ..userfiles import MAX_SIZE_ENV

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
#: How often add and release start over after another writer committed first (an archive
#: in a bucket can have several writers; a directory's lock makes this rare there).
WRITER_RETRIES = 20
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
        self.s3_endpoint: str | None = None  # --s3-endpoint: the S3 server of s3:// archives

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

    @property
    def bucket_url(self) -> str | None:
        """The ``s3://bucket/prefix`` that --archive names, if it names one."""
        return _s3_url(self.archive_given)

    def s3_store(self, url: str) -> Any:
        from ..index import cache_dir
        from ..log.s3store import S3Store

        # The user's cache remembers the log's committed chunks: a command lists only the
        # chunks appended since (issue 15).
        return S3Store.open(url, endpoint=self.s3_endpoint, memo_dir=cache_dir())

    def archive(self) -> Any:
        from ..archive import Archive

        if self.archive_url is not None:
            raise MalformedError(
                f"this command reads an archive directory, not a published site "
                f"({self.archive_url})",
                hint="over HTTP: verify, check, prove and mirror; else pass --archive DIR",
            )
        url = self.bucket_url
        if url is not None:  # an archive in an S3 bucket (issue 19)
            return Archive.from_store(self.s3_store(url))
        if self.archive_given is None and self._find() is None:
            raise ArchiveNotFoundError(
                f"no archive here: neither {_cwd_name()} nor any directory above it holds an "
                "orderarchive archive (archive/orderarchive.json)",
                hint="run it where the archive is, pass --archive DIR or set "
                "ORDERARCHIVE_ARCHIVE, or create one with 'orderarchive init'",
            )
        return Archive.open(self.archive_path)


def _s3_url(path: Path | None) -> str | None:
    """``s3://bucket/prefix`` if *path* (as click made it a Path) is one, else None."""
    text = str(path) if path is not None else ""
    if text.startswith("s3:/"):
        return "s3://" + text[len("s3:/") :].lstrip("/")
    return None


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


def emit_json_items(
    obj: Any, key: str, items: Iterable[Any], *, command: str | None = None
) -> None:
    """:func:`emit_json` of ``{**obj, key: list(items)}``, byte for byte, printed as *items*
    arrive: a list of a hundred thousand documents is never held whole."""
    if command is None:
        command = _command_name(click.get_current_context(silent=True))
    text = json.dumps({"command": command, **obj, key: []}, indent=2, ensure_ascii=False,
                      sort_keys=True)
    # A top-level member, two spaces in: no string can hold this text (newlines are escaped).
    head, tail = text.split(f"\n  {json.dumps(key)}: []", 1)
    click.echo(json_safe(f"{head}\n  {json.dumps(key)}: ["), nl=False)
    sep = ""
    for item in items:
        piece = json.dumps(item, indent=2, ensure_ascii=False, sort_keys=True)
        click.echo(json_safe(sep + "\n    " + piece.replace("\n", "\n    ")), nl=False)
        sep = ","
    click.echo(json_safe(("\n  ]" if sep else "]") + tail))


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


#: The CLI's hint for each library remedy (the library names no command-line option).
_REMEDY_HINTS: dict[Remedy, str] = {
    Remedy.ARCHIVE: "create one with 'orderarchive init' or pass --archive",
    Remedy.TRUSTED_KEYS: "pass --trusted-key FILE with the publisher's verifier key",
    Remedy.MAX_SIZE: f"raise the limit with --max-size or {MAX_SIZE_ENV}",
    Remedy.BRIEF_SIZE: "raise the limit with --max-size, or check the brief in parts",
    Remedy.MAX_QUOTATIONS: "raise the limit with --max-quotations, or check the brief in parts",
    Remedy.MAX_WORDS: "raise the limit with 'check --max-words N'",
    Remedy.TIMEOUT: "raise the budget with 'check --timeout SECONDS'",
    Remedy.PASSPHRASE: "pass --passphrase-fd N or --passphrase-file FILE, enter it at the "
                       f"prompt, or set {PASSPHRASE_ENV}",
    Remedy.DISCARD_UNCHECKPOINTED: "restore 'checkpoint' from a copy; if the first add was "
                                   "interrupted, run 'orderarchive repair "
                                   "--discard-uncheckpointed'",
    Remedy.FULL_VERIFY: "run 'orderarchive verify' without --since to see what is damaged",
    Remedy.CITE_BY_QUOTE: "cite it with --quote: the citation then names the paragraph",
    Remedy.ACCEPT_REVIEW: "accept the review explicitly with --accept-review (the status is "
                          "then recorded), or run 'orderarchive quote' to see the differences",
    Remedy.DOCUMENT_ID: "choose another --id; record changes as a new document with --amends",
    Remedy.FIELD_TEXT: "give the value without them (e.g. --title, --issuer)",
    Remedy.ISSUED_DATE: "pass --issued YYYY-MM-DD (in a manifest: an issued cell), or "
                        "--issued-from-file to sign the file's date, or --kind if it is not an "
                        "order",
    Remedy.FILE_SELECTION: "check --include/--exclude",
}


def hint_for(error: OrderArchiveError) -> str | None:
    """The hint the CLI shows for *error*: its own words for the error's remedy (naming the
    option that lifts it), else the library's hint."""
    if error.remedy is not None and error.remedy in _REMEDY_HINTS:
        return _REMEDY_HINTS[error.remedy]
    return error.hint


def fail(error: OrderArchiveError, *, as_json: bool = False) -> NoReturn:
    """The one place errors become a one-line message and an exit code."""
    message = " ".join(str(error).split()) or type(error).__name__
    hint = hint_for(error)
    if as_json:
        emit_json(_error_document(error_json(type(error).__name__, message, hint,
                                             _exit_code(error))))
    line = f"error: {message}"
    if hint:
        line += f" (hint: {hint})"
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

            # the command module defines the command; it never imports the group
            module = importlib.import_module(f".{self.lazy[cmd_name][0]}", __package__)
            for value in vars(module).values():
                if isinstance(value, click.Command) and value.name == cmd_name:
                    self.add_command(value)
                    break
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
_S3_ENDPOINT_HELP = (
    "The S3 server of an --archive s3://bucket/prefix (e.g. http://127.0.0.1:7480 for Ceph "
    "RGW); default: AWS, or AWS_ENDPOINT_URL. Credentials and region: the usual AWS "
    "configuration (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, profiles)."
)
_JSON_HELP = (
    "Machine-readable output: one JSON object per run, failures too (schemas in docs/schemas/)."
)
_MAX_SIZE_HELP = (
    "Largest document, copy or brief to read (bytes, or e.g. 64K, 200M, 2G).  [default: 512M]"
)


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
            hint = hint_for(e)
            self.fail(f"{e} ({hint})" if hint else str(e), param, ctx)


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


def _trusted(ctx: Ctx, trusted: Sequence[str], *, offline: bool = False) -> Any:
    """The user's trusted verifier keys, or a one-line error (exit 2): never none. With
    *offline* (a proof or evidence file checked alone), a trust file is pinned as it is: the
    file's own key-set chain is walked from it, no archive is opened.

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
    trust_files = [
        f for s in sources
        for f in (sorted(Path(s).glob("*.trust")) if Path(s).is_dir() else [Path(s)])
        if f.suffix == ".trust"
    ]
    if trust_files:
        return _key_history(ctx, trust_files, offline=offline)
    keys = load_verifiers(sources)
    if not keys:
        raise KeyFileError(
            f"no trusted keys found in {', '.join(str(s) for s in sources)}",
            hint=_NO_KEYS_HINT,
        )
    return keys


def _key_history(ctx: Ctx, trust_files: Sequence[Path], *, offline: bool = False) -> Any:
    """The archive's key history walked from the pinned trust file (docs/FORMAT.md §23): a
    sequence of the log keys whose per-index answers every entry check asks for. A trust
    file replaces the *.vkey files beside it; two trust files are ambiguous."""
    from ..log.keyset import read_trust
    from ..userfiles import read_bounded

    if len(trust_files) != 1:
        raise KeyFileError(
            f"{len(trust_files)} trust files given ({', '.join(map(str, trust_files))}); "
            "name the one to pin",
            hint="pass --trusted-key FILE.trust",
        )
    if _inside(trust_files[0], ctx.archive_path):
        raise KeyFileError(
            f"{trust_files[0]} is inside the archive {ctx.archive_path}: a trust file found "
            "in the archive under test is never trusted",
            hint=_NO_KEYS_HINT,
        )
    data = read_bounded(trust_files[0], 1 << 20, what="trust file", error=KeyFileError,
                        missing=KeyFileError)
    if offline:
        from ..log.keyset import PinnedTrust

        return PinnedTrust(read_trust(data))
    archive = ctx.archive()
    return archive.key_history(read_trust(data, archive.origin))


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
    if key_path is not None and str(key_path).split(":", 1)[0] == "ssh-agent":
        return _agent_signer(str(key_path), origin)
    path, sealed = _secret_key_file(key_path, origin)
    if sealed.is_demo:
        echo(f"warning: {path} is the published demo key: anyone can sign with it", err=True)
    return sealed.unlock(_passphrase(ctx) if sealed.encrypted else None)


def write_user_file(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write a file the user named (a key set proposal, a prepared release, a trust file)
    whole or not at all; *exclusive*: never over an existing one. Bad input (exit 2)."""
    from ..errors import StorageError as _StorageError
    from ..log.store import write_atomically

    if exclusive and os.path.lexists(path):
        raise KeyFileError(f"{path} already exists; refusing to overwrite it")
    try:
        write_atomically(path, data)
    except _StorageError as e:
        raise KeyFileError(str(e)) from e


def _agent_signer(spec: str, origin: str) -> Any:
    """``--key ssh-agent`` (the agent's only Ed25519 key, named as the origin) or
    ``--key ssh-agent:VKEY`` (that key, under that verifier key's name)."""
    from ..log.agent import AgentSigner
    from ..log.keys import parse_verifier

    _, _, vkey = spec.partition(":")
    if vkey:
        return AgentSigner.for_verifier(parse_verifier(vkey, "--key ssh-agent:"))
    return AgentSigner.find(origin)


def _writer_verifier(ctx: Ctx, key_path: Path | None, origin: str, *, dry_run: bool) -> Any:
    """The key whose entries ``add`` checks new requests against, before any passphrase:
    the public half of the writer's key file, or (a dry run with no key file) the trusted
    verifier key for the origin."""
    from ..log.note import VerifierKey

    if key_path is not None and str(key_path).split(":", 1)[0] == "ssh-agent":
        return _agent_signer(str(key_path), origin).verifier()
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
    help="The private key file (default: the user's config dir, named after the origin), "
    "or ssh-agent[:VKEY] for an Ed25519 key held by ssh-agent ($SSH_AUTH_SOCK).",
)


def key_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """--key and the ways to give its passphrase (for commands that sign)."""
    return key_file_option(passphrase_options(f))



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


# -- files given to and written by commands --------------------------------------------------

_OUTPUT_HELP = "Where to write it ('-' for standard output)."


def _read(path: Path, limit: int | None = None) -> bytes:
    """One-line errors for missing, special (FIFO, device), unreadable or oversized files;
    *limit* for a format's own limit, else the user's --max-size."""
    from ..userfiles import read_user_file

    return read_user_file(path, limit)


def _write(path: Path, data: bytes, *, as_json: bool = False) -> str:
    """Write *data* to *path* (``-``: standard output); return where it went, for messages.

    With *as_json* and ``-``, nothing is written and ``-`` is returned: the caller puts the
    text in its JSON document (``content``), so that standard output stays one JSON document.
    """
    if str(path) == "-" and as_json:
        return "-"
    if str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return "standard output"
    try:
        path.write_bytes(data)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror}") from e
    return str(path)


def _content(where: str, data: bytes) -> dict[str, str]:
    """The ``content`` field of a --json answer whose output went to ``-``."""
    return {"content": data.decode("utf-8")} if where == "-" else {}


# -- witnesses (issue 17) ----------------------------------------------------------------------

witnesses_option = click.option(
    "--witnesses",
    "witnesses_file",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="ORDERARCHIVE_WITNESSES",
    show_envvar=True,
    help="The clerk's witness file ('witness <vkey> <url>' lines, 'quorum <k>'): send the new "
    "checkpoint to each witness and keep the cosignatures. Default: "
    "<config dir>/orderarchive/witnesses/<origin>.txt if it exists.",
)


def _witness_round(ctx: Ctx, archive: Any, note: bytes, kind: str,
                   witnesses_file: Path | None) -> Any:
    """Send *note* to the clerk's witnesses (none configured: None); print who cosigned.
    Too few cosignatures is an error (exit 1) after the report: never silent."""
    from ..witnessing import clerk_policy, send_to_witnesses

    policy = clerk_policy(witnesses_file, archive.origin)
    if policy is None:
        return None
    report = send_to_witnesses(archive, note, policy, kind=kind)
    if not ctx.as_json:
        for o in report.outcomes:
            state = "cosigned by" if o.cosigned else "NOT cosigned by"
            echo(f"{state} witness {o.witness}: {o.detail}")
    report.check()
    return report


witness_policy_option = click.option(
    "--witness-policy",
    "policy_file",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="ORDERARCHIVE_WITNESS_POLICY",
    show_envvar=True,
    help="Your witness policy file ('witness <vkey>' lines, 'quorum <k>'): also require that "
    "many witness cosignatures on the checkpoint relied on (never read from the archive).",
)


def _witness_policy(policy_file: Path | None) -> Any:
    if policy_file is None:
        return None
    from ..witnessing import read_policy

    return read_policy(policy_file)


def _witness_lines(cosigned: Any) -> list[str]:
    return [f"cosigned by witness {key.name} at {ts}" for key, ts in cosigned.cosigned_by]
