"""The signed log entry.

An entry is one line of the log: canonical JSON (see :mod:`canonical`) without the newline.
Those exact bytes are the RFC 9162 Merkle leaf. The ``sig`` member is an Ed25519 signature,
by the key named in ``signer``, over::

    b"orderarchive/entry/v1\\n" || canonical JSON of the entry without "sig"

The context string keeps an entry signature from ever passing for a signed note, a minisign
signature or any other message signed by the same key (domain separation, as in DSSE).

Versioning: ``v`` is the entry format version (1). A reader refuses versions it does not know
(it cannot tell what they claim). Within version 1, ``type`` names the entry type; a reader
verifies the signature and tree position of every entry but only interprets types it knows
(``document``). Unknown members are kept, signed and ignored, so later features (key sets,
witness records) can add members or types without a format break. See docs/FORMAT.md.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from .. import canonical
from .._display import UNSAFE_CHARACTERS, terminal_safe, unsafe_characters
from ..errors import (
    CanonicalJSONError,
    EntryFormatError,
    InclusionError,
    MalformedError,
    NotFoundError,
    Remedy,
    SignatureError,
    VerificationError,
)
from . import merkle
from .digest import Digest
from .keyset import KeyHistory, KeySetFormatError, SignedKeySet
from .note import ALG_ED25519, Signer, VerifierKey
from .signing import ed25519_verify

ENTRY_VERSION = 1
if TYPE_CHECKING:
    from .checkpoint import Checkpoint
    from .textlayer import TextLayer

SIGNATURE_CONTEXT = b"orderarchive/entry/v1\n"
MAX_ENTRY_BYTES = 64 * 1024

DOCUMENT = "document"
KEYSET = "keyset"
KINDS = ("executive-order", "article", "press-release", "ordinance", "memorandum", "other")
RELATION_TYPES = ("amends", "supersedes", "rescinds", "corrects", "reports-on")

# Every pattern is applied with fullmatch: "$" also matches before a final newline, so
# ``re.match(r"^...$", "eo-1\n")`` accepts an id that prints like "eo-1" and is not it.
# [0-9], not \d, which also matches the digits of other scripts.
_DOC_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX8 = re.compile(r"[0-9a-f]{8}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_MEDIA = re.compile(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*")


def valid_doc_id(doc: str) -> bool:
    return _DOC_ID.fullmatch(doc) is not None


def utc_timestamp(now: datetime | None = None) -> str:
    moment = now or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.frozen
class TextRef:
    """The signed text layer of a document (see :mod:`textlayer`)."""

    sha256: str
    size: int
    extractor: str

    @property
    def digest(self) -> Digest:
        """:attr:`sha256` as a :class:`~.digest.Digest`."""
        return Digest.from_hex(self.sha256, "text sha256")

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": self.size, "extractor": self.extractor}


@attrs.frozen
class Relation:
    """This document amends/supersedes/rescinds/corrects/reports on another document."""

    type: str
    target: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "target": self.target}


@attrs.frozen
class DocumentFields:
    """What a clerk states about a document; the archive adds seq, time, signer, signature."""

    doc: str
    kind: str
    title: str
    issuer: str
    issued: str | None
    media_type: str
    size: int
    sha256: str
    source_url: str | None = None
    text: TextRef | None = None
    no_text_reason: str | None = None
    relations: tuple[Relation, ...] = ()
    meta: Mapping[str, str | int] = attrs.field(factory=dict, eq=False)

    @property
    def digest(self) -> Digest:
        """:attr:`sha256` (the document's bytes) as a :class:`~.digest.Digest`."""
        return Digest.from_hex(self.sha256, "sha256")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": DOCUMENT,
            "doc": self.doc,
            "kind": self.kind,
            "title": self.title,
            "issuer": self.issuer,
            "media_type": self.media_type,
            "size": self.size,
            "sha256": self.sha256,
        }
        if self.issued is not None:
            d["issued"] = self.issued
        if self.source_url is not None:
            d["source_url"] = self.source_url
        if self.text is not None:
            d["text"] = self.text.to_dict()
        if self.no_text_reason is not None:
            d["no_text"] = self.no_text_reason
        if self.relations:
            d["relations"] = [r.to_dict() for r in self.relations]
        if self.meta:
            d["meta"] = dict(self.meta)
        return d


def _req(d: Mapping[str, Any], key: str, typ: type, what: str = "") -> Any:
    value = d.get(key)
    if type(value) is typ:  # what the JSON parser builds (bool is not int here): one test
        return value
    if not isinstance(value, typ) or (isinstance(value, bool) and typ is int):
        raise EntryFormatError(f"{what or 'entry'}: member {key!r} missing or not {typ.__name__}")
    return value


def _opt(d: Mapping[str, Any], key: str, typ: type) -> Any:
    value = d.get(key)
    if value is not None and not isinstance(value, typ):
        raise EntryFormatError(f"entry: member {key!r} is not {typ.__name__}")
    return value


def _check_document(d: Mapping[str, Any]) -> DocumentFields:
    doc = _req(d, "doc", str)
    if not valid_doc_id(doc):
        raise EntryFormatError(f"entry: document id {doc!r} is not valid")
    kind = _req(d, "kind", str)
    if not kind or len(kind) > 64:
        raise EntryFormatError("entry: kind is empty or too long")
    title = _req(d, "title", str)
    issuer = _req(d, "issuer", str)
    media_type = _req(d, "media_type", str)
    if _MEDIA.fullmatch(media_type) is None:
        raise EntryFormatError(f"entry: media type {media_type!r} is not valid")
    size = _req(d, "size", int)
    if size < 0:
        raise EntryFormatError("entry: negative size")
    sha = _req(d, "sha256", str)
    if _HEX64.fullmatch(sha) is None:
        raise EntryFormatError("entry: sha256 is not 64 lower-case hex digits")
    issued = _opt(d, "issued", str)
    if issued is not None and _DATE.fullmatch(issued) is None:
        raise EntryFormatError(f"entry: issued date {issued!r} is not YYYY-MM-DD")
    text = None
    if "text" in d:
        t = _req(d, "text", dict)
        tsha = _req(t, "sha256", str, "text")
        if _HEX64.fullmatch(tsha) is None:
            raise EntryFormatError("entry: text sha256 is not 64 lower-case hex digits")
        tsize = _req(t, "size", int, "text")
        if tsize < 0:
            raise EntryFormatError("entry: negative text size")
        text = TextRef(sha256=tsha, size=tsize, extractor=_req(t, "extractor", str, "text"))
    relations: list[Relation] = []
    for r in _opt(d, "relations", list) or []:
        if not isinstance(r, dict):
            raise EntryFormatError("entry: relation is not an object")
        rtype = _req(r, "type", str, "relation")
        target = _req(r, "target", str, "relation")
        if not valid_doc_id(target):
            raise EntryFormatError(f"entry: relation target {target!r} is not a document id")
        relations.append(Relation(rtype, target))
    meta = _opt(d, "meta", dict) or {}
    for k, v in meta.items():
        if type(v) is str or type(v) is int:  # the parser's exact types: one test
            continue
        if not isinstance(v, (str, int)) or isinstance(v, bool):
            raise EntryFormatError(f"entry: meta member {k!r} is not a string or integer")
    return DocumentFields(
        doc=doc,
        kind=kind,
        title=title,
        issuer=issuer,
        issued=issued,
        media_type=media_type,
        size=size,
        sha256=sha,
        source_url=_opt(d, "source_url", str),
        text=text,
        no_text_reason=_opt(d, "no_text", str),
        relations=tuple(relations),
        meta=meta,
    )


def _check_keyset(d: Mapping[str, Any]) -> SignedKeySet:
    """A key-set entry (docs/FORMAT.md §23): ``keyset`` is the statement's JSON object,
    ``keyset_sigs`` its signature lines; together they rebuild the signed note exactly."""
    statement = _req(d, "keyset", dict)
    lines = _req(d, "keyset_sigs", list)
    if not lines or not all(isinstance(line, str) for line in lines):
        raise EntryFormatError("entry: keyset_sigs is not a list of signature lines")
    try:
        text = keyset_note_text(statement)
        return SignedKeySet.parse(f"{text}\n{''.join(line + chr(10) for line in lines)}".encode())
    except (KeySetFormatError, CanonicalJSONError) as e:
        raise EntryFormatError(f"entry: {e}") from e


def keyset_note_text(statement: Mapping[str, Any]) -> str:
    from .keyset import HEADER

    return f"{HEADER}\n{canonical.dumps(statement).decode('utf-8')}\n"


def keyset_fields(signed: SignedKeySet) -> dict[str, Any]:
    """The members of a key-set entry recording *signed* (to sign with :func:`make_entry`)."""
    statement = canonical.loads(signed.keyset.text.split("\n")[1].encode("utf-8"))
    lines = [sig.to_line()[:-1] for sig in signed.note.signatures]
    return {"type": KEYSET, "keyset": statement, "keyset_sigs": lines}


@attrs.frozen
class Entry:
    """A stored entry: its exact bytes and what they say. Build with :meth:`from_bytes`."""

    raw: bytes
    seq: int
    type: str
    recorded: str
    signer_name: str
    signer_id: str
    signature: bytes = attrs.field(repr=False)
    document: DocumentFields | None
    members: Mapping[str, Any] = attrs.field(eq=False, repr=False)
    keyset: SignedKeySet | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def doc(self) -> str | None:
        return self.document.doc if self.document else None

    @classmethod
    def from_bytes(cls, raw: bytes) -> Entry:
        """Parse and validate one stored entry (no signature check; see :meth:`verify`)."""
        if len(raw) > MAX_ENTRY_BYTES:
            raise EntryFormatError(f"entry is larger than {MAX_ENTRY_BYTES} bytes")
        try:
            d = canonical.loads(raw)
        except CanonicalJSONError as e:
            raise EntryFormatError(f"entry is not canonical JSON: {e}") from e
        if not isinstance(d, dict):
            raise EntryFormatError("entry is not a JSON object")
        v = d.get("v")
        if v != ENTRY_VERSION:
            raise EntryFormatError(f"entry format version {v!r} is not supported (want 1)")
        seq = _req(d, "seq", int)
        if seq < 0:
            raise EntryFormatError("entry: negative sequence number")
        etype = _req(d, "type", str)
        recorded = _req(d, "recorded", str)
        if _TIME.fullmatch(recorded) is None:
            raise EntryFormatError("entry: recorded time is not YYYY-MM-DDTHH:MM:SSZ")
        signer = _req(d, "signer", str)
        name, _, key_id = signer.rpartition("+")
        if not name or _HEX8.fullmatch(key_id) is None:
            raise EntryFormatError("entry: signer is not NAME+<8 hex key id>")
        sig_b64 = _req(d, "sig", str)
        try:
            sig = base64.b64decode(sig_b64, validate=True)
        except (binascii.Error, ValueError) as e:
            raise EntryFormatError("entry: signature is not base64") from e
        if len(sig) != 64:
            raise EntryFormatError("entry: signature is not 64 bytes")
        document = _check_document(d) if etype == DOCUMENT else None
        keyset = _check_keyset(d) if etype == KEYSET else None
        return cls(
            raw=raw,
            seq=seq,
            type=etype,
            recorded=recorded,
            signer_name=name,
            signer_id=key_id,
            signature=sig,
            document=document,
            members=d,
            keyset=keyset,
        )

    def signed_message(self) -> bytes:
        """The message the signature covers (docs/FORMAT.md §4), cut from the stored bytes
        when that is unambiguous (:func:`_member_cut`), else encoded afresh."""
        cut = _member_cut(self)
        if cut is None:
            return self.encoded_message()
        return SIGNATURE_CONTEXT + cut[0] + cut[1]

    def encoded_message(self) -> bytes:
        """The signed message encoded afresh from the members (the definition that
        :meth:`signed_message` is held to)."""
        body = {k: v for k, v in self.members.items() if k != "sig"}
        return SIGNATURE_CONTEXT + canonical.dumps(body)

    def verify(
        self, trusted: Sequence[VerifierKey] | KeyHistory, log: str | None = None
    ) -> VerifierKey:
        """Check the signature with a trusted key; return that key.

        With *log* (the log's origin), the key must also be that log's own (named after it):
        an entry signed by another log's trusted key is not one of this log's entries.

        The one implementation of an entry's signature check: ``verify`` (every entry),
        the index build, ``check``, ``prove``, ``cite`` and the proof and evidence files all
        call it. With a :class:`~orderarchive.keyset.KeyHistory` (a pinned trust file and the
        key sets recorded in the log), the signer must hold the ``entry`` role in the key set
        in force at this entry's index and not be revoked from an index at or before it
        (:class:`~orderarchive.keyset.RevokedKeyError`, :class:`~orderarchive.keyset.RoleError`).
        """
        if isinstance(trusted, KeyHistory):
            trusted = trusted.entry_keys(self.seq, self.signer_name, self.signer_id, self.recorded)
        for key in trusted:
            if key.name == self.signer_name and key.key_hash_hex == self.signer_id:
                if not _verifies(key, self):
                    raise SignatureError(f"entry {self.seq}: signature does not verify")
                if log is not None and key.name != log:
                    # The archive signs entries with its log key; an entry signed by another
                    # trusted key (another log's) must not pass for one of this log's.
                    raise SignatureError(
                        f"entry {self.seq} is signed by {key.name!r}, not the log {log!r}"
                    )
                return key
        raise SignatureError(
            f"entry {self.seq}: signed by {self.signer_name}+{self.signer_id}, not a trusted key"
        )


def _member_cut(entry: Entry) -> tuple[bytes, bytes] | None:
    """The stored bytes before and after the text ``,"sig":"<base64>"`` of the ``sig`` member.

    The stored bytes are the canonical JSON of the entry (``Entry.from_bytes`` checked it),
    and the signed message is the canonical JSON of the same members without ``sig``
    (docs/FORMAT.md §4): the stored bytes less that text (never the first member:
    ``recorded`` and ``seq`` sort before it; base64 needs no escaping). If the text occurs
    exactly once it is the member; otherwise (None) the message must be encoded afresh.
    """
    member = b',"sig":"' + str(entry.members["sig"]).encode("ascii") + b'"'
    raw = entry.raw
    if raw.count(member) != 1:
        return None
    at = raw.index(member)
    return raw[:at], raw[at + len(member) :]


def _verifies(key: VerifierKey, entry: Entry) -> bool:
    """``key.verify(entry.signed_message(), entry.signature)``; a plain Ed25519 key goes
    straight to :func:`.signing.ed25519_verify` (the same call, one method lookup less per
    entry). Other keys (cosignature keys) go through ``key.verify``."""
    if key.key_type != ALG_ED25519:
        return key.verify(entry.signed_message(), entry.signature)
    return ed25519_verify(key.public_key, entry.signed_message(), entry.signature)


def verify_included(
    entry: Entry,
    checkpoint: Checkpoint,
    proof: Sequence[bytes],
    verifiers: Sequence[VerifierKey] | None,
) -> VerifierKey | None:
    """This entry is signed by a trusted key of the checkpoint's log and *proof* leads from
    its exact bytes to the root of *checkpoint* (RFC 9162 §2.1.3.2); returns the signing key.

    The one implementation of that check, used by ``check``, ``prove``, ``verify-proof``,
    ``cite``, ``verify-evidence`` and :meth:`Archive.verified_entry`. The checkpoint must
    already be verified (its signature) by the caller. With *verifiers* None the signature is
    not checked (None is returned): a caller that says so in its result.
    """
    if not 0 <= entry.seq < checkpoint.size:
        raise InclusionError(
            f"entry {entry.seq} is not in the signed tree (size {checkpoint.size})"
        )
    signer = None
    if verifiers is not None:
        signer = entry.verify(verifiers, checkpoint.origin)
    merkle.verify_inclusion(
        entry.seq, checkpoint.size, merkle.leaf_hash(entry.raw), list(proof),
        checkpoint.root_hash,
    )
    return signer


class EntryReader(Protocol):
    """Where entries and stored hashes are read from (a :class:`~orderarchive.log.Log`)."""

    def entry_bytes(self, seq: int, size: int | None = None) -> bytes:
        """The exact stored bytes of entry *seq*, checked against the stored leaf hash."""
        ...

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        """Stored Merkle hashes by index (a :data:`merkle.HashReader`)."""
        ...


def verify_read_entry(
    reader: EntryReader,
    entry: Entry,
    checkpoint: Checkpoint,
    verifiers: Sequence[VerifierKey] | None,
) -> tuple[VerifierKey | None, list[bytes]]:
    """Verify an entry already read (its exact bytes, ``entry.raw``) without reading it again:
    its signature, and an inclusion proof from its leaf to the root of *checkpoint* (already
    verified) at its signed seq; returns the signing key and the proof.

    Whatever was derived from this one read (its text layer, checked against the sha256 it
    signs) is then vouched for; a second read could return other bytes from a changing mirror.
    """
    if not 0 <= entry.seq < checkpoint.size:
        raise InclusionError(
            f"entry {entry.seq} is not in the signed tree (size {checkpoint.size})"
        )
    path = merkle.inclusion_proof(entry.seq, checkpoint.size, reader.read_hashes)
    return verify_included(entry, checkpoint, path, verifiers), path


def read_verified_entry(
    reader: EntryReader,
    seq: int,
    checkpoint: Checkpoint,
    verifiers: Sequence[VerifierKey] | None,
) -> tuple[Entry, VerifierKey | None, list[bytes]]:
    """Entry *seq* re-read from the log and shown to be in the tree of *checkpoint*.

    ``entry_bytes`` compares the bytes with the stored leaf hash; the inclusion proof then ties
    that leaf to the checkpoint's root. Both are needed: the stored hashes alone are not signed.
    """
    if not 0 <= seq < checkpoint.size:
        raise NotFoundError(f"entry {seq} is not in the signed tree (size {checkpoint.size})")
    entry = Entry.from_bytes(reader.entry_bytes(seq, checkpoint.size))
    if entry.seq != seq:
        raise VerificationError(f"the entry at position {seq} says it is entry {entry.seq}")
    signer, path = verify_read_entry(reader, entry, checkpoint, verifiers)
    return entry, signer, path


def refuse_unsafe_text(fields: Mapping[str, Any], where: str = "") -> None:
    """Refuse control characters, bidi overrides and line separators anywhere in the text
    of *fields* (member names and values, nested): a signed title holding ``ESC [ 32 m``
    would be published for good and paint fake verdicts on every verifier's terminal.

    Only signing refuses them; a reader accepts a signed entry that holds them (the
    signature is valid, the publisher wrote it) and every display escapes them.
    """
    strings: list[str] = []
    _strings(fields, strings)
    if not UNSAFE_CHARACTERS.search(" ".join(strings)):
        return  # the common case, one scan; the walk below names the field that fails
    for name, value in fields.items():
        path = f"{where}{name}"
        _refuse_unsafe(path, name)
        items = list(enumerate(value)) if isinstance(value, list | tuple) else [(None, value)]
        for i, item in items:
            at = path if i is None else f"{path}[{i}]"
            if isinstance(item, str):
                _refuse_unsafe(at, item)
            elif isinstance(item, Mapping):
                refuse_unsafe_text(item, f"{at}.")


def _strings(value: Any, out: list[str]) -> None:
    """Every str in *value* (a field value: str, int, None, list, tuple or mapping), member
    names included, appended to *out*."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, Mapping):
        for name, item in value.items():
            _strings(name, out)
            _strings(item, out)
    elif isinstance(value, list | tuple):
        for item in value:
            _strings(item, out)


def _refuse_unsafe(path: str, text: str) -> None:
    if bad := unsafe_characters(text):
        raise MalformedError(
            f"{terminal_safe(path)} holds control or bidi characters ({', '.join(bad)}): "
            f"{terminal_safe(text)[:80]}",
            hint="give the value without them",
            remedy=Remedy.FIELD_TEXT,
        )


def make_entry(
    fields: Mapping[str, Any],
    *,
    seq: int,
    signer: Signer,
    recorded: str,
) -> Entry:
    """Sign *fields* (an entry body such as :meth:`DocumentFields.to_dict`) as entry *seq*.

    Refuses text with control characters (:func:`refuse_unsafe_text`) before signing.
    """
    refuse_unsafe_text(fields)
    verifier = signer.verifier()
    body = dict(fields)
    body.update(
        v=ENTRY_VERSION,
        seq=seq,
        recorded=recorded,
        signer=f"{verifier.name}+{verifier.key_hash_hex}",
    )
    body.pop("sig", None)
    sig = signer.sign(SIGNATURE_CONTEXT + canonical.dumps(body))
    body["sig"] = base64.b64encode(sig).decode("ascii")
    return Entry.from_bytes(canonical.dumps(body))


def parse_recorded(recorded: str) -> datetime:
    return datetime.strptime(recorded, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@attrs.frozen
class AddRequest:
    """One document to add: its bytes, what the clerk states, and its text layer if read."""

    data: bytes
    fields: DocumentFields
    text: TextLayer | None = None


def document_fields(
    data: bytes,
    *,
    doc: str,
    kind: str,
    title: str,
    issuer: str,
    issued: str | None,
    media_type: str,
    source_url: str | None = None,
    text: TextLayer | None = None,
    extractor: str | None = None,
    no_text_reason: str | None = None,
    relations: Sequence[tuple[str, str]] = (),
    meta: Mapping[str, str | int] | None = None,
) -> AddRequest:
    """Build an :class:`AddRequest` from a document's bytes and what the clerk states."""
    text_ref = None
    if text is not None and not text.is_empty:
        blob = text.to_bytes()
        text_ref = TextRef(Digest.of(blob).hex(), len(blob), extractor or "unknown")
    elif text is not None:
        text = None
        no_text_reason = no_text_reason or "no text could be extracted"
    fields = DocumentFields(
        doc=doc,
        kind=kind,
        title=title,
        issuer=issuer,
        issued=issued,
        media_type=media_type,
        size=len(data),
        sha256=Digest.of(data).hex(),
        source_url=source_url,
        text=text_ref,
        no_text_reason=no_text_reason,
        relations=tuple(Relation(t, target) for t, target in relations),
        meta=dict(meta or {}),
    )
    return AddRequest(data=data, fields=fields, text=text)
