"""CLI commands for checking copies and handing out proofs: check, prove, verify-proof,
consistency, export-sig and key export. Each parses, makes one library call and renders."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..errors import KeyFileError, MalformedError, OrderArchiveError, VerificationError
from ..log.digest import Digest
from ..log.entry import Entry
from ..log.keys import default_secret_dir, file_stem, load_verifiers, read_secret_key
from ..log.note import VerifierKey
from ..log.tlogproof import MAX_CHAINED_PROOF_BYTES, inner_proof
from ..proofs import check_copy, export_minisig, minisign_public_key
from ..proofs import consistency as prove_consistency
from ..proofs import prove as make_proof
from ..proofs import verify_proof as check_proof
from ._common import (
    _OUTPUT_HELP,
    EXIT_FAILED,
    EXIT_OK,
    Ctx,
    _content,
    _exit_code,
    _load_signer,
    _read,
    _require_origin_key,
    _trusted,
    _witness_lines,
    _witness_policy,
    _write,
    echo,
    emit_json,
    error_json,
    errors_handled,
    failed_verdict,
    hint_for,
    key_file_option,
    key_option,
    pass_ctx,
    quiet,
    quiet_option,
    trusted_key_option,
    witness_policy_option,
)


def _ref(argument: str) -> tuple[str, Path | None]:
    """A document reference from DOC-or-FILE: an existing file is looked up by its SHA-256."""
    path = Path(argument)
    if path.is_file():
        return str(Digest.of(_read(path))), path
    return argument, None


def _optional_trusted(ctx: Ctx, trusted: Sequence[str]) -> Any:
    """Trusted keys if the user has any (given, or a --keys directory); else None."""
    if trusted or ctx.keys_dir.is_dir():
        return _trusted(ctx, trusted)
    return None


def _key_name(key: VerifierKey | None) -> str:
    return f"{key.name}+{key.key_hash_hex}" if key else "?"


def _size(text: str, what: str) -> int:
    if not text.isdigit() or not text.isascii() or len(text) > 20:
        raise MalformedError(f"{what} {text!r} is not a tree size")
    return int(text)


# -- check -------------------------------------------------------------------------------------

# copies.DEFAULT_MAX_WORDS and DEFAULT_TIMEOUT, repeated so that `check` of an official file
# starts without loading the text comparison (tests/test_copies.py keeps them equal).
DEFAULT_MAX_WORDS = 500_000
DEFAULT_TIMEOUT = 60.0


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@trusted_key_option
@click.option("--max-words", type=click.IntRange(min=1), default=DEFAULT_MAX_WORDS,
              show_default=True, help="Refuse to compare a copy (or an archived text) with "
              "more words than this: exit 2, no verdict.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_TIMEOUT, show_default=True, metavar="SECONDS",
              help="Time budget for reading and comparing each copy; over it: exit 2, "
              "no verdict.")
@witness_policy_option
@quiet_option("one line per file, its status (official, official-unreleased, same-text, "
              "modified-copy, not-official; failed if its verification failed, error if it "
              "could not be checked) and the file name")
@pass_ctx
def check(ctx: Ctx, files: tuple[Path, ...], trusted: tuple[str, ...], max_words: int,
          timeout: float, policy_file: Path | None) -> None:
    """Check whether FILES are official: byte-identical to archived, released documents.

    Each file is looked up by its SHA-256 and confirmed from the signed log (entry signature,
    inclusion in the latest signed release, release signature). Exit 0 only if every file is
    an official, released document. Otherwise its text is compared with the signed text:
    SAME TEXT (the same words and marks; only whitespace and line, paragraph or page breaks
    differ), MODIFIED COPY (every difference listed, and any hidden or generated text), or
    NOT OFFICIAL. Every file is checked and reported, even after a file that cannot be read;
    the exit code is the worst of the files' (0 official, 1 not official, 2 unreadable file,
    3 unreadable archive). With --witness-policy, an official file's release must also carry
    the policy's witness cosignatures (else it fails, exit 1).
    """
    with errors_handled(ctx):
        limits = None  # the defaults: check_copy loads the text comparison only if needed
        if (max_words, timeout) != (DEFAULT_MAX_WORDS, DEFAULT_TIMEOUT):
            from ..copies import CompareLimits

            limits = CompareLimits(max_words=max_words, timeout_seconds=timeout)
    if ctx.archive_url is not None:
        _check_url(ctx, files, trusted, limits)
    with errors_handled(ctx):
        terse = quiet(ctx)
        archive = ctx.archive()  # "no archive here" before "no trusted keys"
        keys = _trusted(ctx, trusted)
        _require_origin_key(keys, archive.origin)
        policy = _witness_policy(policy_file)
    results: list[tuple[Path, Any]] = []
    witnessed: dict[Path, Any] = {}
    for path in files:
        try:
            r = check_copy(archive, _read(path), keys, filename=path.name, limits=limits)
            if policy is not None and r.official and r.checkpoint is not None:
                from ..witnessing import require_witnessed

                witnessed[path] = require_witnessed(archive, r.checkpoint, keys, policy)
            results.append((path, r))
        except OrderArchiveError as e:  # this file's problem: report it, check the others
            results.append((path, e))
    code = max(
        _exit_code(r) if isinstance(r, OrderArchiveError) else (0 if r.official else EXIT_FAILED)
        for _, r in results
    )
    ok = code == EXIT_OK
    if ctx.as_json:
        emit_json({"ok": ok, "files": [_file_json(p, r, witnessed.get(p)) for p, r in results]})
    elif terse:
        for path, r in results:
            if isinstance(r, OrderArchiveError):
                _echo_error(r)
            verdict = (r.status if not isinstance(r, OrderArchiveError)
                       else "failed" if isinstance(r, VerificationError) else "error")
            echo(f"{verdict} {path}")
    else:
        for path, r in results:
            if isinstance(r, OrderArchiveError):
                _echo_error(r)
                continue
            d = r.entry.document if r.entry else None
            if r.official and r.entry and d:
                echo(f"OFFICIAL      {path}: {d.doc} \"{d.title}\", entry {r.entry.seq}, "
                     f"release {r.release}, signed by {_key_name(r.entry_signer)}", fg="green")
                for line in _witness_lines(witnessed[path]) if path in witnessed else ():
                    echo(f"              {line}")
            elif r.text is not None and r.entry and d:
                _render_text_match(path, r.text, d)
            elif r.entry and d:
                echo(f"UNRELEASED    {path}: {d.doc} \"{d.title}\", entry {r.entry.seq}, is "
                     "archived but not yet in a signed release", fg="yellow")
            else:
                why = f" ({r.text_reason})" if r.text_reason else ""
                echo(f"NOT OFFICIAL  {path}: {r.sha256} is not an archived document, "
                     f"and its text matches none{why}", fg="red")
    sys.exit(code)


def _echo_error(error: OrderArchiveError) -> None:
    message = " ".join(str(error).split())
    hint = f" (hint: {hint_for(error)})" if hint_for(error) else ""
    echo(f"error: {message}{hint}", fg="red", err=True)


def _file_json(path: Path, r: Any, cosigned: Any = None) -> dict[str, Any]:
    if isinstance(r, OrderArchiveError):
        return {"file": str(path), "ok": False,
                "error": error_json(type(r).__name__, " ".join(str(r).split()), hint_for(r),
                                    _exit_code(r))}
    witnesses = {} if cosigned is None else {"witnesses": cosigned.to_dict()}
    return {"file": str(path), **r.to_dict(), **witnesses}


def _check_url(ctx: Ctx, files: Sequence[Path], trusted: Sequence[str], limits: Any) -> None:
    """check --archive URL: each file against a site 'orderarchive publish' wrote (its text
    compared as the local check compares it)."""
    from ..remote import HttpSite, check_remote

    url = ctx.archive_url or ""
    with errors_handled(ctx):
        terse = quiet(ctx)
        keys = _trusted(ctx, trusted)
        site = HttpSite(url)
    results: list[tuple[Path, Any]] = []
    for path in files:
        try:
            results.append((path, check_remote(url, _read(path), keys, site=site,
                                               filename=path.name, limits=limits)))
        except OrderArchiveError as e:
            results.append((path, e))
    code = max(_exit_code(r) if isinstance(r, OrderArchiveError)
               else (EXIT_OK if r.official else EXIT_FAILED) for _, r in results)
    if ctx.as_json:
        emit_json({"ok": code == EXIT_OK, "files": [_file_json(p, r) for p, r in results]})
        sys.exit(code)
    for path, r in results:
        if isinstance(r, OrderArchiveError):
            _echo_error(r)
            if terse:
                echo(f"{'failed' if isinstance(r, VerificationError) else 'error'} {path}")
            continue
        d = r.entry.document if r.entry else None
        if terse:
            echo(f"{r.status} {path}")
        elif r.official and r.entry and d:
            echo(f"OFFICIAL      {path}: {d.doc} \"{d.title}\", entry {r.entry.seq}, release "
                 f"{r.checkpoint.size}, signed by {r.signer.name if r.signer else '?'}; "
                 f"checked over HTTP: SHA-256, entry signature, inclusion proof from the "
                 f"tiles, signed checkpoint ({r.requests} requests)", fg="green")
        elif r.text is not None and r.entry and d:
            _render_text_match(path, r.text, d)
        elif r.entry and d:
            echo(f"UNRELEASED    {path}: {d.doc} \"{d.title}\", entry {r.entry.seq}, is "
                 "published but not in a signed release", fg="yellow")
        else:
            why = f" ({r.text_reason})" if r.text_reason else ""
            echo(f"NOT OFFICIAL  {path}: sha256:{r.sha256} is not an archived document, "
                 f"and its text matches none{why}", fg="red")
            if r.reason:
                echo(f"              {r.reason}")
    sys.exit(code)


#: Differences printed per copy; --json lists them all.
_MAX_PRINTED = 100


def _render_text_match(path: Path, text: Any, d: Any) -> None:
    if text.status == "same-text":
        how = ("exactly the signed text" if text.exact else "the signed text (differs only "
               "in whitespace/line breaks)")
        echo(f"SAME TEXT     {path}: not the official file, but {how} of "
             f"{d.doc} \"{d.title}\"", fg="yellow")
        return
    hidden = " (hidden text)" if text.hidden else ""
    echo(f"MODIFIED COPY{hidden} {path}: of {d.doc} \"{d.title}\" ({text.similarity:.0%} "
         f"similar; words and marks: {text.words_added} added, {text.words_removed} removed, "
         f"{text.words_changed} changed)", fg="red")
    for item in text.hidden[:_MAX_PRINTED]:
        echo(f"    {item.describe()}")
    if text.hidden_count > min(len(text.hidden), _MAX_PRINTED):
        echo(f"    ... {text.hidden_count - min(len(text.hidden), _MAX_PRINTED)} more "
             "hidden-text findings (--json lists those kept)")
    for change in text.changes[:_MAX_PRINTED]:
        echo(f"    {change.describe()}")
    if len(text.changes) > _MAX_PRINTED:
        echo(f"    ... and {len(text.changes) - _MAX_PRINTED} more differences (--json lists "
             "them all)")


# -- offline proofs ----------------------------------------------------------------------------


@click.command()
@click.argument("document")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help=_OUTPUT_HELP + "  [default: FILE.tlog-proof or DOC.tlog-proof]")
@trusted_key_option
@pass_ctx
def prove(ctx: Ctx, document: str, output: Path | None, trusted: tuple[str, ...]) -> None:
    """Write an offline proof (C2SP tlog-proof) that DOCUMENT (an id or a file) is official.

    Anyone can then check a copy with only the file, the proof and the public key:
    orderarchive verify-proof FILE PROOF --trusted-key KEY. The proof is against the latest
    release, which must cover the document. Under key sets (--trusted-key FILE.trust) it
    carries the release's key-set entries, also with --archive URL.
    """
    with errors_handled(ctx):
        ref, path = _ref(document)
        if ctx.archive_url is not None:
            from ..remote import prove_remote

            # A trust file is pinned as it is: the site's key sets are walked from it.
            proof = prove_remote(ctx.archive_url, ref, _trusted(ctx, trusted, offline=True))
        else:
            proof = make_proof(ctx.archive(), ref, _trusted(ctx, trusted))
        tp = inner_proof(proof)
        entry = Entry.from_bytes(tp.extra or b"")
        target = output or Path(f"{path if path else entry.doc}.tlog-proof")
        where = _write(target, proof, as_json=ctx.as_json)
    if ctx.as_json:
        emit_json({"ok": True, "proof": where, "doc": entry.doc, "seq": entry.seq,
                   "release": tp.parsed_checkpoint()[0].size, **_content(where, proof)})
    elif where != "standard output":
        echo(f"wrote {where}: proof that {entry.doc} (entry {entry.seq}) is in release "
             f"{tp.parsed_checkpoint()[0].size}")


@click.command("verify-proof")
@click.argument("file", type=click.Path(path_type=Path))
@click.argument("proof", type=click.Path(path_type=Path))
@trusted_key_option
@witness_policy_option
@quiet_option("'official' or 'failed'")
@pass_ctx
def verify_proof(ctx: Ctx, file: Path, proof: Path, trusted: tuple[str, ...],
                 policy_file: Path | None) -> None:
    """Check FILE against an offline PROOF (.tlog-proof) with only the public key.

    Needs no archive. Checks the file's hash against the signed entry in the proof, the entry's
    signature, its inclusion in the signed checkpoint, and the checkpoint's signature; with
    --witness-policy, also the policy's witness cosignatures on that checkpoint. With a trust
    file (--trusted-key FILE.trust), the key sets the proof carries are walked from it and
    each signature is checked against the key set in force where it was recorded.
    """
    with errors_handled(ctx):
        terse = quiet(ctx)
        keys = _trusted(ctx, trusted, offline=True)
        proof_bytes = _read(proof, MAX_CHAINED_PROOF_BYTES)
        claimed = inner_proof(proof_bytes).parsed_checkpoint()[0].origin
        _require_origin_key(keys, claimed, "the proof")
        policy = _witness_policy(policy_file)
        with failed_verdict(terse):
            result = check_proof(_read(file), proof_bytes, keys)
            cosigned = None
            if policy is not None:
                from ..witnessing import require_cosigned_note

                cosigned = require_cosigned_note(inner_proof(proof_bytes).checkpoint,
                                                 result.trust or keys, policy, result.checkpoint)
    d = result.entry.document
    assert d is not None
    if terse:
        echo("official")
    elif ctx.as_json:
        witnesses = {} if cosigned is None else {"witnesses": cosigned.to_dict()}
        emit_json({"ok": True, "file": str(file), **result.to_dict(), **witnesses})
    else:
        echo(f"OFFICIAL  {file}: {d.doc} \"{d.title}\", entry {result.entry.seq} in release "
             f"{result.checkpoint.size} of {result.checkpoint.origin}, signed by "
             f"{_key_name(result.entry_signer)}", fg="green")
        for line in _witness_lines(cosigned) if cosigned is not None else ():
            echo(f"          {line}")


# -- append-only proofs ------------------------------------------------------------------------


@click.command()
@click.argument("old")
@click.argument("new", required=False)
@trusted_key_option
@pass_ctx
def consistency(ctx: Ctx, old: str, new: str | None, trusted: tuple[str, ...]) -> None:
    """Print the RFC 9162 consistency proof that release NEW extends release OLD.

    OLD and NEW are release tree sizes; NEW defaults to the latest release. The hashes are
    printed in base64, one per line, after a header naming both roots.
    """
    with errors_handled(ctx):
        old_size = _size(old, "OLD")
        new_size = _size(new, "NEW") if new is not None else None
        archive = ctx.archive()
        result = prove_consistency(archive, old_size, new_size, _trusted(ctx, trusted))
    if ctx.as_json:
        emit_json({"ok": True, **result.to_dict()})
        return
    from ..log.note import b64encode  # the one base64 encoder, as --json prints them

    echo(f"# {result.origin}: release {result.old_size} -> release {result.new_size}, "
         f"{len(result.proof)} hashes (RFC 9162 section 2.1.4)")
    echo(f"# old root {b64encode(result.old_root)}")
    echo(f"# new root {b64encode(result.new_root)}")
    for h in result.proof:
        echo(b64encode(h))


# -- minisign ----------------------------------------------------------------------------------


@click.command("export-sig")
@click.argument("document")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help=_OUTPUT_HELP + "  [default: FILE.minisig or DOC.minisig]")
@key_option
@trusted_key_option
@pass_ctx
def export_sig(ctx: Ctx, document: str, output: Path | None, key_path: Path | None,
               trusted: tuple[str, ...]) -> None:
    """Write a minisign signature of the official file DOCUMENT (an id or a file).

    With the public key from 'orderarchive key export --minisign', stock minisign checks it:
    minisign -Vm FILE -x FILE.minisig -p KEY.pub. Needs the clerk's private key (--key).
    """
    with errors_handled(ctx):
        ref, path = _ref(document)
        archive = ctx.archive()
        signer = _load_signer(ctx, key_path, archive.origin)
        text, entry = export_minisig(archive, ref, signer, _optional_trusted(ctx, trusted) or [])
        target = output or Path(f"{path if path else entry.doc}.minisig")
        where = _write(target, text.encode("utf-8"), as_json=ctx.as_json)
    if ctx.as_json:
        emit_json({"ok": True, "signature": where, "doc": entry.doc, "seq": entry.seq,
                   **_content(where, text.encode("utf-8"))})
        return
    if where != "standard output":
        echo(f"wrote {where}: minisign signature of {entry.doc} (entry {entry.seq})")


def _export_candidates(ctx: Ctx, trusted: Sequence[str], key_path: Path | None) -> list[Any]:
    if trusted:
        return load_verifiers(trusted)
    if key_path is None and ctx.keys_dir.is_dir():
        found = load_verifiers([ctx.keys_dir])
        if found:
            return found
    if key_path is None:
        origin = ctx.archive().origin
        key_path = default_secret_dir() / f"{file_stem(origin)}.key"
        if not key_path.exists():
            raise KeyFileError(
                f"no key found: {ctx.keys_dir} holds no *.vkey and there is no {key_path}",
                hint="pass --trusted-key KEY.vkey or --key PRIVATE.key",
            )
    # The private key file records its public half: no passphrase is needed to export it.
    sealed = read_secret_key(key_path)
    return [VerifierKey.from_public_key(sealed.name, sealed.public_key)]


@click.command("export")
@click.option("--minisign", "as_minisign", is_flag=True,
              help="Write a minisign public key file (for 'minisign -V -p').")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("-"),
              help=_OUTPUT_HELP + "  [default: -]")
@key_file_option
@trusted_key_option
@pass_ctx
def key_export(ctx: Ctx, as_minisign: bool, output: Path, key_path: Path | None,
               trusted: tuple[str, ...]) -> None:
    """Export the public key, as a C2SP verifier key or (--minisign) for stock minisign.

    The key comes from --trusted-key, else --key (the private key file; its public half is read
    without the passphrase), else the --keys directory, else the default private key of the
    archive's origin.
    """
    with errors_handled(ctx):
        keys = _export_candidates(ctx, trusted, key_path)
        if len(keys) > 1:
            try:
                origin: str | None = ctx.archive().origin
            except OrderArchiveError:
                origin = None
            keys = [k for k in keys if k.name == origin] if origin else keys
        if len(keys) != 1:
            raise KeyFileError(
                f"found {len(keys)} keys for this archive; export needs exactly one",
                hint="name the key with --trusted-key KEY.vkey or --key PRIVATE.key",
            )
        vkey = keys[0]
        text = minisign_public_key(vkey) if as_minisign else vkey.to_string() + "\n"
        where = _write(output, text.encode("ascii"), as_json=ctx.as_json)
    if ctx.as_json:
        emit_json({"ok": True, "public_key": where, "verifier_key": vkey.to_string(),
                   "format": "minisign" if as_minisign else "c2sp-vkey",
                   **_content(where, text.encode("ascii"))})
        return
    if where != "standard output":
        echo(f"wrote {where}: public key of {vkey.name}")
