"""Incremental ``verify``: remembering what this machine fully verified, tamper-evidently.

A full verify re-reads every entry and object. Once an archive's state (its tree size and
root) has been fully verified here, the next ``verify`` of the same archive under the same
trust need only prove that the new signed checkpoint extends that root (RFC 9162 §2.1.4
consistency) and check the entries, objects and text layers added since: O(new + log n)
(Certificate Transparency monitors and Go's ``tlog`` clients work the same way; the TUF
client keeps its trusted metadata for the same reason).

What makes it safe is the remembered state, kept in the user's state directory (beside the
remembered checkpoints of :mod:`.history`, never in the archive: whoever can write the archive
must not be able to say what was verified)::

    verified/secret                                   32 random bytes, mode 0600
    verified/<origin stem>-<location 16 hex>-<trust 16 hex>.json   the state, with its MAC
    verified/<same name>.ids                          sorted keyed hashes of the document ids

* It is keyed by the origin, the archive's directory (resolved) and the trust (the
  fingerprint of the trusted keys or key history): a verification under one key set says
  nothing under another, nor of another copy.
* It holds the size, the root, the options that matter (objects re-hashed), the time and the
  tool's version, and an HMAC-SHA256 under the per-user secret over all of it and over the
  ids file's SHA-256. A state file that does not parse or whose MAC differs is never trusted:
  the verify is full, and says why.
* Only a verify that found no problem at all writes it (:func:`remember_verified`), after
  every check, atomically (the ids file first, the state naming its hash last).

The document ids are kept so that a new entry's id can still be checked against every earlier
one (reuse, relations to earlier documents) without re-reading the log: 8 bytes a document,
keyed with a key derived from the secret so that nobody can choose colliding ids.

Entries before the remembered size are not re-read: damage to them after the remembered
verify is found only by ``verify --full`` (docs/THREATS.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
import sys
from array import array
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import attrs

from . import canonical
from .archive import Archive, VerifyReport, keyset_fingerprint
from .canonical import JSONObject
from .errors import (
    CanonicalJSONError,
    MalformedError,
    NotFoundError,
    StateError,
    StorageError,
)
from .history import _locked, _origin_stem, _refuse_writable_by_others, state_dir
from .log.audit import Auditor, Baseline
from .log.log import ProgressFn
from .log.note import VerifierKey, b64encode
from .log.store import FileStore, write_atomically

__all__ = [
    "STATE_FORMAT",
    "VerifiedState",
    "VerifyRun",
    "audit_incrementally",
    "forget_verified",
    "remember_verified",
]

STATE_FORMAT = "orderarchive-verified/v1"
SECRET_BYTES = 32
MAX_STATE_FILE = 1 << 16
_MAC_CONTEXT = b"orderarchive verified-state v1\n"
_IDS_CONTEXT = b"orderarchive verified-ids v1"


@attrs.frozen
class VerifiedState:
    """A state of one archive that a verify here found entirely correct (the JSON file)."""

    origin: str
    location: str
    trust: str
    size: int
    root: bytes
    objects: bool
    verified: str
    tool: str
    ids_count: int
    ids_sha256: str

    def body(self) -> JSONObject:
        """The state file's JSON object without its MAC."""
        return {
            "format": STATE_FORMAT,
            "origin": self.origin,
            "location": self.location,
            "trust": self.trust,
            "size": self.size,
            "root": b64encode(self.root),
            "options": {"objects": self.objects},
            "verified": self.verified,
            "tool": self.tool,
            "ids": {"count": self.ids_count, "sha256": self.ids_sha256},
        }

    @classmethod
    def from_body(cls, body: JSONObject) -> VerifiedState:
        """Parse :meth:`body`'s object (its MAC already checked); :class:`MalformedError`."""
        options, ids = body.get("options"), body.get("ids")
        if not isinstance(options, dict) or not isinstance(ids, dict):
            raise MalformedError("a field is missing")
        try:
            values = (body["origin"], body["location"], body["trust"], body["size"],
                      body["root"], options["objects"], body["verified"], body["tool"],
                      ids["count"], ids["sha256"])
        except KeyError as e:
            raise MalformedError("a field is missing") from e
        origin, location, trust, size, root, objects, verified, tool, count, sha = values
        if (body.get("format") != STATE_FORMAT or not all(
                isinstance(v, str) for v in (origin, location, trust, root, verified, tool, sha))
                or not isinstance(objects, bool) or not isinstance(size, int)
                or not isinstance(count, int) or size < 0 or count < 0):
            raise MalformedError("a field has the wrong type")
        try:
            raw_root = base64.b64decode(str(root), validate=True)
        except (binascii.Error, ValueError) as e:
            raise MalformedError("the root is not base64") from e
        if len(raw_root) != 32:
            raise MalformedError("the root is not 32 bytes")
        return cls(str(origin), str(location), str(trust), size, raw_root, objects,
                   str(verified), str(tool), count, str(sha))


@attrs.frozen
class VerifyRun:
    """What :func:`audit_incrementally` did: the report, and whether it was incremental.

    :attr:`since` is the remembered state the audit started from (None: a full audit), and
    :attr:`why_full` says why a full audit was done when a state could not be used.
    """

    report: VerifyReport
    since: VerifiedState | None
    why_full: str | None
    location: str | None = None
    trust: str = ""
    check_objects: bool = True
    #: The key of :attr:`doc_ids` (derived from the state directory's secret; None: a key
    #: of this run only, so nothing can be remembered).
    id_key: bytes | None = attrs.field(default=None, repr=False)
    doc_ids: array[int] | None = attrs.field(default=None, repr=False, eq=False)

    @property
    def incremental(self) -> bool:
        """True when only what was added since :attr:`since` was checked."""
        return self.since is not None

    def to_dict(self) -> JSONObject:
        """The JSON object ``verify --json`` prints under ``incremental``."""
        out: JSONObject = {"incremental": self.incremental}
        if self.since is not None:
            out["since_size"] = self.since.size
            out["since_verified"] = self.since.verified
        if self.why_full is not None:
            out["why_full"] = self.why_full
        return out


def _directory(state: Path | None) -> Path:
    return (state or state_dir()) / "verified"


def _location(archive: Archive) -> str | None:
    store = archive.store
    if not isinstance(store, FileStore):
        return None
    try:
        return str(Path(store.root).resolve(strict=True))
    except OSError:
        return None


def _paths(directory: Path, origin: str, location: str, trust: str) -> tuple[Path, Path]:
    loc = hashlib.sha256(location.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    stem = f"{_origin_stem(origin)}-{loc}-{trust[:16]}"
    return directory / f"{stem}.json", directory / f"{stem}.ids"


def _ensure_secret(directory: Path) -> bytes:
    """The per-user secret that authenticates the state, created (0600) on first use.

    Creating it is not remembering anything: it only lets the first full audit key its
    document ids so that they can be remembered once every check has passed.
    """
    with _locked(directory.parent):
        try:
            directory.mkdir(mode=0o700, exist_ok=True)
        except OSError as e:
            raise StateError(f"cannot create {directory}: {e.strerror}") from e
        secret = _read_secret(directory)
        if secret is None:
            secret = secrets.token_bytes(SECRET_BYTES)
            try:
                write_atomically(directory / "secret", secret, mode=0o600)
            except StorageError as e:
                raise StateError(str(e)) from e
    return secret


def _read_secret(directory: Path) -> bytes | None:
    """The per-user secret (None: not created yet)."""
    path = directory / "secret"
    _refuse_writable_by_others(path, directory.parent)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StateError(f"cannot read {path}: {e.strerror}") from e
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o077:
            raise StateError(f"{path} is not a file only its owner can read (mode 0600)")
        data = os.read(fd, SECRET_BYTES + 1)
    except OSError as e:
        raise StateError(f"cannot read {path}: {e.strerror}") from e
    finally:
        os.close(fd)
    if len(data) != SECRET_BYTES:
        raise StateError(f"{path} is not a {SECRET_BYTES}-byte secret")
    return data


def _mac(key: bytes, body: bytes) -> str:
    return hmac.new(key, _MAC_CONTEXT + body, hashlib.sha256).hexdigest()


def _id_key(secret: bytes) -> bytes:
    return hmac.new(secret, _IDS_CONTEXT, hashlib.sha256).digest()[:16]


def _ids_bytes(ids: array[int]) -> bytes:
    out = array("Q", ids)
    if sys.byteorder == "little":
        out.byteswap()  # stored big-endian (docs/FORMAT.md)
    return out.tobytes()


def _load(paths: tuple[Path, Path], secret: bytes, expected: tuple[str, str, str]
          ) -> tuple[VerifiedState, array[int]] | None:
    """The remembered state (None: none), or :class:`MalformedError` saying why it is not
    trusted."""
    from .userfiles import read_bounded

    path, ids_path = paths
    try:
        raw = read_bounded(path, MAX_STATE_FILE, what="verified state", missing=NotFoundError)
    except NotFoundError:
        return None
    try:
        doc = canonical.loads(raw.rstrip(b"\n"))
    except CanonicalJSONError as e:
        raise MalformedError(f"{path} is not canonical JSON ({e})") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("mac"), str):
        raise MalformedError(f"{path} has no MAC")
    mac = str(doc.pop("mac"))
    if not hmac.compare_digest(_mac(secret, canonical.dumps(doc)), mac):
        raise MalformedError(f"{path} was altered or corrupted (its MAC does not match)")
    state = VerifiedState.from_body(doc)
    if (state.origin, state.location, state.trust) != expected:
        raise MalformedError(f"{path} is the state of another archive or trust")
    if not state.objects:
        raise MalformedError(f"{path} records a verify that did not re-hash the objects")
    from . import __version__

    if state.tool != __version__:  # another version's checks may differ
        raise MalformedError(f"{path} was written by orderarchive {state.tool}, this is "
                             f"{__version__}")
    data = read_bounded(ids_path, state.ids_count * 8, what="verified ids",
                        missing=MalformedError)
    if len(data) != state.ids_count * 8 or not hmac.compare_digest(
            hashlib.sha256(data).hexdigest(), state.ids_sha256):
        raise MalformedError(f"{ids_path} does not match the state that names it")
    ids = array("Q")
    ids.frombytes(data)
    if sys.byteorder == "little":
        ids.byteswap()
    return state, ids


def audit_incrementally(
    archive: Archive,
    verifiers: Sequence[VerifierKey],
    *,
    full: bool = False,
    check_objects: bool = True,
    progress: ProgressFn | None = None,
    workers: int | None = None,
    state: Path | None = None,
) -> VerifyRun:
    """Audit *archive*: only what was added since the state remembered for it here under the
    same trust, else (or with *full*) everything.

    A remembered state that cannot be trusted (edited, corrupt, its secret gone or readable
    by others) is never used: the audit is full and :attr:`VerifyRun.why_full` says why. A
    signed checkpoint that is not consistent with the remembered root, or smaller, is a
    problem in the report, not a reason to fall back. Nothing is written here: see
    :func:`remember_verified`.
    """
    location = _location(archive)
    trust = keyset_fingerprint(verifiers)
    job = _Job(archive, verifiers, progress, check_objects, workers, location, trust)
    if location is None:
        return job.full(None, "the archive is not a local directory: nothing is remembered "
                        "for it")
    directory = _directory(state)
    paths = _paths(directory, archive.origin, location, trust)
    secret: bytes | None = None
    loaded = None
    try:
        secret = _ensure_secret(directory)
        loaded = _load(paths, secret, (archive.origin, location, trust))
    except (StateError, MalformedError) as e:
        why = f"the remembered verified state cannot be trusted ({e}); checked everything"
    else:
        why = (_other_trust(directory, paths[0])
               or "no earlier full verification of this archive here; checked everything")
    if full:
        why = "--full: checked everything"
    elif not check_objects:
        why = "objects not re-hashed (--no-objects): checked every entry"
    id_key = _id_key(secret) if secret is not None else None
    if loaded is None or full or not check_objects or id_key is None:
        return job.full(id_key, why)
    remembered, ids = loaded
    baseline = Baseline(remembered.size, remembered.root, id_key, ids)
    auditor = Auditor(archive.log, verifiers, progress, check_objects, workers,
                      baseline=baseline)
    report = auditor.run()
    return VerifyRun(report, remembered, None, location, trust, check_objects, id_key,
                     auditor.doc_ids)


def _other_trust(directory: Path, path: Path) -> str | None:
    """Why there is no state: another trust's state of the same archive, if there is one."""
    prefix = path.name.rsplit("-", 1)[0]
    try:
        others = [p for p in directory.glob(f"{prefix}-*.json") if p != path]
    except OSError:
        return None
    if others:
        return ("the trusted keys differ from those of the earlier verification of this "
                "archive here; checked everything")
    return None


@attrs.frozen
class _Job:
    archive: Archive
    verifiers: Sequence[VerifierKey]
    progress: ProgressFn | None
    check_objects: bool
    workers: int | None
    location: str | None
    trust: str

    def full(self, id_key: bytes | None, why: str | None) -> VerifyRun:
        auditor = Auditor(self.archive.log, self.verifiers, self.progress, self.check_objects,
                          self.workers, id_key=id_key or secrets.token_bytes(16))
        report = auditor.run()
        return VerifyRun(report, None, why, self.location, self.trust, self.check_objects,
                         id_key, auditor.doc_ids if id_key is not None else None)


def remember_verified(
    run: VerifyRun,
    *,
    state: Path | None = None,
    now: datetime | None = None,
) -> Path | None:
    """Remember *run*'s state as fully verified, if it may be: its report found no problem,
    objects were re-hashed, and the archive is a local directory. The caller calls this only
    after every other check (history, witnesses) passed too. Returns the file written (None:
    nothing may be remembered). Raises :class:`StateError` when it cannot be written.
    """
    report = run.report
    if (not report.ok or report.refused or not run.check_objects or run.location is None
            or run.doc_ids is None or run.id_key is None or report.root is None):
        return None
    from . import __version__

    directory = _directory(state)
    json_path, ids_path = _paths(directory, report.origin, run.location, run.trust)
    with _locked(directory.parent):
        secret = _read_secret(directory)
        if secret is None or not hmac.compare_digest(_id_key(secret), run.id_key):
            raise StateError(f"the secret in {directory} changed during the verify")
        ids = _ids_bytes(run.doc_ids)
        stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        verified = VerifiedState(
            report.origin, run.location, run.trust, report.size, report.root, True, stamp,
            __version__, len(ids) // 8, hashlib.sha256(ids).hexdigest(),
        )
        body = verified.body()
        doc = dict(body, mac=_mac(secret, canonical.dumps(body)))
        try:
            write_atomically(ids_path, ids, mode=0o600)
            write_atomically(json_path, canonical.dumps(doc) + b"\n", mode=0o600)
        except StorageError as e:
            raise StateError(str(e)) from e
    return json_path


def forget_verified(origin: str, *, state: Path | None = None) -> int:
    """Forget every fully verified state remembered for *origin* (any archive directory, any
    trust): the next verify of each of its archives checks everything. Returns how many.
    Raises :class:`StateError` when one cannot be removed."""
    directory = _directory(state)
    stem = _origin_stem(origin)
    if not directory.is_dir():
        return 0
    count = 0
    with _locked(directory.parent):
        try:
            found = sorted(directory.glob(f"{stem}-*.json"))
        except OSError as e:
            raise StateError(f"cannot list {directory}: {e.strerror}") from e
        for path in found:
            # <stem>-<location 16 hex>-<trust 16 hex>: the stem itself ends in "-<12 hex>",
            # so another origin's stem cannot share this prefix and these two parts.
            if path.name.count("-") - stem.count("-") != 2:
                continue
            try:
                path.with_suffix(".ids").unlink(missing_ok=True)
                path.unlink()
            except OSError as e:
                raise StateError(f"cannot remove {path}: {e.strerror}") from e
            count += 1
    return count
