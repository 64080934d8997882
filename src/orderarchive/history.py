"""Append-only over time: remembering checkpoints, proving extension, keeping fork evidence.

A signed log is only append-only if someone compares what it says today with what it said
before (RFC 9162 §8.1.2; "gossip"). A verifier therefore remembers, per origin, the last
checkpoint it accepted, in the user's state directory::

    $ORDERARCHIVE_STATE_DIR                       (else $XDG_STATE_HOME/orderarchive,
                                                   else ~/.local/state/orderarchive)
        checkpoints/<origin stem>-<12 hex>.checkpoint   the signed note, verbatim
        evidence/<origin stem>-<12 hex>/<time>-<kind>-<old>-<new>/
            old.checkpoint  new.checkpoint  evidence.json

and each later check of the same log, whether the archive itself or any copy of it, proves with
an RFC 9162 §2.1.4 consistency proof that the tree it now sees extends the remembered one.

Two validly signed checkpoints that cannot both be views of one append-only log are proof
that the log misbehaved: :class:`ForkEvidence` keeps them (and the consistency proof that
shows it) and can be checked again by anyone with the public key (:meth:`ForkEvidence.verify`).
A checkpoint smaller than one seen before proves less (a stale mirror looks the same) but is
refused just as loudly and kept the same way.

The remembered file is replaced atomically (temporary file, fsync, rename, fsync of the
directory) under an ``flock``, and never by a smaller checkpoint.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import stat
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import attrs

from . import canonical
from .archive import Archive, Problem, VerifyReport
from .canonical import JSONObject
from .errors import (
    CanonicalJSONError,
    MalformedError,
    NotFoundError,
    OrderArchiveError,
    Remedy,
    StorageError,
    VerificationError,
)
from .errors import LogForkedError as LogForkedError  # noqa: PLC0414 (defined in errors.py)
from .errors import LogRolledBackError as LogRolledBackError  # noqa: PLC0414 (defined in errors.py)
from .errors import StateError as StateError  # noqa: PLC0414 (defined in errors.py)
from .log import merkle
from .log.checkpoint import Checkpoint, open_checkpoint
from .log.keys import file_stem
from .log.layout import keyset_positions
from .log.note import SignedNote, VerifierKey, b64encode
from .log.store import file_lock, write_atomically

__all__ = [
    "EVIDENCE_FORMAT",
    "STATE_ENV",
    "Extension",
    "ExtensionSummary",
    "ForkEvidence",
    "HistoryReport",
    "LogForkedError",
    "LogRolledBackError",
    "RememberedFile",
    "SeenCheckpoint",
    "StateError",
    "check_extends",
    "check_history",
    "forget",
    "last_seen",
    "remember",
    "remembered_all",
    "remembered_path",
    "state_dir",
]

STATE_ENV = "ORDERARCHIVE_STATE_DIR"
EVIDENCE_FORMAT = "orderarchive-evidence/v1"
MAX_CHECKPOINT_FILE = 1 << 20

FORK = "fork"
ROLLBACK = "rollback"


# -- where state lives -------------------------------------------------------------------------


def state_dir() -> Path:
    """``$ORDERARCHIVE_STATE_DIR``, else ``$XDG_STATE_HOME/orderarchive``, else ~/.local/state."""
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "orderarchive"


def _origin_stem(origin: str) -> str:
    # Readable, and injective thanks to the hash: file_stem maps "a/b" and "a_b" alike.
    digest = hashlib.sha256(origin.encode("utf-8")).hexdigest()[:12]
    return f"{file_stem(origin)[:64]}-{digest}"


def remembered_path(origin: str, state: Path | None = None) -> Path:
    """The file holding the last checkpoint accepted for *origin*."""
    return (state or state_dir()) / "checkpoints" / f"{_origin_stem(origin)}.checkpoint"


def read_checkpoint_file(path: Path, what: str = "checkpoint file") -> bytes:
    """The bytes of a signed checkpoint file, as one-line errors when it cannot be read: a
    FIFO, device or directory is refused unread, and a file over
    :data:`MAX_CHECKPOINT_FILE` before it is read."""
    from .userfiles import read_bounded

    return read_bounded(
        path, MAX_CHECKPOINT_FILE, what=what, error=MalformedError, missing=NotFoundError
    )


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        write_atomically(path, data)
    except StorageError as e:
        raise StateError(str(e)) from e


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            stack.enter_context(file_lock(directory, ".lock", what="the state directory's lock"))
        except (OSError, StorageError) as e:
            reason = e.strerror if isinstance(e, OSError) else str(e)
            hint = e.hint if isinstance(e, StorageError) else None  # e.g. remove a symlink
            raise StateError(
                f"cannot use the state directory {directory}: {reason}", hint=hint
            ) from e
        yield


# -- remembered checkpoints --------------------------------------------------------------------


@attrs.frozen
class SeenCheckpoint:
    """A checkpoint accepted before, as remembered in :attr:`path`."""

    checkpoint: Checkpoint
    note: bytes = attrs.field(repr=False)
    path: Path


def _open(note: bytes, verifiers: Sequence[VerifierKey] | None, origin: str) -> Checkpoint:
    if verifiers is None:
        cp = Checkpoint.parse(SignedNote.parse(note).text)
        if cp.origin != origin:
            raise VerificationError(f"checkpoint is for log {cp.origin!r}, not {origin!r}")
        return cp
    return open_checkpoint(note, verifiers, origin=origin)[0]


def last_seen(
    origin: str,
    verifiers: Sequence[VerifierKey] | None = None,
    *,
    state: Path | None = None,
) -> SeenCheckpoint | None:
    """The last checkpoint remembered for *origin* (verified with *verifiers* if given)."""
    path = remembered_path(origin, state)
    _refuse_writable_by_others(path, state or state_dir())
    try:
        note = read_checkpoint_file(path, "remembered checkpoint")
    except NotFoundError:
        return None
    return SeenCheckpoint(_open(note, verifiers, origin), note, path)


def _refuse_writable_by_others(path: Path, top: Path) -> None:
    """Refuse a remembered checkpoint that someone else could have replaced: the file, or a
    directory from *top* down to it, owned by another user or writable by others. Another
    user could put back an older genuine release there, and a rolled-back mirror would then
    verify (every remembered checkpoint is signed, so only a rollback is open). Group write
    is allowed: with user private groups (umask 002) the group is the user's own."""
    chain = [top, *[p for p in reversed(path.parents) if p.is_relative_to(top) and p != top],
             path]
    for item in chain:
        try:
            st = os.lstat(item)
        except FileNotFoundError:
            return
        except OSError as e:
            raise StateError(f"cannot inspect {item}: {e.strerror}") from e
        if st.st_uid != os.geteuid() or st.st_mode & stat.S_IWOTH:
            raise StateError(
                f"{item} is another user's or writable by others: the release remembered "
                "there cannot be trusted to detect a rollback",
                hint=f"chmod o-w {item}, or set {STATE_ENV} to a directory of your own",
            )


def remember(
    note: bytes,
    verifiers: Sequence[VerifierKey],
    *,
    state: Path | None = None,
) -> SeenCheckpoint:
    """Remember the signed checkpoint *note* as the latest accepted for its origin.

    The caller has shown that *note* extends what was remembered (:func:`check_extends`). This
    only guards the file: it never goes back to a smaller tree (the remembered one is kept and
    returned), and a different root at the same size raises :class:`LogForkedError`.
    """
    cp, _ = open_checkpoint(note, verifiers)
    path = remembered_path(cp.origin, state)
    with _locked(path.parent):
        seen = last_seen(cp.origin, None, state=state)
        if seen is not None and seen.checkpoint.size == cp.size:
            if not hmac.compare_digest(seen.checkpoint.root_hash, cp.root_hash):
                raise LogForkedError(ForkEvidence.of(seen.note, note, cp.root_hash, ()))
            return seen
        if seen is not None and seen.checkpoint.size > cp.size:
            return seen
        _write_atomically(path, note)
    return SeenCheckpoint(cp, note, path)


@attrs.frozen
class RememberedFile:
    """One file of remembered state: its checkpoint, or why it cannot be read.

    The signature was checked when the checkpoint was remembered; listing does not check it
    again (no keys are needed to see or forget what is remembered).
    """

    path: Path
    seen: SeenCheckpoint | None
    problem: str | None = None


def remembered_all(state: Path | None = None) -> list[RememberedFile]:
    """Every checkpoint remembered in the state directory, sorted by file name."""
    directory = (state or state_dir()) / "checkpoints"
    try:
        paths = sorted(p for p in directory.iterdir() if p.name.endswith(".checkpoint"))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise StateError(f"cannot read the state directory {directory}: {e.strerror}") from e
    out: list[RememberedFile] = []
    for path in paths:
        try:
            note = read_checkpoint_file(path, "remembered checkpoint")
            origin = _origin_of(note)
            out.append(RememberedFile(path, SeenCheckpoint(_open(note, None, origin), note, path)))
        except OrderArchiveError as e:
            out.append(RememberedFile(path, None, str(e)))
    return out


def forget(origin: str, *, state: Path | None = None) -> RememberedFile | None:
    """Forget the checkpoint remembered for *origin*; return what was forgotten (or None).

    The next check of *origin* then accepts whatever validly signed checkpoint it sees first,
    as on a new machine: use it when a copy of another log with the same origin (a test copy)
    was verified here, never to silence a rollback of the production log. Fork and rollback
    evidence already kept is not removed.
    """
    path = remembered_path(origin, state)
    with _locked(path.parent):
        try:
            note = read_checkpoint_file(path, "remembered checkpoint")
            found = RememberedFile(path, SeenCheckpoint(_open(note, None, origin), note, path))
        except NotFoundError:
            return None
        except OrderArchiveError as e:
            found = RememberedFile(path, None, str(e))
        try:
            path.unlink()
        except OSError as e:
            raise StateError(f"cannot remove {path}: {e.strerror}") from e
    return found


# -- evidence ----------------------------------------------------------------------------------


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedError(f"evidence: {what} is not a string")
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as e:
        raise MalformedError(f"evidence: {what} is not base64") from e
    return raw


@attrs.frozen
class ForkEvidence:
    """Two signed checkpoints of one log that no append-only log could both have signed.

    ``kind`` is ``"fork"`` when the newer tree does not extend the older one: then
    :attr:`prefix_root` is the root of the first ``old.size`` leaves of the newer tree and
    :attr:`proof` the consistency proof from that prefix to the newer root, so the evidence
    itself shows the two roots disagree (for equal sizes the proof is empty and the prefix is
    the newer root). ``kind`` is ``"rollback"`` when the tree now shown is smaller than one seen
    before; :attr:`new_note` is None if the log showed no checkpoint at all.
    """

    kind: str
    old_note: bytes = attrs.field(repr=False)
    new_note: bytes | None = attrs.field(repr=False)
    prefix_root: bytes | None = None
    proof: tuple[bytes, ...] = ()
    detected: str = ""

    @classmethod
    def of(
        cls,
        old_note: bytes,
        new_note: bytes | None,
        prefix_root: bytes | None,
        proof: Sequence[bytes],
        *,
        now: datetime | None = None,
    ) -> ForkEvidence:
        """Evidence from the two signed checkpoints (*new_note* None: the log shows none)."""
        old = _open(old_note, None, _origin_of(old_note))
        new = _open(new_note, None, old.origin) if new_note is not None else None
        kind = ROLLBACK if new is None or new.size < old.size else FORK
        stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cls(kind, old_note, new_note, prefix_root, tuple(proof), stamp)

    @property
    def old(self) -> Checkpoint:
        """The checkpoint seen before, parsed (its signature was checked when it was kept)."""
        return _open(self.old_note, None, _origin_of(self.old_note))

    @property
    def new(self) -> Checkpoint | None:
        """The checkpoint that contradicts it, parsed, or None if the log showed none."""
        return _open(self.new_note, None, self.old.origin) if self.new_note is not None else None

    @property
    def origin(self) -> str:
        """The log's origin."""
        return self.old.origin

    def describe(self) -> str:
        """One line saying what the two checkpoints show."""
        old, new = self.old, self.new
        if new is None:
            return (f"the log shows no checkpoint, but a signed checkpoint of size {old.size} "
                    "was seen before: rolled back, truncated or replaced")
        if self.kind == ROLLBACK:
            return (f"the log is at size {new.size}, but a signed checkpoint of size {old.size} "
                    "was seen before: rolled back, truncated, or a stale copy")
        return (f"FORK: signed checkpoints of size {old.size} and {new.size} are inconsistent; "
                "the log was rewritten or shows different histories to different people")

    def verify(self, verifiers: Sequence[VerifierKey]) -> None:
        """Check that this evidence proves what :attr:`kind` says, with trusted keys only."""
        old, _ = open_checkpoint(self.old_note, verifiers)
        if self.new_note is None:
            if self.kind != ROLLBACK:
                raise VerificationError("evidence of a fork needs two checkpoints")
            return
        new, _ = open_checkpoint(self.new_note, verifiers, origin=old.origin)
        if self.kind == ROLLBACK:
            if new.size >= old.size:
                raise VerificationError("the checkpoints do not show a rollback")
            return
        if self.kind != FORK or self.prefix_root is None or old.size > new.size:
            raise VerificationError("the evidence is not a fork proof")
        if old.size == 0:
            raise VerificationError("every tree extends the empty tree")
        # The proof ties prefix_root to the signed new root (a wrong proof fails here), so
        # prefix_root is what the new tree holds at the old size.
        merkle.verify_consistency(old.size, new.size, self.prefix_root, new.root_hash, self.proof)
        if hmac.compare_digest(self.prefix_root, old.root_hash):
            raise VerificationError("the checkpoints are consistent: no fork")

    def to_dict(self) -> JSONObject:
        """The JSON object written to ``evidence.json``."""
        old, new = self.old, self.new
        return {
            "format": EVIDENCE_FORMAT,
            "kind": self.kind,
            "origin": old.origin,
            "detected": self.detected,
            "old_size": old.size,
            "old_root": b64encode(old.root_hash),
            "new_size": new.size if new else None,
            "new_root": b64encode(new.root_hash) if new else None,
            "prefix_root": b64encode(self.prefix_root) if self.prefix_root is not None else None,
            "proof": [b64encode(h) for h in self.proof],
            "message": self.describe(),
        }

    def write(self, state: Path | None = None) -> Path:
        """Keep the evidence in a new directory under the state directory; return it."""
        base = (state or state_dir()) / "evidence" / _origin_stem(self.origin)
        new = self.new
        stamp = self.detected.replace(":", "").replace("-", "")
        name = f"{stamp}-{self.kind}-{self.old.size}-{new.size if new else 'none'}"
        for attempt in range(100):
            directory = base / (name if not attempt else f"{name}.{attempt}")
            try:
                directory.mkdir(parents=True)
                break
            except FileExistsError:
                continue
            except OSError as e:
                raise StateError(f"cannot create {directory}: {e.strerror}") from e
        else:
            raise StateError(f"cannot create an evidence directory under {base}")
        _write_atomically(directory / "old.checkpoint", self.old_note)
        if self.new_note is not None:
            _write_atomically(directory / "new.checkpoint", self.new_note)
        _write_atomically(directory / "evidence.json", canonical.dumps(self.to_dict()) + b"\n")
        return directory

    @classmethod
    def read(cls, directory: Path) -> ForkEvidence:
        """Load evidence written by :meth:`write` (check it with :meth:`verify`)."""
        try:
            meta = canonical.loads(
                read_checkpoint_file(directory / "evidence.json", "evidence").rstrip(b"\n")
            )
        except CanonicalJSONError as e:
            raise MalformedError(f"{directory}/evidence.json is malformed: {e}") from e
        if not isinstance(meta, dict) or meta.get("format") != EVIDENCE_FORMAT:
            raise MalformedError(f"{directory} holds no {EVIDENCE_FORMAT} evidence")
        new_path = directory / "new.checkpoint"
        prefix = meta.get("prefix_root")
        proof = meta.get("proof")
        if not isinstance(proof, list):
            raise MalformedError("evidence: proof is not a list")
        return cls(
            kind=str(meta.get("kind")),
            old_note=read_checkpoint_file(directory / "old.checkpoint", "evidence"),
            new_note=read_checkpoint_file(new_path, "evidence") if new_path.exists() else None,
            prefix_root=_unb64(prefix, "prefix_root") if prefix is not None else None,
            proof=tuple(_unb64(h, "proof hash") for h in proof),
            detected=str(meta.get("detected", "")),
        )


def _origin_of(note: bytes) -> str:
    return Checkpoint.parse(SignedNote.parse(note).text).origin


# -- proving extension -------------------------------------------------------------------------


@attrs.frozen
class Extension:
    """The archive's latest checkpoint :attr:`new` extends :attr:`old`; :attr:`proof` shows it."""

    old: Checkpoint
    new: Checkpoint
    new_note: bytes = attrs.field(repr=False)
    proof: tuple[bytes, ...]


def check_extends(
    old_note: bytes, archive: Archive, keys: Sequence[VerifierKey]
) -> Extension:
    """Prove that *archive*'s latest signed checkpoint extends the signed checkpoint *old_note*.

    Raises :class:`LogRolledBackError` or :class:`LogForkedError` (carrying the evidence, not
    yet written) when it does not, and other verification errors when either checkpoint is not
    validly signed or the archive's stored hashes do not reproduce its own signed root.
    """
    old, _ = open_checkpoint(old_note, keys, origin=archive.origin)
    head = archive.head(keys)
    if head.checkpoint is None or head.note is None:
        if old.size == 0:
            raise NotFoundError("the archive has no checkpoint yet")
        raise LogRolledBackError(ForkEvidence.of(old_note, None, None, ()))
    new = head.checkpoint
    if new.size < old.size:
        raise LogRolledBackError(ForkEvidence.of(old_note, head.note, None, ()))
    if old.size == 0:  # every tree extends the empty one (RFC 9162 §2.1.4)
        return Extension(old, new, head.note, ())
    if new.size == old.size:
        prefix_root, proof = new.root_hash, []
    else:
        prefix_root = archive.tree_hash(old.size)
        proof = merkle.consistency_proof(old.size, new.size, archive.read_hashes)
    try:
        # Ties the archive's stored hashes to its signed root first: only then does a
        # difference from the old root prove a fork rather than a damaged copy.
        merkle.verify_consistency(old.size, new.size, prefix_root, new.root_hash, proof)
    except VerificationError as e:
        raise VerificationError(
            f"the archive's stored hashes do not reproduce its signed checkpoint: {e}",
            hint="verify the whole archive to see what is damaged",
            remedy=Remedy.FULL_VERIFY,
        ) from e
    if not hmac.compare_digest(prefix_root, old.root_hash):
        raise LogForkedError(ForkEvidence.of(old_note, head.note, prefix_root, proof))
    # The key-set index (docs/THREATS.md "The key-set index"): a later checkpoint of the same
    # log that names fewer of the key sets the remembered one named hides one (a rotation or
    # a revocation) from readers who look them up. One that names none makes them scan.
    old_sets, new_sets = keyset_positions(old), keyset_positions(new)
    if old_sets and new_sets is not None and new_sets[: len(old_sets)] != old_sets:
        raise VerificationError(
            f"the archive's checkpoint names key sets at {list(new_sets)}, the remembered "
            f"one at {list(old_sets)}: a key set is left out",
            hint="verify the whole archive to see what is hidden",
            remedy=Remedy.FULL_VERIFY,
        )
    return Extension(old, new, head.note, tuple(proof))


# -- the verify command's history check --------------------------------------------------------


@attrs.frozen
class ExtensionSummary:
    """The archive's tree of :attr:`new_size` was proved to extend the one of :attr:`old_size`."""

    old_size: int
    new_size: int
    proof_hashes: int

    def to_dict(self) -> dict[str, int]:
        """The JSON object ``verify --json`` prints under ``history.extends``."""
        return {"old_size": self.old_size, "new_size": self.new_size,
                "proof_hashes": self.proof_hashes}


@attrs.frozen
class HistoryReport:
    """What :func:`check_history` found: the verified archive compared with what was seen before.

    :attr:`checked` is false when nothing was compared (the archive's own verification failed
    and no *since* file was given); every other field is then empty. :attr:`problems` are
    verification failures (a fork, a rollback, an unusable memory); the other fields say what
    was proved, remembered or kept, for the caller to render.
    """

    checked: bool
    problems: tuple[Problem, ...] = ()
    #: The *since* checkpoint file compared with, if one was given.
    since: Path | None = None
    #: The proof that the archive extends the old checkpoint, when it does.
    extends: ExtensionSummary | None = None
    #: Whether a fork or rollback was found (its evidence then kept in :attr:`evidence`).
    diverged: bool = False
    #: Where the evidence of a fork or rollback was kept, if it could be written.
    evidence: Path | None = None
    #: Why the evidence could not be kept, if it could not.
    evidence_error: str | None = None
    #: The file in the state directory that remembers this origin's checkpoint (no *since*).
    remembered: Path | None = None
    #: The tree size remembered now, if a checkpoint was remembered.
    remembered_size: int | None = None
    #: True when nothing was remembered for this origin before (the first check here).
    first_check: bool = False
    #: Why the checkpoint could not be remembered, if it could not (a warning, not a problem).
    remember_error: str | None = None

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        """The JSON object ``verify --json`` prints under ``history``."""
        out: dict[str, object] = {}
        if self.since is not None:
            out["since"] = str(self.since)
        if self.remembered is not None:
            out["remembered"] = str(self.remembered)
        if self.diverged:
            out["evidence"] = None if self.evidence is None else str(self.evidence)
        if self.extends is not None:
            out["extends"] = self.extends.to_dict()
        if self.remembered_size is not None:
            out["remembered_size"] = self.remembered_size
        return out


def check_history(
    archive: Archive,
    keys: Sequence[VerifierKey],
    report: VerifyReport,
    *,
    since: Path | None = None,
    state: Path | None = None,
) -> HistoryReport:
    """Compare the verified archive with what was seen before; remember it if all is well.

    With *since* (a checkpoint file), prove the archive extends that checkpoint; the remembered
    state is then neither consulted nor changed. Without it, and only when *report* is clean,
    compare with the checkpoint remembered for this origin, then remember the newest release
    (or, before the first release, the latest checkpoint). A rollback or fork becomes a problem,
    and both signed checkpoints are kept as evidence in the state directory.

    Raises :class:`NotFoundError` or :class:`MalformedError` when *since* cannot be read.
    """
    history = _History(archive, keys, state)
    if since is not None:
        history.report = attrs.evolve(history.report, since=since)
        history.compare(read_checkpoint_file(since), f"the checkpoint in {since}")
    elif report.ok:
        history.compare_and_remember(report)
    else:
        return HistoryReport(checked=False)
    return history.report


class _History:
    def __init__(self, archive: Archive, keys: Sequence[VerifierKey], state: Path | None) -> None:
        self.archive = archive
        self.keys = keys
        self.state = state
        self.report = HistoryReport(checked=True)
        self.state_used = False

    def problem(self, code: str, message: str) -> None:
        problems = (*self.report.problems, Problem(code, message))
        self.report = attrs.evolve(self.report, problems=problems)

    def compare(self, old_note: bytes, what: str) -> bool:
        try:
            ext = check_extends(old_note, self.archive, self.keys)
        except (LogForkedError, LogRolledBackError) as e:
            code = FORK if isinstance(e, LogForkedError) else ROLLBACK
            advice = ""
            if code == ROLLBACK and self.state_used:
                # An older valid copy (a stale mirror, a test copy of the same origin) fails
                # here forever unless the user is told the way out.
                advice = (
                    "; if this is an older copy, get the latest release from the publisher; "
                    "if it is a different log with the same "
                    "origin (a test copy), check it with ORDERARCHIVE_STATE_DIR set to another "
                    "directory, or run 'orderarchive state forget "
                    f"{self.archive.origin}' (the next verify trusts what it sees first)"
                )
            self.problem(code, f"{what}: {e}{advice}")
            self.report = attrs.evolve(self.report, diverged=True)
            try:
                self.report = attrs.evolve(self.report, evidence=e.evidence.write(self.state))
            except OrderArchiveError as w:
                self.report = attrs.evolve(self.report, evidence_error=str(w))
            return False
        except OrderArchiveError as e:
            self.problem("history", f"{what}: {e}")
            return False
        extends = ExtensionSummary(ext.old.size, ext.new.size, len(ext.proof))
        self.report = attrs.evolve(self.report, extends=extends)
        return True

    def compare_and_remember(self, report: VerifyReport) -> None:
        origin = self.archive.origin
        path = remembered_path(origin, self.state)
        self.report = attrs.evolve(self.report, remembered=path)
        try:
            seen = last_seen(origin, self.keys, state=self.state)
        except StateError as e:
            # The directory itself is the trouble (another user's, or writable by others):
            # deleting the file would not help, so its own way out, not the key-change one.
            self.problem("history", f"the state directory cannot be used: {e}"
                         + (f" ({e.hint})" if e.hint else ""))
            return
        except OrderArchiveError as e:
            self.problem(
                "history", f"the checkpoint remembered in {path} is unusable: {e}; if the log's "
                "key changed legitimately, delete that file")
            return
        self.state_used = True
        if seen is not None and not self.compare(seen.note, "the checkpoint seen before"):
            return
        try:
            note = (self.archive.release_note(report.releases[-1]) if report.releases
                    else self.archive.head(self.keys).note)
            kept = remember(note, self.keys, state=self.state) if note is not None else None
        except OrderArchiveError as e:
            self.report = attrs.evolve(self.report, remember_error=str(e))
            return
        if kept is None:
            return
        self.report = attrs.evolve(self.report, remembered_size=kept.checkpoint.size,
                                   first_check=seen is None)
