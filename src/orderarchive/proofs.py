"""Checking copies against the official version, and proofs that travel without the archive.

Recipes over the primitives of :mod:`.merkle`, :mod:`.checkpoint`, :mod:`.entry`,
:mod:`.tlogproof` and :mod:`.minisign`:

* :func:`check_copy` — is this file an archived document? One index lookup by SHA-256 (the
  index is never trusted, so it only says *where* to look), then the entry is re-read from the
  signed log and checked: its leaf hash against the stored hash, its signature against a trusted
  key, its inclusion in the latest signed release with an RFC 9162 §2.1.3 proof, and that
  release's signature. No step reads more than O(log n) of the log.
* :func:`prove` / :func:`verify_proof` — the same facts as one C2SP ``tlog-proof`` file that
  carries the signed entry in its ``extra`` line, checked with only the file, the proof and the
  public key (no archive directory). This is the "spicy signature" of c2sp.org/tlog-proof.
* :func:`consistency` — the RFC 9162 §2.1.4 proof that a later release extends an earlier one.
* :func:`export_minisig` / :func:`minisign_public_key` — a detached signature and public key that
  stock ``minisign -V`` accepts, for people who have no orderarchive installed.

Queries return frozen results; verification raises (:mod:`.errors`) or returns what it verified.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .canonical import JSONObject
from .errors import (
    DigestMismatchError,
    KeyFileError,
    NotFoundError,
    ProofFormatError,
    SignatureError,
    VerificationError,
)
from .errors import IndexMismatchError as IndexMismatchError  # noqa: PLC0414 (defined in errors.py)
from .errors import UnreleasedError as UnreleasedError  # noqa: PLC0414 (defined in errors.py)
from .log import merkle
from .log.checkpoint import Checkpoint, open_checkpoint, signers_of
from .log.digest import Digest
from .log.entry import Entry, EntryReader, read_verified_entry, verify_read_entry
from .log.keyset import KeyHistory
from .log.layout import keyset_positions
from .log.note import SignedNote, Signer, VerifierKey, b64encode
from .log.tlogproof import MAX_CHAINED_PROOF_BYTES, ChainLink, TlogProof, chain_bytes, open_proof
from .log.tlogproof import OpenedProof as OpenedProof  # noqa: PLC0414 (public from here too)

if TYPE_CHECKING:  # imported for types only: `check` and `verify-proof` start without them
    from .archive import Archive
    from .copies import CompareLimits, TextComparison

__all__ = [
    "COPY_STATUSES",
    "ConsistencyProof",
    "CopyResult",
    "IndexMismatchError",
    "UnreleasedError",
    "VerifiedProof",
    "chained_proof",
    "check_copy",
    "consistency",
    "export_minisig",
    "find_entry",
    "keyset_chain",
    "minisign_public_key",
    "open_proof",
    "prove",
    "verify_proof",
]

#: What :func:`check_copy` can say about a file. The document-reading issue adds text-level
#: outcomes ("same-text", "modified-copy") for files that are not byte-identical.
COPY_STATUSES = ("official", "official-unreleased", "same-text", "modified-copy", "not-official")

_HEX64 = re.compile(r"[0-9a-f]{64}")


# -- results -----------------------------------------------------------------------------------


@attrs.frozen
class CopyResult:
    """What :func:`check_copy` found for one file.

    For "official" and "official-unreleased", :attr:`entry` is the entry re-read from the log
    and checked; :attr:`checkpoint` is the signed checkpoint whose tree was shown to contain it
    (the latest release, or the latest checkpoint when no release covers it yet).
    """

    status: str
    sha256: Digest
    size: int
    entry: Entry | None = None
    checkpoint: Checkpoint | None = None
    entry_signer: VerifierKey | None = None
    checkpoint_signers: tuple[VerifierKey, ...] = ()
    #: For "same-text" and "modified-copy": how the copy's text compares with the entry's.
    text: TextComparison | None = None
    #: For "not-official": why the text could not be compared, if it could not.
    text_reason: str | None = None

    @property
    def official(self) -> bool:
        """Byte-identical to an archived document covered by a signed release."""
        return self.status == "official"

    @property
    def release(self) -> int | None:
        """The size of the release that covers the entry (None if unreleased or not found)."""
        return self.checkpoint.size if self.checkpoint and self.official else None

    def to_dict(self) -> JSONObject:
        """The JSON object ``check --json`` prints for the copy."""
        out: JSONObject = {
            "status": self.status,
            "official": self.official,
            "sha256": self.sha256.hex(),
            "size": self.size,
        }
        if self.text is not None:
            out["text"] = self.text.to_dict()
        if self.text_reason is not None:
            out["text_reason"] = self.text_reason
        if self.entry is not None and self.entry.document is not None:
            d = self.entry.document
            out.update(
                doc=d.doc,
                title=d.title,
                kind=d.kind,
                issuer=d.issuer,
                issued=d.issued,
                seq=self.entry.seq,
                recorded=self.entry.recorded,
                release=self.release,
                checkpoint_size=self.checkpoint.size if self.checkpoint else None,
                signer=str(self.entry_signer) if self.entry_signer else None,
                checkpoint_signers=[str(k) for k in self.checkpoint_signers],
            )
        return out


@attrs.frozen
class VerifiedProof:
    """A proof file that verified: the entry it carries and the checkpoint that includes it."""

    entry: Entry
    checkpoint: Checkpoint
    entry_signer: VerifierKey
    checkpoint_signers: tuple[VerifierKey, ...]
    sha256: Digest
    #: The keys it was checked with: under key sets, the key history its chain gave.
    trust: Sequence[VerifierKey] = ()

    def to_dict(self) -> JSONObject:
        """The JSON object ``verify-proof --json`` prints."""
        d = self.entry.document
        assert d is not None  # verify_proof refuses entries that are not documents
        return {
            "status": "official",
            "official": True,
            "sha256": self.sha256.hex(),
            "size": d.size,
            "doc": d.doc,
            "title": d.title,
            "kind": d.kind,
            "issuer": d.issuer,
            "issued": d.issued,
            "seq": self.entry.seq,
            "recorded": self.entry.recorded,
            "origin": self.checkpoint.origin,
            "release": self.checkpoint.size,
            "root": b64encode(self.checkpoint.root_hash),
            "signer": str(self.entry_signer),
            "checkpoint_signers": [str(k) for k in self.checkpoint_signers],
        }


@attrs.frozen
class ConsistencyProof:
    """RFC 9162 §2.1.4 proof that release :attr:`new_size` extends release :attr:`old_size`."""

    origin: str
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: tuple[bytes, ...]
    old_note: bytes = attrs.field(repr=False)
    new_note: bytes = attrs.field(repr=False)

    def verify(self, verifiers: Sequence[VerifierKey]) -> None:
        """Check both release signatures and the proof between their roots."""
        for size, root, note in (
            (self.old_size, self.old_root, self.old_note),
            (self.new_size, self.new_root, self.new_note),
        ):
            cp, _ = open_checkpoint(note, verifiers, origin=self.origin)
            if cp.size != size or not hmac.compare_digest(cp.root_hash, root):
                raise VerificationError(f"release {size} does not say what the proof claims")
        merkle.verify_consistency(
            self.old_size, self.new_size, self.old_root, self.new_root, self.proof
        )

    def to_dict(self) -> JSONObject:
        """The JSON object ``consistency --json`` prints."""
        return {
            "origin": self.origin,
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": b64encode(self.old_root),
            "new_root": b64encode(self.new_root),
            "proof": [b64encode(h) for h in self.proof],
            "old_checkpoint": self.old_note.decode("utf-8"),
            "new_checkpoint": self.new_note.decode("utf-8"),
        }


# -- finding an entry --------------------------------------------------------------------------


def _sha_ref(ref: str) -> str | None:
    """The hex digest named by ``sha256:<hex>`` or a bare 64-digit hex string, else None."""
    value = ref.removeprefix("sha256:").lower()
    return value if _HEX64.fullmatch(value) else None


def find_entry(archive: Archive, ref: str, verifiers: Sequence[VerifierKey]) -> int:
    """The sequence number of the document named by *ref* (an id, or ``sha256:<hex>``).

    The answer comes from the index (built from entries verified by *verifiers*) and is only
    a pointer: callers re-read and check the entry.
    """
    sha = _sha_ref(ref)
    with archive.index(verifiers, full_text=False) as idx:
        if sha is not None:
            hits = sorted(idx.by_sha256(sha), key=lambda h: h.seq)
            if hits:
                return int(hits[0].seq)
            raise NotFoundError(f"no archived document has sha256:{sha}")
        row = idx.by_doc(ref)
    if row is None:
        raise NotFoundError(
            f"no document {ref!r} in the archive",
            hint="'orderarchive list' shows the archived documents",
        )
    return int(row.seq)


#: A release as read: its checkpoint, its signed note verbatim, and the trusted keys that signed.
_Release = tuple[Checkpoint, bytes, tuple[VerifierKey, ...]]


def _latest_release(archive: Archive, verifiers: Sequence[VerifierKey] | None) -> _Release | None:
    """The newest release, its signature checked when *verifiers* are given."""
    sizes = archive.releases()
    return _open_release(archive, sizes[-1], verifiers) if sizes else None


def _open_release(
    archive: Archive, size: int, verifiers: Sequence[VerifierKey] | None
) -> _Release:
    note = archive.release_note(size)
    cp, signers = _open(archive, note, verifiers, f"release {size}", size)
    if isinstance(verifiers, KeyHistory):  # the release threshold (keyset.open_release)
        verifiers.check_release(SignedNote.parse(note), size)
    return cp, note, signers


def _open(
    archive: Archive,
    note: bytes,
    verifiers: Sequence[VerifierKey] | None,
    what: str,
    size: int | None = None,
) -> tuple[Checkpoint, tuple[VerifierKey, ...]]:
    signers: tuple[VerifierKey, ...] = ()
    if verifiers is None:  # the caller checks the result some other way (see prove)
        cp = Checkpoint.parse(SignedNote.parse(note).text)
    else:
        cp, signed = open_checkpoint(note, verifiers, origin=archive.origin)
        signers = signers_of(signed, verifiers)
    if cp.origin != archive.origin:
        raise VerificationError(f"{what} is for log {cp.origin!r}, not {archive.origin!r}")
    if size is not None and cp.size != size:
        raise VerificationError(f"{what} holds a checkpoint of size {cp.size}")
    return cp, signers


# -- check a copy ------------------------------------------------------------------------------


def check_copy(
    archive: Archive,
    data: bytes,
    verifiers: Sequence[VerifierKey],
    *,
    filename: str | None = None,
    compare_text: bool = True,
    limits: CompareLimits | None = None,
) -> CopyResult:
    """Whether *data* is an archived document, verified from the signed log.

    Byte-identical → "official" (or "official-unreleased"). Otherwise, with *compare_text*, the
    copy's text is read and compared with the signed text layers: "same-text" (not the
    official file, but exactly its text) or "modified-copy" (with the word-level differences);
    else "not-official". *limits* bound the text comparison (:class:`~.copies.CompareLimits`;
    over them, :class:`~.copies.CopyTooLargeError` or :class:`~.copies.CompareTimeoutError`
    is raised rather than a verdict given). Raises :class:`~.errors.VerificationError` if the
    archive claims the document but its signed log does not bear the claim out (a damaged or
    forged archive must never make a copy look official).
    """
    if not verifiers:
        raise SignatureError("no trusted keys were given; nothing can be verified")
    sha = Digest.of(data)
    with archive.index(verifiers, full_text=False) as idx:  # a lookup by hash first
        hits = sorted(idx.by_sha256(sha.hex()), key=lambda h: h.seq)
    if not hits:
        if not compare_text:
            return CopyResult("not-official", sha, len(data))
        with archive.index(verifiers) as idx:  # the text comparison searches the full text
            return _check_text(
                archive, data, sha=sha, filename=filename, verifiers=verifiers, idx=idx,
                limits=limits,
            )
    seq = int(hits[0].seq)
    release = _latest_release(archive, verifiers)
    if release is not None and seq < release[0].size:
        cp, _, cp_signers = release
        status = "official"
    else:
        head = archive.head()  # parsed only: _open verifies it
        if head.checkpoint is None or head.note is None or seq >= head.size:
            raise IndexMismatchError(
                f"the index lists entry {seq} for {sha}, but the signed log is shorter"
            )
        cp, cp_signers = _open(archive, head.note, verifiers, "the latest checkpoint")
        status = "official-unreleased"
    entry, entry_signer, _ = read_verified_entry(archive, seq, cp, verifiers)
    doc = entry.document
    if doc is None or doc.digest != sha or doc.size != len(data):
        raise IndexMismatchError(
            f"the index lists entry {seq} for {sha}, but that entry is another document"
        )
    return CopyResult(status, sha, len(data), entry, cp, entry_signer, cp_signers)


def _check_text(
    archive: Archive,
    data: bytes,
    *,
    sha: Digest,
    filename: str | None,
    verifiers: Sequence[VerifierKey],
    idx: Any,
    limits: CompareLimits | None,
) -> CopyResult:
    import time

    from .copies import DEFAULT_COMPARE_LIMITS, compare_text, read_copy_text

    limits = limits or DEFAULT_COMPARE_LIMITS
    deadline = time.monotonic() + limits.timeout_seconds
    copy = read_copy_text(data, filename, timeout=limits.timeout_seconds)
    if copy.shown is None:
        return CopyResult("not-official", sha, len(data), text_reason=copy.reason)
    comparison = compare_text(archive, copy, idx=idx, limits=limits, deadline=deadline)
    if comparison is None:
        return CopyResult("not-official", sha, len(data))
    seq = comparison.entry.seq
    release = _latest_release(archive, verifiers)
    released = release is not None and seq < release[0].size
    if release is not None and released:
        cp, _, cp_signers = release
    else:
        head = archive.head()
        if head.note is None:
            return CopyResult("not-official", sha, len(data))
        cp, cp_signers = _open(archive, head.note, verifiers, "the latest checkpoint")
    # The entry whose text layer was compared, verified as read: not read a second time.
    entry = comparison.entry
    entry_signer, _ = verify_read_entry(archive, entry, cp, verifiers)
    d = entry.document
    if d is not None and d.digest == sha and d.size == len(data):
        # The copy is the signed file itself: an index that missed it by its hash is damaged,
        # and the verdict comes from the verified entry, not from the index.
        status = "official" if released else "official-unreleased"
        return CopyResult(status, sha, len(data), entry, cp, entry_signer, cp_signers)
    return CopyResult(
        comparison.status, sha, len(data), entry, cp, entry_signer, cp_signers, comparison
    )


# -- offline proofs (c2sp.org/tlog-proof) ------------------------------------------------------


def prove(archive: Archive, ref: str, verifiers: Sequence[VerifierKey]) -> bytes:
    """A ``.tlog-proof`` for the document *ref* (an id or ``sha256:<hex>``).

    The proof is against the latest release, which must cover the entry
    (:class:`UnreleasedError` otherwise), and carries the release note with every witness
    cosignature the archive keeps for it; its ``extra`` line carries the signed entry. The
    proof is verified against *verifiers* as a stranger would verify it before it is returned.
    """
    if not verifiers:
        raise SignatureError("no trusted keys were given; nothing can be verified")
    seq = find_entry(archive, ref, verifiers)
    release = _latest_release(archive, verifiers)
    if release is None or seq >= release[0].size:
        raise UnreleasedError(f"entry {seq} is not covered by a signed release yet")
    cp, _, _ = release
    entry, _, path = read_verified_entry(archive, seq, cp, verifiers)
    raw = entry.raw
    if entry.document is None:
        raise NotFoundError(f"entry {seq} is not a document")
    from .witnessing import cosigned_note  # the release with the witnesses' cosignatures

    proof = chained_proof(archive, cp, TlogProof(seq, tuple(path), cosigned_note(archive, cp), raw))
    data = archive.read_object(entry.document.sha256, entry.document.size)
    verify_proof(data, proof, verifiers, origin=archive.origin)
    return proof


def keyset_chain(reader: EntryReader, cp: Checkpoint) -> tuple[ChainLink, ...]:
    """The key-set entries that checkpoint *cp* names, read through *reader*, each with its
    inclusion proof in *cp*, checked (the entry's bytes against its leaf, the proof against
    *cp*'s root) before it is returned; none when *cp* names none. Signatures are not checked
    here: the chain is walked from a trust file by :func:`.tlogproof.chain_history`."""
    links: list[ChainLink] = []
    for i in keyset_positions(cp) or ():
        entry, _, path = read_verified_entry(reader, i, cp, None)  # inclusion only
        if entry.keyset is None:
            raise VerificationError(
                f"the release names a key set at entry {i}, but entry {i} is not a key set"
            )
        links.append(ChainLink(i, entry.raw, tuple(path)))
    return tuple(links)


def chained_proof(reader: EntryReader, cp: Checkpoint, proof: TlogProof) -> bytes:
    """The proof file: *proof* after the key-set chain of its release *cp* (already verified).

    Under key sets the release names its key-set entries (``orderarchive.keysets``): they
    travel with the proof, each with its inclusion proof in the release, so the trust file
    alone checks it offline (docs/FORMAT.md, the key-set chain). Each is read through
    *reader* (an archive, or a site's authenticated tiles) and shown included in *cp* before
    it is written; its signature is checked when the chain is walked
    (:func:`.tlogproof.open_proof`). Used by the local and the remote ``prove`` alike, so both
    write the same bytes.
    """
    data = chain_bytes(keyset_chain(reader, cp)) + proof.to_bytes()
    if len(data) > MAX_CHAINED_PROOF_BYTES:
        raise ProofFormatError(
            f"the proof with its log's key sets would be {len(data)} bytes, more than "
            f"{MAX_CHAINED_PROOF_BYTES}"
        )
    return data


def verify_proof(
    data: bytes,
    proof: bytes,
    verifiers: Sequence[VerifierKey],
    *,
    origin: str | None = None,
) -> VerifiedProof:
    """Check that *data* is the document whose signed entry *proof* shows in a signed release.

    Needs no archive. The proof is checked first (:func:`open_proof`), then that *data* has
    the entry's SHA-256 and size, so a mismatch means "a valid proof of another file". Raises
    on the first failure.
    """
    opened = open_proof(proof, verifiers, origin=origin)
    entry, cp = opened.entry, opened.checkpoint
    entry_signer, cp_signers = opened.entry_signer, opened.checkpoint_signers
    doc = opened.document
    actual = Digest.of(data)
    if actual != doc.digest:
        raise DigestMismatchError(
            f"the file is not {doc.doc!r}", expected=str(doc.digest), actual=str(actual)
        )
    if len(data) != doc.size:  # same hash, other size: impossible short of a SHA-256 break
        raise VerificationError(f"the file is {len(data)} bytes, the entry says {doc.size}")
    return VerifiedProof(entry, cp, entry_signer, cp_signers, actual, opened.trust)


# -- append-only proofs ------------------------------------------------------------------------


def consistency(
    archive: Archive,
    old: int,
    new: int | None = None,
    verifiers: Sequence[VerifierKey] | None = None,
) -> ConsistencyProof:
    """The consistency proof between releases *old* and *new* (default: the latest release).

    The proof is checked against both releases' roots before it is returned, and with
    *verifiers* their signatures too.
    """
    sizes = archive.releases()
    if not sizes:
        raise UnreleasedError("the archive has no release yet")
    new_size = sizes[-1] if new is None else new
    for size in (old, new_size):
        if size not in sizes:
            raise NotFoundError(
                f"no release at tree size {size}",
                hint="releases: " + ", ".join(str(s) for s in sizes[-10:]),
            )
    if old > new_size:
        raise NotFoundError(f"release {old} is newer than release {new_size}")
    old_cp, old_note, _ = _open_release(archive, old, verifiers)
    new_cp, new_note, _ = _open_release(archive, new_size, verifiers)
    path = merkle.consistency_proof(old, new_size, archive.read_hashes) if old != new_size else []
    result = ConsistencyProof(
        archive.origin, old, new_size, old_cp.root_hash, new_cp.root_hash, tuple(path),
        old_note, new_note,
    )
    merkle.verify_consistency(old, new_size, old_cp.root_hash, new_cp.root_hash, path)
    return result


# -- minisign interoperability -----------------------------------------------------------------


def minisign_public_key(key: VerifierKey) -> str:
    """The ``minisign.pub`` file for *key*, with the key ID :func:`export_minisig` uses."""
    from .log import minisign

    key_id = minisign.key_id_for(key.public_key)
    comment = f"minisign public key {minisign.key_id_hex(key_id)} for {key.name}"
    return minisign.public_key_file(key.public_key, key_id, comment)


def export_minisig(
    archive: Archive,
    ref: str,
    signer: Signer,
    verifiers: Sequence[VerifierKey] = (),
) -> tuple[str, Entry]:
    """A minisign ``ED`` signature of the archived document *ref*, and its entry.

    Only a released entry is signed: the latest release must be signed by *signer* itself, the
    entry by it or one of *verifiers*, and the stored object must have the entry's hash. The
    trusted comment, which minisign authenticates and prints, names the document, its SHA-256,
    its entry and the log. Cross-protocol safety: minisign signs a 64-byte BLAKE2b digest and
    ``signature || trusted comment``; neither can equal an entry message (which starts with
    ``orderarchive/entry/v1``) or a checkpoint text without a BLAKE2b preimage or a forgery.
    """
    from .log import minisign

    # The release must be signed by this very key (the one whose minisign public key people
    # hold); older entries may be signed by other trusted keys of the log.
    trusted = [signer.verifier(), *verifiers]
    seq = find_entry(archive, ref, trusted)
    release = _latest_release(archive, [signer.verifier()])
    if release is None or seq >= release[0].size:
        raise UnreleasedError(f"entry {seq} is not covered by a signed release yet")
    entry = read_verified_entry(archive, seq, release[0], trusted)[0]
    doc = entry.document
    if doc is None:
        raise NotFoundError(f"entry {seq} is not a document")
    data = archive.read_object(doc.sha256, doc.size)
    comment = (
        f"orderarchive doc:{doc.doc} sha256:{doc.sha256} seq:{entry.seq} origin:{archive.origin}"
    )
    from .log.agent import AgentSigner

    if isinstance(signer, AgentSigner):  # its seed is a placeholder: never sign with it
        raise KeyFileError(
            "export-sig signs with the key file itself; a key held by ssh-agent cannot "
            "make minisign signatures here",
            hint="sign with the private key file",
        )
    text = minisign.sign_prehashed(
        signer.seed,
        minisign.key_id_for(signer.public_key),
        minisign.Prehash.of(data),
        trusted_comment=comment,
        untrusted_comment=f"orderarchive signature of {doc.doc}",
    )
    return text, entry
