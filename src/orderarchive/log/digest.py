"""SHA-256 digests as a value type, not hand-formatted hex strings.

A :class:`Digest` holds the 32 raw bytes; it prints as ``sha256:<hex>`` (as sigstore's
``Hashed`` does), gives the bare lower-case hex the entry format stores with :meth:`hex`, and is
parsed back with :meth:`from_hex` or :meth:`parse`, which refuse anything that is not exactly
64 lower-case hex digits (optionally after ``sha256:``). Equality compares in constant time
(``hmac.compare_digest``), so a check written ``actual == expected`` leaks no timing about
where two digests differ. The on-disk bytes are unchanged: entries keep bare hex.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import attrs

from ..errors import MalformedError

__all__ = ["Digest"]

SIZE = 32
PREFIX = "sha256:"
_HEX = re.compile(r"[0-9a-f]{64}")


def _thirty_two_bytes(_: object, __: object, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != SIZE:
        raise MalformedError(f"a SHA-256 digest is {SIZE} bytes")


@attrs.frozen(eq=False)
class Digest:
    """A SHA-256 digest: :meth:`of` some bytes, or :meth:`from_hex` / :meth:`parse` text."""

    raw: bytes = attrs.field(validator=_thirty_two_bytes, repr=False)

    @classmethod
    def of(cls, data: bytes) -> Digest:
        """The SHA-256 digest of *data*."""
        return cls(hashlib.sha256(data).digest())

    @classmethod
    def from_hex(cls, text: str, what: str = "digest") -> Digest:
        """Parse 64 lower-case hex digits; anything else raises :class:`MalformedError`."""
        if not isinstance(text, str) or _HEX.fullmatch(text) is None:
            raise MalformedError(f"{what}: a SHA-256 digest is 64 lower-case hex digits")
        return cls(bytes.fromhex(text))

    @classmethod
    def parse(cls, text: str, what: str = "digest") -> Digest:
        """Parse ``sha256:<64 hex>`` (the form :func:`str` gives); the prefix is required."""
        if not isinstance(text, str) or not text.startswith(PREFIX):
            raise MalformedError(f"{what}: expected 'sha256:' and 64 lower-case hex digits")
        return cls.from_hex(text[len(PREFIX):], what)

    def hex(self) -> str:
        """The 64 lower-case hex digits (the form entries and JSON output carry)."""
        return self.raw.hex()

    def __str__(self) -> str:
        return PREFIX + self.raw.hex()

    def __repr__(self) -> str:
        return f"Digest({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Digest):
            return NotImplemented
        return hmac.compare_digest(self.raw, other.raw)

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(self.raw)
