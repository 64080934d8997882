"""minisign formats, checked against the real ``minisign`` binary (Debian's package)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderarchive.errors import MalformedError, SignatureError
from orderarchive.log.minisign import (
    KEY_ID_DOMAIN,
    MAX_TRUSTED_COMMENT_BYTES,
    MAX_UNTRUSTED_COMMENT_BYTES,
    MinisignFormatError,
    MinisignPublicKey,
    MinisignSignature,
    Prehash,
    key_id_for,
    key_id_hex,
    public_key_file,
    sign_prehashed,
    verify,
)
from orderarchive.log.note import Signer

SEED = bytes(range(32))
PUB = Signer("example.com/minisign-test", SEED).public_key
KEY_ID = key_id_for(PUB)
FILE = b"Executive Order 14000\n\nSection 1. Purpose.\n"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(cwd)}  # never touch the real ~/.minisign
    return subprocess.run(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _write_signed(tmp: Path, data: bytes, trusted: str, **kw: str) -> tuple[Path, Path, Path]:
    message = tmp / "order.pdf"
    message.write_bytes(data)
    pub = tmp / "key.pub"
    pub.write_text(public_key_file(PUB, KEY_ID), "utf-8")
    sig = tmp / "order.pdf.minisig"
    sig.write_text(
        sign_prehashed(SEED, KEY_ID, Prehash.of(data), trusted_comment=trusted, **kw), "utf-8"
    )
    return message, pub, sig


# -- our signatures, stock verifier ------------------------------------------------------------


def test_stock_minisign_verifies_our_signature(minisign_bin: str, tmp_path: Path) -> None:
    trusted = "timestamp:1700000000\tfile:order.pdf\tsha256:" + hashlib.sha256(FILE).hexdigest()
    _write_signed(tmp_path, FILE, trusted)
    result = _run([minisign_bin, "-Vm", "order.pdf", "-p", "key.pub"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"Trusted comment: {trusted}" in result.stdout
    # -H: minisign insists on a prehashed (ED) signature, which is what we write.
    result = _run([minisign_bin, "-V", "-H", "-m", "order.pdf", "-p", "key.pub"], tmp_path)
    assert result.returncode == 0, result.stderr
    # -P: the key given inline, as minisign prints it.
    inline = public_key_file(PUB, KEY_ID).splitlines()[1]
    result = _run([minisign_bin, "-Vm", "order.pdf", "-P", inline, "-Q"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == trusted + "\n"


def test_stock_minisign_rejects_tampered_file(minisign_bin: str, tmp_path: Path) -> None:
    message, _, _ = _write_signed(tmp_path, FILE, "t")
    message.write_bytes(FILE.replace(b"14000", b"14001"))
    result = _run([minisign_bin, "-Vm", "order.pdf", "-p", "key.pub"], tmp_path)
    assert result.returncode != 0
    assert "Signature verification failed" in result.stderr


def test_stock_minisign_rejects_tampered_trusted_comment(minisign_bin: str, tmp_path: Path) -> None:
    _, _, sig = _write_signed(tmp_path, FILE, "release 2024-01-01")
    sig.write_text(sig.read_text("utf-8").replace("2024-01-01", "2025-01-01"), "utf-8")
    result = _run([minisign_bin, "-Vm", "order.pdf", "-p", "key.pub"], tmp_path)
    assert result.returncode != 0
    assert "Comment signature verification failed" in result.stderr
    with pytest.raises(SignatureError):
        verify(sig.read_text("utf-8"), public_key_file(PUB, KEY_ID), Prehash.of(FILE))


def test_stock_minisign_rejects_other_key(minisign_bin: str, tmp_path: Path) -> None:
    _write_signed(tmp_path, FILE, "t")
    other = Signer("x", b"\x07" * 32).public_key
    (tmp_path / "key.pub").write_text(public_key_file(other, KEY_ID), "utf-8")
    result = _run([minisign_bin, "-Vm", "order.pdf", "-p", "key.pub"], tmp_path)
    assert result.returncode != 0


def test_comment_limits_match_minisign(minisign_bin: str, tmp_path: Path) -> None:
    # The longest comments our writer allows are exactly the longest minisign reads back.
    trusted = "t" * MAX_TRUSTED_COMMENT_BYTES
    untrusted = "u" * MAX_UNTRUSTED_COMMENT_BYTES
    _write_signed(tmp_path, FILE, trusted, untrusted_comment=untrusted)
    (tmp_path / "key.pub").write_text(public_key_file(PUB, KEY_ID, untrusted), "utf-8")
    result = _run([minisign_bin, "-Vm", "order.pdf", "-p", "key.pub", "-Q"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == trusted + "\n"
    with pytest.raises(MinisignFormatError):
        sign_prehashed(SEED, KEY_ID, Prehash.of(FILE), trusted_comment=trusted + "t")
    with pytest.raises(MinisignFormatError):
        public_key_file(PUB, KEY_ID, untrusted + "u")


def test_large_file_streamed(minisign_bin: str, tmp_path: Path) -> None:
    block = hashlib.sha256(b"block").digest() * 2048  # 64 KiB
    chunks = [block] * 80  # 5 MiB
    prehash = Prehash.of_chunks(iter(chunks))
    assert prehash == Prehash.of(b"".join(chunks))
    (tmp_path / "big.bin").write_bytes(b"".join(chunks))
    (tmp_path / "key.pub").write_text(public_key_file(PUB, KEY_ID), "utf-8")
    (tmp_path / "big.bin.minisig").write_text(
        sign_prehashed(SEED, KEY_ID, prehash, trusted_comment="big"), "utf-8"
    )
    result = _run([minisign_bin, "-Vm", "big.bin", "-p", "key.pub"], tmp_path)
    assert result.returncode == 0, result.stderr


def test_unicode_trusted_comment(minisign_bin: str, tmp_path: Path) -> None:
    trusted = "Décret n° 2024-1 — «Ordonnance»"
    _write_signed(tmp_path, FILE, trusted)
    result = _run([minisign_bin, "-Vm", "order.pdf", "-p", "key.pub", "-Q"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == trusted + "\n"


# -- stock signatures, our verifier ------------------------------------------------------------


@pytest.fixture
def stock_key(minisign_bin: str, tmp_path: Path) -> Path:
    result = _run([minisign_bin, "-G", "-W", "-p", "stock.pub", "-s", "stock.key"], tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_our_verifier_accepts_stock_signatures(minisign_bin: str, stock_key: Path) -> None:
    (stock_key / "f.txt").write_bytes(FILE)
    trusted = "signed by stock minisign"
    result = _run([minisign_bin, "-S", "-s", "stock.key", "-m", "f.txt", "-t", trusted], stock_key)
    assert result.returncode == 0, result.stderr
    pub_text = (stock_key / "stock.pub").read_text("utf-8")
    sig_text = (stock_key / "f.txt.minisig").read_text("utf-8")
    pk = MinisignPublicKey.parse(pub_text)
    assert pk.comment == f"minisign public key {key_id_hex(pk.key_id)}"
    assert pk.to_text() == pub_text
    sig = verify(sig_text, pub_text, Prehash.of(FILE))
    assert sig.trusted_comment == trusted
    assert sig.to_text() == sig_text
    # Bytes in, as read from disk, work the same.
    assert verify(sig_text.encode(), pub_text.encode(), Prehash.of(FILE)) == sig
    with pytest.raises(SignatureError):
        verify(sig_text, pub_text, Prehash.of(FILE + b" "))


def test_our_verifier_refuses_legacy_signatures(minisign_bin: str, stock_key: Path) -> None:
    (stock_key / "f.txt").write_bytes(FILE)
    result = _run([minisign_bin, "-S", "-l", "-s", "stock.key", "-m", "f.txt"], stock_key)
    assert result.returncode == 0, result.stderr
    sig_text = (stock_key / "f.txt.minisig").read_text("utf-8")
    assert MinisignSignature.parse(sig_text).algorithm == b"Ed"
    with pytest.raises(SignatureError, match="legacy"):
        verify(sig_text, (stock_key / "stock.pub").read_text("utf-8"), Prehash.of(FILE))


def test_our_verifier_refuses_stock_signature_under_our_key(
    minisign_bin: str, stock_key: Path
) -> None:
    (stock_key / "f.txt").write_bytes(FILE)
    _run([minisign_bin, "-S", "-s", "stock.key", "-m", "f.txt"], stock_key)
    sig_text = (stock_key / "f.txt.minisig").read_text("utf-8")
    with pytest.raises(SignatureError, match="key ID"):
        verify(sig_text, public_key_file(PUB, KEY_ID), Prehash.of(FILE))


# -- pure checks -------------------------------------------------------------------------------

PUB_TEXT = public_key_file(PUB, KEY_ID)
SIG_TEXT = sign_prehashed(
    SEED, KEY_ID, Prehash.of(FILE), trusted_comment="tc", untrusted_comment="uc"
)


def test_key_id_rule() -> None:
    assert hashlib.sha256(b"orderarchive minisign key id v1\n" + PUB).digest()[:8] == KEY_ID
    assert KEY_ID_DOMAIN == b"orderarchive minisign key id v1\n"
    assert PUB_TEXT.startswith(f"untrusted comment: minisign public key {key_id_hex(KEY_ID)}\n")
    raw = base64.b64decode(PUB_TEXT.splitlines()[1])
    assert raw == b"Ed" + KEY_ID + PUB
    with pytest.raises(MinisignFormatError):
        key_id_for(PUB[:-1])


def test_key_id_hex_is_little_endian() -> None:
    assert key_id_hex(bytes.fromhex("4dfba618a1ee1d10")) == "101DEEA118A6FB4D"


def test_signature_layout() -> None:
    lines = SIG_TEXT.split("\n")
    assert lines[0] == "untrusted comment: uc"
    assert lines[2] == "trusted comment: tc"
    assert lines[4] == ""
    raw = base64.b64decode(lines[1])
    assert raw[:2] == b"ED"
    assert raw[2:10] == KEY_ID
    sig = verify(SIG_TEXT, PUB_TEXT, Prehash.of(FILE))
    assert sig.global_message() == raw[10:] + b"tc"


def _replace_line(text: str, index: int, line: str) -> str:
    lines = text.split("\n")
    lines[index] = line
    return "\n".join(lines)


def _b64_line(text: str, index: int, transform: object) -> str:
    raw = base64.b64decode(text.split("\n")[index])
    assert callable(transform)
    return _replace_line(text, index, base64.b64encode(transform(raw)).decode())


@pytest.mark.parametrize(
    "sig_text",
    [
        pytest.param("", id="empty"),
        pytest.param(SIG_TEXT[:-1], id="missing-final-newline"),
        pytest.param(SIG_TEXT + "\n", id="extra-blank-line"),
        pytest.param(SIG_TEXT + "untrusted comment: x\n", id="extra-line"),
        pytest.param(SIG_TEXT.replace("\n", "\r\n"), id="crlf"),
        pytest.param(SIG_TEXT.replace("untrusted comment: ", "untrusted comment:"), id="prefix"),
        pytest.param(SIG_TEXT.replace("trusted comment: tc", "trusted comment tc"), id="tprefix"),
        pytest.param(SIG_TEXT.replace("trusted comment: tc", "trusted comment: t\rc"), id="cr"),
        pytest.param(SIG_TEXT.replace("trusted comment: tc", "trusted comment: t\0c"), id="nul"),
        pytest.param(SIG_TEXT.replace("trusted comment: tc", "trusted comment: \x1b[2J"), id="esc"),
        pytest.param(
            SIG_TEXT.replace("untrusted comment: uc", "untrusted comment: \x7f"), id="del"
        ),
        pytest.param(_b64_line(SIG_TEXT, 1, lambda r: b"Xx" + r[2:]), id="unknown-algorithm"),
        pytest.param(_b64_line(SIG_TEXT, 1, lambda r: r[:-1]), id="short-signature"),
        pytest.param(_b64_line(SIG_TEXT, 1, lambda r: r + b"x"), id="long-signature"),
        pytest.param(_b64_line(SIG_TEXT, 3, lambda r: r[:-1]), id="short-global-signature"),
        pytest.param(_replace_line(SIG_TEXT, 1, "!!!!"), id="bad-base64"),
        pytest.param(_replace_line(SIG_TEXT, 3, SIG_TEXT.split("\n")[3][:-2]), id="unpadded"),
        pytest.param(
            _replace_line(SIG_TEXT, 3, SIG_TEXT.split("\n")[3][:-3] + "B=="), id="non-canonical"
        ),
        pytest.param("x" * 20000, id="huge"),
    ],
)
def test_malformed_signature_file(sig_text: str) -> None:
    with pytest.raises(MinisignFormatError):
        verify(sig_text, PUB_TEXT, Prehash.of(FILE))


@pytest.mark.parametrize(
    "pub_text",
    [
        pytest.param("", id="empty"),
        pytest.param(PUB_TEXT.splitlines()[1] + "\n", id="no-comment"),
        pytest.param(PUB_TEXT + "\n", id="extra-line"),
        pytest.param(PUB_TEXT.replace("\n", "\r\n"), id="crlf"),
        pytest.param(_b64_line(PUB_TEXT, 1, lambda r: b"ED" + r[2:]) + "\n", id="wrong-alg"),
        pytest.param(_b64_line(PUB_TEXT, 1, lambda r: r[:-1]) + "\n", id="short-key"),
        pytest.param(b"untrusted comment: \xff\n", id="not-utf8"),
    ],
)
def test_malformed_public_key_file(pub_text: str | bytes) -> None:
    with pytest.raises(MinisignFormatError):
        verify(SIG_TEXT, pub_text, Prehash.of(FILE))


def test_wrong_key_id_is_a_signature_error() -> None:
    other = public_key_file(PUB, b"\x00" * 8)
    with pytest.raises(SignatureError, match="key ID"):
        verify(SIG_TEXT, other, Prehash.of(FILE))


@pytest.mark.parametrize(
    ("line", "pos"),
    [
        pytest.param(1, 2, id="key-id-bit-flip"),
        pytest.param(1, 10, id="signature-first-byte-bit-flip"),
        pytest.param(1, 73, id="signature-last-byte-bit-flip"),
        pytest.param(3, 0, id="global-signature-first-byte-bit-flip"),
        pytest.param(3, 63, id="global-signature-last-byte-bit-flip"),
    ],
)
def test_signature_bit_flip(line: int, pos: int) -> None:
    def flip(raw: bytes) -> bytes:
        return raw[:pos] + bytes([raw[pos] ^ 1]) + raw[pos + 1 :]

    with pytest.raises(SignatureError):
        verify(_b64_line(SIG_TEXT, line, flip), PUB_TEXT, Prehash.of(FILE))


def test_value_checks() -> None:
    with pytest.raises(MinisignFormatError):
        Prehash(b"\x00" * 63)
    with pytest.raises(MinisignFormatError):
        sign_prehashed(SEED[:-1], KEY_ID, Prehash.of(FILE), trusted_comment="t")
    with pytest.raises(MinisignFormatError):
        sign_prehashed(SEED, KEY_ID, Prehash.of(FILE), trusted_comment="a\nb")
    with pytest.raises(MinisignFormatError):
        sign_prehashed(SEED, KEY_ID[:7], Prehash.of(FILE), trusted_comment="t")
    with pytest.raises(MinisignFormatError):
        public_key_file(PUB[:31], KEY_ID)
    assert issubclass(MinisignFormatError, MalformedError)


_COMMENT = st.text(
    st.characters(
        codec="utf-8",
        exclude_characters=[chr(c) for c in range(32) if c != 9] + ["\x7f"],
    ),
    max_size=200,
)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=2000), trusted=_COMMENT, untrusted=_COMMENT)
def test_sign_verify_round_trip(data: bytes, trusted: str, untrusted: str) -> None:
    text = sign_prehashed(
        SEED, KEY_ID, Prehash.of(data), trusted_comment=trusted, untrusted_comment=untrusted
    )
    sig = verify(text, PUB_TEXT, Prehash.of(data))
    assert sig.trusted_comment == trusted
    assert sig.untrusted_comment == untrusted
    assert MinisignSignature.parse(text).to_text() == text


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_arbitrary_input_raises_only_library_errors(data: bytes) -> None:
    for sig_text in (data, b"untrusted comment: x\n" + data):
        with contextlib.suppress(MinisignFormatError, SignatureError):
            verify(sig_text, PUB_TEXT, Prehash.of(FILE))
