"""One error tree for everything orderarchive raises.

Every exception that leaves the library is an :class:`OrderArchiveError`. Foreign exceptions
(nacl, json, binascii, OSError, sqlite3, pypdf) are converted at the boundary with
``raise ... from e``. The CLI maps each subtree to an exit code in one place.
"""

from __future__ import annotations


class OrderArchiveError(Exception):
    """Root of every error orderarchive raises."""

    #: A short hint for the user, shown after the one-line message by the CLI.
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


# -- malformed input ---------------------------------------------------------------------------


class MalformedError(OrderArchiveError):
    """Bytes that are not in the format they claim to be (hostile or corrupt input)."""


class CanonicalJSONError(MalformedError):
    """JSON that is not in the canonical form orderarchive writes and accepts."""


class EntryFormatError(MalformedError):
    """An entry that is not a well-formed entry of a known version."""


class NoteFormatError(MalformedError):
    """A signed note, checkpoint or verifier key that does not parse."""


class ProofFormatError(MalformedError):
    """A proof file (tlog-proof, evidence bundle) that does not parse."""


# -- verification failures ---------------------------------------------------------------------


class VerificationError(OrderArchiveError):
    """Something was checked and found not to be what it claims."""


class DigestMismatchError(VerificationError):
    """Bytes whose SHA-256 differs from the recorded digest."""

    def __init__(self, message: str, *, expected: str, actual: str) -> None:
        super().__init__(f"{message}: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class SignatureError(VerificationError):
    """A signature that does not verify, or is made by a key that is not trusted."""


class UntrustedKeyError(SignatureError):
    """A signature by a key the user did not supply."""


class InclusionError(VerificationError):
    """An inclusion proof that does not lead to the expected root."""


class ConsistencyError(VerificationError):
    """A consistency proof that does not show the newer tree extends the older."""


class RootMismatchError(VerificationError):
    """A computed Merkle root that differs from the expected one."""

    def __init__(self, message: str, *, expected: bytes, actual: bytes) -> None:
        super().__init__(f"{message}: expected {expected.hex()}, calculated {actual.hex()}")
        self.expected = expected
        self.actual = actual


class RollbackError(VerificationError):
    """A log that is smaller than, or forked from, a checkpoint seen before."""


class ForkError(RollbackError):
    """Two validly signed checkpoints that cannot both be views of one append-only log."""


# -- storage -----------------------------------------------------------------------------------


class StorageError(OrderArchiveError):
    """The archive cannot be read or written."""


class ArchiveNotFoundError(StorageError):
    """No archive at the given location."""


class CorruptArchiveError(StorageError, MalformedError):
    """An archive whose own layout files (config, log) cannot be parsed at all."""


class ConflictError(StorageError):
    """A create-only object exists with other bytes, or a compare-and-swap lost a race."""


class LockError(StorageError):
    """The archive's writer lock could not be taken."""


class IncompleteWriteError(StorageError):
    """An interrupted append left bytes past the last committed checkpoint."""


# -- keys --------------------------------------------------------------------------------------


class KeyFileError(OrderArchiveError):
    """A key file that is missing, malformed or cannot be decrypted."""


class PassphraseError(KeyFileError):
    """A passphrase that does not decrypt the private key."""


# -- documents ---------------------------------------------------------------------------------


class DocumentError(OrderArchiveError):
    """A document that cannot be read (encrypted, broken, too large, unsupported)."""


class NotFoundError(OrderArchiveError):
    """A document, entry or checkpoint that the archive does not hold."""


# -- published sites (issue 18) ----------------------------------------------------------------


class TileMismatchError(VerificationError):
    """Tiles or entry bundles that do not agree with the signed checkpoint (a tampered or
    inconsistent server)."""

    hint = "the server's tiles are not those of the signed log; do not trust this copy"


class RemoteError(StorageError):
    """A published site that cannot be read: network, HTTP status, oversized or slow answer."""
