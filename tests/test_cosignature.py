"""c2sp.org/tlog-cosignature: the 0x04 bytes, byte-exact against the vector in
tests/data/vectors/tlog-cosignature (accepted by Go's note.Open), and witness policies."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from conftest import DATA
from orderarchive.errors import NoteFormatError, SignatureError, UntrustedKeyError
from orderarchive.log.cosignature import (
    MAX_FUTURE_SKEW,
    Cosigner,
    TooFewCosignaturesError,
    WitnessPolicy,
    add_cosignatures,
    open_cosigned,
)
from orderarchive.log.note import ALG_ED25519, SignedNote, Signer, VerifierKey, sign_note

VEC = DATA / "vectors" / "tlog-cosignature"
T = 1770336000


def _vector() -> tuple[bytes, VerifierKey, VerifierKey]:
    note = (VEC / "cosigned.note").read_bytes()
    log = VerifierKey.parse((VEC / "log.vkey").read_text().strip())
    wit = VerifierKey.parse((VEC / "witness.vkey").read_text().strip())
    return note, log, wit


def _policy(*keys: VerifierKey, quorum: int | None = None) -> WitnessPolicy:
    lines = [f"witness {k}" for k in keys]
    if quorum is not None:
        lines.append(f"quorum {quorum}")
    return WitnessPolicy.parse("\n".join(lines) + "\n")


def test_vector_bytes_exact() -> None:
    note, _log, wit = _vector()
    cosigner = Cosigner("witness.example.org/w1", bytes([0x22]) + bytes(31))
    assert str(cosigner.verifier()) == str(wit)
    assert cosigner.key_id.hex() == "aa7fd888"
    text = SignedNote.parse(note).text
    line = cosigner.cosign(text, T).to_line().encode()
    assert note.endswith(line)


def test_vector_opens_under_a_one_of_one_policy() -> None:
    note, log, wit = _vector()
    got = open_cosigned(note, [log], _policy(wit), now=T)
    assert got.checkpoint.size == 8
    assert got.cosigned_by == ((wit, T),)


def test_key_id_differs_from_the_plain_key_id() -> None:
    c = Cosigner("w", bytes(32))
    plain = VerifierKey.from_public_key("w", c.public_key, ALG_ED25519)
    assert plain.id != c.verifier().id


@pytest.mark.parametrize("where", ["cosig-timestamp", "cosig-signature", "log-signature"])
def test_any_flipped_bit_in_a_known_signature_rejects(where: str) -> None:
    note, log, wit = _vector()
    parsed = SignedNote.parse(note)
    sigs = list(parsed.signatures)
    i, off = {"cosig-timestamp": (1, 7), "cosig-signature": (1, 20), "log-signature": (0, 5)}[where]
    raw = bytearray(sigs[i].signature)
    raw[off] ^= 0x01
    sigs[i] = type(sigs[i])(sigs[i].name, sigs[i].key_id, bytes(raw))
    bad = SignedNote(parsed.text, sigs).to_bytes()
    with pytest.raises(SignatureError):
        open_cosigned(bad, [log], _policy(wit), now=T)


def test_missing_cosignature_is_too_few() -> None:
    note, log, wit = _vector()
    parsed = SignedNote.parse(note)
    only_log = SignedNote(parsed.text, parsed.signatures[:1]).to_bytes()
    with pytest.raises(TooFewCosignaturesError) as e:
        open_cosigned(only_log, [log], _policy(wit), now=T)
    assert (e.value.have, e.value.need) == (0, 1)


def test_a_repeated_cosignature_counts_once() -> None:
    log_signer = Signer("example.com/log", bytes([1]) * 32)
    w1, w2 = Cosigner("w1.example", bytes([2]) * 32), Cosigner("w2.example", bytes([3]) * 32)
    note = sign_note("example.com/log\n3\n" + base64.b64encode(bytes(32)).decode() + "\n",
                     [log_signer])
    text = SignedNote.parse(note).text
    lines = w1.cosign(text, T).to_line() + w1.cosign(text, T + 1).to_line()
    twice = add_cosignatures(note, lines.encode())
    with pytest.raises(TooFewCosignaturesError):
        open_cosigned(twice, [log_signer.verifier()],
                      _policy(w1.verifier(), w2.verifier(), quorum=2), now=T)
    both = add_cosignatures(twice, w2.cosign(text, T).to_line().encode())
    got = open_cosigned(both, [log_signer.verifier()],
                        _policy(w1.verifier(), w2.verifier(), quorum=2), now=T)
    assert [k.name for k, _ in got.cosigned_by] == ["w1.example", "w2.example"]
    assert got.cosigned_by[0][1] == T + 1


def test_a_cosignature_from_the_future_is_refused() -> None:
    note, log, wit = _vector()
    with pytest.raises(SignatureError, match="future"):
        open_cosigned(note, [log], _policy(wit), now=T - MAX_FUTURE_SKEW - 1)


def test_a_witness_key_alone_does_not_open_the_checkpoint() -> None:
    note, _log, wit = _vector()
    with pytest.raises(UntrustedKeyError):
        open_cosigned(note, [wit], _policy(wit), now=T)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "no witness"),
        ("quorum 1\n", "no witness"),
        ("witness {log}\n", "not a cosignature key"),
        ("witness {wit}\nquorum 2\n", "quorum 2"),
        ("witness {wit}\nquorum 0\n", "quorum 0"),
        ("witness {wit}\nwitness {wit}\n", "named twice"),
        ("witness {wit}\nquorum x\n", "not a number"),
        ("witness {wit} ftp://x\n", "not http"),
        ("witnesses {wit}\n", "expected"),
        ("witness {wit}\nquorum 1\nquorum 1\n", "expected"),
    ],
)
def test_bad_policies_are_refused(text: str, match: str) -> None:
    _note, log, wit = _vector()
    with pytest.raises(NoteFormatError, match=match):
        WitnessPolicy.parse(text.format(log=log, wit=wit))


def test_policy_round_trip() -> None:
    _note, _log, wit = _vector()
    policy = WitnessPolicy.parse(f"# trust\nwitness {wit} http://127.0.0.1:1/w  # comment\n")
    assert policy.quorum == 1
    assert WitnessPolicy.parse(policy.to_text()) == policy


def _go(gocosig: Path, *args: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(gocosig), *map(str, args)], capture_output=True, text=True,
                          timeout=120, check=False)


def test_go_note_open_accepts_the_vector_and_ours_and_refuses_a_flipped_bit(
    gocosig: Path, tmp_path: Path
) -> None:
    _note, _log, _wit = _vector()
    r = _go(gocosig, VEC / "log.vkey", VEC / "witness.vkey", VEC / "cosigned.note")
    assert r.returncode == 0, r.stderr
    log_signer = Signer("example.com/log", bytes([7]) * 32)
    cosigner = Cosigner("witness.example/w9", bytes([9]) * 32)
    (tmp_path / "log.vkey").write_text(f"{log_signer.verifier()}\n")
    (tmp_path / "w.vkey").write_text(f"{cosigner.verifier()}\n")
    files = []
    for size in (1, 2, 1000, 2**40):
        cp = f"example.com/log\n{size}\n{base64.b64encode(bytes([size % 251]) * 32).decode()}\n"
        signed = sign_note(cp, [log_signer])
        line = cosigner.cosign(cp, T + size).to_line().encode()
        path = tmp_path / f"{size}.note"
        path.write_bytes(add_cosignatures(signed, line))
        files.append(path)
    r = _go(gocosig, tmp_path / "log.vkey", tmp_path / "w.vkey", *files)
    assert r.returncode == 0 and r.stdout.count("ok ") == 4, r.stderr
    data = bytearray(files[0].read_bytes())
    cosig_at = data.rindex(b" ") + 1 + 20  # a bit inside the cosignature's base64
    data[cosig_at] = ord("A") if data[cosig_at] != ord("A") else ord("B")
    files[0].write_bytes(bytes(data))
    r = _go(gocosig, tmp_path / "log.vkey", tmp_path / "w.vkey", files[0])
    assert r.returncode != 0 and "note.Open" in r.stderr


@pytest.mark.parametrize("case", ["timestamp-2^63", "short-by-one", "long-by-one"])
def test_malformed_cosignatures_by_a_policy_key_reject_the_note(case: str) -> None:
    """tlog-cosignature "Format": the timestamp is at most 2^63-1 and the signature is exactly
    8 + 64 bytes; a line by a policy key that breaks either is a bad signature."""
    import nacl.signing

    note, log, wit = _vector()
    parsed = SignedNote.parse(note)
    cosigner = Cosigner("witness.example.org/w1", bytes([0x22]) + bytes(31))
    if case == "timestamp-2^63":
        ts = 2**63
        msg = b"cosignature/v1\ntime %d\n" % ts + parsed.text.encode()
        sig = nacl.signing.SigningKey(cosigner.seed).sign(msg).signature
        raw = ts.to_bytes(8, "big") + sig
    else:
        good = parsed.signatures[1].signature
        raw = good[:-1] if case == "short-by-one" else good + b"\0"
    sigs = (parsed.signatures[0], type(parsed.signatures[1])(cosigner.name, cosigner.key_id, raw))
    with pytest.raises(SignatureError):
        open_cosigned(SignedNote(parsed.text, sigs).to_bytes(), [log], _policy(wit), now=T)
    with pytest.raises(NoteFormatError):
        cosigner.cosign(parsed.text, 2**63)
