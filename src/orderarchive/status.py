"""A document's standing: in force, amended, superseded, rescinded or corrected, and the
articles that report on it. The index says where to look; every entry named in an answer is
re-read from the signed log and verified."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from .canonical import JSONObject
from .errors import NotFoundError, OrderArchiveError, VerificationError
from .log.checkpoint import Checkpoint, open_checkpoint
from .log.digest import Digest
from .log.entry import DocumentFields, Entry
from .log.layout import RELEASE_EXT, extension_size
from .log.note import VerifierKey

if TYPE_CHECKING:  # for types only: archive imports this module (Archive.documents)
    from .archive import Archive
    from .index import Index, SearchHit

#: Relations that change the standing of their target, in order of precedence.
_STANDING = (
    ("rescinds", "rescinded"),
    ("supersedes", "superseded"),
    ("amends", "amended"),
    ("corrects", "corrected"),
)


@attrs.frozen
class RelatedDocument:
    """A document related to another: the relation, and what its verified entry says."""

    relation: str
    doc: str
    title: str
    seq: int
    issued: str | None
    recorded: str

    def to_dict(self) -> JSONObject:
        """The JSON object ``show --json`` prints for the related document."""
        return attrs.asdict(self)


@attrs.frozen
class DocumentStatus:
    """A document's standing (:func:`document_status`), from verified entries only."""

    entry: Entry
    released: bool
    release_size: int | None
    status: str  # in-force | amended | superseded | rescinded | corrected
    changed_by: tuple[RelatedDocument, ...]  # later documents acting on this one
    relates_to: tuple[RelatedDocument, ...]  # what this one amends/supersedes/... or reports on
    reported_by: tuple[RelatedDocument, ...]  # articles reporting on it

    @property
    def in_force(self) -> bool:
        """Neither rescinded nor superseded."""
        return self.status not in ("rescinded", "superseded")

    def to_dict(self) -> JSONObject:
        """The JSON object ``show --json`` prints."""
        d = self.entry.document
        assert d is not None
        return {
            "doc": d.doc,
            "seq": self.entry.seq,
            "entry": d.to_dict(),
            "recorded": self.entry.recorded,
            "signer": f"{self.entry.signer_name}+{self.entry.signer_id}",
            "released": self.released,
            "release_size": self.release_size,
            "status": self.status,
            "in_force": self.in_force,
            "changed_by": [r.to_dict() for r in self.changed_by],
            "relates_to": [r.to_dict() for r in self.relates_to],
            "reported_by": [r.to_dict() for r in self.reported_by],
        }

    def render(self) -> list[str]:
        """The lines ``show`` prints."""
        d = self.entry.document
        assert d is not None
        lines = [
            f"{d.doc}: {d.title}",
            f"  kind:       {d.kind}",
            f"  issuer:     {d.issuer or '-'}",
            f"  issued:     {d.issued or '-'}",
            f"  file:       {d.media_type}, {d.size} bytes, sha256:{d.sha256}",
        ]
        if d.source_url:
            lines.append(f"  source:     {d.source_url}")
        if d.text is not None:
            lines.append(f"  text layer: sha256:{d.text.sha256} ({d.text.extractor})")
        elif d.no_text_reason:
            lines.append(f"  text layer: none ({d.no_text_reason})")
        lines.append(
            f"  entry:      {self.entry.seq}, recorded {self.entry.recorded} "
            f"by {self.entry.signer_name}+{self.entry.signer_id}"
        )
        lines.append(
            "  release:    "
            + (f"covered by release {self.release_size}" if self.released else "not yet released")
        )
        status = "in force" if self.status == "in-force" else self.status
        lines.append(f"  status:     {status}")
        for r in self.changed_by:
            verb = {
                "amends": "amended",
                "supersedes": "superseded",
                "rescinds": "rescinded",
                "corrects": "corrected",
            }.get(r.relation, r.relation)
            lines.append(f"    {verb} by {r.doc} ({r.issued or r.recorded[:10]}): {r.title}")
        for r in self.relates_to:
            lines.append(f"  {r.relation} {r.doc} ({r.issued or r.recorded[:10]}): {r.title}")
        if self.reported_by:
            lines.append("  reported on by:")
            for r in self.reported_by:
                lines.append(f"    {r.doc} ({r.issued or r.recorded[:10]}): {r.title}")
        return lines


def document_status(
    archive: Archive, doc: str, verifiers: Sequence[VerifierKey], *, index: Index | None = None
) -> DocumentStatus:
    """*doc*'s standing, from entries verified against *verifiers*.

    The index (built only from verified entries, see ``Archive.index``) says where to look;
    every entry the answer names -- the document's own, each one that amends, supersedes,
    rescinds, corrects or reports on it, and each it relates to -- is re-read from the log, its
    signature checked and its inclusion in the signed checkpoint proved, and each relation must
    be in the re-read signed entry. *index* is an open index to reuse (its checkpoint is used).
    """
    if index is None:
        with archive.index(verifiers) as idx:
            return document_status(archive, doc, verifiers, index=idx)
    idx = index
    cp = idx.checkpoint
    row = idx.by_doc(doc)
    if row is None or cp is None:
        raise NotFoundError(
            f"no document {doc!r} in the archive",
            hint="'orderarchive list' shows the archived documents",
        )
    cache: dict[int, Entry] = {}

    def verified(seq: int) -> Entry:
        if seq not in cache:
            cache[seq] = archive.verified_entry(seq, cp, verifiers)
        return cache[seq]

    entry = verified(row.seq)
    if entry.doc != doc:
        raise VerificationError(f"the index points {doc!r} at entry {row.seq}, another document")
    fields = entry.document
    assert fields is not None

    changed_by: list[RelatedDocument] = []
    reported_by: list[RelatedDocument] = []
    for r in idx.relations_to(doc):  # in log order
        other = verified(r.seq)
        d = other.document
        if d is None or not any(x.type == r.type and x.target == doc for x in d.relations):
            raise VerificationError(
                f"the index says entry {r.seq} {r.type} {doc!r}, but its signed entry does not"
            )
        item = RelatedDocument(r.type, d.doc, d.title, other.seq, d.issued, other.recorded)
        if item not in changed_by and item not in reported_by:
            (reported_by if r.type == "reports-on" else changed_by).append(item)
    relates_to: list[RelatedDocument] = []
    for rel in fields.relations:  # from the signed entry itself, not the index
        target = idx.by_doc(rel.target)
        title, issued = rel.target, None
        if target is not None:
            other = verified(target.seq)
            if other.document is not None and other.document.doc == rel.target:
                title, issued = other.document.title, other.document.issued
        relates_to.append(
            RelatedDocument(rel.type, rel.target, title, entry.seq, issued, entry.recorded)
        )
    status = standing([r.relation for r in changed_by])
    released, release_size = _release_covering(archive, entry.seq, cp, verifiers)
    return DocumentStatus(
        entry=entry,
        released=released,
        release_size=release_size,
        status=status,
        changed_by=tuple(changed_by),
        relates_to=tuple(relates_to),
        reported_by=tuple(reported_by),
    )


def _release_covering(
    archive: Archive, seq: int, cp: Checkpoint, verifiers: Sequence[VerifierKey]
) -> tuple[bool, int | None]:
    """Whether a signed release covers entry *seq*, and the first one that does.

    The latest release is named in the signed checkpoint; an earlier release counts only if
    its file holds a checkpoint of its size signed by a trusted key (release file names are
    not signed).
    """
    latest = extension_size(cp, RELEASE_EXT)
    if latest is None or seq >= latest:
        return False, None
    for size in archive.releases():
        if seq < size < latest:
            try:
                note = archive.release_note(size)
                old, _ = open_checkpoint(note, verifiers, origin=archive.origin)
            except OrderArchiveError:
                continue
            if old.size == size:
                return True, size
    return True, latest


def _verified_row(archive: Archive, seq: int, size: int, verifiers: Sequence[VerifierKey]) -> Entry:
    """Entry *seq* re-read from the log and its signature checked (the index only points)."""
    entry = archive.entry(seq, size)
    if entry.seq != seq or entry.document is None:
        raise VerificationError(f"the index names entry {seq}, which the log does not bear out")
    entry.verify(verifiers)
    return entry


@attrs.frozen
class ListedDocument:
    """One document as :func:`list_documents` (and ``Archive.documents``) lists it: its entry,
    re-read from the log with its signature checked, and its standing from the signed
    relations of every verified entry."""

    entry: Entry
    #: in-force, amended, superseded, rescinded or corrected.
    status: str
    #: Whether the latest signed release covers the entry.
    released: bool

    @property
    def fields(self) -> DocumentFields:
        """What the signed entry states about the document."""
        d = self.entry.document
        assert d is not None  # list_documents lists document entries only
        return d

    @property
    def seq(self) -> int:
        """The entry's position in the log."""
        return self.entry.seq

    @property
    def doc(self) -> str:
        """The document's id."""
        return self.fields.doc

    @property
    def kind(self) -> str:
        """The document's kind (order, article, ...)."""
        return self.fields.kind

    @property
    def title(self) -> str:
        """The document's title."""
        return self.fields.title

    @property
    def issuer(self) -> str:
        """Who issued the document."""
        return self.fields.issuer

    @property
    def issued(self) -> str | None:
        """The date the document was issued, if stated."""
        return self.fields.issued

    @property
    def sha256(self) -> Digest:
        """The SHA-256 of the document's bytes."""
        return self.fields.digest

    @property
    def in_force(self) -> bool:
        """Neither rescinded nor superseded."""
        return self.status not in ("rescinded", "superseded")

    def to_dict(self) -> dict[str, str | int | bool | None]:
        """The JSON object ``list --json`` prints for the document."""
        return {"seq": self.seq, "doc": self.doc, "kind": self.kind, "title": self.title,
                "issuer": self.issuer, "issued": self.issued, "sha256": self.sha256.hex(),
                "released": self.released, "status": self.status}


def standing(relations: Sequence[str]) -> str:
    """in-force, or what the strongest of *relations* acting on a document makes it."""
    for relation, name in _STANDING:
        if relation in relations:
            return name
    return "in-force"


def list_documents(
    archive: Archive, verifiers: Sequence[VerifierKey], *, kind: str | None = None
) -> tuple[ListedDocument, ...]:
    """The documents in log order (optionally of one *kind*), each with its status (in-force,
    amended, superseded, rescinded, corrected), as ``show`` gives it.

    The status comes from the relations in the signed entries re-read here, never from the
    index's relation rows: every document entry is re-read and its signature checked (with
    *kind*, the others too, since an act of any kind may change a document's standing).
    """
    with archive.index(verifiers) as idx:
        rows = idx.documents()
        cp = idx.checkpoint
    if cp is None:
        raise VerificationError("the index has no verified checkpoint")
    out: list[Entry] = []
    acting: dict[str, set[str]] = {}
    for row in rows:
        entry = _verified_row(archive, row.seq, cp.size, verifiers)
        d = entry.document
        assert d is not None
        if d.doc != row.doc or d.kind != row.kind:
            raise VerificationError(f"the index does not match signed entry {row.seq}")
        for rel in d.relations:
            if rel.type != "reports-on":
                acting.setdefault(rel.target, set()).add(rel.type)
        if kind is None or d.kind == kind:
            out.append(entry)
    last = extension_size(cp, RELEASE_EXT) or 0
    return tuple(
        ListedDocument(e, standing(sorted(acting.get(e.document.doc, ()))), e.seq < last)
        for e in out if e.document is not None
    )


def _plain(text: str, marks: tuple[str, str]) -> str:
    return " ".join(text.replace(marks[0], "").replace(marks[1], "").split())


def search_documents(
    archive: Archive,
    verifiers: Sequence[VerifierKey],
    query: str,
    *,
    limit: int = 20,
    doc: str | None = None,
) -> tuple[list[SearchHit], str | None]:
    """Full-text search hits, each re-read: the title from the signed entry, and the snippet
    confirmed to be in the signed text layer's paragraph (or title) the hit names; with no
    hit, a "did you mean" query from the index's vocabulary (or None)."""
    from .index import MARK

    with archive.index(verifiers) as idx:
        hits = idx.search(query, limit=limit, doc=doc)
        suggestion = None if hits else idx.suggest(query)
        cp = idx.checkpoint
    if cp is None:
        raise VerificationError("the index has no verified checkpoint")
    out = []
    for hit in hits:
        entry = _verified_row(archive, hit.seq, cp.size, verifiers)
        d = entry.document
        assert d is not None
        if hit.paragraph == 0:
            source = d.title
        else:
            layer = archive.text_layer(entry)  # checked against the signed sha256
            para = None
            if layer is not None:
                para = next((p for p in layer.paragraphs() if p.number == hit.paragraph), None)
            source = para.text if para is not None else ""
        plain = _plain(source, MARK)
        pieces = [_plain(p, MARK) for p in hit.snippet.split("…")]
        if (doc is not None and d.doc != doc) or any(p and p not in plain for p in pieces):
            raise VerificationError(
                f"the index's hit in entry {hit.seq} is not in its signed text",
                hint="the derived index in the cache directory is damaged; delete it",
            )
        out.append(attrs.evolve(hit, doc=d.doc, title=d.title))
    return out, suggestion
