"""Key sets: who may sign what for a log, versioned, each version signed into force by the last.

A key set is a C2SP signed note (:mod:`.note`) whose text is a header line and one line of
canonical JSON (:mod:`.canonical`)::

    orderarchive/keyset/v1
    {"keys":[{"key":"<vkey>","roles":["entry","log","release","root"]}, ...],
     "origin":"<origin>","prev":"<hex SHA-256 of version N-1's text>"|null,
     "revoked":[{"index":<log index>,"key":"<vkey>","reason":"<text>"}, ...],
     "thresholds":{"entry":1,"log":1,"release":2,"root":2},"version":<N>}

followed by the blank line and signature lines (``— <key name> base64(key ID || sig)``), one
per root key that signed it. docs/FORMAT.md §23 gives every byte.

Roles: ``root`` changes the key set, ``entry`` signs documents, ``release`` signs releases,
``log`` signs checkpoints. ``entry`` and ``log`` keys are named after the origin, because an
entry names its signer and a checkpoint's log signature is by the key named as the origin
(tlog-checkpoint).

The rules are TUF's root rotation (specification 1.0.x §5.3.4-5.3.5 "Update the root role"),
with the lessons of its implementations' failures built in:

* version N+1 is valid only when signed by a threshold of version N's root keys *and* a
  threshold of its own root keys;
* its version must be *exactly* N+1 (tough CVE-2025-2885 accepted any version >= N);
* ``prev`` names the SHA-256 of version N's text, so a version cannot be grafted on another
  history;
* a key counts once toward a threshold however many lines it signed (a signature repeated to
  reach a threshold; tough's delegated-role threshold bug);
* there is no default trusted version: a walk starts from a key set the caller holds (go-tuf
  CVE-2022-29173 compared against version 0 when its trusted state was not loaded), and the
  result is returned, never stored, so a caller persists only after every check passed
  (:class:`TrustFile` writes once, at the end);
* revocations are cumulative: a later version cannot silently drop one (un-revoking a stolen
  key would let it sign again).

Version 1 is signed by a threshold of its own root keys only; it is what a verifier pins
(the trust file). The signature on the note text is domain-separated from every other
signature of the same key by its header line: no checkpoint, entry or release text begins
with ``orderarchive/keyset/v1``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from .. import canonical
from ..errors import (
    CanonicalJSONError,
    ExpiredKeyError,
    KeySetFormatError,
    MalformedError,
    NoteFormatError,
    RevokedKeyError,
    RoleError,
    RollbackError,
    SignatureError,
    ThresholdError,
)
from .checkpoint import Checkpoint, open_checkpoint
from .note import ALG_ED25519, NoteSignature, SignedNote, Signer, VerifierKey

__all__ = [
    "HEADER",
    "ROLES",
    "ExpiredKeyError",
    "KeyRecord",
    "KeySet",
    "KeySetFormatError",
    "PinnedTrust",
    "Revocation",
    "RevokedKeyError",
    "RoleError",
    "SignedKeySet",
    "ThresholdError",
    "signers_among",
    "verify_first",
    "verify_successor",
    "walk",
]

HEADER = "orderarchive/keyset/v1"
ROOT, ENTRY, RELEASE, LOG = "root", "entry", "release", "log"
ROLES = (ROOT, ENTRY, RELEASE, LOG)
#: A key set names at most this many keys and revocations (a hostile file stays small).
MAX_KEYS = 64
MAX_REVOKED = 1024
MAX_REASON = 200
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")




def _hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@attrs.frozen
class KeyRecord:
    """One key of a key set, the roles it holds and, optionally, when it expires: it signs no
    entry recorded (the entry's ``recorded`` time) at or after *expires*."""

    key: VerifierKey
    roles: tuple[str, ...]
    expires: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"key": self.key.to_string(), "roles": list(self.roles)}
        if self.expires is not None:
            d["expires"] = self.expires
        return d


@attrs.frozen
class Revocation:
    """A key that signs nothing valid at or after log index *index*."""

    key: VerifierKey
    index: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "key": self.key.to_string(), "reason": self.reason}


def _vkey(text: object, where: str) -> VerifierKey:
    if not isinstance(text, str):
        raise KeySetFormatError(f"key set: {where} is not a verifier key string")
    try:
        key = VerifierKey.parse(text)
    except NoteFormatError as e:
        raise KeySetFormatError(f"key set: {where}: {e}") from e
    if key.key_type != ALG_ED25519:
        raise KeySetFormatError(f"key set: {where} is not a plain Ed25519 key (type 0x01)")
    return key


def _int(value: object, where: str, low: int = 0) -> int:
    if type(value) is not int or value < low:
        raise KeySetFormatError(f"key set: {where} is not an integer >= {low}")
    return value


def _records(raw_keys: object, origin: str) -> list[KeyRecord]:
    if not isinstance(raw_keys, list) or not raw_keys or len(raw_keys) > MAX_KEYS:
        raise KeySetFormatError(f"key set: keys is not a list of 1 to {MAX_KEYS} keys")
    records: list[KeyRecord] = []
    seen: set[bytes] = set()
    for i, k in enumerate(raw_keys):
        if not isinstance(k, dict) or not {"key", "roles"} <= set(k) <= {
            "key", "roles", "expires"
        }:
            raise KeySetFormatError(f"key set: keys[{i}] is not {{key, roles[, expires]}}")
        expires = k.get("expires")
        if expires is not None and (
            not isinstance(expires, str) or _TIME.fullmatch(expires) is None
        ):
            raise KeySetFormatError(f"key set: keys[{i}] expires is not YYYY-MM-DDTHH:MM:SSZ")
        key = _vkey(k["key"], f"keys[{i}]")
        roles = k["roles"]
        if (
            not isinstance(roles, list)
            or not roles
            or any(r not in ROLES for r in roles)
            or roles != sorted(set(roles))
        ):
            raise KeySetFormatError(
                f"key set: keys[{i}] roles are not a sorted list of {', '.join(ROLES)}"
            )
        if (ENTRY in roles or LOG in roles) and key.name != origin:
            raise KeySetFormatError(
                f"key set: {key.name!r} holds the entry or log role but is not named "
                f"as the origin {origin!r}"
            )
        # A public key counts once whatever name it is listed under: two names for one
        # key would let one signer count twice toward a threshold.
        if key.public_key in seen:
            raise KeySetFormatError(f"key set: key {key} is listed twice")
        seen.add(key.public_key)
        records.append(KeyRecord(key, tuple(roles), expires))
    if [r.key.to_string() for r in records] != sorted(r.key.to_string() for r in records):
        raise KeySetFormatError("key set: keys are not sorted")
    return records


def _revocations(raw_revoked: object, seen: set[bytes]) -> list[Revocation]:
    if not isinstance(raw_revoked, list) or len(raw_revoked) > MAX_REVOKED:
        raise KeySetFormatError("key set: revoked is not a list")
    revoked: list[Revocation] = []
    for i, r in enumerate(raw_revoked):
        if not isinstance(r, dict) or set(r) != {"index", "key", "reason"}:
            raise KeySetFormatError(f"key set: revoked[{i}] is not {{index, key, reason}}")
        key = _vkey(r["key"], f"revoked[{i}]")
        reason = r["reason"]
        if not isinstance(reason, str) or len(reason) > MAX_REASON:
            raise KeySetFormatError(f"key set: revoked[{i}] reason is not a short string")
        if key.public_key in seen:
            raise KeySetFormatError(f"key set: revoked key {key} is still listed")
        revoked.append(Revocation(key, _int(r["index"], f"revoked[{i}] index"), reason))
    if len({r.key.public_key for r in revoked}) != len(revoked):
        raise KeySetFormatError("key set: a key is revoked twice")
    return revoked


@attrs.frozen
class KeySet:
    """The statement of one key set version (unsigned). Build with :meth:`build` or
    :meth:`from_text`; :attr:`text` is the exact note text that its signatures cover."""

    origin: str
    version: int
    prev: str | None
    keys: tuple[KeyRecord, ...]
    thresholds: Mapping[str, int] = attrs.field(eq=False)
    revoked: tuple[Revocation, ...]
    text: str

    @classmethod
    def build(
        cls,
        origin: str,
        *,
        version: int,
        prev: str | None,
        keys: Iterable[KeyRecord],
        thresholds: Mapping[str, int],
        revoked: Iterable[Revocation] = (),
    ) -> KeySet:
        """A key set from its parts, checked as :meth:`from_text` checks stored ones."""
        body = {
            "keys": [k.to_dict() for k in sorted(keys, key=lambda k: k.key.to_string())],
            "origin": origin,
            "prev": prev,
            "revoked": [r.to_dict() for r in revoked],
            "thresholds": dict(thresholds),
            "version": version,
        }
        try:
            line = canonical.dumps(body).decode("utf-8")
        except CanonicalJSONError as e:
            raise KeySetFormatError(f"key set: {e}") from e
        return cls.from_text(f"{HEADER}\n{line}\n")

    @classmethod
    def from_text(cls, text: str) -> KeySet:
        """Parse and check a key set statement (no signature check)."""
        header, sep, rest = text.partition("\n")
        if header != HEADER or not sep:
            raise KeySetFormatError(f"not a key set (first line is not {HEADER!r})")
        if not rest.endswith("\n") or "\n" in rest[:-1]:
            raise KeySetFormatError("key set: the statement is not one line of JSON")
        try:
            d = canonical.loads(rest[:-1].encode("utf-8"))
        except CanonicalJSONError as e:
            raise KeySetFormatError(f"key set is not canonical JSON: {e}") from e
        if not isinstance(d, dict):
            raise KeySetFormatError("key set is not a JSON object")
        extra = set(d) - {"keys", "origin", "prev", "revoked", "thresholds", "version"}
        if extra:
            raise KeySetFormatError(f"key set: unknown members {sorted(extra)}")
        origin = d.get("origin")
        if not isinstance(origin, str) or not origin:
            raise KeySetFormatError("key set: origin missing")
        version = _int(d.get("version"), "version", 1)
        prev = d.get("prev")
        if version == 1 and prev is not None:
            raise KeySetFormatError("key set: version 1 names a previous version")
        if version > 1 and (not isinstance(prev, str) or _HEX64.fullmatch(prev) is None):
            raise KeySetFormatError("key set: prev is not the hex SHA-256 of version N-1")
        records = _records(d.get("keys"), origin)
        seen = {r.key.public_key for r in records}
        thresholds = d.get("thresholds")
        if not isinstance(thresholds, dict) or set(thresholds) - set(ROLES):
            raise KeySetFormatError("key set: thresholds is not an object of roles")
        for role in ROLES:
            holders = sum(role in r.roles for r in records)
            if holders == 0:
                if role == ROOT:
                    raise KeySetFormatError("key set: no root key")
                if role in thresholds:
                    raise KeySetFormatError(f"key set: threshold for {role}, which no key holds")
                continue
            t = _int(thresholds.get(role), f"threshold of {role}", 1)
            if t > holders:
                raise KeySetFormatError(
                    f"key set: threshold {t} of {role} is more than its {holders} keys"
                )
        revoked = _revocations(d.get("revoked"), seen)
        return cls(origin, version, prev, tuple(records), thresholds, tuple(revoked), text)

    @property
    def digest(self) -> str:
        """The hex SHA-256 of the statement text: what version N+1's ``prev`` names."""
        return _hex(self.text.encode("utf-8"))

    def keys_for(self, role: str) -> tuple[VerifierKey, ...]:
        return tuple(r.key for r in self.keys if role in r.roles)

    def threshold(self, role: str) -> int:
        """The number of distinct keys of *role* that must sign (0: the role has no keys)."""
        return int(self.thresholds.get(role, 0))

    def roles_of(self, key: VerifierKey) -> tuple[str, ...]:
        for r in self.keys:
            if r.key == key:
                return r.roles
        return ()

    def revocation_of(self, key: VerifierKey) -> Revocation | None:
        for r in self.revoked:
            if r.key.public_key == key.public_key:
                return r
        return None


@attrs.frozen
class SignedKeySet:
    """A key set statement with its signature lines (parsing verifies nothing)."""

    keyset: KeySet
    note: SignedNote

    @classmethod
    def parse(cls, data: bytes) -> SignedKeySet:
        try:
            note = SignedNote.parse(data)
        except NoteFormatError as e:
            raise KeySetFormatError(f"key set is not a signed note: {e}") from e
        return cls(KeySet.from_text(note.text), note)

    @classmethod
    def sign(cls, keyset: KeySet, signers: Sequence[Signer]) -> SignedKeySet:
        note = SignedNote(keyset.text, (_sig(keyset.text, signers[0]),))
        return cls(keyset, note).cosign(signers[1:]) if len(signers) > 1 else cls(keyset, note)

    def cosign(self, signers: Sequence[Signer]) -> SignedKeySet:
        """This key set with a signature line by each of *signers* added (or replaced)."""
        return SignedKeySet(self.keyset, self.note.add_signatures(signers))

    def to_bytes(self) -> bytes:
        return self.note.to_bytes()


def _sig(text: str, signer: Signer) -> NoteSignature:
    return NoteSignature(signer.name, signer.key_id, signer.sign(text.encode("utf-8")))


def signers_among(note: SignedNote, keys: Sequence[VerifierKey]) -> tuple[VerifierKey, ...]:
    """The distinct keys of *keys* that signed *note*.

    Every line by one of *keys* (name and key ID match) must verify, else the whole note is
    refused (signed-note "Signatures"); lines by other keys are ignored. A key that signed on
    several lines appears once: thresholds count keys, not lines.
    """
    known = {(k.name, k.id): k for k in keys}
    message = note.text.encode("utf-8")
    found: list[VerifierKey] = []
    seen: set[bytes] = set()
    for sig in note.signatures:
        key = known.get((sig.name, sig.key_id))
        if key is None:
            continue
        if not key.verify(message, sig.signature):
            raise SignatureError(f"invalid signature by {key.name}+{key.key_hash_hex}")
        if key.public_key not in seen:
            seen.add(key.public_key)
            found.append(key)
    return tuple(found)


def check_threshold(
    note: SignedNote, keys: Sequence[VerifierKey], threshold: int, what: str
) -> tuple[VerifierKey, ...]:
    """The distinct signers of *note* among *keys*; :class:`ThresholdError` below *threshold*."""
    found = signers_among(note, keys)
    if threshold < 1 or len(found) < threshold:
        raise ThresholdError(
            f"{what}: signed by {len(found)} of the {len(keys)} keys, {threshold} needed"
        )
    return found


def verify_first(signed: SignedKeySet, origin: str | None = None) -> KeySet:
    """Version 1, signed by a threshold of its own root keys: what a verifier pins."""
    ks = signed.keyset
    if origin is not None and ks.origin != origin:
        raise SignatureError(f"key set is for {ks.origin!r}, not {origin!r}")
    if ks.version != 1:
        raise RollbackError(f"a pinned key set must be version 1, not {ks.version}")
    check_threshold(signed.note, ks.keys_for(ROOT), ks.threshold(ROOT), "key set version 1")
    return ks


def verify_successor(trusted: KeySet, candidate: SignedKeySet) -> KeySet:
    """*candidate*, if it is exactly the next version after *trusted* and signed into force
    (TUF §5.3.4-5.3.5); raises otherwise. Nothing is stored: the caller persists the result
    only after the whole walk passed."""
    ks = candidate.keyset
    if ks.origin != trusted.origin:
        raise SignatureError(f"key set is for {ks.origin!r}, not {trusted.origin!r}")
    if ks.version <= trusted.version:
        raise RollbackError(
            f"key set version {ks.version} is not newer than the trusted version "
            f"{trusted.version} (rollback)"
        )
    if ks.version != trusted.version + 1:
        raise RollbackError(
            f"key set version {ks.version} skips versions: the next must be exactly "
            f"{trusted.version + 1}"
        )
    if ks.prev is None or not hmac.compare_digest(ks.prev, trusted.digest):
        raise RollbackError(
            f"key set version {ks.version} does not name version {trusted.version} "
            f"(prev {ks.prev}, want {trusted.digest})"
        )
    for old in trusted.revoked:
        new = ks.revocation_of(old.key)
        if new is None or new.index > old.index:
            raise SignatureError(
                f"key set version {ks.version} drops or postpones the revocation of {old.key}"
            )
    what = f"key set version {ks.version}"
    check_threshold(
        candidate.note, trusted.keys_for(ROOT), trusted.threshold(ROOT),
        f"{what} (root keys of version {trusted.version})",
    )
    check_threshold(candidate.note, ks.keys_for(ROOT), ks.threshold(ROOT), f"{what} (own root)")
    return ks


def walk(trusted: KeySet, chain: Sequence[SignedKeySet]) -> KeySet:
    """The newest key set reached from *trusted* through *chain* (each exactly the next);
    *trusted* itself when *chain* is empty. Any failure raises and nothing is returned."""
    current = trusted
    for signed in chain:
        current = verify_successor(current, signed)
    return current


def read_trust(data: bytes, origin: str | None = None) -> KeySet:
    """The pinned key set of a trust file: the exact bytes of a version-1 key set, signed by
    a threshold of its own root keys (docs/FORMAT.md §23). A trust file that is missing,
    unreadable or of another version is an error, never a default (go-tuf CVE-2022-29173)."""
    return verify_first(SignedKeySet.parse(data), origin)





class KeyHistory(Sequence[VerifierKey]):
    """The key sets of one log in log order, walked from a pinned version 1: who held which
    role at each log index, and which keys are revoked from which index on.

    Time is log position, not a signer's clock (Sigstore's trusted root ties validity to log
    integration): the key set *in force* at index i is the newest one recorded at an index
    below i (the pinned version 1 before any is recorded); an entry at i is valid when its
    signer holds ``entry`` in that key set and no key set up to the verified checkpoint
    revokes the signer from an index <= i. A key dropped from a later key set (rotated out)
    keeps what it signed before; a revoked key keeps only what it signed before its index.

    As a sequence it holds the log keys of the newest key set and of earlier ones (checkpoints
    and releases are checked with them), revoked keys excluded; :meth:`entry_keys` gives
    the precise per-index answer that :meth:`Entry.verify` asks for.
    """

    def __init__(
        self,
        pinned: KeySet,
        steps: Sequence[tuple[int, KeySet]] = (),
        pinned_index: int | None = None,
    ) -> None:
        self.pinned = pinned
        self.pinned_index = pinned_index
        self.steps = tuple(steps)
        newest = self.newest
        revoked = {r.key.public_key for r in newest.revoked}
        keys: list[VerifierKey] = []
        for ks in (pinned, *(k for _, k in self.steps)):
            keys.extend(
                k for k in ks.keys_for(LOG) if k.public_key not in revoked and k not in keys
            )
        self._log_keys = tuple(keys)

    @classmethod
    def from_log(
        cls, pinned: KeySet, found: Sequence[tuple[int, SignedKeySet]]
    ) -> KeyHistory:
        """The history of the key sets *found* in a log at their indexes (ascending), walked
        from *pinned*. The log's version 1, if recorded, must be the pinned one; each later
        one exactly the next (:func:`verify_successor`); a revocation may date back to any
        index but never forward past the key set's own index (a revocation cannot be
        prepared to take effect later, unseen)."""
        history = cls(pinned)
        for index, signed in found:
            history = history.extended(index, signed)
        return history

    def extended(self, index: int, signed: SignedKeySet) -> KeyHistory:
        """This history with key set *signed*, recorded at log *index*, walked onto it (the
        step of :meth:`from_log`): a writer extends the history it holds instead of reading
        every key set again. Raises unless it is the pinned version 1 recorded first, or
        exactly the next version after the newest, after its index."""
        last = self.steps[-1][0] if self.steps else self.pinned_index
        ks = signed.keyset
        if last is not None and index <= last:
            raise KeySetFormatError("key set entries are not in log order")
        if ks.version == 1 and not self.steps and self.pinned_index is None:
            if ks.text != self.pinned.text:
                raise SignatureError(
                    f"the log's key set version 1 (entry {index}) is not the pinned one "
                    f"(sha256:{ks.digest}, pinned sha256:{self.pinned.digest})"
                )
            verify_first(signed, self.pinned.origin)
            return KeyHistory(self.pinned, (), index)
        verify_successor(self.newest, signed)
        for r in ks.revoked:
            if r.index > index:
                raise SignatureError(
                    f"key set version {ks.version} (entry {index}) revokes {r.key} from "
                    f"index {r.index}, after its own"
                )
        return KeyHistory(self.pinned, (*self.steps, (index, ks)), self.pinned_index)

    @property
    def newest(self) -> KeySet:
        return self.steps[-1][1] if self.steps else self.pinned

    @property
    def origin(self) -> str:
        return self.pinned.origin

    def in_force(self, index: int) -> KeySet:
        """The key set in force for a signature recorded at log *index*."""
        current = self.pinned
        for at, ks in self.steps:
            if at >= index:
                break
            current = ks
        return current

    def find(self, name: str, key_id_hex: str) -> VerifierKey | None:
        for ks in (self.pinned, *(k for _, k in self.steps)):
            for r in ks.keys:
                if r.key.name == name and r.key.key_hash_hex == key_id_hex:
                    return r.key
            for rev in ks.revoked:
                if rev.key.name == name and rev.key.key_hash_hex == key_id_hex:
                    return rev.key
        return None

    def check_signer(
        self, index: int, key: VerifierKey, role: str, recorded: str | None = None
    ) -> None:
        """Raise unless *key* may sign in *role* at log *index* (an entry recorded at
        *recorded*: a key's expiry applies to the time recorded in the log, which its writer
        states; it is signer hygiene, not a security boundary — revocation is)."""
        revocation = self.newest.revocation_of(key)
        if revocation is not None and revocation.index <= index:
            raise RevokedKeyError(
                f"entry {index}: signed by {key.name}+{key.key_hash_hex}, revoked from index "
                f"{revocation.index} ({revocation.reason})"
            )
        ks = self.in_force(index)
        roles = ks.roles_of(key)
        if role not in roles:
            held = f"holds {', '.join(roles)}" if roles else "is not in it"
            raise RoleError(
                f"entry {index}: signed by {key.name}+{key.key_hash_hex}, which {held} in key "
                f"set version {ks.version}, not {role}"
            )
        expires = next((r.expires for r in ks.keys if r.key == key), None)
        if expires is not None and recorded is not None and recorded >= expires:
            raise ExpiredKeyError(
                f"entry {index}: recorded {recorded}, signed by {key.name}+{key.key_hash_hex}, "
                f"which expired {expires} (key set version {ks.version})"
            )

    def entry_keys(
        self, index: int, name: str, key_id_hex: str, recorded: str | None = None
    ) -> tuple[VerifierKey, ...]:
        """The key that may have signed the entry at *index* as *name*+*key_id_hex*: () when
        no key set knows it; raises when it is known but revoked, out of its role or (for an
        entry *recorded* at or after it) expired."""
        key = self.find(name, key_id_hex)
        if key is None:
            return ()
        self.check_signer(index, key, ENTRY, recorded)
        return (key,)

    @property
    def first_index(self) -> int | None:
        """The log index of the first recorded key set (None: none recorded)."""
        if self.pinned_index is not None:
            return self.pinned_index
        return self.steps[0][0] if self.steps else None

    def check_release(self, note: SignedNote, size: int) -> tuple[VerifierKey, ...]:
        """Raise unless the release of tree *size* carries the release threshold of the key
        set in force for it (the newest recorded below *size*), counting distinct release
        keys not revoked at its last entry; returns those keys. Releases of a tree that holds
        no recorded key set (made before the log adopted key sets) and key sets with no
        release role need only the log signature the caller checked."""
        first = self.first_index
        ks = self.in_force(size)
        if first is None or size <= first or ks.threshold(RELEASE) == 0:
            return ()
        keys = [k for k in ks.keys_for(RELEASE) if not self._revoked_at(k, size - 1)]
        return check_threshold(note, keys, ks.threshold(RELEASE), f"release {size}")

    def _revoked_at(self, key: VerifierKey, index: int) -> bool:
        r = self.newest.revocation_of(key)
        return r is not None and r.index <= index

    def holders(self) -> list[tuple[int | None, KeySet]]:
        """(log index or None for the pinned version not recorded, key set), oldest first."""
        return [(self.pinned_index, self.pinned), *self.steps]

    def __len__(self) -> int:
        return len(self._log_keys)

    def __getitem__(self, i: Any) -> Any:
        return self._log_keys[i]


class PinnedTrust(KeyHistory):
    """A pinned trust file alone, no log read (``verify-proof`` and ``verify-evidence``): the
    key sets after version 1 must come with what is verified, an offline proof's key-set
    chain (:func:`.tlogproof.open_proof`); nothing can be said of a release that names none."""

    def __init__(self, pinned: KeySet) -> None:
        super().__init__(pinned)


def cosign(note: bytes, signer: Signer) -> bytes:
    """*note* (a prepared release) with a signature line by *signer* added: what a release
    holder runs on their own machine. Re-signing replaces the holder's line, never doubles it."""
    try:
        return SignedNote.parse(note).add_signatures([signer]).to_bytes()
    except NoteFormatError as e:
        raise MalformedError(f"not a prepared release: {e}") from e


def open_release(
    note: bytes, verifiers: Sequence[VerifierKey], *, origin: str
) -> tuple[Checkpoint, SignedNote]:
    """The one check of a release note: a checkpoint of *origin* signed by its log key and,
    with a :class:`KeyHistory`, by the release threshold of the key set in force for it."""
    cp, signed = open_checkpoint(note, verifiers, origin=origin)
    if isinstance(verifiers, KeyHistory):
        verifiers.check_release(signed, cp.size)
    return cp, signed


# -- proposals: the next key set, built by `key add/rotate/revoke`, signed by `key sign` --------


def read_proposal(data: bytes) -> tuple[KeySet, SignedKeySet | None]:
    """A proposal file: a key set statement, unsigned (its two lines) or signed (a note)."""
    if b"\n\n" in data:
        signed = SignedKeySet.parse(data)
        return signed.keyset, signed
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise KeySetFormatError(f"key set proposal is not UTF-8 (byte {e.start})") from e
    return KeySet.from_text(text), None


def next_of(base: KeySet | None, origin: str) -> tuple[int, str | None, list[KeyRecord],
                                                      dict[str, int], list[Revocation]]:
    """The parts of the version after *base* (version 1 when None), to change and build."""
    if base is None:
        return 1, None, [], {}, []
    return (base.version + 1, base.digest, list(base.keys), dict(base.thresholds),
            list(base.revoked))


_Parts = tuple[int, str | None, list[KeyRecord], dict[str, int], list[Revocation]]


def _build(origin: str, parts: _Parts) -> KeySet:
    version, prev, keys, thresholds, revoked = parts
    held = {role for r in keys for role in r.roles}
    thresholds = {r: t for r, t in thresholds.items() if r in held}
    for role in held:
        thresholds.setdefault(role, 1)
    return KeySet.build(origin, version=version, prev=prev, keys=keys, thresholds=thresholds,
                        revoked=revoked)


def propose_add(
    parts: tuple[int, str | None, list[KeyRecord], dict[str, int], list[Revocation]],
    origin: str, key: VerifierKey, roles: Sequence[str], thresholds: Mapping[str, int],
    *, expires: str | None = None,
) -> KeySet:
    """The proposal *parts* with *key* holding *roles* (added, or its roles replaced)."""
    version, prev, keys, old_thresholds, revoked = parts
    keys = [r for r in keys if r.key.public_key != key.public_key]
    keys.append(KeyRecord(key, tuple(sorted(set(roles))), expires))
    return _build(origin, (version, prev, keys, {**old_thresholds, **thresholds}, revoked))


def propose_rotate(
    parts: tuple[int, str | None, list[KeyRecord], dict[str, int], list[Revocation]],
    origin: str, old: VerifierKey, new: VerifierKey,
) -> KeySet:
    """The proposal *parts* with *new* taking over every role of *old*, which leaves the set:
    what *old* signed stays valid, it signs nothing after this key set is recorded."""
    version, prev, keys, thresholds, revoked = parts
    found = [r for r in keys if r.key == old]
    if not found:
        raise KeySetFormatError(f"{old} is not in the key set")
    if any(r.key.public_key == new.public_key for r in keys):
        raise KeySetFormatError(f"{new} is already in the key set")
    keys = [r for r in keys if r.key != old] + [KeyRecord(new, found[0].roles)]
    return _build(origin, (version, prev, keys, thresholds, revoked))


def propose_revoke(
    parts: tuple[int, str | None, list[KeyRecord], dict[str, int], list[Revocation]],
    origin: str, key: VerifierKey, index: int, reason: str,
) -> KeySet:
    """The proposal *parts* with *key* revoked from log index *index* (and out of the set)."""
    version, prev, keys, thresholds, revoked = parts
    if version == 1:
        raise KeySetFormatError("version 1 cannot revoke: revoke in a later key set")
    keys = [r for r in keys if r.key.public_key != key.public_key]
    revoked = [r for r in revoked if r.key.public_key != key.public_key]
    revoked.append(Revocation(key, index, reason))
    return _build(origin, (version, prev, keys, thresholds, revoked))


def sign_proposal(keyset: KeySet, signed: SignedKeySet | None, signer: Signer) -> SignedKeySet:
    """The proposal with *signer*'s signature line added (a root key holder, on their own
    machine); re-signing replaces the line, never doubles it."""
    if signed is None:
        return SignedKeySet.sign(keyset, [signer])
    return signed.cosign([signer])
