"""The one Ed25519 signature check (RFC 8032), and a signer for many signatures in a row.

Every signature the project verifies goes through :func:`ed25519_verify`: entry signatures
(:meth:`.entry.Entry.verify`), signed-note and cosignature lines (:meth:`.note.VerifierKey.verify`)
and minisign signatures (:func:`.minisign.verify`). It calls libsodium's ``crypto_sign_open``
on ``signature || message`` with the 32-byte public key, which is what a nacl ``VerifyKey``
does, without building (or caching) a ``VerifyKey`` object per key and call: building one
per entry was ~10% of ``verify``'s time, and the bytes of the public key are the only state
a verification needs. Pure: no I/O.
"""

from __future__ import annotations

import nacl.exceptions
from nacl.bindings import crypto_sign_open

ED25519_KEY_SIZE = 32
ED25519_SIGNATURE_SIZE = 64


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether *signature* is a valid Ed25519 signature of *message* by *public_key*.

    Never raises: a key or signature of the wrong length, or any libsodium failure, is
    "does not verify".
    """
    if len(signature) != ED25519_SIGNATURE_SIZE or len(public_key) != ED25519_KEY_SIZE:
        return False
    try:
        crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        return False
    return True
