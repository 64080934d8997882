"""Regenerates cosigned.note (and prints the vkeys) in the current directory.

The shared notes' cosig_vector.py, reformatted for the linter; same bytes. It uses Python's
`cryptography` package (not a dependency of orderarchive), independently of orderarchive.
"""

import base64
import hashlib
import struct
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def keypair(seed: bytes) -> tuple[Ed25519PrivateKey, bytes]:
    sk = Ed25519PrivateKey.from_private_bytes(seed)
    pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sk, pk


def keyid(name: str, typ: int, pk: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([typ]) + pk).digest()[:4]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


lsk, lpk = keypair(bytes([0x11]) + bytes(31))
origin = "example.com/orderarchive"
text = f"{origin}\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n".encode()
logline = f"— {origin} " + b64(keyid(origin, 1, lpk) + lsk.sign(text))
wname = "witness.example.org/w1"
wsk, wpk = keypair(bytes([0x22]) + bytes(31))
T = 1770336000
msg = b"cosignature/v1\ntime " + str(T).encode() + b"\n" + text
cosline = f"— {wname} " + b64(keyid(wname, 4, wpk) + struct.pack(">Q", T) + wsk.sign(msg))
print("witness vkey:", f"{wname}+{keyid(wname, 4, wpk).hex()}+" + b64(b"\x04" + wpk))
print("log vkey:", f"{origin}+{keyid(origin, 1, lpk).hex()}+" + b64(b"\x01" + lpk))
Path("cosigned.note").write_text(text.decode() + "\n" + logline + "\n" + cosline + "\n")
