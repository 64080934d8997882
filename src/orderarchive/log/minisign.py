"""minisign public keys and prehashed (``ED``) signatures, so stock tools verify our files.

``minisign -Vm FILE -p KEY.pub`` (jedisct1/minisign; Debian's ``minisign``) accepts what this
module writes. The formats, from minisign's ``minisign.h`` and ``minisign.c``:

* public key file: ``untrusted comment: <text>\\n`` then
  ``base64("Ed" || key_id[8] || ed25519_public_key[32])\\n``;
* signature file (``.minisig``)::

      untrusted comment: <text>
      base64("ED" || key_id[8] || ed25519_sig(BLAKE2b-512(file))[64])
      trusted comment: <text>
      base64(ed25519_sig(signature[64] || trusted_comment_bytes))

  ``ED`` means the file is prehashed with unkeyed BLAKE2b-512 (libsodium's
  ``crypto_generichash`` with 64-byte output), which lets large files be signed in a stream.
  The global signature binds the trusted comment to the file signature, so a trusted comment
  cannot be moved or edited.

The key ID is 8 opaque bytes; minisign prints it as the little-endian 64-bit number in
upper-case hex. orderarchive derives it from the Ed25519 public key (:func:`key_id_for`) so
that one key always has one minisign key ID.

Legacy ``Ed`` signatures (the whole file signed directly) are refused on verification:
orderarchive never writes them, and accepting two algorithms for one key invites confusion.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable

import attrs
import nacl.exceptions
import nacl.signing

from ..errors import MinisignFormatError as MinisignFormatError  # noqa: PLC0414 (defined in errors.py)
from ..errors import SignatureError
from .note import b64encode
from .signing import ed25519_verify

__all__ = [
    "DEFAULT_UNTRUSTED_COMMENT",
    "MAX_TRUSTED_COMMENT_BYTES",
    "MAX_UNTRUSTED_COMMENT_BYTES",
    "MinisignFormatError",
    "MinisignPublicKey",
    "MinisignSignature",
    "Prehash",
    "key_id_for",
    "public_key_file",
    "sign_prehashed",
    "verify",
]

KEY_ID_SIZE = 8
PUBLIC_KEY_SIZE = 32
SEED_SIZE = 32
SIGNATURE_SIZE = 64
DIGEST_SIZE = 64  # crypto_generichash_BYTES_MAX

ALG_PUBLIC_KEY = b"Ed"
ALG_PREHASHED = b"ED"
ALG_LEGACY = b"Ed"

_UNTRUSTED_PREFIX = "untrusted comment: "
_TRUSTED_PREFIX = "trusted comment: "
# minisign reads each comment line with fgets() into a fixed buffer (COMMENTMAXBYTES = 1024,
# TRUSTEDCOMMENTMAXBYTES = 8192) that also holds the prefix, the newline and a NUL; a longer
# line spills into the next read and the file no longer parses.
MAX_UNTRUSTED_COMMENT_BYTES = 1024 - len(_UNTRUSTED_PREFIX) - 2
MAX_TRUSTED_COMMENT_BYTES = 8192 - len(_TRUSTED_PREFIX) - 2

DEFAULT_UNTRUSTED_COMMENT = "signature from orderarchive"

#: Domain string of :func:`key_id_for`; changing it changes every published key ID.
KEY_ID_DOMAIN = b"orderarchive minisign key id v1\n"

# minisign's trim() cuts a line at any CR or LF and C strings end at NUL; other control
# characters would reach the terminal when minisign prints the trusted comment. Tab stays
# allowed: minisign's own default trusted comment contains one.
_BAD_COMMENT_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_MAX_FILE_BYTES = 16384


def _b64decode(text: str, what: str, size: int) -> bytes:
    """Strict standard base64 (libsodium ``sodium_base64_VARIANT_ORIGINAL``) of *size* bytes."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as e:
        raise MinisignFormatError(f"{what}: malformed base64") from e
    if base64.b64encode(raw).decode("ascii") != text:
        raise MinisignFormatError(f"{what}: base64 is not in canonical form")
    if len(raw) != size:
        raise MinisignFormatError(f"{what}: {len(raw)} bytes, expected {size}")
    return raw


def _check_comment(comment: str, what: str, limit: int) -> None:
    bad = _BAD_COMMENT_CHARS.search(comment)
    if bad is not None:
        raise MinisignFormatError(f"{what} contains control character {bad.group()!r}")
    try:
        size = len(comment.encode("utf-8"))
    except UnicodeEncodeError as e:
        raise MinisignFormatError(f"{what} is not valid Unicode") from e
    if size > limit:
        raise MinisignFormatError(f"{what} is {size} bytes, more than minisign reads ({limit})")


def _lines(data: str | bytes, count: int, what: str) -> list[str]:
    """Split a minisign file into exactly *count* newline-terminated lines (no CR)."""
    if len(data) > _MAX_FILE_BYTES:
        raise MinisignFormatError(f"{what} is too large")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MinisignFormatError(f"{what} is not UTF-8 (byte {e.start})") from e
    else:
        text = data
    if not text.endswith("\n"):
        raise MinisignFormatError(f"{what} does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) != count:
        raise MinisignFormatError(f"{what} has {len(lines)} lines, expected {count}")
    return lines


def _comment(line: str, prefix: str, what: str, limit: int) -> str:
    if not line.startswith(prefix):
        raise MinisignFormatError(f"{what} line does not start with {prefix!r}")
    comment = line[len(prefix) :]
    _check_comment(comment, what, limit)
    return comment


def key_id_for(public_key: bytes) -> bytes:
    """The minisign key ID orderarchive uses for an Ed25519 public key.

    Rule: the first 8 bytes of SHA-256(``"orderarchive minisign key id v1\\n"`` || public key).
    minisign itself picks key IDs at random; any 8 bytes work, and deriving them keeps the
    ID stable across re-exports of the same key.
    """
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise MinisignFormatError(f"Ed25519 public key has {len(public_key)} bytes, not 32")
    return hashlib.sha256(KEY_ID_DOMAIN + public_key).digest()[:KEY_ID_SIZE]


def key_id_hex(key_id: bytes) -> str:
    """The key ID as minisign prints it: little-endian uint64, upper-case hex."""
    return f"{int.from_bytes(key_id, 'little'):X}"


@attrs.frozen
class Prehash:
    """The BLAKE2b-512 digest of a file: what an ``ED`` signature signs."""

    digest: bytes = attrs.field()

    @digest.validator
    def _check(self, _attribute: object, value: bytes) -> None:
        if len(value) != DIGEST_SIZE:
            raise MinisignFormatError(f"BLAKE2b-512 digest has {len(value)} bytes, not 64")

    @classmethod
    def of(cls, data: bytes) -> Prehash:
        return cls(hashlib.blake2b(data, digest_size=DIGEST_SIZE).digest())

    @classmethod
    def of_chunks(cls, chunks: Iterable[bytes]) -> Prehash:
        """Hash a stream (for example a large file read in blocks) without holding it."""
        h = hashlib.blake2b(digest_size=DIGEST_SIZE)
        for chunk in chunks:
            h.update(chunk)
        return cls(h.digest())


@attrs.frozen
class MinisignPublicKey:
    """A minisign public key: key ID, Ed25519 public key and the file's untrusted comment."""

    key_id: bytes
    public_key: bytes
    comment: str = attrs.field()

    @comment.validator
    def _check(self, _attribute: object, value: str) -> None:
        if len(self.key_id) != KEY_ID_SIZE:
            raise MinisignFormatError(f"key ID has {len(self.key_id)} bytes, not 8")
        if len(self.public_key) != PUBLIC_KEY_SIZE:
            raise MinisignFormatError(f"public key has {len(self.public_key)} bytes, not 32")
        _check_comment(value, "untrusted comment", MAX_UNTRUSTED_COMMENT_BYTES)

    @classmethod
    def parse(cls, text: str | bytes) -> MinisignPublicKey:
        """Parse a ``minisign.pub`` file strictly."""
        comment_line, key_line = _lines(text, 2, "public key file")
        comment = _comment(
            comment_line, _UNTRUSTED_PREFIX, "untrusted comment", MAX_UNTRUSTED_COMMENT_BYTES
        )
        raw = _b64decode(key_line, "public key", 2 + KEY_ID_SIZE + PUBLIC_KEY_SIZE)
        if raw[:2] != ALG_PUBLIC_KEY:
            raise MinisignFormatError(f"unsupported public key algorithm {raw[:2]!r}")
        return cls(raw[2 : 2 + KEY_ID_SIZE], raw[2 + KEY_ID_SIZE :], comment)

    def to_text(self) -> str:
        data = b64encode(ALG_PUBLIC_KEY + self.key_id + self.public_key)
        return f"{_UNTRUSTED_PREFIX}{self.comment}\n{data}\n"


@attrs.frozen
class MinisignSignature:
    """A parsed ``.minisig`` file (not yet verified)."""

    algorithm: bytes
    key_id: bytes
    signature: bytes
    trusted_comment: str
    global_signature: bytes
    untrusted_comment: str = attrs.field()

    @untrusted_comment.validator
    def _check(self, _attribute: object, value: str) -> None:
        if self.algorithm not in (ALG_PREHASHED, ALG_LEGACY):
            raise MinisignFormatError(f"unknown signature algorithm {self.algorithm!r}")
        if len(self.key_id) != KEY_ID_SIZE:
            raise MinisignFormatError(f"key ID has {len(self.key_id)} bytes, not 8")
        if len(self.signature) != SIGNATURE_SIZE or len(self.global_signature) != SIGNATURE_SIZE:
            raise MinisignFormatError("Ed25519 signatures have 64 bytes")
        _check_comment(self.trusted_comment, "trusted comment", MAX_TRUSTED_COMMENT_BYTES)
        _check_comment(value, "untrusted comment", MAX_UNTRUSTED_COMMENT_BYTES)

    @classmethod
    def parse(cls, text: str | bytes) -> MinisignSignature:
        """Parse a ``.minisig`` file strictly: four LF-terminated lines, canonical base64."""
        untrusted_line, sig_line, trusted_line, global_line = _lines(text, 4, "signature file")
        untrusted = _comment(
            untrusted_line, _UNTRUSTED_PREFIX, "untrusted comment", MAX_UNTRUSTED_COMMENT_BYTES
        )
        raw = _b64decode(sig_line, "signature", 2 + KEY_ID_SIZE + SIGNATURE_SIZE)
        trusted = _comment(
            trusted_line, _TRUSTED_PREFIX, "trusted comment", MAX_TRUSTED_COMMENT_BYTES
        )
        global_sig = _b64decode(global_line, "global signature", SIGNATURE_SIZE)
        return cls(
            raw[:2],
            raw[2 : 2 + KEY_ID_SIZE],
            raw[2 + KEY_ID_SIZE :],
            trusted,
            global_sig,
            untrusted,
        )

    def to_text(self) -> str:
        return (
            f"{_UNTRUSTED_PREFIX}{self.untrusted_comment}\n"
            f"{b64encode(self.algorithm + self.key_id + self.signature)}\n"
            f"{_TRUSTED_PREFIX}{self.trusted_comment}\n"
            f"{b64encode(self.global_signature)}\n"
        )

    def global_message(self) -> bytes:
        """What the global signature signs: the file signature, then the trusted comment."""
        return self.signature + self.trusted_comment.encode("utf-8")


def public_key_file(pub: bytes, key_id: bytes, comment: str | None = None) -> str:
    """A ``minisign.pub`` file for *pub*; the default comment is minisign's own wording."""
    if comment is None:
        comment = f"minisign public key {key_id_hex(key_id)}"
    return MinisignPublicKey(key_id, pub, comment).to_text()


def sign_prehashed(
    signer_seed: bytes,
    key_id: bytes,
    prehash: Prehash,
    *,
    trusted_comment: str,
    untrusted_comment: str = DEFAULT_UNTRUSTED_COMMENT,
) -> str:
    """A ``.minisig`` (algorithm ``ED``) for the file whose BLAKE2b-512 is *prehash*."""
    if len(signer_seed) != SEED_SIZE:
        raise MinisignFormatError(f"Ed25519 seed has {len(signer_seed)} bytes, not 32")
    _check_comment(trusted_comment, "trusted comment", MAX_TRUSTED_COMMENT_BYTES)
    key = nacl.signing.SigningKey(signer_seed)
    signature = key.sign(prehash.digest).signature
    global_signature = key.sign(signature + trusted_comment.encode("utf-8")).signature
    sig = MinisignSignature(
        ALG_PREHASHED, key_id, signature, trusted_comment, global_signature, untrusted_comment
    )
    return sig.to_text()


def verify(
    signature_file: str | bytes, public_key: str | bytes | MinisignPublicKey, prehash: Prehash
) -> MinisignSignature:
    """Verify a ``.minisig`` over the file with digest *prehash*; return the signature.

    Same checks, in the same order, as ``minisign -V``: algorithm, key ID, file signature,
    then the global signature over the trusted comment. Only the trusted comment of the
    returned object is authenticated.
    """
    pk = (
        public_key
        if isinstance(public_key, MinisignPublicKey)
        else (MinisignPublicKey.parse(public_key))
    )
    sig = MinisignSignature.parse(signature_file)
    if sig.algorithm != ALG_PREHASHED:
        raise SignatureError("legacy (non-prehashed) minisign signatures are not accepted")
    if not hmac.compare_digest(sig.key_id, pk.key_id):
        raise SignatureError(
            f"signature key ID {key_id_hex(sig.key_id)} is not the public key's "
            f"{key_id_hex(pk.key_id)}"
        )
    if not ed25519_verify(pk.public_key, prehash.digest, sig.signature):
        raise SignatureError("minisign signature verification failed")
    if not ed25519_verify(pk.public_key, sig.global_message(), sig.global_signature):
        raise SignatureError("minisign trusted comment signature verification failed")
    return sig
