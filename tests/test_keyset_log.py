"""Key sets recorded in the log (issue 16 item 2): rotation, revocation by log position, roles.

The scenario: a clerk's archive adopts a key set (root 2-of-3: clerk, deputy, attorney; the
clerk's and the deputy's writing keys), the deputy's writing key is stolen and revoked from
the index of the theft, the clerk's writing key is rotated to a successor. Every verdict is
checked against one pinned trust file (version 1).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from conftest import ORIGIN, text_request
from orderarchive.archive import Archive
from orderarchive.errors import (
    OrderArchiveError,
    RollbackError,
    SignatureError,
    VerificationError,
)
from orderarchive.log.checkpoint import sign_checkpoint
from orderarchive.log.keyset import (
    ENTRY,
    LOG,
    RELEASE,
    ROOT,
    ExpiredKeyError,
    KeyHistory,
    KeyRecord,
    KeySet,
    KeySetFormatError,
    Revocation,
    RevokedKeyError,
    RoleError,
    SignedKeySet,
    ThresholdError,
    cosign,
    read_trust,
)
from orderarchive.log.note import SignedNote, Signer

NOW = datetime(2026, 2, 5, 12, 0, 0, tzinfo=UTC)


def key(label: str, name: str | None = None) -> Signer:
    return Signer(name or f"{ORIGIN}/{label}", (label.encode() * 32)[:32])


CLERK, DEPUTY, ATTORNEY = key("clerk"), key("deputy"), key("attorney")
WRITER, DEPUTY_W, SUCCESSOR = key("writer", ORIGIN), key("deputyw", ORIGIN), key("next", ORIGIN)
PRESS = key("press", ORIGIN)  # named as the origin, but holds only the release role
ROOTS = [CLERK, DEPUTY, ATTORNEY]
THRESHOLDS = {ROOT: 2, RELEASE: 2, ENTRY: 1, LOG: 1}


def records(writers: list[Signer], revoked_pub: set[bytes] = frozenset()) -> list[KeyRecord]:
    out = [KeyRecord(s.verifier(), (RELEASE, ROOT)) for s in ROOTS]
    out += [KeyRecord(w.verifier(), (ENTRY, LOG)) for w in writers]
    out.append(KeyRecord(PRESS.verifier(), (RELEASE,)))
    return [r for r in out if r.key.public_key not in revoked_pub]


V1 = KeySet.build(ORIGIN, version=1, prev=None, keys=records([WRITER, DEPUTY_W]),
                  thresholds=THRESHOLDS)
S1 = SignedKeySet.sign(V1, [CLERK, DEPUTY])
TRUST = S1.to_bytes()


def v2(revoke_at: int) -> SignedKeySet:
    ks = KeySet.build(
        ORIGIN, version=2, prev=V1.digest, keys=records([SUCCESSOR]),
        thresholds=THRESHOLDS,
        revoked=[Revocation(DEPUTY_W.verifier(), revoke_at, "key-compromise")],
    )
    return SignedKeySet.sign(ks, [CLERK, ATTORNEY])


def release_2_of_3(a: Archive, writer: Signer, holders: list[Signer]) -> bytes:
    """Prepare on the writer's machine, co-sign on each holder's, publish."""
    note = a.prepare_release(writer)
    for holder in holders:
        note = cosign(note, holder)
    a.publish_release(note, writer)
    return note


def scenario(root: Path) -> tuple[Archive, dict[str, int]]:
    """Returns the archive and the log index of each step."""
    a = Archive.init(root, ORIGIN)
    a.add([text_request(0)], WRITER, now=NOW)  # before any key set: adopted by version 1
    at = {"v1": a.append_keyset(S1, WRITER, now=NOW).seq}
    at["deputy"] = a.add([text_request(1)], DEPUTY_W, now=NOW)[0].seq
    release_2_of_3(a, WRITER, [CLERK, ATTORNEY])
    at["theft"] = a.head().size
    at["v2"] = a.append_keyset(v2(at["theft"]), WRITER, now=NOW).seq
    at["successor"] = a.add([text_request(2)], SUCCESSOR, now=NOW)[0].seq
    release_2_of_3(a, SUCCESSOR, [DEPUTY, PRESS])
    return a, at


def verified(a: Archive) -> KeyHistory:
    history = a.key_history(read_trust(TRUST, ORIGIN))
    a.verify(history, workers=1)
    return history


def test_scenario_verifies_against_the_pinned_trust_file(tmp_path: Path) -> None:
    a, at = scenario(tmp_path / "a")
    history = verified(a)
    assert history.newest.version == 2
    assert [(i, ks.version) for i, ks in history.holders()] == [(at["v1"], 1), (at["v2"], 2)]
    # which key signed what
    assert a.entry(at["deputy"]).verify(history) == DEPUTY_W.verifier()
    assert a.entry(0).verify(history) == WRITER.verifier()
    assert a.entry(at["successor"]).verify(history) == SUCCESSOR.verifier()


def test_revoked_key_signs_nothing_valid_after_its_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, at = scenario(tmp_path / "a")
    with pytest.raises(RevokedKeyError):  # orderarchive's writer refuses a revoked key ...
        a.add([text_request(3)], DEPUTY_W, now=NOW)
    # ... but the thief runs his own: he appends an entry after the revocation
    with monkeypatch.context() as m:
        m.setattr(KeyHistory, "check_signer", lambda *_: None)
        stolen = a.add([text_request(3)], DEPUTY_W, now=NOW)[0]
    # His checkpoint is refused: the revoked key is no log key any more.
    with pytest.raises(SignatureError):
        a.key_history(read_trust(TRUST, ORIGIN))
    # A checkpoint by a valid log key over his entry (a mirror that took it in) does not
    # make it valid: the entry itself is refused.
    cp = a.head().checkpoint
    assert cp is not None
    (tmp_path / "a/checkpoint").write_bytes(sign_checkpoint(cp, SUCCESSOR))
    history = a.key_history(read_trust(TRUST, ORIGIN))
    with pytest.raises(RevokedKeyError, match="revoked from index"):
        stolen.verify(history)
    # verify lists it as refused, apart: the key set records the theft, the archive is sound
    report = a.audit(history, workers=1)
    assert report.ok, report.problems
    assert [(p.code, p.seq) for p in report.refused] == [("revoked-key", stolen.seq)]
    # and the index (check, quote, list, search) never holds it
    idx = a.index(history)
    try:
        assert idx.by_doc("eo-3") is None
        assert idx.by_doc("eo-1") is not None
    finally:
        idx.close()
    # what the deputy signed before the theft stays valid
    assert a.entry(at["deputy"]).verify(history) == DEPUTY_W.verifier()


def test_backdated_revocation_covers_entries_since_the_theft(tmp_path: Path) -> None:
    a = Archive.init(tmp_path / "a", ORIGIN)
    a.append_keyset(S1, WRITER, now=NOW)
    theft = a.add([text_request(1)], DEPUTY_W, now=NOW)[0].seq  # signed by the thief
    idx = a.index(a.key_history(read_trust(TRUST, ORIGIN)))  # before the revocation
    try:
        assert idx.by_doc("eo-1") is not None
    finally:
        idx.close()
    a.append_keyset(v2(theft), WRITER, now=NOW)
    history = a.key_history(read_trust(TRUST, ORIGIN))
    with pytest.raises(RevokedKeyError):
        a.entry(theft).verify(history)
    idx = a.index(history)  # rebuilt: the revocation changed what it may hold
    try:
        assert idx.by_doc("eo-1") is None
    finally:
        idx.close()


def test_forward_dated_revocation_refused(tmp_path: Path) -> None:
    a = Archive.init(tmp_path / "a", ORIGIN)
    a.append_keyset(S1, WRITER, now=NOW)
    before = (tmp_path / "a/log/entries").read_bytes()
    with pytest.raises(SignatureError, match="after its own"):
        a.append_keyset(v2(a.head().size + 5), WRITER, now=NOW)
    assert (tmp_path / "a/log/entries").read_bytes() == before


def test_rotated_out_key_signs_nothing_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, _ = scenario(tmp_path / "a")
    with pytest.raises(RoleError, match="is not in it"):  # rotated out by version 2
        a.add([text_request(4)], WRITER, now=NOW)
    with monkeypatch.context() as m:
        m.setattr(KeyHistory, "check_signer", lambda *_: None)
        old = a.add([text_request(4)], WRITER, now=NOW)[0]
    with pytest.raises(SignatureError):  # its checkpoint: no log key of version 2 signed it
        a.key_history(read_trust(TRUST, ORIGIN))
    cp = a.head().checkpoint
    assert cp is not None
    (tmp_path / "a/checkpoint").write_bytes(sign_checkpoint(cp, SUCCESSOR))
    history = a.key_history(read_trust(TRUST, ORIGIN))
    with pytest.raises(RoleError, match="is not in it"):
        old.verify(history)
    assert a.entry(0).verify(history) == WRITER.verifier()  # its past stays valid


def test_key_acting_outside_its_role_refused(tmp_path: Path) -> None:
    a, _ = scenario(tmp_path / "a")
    # PRESS may co-sign releases but not write entries (nor checkpoints)
    with pytest.raises(RoleError, match="holds release"):
        a.add([text_request(5)], PRESS, now=NOW)
    rogue = Archive.init(tmp_path / "b", ORIGIN)
    rogue.append_keyset(S1, WRITER, now=NOW)
    entry = rogue.add([text_request(5)], WRITER, now=NOW)[0]
    object.__setattr__(entry, "signer_id", PRESS.verifier().key_hash_hex)
    with pytest.raises(RoleError, match="not entry"):
        entry.verify(rogue.key_history(read_trust(TRUST, ORIGIN)))


def test_log_version_1_must_be_the_pinned_one(tmp_path: Path) -> None:
    a, _ = scenario(tmp_path / "a")
    other = SignedKeySet.sign(
        KeySet.build(ORIGIN, version=1, prev=None, keys=records([WRITER]),
                     thresholds=THRESHOLDS), [CLERK, DEPUTY])
    with pytest.raises(SignatureError, match="not the pinned one"):
        a.key_history(other.keyset)


def test_writer_refuses_a_key_set_that_does_not_follow(tmp_path: Path) -> None:
    a = Archive.init(tmp_path / "a", ORIGIN)
    with pytest.raises(RollbackError):
        a.append_keyset(v2(0), WRITER, now=NOW)  # version 2 first
    a.append_keyset(S1, WRITER, now=NOW)
    with pytest.raises(RollbackError):
        a.append_keyset(S1, WRITER, now=NOW)  # version 1 again
    under = SignedKeySet.sign(v2(1).keyset, [ATTORNEY])
    with pytest.raises(ThresholdError):
        a.append_keyset(under, WRITER, now=NOW)
    assert a.head().size == 1


def test_every_bit_flip_of_a_key_set_entry_is_caught(tmp_path: Path) -> None:
    """The tamper sweep over the key-set entries' bytes: a bit flipped in any byte is caught
    by reading the key sets (the trust walk) or by verify."""
    root = tmp_path / "a"
    a = Archive.init(root, ORIGIN)
    a.append_keyset(S1, WRITER, now=NOW)
    a.add([text_request(1)], DEPUTY_W, now=NOW)
    a.append_keyset(v2(2), WRITER, now=NOW)
    verified(a)
    path = root / "log/entries"
    pristine = path.read_bytes()
    lines = pristine.split(b"\n")
    spans = []
    start = 0
    for line in lines:
        if b',"type":"keyset"' in line:
            spans.append((start, start + len(line)))
        start += len(line) + 1
    assert len(spans) == 2
    flips = 0
    for lo, hi in spans:
        for offset in range(lo, hi):
            # XOR 0x01, the smallest change, as tests/test_tamper.py's sweep flips each byte
            data = bytearray(pristine)
            data[offset] ^= 0x01
            path.write_bytes(bytes(data))
            try:
                history = a.key_history(read_trust(TRUST, ORIGIN))
                ok = a.audit(history, workers=1, check_objects=False).ok
            except OrderArchiveError:
                ok = False
            assert not ok, f"flip at byte {offset} passed"
            flips += 1
    path.write_bytes(pristine)
    verified(a)
    assert flips == sum(hi - lo for lo, hi in spans)


def test_release_needs_the_threshold_of_distinct_release_keys(tmp_path: Path) -> None:
    a = Archive.init(tmp_path / "a", ORIGIN)
    a.append_keyset(S1, WRITER, now=NOW)
    a.add([text_request(1)], WRITER, now=NOW)
    before = sorted(p.name for p in (tmp_path / "a").rglob("*"))
    with pytest.raises(ThresholdError, match="signed by 0"):
        a.release(WRITER)  # the writer alone: no release key
    note = a.prepare_release(WRITER)
    one = cosign(note, CLERK)
    with pytest.raises(ThresholdError, match="signed by 1"):
        a.publish_release(one, WRITER)
    # the same holder twice (a copied line) is one key
    sig = SignedNote.parse(one).signatures[-1]
    doubled = SignedNote.parse(one)
    doubled = SignedNote(doubled.text, (*doubled.signatures, sig))
    with pytest.raises(ThresholdError, match="signed by 1"):
        a.publish_release(doubled.to_bytes(), WRITER)
    # a revoked or foreign key does not count
    with pytest.raises(ThresholdError):
        a.publish_release(cosign(one, key("stranger")), WRITER)
    assert sorted(p.name for p in (tmp_path / "a").rglob("*")) == before
    assert cosign(one, CLERK) == one  # re-signing replaces the holder's line
    release = a.publish_release(cosign(one, ATTORNEY), WRITER)
    assert release.created
    verified(a)


def test_a_release_file_short_of_the_threshold_fails_verify(tmp_path: Path) -> None:
    a = Archive.init(tmp_path / "a", ORIGIN)
    a.append_keyset(S1, WRITER, now=NOW)
    a.add([text_request(1)], WRITER, now=NOW)
    note = release_2_of_3(a, WRITER, [CLERK, ATTORNEY])
    verified(a)
    parsed = SignedNote.parse(note)
    short = SignedNote(parsed.text, parsed.signatures[:2])  # the writer's and the clerk's
    (tmp_path / "a/releases/2").write_bytes(short.to_bytes())
    report = a.audit(a.key_history(read_trust(TRUST, ORIGIN)), workers=1)
    assert not report.ok
    assert any("release 2" in p.message and "needed" in p.message for p in report.problems)


def test_a_stale_prepared_release_is_refused(tmp_path: Path) -> None:
    a = Archive.init(tmp_path / "a", ORIGIN)
    a.append_keyset(S1, WRITER, now=NOW)
    note = cosign(cosign(a.prepare_release(WRITER), CLERK), DEPUTY)
    a.add([text_request(1)], WRITER, now=NOW)
    with pytest.raises(VerificationError, match="not the release of the current tree"):
        a.publish_release(note, WRITER)


def test_expiry_applies_to_entries_recorded_after_it(tmp_path: Path) -> None:
    expiring = KeySet.build(
        ORIGIN, version=1, prev=None, thresholds=THRESHOLDS,
        keys=[*(r for r in records([WRITER]) if r.key != WRITER.verifier()),
              KeyRecord(WRITER.verifier(), (ENTRY, LOG), "2026-03-01T00:00:00Z")],
    )
    signed = SignedKeySet.sign(expiring, [CLERK, DEPUTY])
    a = Archive.init(tmp_path / "a", ORIGIN)
    a.append_keyset(signed, WRITER, now=NOW)
    before = a.add([text_request(1)], WRITER, now=NOW)[0]
    late = datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(ExpiredKeyError):  # the writer refuses
        a.add([text_request(2)], WRITER, now=late)
    history = a.key_history(read_trust(signed.to_bytes(), ORIGIN))
    assert before.verify(history) == WRITER.verifier()
    forged = attrs.evolve(before, recorded="2026-03-01T00:00:00Z")
    with pytest.raises(ExpiredKeyError, match="expired 2026-03-01"):
        forged.verify(history)
    with pytest.raises(KeySetFormatError, match="expires"):
        KeySet.from_text(expiring.text.replace("2026-03-01T00:00:00Z", "2026-03-01"))
