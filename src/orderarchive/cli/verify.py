"""verify: the whole archive against the trusted keys."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ..errors import MalformedError
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    Ctx,
    _progress,
    _require_origin_key,
    _trusted,
    _witness_lines,
    _witness_policy,
    echo,
    emit_json,
    errors_handled,
    failed_verdict,
    pass_ctx,
    quiet,
    quiet_option,
    trusted_key_option,
    witness_policy_option,
)

if TYPE_CHECKING:
    from ..history import HistoryReport
    from ..verified import VerifyRun

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
@click.option("--full", is_flag=True,
              help="Re-check every entry and object, not only those added since the last "
                   "full verification here (finds damage to old data: bit rot, tampering). "
                   "With a URL: also fetch every entry (checking its signature and inclusion) "
                   "and every document and text layer (checking its SHA-256 and signed size).")
@click.argument("url", required=False)
@witness_policy_option
@quiet_option("'verified' or 'failed'")
@pass_ctx
def verify(ctx: Ctx, trusted: tuple[str, ...], since: Path | None, no_objects: bool,
           full: bool, policy_file: Path | None, url: str | None) -> None:
    """Verify the archive: entries, signatures, objects, tree, releases.

    The first verify of an archive here checks everything. Once it found nothing wrong, later
    ones prove that the new signed checkpoint extends the state verified then (a consistency
    proof) and check only the entries, objects and text layers added since: fast for a growing
    archive or a mirror that pulled a new release. The state is remembered per archive
    directory and trusted keys, in the state directory, authenticated with a secret of yours;
    an edited or corrupt state is not used (everything is checked, and verify says why).

    Use --full to re-read everything: from time to time as a scrub (bit rot, or files already
    verified that were changed since: an incremental verify does not re-read them), after a
    restore from backup, or whenever in doubt.

    With --witness-policy, the latest release must carry the policy's cosignatures.

    With URL (or --archive URL), a site 'orderarchive publish' wrote: its signed checkpoint,
    that its tiles reproduce the signed root, its chain of releases, and that it extends the
    release seen before; with --full, also every entry and every document and text layer.
    """
    if url is not None or ctx.archive_url is not None:
        _verify_url(ctx, url or ctx.archive_url or "", trusted, full=full,
                    local_only=since is not None or no_objects or policy_file is not None)
    with errors_handled(ctx):
        terse = quiet(ctx)
        archive = ctx.archive()  # "no archive here" before "no trusted keys"
        keys = _trusted(ctx, trusted)
        _require_origin_key(keys, archive.origin)
        policy = _witness_policy(policy_file)
        with failed_verdict(terse):
            from ..verified import audit_incrementally

            run = audit_incrementally(
                archive, keys, full=full, check_objects=not no_objects,
                progress=_progress("verifying", not (ctx.as_json or terse)),
            )
            report = run.report
            history = None
            if since is not None or report.ok:
                from ..history import check_history

                history = check_history(archive, keys, report, since=since)
            signers = _who_signed(archive, keys, report)
            witnessed = (None if policy is None
                         else _verify_witnessed(archive, keys, policy, report))
    problems = list(report.problems)
    lines: list[str] = []
    if history is not None and history.checked:
        problems += history.problems
        lines = _history_lines(history, report.origin)
    if witnessed is not None:
        problems += witnessed.get("problems", [])
        lines += witnessed.get("lines", [])
    lines = _incremental_lines(run, problems) + lines
    if ctx.as_json:
        out: dict[str, Any] = dict(report.to_dict())
        out["incremental"] = run.to_dict()
        out["problems"] = [p.to_dict() for p in problems]
        out["ok"] = out["verified"] = not problems
        if history is not None and history.checked:
            out["lines"] = lines
            out["history"] = history.to_dict()
        out.update({"signers": signers} if signers is not None else {})
        if witnessed is not None and "witnesses" in witnessed:
            out["witnesses"] = witnessed["witnesses"]
        emit_json(out)
    elif terse:
        echo("failed" if problems else "verified")
    else:
        _echo_verify_text(report, problems, lines, signers)
    sys.exit(EXIT_OK if not problems else EXIT_FAILED)


def _echo_verify_text(report: Any, problems: list[Any], lines: list[str],
                      signers: list[dict[str, Any]] | None) -> None:
    for p in problems:
        echo(f"FAIL {p.message}", fg="red")
    _echo_refused(report)
    for line in lines:
        echo(line)
    if problems:
        echo(f"verification FAILED: {len(problems)} problem(s)", fg="red", err=True)
        return
    if report.first_checked:  # incremental: say what this run itself checked
        echo(
            f"verified {report.origin}: {report.size} entries; checked now: "
            f"{report.entries_checked} new entries ({report.documents} documents), "
            f"{report.signatures_checked} signatures, {report.objects_checked} objects",
            fg="green",
        )
    else:
        echo(
            f"verified {report.origin}: {report.size} entries ({report.documents} documents), "
            f"{report.signatures_checked} signatures, {report.objects_checked} objects",
            fg="green",
        )
    if report.releases:
        echo(
            f"released up to tree size {report.released_size}"
            + (f"; {report.unreleased} entries not yet released" if report.unreleased else "")
        )
    else:
        echo("no release yet: every entry is unreleased")
    _echo_signers(signers)


def _incremental_lines(run: VerifyRun, problems: list[Any]) -> list[str]:
    """What was checked (only what was added, or everything and why); remembers the state
    verified when nothing at all was wrong."""
    from ..errors import StateError
    from ..verified import remember_verified

    report, lines = run.report, []
    if run.since is not None and problems:
        lines.append(f"checked against the state verified on {run.since.verified} (size "
                     f"{run.since.size}); run verify --full to re-read everything")
    elif run.since is not None:
        since = run.since
        added = (f"entries {report.first_checked}..{report.size - 1}" if report.size > since.size
                 else "no new entries")
        lines.append(f"verified {added} and consistency with the state verified on "
                     f"{since.verified} (size {since.size}); run verify --full to re-read "
                     "everything")
    elif run.why_full is not None:
        lines.append(f"full verify: {run.why_full}")
    if not problems:
        try:
            remember_verified(run)
        except StateError as e:
            lines.append(f"warning: could not remember the verified state: {e}")
    return lines


def _echo_refused(report: Any) -> None:
    for p in report.refused:
        echo(f"REFUSED {p.message}: not valid (the key set revokes it)", fg="yellow")


def _echo_signers(signers: list[dict[str, Any]] | None) -> None:
    for item in signers or ():
        entries = (f"entries {item['first']}-{item['last']} ({item['entries']})"
                   if item["entries"] else "no entries")
        releases = ", ".join(map(str, item["releases"])) or "none"
        roles = ", ".join(item["roles"]) or "not in the newest key set"
        echo(f"signed by {item['key']} [{roles}]: {entries}; releases {releases}")


def _who_signed(archive: Any, keys: Any, report: Any) -> list[dict[str, Any]] | None:
    """With a trust file and a verified archive: which key signed what (verify's report)."""
    from ..log.keyset import KeyHistory

    if not isinstance(keys, KeyHistory) or not report.ok:
        return None
    result: list[dict[str, Any]] = archive.signers(keys, report.size, report.root)
    return result


def _verify_witnessed(archive: Any, keys: Any, policy: Any, report: Any) -> dict[str, Any]:
    """The policy's check for verify: the latest release must be cosigned (a problem if not)."""
    from ..archive import Problem
    from ..errors import NotFoundError, VerificationError
    from ..log.checkpoint import open_checkpoint
    from ..witnessing import require_witnessed

    if not report.releases:
        return {"problems": [Problem("not-witnessed", "no release: nothing is cosigned")]}
    size = report.released_size
    try:
        cp, _ = open_checkpoint(archive.release_note(size), keys, origin=archive.origin)
        cosigned = require_witnessed(archive, cp, keys, policy)
    except (VerificationError, NotFoundError) as e:
        return {"problems": [Problem("not-witnessed", f"release {size}: {e}")]}
    return {"witnesses": cosigned.to_dict(),
            "lines": [f"release {size} {line}" for line in _witness_lines(cosigned)]}


def _history_lines(history: HistoryReport, origin: str) -> list[str]:
    """What verify prints about the archive's history, after its problems."""
    lines = []
    if history.diverged:
        lines.append(f"evidence (both signed checkpoints) kept in {history.evidence}"
                     if history.evidence is not None
                     else f"could not keep the evidence: {history.evidence_error}")
    if history.extends is not None:
        what = ("the checkpoint seen before" if history.since is None
                else f"the checkpoint in {history.since}")
        ext = history.extends
        lines.append(f"extends {what}: tree size {ext.old_size} -> {ext.new_size} "
                     f"(consistency proof of {ext.proof_hashes} hashes verified)")
    if history.remember_error is not None:
        lines.append(f"warning: could not remember the checkpoint: {history.remember_error}")
    elif history.first_check and history.remembered_size is not None:
        lines.append(f"first check of {origin} here: remembered tree size "
                     f"{history.remembered_size} in {history.remembered}")
    return lines


def _verify_url(ctx: Ctx, url: str, trusted: Sequence[str], *, local_only: bool,
                full: bool) -> NoReturn:
    from ..remote import verify_remote

    with errors_handled(ctx):
        if local_only:
            raise MalformedError("--since, --no-objects and --witness-policy apply to an "
                                 "archive directory, not to a URL (its remembered release is "
                                 "checked)")
        terse = quiet(ctx)
        with failed_verdict(terse):
            result = verify_remote(url, _trusted(ctx, trusted), full=full)
    if ctx.as_json:
        emit_json({"ok": True, "verified": True, **result})
    elif terse:
        echo("verified")
    else:
        what = "release" if result["released"] else "checkpoint (not a release)"
        echo(f"verified {result['url']}: {result['origin']}, signed {what} of tree size "
             f"{result['size']}, its tiles reproduce the signed root", fg="green")
        echo(f"{len(result['releases'])} signed releases on the chain, each a prefix of "
             "the published tree")
        if "extends" in result["history"]:
            echo(f"extends the tree of size {result['history']['extends']} seen before")
        checked = result["full"]
        if checked is None:
            echo("not fetched: the entries' signatures and the documents; 'verify URL --full' "
                 "(or 'orderarchive mirror URL DIR' then 'verify') checks them all")
        else:
            echo(f"fetched and checked: {checked['entries']} entries (signature, inclusion in "
                 f"the signed checkpoint), {checked['objects']} documents and text layers "
                 f"(SHA-256 and signed size, {checked['object_bytes']} bytes), "
                 f"{result['requests']} requests", fg="green")
    sys.exit(EXIT_OK)
