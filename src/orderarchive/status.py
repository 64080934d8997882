"""A document's standing: in force, amended, superseded, rescinded or corrected, and the
articles that report on it. Answers come from the index and are re-read from the signed log."""

from __future__ import annotations

from typing import Any

import attrs

from .archive import Archive
from .entry import Entry
from .errors import NotFoundError

#: Relations that change the standing of their target, in order of precedence.
_STANDING = (
    ("rescinds", "rescinded"),
    ("supersedes", "superseded"),
    ("amends", "amended"),
    ("corrects", "corrected"),
)


@attrs.frozen
class RelatedDocument:
    relation: str
    doc: str
    title: str
    seq: int
    issued: str | None
    recorded: str

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class DocumentStatus:
    entry: Entry
    released: bool
    release_size: int | None
    status: str  # in-force | amended | superseded | rescinded | corrected
    changed_by: tuple[RelatedDocument, ...]  # later documents acting on this one
    relates_to: tuple[RelatedDocument, ...]  # what this one amends/supersedes/... or reports on
    reported_by: tuple[RelatedDocument, ...]  # articles reporting on it

    @property
    def in_force(self) -> bool:
        return self.status not in ("rescinded", "superseded")

    def to_dict(self) -> dict[str, Any]:
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


def document_status(archive: Archive, doc: str) -> DocumentStatus:
    """Look *doc* up in the index, then read its entry and relations from the signed log."""
    releases = archive.releases()
    with archive.index() as idx:
        row = idx.by_doc(doc)
        if row is None:
            raise NotFoundError(
                f"no document {doc!r} in the archive",
                hint="'orderarchive list' shows the archived documents",
            )
        entry = archive.entry(row.seq)
        if entry.doc != doc:  # the index is never trusted
            raise NotFoundError(f"index is stale for {doc!r}; rebuild it by deleting index.sqlite")
        incoming = idx.relations_to(doc)
        outgoing = idx.relations_from(doc)
        titles = {r.source_doc: idx.by_doc(r.source_doc) for r in incoming}
        targets = {r.target_doc: idx.by_doc(r.target_doc) for r in outgoing}

    def related(rel: str, other: str, seq: int, recorded: str, row: Any) -> RelatedDocument:
        return RelatedDocument(
            rel, other, row.title if row else other, seq, row.issued if row else None, recorded
        )

    changed_by: list[RelatedDocument] = []
    reported_by: list[RelatedDocument] = []
    for r in sorted(incoming, key=lambda r: r.seq):
        item = related(r.type, r.source_doc, r.seq, r.recorded, titles.get(r.source_doc))
        (reported_by if r.type == "reports-on" else changed_by).append(item)
    relates_to = [
        related(r.type, r.target_doc, r.seq, r.recorded, targets.get(r.target_doc))
        for r in outgoing
    ]
    status = "in-force"
    kinds = {r.relation for r in changed_by}
    for relation, name in _STANDING:
        if relation in kinds:
            status = name
            break
    covering = [s for s in releases if s > entry.seq]
    return DocumentStatus(
        entry=entry,
        released=bool(covering),
        release_size=covering[0] if covering else None,
        status=status,
        changed_by=tuple(changed_by),
        relates_to=tuple(relates_to),
        reported_by=tuple(reported_by),
    )
