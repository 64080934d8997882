"""C2SP signed notes (c2sp.org/signed-note v1.0.0, = Go's golang.org/x/mod/sumdb/note).

A signed note is a UTF-8 text ending in a newline, a blank line, and one or more signature
lines ``— <key name> base64(key ID || signature)``. Checkpoints (:mod:`.checkpoint`) are
signed notes, and a checkpoint file must verify with stock Go tooling (``note.Open``), so
every byte here follows the spec and Go's reference implementation.

Signing uses Ed25519 (signature type ``0x01``) only. Opening a note keeps every signature
line, including those by keys of types this module does not sign with (for example witness
cosignatures, type ``0x04``, c2sp.org/tlog-cosignature), and verifies exactly the lines whose
key name *and* key ID match a supplied :class:`VerifierKey` (signed-note "Signatures"): a
plain Ed25519 signature for a type ``0x01`` key, a timestamped ``cosignature/v1`` for a
type ``0x04`` witness key.

Where this module is stricter than Go's ``note.Open`` (each rejects only notes that no
conforming signer writes):

* base64 must be canonical (padded, zero trailing bits), so one note has one byte encoding;
* every signature line by a known key is verified, including repeats that Go skips;
* key names must not contain control characters (they could never appear in a valid note);
* a note is limited to :data:`MAX_NOTE_BYTES` bytes as well as :data:`MAX_SIGNATURES` lines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence

import attrs
import nacl.exceptions
import nacl.signing

from ..errors import InvalidSignatureError as InvalidSignatureError  # noqa: PLC0414 (defined in errors.py)
from ..errors import NoteFormatError, SignatureError
from ..errors import UnverifiedNoteError as UnverifiedNoteError  # noqa: PLC0414 (defined in errors.py)
from .signing import ed25519_verify

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "InvalidSignatureError",
    "NoteSignature",
    "OpenedNote",
    "SignedNote",
    "Signer",
    "UnverifiedNoteError",
    "VerifierKey",
    "key_id",
    "open_note",
    "sign_note",
]

#: Signature type of plain Ed25519 note signatures (signed-note "Signature types").
ALG_ED25519 = 0x01
#: Signature type of timestamped Ed25519 witness cosignatures (c2sp.org/tlog-cosignature).
ALG_COSIGNATURE_V1 = 0x04

#: Go's ``note.Open`` refuses more than 100 signature lines; the spec asks for at least 16.
MAX_SIGNATURES = 100
#: Room for 100 post-quantum signatures (nearly 5 kB each, signed-note "Format").
MAX_NOTE_BYTES = 1 << 20

KEY_ID_SIZE = 4
ED25519_KEY_SIZE = 32
ED25519_SIGNATURE_SIZE = 64
_COSIGNATURE_TIMESTAMP_SIZE = 8
_MAX_COSIGNATURE_TIMESTAMP = 2**63 - 1  # tlog-cosignature "Format"

_SIG_PREFIX = "\u2014 "  # em dash, space
_GO_SKEY_PREFIX = "PRIVATE+KEY+"
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
# signed-note "Format": no ASCII control characters other than newline.
_NOTE_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_SUPPORTED_KEY_TYPES = (ALG_ED25519, ALG_COSIGNATURE_V1)


# -- encoding helpers --------------------------------------------------------------------------


def _strict_b64decode(text: str, what: str, error: type[Exception] = NoteFormatError) -> bytes:
    """Decode standard, padded base64 (RFC 4648 §4) and insist it is the canonical encoding.

    Non-canonical encodings (stray trailing bits, missing padding) would let the same signed
    bytes travel under several spellings; refusing them keeps one note, one byte string.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as e:
        raise error(f"{what}: malformed base64") from e
    if base64.b64encode(raw).decode("ascii") != text:
        raise error(f"{what}: base64 is not in canonical form")
    return raw


def b64encode(raw: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4), as ASCII text: the one encoder of the
    project's notes, proofs, key files and JSON documents."""
    return base64.b64encode(raw).decode("ascii")


def _check_name(name: str, what: str = "key name") -> None:
    """Signed-note "Format": key names are non-empty, with no Unicode spaces and no ``+``.

    ``str.isspace`` covers every character Go's ``unicode.IsSpace`` does (Zs, Zl, Zp, the ASCII
    spaces, U+0085); control characters are refused too because a note cannot carry them.
    """
    if not name:
        raise NoteFormatError(f"{what} is empty")
    if "+" in name:
        raise NoteFormatError(f"{what} {name!r} contains '+'")
    if any(c.isspace() or c < "\x20" for c in name):
        raise NoteFormatError(f"{what} {name!r} contains a space or control character")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as e:
        raise NoteFormatError(f"{what} {name!r} is not valid Unicode") from e


def _check_text(text: str) -> None:
    """Signed-note "Format": the text ends in a newline, is UTF-8, and has no control chars."""
    if not text.endswith("\n"):
        raise NoteFormatError("note text does not end with a newline")
    bad = _NOTE_CONTROL.search(text)
    if bad is not None:
        raise NoteFormatError(f"note text contains control character {bad.group()!r}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise NoteFormatError("note text is not valid Unicode") from e


def key_id(name: str, key_type_and_pub: bytes) -> bytes:
    """The 4-byte key ID: SHA-256(key name || 0x0A || signature type || public key)[:4].

    signed-note "Signatures" (recommended rule; mandatory for Ed25519 and for cosignatures).
    """
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + key_type_and_pub).digest()
    return digest[:KEY_ID_SIZE]


def _cosignature_message(timestamp: int, msg: bytes) -> bytes:
    """tlog-cosignature "Ed25519 signed message": header line, time line, then the note text."""
    return b"cosignature/v1\ntime %d\n" % timestamp + msg


# -- keys --------------------------------------------------------------------------------------


def _check_vkey_fields(instance: VerifierKey, _attribute: object, _value: int) -> None:
    _check_name(instance.name)
    if instance.key_type not in _SUPPORTED_KEY_TYPES:
        raise NoteFormatError(f"unsupported verifier key type 0x{instance.key_type:02x}")
    if len(instance.public_key) != ED25519_KEY_SIZE:
        raise NoteFormatError(f"Ed25519 public key has {len(instance.public_key)} bytes, not 32")
    expected = key_id(instance.name, bytes([instance.key_type]) + instance.public_key)
    if not hmac.compare_digest(instance.id, expected):
        raise NoteFormatError(
            f"key ID {instance.id.hex()} of {instance.name} does not match its key "
            f"({expected.hex()})"
        )


@attrs.frozen
class VerifierKey:
    """A public key that can verify note signatures, written ``name+<8 hex>+base64(type||pub)``.

    Type ``0x01`` (plain Ed25519) is what orderarchive signs with; type ``0x04`` (Ed25519
    witness cosignature, c2sp.org/tlog-cosignature) is accepted so that a caller can require
    witness cosignatures on a checkpoint.
    """

    name: str
    id: bytes
    public_key: bytes
    key_type: int = attrs.field(default=ALG_ED25519, validator=_check_vkey_fields)

    @classmethod
    def from_public_key(
        cls, name: str, public_key: bytes, key_type: int = ALG_ED25519
    ) -> VerifierKey:
        """The verifier key for *public_key* under *name*, with its key ID computed."""
        _check_name(name)
        return cls(name, key_id(name, bytes([key_type]) + public_key), public_key, key_type)

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse a vkey string as Go's ``note.NewVerifier`` does (split at the first two '+')."""
        name, sep1, rest = text.partition("+")
        hash16, sep2, key64 = rest.partition("+")
        if not (sep1 and sep2):
            raise NoteFormatError("verifier key is not of the form name+hash+key")
        if _HEX8.fullmatch(hash16) is None:
            raise NoteFormatError(f"verifier key hash {hash16!r} is not 8 hex digits")
        _check_name(name)
        raw = _strict_b64decode(key64, "verifier key")
        if not raw:
            raise NoteFormatError("verifier key has no key data")
        key_type, public_key = raw[0], raw[1:]
        if key_type not in _SUPPORTED_KEY_TYPES:
            raise NoteFormatError(f"unsupported verifier key type 0x{key_type:02x}")
        return cls(name, bytes.fromhex(hash16), public_key, key_type)

    @property
    def key_hash_hex(self) -> str:
        """The key ID as 8 lower-case hex digits, as in the vkey string."""
        return self.id.hex()

    def to_string(self) -> str:
        """The vkey string ``name+<8 hex>+base64(type || public key)``."""
        data = b64encode(bytes([self.key_type]) + self.public_key)
        return f"{self.name}+{self.key_hash_hex}+{data}"

    def __str__(self) -> str:
        return self.to_string()

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """Whether *sig* (the signature bytes after the 4-byte key ID) signs *msg*.

        For a cosignature key, *sig* is ``u64 timestamp || Ed25519 signature`` over the
        ``cosignature/v1`` message (tlog-cosignature "Format").
        """
        if self.key_type == ALG_ED25519:
            return ed25519_verify(self.public_key, msg, sig)
        if len(sig) != _COSIGNATURE_TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE:
            return False
        timestamp = int.from_bytes(sig[:_COSIGNATURE_TIMESTAMP_SIZE], "big")
        if timestamp > _MAX_COSIGNATURE_TIMESTAMP:
            return False
        message = _cosignature_message(timestamp, msg)
        return ed25519_verify(self.public_key, message, sig[_COSIGNATURE_TIMESTAMP_SIZE:])


def _check_signer_fields(instance: Signer, _attribute: object, _value: bytes) -> None:
    _check_name(instance.name)
    if len(instance.seed) != ED25519_KEY_SIZE:
        raise NoteFormatError(f"Ed25519 seed has {len(instance.seed)} bytes, not 32")


@attrs.frozen
class Signer:
    """An Ed25519 (type ``0x01``) note signing key: a key name and a 32-byte seed.

    The seed is left out of ``repr`` so that it cannot end up in a log or a traceback.
    """

    name: str
    seed: bytes = attrs.field(repr=False, validator=_check_signer_fields)

    @classmethod
    def generate(cls, name: str) -> Signer:
        """A new random signing key named *name*."""
        _check_name(name)
        return cls(name, bytes(nacl.signing.SigningKey.generate()))

    @classmethod
    def parse_go_skey(cls, text: str) -> Signer:
        """Parse Go's ``PRIVATE+KEY+name+hash+base64(0x01||seed)`` (``note.NewSigner``).

        As in Go, the hash is checked against the public key derived from the seed.
        """
        if not text.startswith(_GO_SKEY_PREFIX):
            raise NoteFormatError("signer key does not start with PRIVATE+KEY+")
        name, sep1, rest = text[len(_GO_SKEY_PREFIX) :].partition("+")
        hash16, sep2, key64 = rest.partition("+")
        if not (sep1 and sep2) or _HEX8.fullmatch(hash16) is None:
            raise NoteFormatError("signer key is not of the form PRIVATE+KEY+name+hash+key")
        _check_name(name)
        raw = _strict_b64decode(key64, "signer key")
        if len(raw) != 1 + ED25519_KEY_SIZE or raw[0] != ALG_ED25519:
            raise NoteFormatError("signer key is not an Ed25519 seed")
        signer = cls(name, raw[1:])
        if not hmac.compare_digest(signer.key_id, bytes.fromhex(hash16)):
            raise NoteFormatError("signer key hash does not match its key")
        return signer

    def to_go_skey(self) -> str:
        """Go's secret key string. Anyone holding it can sign: never print or log it."""
        data = b64encode(bytes([ALG_ED25519]) + self.seed)
        return f"{_GO_SKEY_PREFIX}{self.name}+{self.key_id.hex()}+{data}"

    @property
    def public_key(self) -> bytes:
        return bytes(nacl.signing.SigningKey(self.seed).verify_key)

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, bytes([ALG_ED25519]) + self.public_key)

    def verifier(self) -> VerifierKey:
        """The matching verifier key."""
        return VerifierKey.from_public_key(self.name, self.public_key)

    def sign(self, msg: bytes) -> bytes:
        """The 64-byte Ed25519 signature of *msg* (RFC 8032; deterministic)."""
        return nacl.signing.SigningKey(self.seed).sign(msg).signature


@attrs.frozen
class BatchSigner(Signer):
    """A :class:`Signer` that derives its Ed25519 key pair once, for many signatures in a row.

    ``Signer.sign`` re-derives the key pair from the seed for every signature (a scalar
    multiplication, as long as the signature itself), and ``make_entry`` asks for the
    verifier key once per entry; for an append of many documents that doubled the cost of
    signing. The signatures are the same bytes (Ed25519 is deterministic). Build it with
    :meth:`of`: the derived key and verifier are fields given at construction, never set on
    the frozen instance afterwards.
    """

    _key: nacl.signing.SigningKey = attrs.field(repr=False, eq=False, kw_only=True)
    _verifier: VerifierKey = attrs.field(repr=False, eq=False, kw_only=True)

    @classmethod
    def of(cls, signer: Signer) -> Signer:
        """*signer* deriving its key once; a caller's own subclass keeps its behaviour."""
        if type(signer) is not Signer:
            return signer
        key = nacl.signing.SigningKey(signer.seed)
        verifier = VerifierKey.from_public_key(signer.name, bytes(key.verify_key))
        return cls(signer.name, signer.seed, key=key, verifier=verifier)

    def verifier(self) -> VerifierKey:
        return self._verifier

    def sign(self, msg: bytes) -> bytes:
        return bytes(self._key.sign(msg).signature)


# -- notes -------------------------------------------------------------------------------------


def _check_signature_fields(instance: NoteSignature, _attribute: object, _value: bytes) -> None:
    _check_name(instance.name)
    if len(instance.key_id) != KEY_ID_SIZE:
        raise NoteFormatError(f"key ID has {len(instance.key_id)} bytes, not 4")
    if not instance.signature:
        raise NoteFormatError("empty signature")


@attrs.frozen
class NoteSignature:
    """One signature line: key name, 4-byte key ID, signature bytes (after the key ID)."""

    name: str
    key_id: bytes
    signature: bytes = attrs.field(validator=_check_signature_fields)

    @classmethod
    def from_line(cls, line: str) -> NoteSignature:
        """Parse ``— <name> <base64>`` (without the newline), as Go's ``note.Open`` does."""
        if not line.startswith(_SIG_PREFIX):
            raise NoteFormatError("signature line does not start with an em dash and a space")
        name, _, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        _check_name(name, "signature key name")
        if not b64:
            raise NoteFormatError(f"signature line for {name} has no signature")
        raw = _strict_b64decode(b64, f"signature by {name}")
        if len(raw) <= KEY_ID_SIZE:  # Go: len(sig) < 5 is malformed
            raise NoteFormatError(f"signature by {name} is too short")
        return cls(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])

    def to_line(self) -> str:
        """The signature line, including its final newline."""
        return f"{_SIG_PREFIX}{self.name} {b64encode(self.key_id + self.signature)}\n"


def _signature_tuple(value: Iterable[NoteSignature]) -> tuple[NoteSignature, ...]:
    return tuple(value)


def _check_note_fields(
    instance: SignedNote, _attribute: object, _value: tuple[NoteSignature, ...]
) -> None:
    _check_text(instance.text)
    if not instance.signatures:
        raise NoteFormatError("a signed note needs at least one signature")
    if len(instance.signatures) > MAX_SIGNATURES:
        raise NoteFormatError(f"more than {MAX_SIGNATURES} signatures")


@attrs.frozen
class SignedNote:
    """A note text with its signature lines, in order. Parsing verifies nothing."""

    text: str
    signatures: tuple[NoteSignature, ...] = attrs.field(
        converter=_signature_tuple, validator=_check_note_fields
    )

    @classmethod
    def parse(cls, data: bytes) -> SignedNote:
        """Parse a signed note strictly (signed-note "Format"; Go ``note.Open`` steps 1-3)."""
        if len(data) > MAX_NOTE_BYTES:
            raise NoteFormatError(f"note is larger than {MAX_NOTE_BYTES} bytes")
        try:
            message = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise NoteFormatError(f"note is not UTF-8 (byte {e.start})") from e
        bad = _NOTE_CONTROL.search(message)
        if bad is not None:
            raise NoteFormatError(f"note contains control character {bad.group()!r}")
        # The text is separated from the signatures by the *last* empty line.
        split = message.rfind("\n\n")
        if split < 0:
            raise NoteFormatError("note has no blank line before its signatures")
        text, block = message[: split + 1], message[split + 2 :]
        if not block.endswith("\n"):
            raise NoteFormatError("note does not end with a signature line and a newline")
        lines = block[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise NoteFormatError(f"note has more than {MAX_SIGNATURES} signatures")
        return cls(text, tuple(NoteSignature.from_line(line) for line in lines))

    def to_bytes(self) -> bytes:
        """The note as written: text, blank line, signature lines."""
        lines = "".join(sig.to_line() for sig in self.signatures)
        return f"{self.text}\n{lines}".encode()

    def add_signatures(self, signers: Sequence[Signer]) -> SignedNote:
        """This note with new signatures by *signers* appended.

        As in Go's ``note.Sign``, an existing line with a signer's name and key ID is dropped
        (re-signing replaces, never duplicates).
        """
        if not signers:
            raise NoteFormatError("no signers given")
        message = self.text.encode("utf-8")
        fresh = [NoteSignature(s.name, s.key_id, s.sign(message)) for s in signers]
        replaced = {(s.name, s.key_id) for s in fresh}
        kept = [s for s in self.signatures if (s.name, s.key_id) not in replaced]
        return SignedNote(self.text, (*kept, *fresh))

    def verify(self, verifiers: Sequence[VerifierKey]) -> OpenedNote:
        """Check the signatures of the known keys, with Go ``note.Open``'s outcomes.

        signed-note "Signatures": a line whose key name and key ID (both) match a supplied
        key MUST be verified, and a failure rejects the whole note
        (:class:`InvalidSignatureError`); other lines are kept unverified. If no known key's
        signature verifies, the note is rejected (:class:`UnverifiedNoteError`).
        """
        known: dict[tuple[str, bytes], VerifierKey] = {}
        for v in verifiers:
            other = known.setdefault((v.name, v.id), v)
            if other != v:
                # Go's ambiguousVerifierError: someone controls the trusted key list.
                raise SignatureError(f"ambiguous verifier keys for {v.name}+{v.key_hash_hex}")
        message = self.text.encode("utf-8")
        verified: list[VerifierKey] = []
        unverified: list[NoteSignature] = []
        for sig in self.signatures:
            verifier = known.get((sig.name, sig.key_id))
            if verifier is None:
                unverified.append(sig)
                continue
            if not verifier.verify(message, sig.signature):
                raise InvalidSignatureError(sig.name, sig.key_id)
            if verifier not in verified:
                verified.append(verifier)
        if not verified:
            raise UnverifiedNoteError(self)
        return OpenedNote(self, tuple(verified), tuple(unverified))


@attrs.frozen
class OpenedNote:
    """A note whose signatures by :attr:`verified_by` verified (Go's ``note.Note``)."""

    note: SignedNote
    verified_by: tuple[VerifierKey, ...]
    unverified: tuple[NoteSignature, ...]

    @property
    def text(self) -> str:
        return self.note.text

    def is_signed_by(self, name: str) -> bool:
        """Whether a verified signature was made by a key named *name*."""
        return any(v.name == name for v in self.verified_by)


def sign_note(text: str, signers: Sequence[Signer]) -> bytes:
    """Sign *text* (which must end in a newline) with each signer; return the note bytes."""
    _check_text(text)
    if not signers:
        raise NoteFormatError("no signers given")
    message = text.encode("utf-8")
    sigs = tuple(NoteSignature(s.name, s.key_id, s.sign(message)) for s in signers)
    data = SignedNote(text, sigs).to_bytes()
    SignedNote.parse(data)  # never hand out a note that we (or Go) would refuse to open
    return data


def open_note(data: bytes, verifiers: Sequence[VerifierKey]) -> OpenedNote:
    """Parse *data* and verify it against *verifiers* (Go's ``note.Open``).

    Raises :class:`~orderarchive.errors.NoteFormatError` for malformed notes,
    :class:`InvalidSignatureError` when a known key's signature is bad and
    :class:`UnverifiedNoteError` (an :class:`~orderarchive.errors.UntrustedKeyError`) when no
    known key signed.
    """
    return SignedNote.parse(data).verify(verifiers)
