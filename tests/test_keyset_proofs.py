"""Offline proofs under key sets (issue 16, the part left open): a proof carries the key-set
entries its release names, each with its inclusion proof, and is checked against the pinned
trust file alone (docs/FORMAT.md "key-set chain", docs/THREATS.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ORIGIN, text_request
from orderarchive.archive import Archive
from orderarchive.errors import OrderArchiveError, RevokedKeyError, VerificationError
from orderarchive.log.keyset import PinnedTrust, read_trust
from orderarchive.log.tlogproof import (
    CHAIN_HEADER,
    ChainLink,
    TlogProof,
    chain_bytes,
    split_chain,
)
from orderarchive.proofs import prove, verify_proof
from test_keyset_log import (
    ATTORNEY,
    CLERK,
    DEPUTY,
    DEPUTY_W,
    NOW,
    PRESS,
    S1,
    SUCCESSOR,
    TRUST,
    WRITER,
    release_2_of_3,
    v2,
)

PINNED = PinnedTrust(read_trust(TRUST, ORIGIN))


def text(n: int) -> bytes:
    return f"Executive order number {n}.\n\nSection 1. The City shall act on item {n}.\n".encode()


def scenario(root: Path) -> tuple[Archive, dict[str, int]]:
    """Version 1 adopted; the deputy signs eo-1; the deputy's key is stolen and the thief
    signs eo-2; version 2 revokes the deputy's key from the theft's index and rotates the
    clerk's writing key to a successor, who signs eo-3; released 2-of-3."""
    a = Archive.init(root, ORIGIN)
    a.add([text_request(0)], WRITER, now=NOW)
    at = {"v1": a.append_keyset(S1, WRITER, now=NOW).seq}
    at["before"] = a.add([text_request(1)], DEPUTY_W, now=NOW)[0].seq
    release_2_of_3(a, WRITER, [CLERK, ATTORNEY])
    at["theft"] = a.add([text_request(2)], DEPUTY_W, now=NOW)[0].seq
    at["v2"] = a.append_keyset(v2(at["theft"]), WRITER, now=NOW).seq
    at["after"] = a.add([text_request(3)], SUCCESSOR, now=NOW)[0].seq
    release_2_of_3(a, SUCCESSOR, [DEPUTY, PRESS])
    return a, at


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Archive, dict[str, int], bytes]:
    a, at = scenario(tmp_path_factory.mktemp("keyproof") / "a")
    history = a.key_history(read_trust(TRUST, ORIGIN))
    return a, at, prove(a, "eo-3", history)


def test_offline_after_rotation(made: tuple[Archive, dict[str, int], bytes]) -> None:
    """eo-3 is signed by the successor, which only version 2 names: the trust file (version
    1) alone verifies it through the proof's chain."""
    _a, at, proof = made
    assert proof.startswith(CHAIN_HEADER.encode() + b"\n")
    links, _ = split_chain(proof)
    assert [link.index for link in links] == [at["v1"], at["v2"]]
    result = verify_proof(text(3), proof, PINNED, origin=ORIGIN)
    assert result.entry.seq == at["after"]
    assert result.entry_signer == SUCCESSOR.verifier()


def test_offline_signed_before_the_revocation_verifies(
    made: tuple[Archive, dict[str, int], bytes],
) -> None:
    a, _at, _ = made
    proof = prove(a, "eo-1", a.key_history(read_trust(TRUST, ORIGIN)))
    result = verify_proof(text(1), proof, PINNED)
    assert result.entry_signer == DEPUTY_W.verifier()


def _forge_for(a: Archive, seq: int, proof: bytes) -> bytes:
    """The proof of *proof*'s release, but for entry *seq*: what a hostile prover builds for
    an entry the archive refuses to prove."""
    from orderarchive.log import merkle

    links, inner = split_chain(proof)
    tp = TlogProof.parse(inner)
    size = tp.parsed_checkpoint()[0].size
    path = merkle.inclusion_proof(seq, size, a.read_hashes)
    return chain_bytes(links) + TlogProof(
        seq, tuple(path), tp.checkpoint, a.entry_bytes(seq, size)
    ).to_bytes()


def test_offline_signed_after_the_revocation_is_refused(
    made: tuple[Archive, dict[str, int], bytes],
) -> None:
    a, at, proof = made
    with pytest.raises(OrderArchiveError):  # the index skips it: not an archived document
        prove(a, "eo-2", a.key_history(read_trust(TRUST, ORIGIN)))
    forged = _forge_for(a, at["theft"], proof)
    with pytest.raises(RevokedKeyError, match="revoked from index"):
        verify_proof(text(2), forged, PINNED)
    # ... while the same forged proof passes with a flat list of the log's keys (no key sets):
    # the chain's revocation is what refuses it.
    flat = [WRITER.verifier(), DEPUTY_W.verifier(), SUCCESSOR.verifier()]
    assert verify_proof(text(2), forged, flat).entry.seq == at["theft"]


def test_a_proof_without_its_chain_is_refused(
    made: tuple[Archive, dict[str, int], bytes],
) -> None:
    _, _, proof = made
    _, inner = split_chain(proof)
    with pytest.raises(VerificationError, match="carries the key sets at \\[\\]"):
        verify_proof(text(3), inner, PINNED)


@pytest.mark.parametrize("change", ["skip-v1", "skip-v2", "repeat", "reorder", "bad-proof",
                                    "other-entry"])
def test_a_chain_that_skips_repeats_or_reorders_is_refused(
    made: tuple[Archive, dict[str, int], bytes], change: str
) -> None:
    a, at, proof = made
    links, inner = split_chain(proof)
    first, second = links
    changed: list[ChainLink]
    if change == "skip-v1":
        changed = [second]
    elif change == "skip-v2":
        changed = [first]
    elif change == "repeat":
        changed = [first, first, second]
    elif change == "reorder":
        changed = [second, first]
    elif change == "bad-proof":  # one hash of the version-2 entry's inclusion proof
        hashes = list(second.proof)
        hashes[0] = bytes(32)
        changed = [first, ChainLink(second.index, second.entry, tuple(hashes))]
    else:  # a document entry carried in place of the key set at its position
        changed = [first, ChainLink(second.index, a.entry_bytes(at["after"]), second.proof)]
    with pytest.raises(OrderArchiveError):
        verify_proof(text(3), chain_bytes(changed) + inner, PINNED)


def test_every_bit_flip_of_an_offline_proof_is_refused(
    made: tuple[Archive, dict[str, int], bytes],
) -> None:
    """XOR 0x01 in every byte of the proof file (chain, entry, hashes, release and its
    signatures): each refused, none a verdict."""
    _, _, proof = made
    verify_proof(text(3), proof, PINNED)
    passed = []
    for offset in range(len(proof)):
        data = bytearray(proof)
        data[offset] ^= 0x01
        try:
            verify_proof(text(3), bytes(data), PINNED)
        except OrderArchiveError:
            continue
        passed.append(offset)
    assert passed == []


def test_a_release_without_the_key_set_line_is_refused_offline(tmp_path: Path) -> None:
    """A release whose checkpoint names no key sets (made before the index): offline there is
    no signed statement of which key sets were in force, so the trust file alone refuses."""
    a = Archive.init(tmp_path / "a", ORIGIN)
    a.add([text_request(0)], WRITER, now=NOW)
    a.release(WRITER)
    a.append_keyset(S1, WRITER, now=NOW)
    a.add([text_request(1)], WRITER, now=NOW)
    plain = prove(a, "eo-0", [WRITER.verifier()])  # release 1: before the key sets
    assert not plain.startswith(CHAIN_HEADER.encode())
    with pytest.raises(VerificationError, match="does not name its log's key sets"):
        verify_proof(text(0), plain, PINNED)


def test_single_key_proofs_are_unchanged(tmp_path: Path) -> None:
    a = Archive.init(tmp_path / "a", ORIGIN)
    a.add([text_request(0)], WRITER, now=NOW)
    a.release(WRITER)
    proof = prove(a, "eo-0", [WRITER.verifier()])
    assert proof.startswith(b"c2sp.org/tlog-proof@v1\n")
    assert TlogProof.parse(proof).to_bytes() == proof


def test_cli_verify_proof_offline_with_the_trust_file(
    made: tuple[Archive, dict[str, int], bytes], tmp_path: Path
) -> None:
    """`verify-proof --trusted-key FILE.trust` in a directory with no archive: official for
    the real proof (exit 0), a one-line failure for the revoked key's and the chainless one."""
    from test_cli import one_line_error, run

    a, at, proof = made
    (tmp_path / "eo-3.txt").write_bytes(text(3))
    (tmp_path / "eo-2.txt").write_bytes(text(2))
    (tmp_path / "orders.trust").write_bytes(TRUST)
    (tmp_path / "eo-3.tlog-proof").write_bytes(proof)
    (tmp_path / "eo-2.tlog-proof").write_bytes(_forge_for(a, at["theft"], proof))
    (tmp_path / "bare.tlog-proof").write_bytes(split_chain(proof)[1])
    r = run("verify-proof", "eo-3.txt", "eo-3.tlog-proof", "--trusted-key", "orders.trust",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "OFFICIAL" in r.stdout and "eo-3" in r.stdout
    assert "revoked" in one_line_error(
        run("verify-proof", "eo-2.txt", "eo-2.tlog-proof", "--trusted-key", "orders.trust",
            cwd=tmp_path), 1)
    one_line_error(run("verify-proof", "eo-3.txt", "bare.tlog-proof", "--trusted-key",
                       "orders.trust", cwd=tmp_path), 1)


def test_evidence_verifies_offline_under_key_sets(
    made: tuple[Archive, dict[str, int], bytes], tmp_path: Path
) -> None:
    from orderarchive.citations.cite import verify_evidence
    from orderarchive.citing import cite, make_evidence
    from test_cli import run

    a, at, _ = made
    history = a.key_history(read_trust(TRUST, ORIGIN))
    evidence = make_evidence(a, cite(a, "eo-3", quote="The City shall act on item 3",
                                     verifiers=history), history)
    result = verify_evidence(evidence, PINNED)
    assert result.entry.seq == at["after"]
    (tmp_path / "e.json").write_bytes(evidence)
    (tmp_path / "orders.trust").write_bytes(TRUST)
    r = run("verify-evidence", "e.json", "--trusted-key", "orders.trust", cwd=tmp_path)
    assert r.returncode == 0, r.stderr


# -- prove --archive URL: the same chain, fetched through the tiles (issue 16 leftover) --------


def rotated(root: Path) -> tuple[Archive, dict[str, int]]:
    """Version 1 adopted; version 2 rotates the writing keys to a successor, who signs eo-3;
    released 2-of-3 (no revocation: a site publishes only entries that verify)."""
    from orderarchive.log.keyset import KeySet, SignedKeySet
    from test_keyset_log import CLERK, THRESHOLDS, V1, records

    a = Archive.init(root, ORIGIN)
    a.add([text_request(0)], WRITER, now=NOW)
    at = {"v1": a.append_keyset(S1, WRITER, now=NOW).seq}
    a.add([text_request(1)], DEPUTY_W, now=NOW)
    release_2_of_3(a, WRITER, [CLERK, ATTORNEY])
    ks = KeySet.build(ORIGIN, version=2, prev=V1.digest, keys=records([SUCCESSOR]),
                      thresholds=THRESHOLDS)
    at["v2"] = a.append_keyset(SignedKeySet.sign(ks, [CLERK, ATTORNEY]), WRITER, now=NOW).seq
    at["after"] = a.add([text_request(3)], SUCCESSOR, now=NOW)[0].seq
    release_2_of_3(a, SUCCESSOR, [DEPUTY, PRESS])
    return a, at


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[Archive, dict[str, int], bytes, Path]:
    """The rotated archive, its local proof of eo-3 and its published site."""
    from orderarchive.publish import publish

    root = tmp_path_factory.mktemp("keysite")
    a, at = rotated(root / "a")
    history = a.key_history(read_trust(TRUST, ORIGIN))
    publish(a, root / "site", history)
    return a, at, prove(a, "eo-3", history), root / "site"


def test_remote_prove_writes_the_local_proof_byte_for_byte(
    published: tuple[Archive, dict[str, int], bytes, Path], tmp_path: Path
) -> None:
    """The site's key-set entries come through its tiles, each checked included in the
    verified release: the remote proof is the local one, and checks offline."""
    from _httpsite import serve
    from orderarchive.remote import prove_remote

    _a, at, proof, site = published
    assert proof.startswith(CHAIN_HEADER.encode())
    with serve(site) as served:
        remote = prove_remote(served.url, "eo-3", PINNED, state=tmp_path / "state")
        # With the log's plain verifier key the chain travels with the proof just the same.
        plain = prove_remote(served.url, "eo-3", [SUCCESSOR.verifier()],
                             state=tmp_path / "state")
    assert remote == proof == plain
    assert [link.index for link in split_chain(remote)[0]] == [at["v1"], at["v2"]]
    assert verify_proof(text(3), remote, PINNED, origin=ORIGIN).entry.seq == at["after"]


def _bundle(site: Path) -> Path:
    (bundle,) = [p for p in (site / "tile" / "entries").rglob("*") if p.is_file()]
    return bundle


def test_cli_remote_prove_with_the_trust_file(
    published: tuple[Archive, dict[str, int], bytes, Path], tmp_path: Path
) -> None:
    """`prove --archive URL --trusted-key FILE.trust` writes the chained proof (exit 0); a
    site serving a wrong or no key-set entry: a one-line error, non-zero exit, no file."""
    import shutil

    from _httpsite import serve
    from test_cli import one_line_error, run

    a, at, proof, published_site = published
    (tmp_path / "orders.trust").write_bytes(TRUST)
    env = {"ORDERARCHIVE_STATE_DIR": str(tmp_path / "state")}
    with serve(published_site) as served:
        r = run("--archive", served.url, "prove", "eo-3", "-o", "eo-3.tlog-proof",
                "--trusted-key", "orders.trust", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "eo-3.tlog-proof").read_bytes() == proof

    for spoil, code in [("wrong", 1), ("missing", 3)]:  # failed check; site unreadable
        name = spoil
        site = tmp_path / name
        shutil.copytree(published_site, site)
        bundle = _bundle(site)
        if spoil == "missing":
            bundle.unlink()
        else:  # the key set version 1 altered in the bundle (same length)
            v1 = a.entry_bytes(at["v1"])
            data = bundle.read_bytes()
            assert v1 in data
            bundle.write_bytes(data.replace(v1, v1.replace(b'"keyset"', b'"keyzet"'), 1))
        with serve(site) as served:
            r = run("--archive", served.url, "prove", "eo-3", "-o", f"{name}.tlog-proof",
                    "--trusted-key", "orders.trust", cwd=tmp_path, env=env)
        line = one_line_error(r, code)
        assert ("leaf hash" if spoil == "wrong" else "not on the server") in line
        assert not (tmp_path / f"{name}.tlog-proof").exists()


def test_remote_prove_with_a_trust_file_of_a_site_without_key_sets(tmp_path: Path) -> None:
    """A trust file cannot check a site whose release names no key sets (nothing signed says
    which were in force): refused, as verify-proof refuses such a proof; no proof returned."""
    from _httpsite import serve
    from orderarchive.publish import publish
    from orderarchive.remote import prove_remote

    a = Archive.init(tmp_path / "a", ORIGIN)
    a.add([text_request(1)], WRITER, now=NOW)
    a.release(WRITER)
    publish(a, tmp_path / "site", [WRITER.verifier()])
    with serve(tmp_path / "site") as served, pytest.raises(
            VerificationError, match="does not name its log's key sets"):
        prove_remote(served.url, "eo-1", PINNED, state=tmp_path / "state")
