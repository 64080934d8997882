"""Signed notes: the published vectors (Go x/mod, C2SP, sigsum, sum.golang.org) and attacks."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderarchive.errors import (
    NoteFormatError,
    OrderArchiveError,
    SignatureError,
    UntrustedKeyError,
)
from orderarchive.log.note import (
    ALG_COSIGNATURE_V1,
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    InvalidSignatureError,
    NoteSignature,
    SignedNote,
    Signer,
    UnverifiedNoteError,
    VerifierKey,
    key_id,
    open_note,
    sign_note,
)

VECTORS = Path(__file__).resolve().parent / "data" / "vectors"  # see tests/data/README.md
NOTE_VECTORS = VECTORS / "signed-note" / "signed-note-vectors.json"


def _load_vectors() -> list[dict[str, Any]]:
    # The published vectors are the conformance suite: their absence is a failure, not a skip.
    if not NOTE_VECTORS.is_file():
        raise FileNotFoundError(
            f"signed-note vectors not found at {NOTE_VECTORS}; tests/data is part of the repository"
        )
    notes: list[dict[str, Any]] = json.loads(NOTE_VECTORS.read_text("utf-8"))["notes"]
    return notes


ALL = _load_vectors()
BY_ID = {v["id"]: v for v in ALL}
PETER = BY_ID["xmod-peterneumann"]
COSIGNED = BY_ID["generated-orderarchive-checkpoint-with-cosignature"]
SUMDB = [v for v in ALL if v["id"].startswith("real-sum.golang.org-tree-")]


def _vkey(v: dict[str, Any]) -> str:
    return str(v.get("vkey") or v["log_vkey"])


def _signer_for(v: dict[str, Any]) -> Signer:
    """The vector's signing key: a Go skey, or a bare seed under the signature line's name."""
    skey = v.get("skey") or v.get("log_skey")
    if skey:
        return Signer.parse_go_skey(skey)
    name = SignedNote.parse(v["signed_note"].encode()).signatures[0].name
    return Signer(name, bytes.fromhex(v["ed25519_seed_hex"]))


WITH_VKEY = [v for v in ALL if v.get("vkey") or v.get("log_vkey")]
WITH_KEY = [v for v in ALL if v.get("skey") or v.get("log_skey") or v.get("ed25519_seed_hex")]


def test_vectors_cover_what_the_brief_promises() -> None:
    assert len(ALL) >= 7
    assert len(SUMDB) == 2
    assert "witness_vkey_type_0x04" in COSIGNED


# -- conformance -------------------------------------------------------------------------------


@pytest.mark.parametrize("v", WITH_VKEY, ids=lambda v: v["id"])
def test_vkey_parses_and_prints_identically(v: dict[str, Any]) -> None:
    text = _vkey(v)
    vk = VerifierKey.parse(text)
    assert str(vk) == vk.to_string() == text
    assert vk.key_hash_hex == text.split("+")[1]
    assert vk.id == key_id(vk.name, b"\x01" + vk.public_key)
    assert len(vk.public_key) == 32


@pytest.mark.parametrize("v", WITH_KEY, ids=lambda v: v["id"])
def test_resigning_reproduces_the_signature_bytes(v: dict[str, Any]) -> None:
    # Ed25519 (RFC 8032) is deterministic: same key, same text, same bytes.
    signer = _signer_for(v)
    signed = sign_note(v["text"], [signer])
    note = SignedNote.parse(v["signed_note"].encode())
    ours = SignedNote.parse(signed)
    assert ours.signatures == note.signatures[:1]
    if len(note.signatures) == 1:
        assert signed == v["signed_note"].encode()
    if v.get("vkey") or v.get("log_vkey"):
        assert signer.verifier() == VerifierKey.parse(_vkey(v))


@pytest.mark.parametrize("v", [v for v in ALL if v.get("skey")], ids=lambda v: v["id"])
def test_go_skey_round_trips(v: dict[str, Any]) -> None:
    assert Signer.parse_go_skey(v["skey"]).to_go_skey() == v["skey"]


@pytest.mark.parametrize("v", WITH_VKEY, ids=lambda v: v["id"])
def test_every_vector_note_opens(v: dict[str, Any]) -> None:
    data = v["signed_note"].encode()
    vk = VerifierKey.parse(_vkey(v))
    opened = open_note(data, [vk])
    assert opened.text == v["text"]
    assert opened.verified_by == (vk,)
    assert opened.note.to_bytes() == data


def test_sigsum_checkpoint_verifies_under_its_seed() -> None:
    v = BY_ID["sigsum-go-checkpoint"]
    signer = _signer_for(v)
    opened = open_note(v["signed_note"].encode(), [signer.verifier()])
    assert opened.text == v["text"]


def test_peter_neumann_note_rejected_with_only_the_unknown_key() -> None:
    data = PETER["signed_note"].encode()
    enoch = VerifierKey.parse(PETER["extra_vkey"])
    with pytest.raises(UnverifiedNoteError) as exc:
        open_note(data, [enoch])
    assert isinstance(exc.value, UntrustedKeyError)
    assert exc.value.note.text == PETER["text"]


def test_doubly_signed_note_keeps_the_unknown_signature() -> None:
    data = (PETER["signed_note"] + PETER["extra_signature_line_unknown_key"]).encode()
    peter = VerifierKey.parse(PETER["vkey"])
    enoch = VerifierKey.parse(PETER["extra_vkey"])
    opened = open_note(data, [peter])
    assert opened.verified_by == (peter,)
    assert [s.name for s in opened.unverified] == ["EnochRoot"]
    assert open_note(data, [peter, enoch]).verified_by == (peter, enoch)
    assert open_note(data, [enoch]).verified_by == (enoch,)


def test_cosignature_vector() -> None:
    data = COSIGNED["signed_note"].encode()
    log = VerifierKey.parse(COSIGNED["log_vkey"])
    witness = VerifierKey.parse(COSIGNED["witness_vkey_type_0x04"])
    assert witness.key_type == ALG_COSIGNATURE_V1
    assert str(witness) == COSIGNED["witness_vkey_type_0x04"]
    # The witness line is kept (unverified) when only the log key is known...
    opened = open_note(data, [log])
    assert [s.name for s in opened.unverified] == ["witness.example/w1"]
    cosig = opened.unverified[0]
    timestamp = int.from_bytes(cosig.signature[:8], "big")
    assert timestamp == COSIGNED["cosignature_timestamp"]
    # ... and verified over the cosignature/v1 message when the witness key is supplied.
    assert open_note(data, [log, witness]).verified_by == (log, witness)
    message = COSIGNED["cosigned_message"].encode()
    assert message == f"cosignature/v1\ntime {timestamp}\n".encode() + COSIGNED["text"].encode()
    # Re-signing keeps the witness line and puts the log's fresh signature after it.
    signer = Signer.parse_go_skey(COSIGNED["log_skey"])
    resigned = opened.note.add_signatures([signer])
    assert (
        resigned.to_bytes()
        == SignedNote(COSIGNED["text"], (cosig, opened.note.signatures[0])).to_bytes()
    )


def test_cosignature_with_altered_timestamp_is_invalid() -> None:
    note = SignedNote.parse(COSIGNED["signed_note"].encode())
    log_sig, cosig = note.signatures
    for ts in (1700000001, 2**63):
        forged = NoteSignature(
            cosig.name, cosig.key_id, ts.to_bytes(8, "big") + cosig.signature[8:]
        )
        data = SignedNote(note.text, (log_sig, forged)).to_bytes()
        witness = VerifierKey.parse(COSIGNED["witness_vkey_type_0x04"])
        with pytest.raises(InvalidSignatureError):
            open_note(data, [witness])


@pytest.mark.parametrize("v", SUMDB, ids=lambda v: v["id"])
def test_real_sum_golang_org_tree_heads(v: dict[str, Any]) -> None:
    vk = VerifierKey.parse(v["vkey"])
    assert "+" in v["vkey"].split("+", 2)[2]  # base64 with '+': split on the first two only
    opened = open_note(v["signed_note"].encode(), [vk])
    assert opened.text.startswith("go.sum database tree\n")
    assert opened.is_signed_by("sum.golang.org")


# -- keys --------------------------------------------------------------------------------------

PETER_VKEY = PETER["vkey"]


@pytest.mark.parametrize(
    "vkey",
    [
        pytest.param("", id="empty"),
        pytest.param("PeterNeumann", id="no-plus"),
        pytest.param("PeterNeumann+c74f20a3", id="no-key"),
        pytest.param(PETER_VKEY.replace("c74f20a3", "c74f20a4"), id="wrong-key-id"),
        pytest.param(PETER_VKEY.replace("c74f20a3", "c74f20a"), id="seven-hex-digits"),
        pytest.param(PETER_VKEY.replace("c74f20a3", "0xc74f20"), id="hex-prefix"),
        pytest.param(PETER_VKEY.replace("c74f20a3", "c74f_0a3"), id="hex-underscore"),
        pytest.param(PETER_VKEY.replace("PeterNeumann", "Peter Neumann"), id="space-in-name"),
        pytest.param(PETER_VKEY.replace("PeterNeumann", "Peter\u00a0Neumann"), id="nbsp-in-name"),
        pytest.param(PETER_VKEY.replace("PeterNeumann", "Peter\u2003Neumann"), id="em-space"),
        pytest.param(PETER_VKEY.replace("PeterNeumann", "Peter\u2028Neumann"), id="line-sep"),
        pytest.param(PETER_VKEY.replace("PeterNeumann", "Peter\tNeumann"), id="tab-in-name"),
        pytest.param(PETER_VKEY.replace("PeterNeumann", "\ud800"), id="lone-surrogate"),
        pytest.param(PETER_VKEY.replace("PeterNeumann", ""), id="empty-name"),
        pytest.param(PETER_VKEY[:-1], id="truncated-base64"),
        pytest.param(PETER_VKEY[:-1] + "X", id="non-canonical-base64"),
        pytest.param(PETER_VKEY + "=", id="extra-padding"),
        pytest.param(PETER_VKEY.replace("+ARpc", "+AhRpc"), id="malformed-base64"),
        pytest.param(PETER_VKEY + "\n", id="trailing-newline"),
    ],
)
def test_malformed_vkey_rejected(vkey: str) -> None:
    with pytest.raises(NoteFormatError):
        VerifierKey.parse(vkey)


def _vkey_with(name: str, key_data: bytes) -> str:
    kid = key_id(name, key_data)
    return f"{name}+{kid.hex()}+{base64.b64encode(key_data).decode()}"


@pytest.mark.parametrize(
    "key_data",
    [
        pytest.param(b"\x01" + b"\x07" * 31, id="short-key"),
        pytest.param(b"\x01" + b"\x07" * 33, id="long-key"),
        pytest.param(b"\x02" + b"\x07" * 32, id="ecdsa-type"),
        pytest.param(b"\xff" + b"\x07" * 32, id="unassigned-type"),
        pytest.param(b"\x01", id="type-only"),
    ],
)
def test_vkey_with_bad_key_data_rejected(key_data: bytes) -> None:
    with pytest.raises(NoteFormatError):
        VerifierKey.parse(_vkey_with("example.com/k", key_data))


def test_upper_case_hex_key_id_accepted_as_go_does() -> None:
    vk = VerifierKey.parse(PETER_VKEY.replace("c74f20a3", "C74F20A3"))
    assert str(vk) == PETER_VKEY


def test_verifier_key_constructor_checks_the_id() -> None:
    vk = VerifierKey.parse(PETER_VKEY)
    with pytest.raises(NoteFormatError):
        VerifierKey(vk.name, b"\x00\x00\x00\x00", vk.public_key)
    with pytest.raises(NoteFormatError):
        VerifierKey("EnochRoot", vk.id, vk.public_key)


def test_signer_generate_and_go_skey_round_trip() -> None:
    signer = Signer.generate("example.com/fresh")
    again = Signer.parse_go_skey(signer.to_go_skey())
    assert again == signer
    vk = VerifierKey.parse(str(signer.verifier()))
    msg = b"hello\n"
    assert vk.verify(msg, signer.sign(msg))
    assert not vk.verify(msg + b"x", signer.sign(msg))
    assert not vk.verify(msg, signer.sign(msg)[:-1])


def test_signer_repr_hides_the_seed() -> None:
    signer = Signer("example.com/secret", bytes(range(32)))
    assert bytes(range(32)).hex() not in repr(signer)
    assert repr(bytes(range(32))) not in repr(signer)


@pytest.mark.parametrize(
    "skey",
    [
        pytest.param(PETER["skey"].replace("PRIVATE+KEY+", "PRIVATE+KEYS+"), id="bad-prefix"),
        pytest.param(PETER["skey"].replace("c74f20a3", "c74f20a4"), id="hash-of-other-key"),
        pytest.param(PETER["skey"][:-1], id="truncated"),
        pytest.param(PETER["skey"].replace("+AYEK", "+AoEK"), id="wrong-algorithm"),
        pytest.param(PETER["vkey"], id="public-key-given"),
        pytest.param("PRIVATE+KEY+PeterNeumann", id="no-hash"),
    ],
)
def test_malformed_go_skey_rejected(skey: str) -> None:
    with pytest.raises(NoteFormatError):
        Signer.parse_go_skey(skey)


@pytest.mark.parametrize("seed", [b"", b"\x00" * 31, b"\x00" * 33])
def test_signer_seed_length(seed: bytes) -> None:
    with pytest.raises(NoteFormatError):
        Signer("example.com/x", seed)


# -- attacks on notes --------------------------------------------------------------------------

PETER_NOTE = PETER["signed_note"].encode()
PETER_KEY = VerifierKey.parse(PETER["vkey"])


def _flip(data: bytes, index: int, bit: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 1 << bit
    return bytes(out)


def _with_signature(note: bytes, transform: Any) -> bytes:
    parsed = SignedNote.parse(note)
    sig = parsed.signatures[0]
    return SignedNote(parsed.text, (transform(sig),)).to_bytes()


@pytest.mark.parametrize("byte", [0, 1, 31, 32, 63])
@pytest.mark.parametrize("bit", [0, 7])
def test_signature_bit_flip_is_invalid(byte: int, bit: int) -> None:
    def flip(sig: NoteSignature) -> NoteSignature:
        return NoteSignature(sig.name, sig.key_id, _flip(sig.signature, byte, bit))

    with pytest.raises(InvalidSignatureError):
        open_note(_with_signature(PETER_NOTE, flip), [PETER_KEY])


@pytest.mark.parametrize("index", [0, 10, len(PETER["text"]) - 2])
def test_text_bit_flip_is_invalid(index: int) -> None:
    with pytest.raises(InvalidSignatureError):
        open_note(_flip(PETER_NOTE, index, 1), [PETER_KEY])


def test_truncated_signature_is_invalid() -> None:
    def cut(sig: NoteSignature) -> NoteSignature:
        return NoteSignature(sig.name, sig.key_id, sig.signature[:-1])

    with pytest.raises(InvalidSignatureError):
        open_note(_with_signature(PETER_NOTE, cut), [PETER_KEY])


def test_wrong_key_name_makes_the_signature_unknown() -> None:
    def rename(sig: NoteSignature) -> NoteSignature:
        return NoteSignature("PeterNeumann2", sig.key_id, sig.signature)

    with pytest.raises(UnverifiedNoteError):
        open_note(_with_signature(PETER_NOTE, rename), [PETER_KEY])


def test_wrong_key_id_makes_the_signature_unknown() -> None:
    def reid(sig: NoteSignature) -> NoteSignature:
        return NoteSignature(sig.name, b"\x00\x00\x00\x00", sig.signature)

    with pytest.raises(UnverifiedNoteError):
        open_note(_with_signature(PETER_NOTE, reid), [PETER_KEY])


def test_key_id_collision_with_different_key_is_invalid_not_ignored() -> None:
    # An attacker labels their signature with the trusted key's name and ID (4 bytes are
    # cheap to copy); signed-note: a matching name+ID MUST be verified, and fails.
    attacker = Signer("PeterNeumann", b"\x42" * 32)
    forged = NoteSignature("PeterNeumann", PETER_KEY.id, attacker.sign(PETER["text"].encode()))
    data = SignedNote(PETER["text"], (forged,)).to_bytes()
    with pytest.raises(InvalidSignatureError) as exc:
        open_note(data, [PETER_KEY])
    assert exc.value.name == "PeterNeumann"
    assert exc.value.key_id == PETER_KEY.id


def test_valid_then_bad_signature_by_same_key_rejects_the_note() -> None:
    # Go skips repeated lines by one verifier; we verify them all.
    parsed = SignedNote.parse(PETER_NOTE)
    sig = parsed.signatures[0]
    bad = NoteSignature(sig.name, sig.key_id, bytes(64))
    data = SignedNote(parsed.text, (sig, bad)).to_bytes()
    with pytest.raises(InvalidSignatureError):
        open_note(data, [PETER_KEY])


def test_same_name_other_key_is_ignored_if_real_key_signed() -> None:
    other = Signer("PeterNeumann", b"\x42" * 32)
    data = SignedNote.parse(PETER_NOTE).add_signatures([other]).to_bytes()
    opened = open_note(data, [PETER_KEY])
    assert opened.verified_by == (PETER_KEY,)
    assert [s.key_id for s in opened.unverified] == [other.key_id]


def test_ambiguous_verifier_list_is_refused() -> None:
    impostor = attrs_evolve_unchecked(PETER_KEY, public_key=b"\x09" * 32)
    with pytest.raises(SignatureError):
        open_note(PETER_NOTE, [PETER_KEY, impostor])


def attrs_evolve_unchecked(vk: VerifierKey, public_key: bytes) -> VerifierKey:
    """A verifier key whose ID does not match its key (only a hostile key list has one)."""
    with attrs.validators.disabled():
        return VerifierKey(vk.name, vk.id, public_key, vk.key_type)


def test_no_verifiers_means_unverified() -> None:
    with pytest.raises(UnverifiedNoteError):
        open_note(PETER_NOTE, [])


def test_duplicate_identical_verifiers_are_harmless() -> None:
    assert open_note(PETER_NOTE, [PETER_KEY, PETER_KEY]).verified_by == (PETER_KEY,)


SIG_LINE = PETER_NOTE[len(PETER["text"]) + 1 :]
TEXT = PETER["text"].encode()
B64 = SIG_LINE.split(b" ")[2].rstrip(b"\n")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(TEXT, id="text-only"),
        pytest.param(TEXT + b"\n", id="no-signatures"),
        pytest.param(TEXT + SIG_LINE, id="missing-blank-line"),
        pytest.param(PETER_NOTE + b"garbage", id="trailing-garbage"),
        pytest.param(PETER_NOTE + b"\n", id="trailing-blank-line"),
        pytest.param(PETER_NOTE[:-1], id="missing-final-newline"),
        pytest.param(PETER_NOTE.replace(b"\n", b"\r\n"), id="crlf"),
        pytest.param(PETER_NOTE.replace(b"is the answer", b"is\rthe answer"), id="bare-cr"),
        pytest.param(PETER_NOTE.replace(b"is the answer", b"is\tthe answer"), id="tab"),
        pytest.param(PETER_NOTE.replace(b"is the answer", b"is\x00the answer"), id="nul"),
        pytest.param(PETER_NOTE.replace(b"is the answer", b"is\x1b[2Jthe answer"), id="esc"),
        pytest.param(PETER_NOTE.replace(b"is the answer", b"is \xff answer"), id="non-utf8"),
        pytest.param(PETER_NOTE.replace(b"is the answer", b"is \xc0\xaf answer"), id="overlong"),
        pytest.param(PETER_NOTE.replace(b"is the answer", b"is \xed\xa0\x80"), id="surrogate"),
        pytest.param(PETER_NOTE.replace(b"\xe2\x80\x94 ", b"- "), id="hyphen-not-em-dash"),
        pytest.param(PETER_NOTE.replace(b"\xe2\x80\x94 ", b"\xe2\x80\x94"), id="no-space"),
        pytest.param(PETER_NOTE.replace(b"\xe2\x80\x94 ", b"\xe2\x80\x94  "), id="two-spaces"),
        pytest.param(PETER_NOTE.replace(b"PeterNeumann ", b"Peter+Neumann "), id="plus-in-name"),
        pytest.param(PETER_NOTE.replace(b"PeterNeumann ", b"PeterNeumann"), id="no-signature"),
        pytest.param(PETER_NOTE.replace(B64, B64 + b" "), id="trailing-space"),
        pytest.param(PETER_NOTE.replace(B64, B64[:-1]), id="base64-missing-padding"),
        pytest.param(PETER_NOTE.replace(B64, B64[:-2] + b"N="), id="base64-non-canonical"),
        pytest.param(PETER_NOTE.replace(B64, B64[:10] + b"!" + B64[11:]), id="base64-bad-char"),
        pytest.param(PETER_NOTE.replace(B64, B64[:10] + b" " + B64[10:]), id="base64-space"),
        pytest.param(PETER_NOTE.replace(B64, b"AAAAAA=="), id="key-id-only"),
        pytest.param(PETER_NOTE.replace(B64, b"AAAA"), id="shorter-than-key-id"),
    ],
)
def test_malformed_note_rejected(data: bytes) -> None:
    with pytest.raises(NoteFormatError):
        SignedNote.parse(data)
    with pytest.raises(NoteFormatError):
        open_note(data, [PETER_KEY])


def test_too_many_signatures() -> None:
    stranger = NoteSignature("stranger", b"\x00\x00\x00\x01", b"\x00" * 64)
    parsed = SignedNote.parse(PETER_NOTE)
    at_limit = PETER_NOTE + stranger.to_line().encode() * (MAX_SIGNATURES - 1)
    assert open_note(at_limit, [PETER_KEY]).verified_by == (PETER_KEY,)
    over = at_limit + stranger.to_line().encode()
    with pytest.raises(NoteFormatError):
        SignedNote.parse(over)
    with pytest.raises(NoteFormatError):
        SignedNote(parsed.text, (stranger,) * (MAX_SIGNATURES + 1))


def test_oversized_note() -> None:
    text = b"x" * (MAX_NOTE_BYTES - len(SIG_LINE)) + b"\n"
    with pytest.raises(NoteFormatError):
        SignedNote.parse(text + b"\n" + SIG_LINE)


def test_text_may_contain_blank_lines_and_signature_like_lines() -> None:
    # signed-note "Format": the *last* blank line separates the text from the signatures.
    signer = Signer("example.com/k", b"\x01" * 32)
    text = "a\n\n\u2014 example.com/k AAAA\n\n"
    opened = open_note(sign_note(text, [signer]), [signer.verifier()])
    assert opened.text == text


def test_sign_note_refuses_what_it_could_not_open() -> None:
    signer = Signer("example.com/k", b"\x01" * 32)
    for text in ("no newline", "cr\r\n", "nul\x00\n", "\ud800\n", "big" * MAX_NOTE_BYTES + "\n"):
        with pytest.raises(NoteFormatError):
            sign_note(text, [signer])
    with pytest.raises(NoteFormatError):
        sign_note("ok\n", [])


def test_signature_value_type_checks() -> None:
    with pytest.raises(NoteFormatError):
        NoteSignature("a b", b"\x00" * 4, b"x")
    with pytest.raises(NoteFormatError):
        NoteSignature("ab", b"\x00" * 3, b"x")
    with pytest.raises(NoteFormatError):
        NoteSignature("ab", b"\x00" * 4, b"")
    with pytest.raises(NoteFormatError):
        SignedNote("x\n", ())


# -- properties --------------------------------------------------------------------------------

_TEXT_CHARS = st.characters(
    codec="utf-8", exclude_characters=[chr(c) for c in range(0x20) if c != 10]
)
note_texts = st.text(_TEXT_CHARS, max_size=200).map(lambda s: s + "\n")
key_names = st.text(
    st.characters(codec="utf-8", exclude_categories=["Zs", "Zl", "Zp", "Cc"]),
    min_size=1,
    max_size=30,
).filter(lambda s: "+" not in s and not any(c.isspace() for c in s))
SIGNERS = [Signer(f"example.com/s{i}", bytes([i + 1]) * 32) for i in range(3)]


@settings(max_examples=60, deadline=None)
@given(text=note_texts, count=st.integers(1, 3))
def test_sign_open_round_trip(text: str, count: int) -> None:
    signers = SIGNERS[:count]
    data = sign_note(text, signers)
    opened = open_note(data, [s.verifier() for s in signers])
    assert opened.text == text
    assert len(opened.verified_by) == count
    assert SignedNote.parse(data).to_bytes() == data


@settings(max_examples=60, deadline=None)
@given(name=key_names, seed=st.binary(min_size=32, max_size=32))
def test_vkey_round_trip(name: str, seed: bytes) -> None:
    signer = Signer(name, seed)
    vk = signer.verifier()
    assert VerifierKey.parse(str(vk)) == vk
    assert Signer.parse_go_skey(signer.to_go_skey()) == signer


@settings(max_examples=200, deadline=None)
@given(index=st.integers(0, len(PETER_NOTE) - 1), bit=st.integers(0, 7))
def test_any_bit_flip_is_caught(index: int, bit: int) -> None:
    with pytest.raises((NoteFormatError, SignatureError)):
        open_note(_flip(PETER_NOTE, index, bit), [PETER_KEY])


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_input_raises_only_library_errors(data: bytes) -> None:
    with contextlib.suppress(OrderArchiveError):
        open_note(data, [PETER_KEY])


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=120))
def test_arbitrary_vkey_raises_only_library_errors(text: str) -> None:
    for candidate in (text, f"PeterNeumann+c74f20a3+{text}", f"PRIVATE+KEY+{text}"):
        with contextlib.suppress(NoteFormatError):
            VerifierKey.parse(candidate)
        with contextlib.suppress(NoteFormatError):
            Signer.parse_go_skey(candidate)
