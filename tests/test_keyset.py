"""Key sets (keyset.py): the TUF root-rotation rules and the failures of its implementations."""

from __future__ import annotations

import pytest

from orderarchive.errors import MalformedError, RollbackError, SignatureError
from orderarchive.log.keyset import (
    ENTRY,
    LOG,
    RELEASE,
    ROOT,
    KeyRecord,
    KeySet,
    KeySetFormatError,
    Revocation,
    SignedKeySet,
    ThresholdError,
    read_trust,
    verify_successor,
    walk,
)
from orderarchive.log.note import NoteSignature, SignedNote, Signer

ORIGIN = "example.org/orders"


def signer(label: str, name: str | None = None) -> Signer:
    seed = (label.encode() * 32)[:32]
    return Signer(name or f"{ORIGIN}/{label}", seed)


CLERK, DEPUTY, ATTORNEY, SUCCESSOR = (signer(x) for x in ("clerk", "deputy", "attorney", "next"))
WRITER = signer("writer", ORIGIN)


def keyset(version: int, prev: KeySet | None, roots: list[Signer], root_t: int = 2,
           revoked: tuple[Revocation, ...] = ()) -> KeySet:
    records = [KeyRecord(s.verifier(), (RELEASE, ROOT)) for s in roots]
    records.append(KeyRecord(WRITER.verifier(), (ENTRY, LOG)))
    return KeySet.build(
        ORIGIN, version=version, prev=prev.digest if prev else None, keys=records,
        thresholds={ROOT: root_t, RELEASE: 2, ENTRY: 1, LOG: 1}, revoked=revoked,
    )


V1 = keyset(1, None, [CLERK, DEPUTY, ATTORNEY])
S1 = SignedKeySet.sign(V1, [CLERK, DEPUTY])
V2 = keyset(2, V1, [SUCCESSOR, DEPUTY, ATTORNEY])
S2 = SignedKeySet.sign(V2, [CLERK, DEPUTY, SUCCESSOR])


def test_round_trip_and_pinning() -> None:
    again = SignedKeySet.parse(S1.to_bytes())
    assert again.keyset == V1 and again.to_bytes() == S1.to_bytes()
    assert read_trust(S1.to_bytes(), ORIGIN) == V1
    assert walk(V1, [S2]) == V2
    assert V2.prev == V1.digest


def test_pinned_version_needs_its_own_root_threshold() -> None:
    with pytest.raises(ThresholdError):
        read_trust(SignedKeySet.sign(V1, [CLERK]).to_bytes())


def test_pinned_version_must_be_version_1() -> None:
    with pytest.raises(RollbackError):
        read_trust(S2.to_bytes())


def test_trust_file_of_another_origin_refused() -> None:
    with pytest.raises(SignatureError):
        read_trust(S1.to_bytes(), "example.org/other")


def test_successor_signed_only_by_old_roots_refused() -> None:
    # DEPUTY and ATTORNEY are in both; CLERK only in v1, SUCCESSOR only in v2.
    v2 = keyset(2, V1, [SUCCESSOR, signer("x"), ATTORNEY])
    with pytest.raises(ThresholdError, match="own root"):
        verify_successor(V1, SignedKeySet.sign(v2, [CLERK, ATTORNEY]))


def test_successor_signed_only_by_new_roots_refused() -> None:
    v2 = keyset(2, V1, [SUCCESSOR, signer("x"), ATTORNEY])
    with pytest.raises(ThresholdError, match="root keys of version 1"):
        verify_successor(V1, SignedKeySet.sign(v2, [SUCCESSOR, signer("x")]))


def test_rollback_of_the_key_set_refused() -> None:
    """A verifier at version 2 shown version 1 (or 2 again) does not go back."""
    with pytest.raises(RollbackError, match="rollback"):
        verify_successor(V2, S1)
    with pytest.raises(RollbackError, match="rollback"):
        verify_successor(V2, S2)


def test_skipped_version_refused_even_when_well_signed() -> None:
    """tough CVE-2025-2885: version >= N+1 was accepted; it must be exactly N+1."""
    v3 = keyset(3, V1, [CLERK, DEPUTY, ATTORNEY])
    s3 = SignedKeySet.sign(v3, [CLERK, DEPUTY, ATTORNEY])
    with pytest.raises(RollbackError, match="skips"):
        verify_successor(V1, s3)
    with pytest.raises(RollbackError, match="skips"):
        walk(V1, [s3])


def test_prev_must_name_the_trusted_version() -> None:
    other = keyset(1, None, [CLERK, DEPUTY], root_t=1)
    v2 = keyset(2, other, [CLERK, DEPUTY, ATTORNEY])
    with pytest.raises(RollbackError, match="does not name"):
        verify_successor(V1, SignedKeySet.sign(v2, [CLERK, DEPUTY, ATTORNEY]))


def test_one_signature_counted_twice_refused() -> None:
    """The same key's line twice (or the same key under a second name) is one key."""
    once = SignedKeySet.sign(V1, [CLERK])
    line = once.note.signatures[0]
    doubled = SignedNote(V1.text, (line, line))
    with pytest.raises(ThresholdError, match="signed by 1"):
        read_trust(doubled.to_bytes())
    # the same public key listed under two names cannot be two root keys
    alias = Signer(f"{ORIGIN}/alias", CLERK.seed)
    with pytest.raises(KeySetFormatError, match="listed twice"):
        keyset(1, None, [CLERK, alias])


def test_bad_line_by_a_known_key_refuses_the_whole_statement() -> None:
    good = S1.note.signatures
    bad = NoteSignature(good[0].name, good[0].key_id, bytes(64))
    with pytest.raises(SignatureError):
        read_trust(SignedNote(V1.text, (*good, bad)).to_bytes())


def test_unknown_signature_lines_are_ignored() -> None:
    extra = NoteSignature("witness.example/w", b"\x01\x02\x03\x04", bytes(64))
    assert read_trust(SignedNote(V1.text, (*S1.note.signatures, extra)).to_bytes()) == V1


def test_walk_returns_nothing_when_any_step_fails() -> None:
    """State saved before all checks passed (go-tuf CVE-2022-29173): walk hands back the new
    trusted key set only when every step passed, so there is nothing half-checked to save."""
    v3 = keyset(3, V2, [SUCCESSOR, DEPUTY, ATTORNEY])
    bad3 = SignedKeySet.sign(v3, [SUCCESSOR])  # one root: below both thresholds
    trusted = V1
    with pytest.raises(ThresholdError):
        trusted = walk(trusted, [S2, bad3])
    assert trusted == V1


def test_revocations_are_cumulative() -> None:
    rev = Revocation(signer("gone", ORIGIN).verifier(), 5, "key-compromise")
    v2 = keyset(2, V1, [CLERK, DEPUTY, ATTORNEY], revoked=(rev,))
    s2 = SignedKeySet.sign(v2, [CLERK, DEPUTY])
    v3 = keyset(3, v2, [CLERK, DEPUTY, ATTORNEY])
    with pytest.raises(SignatureError, match="revocation"):
        walk(V1, [s2, SignedKeySet.sign(v3, [CLERK, DEPUTY])])
    later = Revocation(rev.key, 9, "key-compromise")
    v3b = keyset(3, v2, [CLERK, DEPUTY, ATTORNEY], revoked=(later,))
    with pytest.raises(SignatureError, match="postpones"):
        walk(V1, [s2, SignedKeySet.sign(v3b, [CLERK, DEPUTY])])


@pytest.mark.parametrize(
    "text",
    [
        "orderarchive/keyset/v2\n{}\n",
        "orderarchive/keyset/v1\n{\"version\": 1}\n",
        "orderarchive/keyset/v1\n{}\n{}\n",
        "orderarchive/keyset/v1\n{\"keys\":[],\"origin\":\"o\",\"prev\":null,\"revoked\":[],"
        "\"thresholds\":{},\"version\":1}\n",
    ],
    ids=["wrong-header", "not-canonical", "two-lines", "no-keys"],
)
def test_malformed_statements_refused(text: str) -> None:
    with pytest.raises(MalformedError):
        KeySet.from_text(text)


def test_threshold_above_holders_refused() -> None:
    with pytest.raises(KeySetFormatError, match="threshold"):
        keyset(1, None, [CLERK], root_t=2)


def test_entry_key_must_be_named_as_the_origin() -> None:
    with pytest.raises(KeySetFormatError, match="named"):
        KeySet.build(
            ORIGIN, version=1, prev=None, keys=[KeyRecord(CLERK.verifier(), (ENTRY, ROOT))],
            thresholds={ROOT: 1, ENTRY: 1},
        )
