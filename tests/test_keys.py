from __future__ import annotations

import os
import stat
from pathlib import Path

import nacl.pwhash
import pytest

from orderarchive.errors import KeyFileError, PassphraseError
from orderarchive.log import keys
from orderarchive.log.note import Signer

FAST = {
    "opslimit": nacl.pwhash.argon2id.OPSLIMIT_MIN,
    "memlimit": nacl.pwhash.argon2id.MEMLIMIT_MIN,
}


def test_generate_encrypted(tmp_path: Path) -> None:
    made = keys.generate(
        "example.gov/orders",
        keys_dir=tmp_path / "keys",
        secret_path=tmp_path / "secret" / "k.key",
        passphrase="correct horse",
        **FAST,
    )
    assert stat.S_IMODE(os.stat(made.secret_path).st_mode) == 0o600
    assert made.public_path.name == "example.gov_orders.vkey"
    text = made.secret_path.read_text()
    sealed = keys.read_secret_key(made.secret_path)
    signer = sealed.unlock("correct horse")
    assert signer.verifier() == made.verifier
    # the seed never appears in the file in the clear
    assert signer.seed.hex() not in text
    import base64

    assert base64.b64encode(signer.seed).decode() not in text
    with pytest.raises(PassphraseError):
        sealed.unlock("wrong")
    with pytest.raises(PassphraseError):
        sealed.unlock(None)
    assert keys.load_verifiers([tmp_path / "keys"]) == [made.verifier]


def test_default_cost_is_moderate(tmp_path: Path) -> None:
    sealed = keys.seal(Signer.generate("a.example/log"), "pw")
    assert sealed.encryption is not None
    assert sealed.encryption["memlimit"] == nacl.pwhash.argon2id.MEMLIMIT_MODERATE


def test_generate_unencrypted_and_no_overwrite(tmp_path: Path) -> None:
    made = keys.generate(
        "demo.example/log", keys_dir=tmp_path, secret_path=tmp_path / "d.key", passphrase=None
    )
    assert keys.read_secret_key(made.secret_path).unlock(None).verifier() == made.verifier
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        keys.generate(
            "demo.example/log", keys_dir=tmp_path, secret_path=tmp_path / "e.key", passphrase=None
        )


@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("empty", b""),
        ("not-json", b"hello\n"),
        ("wrong-format", b'{"format":"x"}\n'),
        ("huge", b"x" * 100_000),
        (
            "bad-base64",
            b'{"encryption":null,"format":"orderarchive-secret-key/v1","key_id":"00000000",'
            b'"name":"a","public_key":"!!","secret":"AAAA"}\n',
        ),
    ],
)
def test_malformed_secret_key(tmp_path: Path, case: str, data: bytes) -> None:
    path = tmp_path / "k.key"
    path.write_bytes(data)
    with pytest.raises(KeyFileError):
        keys.read_secret_key(path).unlock("pw")


def test_tampered_secret_key_detected(tmp_path: Path) -> None:
    signer = Signer.generate("a.example/log")
    sealed = keys.seal(signer, None)
    other = Signer.generate("a.example/log")
    swapped = keys.SecretKeyFile(sealed.name, sealed.key_id, sealed.public_key, other.seed, None)
    with pytest.raises(KeyFileError, match="does not match"):
        swapped.unlock(None)


def test_hostile_kdf_parameters_refused(tmp_path: Path) -> None:
    sealed = keys.seal(Signer.generate("a.example/log"), "pw", **FAST)
    assert sealed.encryption is not None
    evil = dict(sealed.encryption, memlimit=2**60)
    bad = keys.SecretKeyFile(sealed.name, sealed.key_id, sealed.public_key, sealed.secret, evil)
    with pytest.raises(KeyFileError, match="out of range"):
        bad.unlock("pw")


def test_load_verifiers_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not found"):
        keys.load_verifiers([tmp_path / "nope.vkey"])
    bad = tmp_path / "bad.vkey"
    bad.write_text("not a key\n")
    with pytest.raises(KeyFileError):
        keys.load_verifiers([bad])
    (tmp_path / "bin.vkey").write_bytes(b"\xff\xfe")
    with pytest.raises(KeyFileError):
        keys.load_verifiers([tmp_path / "bin.vkey"])
    literal = Signer.generate("x.example/log").verifier().to_string()
    assert keys.load_verifiers([literal])[0].to_string() == literal
