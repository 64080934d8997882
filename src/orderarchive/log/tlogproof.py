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
    CorruptArchiveError,
    EntryFormatError,
    InclusionError,
    NoteFormatError,
    ProofFormatError,
    SignatureError,
    VerificationError,
)
from .checkpoint import Checkpoint, open_checkpoint, signers_of
from .entry import DocumentFields, Entry, verify_included
from .keyset import LOG, KeyHistory, PinnedTrust, open_release
from .layout import MAX_KEYSETS, keyset_positions
from .note import SignedNote, VerifierKey, _strict_b64decode, b64encode

__all__ = [
    "CHAIN_HEADER",
    "HEADER",
    "MAX_CHAINED_PROOF_BYTES",
    "MAX_CHAIN_BYTES",
    "MAX_PROOF_BYTES",
    "MAX_PROOF_HASHES",
    "ChainLink",
    "TlogProof",
    "chain_bytes",
    "chain_history",
    "inner_proof",
    "split_chain",
]

HEADER = "c2sp.org/tlog-proof@v1"
#: A checkpoint with a hundred post-quantum cosignatures still fits.
MAX_PROOF_BYTES = 1 << 20
#: An inclusion proof in a tree of at most 2**64 leaves has at most 64 hashes.
MAX_PROOF_HASHES = 64
HASH_SIZE = 32
MAX_INDEX = 2**64 - 1

#: The first line of a proof that carries its log's key sets (docs/FORMAT.md "key-set chain").
CHAIN_HEADER = "orderarchive/keyset-chain/v1"
#: The key-set chain before the tlog-proof is at most this long: a hundred key sets of a
#: dozen keys each take a few hundred kilobytes; a hostile chain is refused before parsing.
MAX_CHAIN_BYTES = 4 << 20
MAX_CHAINED_PROOF_BYTES = MAX_CHAIN_BYTES + MAX_PROOF_BYTES

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
    #: The keys the proof was checked with: under key sets, the history its chain gave.
    trust: Sequence[VerifierKey] = ()


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
    links, inner = split_chain(proof)
    tp = TlogProof.parse(inner)
    if tp.extra is None:
        raise ProofFormatError(f"{what} carries no entry (its 'extra' line is missing)")
    if isinstance(verifiers, KeyHistory):
        # Under key sets the proof's own chain says who may sign at its checkpoint; with
        # plain keys (a single-key log's verifier keys) the chain plays no part.
        verifiers = chain_history(verifiers, links, tp.checkpoint, what)
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
    return OpenedProof(tp, entry, document, cp, note, entry_signer, cp_signers, verifiers)


# -- the key-set chain (offline proofs under key sets, docs/FORMAT.md "key-set chain") ---------


@attrs.frozen
class ChainLink:
    """One key-set entry a proof carries: its log position, its exact bytes and its RFC 9162
    inclusion proof in the proof's checkpoint."""

    index: int
    entry: bytes
    proof: tuple[bytes, ...] = attrs.field(converter=_bytes_tuple)

    def to_line(self) -> str:
        """The link's line: index, base64 entry, base64 hashes, separated by spaces."""
        return " ".join([str(self.index), b64encode(self.entry), *map(b64encode, self.proof)])


def chain_bytes(links: Sequence[ChainLink]) -> bytes:
    """The key-set chain that goes before a tlog-proof (nothing when there are no links, so
    a proof of a log without key sets is the plain tlog-proof, byte for byte)."""
    if not links:
        return b""
    lines = [CHAIN_HEADER, *(link.to_line() for link in links), ""]
    return "".join(f"{line}\n" for line in lines).encode("ascii")


def split_chain(data: bytes) -> tuple[tuple[ChainLink, ...], bytes]:
    """A proof file's key-set chain (parsed strictly, nothing verified) and the tlog-proof
    after it; a file that does not start with :data:`CHAIN_HEADER` is a plain tlog-proof.

    The chain is hostile input: its size, its number of links, each link's shape (canonical
    decimal index, canonical base64 entry of at most an entry's size, at most 64 hashes of 32
    bytes) are bounded, and links must be in strictly ascending log order (a repeated or
    reordered link is refused here, a skipped one when the checkpoint's list is compared).
    """
    from .entry import MAX_ENTRY_BYTES

    head = (CHAIN_HEADER + "\n").encode("ascii")
    if not data.startswith(head):
        return (), data
    end = data.find(b"\n\n", len(head) - 1)
    if end < 0 or end + 1 > MAX_CHAIN_BYTES:
        raise ProofFormatError(
            f"the proof's key-set chain does not end within {MAX_CHAIN_BYTES} bytes"
        )
    if len(data) - end - 2 > MAX_PROOF_BYTES:
        raise ProofFormatError(f"proof is larger than {MAX_PROOF_BYTES} bytes")
    try:
        text = data[len(head) : end].decode("ascii")
    except UnicodeDecodeError as e:
        raise ProofFormatError("the proof's key-set chain is not ASCII") from e
    lines = text.split("\n") if text else []
    if not 1 <= len(lines) <= MAX_KEYSETS:
        raise ProofFormatError(f"the proof's key-set chain has not 1 to {MAX_KEYSETS} links")
    links: list[ChainLink] = []
    for n, line in enumerate(lines):
        index_text, _, rest = line.partition(" ")
        if _DECIMAL.fullmatch(index_text) is None or int(index_text) > MAX_INDEX or not rest:
            raise ProofFormatError(f"key-set link {n} does not start with a log index")
        index = int(index_text)
        if links and index <= links[-1].index:
            raise ProofFormatError(
                f"key-set link {n} (entry {index}) is not after link {n - 1} "
                f"(entry {links[-1].index}): repeated or out of order"
            )
        fields = rest.split(" ")
        if len(fields) > MAX_PROOF_HASHES + 1:
            raise ProofFormatError(f"key-set link {n} has more than {MAX_PROOF_HASHES} hashes")
        entry = _strict_b64decode(fields[0], f"key-set link {n} entry", ProofFormatError)
        if not entry or len(entry) > MAX_ENTRY_BYTES:
            raise ProofFormatError(f"key-set link {n}: the entry is empty or too large")
        hashes = [
            _strict_b64decode(f, f"key-set link {n} hash {i}", ProofFormatError)
            for i, f in enumerate(fields[1:])
        ]
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ProofFormatError(f"key-set link {n}: a proof hash is not 32 bytes")
        links.append(ChainLink(index, entry, tuple(hashes)))
    return tuple(links), data[end + 2 :]


def inner_proof(data: bytes) -> TlogProof:
    """The tlog-proof of a proof file, with or without a key-set chain before it (the chain
    parsed strictly and dropped: nothing is verified)."""
    return TlogProof.parse(split_chain(data)[1])


def chain_history(
    trust: KeyHistory, links: Sequence[ChainLink], note: bytes, what: str = "the proof"
) -> KeyHistory:
    """The key history for the checkpoint *note* walked from *trust*'s pinned key set through
    *links*, every byte checked (a TUF-like chain, docs/THREATS.md "Offline proofs under key
    sets"): the links are exactly the key-set entries the signed checkpoint names; each is
    the next version (exactly N+1, root thresholds of old and new, revocations kept); the
    checkpoint is signed by a log key of the key set in force for its last entry (not
    revoked) and carries the release threshold; each link is signed by a key valid at its
    position and included in the checkpoint's tree. Raises on the first failure."""
    cp = Checkpoint.parse(SignedNote.parse(note).text)  # not trusted until open_release below
    if cp.origin != trust.origin:
        raise SignatureError(
            f"{what} is for log {cp.origin!r}, the trust file for {trust.origin!r}"
        )
    try:
        positions = keyset_positions(cp)
    except CorruptArchiveError as e:
        raise ProofFormatError(f"the checkpoint of {what}: {e}") from e
    if positions is None:
        if links:
            raise VerificationError(
                f"{what} carries key sets that its checkpoint does not name"
            )
        if isinstance(trust, PinnedTrust):
            # Nothing signed says which key sets were in force (a release from before the
            # log named them): offline, the absence of a revocation cannot be shown.
            raise VerificationError(
                f"the release in {what} does not name its log's key sets, so the trust file "
                "alone cannot check it; verify against the archive, or ask for a proof of a "
                "newer release"
            )
        return trust
    if tuple(link.index for link in links) != positions:
        raise VerificationError(
            f"{what} carries the key sets at {[link.index for link in links]}, but its "
            f"checkpoint names them at {list(positions)} (a key set left out, added or moved)"
        )
    history = KeyHistory(trust.pinned)
    entries: list[Entry] = []
    for link in links:
        try:
            entry = Entry.from_bytes(link.entry)
        except EntryFormatError as e:
            raise ProofFormatError(f"key set at {link.index} in {what}: {e}") from e
        if entry.keyset is None or entry.seq != link.index:
            raise VerificationError(
                f"{what}: the entry carried for position {link.index} is not the key set "
                "recorded there"
            )
        history = history.extended(link.index, entry.keyset)
        entries.append(entry)
    in_force = history.in_force(cp.size - 1)
    open_checkpoint(note, [k for k in in_force.keys_for(LOG) if k in history],
                    origin=cp.origin)
    open_release(note, history, origin=cp.origin)
    for link, entry in zip(links, entries, strict=True):
        verify_included(entry, cp, link.proof, history)
    return history
