"""One error tree for everything orderarchive raises.

Every exception that leaves the library is an :class:`OrderArchiveError`. Foreign exceptions
(nacl, json, binascii, OSError, sqlite3, pypdf) are converted at the boundary with
``raise ... from e``. The CLI maps each subtree to an exit code in one place.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

# -- what some errors carry ---------------------------------------------------------------------
# The errors are defined here, in the base layer, so they cannot name the types of the layers
# above; these protocols say what the errors use of the objects they carry. At run time the
# attribute is the real object (the type named in each error's docstring).


class NoteSignatureLine(Protocol):
    """A signature line of a signed note (:class:`~.log.note.NoteSignature`)."""

    @property
    def name(self) -> str: ...
    @property
    def key_id(self) -> bytes: ...


class ParsedNote(Protocol):
    """A parsed, unverified signed note (:class:`~.log.note.SignedNote`)."""

    @property
    def text(self) -> str: ...
    @property
    def signatures(self) -> Sequence[NoteSignatureLine]: ...


class Evidence(Protocol):
    """Evidence of a fork or rollback (:class:`~.history.ForkEvidence`)."""

    @property
    def kind(self) -> str: ...
    @property
    def old_note(self) -> bytes: ...
    @property
    def new_note(self) -> bytes | None: ...
    def describe(self) -> str: ...
    def write(self, state: Path | None = None) -> Path: ...


class ReportedProblem(Protocol):
    """One problem of a verification report (:class:`~.log.log.Problem`)."""

    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def seq(self) -> int | None: ...


class Report(Protocol):
    """A verification report (:class:`~.log.log.VerifyReport`)."""

    @property
    def origin(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def problems(self) -> Sequence[ReportedProblem]: ...
    @property
    def ok(self) -> bool: ...


class QuotationReport(Protocol):
    """What a quotation check found (:class:`~.citations.cite.QuoteReport`)."""

    @property
    def ok(self) -> bool: ...
    @property
    def verdict(self) -> str: ...


class Remedy(enum.StrEnum):
    """How the caller can lift an error, as a name rather than a command line.

    The library's messages and hints name no command-line option; an error that a setting of
    the caller's lifts carries one of these in :attr:`OrderArchiveError.remedy`, and the CLI
    turns it into its own hint (``orderarchive.cli._common.hint_for``).
    """

    #: Name the directory that holds an archive (or create one).
    ARCHIVE = "archive"
    #: Give the publisher's verifier key.
    TRUSTED_KEYS = "trusted-keys"
    #: Raise the size limit of the files read.
    MAX_SIZE = "max-size"
    #: Raise the size limit of a brief, or check it in parts.
    BRIEF_SIZE = "brief-size"
    #: Raise the number of quotations a brief may hold, or check it in parts.
    MAX_QUOTATIONS = "max-quotations"
    #: Raise the word limit of a copy's comparison.
    MAX_WORDS = "max-words"
    #: Raise the time budget of a copy's comparison.
    TIMEOUT = "timeout"
    #: Give the passphrase of an encrypted private key.
    PASSPHRASE = "passphrase"  # noqa: S105 (a remedy's name, not a password)
    #: Restore the checkpoint, or discard entries no checkpoint covers.
    DISCARD_UNCHECKPOINTED = "discard-uncheckpointed"
    #: Verify the whole archive (not only that it extends a given checkpoint).
    FULL_VERIFY = "full-verify"
    #: Cite by quotation rather than by page.
    CITE_BY_QUOTE = "cite-by-quote"
    #: Accept a quotation that needs review explicitly.
    ACCEPT_REVIEW = "accept-review"
    #: Choose another document id, or record the change as a document that amends it.
    DOCUMENT_ID = "document-id"
    #: Give a document field without control or bidi characters.
    FIELD_TEXT = "field-text"
    #: State the issued date of an order (or its kind).
    ISSUED_DATE = "issued-date"
    #: Widen the include/exclude patterns of a directory.
    FILE_SELECTION = "file-selection"


class OrderArchiveError(Exception):
    """Root of every error orderarchive raises."""

    #: A short hint for the user, shown after the one-line message (no command-line options).
    hint: str | None = None
    #: How a setting of the caller's lifts the error, if one does (the CLI names its option).
    remedy: Remedy | None = None

    def __init__(
        self, message: str, *, hint: str | None = None, remedy: Remedy | None = None
    ) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint
        if remedy is not None:
            self.remedy = remedy


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


class MinisignFormatError(MalformedError):
    """A minisign public key or signature file that does not parse."""


class QuoteTooShortError(MalformedError):
    """A quotation too short to identify a passage (fewer than
    :data:`~.citations.quote.MIN_QUOTE_WORDS` words)."""


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


class OriginMismatchError(SignatureError):
    """A checkpoint from a log other than the one the caller asked about."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"checkpoint is for log {actual!r}, expected {expected!r}")
        self.expected = expected
        self.actual = actual


class InvalidSignatureError(SignatureError):
    """A signature line by a known key (name and key ID match) that does not verify.

    Go's ``note.InvalidSignatureError``: the whole note is rejected (signed-note "Signatures":
    clients SHOULD reject the whole note).
    """

    def __init__(self, name: str, key_id: bytes) -> None:
        super().__init__(f"invalid signature for key {name}+{key_id.hex()}")
        self.name = name
        self.key_id = key_id


class UnverifiedNoteError(UntrustedKeyError):
    """A well-formed note with no signature by any supplied key (Go's UnverifiedNoteError).

    The parsed note (a :class:`~.log.note.SignedNote`) is available as :attr:`note` for
    diagnostics; its text MUST NOT be trusted (signed-note: "The text MUST be ignored unless
    the note is signed by a trusted key").
    """

    hint = "pass the verifier key (name+hash+key) of a key that signed the note"

    def __init__(self, note: ParsedNote) -> None:
        names = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in note.signatures)
        super().__init__(f"note has no signature by a known key (signed by: {names})")
        self.note = note


class LogForkedError(ForkError):
    """Two validly signed checkpoints of one log that are not consistent with each other.

    :attr:`evidence` is the :class:`~.history.ForkEvidence` (not yet written).
    """

    def __init__(self, evidence: Evidence) -> None:
        super().__init__(evidence.describe())
        self.evidence = evidence


class LogRolledBackError(RollbackError):
    """The log shows a smaller tree than a signed checkpoint seen before.

    :attr:`evidence` is the :class:`~.history.ForkEvidence` (not yet written).
    """

    def __init__(self, evidence: Evidence) -> None:
        super().__init__(evidence.describe())
        self.evidence = evidence


class ArchiveVerificationError(VerificationError):
    """``verify`` found problems; the full report (a :class:`~.log.log.VerifyReport`) is
    attached as :attr:`report`."""

    def __init__(self, report: Report) -> None:
        first = report.problems[0].message
        more = len(report.problems) - 1
        super().__init__(first + (f" (and {more} more problems)" if more else ""))
        self.report = report


class IndexMismatchError(VerificationError):
    """The derived index points at an entry the signed log does not confirm."""

    hint = "run 'orderarchive verify' against the publisher's key"


class QuotationMismatchError(VerificationError):
    """A citation was asked for a quotation the document does not hold (or not on that page).

    :attr:`report` is the :class:`~.citations.cite.QuoteReport`, when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        report: QuotationReport | None = None,
        remedy: Remedy | None = None,
    ) -> None:
        super().__init__(message, hint="run 'orderarchive quote' to see the differences",
                         remedy=remedy)
        self.report = report


class UnreleasedQuotationError(VerificationError):
    """A quotation found in an entry that no signed release covers yet: no citation for it.

    :attr:`report` is the :class:`~.citations.cite.QuoteReport`, when there is one.
    """

    def __init__(self, message: str, *, report: QuotationReport | None = None) -> None:
        super().__init__(message, hint="cite it after the archive's next release "
                         "('orderarchive release')")
        self.report = report


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


class StateError(OrderArchiveError):
    """The user's state directory (remembered checkpoints, evidence) cannot be used."""


class OutputError(OrderArchiveError):
    """An output file that cannot be written."""


# -- keys --------------------------------------------------------------------------------------


class KeyFileError(OrderArchiveError):
    """A key file that is missing, malformed or cannot be decrypted."""


class PassphraseError(KeyFileError):
    """A passphrase that does not decrypt the private key."""


# -- documents ---------------------------------------------------------------------------------


class TooFewCosignaturesError(SignatureError):
    """A checkpoint without the cosignatures the user's witness policy requires."""

    def __init__(self, message: str, *, have: int, need: int) -> None:
        super().__init__(
            message,
            hint="a checkpoint not cosigned by enough independent witnesses may be a split "
            "view; ask the publisher for the witnessed checkpoint, or check the policy file",
        )
        self.have = have
        self.need = need


class TooFewWitnessesError(VerificationError):
    """Fewer witnesses cosigned a new checkpoint than the clerk's witness file requires."""


class WitnessRequestError(MalformedError):
    """An add-checkpoint request body that does not parse (answered 400)."""


class WitnessUnreachableError(OrderArchiveError):
    """A witness that could not be reached or answered nonsense (network, not verification)."""


class DocumentError(OrderArchiveError):
    """A document that cannot be read (encrypted, broken, too large, unsupported)."""


class EmptyDocumentError(DocumentError):
    """A document of zero bytes."""


class UnsupportedDocumentError(DocumentError):
    """A media type orderarchive does not read (images, office files, binary junk)."""


class UnicodeDocumentError(DocumentError):
    """Text that is not UTF-8, or HTML that is not in its declared charset."""


class EncryptedDocumentError(DocumentError):
    """A PDF that needs a password (or a decryption library that is not installed)."""


class BrokenDocumentError(DocumentError):
    """A truncated or corrupt document that its reader cannot make sense of."""


class DocumentTooLargeError(DocumentError):
    """A document over one of the :class:`~.documents.Limits` (bytes, pages, text, memory,
    decompression)."""


class DocumentTimeoutError(DocumentError):
    """A document whose reading took longer than :attr:`~.documents.Limits.timeout_seconds`."""


class ReaderCrashError(DocumentError):
    """The reader process died (a signal, the kernel's OOM killer) or failed unexpectedly."""


class DocumentFileError(DocumentError):
    """A document file that cannot be opened or read."""


class TooManyQuotationsError(DocumentError):
    """A brief with more quotations than the caller agreed to check."""


class CopyTooLargeError(DocumentError):
    """A copy (or the text it is compared with) over the comparison's word limit."""

    hint = "raise the comparison's word limit (CompareLimits.max_words)"
    remedy = Remedy.MAX_WORDS


class CompareTimeoutError(DocumentError):
    """Comparing a copy took longer than its time budget: no verdict can be given."""

    hint = "raise the comparison's time budget (CompareLimits.timeout_seconds)"
    remedy = Remedy.TIMEOUT


class NotFoundError(OrderArchiveError):
    """A document, entry or checkpoint that the archive does not hold."""


class TreeRangeError(NotFoundError):
    """A leaf index, tree size or stored-hash position outside the tree it is asked of."""


class UnreleasedError(NotFoundError):
    """The entry exists but no signed release covers it yet, so nothing public vouches for it."""

    hint = "run 'orderarchive release' to sign a release that covers it"


class NoTextLayerError(NotFoundError):
    """A document archived without a text layer (an image-only PDF): it cannot be quoted."""


# -- published sites (issue 18) ----------------------------------------------------------------


class TileMismatchError(VerificationError):
    """Tiles or entry bundles that do not agree with the signed checkpoint (a tampered or
    inconsistent server)."""

    hint = "the server's tiles are not those of the signed log; do not trust this copy"


class RemoteError(StorageError):
    """A published site that cannot be read: network, HTTP status, oversized or slow answer."""
