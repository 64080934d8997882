"""What each release added, and what changed between two releases, from verified bytes only.

The releases are the chain the signed latest checkpoint names (``orderarchive.release``) and
each signed release names before it (``orderarchive.previous-release``), so a deleted release
file is an error, not a shorter history; release file names themselves are never trusted. The
entries are read once, in order: each entry's signature is checked against the trusted keys,
and the leaves, folded into a compact range (RFC 9162 §2.1.1), must give the signed root of
every release and of the latest checkpoint at its size. Only then is anything reported.
Statuses follow the rule of :func:`.status.standing` over the signed relations.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

import attrs

from .archive import Archive
from .canonical import JSONObject
from .errors import NotFoundError, RootMismatchError, VerificationError
from .log import merkle
from .log.checkpoint import Checkpoint
from .log.note import VerifierKey
from .status import standing


@attrs.frozen
class AddedDocument:
    """A document entry in a release, with the relations its signed entry declares."""

    seq: int
    doc: str
    kind: str
    title: str
    issued: str | None
    relations: tuple[tuple[str, str], ...]  # (type, target doc)

    def to_dict(self) -> JSONObject:
        """The JSON object ``log --json`` prints for the document."""
        return {
            "seq": self.seq,
            "doc": self.doc,
            "kind": self.kind,
            "title": self.title,
            "issued": self.issued,
            "relations": [{"type": t, "target": d} for t, d in self.relations],
        }


@attrs.frozen
class StatusChange:
    """A document whose status the entries of a range changed."""

    doc: str
    title: str
    before: str
    after: str

    def to_dict(self) -> JSONObject:
        """The JSON object ``log --json`` prints for the change."""
        return attrs.asdict(self)


@attrs.frozen
class Changes:
    """The entries *start* .. *end*-1: the release of tree size *end* (or, if not
    *released*, the entries added since the last release), with the root they hash to."""

    start: int
    end: int
    released: bool
    root: bytes
    added: tuple[AddedDocument, ...]
    status_changes: tuple[StatusChange, ...]

    def to_dict(self) -> JSONObject:
        """The JSON object ``log --json`` prints for the release."""
        return {
            "from": self.start,
            "to": self.end,
            "released": self.released,
            "root": f"sha256:{self.root.hex()}",
            "added": [a.to_dict() for a in self.added],
            "status_changes": [c.to_dict() for c in self.status_changes],
        }


def signed_releases(
    archive: Archive, verifiers: Sequence[VerifierKey]
) -> tuple[Checkpoint | None, list[Checkpoint]]:
    """The latest checkpoint and the chain of releases it names (oldest first), each
    signature checked against *verifiers* (:meth:`.log.Log.release_chain`)."""
    return archive.log.release_chain(verifiers)


def changes(
    archive: Archive, verifiers: Sequence[VerifierKey], bounds: Sequence[int]
) -> list[Changes]:
    """The changes between consecutive *bounds* (from 0), each bound the size of a signed
    release or of the latest checkpoint; entries past the last bound are not read."""
    cp, chain = signed_releases(archive, verifiers)
    roots = {c.size: c.root_hash for c in chain}
    if cp is not None and not hmac.compare_digest(
        expected := roots.setdefault(cp.size, cp.root_hash), cp.root_hash
    ):
        raise RootMismatchError(f"the latest checkpoint and release {cp.size} differ",
                                expected=expected, actual=cp.root_hash)
    released = {c.size for c in chain}
    for b in bounds:
        if b not in roots or b == 0:
            known = ", ".join(str(c.size) for c in chain) or "none"
            raise NotFoundError(f"no signed release of tree size {b} (releases: {known})",
                                hint="'orderarchive log' lists the releases")
    ends = sorted(set(bounds))
    out: list[Changes] = []
    frontier: list[bytes] = []
    titles: dict[str, str] = {}
    acting: dict[str, set[str]] = {}
    start = 0
    added: list[AddedDocument] = []
    before: dict[str, str] = {}
    entries = archive.iter_entries(0, ends[-1]) if ends else iter(())
    for seq, entry in enumerate(entries):
        if entry.seq != seq:
            raise VerificationError(f"the entry at position {seq} says it is entry {entry.seq}")
        entry.verify(verifiers)
        frontier = merkle.compact_append(seq, frontier, [merkle.leaf_hash(entry.raw)])
        d = entry.document
        if d is not None:
            titles[d.doc] = d.title
            rels = tuple((r.type, r.target) for r in d.relations)
            added.append(AddedDocument(seq, d.doc, d.kind, d.title, d.issued, rels))
            for kind, target in rels:
                if kind != "reports-on":
                    before.setdefault(target, standing(sorted(acting.get(target, ()))))
                    acting.setdefault(target, set()).add(kind)
        if seq + 1 in ends:
            root = merkle.compact_root(frontier)
            if not hmac.compare_digest(root, roots[seq + 1]):
                raise RootMismatchError(
                    f"the entries up to {seq + 1} do not hash to the signed root",
                    expected=roots[seq + 1], actual=root,
                )
            moved = [
                StatusChange(doc, titles.get(doc, doc), was, now)
                for doc, was in before.items()
                if (now := standing(sorted(acting[doc]))) != was
            ]
            out.append(Changes(start, seq + 1, seq + 1 in released, root, tuple(added),
                               tuple(moved)))
            start, added, before = seq + 1, [], {}
    if len(out) != len(ends):
        raise VerificationError("the entry log ended before the signed tree size")
    return out


def release_log(archive: Archive, verifiers: Sequence[VerifierKey]) -> list[Changes]:
    """Every release's changes, oldest first, then any entries not yet released."""
    cp, chain = signed_releases(archive, verifiers)
    bounds = [c.size for c in chain]
    if cp is not None and cp.size > (bounds[-1] if bounds else 0):
        bounds.append(cp.size)
    return changes(archive, verifiers, bounds)


def between(archive: Archive, verifiers: Sequence[VerifierKey], old: int, new: int) -> Changes:
    """What releases after *old* up to *new* added, and the statuses they changed."""
    parts = changes(archive, verifiers, [old, new])  # both must be signed sizes
    if new <= old:
        raise NotFoundError(f"release {new} is not after release {old}",
                            hint="give the older release first")
    first, last = parts
    for part in (first, last):
        if not part.released:
            raise NotFoundError(f"tree size {part.end} is not a release (not yet released)",
                                hint="'orderarchive log' lists the releases")
    return last
