"""C2SP transparency-log proofs (c2sp.org/tlog-proof@v1), the offline "spicy signature".

The file is, line by line (tlog-proof "Format")::

    c2sp.org/tlog-proof@v1
    extra <base64>               (optional, unauthenticated application data)
    index <decimal>
    <base64 hash>                (zero or more: the RFC 6962 §2.1.1 inclusion proof,
    ...                           leaf's sibling first, root's child last)
    <empty line>
    <signed checkpoint, verbatim>

Parsing checks the shape only; nothing in a proof is trusted until the checkpoint's
signatures verify (:func:`.checkpoint.open_checkpoint`) and the inclusion proof leads to its
root (the Merkle module). Proofs are read from untrusted places, so the parser bounds their
size and refuses everything the spec does not allow, with :class:`ProofFormatError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import attrs

from ..errors import (
    EntryFormatError,
    InclusionError,
    NoteFormatError,
    ProofFormatError,
    SignatureError,
)
from .checkpoint import Checkpoint, open_checkpoint, signers_of
from .entry import DocumentFields, Entry, verify_included
from .note import SignedNote, VerifierKey, _strict_b64decode, b64encode

__all__ = ["HEADER", "MAX_PROOF_BYTES", "MAX_PROOF_HASHES", "TlogProof"]

HEADER = "c2sp.org/tlog-proof@v1"
#: A checkpoint with a hundred post-quantum cosignatures still fits.
MAX_PROOF_BYTES = 1 << 20
#: An inclusion proof in a tree of at most 2**64 leaves has at most 64 hashes.
MAX_PROOF_HASHES = 64
HASH_SIZE = 32
MAX_INDEX = 2**64 - 1

_EXTRA_PREFIX = "extra "
_INDEX_PREFIX = "index "
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)


def _bytes_tuple(value: Iterable[bytes]) -> tuple[bytes, ...]:
    return tuple(value)


def _check_fields(instance: TlogProof, _attribute: object, _value: bytes | None) -> None:
    if isinstance(instance.index, bool) or not 0 <= instance.index <= MAX_INDEX:
        raise ProofFormatError(f"index {instance.index} is outside 0..2**64-1")
    if len(instance.proof) > MAX_PROOF_HASHES:
        raise ProofFormatError(f"inclusion proof has more than {MAX_PROOF_HASHES} hashes")
    for i, h in enumerate(instance.proof):
        if len(h) != HASH_SIZE:
            raise ProofFormatError(f"proof hash {i} has {len(h)} bytes, not 32")
    if instance.extra is not None and not instance.extra:
        raise ProofFormatError("extra data is empty (leave it out instead)")
    try:
        note = SignedNote.parse(instance.checkpoint)
        cp = Checkpoint.parse(note.text)
    except NoteFormatError as e:
        raise ProofFormatError(f"embedded checkpoint is malformed: {e}") from e
    if instance.index >= cp.size:
        raise ProofFormatError(f"index {instance.index} is not below tree size {cp.size}")


@attrs.frozen
class TlogProof:
    """An inclusion proof of entry :attr:`index` in the tree of the signed :attr:`checkpoint`.

    :attr:`checkpoint` holds the signed note bytes exactly as the log wrote them, so the
    signatures still verify.
    """

    index: int
    proof: tuple[bytes, ...] = attrs.field(converter=_bytes_tuple)
    checkpoint: bytes
    extra: bytes | None = attrs.field(default=None, validator=_check_fields)

    @classmethod
    def parse(cls, data: bytes) -> TlogProof:
        """Parse a ``.tlog-proof`` file strictly."""
        if len(data) > MAX_PROOF_BYTES:
            raise ProofFormatError(f"proof is larger than {MAX_PROOF_BYTES} bytes")
        pos = 0

        def next_line() -> str:
            nonlocal pos
            end = data.find(b"\n", pos)
            if end < 0:
                raise ProofFormatError("proof ends in the middle of its header")
            raw, pos = data[pos:end], end + 1
            try:
                return raw.decode("ascii")
            except UnicodeDecodeError as e:
                raise ProofFormatError("proof header line is not ASCII") from e

        if next_line() != HEADER:
            raise ProofFormatError(f"proof does not start with {HEADER}")
        line = next_line()
        extra = None
        if line.startswith(_EXTRA_PREFIX):
            extra = _strict_b64decode(line[len(_EXTRA_PREFIX) :], "extra", ProofFormatError)
            line = next_line()
        if not line.startswith(_INDEX_PREFIX):
            raise ProofFormatError("proof has no index line")
        index_text = line[len(_INDEX_PREFIX) :]
        if _DECIMAL.fullmatch(index_text) is None:
            raise ProofFormatError(f"index {index_text!r} is not a canonical decimal")
        proof: list[bytes] = []
        while (line := next_line()) != "":
            if len(proof) == MAX_PROOF_HASHES:
                raise ProofFormatError(f"inclusion proof has more than {MAX_PROOF_HASHES} hashes")
            proof.append(_strict_b64decode(line, f"proof hash {len(proof)}", ProofFormatError))
        return cls(int(index_text), tuple(proof), data[pos:], extra)

    def to_bytes(self) -> bytes:
        """The ``.tlog-proof`` file."""
        lines = [HEADER]
        if self.extra is not None:
            lines.append(_EXTRA_PREFIX + b64encode(self.extra))
        lines.append(f"{_INDEX_PREFIX}{self.index}")
        lines.extend(b64encode(h) for h in self.proof)
        lines.append("")
        return "".join(f"{line}\n" for line in lines).encode("ascii") + self.checkpoint

    def parsed_checkpoint(self) -> tuple[Checkpoint, SignedNote]:
        """The checkpoint's body and note, parsed but NOT verified: use ``open_checkpoint``."""
        note = SignedNote.parse(self.checkpoint)
        return Checkpoint.parse(note.text), note


@attrs.frozen
class OpenedProof:
    """A tlog-proof whose checkpoint, entry and inclusion verified (the file not yet checked)."""

    proof: TlogProof
    entry: Entry
    document: DocumentFields
    checkpoint: Checkpoint
    note: SignedNote
    entry_signer: VerifierKey
    checkpoint_signers: tuple[VerifierKey, ...]


def open_proof(
    proof: bytes,
    verifiers: Sequence[VerifierKey],
    *,
    origin: str | None = None,
    what: str = "the proof",
) -> OpenedProof:
    """Check a tlog-proof that carries a document entry, short of any file.

    The one implementation of the tlog-proof check. In order: the proof parses; the
    checkpoint is signed by a trusted key named after its origin (and is for *origin*, if
    given); the entry in ``extra`` parses, sits at the proof's index and is signed by a
    trusted key of that log; the inclusion proof leads from the entry's leaf hash to the
    checkpoint's root. Raises on the first failure. Used by ``verify-proof`` (which then
    checks the file) and by evidence files (which then check the text layer).
    """
    tp = TlogProof.parse(proof)
    if tp.extra is None:
        raise ProofFormatError(f"{what} carries no entry (its 'extra' line is missing)")
    cp, note = open_checkpoint(tp.checkpoint, verifiers, origin=origin)
    cp_signers = signers_of(note, verifiers)
    try:
        entry = Entry.from_bytes(tp.extra)
    except EntryFormatError as e:
        raise ProofFormatError(f"the entry in {what} is malformed: {e}") from e
    if entry.seq != tp.index:
        raise InclusionError(f"{what} is for index {tp.index}, but its entry is entry {entry.seq}")
    document = entry.document
    if document is None:
        raise ProofFormatError(f"entry {entry.seq} in {what} is not a document")
    entry_signer = verify_included(entry, cp, tp.proof, verifiers)
    if entry_signer is None:  # only without keys, which open_checkpoint has already refused
        raise SignatureError("no trusted key to check the entry's signature")
    return OpenedProof(tp, entry, document, cp, note, entry_signer, cp_signers)
