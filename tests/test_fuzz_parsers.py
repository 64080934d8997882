"""Fuzzing every parser of untrusted bytes: each must parse or raise an OrderArchiveError.

The modules' own tests fuzz their parsers with random bytes (test_note, test_checkpoint,
test_tlogproof, test_minisign). This suite adds what random bytes rarely reach: mutations of
*valid* files (bit flips, deletions, insertions, duplicated spans, truncations, splices of
two valid files, number fields replaced by hostile numbers) for the parsers of entries, text
layers, evidence files, private key files, the archive config and verifier keys, and for the
signed-note, checkpoint, tlog-proof and minisign parsers as a whole chain (parse, then verify).
Example counts are bounded so that the whole suite stays well under 30 s of CI time.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ORIGIN, text_request
from orderarchive.archive import Archive, Config
from orderarchive.citations.cite import Citation, verify_evidence
from orderarchive.citing import cite, make_evidence
from orderarchive.errors import OrderArchiveError
from orderarchive.log.checkpoint import Checkpoint, open_checkpoint
from orderarchive.log.entry import Entry
from orderarchive.log.keys import SecretKeyFile, seal
from orderarchive.log.minisign import MinisignPublicKey, MinisignSignature, verify
from orderarchive.log.note import SignedNote, Signer, VerifierKey
from orderarchive.log.textlayer import TextLayer
from orderarchive.log.tlogproof import TlogProof
from orderarchive.proofs import export_minisig, minisign_public_key, prove, verify_proof

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

HOSTILE_NUMBERS = [b"2", b"\xc2\xb2", b"-1", b"00", b"4611686018427387904",
                   b"18446744073709551616", b"9" * 40, b"1e9", b"0x10", b"\xd9\xa3"]


def _mutate(data: bytes, draw: st.DrawFn, others: list[bytes]) -> bytes:
    """*data* changed by up to four hostile edits."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(
            ["flip", "delete", "insert", "duplicate", "truncate", "splice", "number", "byte"]
        ))
        at = draw(st.integers(0, len(out))) if out else 0
        if op == "flip" and out:
            i = min(at, len(out) - 1)
            out[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and out:
            out[min(at, len(out) - 1)] = draw(st.sampled_from(b"\x00\n\r\t {}[]\",:\\+-0\x80\xff"))
        elif op == "delete":
            out[at : at + draw(st.integers(1, 64))] = b""
        elif op == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif op == "duplicate":
            span = bytes(out[at : at + draw(st.integers(1, 200))])
            out[at:at] = span
        elif op == "truncate":
            del out[at:]
        elif op == "splice" and others:
            other = draw(st.sampled_from(others))
            cut = draw(st.integers(0, len(other)))
            out[at:] = other[cut:]
        elif op == "number":
            digits = [m.span() for m in re.finditer(rb"[0-9]+", bytes(out))]
            if digits:
                start, end = draw(st.sampled_from(digits))
                out[start:end] = draw(st.sampled_from(HOSTILE_NUMBERS))
    return bytes(out)


def _mutations(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    @st.composite
    def strategy(draw: st.DrawFn) -> bytes:
        return _mutate(draw(st.sampled_from(seeds)), draw, seeds)

    return strategy() | st.binary(max_size=300)


def _only_library_errors(parse: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(OrderArchiveError):  # anything else fails the test
        parse(data)


# -- a small real archive and the files it yields -------------------------------------------


class Corpus:
    def __init__(self, root: Path) -> None:
        self.signer = Signer(name=ORIGIN, seed=bytes(range(32)))
        self.keys = [self.signer.verifier()]
        archive = Archive.init(root / "archive", ORIGIN)
        archive.add([text_request(i) for i in range(3)], self.signer)
        archive.release(self.signer)
        archive.add([text_request(3)], self.signer)
        archive.release(self.signer)
        self.archive = archive
        self.data = text_request(1).data
        self.entries = [archive.entry_bytes(i) for i in range(4)]
        layer = archive.text_layer(archive.entry(1))
        assert layer is not None
        paged = TextLayer.from_pages(["Page one.", "Two\n\nthree"])
        self.layers = [layer.to_bytes(), paged.to_bytes()]
        self.checkpoints = [archive.release_note(3), archive.release_note(4)]
        assert archive.head().note is not None
        self.checkpoints.append(archive.head().note)
        self.proofs = [prove(archive, "eo-1", self.keys), prove(archive, "eo-3", self.keys)]
        citation: Citation = cite(archive, "eo-1", quote="The City shall act on item 1.",
                                  verifiers=self.keys)
        self.evidence = [make_evidence(archive, citation, self.keys)]
        self.minisig = [export_minisig(archive, "eo-1", self.signer)[0].encode()]
        self.minipub = [minisign_public_key(self.signer.verifier()).encode()]
        self.secret = [seal(self.signer, None).to_bytes()]
        self.config = [archive.config.to_bytes()]
        self.vkeys = [self.signer.verifier().to_string().encode()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return Corpus(tmp_path_factory.mktemp("fuzz"))


_CORPUS: dict[str, Corpus] = {}


@pytest.fixture(scope="module", autouse=True)
def _shared(corpus: Corpus) -> None:
    _CORPUS["c"] = corpus


def _c() -> Corpus:
    return _CORPUS["c"]


# Each parser under test takes the whole of an untrusted file's bytes.
PARSERS: dict[str, tuple[Callable[[Corpus], list[bytes]], Callable[[bytes], object]]] = {
    "entry": (lambda c: c.entries, Entry.from_bytes),
    "text-layer": (lambda c: c.layers, TextLayer.from_bytes),
    "signed-note": (lambda c: c.checkpoints, SignedNote.parse),
    "checkpoint-text": (
        lambda c: [SignedNote.parse(n).text.encode() for n in c.checkpoints],
        lambda b: Checkpoint.parse(b.decode("utf-8", "surrogateescape")),
    ),
    "checkpoint-verified": (
        lambda c: c.checkpoints,
        lambda b: open_checkpoint(b, _c().keys, origin=ORIGIN),
    ),
    "tlog-proof": (lambda c: c.proofs, TlogProof.parse),
    "tlog-proof-verified": (
        lambda c: c.proofs[:1],
        lambda b: verify_proof(_c().data, b, _c().keys),
    ),
    "evidence": (lambda c: c.evidence, lambda b: verify_evidence(b, _c().keys)),
    "minisign-signature": (lambda c: c.minisig, MinisignSignature.parse),
    "minisign-verified": (
        lambda c: c.minisig,
        lambda b: verify(b, _c().minipub[0], _prehash()),
    ),
    "minisign-public-key": (lambda c: c.minipub, MinisignPublicKey.parse),
    "secret-key-file": (lambda c: c.secret, SecretKeyFile.from_bytes),
    "config": (lambda c: c.config, Config.from_bytes),
    "verifier-key": (
        lambda c: c.vkeys,
        lambda b: VerifierKey.parse(b.decode("utf-8", "surrogateescape")),
    ),
}


def _prehash() -> object:
    from orderarchive.log.minisign import Prehash

    return Prehash.of(_c().data)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_parser_takes_hostile_bytes(corpus: Corpus, name: str) -> None:
    seeds_of, parse = PARSERS[name]
    seeds = seeds_of(corpus)
    for seed in seeds:
        parse(seed)  # the unmutated files are valid: the fuzzing starts from real inputs

    @FUZZ
    @given(data=_mutations(seeds))
    def run(data: bytes) -> None:
        _only_library_errors(parse, data)

    run()
