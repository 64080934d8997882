"""A transparency-log witness (c2sp.org/tlog-witness ``add-checkpoint``), state in SQLite.

A witness cosigns a checkpoint only if it is consistent with the latest checkpoint it
cosigned for that origin, so a publisher that shows two histories to two readers cannot get
both cosigned (the split view; docs/THREATS.md). This module is the protocol core and the
state store; :mod:`.witness_http` puts it on HTTP.

``add-checkpoint`` request body (tlog-witness "add-checkpoint")::

    old <size>\\n
    <base64 consistency proof hash>\\n     (0-63 lines; none if old is 0)
    \\n
    <signed checkpoint note>

Outcomes, checked in the spec's order: 400 malformed body; 404 unknown origin; 403 no
signature by a log key the witness trusts for the origin; 400 old > checkpoint size; 409
(body ``<size>\\n``, ``text/x.tlog.size``) old differs from the latest cosigned size, or the
same size arrives with another root; 422 consistency proof does not verify; 200 with the
cosignature line otherwise.

Check-and-update is atomic: the latest cosigned size and root are read, compared, and the new
ones written in one ``BEGIN IMMEDIATE`` SQLite transaction (the database's write lock), and
the transaction commits before the answer is sent. Two racing requests therefore cannot both
win, nor can the slower one roll the witness back (the race in tlog-witness "add-checkpoint").
SQLite foreign exceptions become :class:`~.errors.StorageError`.
"""

from __future__ import annotations

import contextlib
import hmac
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from ..errors import (
    KeyFileError,
    MalformedError,
    NoteFormatError,
    SignatureError,
    StorageError,
    VerificationError,
)
from ..errors import WitnessRequestError as WitnessRequestError  # noqa: PLC0414 (defined in errors.py)
from . import merkle
from .checkpoint import Checkpoint
from .cosignature import Cosigner
from .note import ALG_ED25519, SignedNote, VerifierKey, _strict_b64decode
from .note import b64encode as _b64encode

if TYPE_CHECKING:
    import sqlite3

    from .keys import SecretKeyFile

__all__ = [
    "MAX_PROOF_LINES",
    "MAX_REQUEST_BYTES",
    "SIZE_CONTENT_TYPE",
    "AddCheckpointRequest",
    "CosignedRecord",
    "Response",
    "Witness",
    "WitnessRequestError",
    "WitnessState",
    "init_witness",
    "open_state",
    "open_witness",
]

#: tlog-witness: "The client MUST NOT send more than 63 consistency proof lines."
MAX_PROOF_LINES = 63
#: A request is a size line, the proof and one note (signed-note's limit is 1 MiB).
MAX_REQUEST_BYTES = (1 << 20) + 64 * 64
SIZE_CONTENT_TYPE = "text/x.tlog.size"
NOTE_CONTENT_TYPE = "text/plain; charset=utf-8"



@attrs.frozen
class AddCheckpointRequest:
    """A parsed ``add-checkpoint`` body: old size, consistency proof, checkpoint note."""

    old: int
    proof: tuple[bytes, ...]
    note: bytes

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpointRequest:
        if len(body) > MAX_REQUEST_BYTES:
            raise WitnessRequestError("request body is too large")
        head, sep, note = body.partition(b"\n\n")
        if not sep:
            raise WitnessRequestError("request has no blank line before the checkpoint")
        lines = head.split(b"\n")
        first = lines[0]
        if not first.startswith(b"old "):
            raise WitnessRequestError("request does not start with an 'old <size>' line")
        size_text = first[4:].decode("ascii", "replace")
        if not size_text.isascii() or not size_text.isdigit() or (
            len(size_text) > 1 and size_text[0] == "0"
        ) or int(size_text) > merkle.MAX_TREE_SIZE:
            raise WitnessRequestError(f"old size {size_text!r} is not a canonical decimal")
        proof_lines = lines[1:]
        if len(proof_lines) > MAX_PROOF_LINES:
            raise WitnessRequestError(f"more than {MAX_PROOF_LINES} consistency proof lines")
        try:
            proof = tuple(
                _strict_b64decode(p.decode("ascii"), "consistency proof line")
                for p in proof_lines
            )
        except (NoteFormatError, UnicodeDecodeError) as e:
            raise WitnessRequestError(f"malformed consistency proof line: {e}") from e
        if any(len(h) != merkle.HASH_SIZE for h in proof):
            raise WitnessRequestError("a consistency proof line is not a 32-byte hash")
        old = int(size_text)
        if old == 0 and proof:
            raise WitnessRequestError("the consistency proof must be empty when old is 0")
        return cls(old, proof, note)

    def to_bytes(self) -> bytes:
        lines = [f"old {self.old}", *(_b64encode(h) for h in self.proof)]
        return "".join(f"{line}\n" for line in lines).encode() + b"\n" + self.note


@attrs.frozen
class Response:
    """What the witness answers: an HTTP status, a content type and a body."""

    status: int
    content_type: str
    body: bytes

    @classmethod
    def text(cls, status: int, message: str) -> Response:
        return cls(status, NOTE_CONTENT_TYPE, (message.rstrip("\n") + "\n").encode())


@attrs.frozen
class CosignedRecord:
    """One checkpoint the witness cosigned (for the page listing what it has cosigned)."""

    origin: str
    size: int
    root_hash: bytes
    time: int

    def to_dict(self) -> dict[str, object]:
        return {
            "origin": self.origin,
            "size": self.size,
            "root": _b64encode(self.root_hash),
            "time": self.time,
        }


class _Refused(Exception):
    """Internal: a refusal decided inside the transaction (rolled back, then answered)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


_SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    origin TEXT PRIMARY KEY,
    size TEXT NOT NULL,           -- decimal: tree sizes are uint64, SQLite integers int64
    root BLOB                     -- NULL until the first cosignature
);
CREATE TABLE IF NOT EXISTS log_keys (
    origin TEXT NOT NULL REFERENCES logs(origin),
    vkey TEXT NOT NULL,
    PRIMARY KEY (origin, vkey)
);
CREATE TABLE IF NOT EXISTS cosigned (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    size TEXT NOT NULL,
    root BLOB NOT NULL,
    time INTEGER NOT NULL,
    checkpoint BLOB NOT NULL      -- the note as received, cosignature appended
);
"""


class WitnessState:
    """The witness's SQLite database: the logs it witnesses, their keys, what it cosigned."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        import sqlite3  # not at module level: the CLI must start without it

        try:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        except sqlite3.Error as e:
            raise StorageError(f"cannot open the witness database {self.path}: {e}") from e
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # committed means on disk before we answer
            yield db
        except sqlite3.Error as e:
            raise StorageError(f"witness database {self.path}: {e}") from e
        finally:
            db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding SQLite's write lock from its first statement."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def add_log(self, origin: str, key: VerifierKey) -> bool:
        """Trust *key* (type 0x01, named after *origin*) for *origin*; False if it was."""
        if key.key_type != ALG_ED25519 or key.name != origin:
            raise NoteFormatError(
                f"log key {key} is not an Ed25519 key named after the origin {origin!r}"
            )
        Checkpoint(origin, 0, bytes(32))  # the origin is a valid checkpoint line
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO logs (origin, size) VALUES (?, '0')", (origin,))
            cur = db.execute(
                "INSERT OR IGNORE INTO log_keys (origin, vkey) VALUES (?, ?)", (origin, str(key))
            )
            return cur.rowcount == 1

    def log_keys(self, origin: str) -> list[VerifierKey] | None:
        """The keys trusted for *origin*, or None when the witness does not know it."""
        with self._connect() as db:
            if db.execute("SELECT 1 FROM logs WHERE origin = ?", (origin,)).fetchone() is None:
                return None
            rows = db.execute("SELECT vkey FROM log_keys WHERE origin = ?", (origin,)).fetchall()
        return [VerifierKey.parse(r[0]) for r in rows]

    def latest(self, origin: str) -> tuple[int, bytes | None] | None:
        with self._connect() as db:
            row = db.execute("SELECT size, root FROM logs WHERE origin = ?", (origin,)).fetchone()
        return None if row is None else (int(row[0]), row[1])

    def cosigned(self, limit: int = 1000) -> list[CosignedRecord]:
        """What the witness has cosigned, newest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT origin, size, root, time FROM cosigned ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [CosignedRecord(r[0], int(r[1]), r[2], r[3]) for r in rows]

    def count(self, origin: str) -> int:
        with self._connect() as db:
            row = db.execute("SELECT count(*) FROM cosigned WHERE origin = ?", (origin,)).fetchone()
        return int(row[0])


class Witness:
    """Answers ``add-checkpoint`` requests with a :class:`Cosigner` and a :class:`WitnessState`."""

    def __init__(
        self, cosigner: Cosigner, state: WitnessState, clock: Callable[[], int] | None = None
    ) -> None:
        self.cosigner = cosigner
        self.state = state
        self.clock = clock or (lambda: int(time.time()))

    def add_checkpoint(self, body: bytes) -> Response:
        try:
            return self._add_checkpoint(body)
        except _Refused as refused:
            return refused.response

    def _add_checkpoint(self, body: bytes) -> Response:
        try:
            req = AddCheckpointRequest.parse(body)
            note = SignedNote.parse(req.note)
            cp = Checkpoint.parse(note.text)
        except (MalformedError, NoteFormatError) as e:
            return Response.text(400, f"malformed request: {e}")
        keys = self.state.log_keys(cp.origin)
        if keys is None:
            return Response.text(404, f"unknown log origin {cp.origin!r}")
        if not _signed_by(note, keys):
            return Response.text(403, "no signature verifies with a key trusted for this log")
        if req.old > cp.size:
            return Response.text(400, f"old size {req.old} is larger than the checkpoint size")
        with self.state.transaction() as db:
            row = db.execute(
                "SELECT size, root FROM logs WHERE origin = ?", (cp.origin,)
            ).fetchone()
            size, root = int(row[0]), row[1]
            if req.old != size:
                raise _Refused(Response(409, SIZE_CONTENT_TYPE, f"{size}\n".encode()))
            if req.old == cp.size:
                if req.proof:
                    raise _Refused(Response.text(422, "proof must be empty for equal sizes"))
                if root is not None and not hmac.compare_digest(root, cp.root_hash):
                    raise _Refused(Response(409, SIZE_CONTENT_TYPE, f"{size}\n".encode()))
            elif req.old > 0:
                try:
                    merkle.verify_consistency(req.old, cp.size, root, cp.root_hash, req.proof)
                except VerificationError as e:
                    raise _Refused(Response.text(422, f"consistency proof: {e}")) from e
            now = self.clock()
            line = self.cosigner.cosign(note.text, now).to_line().encode()
            db.execute(
                "UPDATE logs SET size = ?, root = ? WHERE origin = ?",
                (str(cp.size), cp.root_hash, cp.origin),
            )
            db.execute(
                "INSERT INTO cosigned (origin, size, root, time, checkpoint) VALUES (?,?,?,?,?)",
                (cp.origin, str(cp.size), cp.root_hash, now, req.note + line),
            )
        # Committed (and synced) before the answer leaves: tlog-witness "persist first".
        return Response(200, NOTE_CONTENT_TYPE, line)


def _signed_by(note: SignedNote, keys: Sequence[VerifierKey]) -> bool:
    """Whether a key trusted for the origin signed: unknown keys are ignored, a bad signature
    by a trusted key counts as none (403)."""
    try:
        opened = note.verify(keys)
    except SignatureError:
        return False
    return bool(opened.verified_by)


# -- the witness's directory ----------------------------------------------------------------------

#: The private key, in the project's key file format (:mod:`.keys`), sealed with a passphrase.
KEY_FILE = "witness.key"
#: The witness's public key, ``name+<hex id>+base64(0x04 || key)`` (tlog-cosignature).
VKEY_FILE = "witness.vkey"
STATE_FILE = "witness.sqlite"


def init_witness(directory: Path, name: str, passphrase: str | None) -> VerifierKey:
    """Create a witness in *directory*: a new key sealed under *passphrase* (None: stored
    unencrypted, for tests) and an empty state database. Nothing is overwritten."""
    from .keys import _write_exclusive, check_new_passphrase, seal
    from .note import Signer

    if passphrase is not None:
        check_new_passphrase(passphrase)
    try:
        cosigner = Cosigner.generate(name)
    except NoteFormatError as e:
        raise KeyFileError(f"invalid witness name {name!r}: {e}") from e
    for member in (KEY_FILE, VKEY_FILE, STATE_FILE):
        if (directory / member).exists():
            raise KeyFileError(f"{directory / member} exists; refusing to overwrite a witness")
    # The seed is sealed as any orderarchive key; the file's key_id is the seed's plain
    # (0x01) ID, which the key file format checks on unlock. The witness never makes 0x01
    # signatures with it: it only cosigns (0x04, a distinct domain-separated message).
    sealed = seal(Signer(name, cosigner.seed), passphrase, comment="orderarchive witness key")
    _write_exclusive(directory / KEY_FILE, sealed.to_bytes(), 0o600)
    vkey = cosigner.verifier()
    _write_exclusive(directory / VKEY_FILE, f"{vkey}\n".encode(), 0o644)
    WitnessState(directory / STATE_FILE)
    return vkey


def witness_key_file(directory: Path) -> SecretKeyFile:
    from .keys import read_secret_key

    return read_secret_key(directory / KEY_FILE)


def open_witness(directory: Path, passphrase: str | None) -> Witness:
    """The witness kept in *directory* (made by :func:`init_witness`), its key unlocked."""
    sealed = witness_key_file(directory)
    signer = sealed.unlock(passphrase)
    return Witness(Cosigner(signer.name, signer.seed), open_state(directory))


def open_state(directory: Path) -> WitnessState:
    path = directory / STATE_FILE
    if not path.is_file():
        raise StorageError(
            f"no witness in {directory} (no {STATE_FILE})",
            hint="create the witness first (witness keygen)",
        )
    return WitnessState(path)
