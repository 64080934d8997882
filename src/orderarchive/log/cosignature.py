"""Witness cosignatures (c2sp.org/tlog-cosignature v1, signature type ``0x04``) and witness
policies.

A witness cosigns a checkpoint to say "as of time T, this is the largest tree I have seen for
this origin, and it extends every tree I cosigned before". The bytes, all from the spec:

* key ID = SHA-256(name || 0x0A || 0x04 || 32-byte Ed25519 public key)[:4];
* the verifier key is ``<name>+<8 hex key ID>+base64(0x04 || public key)``;
* the signed message is ``cosignature/v1\\ntime <T>\\n`` followed by the checkpoint's note
  text (with its extension lines, without its signature lines);
* the signature line is ``— <name> base64(key ID || uint64 big-endian T || Ed25519 sig)``.

Verification of such a line lives in :mod:`.note` (a :class:`~.note.VerifierKey` of type
``0x04``), so a cosigned checkpoint opens with one note verifier, as Go's ``note.Open`` does
with a 0x04 verifier. This module adds the signing side and the verifier's *policy*: which
witness keys count and how many distinct ones must have cosigned (Sigsum's "quorum").

Pure: no I/O. Time is injectable (``now``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence

import attrs

from ..errors import NoteFormatError, SignatureError, UntrustedKeyError
from ..errors import TooFewCosignaturesError as TooFewCosignaturesError  # noqa: PLC0414 (defined in errors.py)
from .checkpoint import Checkpoint, open_checkpoint, signers_of
from .note import (
    ALG_COSIGNATURE_V1,
    ED25519_KEY_SIZE,
    NoteSignature,
    SignedNote,
    Signer,
    VerifierKey,
    _check_name,
    key_id,
)

__all__ = [
    "MAX_COSIGNATURE_TIMESTAMP",
    "MAX_FUTURE_SKEW",
    "CosignedCheckpoint",
    "Cosigner",
    "TooFewCosignaturesError",
    "WitnessEntry",
    "WitnessPolicy",
    "add_cosignatures",
    "cosignature_message",
    "cosignature_timestamp",
    "open_cosigned",
]

#: tlog-cosignature "Format": the timestamp is a uint64 that MUST be at most 2^63-1.
MAX_COSIGNATURE_TIMESTAMP = 2**63 - 1
#: A cosignature dated further in the future than this (seconds) is refused: verifiers MAY
#: reject future timestamps (tlog-cosignature), and a witness clock off by a day is broken.
MAX_FUTURE_SKEW = 24 * 3600
_TIMESTAMP_SIZE = 8
#: A policy names at most this many witnesses (a note holds at most 100 signature lines).
MAX_POLICY_WITNESSES = 64
MAX_POLICY_BYTES = 64 * 1024
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}", re.ASCII)



def cosignature_message(timestamp: int, note_text: str) -> bytes:
    """tlog-cosignature "Ed25519 signed message": header, time line, then the note text."""
    if isinstance(timestamp, bool) or not 0 <= timestamp <= MAX_COSIGNATURE_TIMESTAMP:
        raise NoteFormatError(f"cosignature timestamp {timestamp} is outside 0..2**63-1")
    return b"cosignature/v1\ntime %d\n" % timestamp + note_text.encode("utf-8")


def cosignature_timestamp(sig: NoteSignature) -> int:
    """The time a cosignature line claims (seconds since the epoch), unverified."""
    if len(sig.signature) != _TIMESTAMP_SIZE + 64:
        raise NoteFormatError(f"cosignature by {sig.name} has {len(sig.signature)} bytes, not 72")
    return int.from_bytes(sig.signature[:_TIMESTAMP_SIZE], "big")


def _check_cosigner(instance: Cosigner, _attribute: object, _value: bytes) -> None:
    _check_name(instance.name)
    if len(instance.seed) != ED25519_KEY_SIZE:
        raise NoteFormatError(f"Ed25519 seed has {len(instance.seed)} bytes, not 32")


@attrs.frozen
class Cosigner:
    """A witness's signing key: a key name (the witness's identity) and a 32-byte seed.

    Ed25519 cosignatures do not commit to the witness name, so one key serves one witness
    name only (tlog-cosignature "Format"). The seed is kept out of ``repr``.
    """

    name: str
    seed: bytes = attrs.field(repr=False, validator=_check_cosigner)

    @classmethod
    def generate(cls, name: str) -> Cosigner:
        _check_name(name)
        return cls(name, Signer.generate(name).seed)

    @property
    def public_key(self) -> bytes:
        return Signer(self.name, self.seed).public_key

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, bytes([ALG_COSIGNATURE_V1]) + self.public_key)

    def verifier(self) -> VerifierKey:
        """The witness's verifier key, ``name+<hex id>+base64(0x04 || key)``."""
        return VerifierKey.from_public_key(self.name, self.public_key, ALG_COSIGNATURE_V1)

    def cosign(self, note_text: str, timestamp: int) -> NoteSignature:
        """The cosignature line (as a :class:`NoteSignature`) on a checkpoint's note text."""
        message = cosignature_message(timestamp, note_text)
        sig = Signer(self.name, self.seed).sign(message)
        return NoteSignature(self.name, self.key_id, timestamp.to_bytes(8, "big") + sig)


@attrs.frozen
class WitnessEntry:
    """One witness in a policy: its 0x04 verifier key and, for clerks, where to reach it."""

    key: VerifierKey
    url: str | None = None

    @property
    def name(self) -> str:
        return self.key.name


def _entries(value: Iterable[WitnessEntry]) -> tuple[WitnessEntry, ...]:
    return tuple(value)


def _check_policy(instance: WitnessPolicy, _attribute: object, _value: int) -> None:
    if not instance.witnesses:
        raise NoteFormatError("a witness policy names no witness")
    if len(instance.witnesses) > MAX_POLICY_WITNESSES:
        raise NoteFormatError(f"a witness policy names more than {MAX_POLICY_WITNESSES} witnesses")
    names: set[str] = set()
    ids: set[tuple[str, bytes]] = set()
    for w in instance.witnesses:
        if w.key.key_type != ALG_COSIGNATURE_V1:
            raise NoteFormatError(
                f"witness key {w.name} is not a cosignature key (type 0x04)",
                hint="witness keys look like name+hex+BASE64 where the key data starts with 0x04",
            )
        if w.name in names or (w.name, w.key.id) in ids:
            raise NoteFormatError(f"witness {w.name} is named twice in the policy")
        names.add(w.name)
        ids.add((w.name, w.key.id))
    if isinstance(instance.quorum, bool) or not 1 <= instance.quorum <= len(instance.witnesses):
        raise NoteFormatError(
            f"quorum {instance.quorum} is not between 1 and the {len(instance.witnesses)} "
            "witnesses named"
        )


@attrs.frozen
class WitnessPolicy:
    """Which witnesses count and how many distinct ones must have cosigned (k of n).

    Text form (one item a line; ``#`` starts a comment; from Sigsum's policy grammar)::

        witness <vkey> [<url>]
        quorum <k>

    Without a ``quorum`` line every witness named is required. The clerk reads the same file
    to know where to send checkpoints (the URLs); a verifier ignores the URLs. A policy is
    the *user's* trust decision: nothing reads it from an archive under test.
    """

    witnesses: tuple[WitnessEntry, ...] = attrs.field(converter=_entries)
    quorum: int = attrs.field(validator=_check_policy)

    @classmethod
    def parse(cls, text: str) -> WitnessPolicy:
        if len(text) > MAX_POLICY_BYTES:
            raise NoteFormatError("witness policy is too large")
        witnesses: list[WitnessEntry] = []
        quorum: int | None = None
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            word, *args = line.split()
            where = f"witness policy line {number}"
            if word == "witness" and len(args) in (1, 2):
                try:
                    key = VerifierKey.parse(args[0])
                except NoteFormatError as e:
                    raise NoteFormatError(f"{where}: {e}") from e
                url = args[1] if len(args) == 2 else None
                if url is not None and not url.startswith(("http://", "https://")):
                    raise NoteFormatError(f"{where}: witness URL {url!r} is not http(s)")
                witnesses.append(WitnessEntry(key, url))
            elif word == "quorum" and len(args) == 1 and quorum is None:
                if _DECIMAL.fullmatch(args[0]) is None:
                    raise NoteFormatError(f"{where}: quorum {args[0]!r} is not a number")
                quorum = int(args[0])
            else:
                raise NoteFormatError(
                    f"{where}: expected 'witness <vkey> [<url>]' or one 'quorum <k>'"
                )
        try:
            return cls(witnesses, len(witnesses) if quorum is None else quorum)
        except NoteFormatError as e:
            raise NoteFormatError(f"witness policy: {e}") from e

    def to_text(self) -> str:
        lines = [
            f"witness {w.key}" + (f" {w.url}" if w.url else "") for w in self.witnesses
        ]
        return "".join(f"{line}\n" for line in [*lines, f"quorum {self.quorum}"])

    @property
    def keys(self) -> tuple[VerifierKey, ...]:
        return tuple(w.key for w in self.witnesses)


@attrs.frozen
class CosignedCheckpoint:
    """A checkpoint whose log signature and policy cosignatures verified."""

    checkpoint: Checkpoint
    note: SignedNote
    #: The witnesses whose cosignature verified, with the time each claims, in policy order.
    cosigned_by: tuple[tuple[VerifierKey, int], ...]
    quorum: int

    def to_dict(self) -> dict[str, object]:
        return {
            "quorum": self.quorum,
            "cosigned_by": [
                {"witness": key.name, "key": str(key), "time": ts} for key, ts in self.cosigned_by
            ],
        }


def open_cosigned(
    data: bytes,
    log_keys: Sequence[VerifierKey],
    policy: WitnessPolicy,
    *,
    origin: str | None = None,
    now: int | None = None,
) -> CosignedCheckpoint:
    """Verify a checkpoint's log signature and require *policy*'s quorum of cosignatures.

    Every line by a known key must verify (one bad cosignature rejects the whole note, as in
    signed-note); each witness counts once however many lines it has (a repeated line must
    not pad the quorum, cf. tough CVE-2026-6966); a cosignature dated more than
    :data:`MAX_FUTURE_SKEW` after *now* is refused.
    """
    log_only = [k for k in log_keys if k.key_type != ALG_COSIGNATURE_V1]
    # The one checkpoint check (open_checkpoint) with the witness keys supplied too: every line
    # by a log or policy key must verify, and some verified line must be named after the origin.
    cp, note = open_checkpoint(data, [*log_only, *policy.keys], origin=origin)
    # ... by a *log* key: a policy witness that named itself after the origin must not stand
    # in for the log's own signature.
    if not any(k.name == cp.origin for k in signers_of(note, log_only)):
        raise UntrustedKeyError(
            f"checkpoint for {cp.origin!r} has no valid signature by a key named after its origin",
            hint="pass the log's verifier key (its name is the log's origin)",
        )
    cosigners = signers_of(note, policy.keys)
    clock = int(time.time()) if now is None else now
    cosigned: list[tuple[VerifierKey, int]] = []
    for w in policy.witnesses:
        if w.key not in cosigners:
            continue
        stamps = [
            cosignature_timestamp(s)
            for s in note.signatures
            if s.name == w.key.name and s.key_id == w.key.id
        ]
        latest = max(stamps)
        if latest > clock + MAX_FUTURE_SKEW:
            raise SignatureError(
                f"cosignature by witness {w.name} is dated in the future ({latest}, now {clock})"
            )
        cosigned.append((w.key, latest))
    if len(cosigned) < policy.quorum:
        names = ", ".join(key.name for key, _ in cosigned) or "none"
        raise TooFewCosignaturesError(
            f"checkpoint {cp.origin} size {cp.size} has {len(cosigned)} of the "
            f"{policy.quorum} witness cosignatures the policy requires (cosigned by: {names})",
            have=len(cosigned),
            need=policy.quorum,
        )
    return CosignedCheckpoint(cp, note, tuple(cosigned), policy.quorum)


def add_cosignatures(note: bytes, lines: bytes) -> bytes:
    """*note* with the cosignature *lines* (each ``— ...\\n``) appended, re-parsed strictly.

    Lines already present are not repeated."""
    parsed = SignedNote.parse(note)
    extra = SignedNote.parse(b"x\n\n" + lines).signatures if lines else ()
    merged = list(parsed.signatures)
    for sig in extra:
        if sig not in merged:
            merged.append(sig)
    return SignedNote(parsed.text, merged).to_bytes()
