"""The clerk's and the verifier's side of witnessing (recipe layer).

Clerk: after ``release`` (and ``add``, which signs a new checkpoint), the new checkpoint goes
with its consistency proof to every witness of the clerk's witness file
(:class:`~.cosignature.WitnessPolicy` with URLs). A witness answering 409 reports the size it
last cosigned: the request is rebuilt from that size and sent once more. Every cosignature is
kept in the archive beside the checkpoint it signs, create-only (docs/FORMAT.md
"Cosignatures")::

    cosignatures/<size>/release.<8 hex key ID>      the release note releases/<size> + the line
    cosignatures/<size>/checkpoint.<8 hex key ID>   the checkpoint ``add`` wrote at <size> + line

Each file is a complete signed note (the bytes sent to the witness with its cosignature line
appended), so it opens with any note verifier. Nothing signed changes: the release note and
the checkpoint keep their bytes; cosignatures only ever sit beside them.

Verifier: :func:`cosigned_note` assembles a checkpoint with the cosignature lines kept for
it, and :func:`require_witnessed` requires the *user's* policy. The
archive's cosignature files are untrusted input like everything else in the archive: a line
counts only if it verifies with a witness key from the user's policy.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from .errors import (
    MalformedError,
    NotFoundError,
    OrderArchiveError,
    SignatureError,
    VerificationError,
)
from .errors import TooFewWitnessesError as TooFewWitnessesError  # noqa: PLC0414 (defined in errors.py)
from .log import merkle
from .log.checkpoint import Checkpoint
from .log.cosignature import (
    CosignedCheckpoint,
    WitnessEntry,
    WitnessPolicy,
    add_cosignatures,
    open_cosigned,
)
from .log.layout import COSIGNATURES, named
from .log.note import MAX_NOTE_BYTES, MAX_SIGNATURES, SignedNote, VerifierKey
from .log.witness import SIZE_CONTENT_TYPE, AddCheckpointRequest, Response

if TYPE_CHECKING:  # verify-proof --witness-policy must not load the archive layer
    from .archive import Archive

__all__ = [
    "COSIGNATURES",
    "TooFewWitnessesError",
    "WitnessOutcome",
    "WitnessReport",
    "clerk_policy",
    "cosigned_note",
    "read_policy",
    "require_cosigned_evidence",
    "require_cosigned_note",
    "require_witnessed",
    "send_to_witnesses",
]

RELEASE_KIND = "release"
CHECKPOINT_KIND = "checkpoint"
#: A witness answering 409 more often than this for one checkpoint is reported as failed.
MAX_RETRIES = 2

Poster = Callable[[str, bytes], Response]



@attrs.frozen
class WitnessOutcome:
    """What one witness did with one checkpoint."""

    witness: str
    url: str | None
    cosigned: bool
    detail: str
    stored: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"witness": self.witness, "url": self.url, "cosigned": self.cosigned,
                "detail": self.detail, "stored": self.stored}


@attrs.frozen
class WitnessReport:
    kind: str
    size: int
    outcomes: tuple[WitnessOutcome, ...]
    quorum: int

    @property
    def cosigned(self) -> int:
        return sum(o.cosigned for o in self.outcomes)

    @property
    def ok(self) -> bool:
        return self.cosigned >= self.quorum

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "size": self.size, "quorum": self.quorum,
                "cosigned": self.cosigned, "ok": self.ok,
                "witnesses": [o.to_dict() for o in self.outcomes]}

    def check(self) -> None:
        """Raise :class:`TooFewWitnessesError` if the quorum was not met."""
        if not self.ok:
            failed = "; ".join(f"{o.witness}: {o.detail}" for o in self.outcomes if not o.cosigned)
            if self.kind == RELEASE_KIND:
                hint = ("the release stands; fix the witnesses named and run 'orderarchive "
                        "release' again: it resends the release and keeps every cosignature")
            else:
                hint = ("the documents are added; fix the witnesses named: the next 'add' or "
                        "'release' sends the newer checkpoint with its consistency proof")
            raise TooFewWitnessesError(
                f"{self.kind} {self.size} is signed and stored, but only {self.cosigned} of the "
                f"{self.quorum} required witnesses cosigned it ({failed})",
                hint=hint,
            )


def _name(size: int, kind: str, entry: WitnessEntry) -> str:
    return f"{COSIGNATURES}/{size}/{kind}.{entry.key.key_hash_hex}"


def _last_cosigned_size(archive: Archive, entry: WitnessEntry, limit: int) -> int:
    """The largest size at most *limit* this witness cosigned, per the archive's files; 0 if
    none (the witness corrects a wrong guess with 409)."""
    best = 0
    suffix = f".{entry.key.key_hash_hex}"
    for name in archive.store.list(COSIGNATURES):
        parts = name.split("/")
        if len(parts) == 3 and parts[2].endswith(suffix) and parts[1].isdigit():
            size = int(parts[1])
            if best < size <= limit:
                best = size
    return best


_REFUSALS = {
    404: "the witness does not know this log (ask its operator to add-log)",
    403: "the witness does not trust this log key (ask its operator to add it)",
    422: "the witness refused the consistency proof: this log does not extend what the "
    "witness cosigned (fork?)",
}


@attrs.frozen
class _Round:
    """One checkpoint sent to the witnesses of one policy."""

    archive: Archive
    note: bytes
    checkpoint: Checkpoint
    kind: str
    post: Poster

    def request(self, old: int) -> bytes:
        new = self.checkpoint.size
        proof: tuple[bytes, ...] = ()
        if old not in (0, new):
            proof = tuple(merkle.consistency_proof(old, new, self.archive.read_hashes))
        return AddCheckpointRequest(old, proof, self.note).to_bytes()

    def send(self, entry: WitnessEntry) -> WitnessOutcome:  # noqa: PLR0911 (one per outcome)
        def failed(detail: str) -> WitnessOutcome:
            return WitnessOutcome(entry.name, entry.url, False, detail)

        if entry.url is None:
            return failed("no URL in the witness file")
        name = _name(self.checkpoint.size, self.kind, entry)
        if self.archive.store.exists(name):
            return WitnessOutcome(entry.name, entry.url, True, "cosigned before", name)
        old = _last_cosigned_size(self.archive, entry, self.checkpoint.size)
        for _attempt in range(MAX_RETRIES + 1):
            try:
                answer = self.post(entry.url, self.request(old))
            except OrderArchiveError as e:
                return failed(str(e))
            if answer.status == 200:
                return self.keep(entry, answer.body, name)
            if answer.status != 409 or answer.content_type.split(";")[0] != SIZE_CONTENT_TYPE:
                text = answer.body.decode("utf-8", "replace").strip()[:200]
                return failed(f"HTTP {answer.status}: {_REFUSALS.get(answer.status, text)}")
            seen = _size_answer(answer.body)
            if seen is None or seen > self.checkpoint.size or seen == old:
                return failed(_conflict(seen, self.checkpoint.size))
            old = seen  # tlog-witness: resend from the size the witness reports
        return failed("409 after every retry")

    def keep(self, entry: WitnessEntry, body: bytes, name: str) -> WitnessOutcome:
        """Store the answer after checking that a cosignature by the witness's key verifies."""
        try:
            opened = SignedNote.parse(add_cosignatures(self.note, body)).verify([entry.key])
        except (MalformedError, SignatureError) as e:
            return WitnessOutcome(entry.name, entry.url, False,
                                  f"the answer is not a valid cosignature: {e}")
        key = (entry.name, entry.key.id)
        mine = [s for s in opened.note.signatures if (s.name, s.key_id) == key]
        kept = SignedNote.parse(self.note).signatures
        self.archive.store.create(name, SignedNote(opened.note.text, (*kept, *mine)).to_bytes())
        return WitnessOutcome(entry.name, entry.url, True, "cosigned", name)


def _size_answer(body: bytes) -> int | None:
    text = body.decode("ascii", "replace")
    if not text.endswith("\n") or not text[:-1].isdigit() or len(text) > 21:
        return None
    return int(text[:-1])


def _conflict(seen: int | None, size: int) -> str:
    if seen is None:
        return "HTTP 409 without a readable size"
    if seen > size:
        return (f"the witness has cosigned size {seen} of this log, larger than this archive's "
                f"{size}: another view of this log exists (split view?)")
    return f"the witness has cosigned another tree of size {seen}: this log forked"


def send_to_witnesses(
    archive: Archive,
    note: bytes,
    policy: WitnessPolicy,
    *,
    kind: str,
    post: Poster | None = None,
) -> WitnessReport:
    """Send the signed checkpoint *note* (a release note, or the checkpoint ``add`` wrote)
    to every witness of *policy*; keep each cosignature; report who cosigned."""
    if post is None:
        from .log.witness_http import post_add_checkpoint

        def post(url: str, body: bytes) -> Response:
            return post_add_checkpoint(url, body)

    cp = Checkpoint.parse(SignedNote.parse(note).text)
    run = _Round(archive, note, cp, kind, post)
    outcomes = tuple(run.send(w) for w in policy.witnesses)
    return WitnessReport(kind, cp.size, outcomes, policy.quorum)


def cosigned_note(archive: Archive, cp: Checkpoint) -> bytes:
    """The signed note of the checkpoint *cp* with every signature line the archive keeps for
    it: the release note and the latest checkpoint if their text is *cp*'s, and every kept
    cosigned note of that size and text (``cosignatures/<size>/``).

    Nothing is verified here and everything read is untrusted: the caller opens the result
    with the user's log keys and witness policy (:func:`~.cosignature.open_cosigned`), under
    which a line by a key outside the policy is ignored and a bad line by a key in it rejects
    the note (fail closed). Lines named after the origin are taken only from the release note
    or the checkpoint themselves, so a kept file cannot spoil the log's own signature.
    """
    text = cp.to_text()
    notes: list[SignedNote] = []
    if cp.size in archive.releases():
        notes.append(SignedNote.parse(archive.release_note(cp.size)))
    head = archive.head()
    if head.note is not None:
        notes.append(SignedNote.parse(head.note))
    notes = [n for n in notes if n.text == text]
    if not notes:
        raise NotFoundError(f"the archive holds no signed checkpoint of size {cp.size} "
                            "with this root")
    signatures = list(notes[0].signatures)
    extra = [s for n in notes[1:] for s in n.signatures]
    for name in archive.store.list(f"{COSIGNATURES}/{cp.size}"):
        if not named(name, is_dir=False):  # reported by verify, never read
            continue
        try:
            kept = SignedNote.parse(archive.store.read(name, MAX_NOTE_BYTES))
        except (MalformedError, NotFoundError):
            continue
        if kept.text == text:
            extra.extend(s for s in kept.signatures if s.name != cp.origin)
    for sig in extra:
        if sig not in signatures:
            signatures.append(sig)
    return SignedNote(text, signatures[:MAX_SIGNATURES]).to_bytes()


def require_witnessed(
    archive: Archive,
    cp: Checkpoint,
    verifiers: Sequence[VerifierKey],
    policy: WitnessPolicy,
    *,
    now: int | None = None,
) -> CosignedCheckpoint:
    """The checkpoint *cp* the caller relied on, with *policy*'s quorum of cosignatures
    verified (:class:`~.cosignature.TooFewCosignaturesError` otherwise)."""
    return open_cosigned(cosigned_note(archive, cp), verifiers, policy, origin=archive.origin,
                         now=now)


def default_witness_file(origin: str) -> Path:
    """Where the clerk's witness file for *origin* is looked for when none is given."""
    from .log.keys import file_stem

    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "orderarchive" / "witnesses" / f"{file_stem(origin)}.txt"


def read_policy(path: Path, what: str = "witness policy") -> WitnessPolicy:
    """A witness policy (or the clerk's witness file) from the user's file *path*."""
    from .log.cosignature import MAX_POLICY_BYTES
    from .userfiles import read_bounded

    data = read_bounded(path, MAX_POLICY_BYTES, what=what)
    try:
        return WitnessPolicy.parse(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise MalformedError(f"{path}: the {what} is not UTF-8") from e
    except MalformedError as e:
        raise MalformedError(f"{path}: {e}", hint=e.hint) from e


def clerk_policy(path: Path | None, origin: str) -> WitnessPolicy | None:
    """The clerk's witness file: *path*, else the default one for *origin* if it exists."""
    if path is None:
        path = default_witness_file(origin)
        if not path.exists():
            return None
    policy = read_policy(path, "witness file")
    missing = [w.name for w in policy.witnesses if w.url is None]
    if missing:
        raise MalformedError(f"{path}: witness {missing[0]} has no URL to send checkpoints to")
    return policy


def require_cosigned_note(
    note: bytes,
    verifiers: Sequence[VerifierKey],
    policy: WitnessPolicy,
    expected: Checkpoint,
    *,
    now: int | None = None,
) -> CosignedCheckpoint:
    """*note* (a proof's or evidence's checkpoint, cosignatures included) with *policy*'s
    quorum verified, and the same checkpoint as *expected* (the one the caller relied on)."""
    got = open_cosigned(note, verifiers, policy, origin=expected.origin, now=now)
    if got.checkpoint != expected:
        raise VerificationError("the cosigned checkpoint is not the one the proof relies on")
    return got


def require_cosigned_evidence(
    evidence: bytes,
    verifiers: Sequence[VerifierKey],
    policy: WitnessPolicy,
    expected: Checkpoint,
    *,
    now: int | None = None,
) -> CosignedCheckpoint:
    """The cosigned checkpoint inside an evidence file that already verified (its ``proof``
    member, a tlog-proof), checked under *policy* as :func:`require_cosigned_note` does."""
    import json

    from .log.tlogproof import inner_proof

    try:
        proof = json.loads(evidence)["proof"]
        note = inner_proof(proof.encode("utf-8")).checkpoint
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise MalformedError("the evidence carries no readable proof") from e
    return require_cosigned_note(note, verifiers, policy, expected, now=now)
