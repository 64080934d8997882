"""C2SP transparency-log checkpoints (c2sp.org/tlog-checkpoint v1.0.0).

A checkpoint is a signed note (:mod:`.note`) whose text is exactly::

    <origin>\\n<tree size>\\n<base64 root hash>\\n[<extension line>\\n ...]

The log's own signature is by a key whose name equals the origin line (tlog-checkpoint
"Signatures": SHOULD; orderarchive makes it a MUST for its logs, so that one key cannot
vouch for another log's tree by accident). Other signature lines, such as witness
cosignatures, are kept and ignored unless their keys are supplied.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import attrs

from ..errors import NoteFormatError, UntrustedKeyError
from ..errors import OriginMismatchError as OriginMismatchError  # noqa: PLC0414 (defined in errors.py)
from .note import SignedNote, Signer, VerifierKey, _strict_b64decode, b64encode, sign_note

__all__ = [
    "MAX_TREE_SIZE",
    "Checkpoint",
    "OriginMismatchError",
    "open_checkpoint",
    "sign_checkpoint",
]

#: Tree sizes are unsigned 64-bit integers, as in transparency-dev/formats.
MAX_TREE_SIZE = 2**64 - 1
HASH_SIZE = 32

# tlog-checkpoint "Note text" 2.: ASCII decimal, no leading zeroes unless the size is 0.
# ``re.ASCII`` matters: without it ``\d`` would accept other scripts' digits.
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)
# Lines of a note may not hold control characters (signed-note "Format").
_CONTROL = re.compile(r"[\x00-\x1f]")


def _check_line(line: str, what: str) -> None:
    if not line:
        raise NoteFormatError(f"checkpoint {what} is empty")
    bad = _CONTROL.search(line)
    if bad is not None:
        raise NoteFormatError(f"checkpoint {what} contains control character {bad.group()!r}")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as e:
        raise NoteFormatError(f"checkpoint {what} is not valid Unicode") from e


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _check_fields(instance: Checkpoint, _attribute: object, _value: tuple[str, ...]) -> None:
    _check_line(instance.origin, "origin")
    if isinstance(instance.size, bool) or not 0 <= instance.size <= MAX_TREE_SIZE:
        raise NoteFormatError(f"tree size {instance.size} is outside 0..2**64-1")
    if len(instance.root_hash) != HASH_SIZE:
        raise NoteFormatError(f"root hash has {len(instance.root_hash)} bytes, not 32")
    for line in instance.extensions:
        _check_line(line, "extension line")


@attrs.frozen
class Checkpoint:
    """The body of a checkpoint: origin, tree size, root hash, optional extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = attrs.field(
        default=(), converter=_str_tuple, validator=_check_fields
    )

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text strictly (tlog-checkpoint "Note text")."""
        if not text.endswith("\n"):
            raise NoteFormatError("checkpoint text does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteFormatError("checkpoint text has fewer than three lines")
        origin, size_text, root_text, *extensions = lines
        if _DECIMAL.fullmatch(size_text) is None:
            raise NoteFormatError(f"tree size {size_text!r} is not a canonical decimal")
        root_hash = _strict_b64decode(root_text, "checkpoint root hash")
        # Field checks (non-empty lines, 64-bit size, 32-byte hash) run in the validator.
        return cls(origin, int(size_text), root_hash, tuple(extensions))

    def to_text(self) -> str:
        """The note text: origin, size and root hash lines, then any extension lines."""
        lines = [self.origin, str(self.size), b64encode(self.root_hash), *self.extensions]
        return "".join(f"{line}\n" for line in lines)


def sign_checkpoint(cp: Checkpoint, signer: Signer) -> bytes:
    """The signed-note bytes of *cp*, signed by the log key *signer* (named as the origin)."""
    if signer.name != cp.origin:
        raise NoteFormatError(
            f"log key name {signer.name!r} differs from the checkpoint origin {cp.origin!r}"
        )
    return sign_note(cp.to_text(), [signer])


def open_checkpoint(
    data: bytes, verifiers: Sequence[VerifierKey], *, origin: str | None = None
) -> tuple[Checkpoint, SignedNote]:
    """Verify a signed checkpoint and return its body and note.

    The note must carry a valid signature by a supplied key whose name equals the checkpoint's
    origin (the log's own key); signatures by other supplied keys (witnesses) must verify too
    (signed-note "Signatures"). With *origin*, a checkpoint of any other log is refused.
    The text is parsed only after the signatures verified (signed-note: unsigned text MUST be
    ignored).
    """
    opened = SignedNote.parse(data).verify(verifiers)
    cp = Checkpoint.parse(opened.text)
    if origin is not None and cp.origin != origin:
        raise OriginMismatchError(origin, cp.origin)
    if not opened.is_signed_by(cp.origin):
        raise UntrustedKeyError(
            f"checkpoint for {cp.origin!r} has no valid signature by a key named after its origin",
            hint="pass the log's verifier key (its name is the log's origin)",
        )
    return cp, opened.note


def signers_of(note: SignedNote, verifiers: Sequence[VerifierKey]) -> tuple[VerifierKey, ...]:
    """The supplied keys that signed a note already opened by :func:`open_checkpoint`.

    After ``open_checkpoint`` succeeded, every line by a supplied key has verified (signed-note
    "Signatures": one bad line rejects the note), so matching names and key IDs suffices.
    """
    lines = {(s.name, s.key_id) for s in note.signatures}
    return tuple(v for v in verifiers if (v.name, v.id) in lines)
