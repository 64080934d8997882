"""The Digest value type: SHA-256 bytes, validated parsing, constant-time equality."""

from __future__ import annotations

import hashlib

import pytest

from orderarchive.errors import MalformedError
from orderarchive.log.digest import Digest

HEX = hashlib.sha256(b"order").hexdigest()


def test_of_hex_and_str() -> None:
    d = Digest.of(b"order")
    assert d.raw == hashlib.sha256(b"order").digest()
    assert d.hex() == HEX
    assert str(d) == f"sha256:{HEX}"
    assert Digest.from_hex(HEX) == d
    assert Digest.parse(f"sha256:{HEX}") == d
    assert hash(Digest.from_hex(HEX)) == hash(d)


def test_equality() -> None:
    assert Digest.of(b"a") != Digest.of(b"b")
    assert Digest.of(b"a") != Digest.of(b"a").hex()  # never equal to its hex string
    assert {Digest.of(b"a"), Digest.from_hex(Digest.of(b"a").hex())} == {Digest.of(b"a")}


@pytest.mark.parametrize("bad", [
    "", HEX[:-1], HEX + "0", HEX.upper(), " " + HEX, HEX[:-1] + "g", f"sha256:{HEX}",
    "\u0660" * 64,
])
def test_from_hex_refuses(bad: str) -> None:
    with pytest.raises(MalformedError):
        Digest.from_hex(bad)


@pytest.mark.parametrize("bad", [HEX, f"SHA256:{HEX}", f"sha256:{HEX[:-1]}", "sha256:"])
def test_parse_refuses(bad: str) -> None:
    with pytest.raises(MalformedError):
        Digest.parse(bad)


@pytest.mark.parametrize("raw", [b"", b"\x00" * 31, b"\x00" * 33])
def test_raw_must_be_32_bytes(raw: bytes) -> None:
    with pytest.raises(MalformedError):
        Digest(raw)
