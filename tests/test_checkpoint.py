"""Checkpoints: the static-log-300 vector, the signed-note vectors, and malformed bodies."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderarchive.errors import NoteFormatError, SignatureError, UntrustedKeyError
from orderarchive.log.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    OriginMismatchError,
    open_checkpoint,
    sign_checkpoint,
)
from orderarchive.log.note import InvalidSignatureError, Signer, VerifierKey, sign_note

VECTORS = Path(__file__).resolve().parent / "data" / "vectors"  # see tests/data/README.md
STATIC = VECTORS / "static-log-300"


def _read(path: Path) -> bytes:
    # The published vectors are the conformance suite: their absence is a failure, not a skip.
    if not path.is_file():
        raise FileNotFoundError(f"vector {path} missing; tests/data is part of the repository")
    return path.read_bytes()


CHECKPOINT = _read(STATIC / "checkpoint")
VKEY = VerifierKey.parse(_read(STATIC / "vkey").decode().strip())
EXPECTED: dict[str, Any] = json.loads(_read(STATIC / "expected.json"))
NOTES: dict[str, dict[str, Any]] = {
    v["id"]: v
    for v in json.loads(_read(VECTORS / "signed-note" / "signed-note-vectors.json"))["notes"]
}
ORIGIN = "example.com/orderarchive-test"
ROOT = base64.b64decode(EXPECTED["root_b64"])
SEED = bytes.fromhex(EXPECTED["ed25519_seed_hex"])


def test_static_log_checkpoint_opens() -> None:
    cp, note = open_checkpoint(CHECKPOINT, [VKEY], origin=ORIGIN)
    assert cp == Checkpoint(ORIGIN, 300, ROOT)
    assert cp.origin == EXPECTED["origin"]
    assert cp.size == EXPECTED["tree_size"]
    assert note.to_bytes() == CHECKPOINT


def test_static_log_checkpoint_reproduced_byte_for_byte() -> None:
    signer = Signer(ORIGIN, SEED)
    assert signer.verifier() == VKEY
    assert sign_checkpoint(Checkpoint(ORIGIN, 300, ROOT), signer) == CHECKPOINT


def test_checkpoint_of_another_log_is_refused() -> None:
    with pytest.raises(OriginMismatchError) as exc:
        open_checkpoint(CHECKPOINT, [VKEY], origin="example.com/other-log")
    assert isinstance(exc.value, SignatureError)
    assert exc.value.actual == ORIGIN


def test_root_bit_flip_is_invalid() -> None:
    index = CHECKPOINT.index(b"sREA") + 1
    tampered = CHECKPOINT[:index] + b"Q" + CHECKPOINT[index + 1 :]
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(tampered, [VKEY])


def test_size_change_is_invalid() -> None:
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(CHECKPOINT.replace(b"\n300\n", b"\n301\n"), [VKEY])


def test_unknown_key_only_is_untrusted() -> None:
    other = Signer(ORIGIN, b"\x02" * 32).verifier()
    with pytest.raises(UntrustedKeyError):
        open_checkpoint(CHECKPOINT, [other])


def test_key_name_must_equal_origin() -> None:
    # x/mod's sumdb test key signs a checkpoint whose origin is a different name: a valid note,
    # but not a checkpoint *by that log*.
    v = NOTES["xmod-sumdb-test-key"]
    vk = VerifierKey.parse(v["vkey"])
    with pytest.raises(UntrustedKeyError):
        open_checkpoint(v["signed_note"].encode(), [vk])


@pytest.mark.parametrize("vid", ["real-sum.golang.org-tree-28891140", "sigsum-go-checkpoint"])
def test_other_ecosystems_bodies_parse(vid: str) -> None:
    v = NOTES[vid]
    cp = Checkpoint.parse(v["text"])
    assert cp.to_text() == v["text"]
    assert len(cp.root_hash) == 32


def test_sum_golang_org_key_is_not_named_after_its_origin() -> None:
    v = NOTES["real-sum.golang.org-tree-28891140"]
    with pytest.raises(UntrustedKeyError):
        open_checkpoint(v["signed_note"].encode(), [VerifierKey.parse(v["vkey"])])


def test_cosigned_checkpoint() -> None:
    v = NOTES["generated-orderarchive-checkpoint-with-cosignature"]
    data = v["signed_note"].encode()
    log = VerifierKey.parse(v["log_vkey"])
    witness = VerifierKey.parse(v["witness_vkey_type_0x04"])
    cp, note = open_checkpoint(data, [log, witness], origin="example.com/orderarchive")
    assert cp.size == 8
    assert len(note.signatures) == 2
    assert open_checkpoint(data, [log])[0] == cp
    # A witness alone does not make the checkpoint the log's.
    with pytest.raises(UntrustedKeyError):
        open_checkpoint(data, [witness])


def test_signer_must_be_named_after_the_origin() -> None:
    with pytest.raises(NoteFormatError):
        sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), Signer("example.com/other", SEED))


def test_signed_but_malformed_body_is_rejected_after_verification() -> None:
    signer = Signer(ORIGIN, SEED)
    data = sign_note(f"{ORIGIN}\n0300\n{EXPECTED['root_b64']}\n", [signer])
    with pytest.raises(NoteFormatError):
        open_checkpoint(data, [VKEY])
    # The body is not even looked at when the signature is by an unknown key.
    with pytest.raises(UntrustedKeyError):
        open_checkpoint(data, [Signer(ORIGIN, b"\x03" * 32).verifier()])


R = EXPECTED["root_b64"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param(f"{ORIGIN}\n300\n{R}", id="no-final-newline"),
        pytest.param(f"{ORIGIN}\n300\n", id="missing-root"),
        pytest.param(f"{ORIGIN}\n", id="origin-only"),
        pytest.param(f"\n300\n{R}\n", id="empty-origin"),
        pytest.param(f"{ORIGIN}\n0300\n{R}\n", id="leading-zero"),
        pytest.param(f"{ORIGIN}\n00\n{R}\n", id="double-zero"),
        pytest.param(f"{ORIGIN}\n+300\n{R}\n", id="plus-sign"),
        pytest.param(f"{ORIGIN}\n-1\n{R}\n", id="negative"),
        pytest.param(f"{ORIGIN}\n 300\n{R}\n", id="leading-space"),
        pytest.param(f"{ORIGIN}\n300 \n{R}\n", id="trailing-space"),
        pytest.param(f"{ORIGIN}\n3_00\n{R}\n", id="underscore"),
        pytest.param(f"{ORIGIN}\n\uff13\uff10\uff10\n{R}\n", id="fullwidth-digits"),
        pytest.param(f"{ORIGIN}\n\u0663\u0660\u0660\n{R}\n", id="arabic-indic-digits"),
        pytest.param(f"{ORIGIN}\n0x12c\n{R}\n", id="hex-size"),
        pytest.param(f"{ORIGIN}\n{2**64}\n{R}\n", id="size-overflows-uint64"),
        pytest.param(f"{ORIGIN}\n{'9' * 5000}\n{R}\n", id="huge-size"),
        pytest.param(f"{ORIGIN}\n\n{R}\n", id="empty-size"),
        pytest.param(f"{ORIGIN}\n300\n{R[:-1]}\n", id="root-missing-padding"),
        pytest.param(f"{ORIGIN}\n300\n{R[:-2]}J=\n", id="root-non-canonical"),
        pytest.param(f"{ORIGIN}\n300\n{base64.b64encode(ROOT[:31]).decode()}\n", id="root-31"),
        pytest.param(f"{ORIGIN}\n300\n{base64.b64encode(ROOT + b'x').decode()}\n", id="root-33"),
        pytest.param(f"{ORIGIN}\n300\n{R}\n\n", id="empty-extension-line"),
        pytest.param(f"{ORIGIN}\n300\n{R}\next\n\nmore\n", id="empty-line-between-extensions"),
        pytest.param(f"{ORIGIN}\r\n300\r\n{R}\r\n", id="crlf"),
        pytest.param(f"{ORIGIN}\x00\n300\n{R}\n", id="nul-in-origin"),
        pytest.param(f"{ORIGIN}\n300\n{R}\next\tension\n", id="tab-in-extension"),
    ],
)
def test_malformed_body_rejected(text: str) -> None:
    with pytest.raises(NoteFormatError):
        Checkpoint.parse(text)


def test_body_edge_cases_accepted() -> None:
    assert Checkpoint.parse(f"{ORIGIN}\n0\n{R}\n").size == 0
    assert Checkpoint.parse(f"{ORIGIN}\n{MAX_TREE_SIZE}\n{R}\n").size == MAX_TREE_SIZE
    cp = Checkpoint.parse(f"origin with spaces+plus\n1\n{R}\next one\next two\n")
    assert cp.extensions == ("ext one", "ext two")
    assert cp.to_text() == f"origin with spaces+plus\n1\n{R}\next one\next two\n"


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        pytest.param("", 1, ROOT, (), id="empty-origin"),
        pytest.param("a\nb", 1, ROOT, (), id="newline-in-origin"),
        pytest.param(ORIGIN, -1, ROOT, (), id="negative-size"),
        pytest.param(ORIGIN, 2**64, ROOT, (), id="size-too-big"),
        pytest.param(ORIGIN, 1, ROOT[:-1], (), id="short-root"),
        pytest.param(ORIGIN, 1, ROOT, ("",), id="empty-extension"),
        pytest.param(ORIGIN, 1, ROOT, ("a\nb",), id="newline-in-extension"),
        pytest.param("\ud800", 1, ROOT, (), id="lone-surrogate"),
    ],
)
def test_constructor_refuses_unwritable_checkpoints(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(NoteFormatError):
        Checkpoint(origin, size, root, extensions)


_LINE = st.text(
    st.characters(codec="utf-8", exclude_characters=[chr(c) for c in range(32)]),
    min_size=1,
    max_size=40,
)


@settings(max_examples=100, deadline=None)
@given(
    origin=_LINE,
    size=st.integers(0, MAX_TREE_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_LINE, max_size=3),
)
def test_text_round_trip(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    cp = Checkpoint(origin, size, root, extensions)
    assert Checkpoint.parse(cp.to_text()) == cp


@settings(max_examples=30, deadline=None)
@given(size=st.integers(0, MAX_TREE_SIZE), root=st.binary(min_size=32, max_size=32))
def test_sign_open_round_trip(size: int, root: bytes) -> None:
    cp = Checkpoint(ORIGIN, size, root)
    signer = Signer(ORIGIN, SEED)
    assert open_checkpoint(sign_checkpoint(cp, signer), [VKEY], origin=ORIGIN)[0] == cp


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_text_raises_only_note_format_errors(text: str) -> None:
    with contextlib.suppress(NoteFormatError):
        Checkpoint.parse(text)
