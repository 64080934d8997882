"""Citations as values and checks: quotation reports, pin cites, citations, evidence files
and brief reports, and the checks that need no archive.

The citations layer over :mod:`.quote` (matching one quotation against one text layer) and
:mod:`.brief` (finding the quotations in a brief). It imports the log and documents layers
only, never the recipe layer (docs/ARCHITECTURE.md): the archive-driven recipes
(``check_quote``, ``cite``, ``make_evidence``, ``check_brief``) are in
:mod:`orderarchive.citing`, which builds the values defined here.

* :class:`QuoteReport`, :class:`Citation`, :class:`Pin` -- a quotation's answer (status,
  locator, differences, and the document's :class:`Standing`), and a ready-to-paste citation
  (title, issuer, date, pin cite, source URL and the archive's identifier
  ``orderarchive:<origin>/<doc>@sha256:<12 hex>``).
* :func:`evidence_file` / :func:`verify_evidence` -- the citation as a self-contained evidence
  file (``orderarchive-evidence/v2``, docs/FORMAT.md §18): the signed entry with its
  inclusion proof and signed release (a C2SP tlog-proof), the whole text layer, the quotation
  and its locator. A third party with only that file and the public key checks every claim in
  it, the quotation included, by re-running the matcher on the carried layer
  (:func:`.log.tlogproof.open_proof` checks each proof).
* :func:`brief_quotations` -- the quotations of a brief (PDF, HTML, text or Markdown), read
  within bounds; :class:`BriefReport` -- every one of them, checked.

The example of the whole flow, from an archive to a verified evidence file, is in
:mod:`orderarchive.citing`.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs

from .. import canonical
from ..canonical import JSONObject
from ..errors import (
    CanonicalJSONError,
    ConflictError,
    DigestMismatchError,
    DocumentError,
    MalformedError,
    NotFoundError,
    ProofFormatError,
    Remedy,
    SignatureError,
    VerificationError,
)
from ..errors import NoTextLayerError as NoTextLayerError  # noqa: PLC0414 (defined in errors.py)
from ..errors import QuotationMismatchError as QuotationMismatchError  # noqa: PLC0414 (defined in errors.py)
from ..errors import UnreleasedQuotationError as UnreleasedQuotationError  # noqa: PLC0414 (defined in errors.py)
from ..log.checkpoint import Checkpoint
from ..log.digest import Digest
from ..log.entry import DocumentFields, Entry
from ..log.note import SignedNote, VerifierKey, b64encode
from ..log.textlayer import TextLayer
from ..log.tlogproof import TlogProof, inner_proof, open_proof
from .brief import FoundQuotation, find_quotations
from .quote import (
    Difference,
    Locator,
    QuoteMatch,
    QuoteStatus,
    QuoteTooShortError,
    match_quote,
)

__all__ = [
    "BRIEF_MIN_WORDS",
    "EVIDENCE_FORMAT",
    "MAX_BRIEF_BYTES",
    "MAX_BRIEF_QUOTATIONS",
    "MAX_CANDIDATES",
    "MAX_EVIDENCE_BYTES",
    "BriefItem",
    "BriefReport",
    "Citation",
    "NoTextLayerError",
    "Pin",
    "QuotationMismatchError",
    "QuoteReport",
    "Related",
    "Standing",
    "TitleMatch",
    "UnreleasedQuotationError",
    "VerifiedEvidence",
    "brief_quotations",
    "canonical_quote",
    "citation_text",
    "evidence_file",
    "identifier",
    "verify_evidence",
]

EVIDENCE_FORMAT = "orderarchive-evidence/v2"
#: The format before the quotation policy (docs/CITATIONS.md): still read, see _legacy_quotation.
EVIDENCE_FORMAT_V1 = "orderarchive-evidence/v1"

#: Evidence files are read from untrusted places: bound them before parsing. A 100-page order's
#: text layer is a few hundred kilobytes; base64 and JSON escaping add about a third.
MAX_EVIDENCE_BYTES = 64 * 2**20

#: Documents whose text layers are compared with a quotation when no document is named: the
#: best-ranked candidates of the index (at a million entries, loading more costs seconds and
#: finds nothing the rarest terms did not already rank first).
MAX_CANDIDATES = 20

#: Relations that change a document's standing, strongest first (as in :mod:`.status`).
_STANDING = (
    ("rescinds", "rescinded"),
    ("supersedes", "superseded"),
    ("amends", "amended"),
    ("corrects", "corrected"),
)
STANDING_RELATIONS = frozenset(rel for rel, _ in _STANDING)
_PAST = dict(_STANDING)
_PDF = "application/pdf"
_MONTHS = (
    "Jan.", "Feb.", "Mar.", "Apr.", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec."
)  # Bluebook T12


class Related(Protocol):
    """A later document acting on a cited one (:class:`.status.RelatedDocument` is one)."""

    @property
    def relation(self) -> str: ...
    @property
    def doc(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def issued(self) -> str | None: ...
    @property
    def recorded(self) -> str: ...
    def to_dict(self) -> JSONObject: ...


class Standing(Protocol):
    """A document's standing as citations carry it: its entry, whether a signed release
    covers it, and the later documents acting on it. :class:`.status.DocumentStatus` (the
    recipe layer's answer, read from verified entries) is one; this layer names only what it
    reads, so that it need not import the recipe layer."""

    @property
    def entry(self) -> Entry: ...
    @property
    def released(self) -> bool: ...
    @property
    def release_size(self) -> int | None: ...
    @property
    def status(self) -> str: ...
    @property
    def in_force(self) -> bool: ...
    @property
    def changed_by(self) -> Sequence[Related]: ...


def is_paged(entry: Entry) -> bool:
    """Whether *entry*'s document has pages (a PDF): its pin cites name pages."""
    return entry.document is not None and entry.document.media_type == _PDF


def fields_of(entry: Entry) -> DocumentFields:
    """*entry*'s document fields; :class:`.errors.NotFoundError` for an entry that is none."""
    if entry.document is None:
        raise NotFoundError(f"entry {entry.seq} is not a document")
    return entry.document


def _locator_dict(locator: Locator | None) -> dict[str, Any] | None:
    if locator is None:
        return None
    return {
        "page": locator.page,
        "paragraph": locator.paragraph,
        "start": locator.start,
        "end": locator.end,
    }


def passage_end(layer: TextLayer, locator: Locator) -> tuple[int, int]:
    """(last page, last paragraph) of the passage *locator* delimits."""
    para = layer.locate(max(locator.end - 1, locator.start))
    if para is None:  # the last character is a separator: impossible for a reported match
        return locator.page or 1, locator.paragraph
    return para.page, para.number


def _warnings(standing: Standing | None) -> tuple[str, ...]:
    if standing is None:
        return ()
    d = fields_of(standing.entry)
    out: list[str] = []
    for r in standing.changed_by:
        verb = _PAST.get(r.relation, r.relation)
        when = r.issued or r.recorded[:10]
        consequence = (
            "it is no longer in force"
            if r.relation in ("rescinds", "supersedes")
            else "check that the quoted text is still current"
        )
        out.append(f"{d.doc} has been {verb} by {r.doc} ({when}): {r.title}; {consequence}")
    if not standing.released:
        out.append(
            f"{d.doc} (entry {standing.entry.seq}) is not yet covered by a signed release"
        )
    return tuple(out)


def _standing_dict(standing: Standing | None) -> dict[str, Any] | None:
    if standing is None:
        return None
    return {
        "status": standing.status,
        "in_force": standing.in_force,
        "released": standing.released,
        "release_size": standing.release_size,
        "changed_by": [r.to_dict() for r in standing.changed_by],
    }


# -- quotations --------------------------------------------------------------------------------


@attrs.frozen
class QuoteReport:
    """The answer to "is this quotation in the archive?"

    :attr:`match` is the matcher's answer for the best document (see :mod:`.quote` for what
    each status means); :attr:`standing` is that document's status in the archive (``None``
    when nothing was found); :attr:`last_page`/:attr:`last_paragraph` say where the passage
    ends; :attr:`searched` counts the text layers compared; :attr:`signer` is the key whose
    signature on the entry was checked (when trusted keys were given).
    """

    match: QuoteMatch
    standing: Standing | None = None
    last_page: int | None = None
    last_paragraph: int | None = None
    searched: int = 0
    signer: VerifierKey | None = None

    @property
    def status(self) -> QuoteStatus:
        """The matcher's status for the best document."""
        return self.match.status

    @property
    def is_match(self) -> bool:
        """Exact or normalised: every word of the quotation is accounted for."""
        return self.match.is_match

    @property
    def released(self) -> bool | None:
        """Whether the source entry is covered by a signed release (None: nothing found)."""
        return self.standing.released if self.standing else None

    @property
    def ok(self) -> bool:
        """A plain yes: a match in an entry a signed release covers. A match in an entry not
        yet released is not one, as ``check`` says ``official-unreleased`` (exit 1) of the
        same document's file: only the publisher's head, not a release, vouches for it."""
        return self.is_match and self.released is True

    @property
    def verdict(self) -> str:
        """The status, with ``-unreleased`` after a match in an unreleased entry."""
        if self.is_match and self.released is False:
            return f"{self.status.value}-unreleased"
        return self.status.value

    @property
    def quote(self) -> str:
        """The quotation checked."""
        return self.match.quote

    @property
    def doc(self) -> str | None:
        """The document the quotation was found in (None: nothing found)."""
        return self.match.doc

    @property
    def entry(self) -> Entry | None:
        """That document's verified entry (None: nothing found)."""
        return self.standing.entry if self.standing else None

    @property
    def locator(self) -> Locator | None:
        """Where the passage is in the document's text layer."""
        return self.match.locator

    @property
    def normalisations(self) -> tuple[str, ...]:
        """The differences accepted as normalisation (quotes, dashes, spacing)."""
        return self.match.normalisations

    @property
    def alterations(self) -> tuple[str, ...]:
        """The marked alterations of the quotation ([brackets], ellipses)."""
        return self.match.alterations

    @property
    def differences(self) -> tuple[Difference, ...]:
        """The unmarked differences from the source, word by word."""
        return self.match.differences

    @property
    def reviews(self) -> tuple[str, ...]:
        """Alterations a person must read (status ``needs-review``), each with its source words."""
        return self.match.reviews

    @property
    def document_status(self) -> str | None:
        """``in-force``, ``amended``, ``superseded``, ``rescinded`` or ``corrected``."""
        return self.standing.status if self.standing else None

    @property
    def in_force(self) -> bool | None:
        """Whether the source document is in force (None: nothing found)."""
        return self.standing.in_force if self.standing else None

    @property
    def warnings(self) -> tuple[str, ...]:
        """The document has been amended, superseded, rescinded, or is not yet released."""
        return _warnings(self.standing)

    def to_dict(self) -> JSONObject:
        """The JSON object ``quote --json`` prints."""
        m = self.match
        entry = self.entry
        d = entry.document if entry else None
        locator = _locator_dict(m.locator)
        if locator is not None:
            locator.update(last_page=self.last_page, last_paragraph=self.last_paragraph)
        return {
            "status": m.status.value,
            "match": m.is_match,
            "released": self.released,
            "verdict": self.verdict,
            "quote": m.quote,
            "doc": m.doc,
            "seq": entry.seq if entry else None,
            "title": d.title if d else None,
            "locator": locator,
            "source_text": m.source_text,
            "normalisations": list(m.normalisations),
            "alterations": list(m.alterations),
            "reviews": list(m.reviews),
            "differences": [attrs.asdict(x) for x in m.differences],
            "document": _standing_dict(self.standing),
            "warnings": list(self.warnings),
            "documents_compared": self.searched,
            "signer": str(self.signer) if self.signer else None,
        }




# -- citations ---------------------------------------------------------------------------------


@attrs.frozen
class Pin:
    """A pin cite: pages (PDFs) or paragraphs (other media), first to last, 1-based."""

    page: int | None = None
    last_page: int | None = None
    paragraph: int | None = None
    last_paragraph: int | None = None

    def render(self) -> str:
        """The pin cite as text: "at 3", "at 3–4" (pages), "¶ 2", "¶¶ 2–3" (paragraphs)."""
        if self.page is not None:
            last = self.last_page or self.page
            return f"at {self.page}" + (f"–{last}" if last != self.page else "")
        if self.paragraph is not None:
            last = self.last_paragraph or self.paragraph
            if last != self.paragraph:
                return f"¶¶ {self.paragraph}–{last}"
            return f"¶ {self.paragraph}"
        return ""

    def to_dict(self) -> dict[str, int | None]:
        """The JSON object an evidence file and ``--json`` carry for the pin cite."""
        return {
            "page": self.page,
            "last_page": self.last_page,
            "paragraph": self.paragraph,
            "last_paragraph": self.last_paragraph,
        }


def _bluebook_date(issued: str | None) -> str:
    if issued is None:
        return "n.d."
    year, month, day = issued.split("-")
    if not 1 <= int(month) <= 12:
        return issued
    return f"{_MONTHS[int(month) - 1]} {int(day)}, {year}"


def identifier(origin: str, fields: DocumentFields) -> str:
    """The archive's name for a document: ``orderarchive:<origin>/<doc>@sha256:<12 hex>``."""
    return f"orderarchive:{origin}/{fields.doc}@sha256:{fields.sha256[:12]}"


# The marks quote.py takes as delimiting a whole quotation (its _OPENING_MARKS/_CLOSING_MARKS).
_OPENING = frozenset('"“„«')
_CLOSING = frozenset('"”»')


def canonical_quote(quote: str) -> str:
    """The quotation as cited and carried in evidence: NFC, without surrounding whitespace or
    enclosing quotation marks (which delimit a quotation and quote nothing).

    Applied until nothing changes, so that it is a fixed point a verifier can insist on: two
    spellings of one quotation must not both pass (docs/FORMAT.md §18).
    """
    text = unicodedata.normalize("NFC", quote).strip()
    while len(text) > 1 and text[0] in _OPENING and text[-1] in _CLOSING:
        text = text[1:-1].strip()
    return text


def citation_text(
    origin: str, fields: DocumentFields, *, quote: str | None = None, pin: Pin | None = None
) -> str:
    """The ready-to-paste citation; a pure function of what the evidence file carries, so a
    verifier re-derives it (docs/FORMAT.md §18)."""
    parts = [p for p in (fields.issuer.strip(), fields.title.strip()) if p]
    head = ", ".join(parts) or fields.doc
    pinned = pin.render() if pin else ""
    text = f"{head}, {pinned}" if pinned else head
    text += f" ({_bluebook_date(fields.issued)})"
    if fields.source_url:
        text += f", {fields.source_url}"
    text += f" [{identifier(origin, fields)}]."
    if quote is not None:
        text = f"“{canonical_quote(quote)}” {text}"
    return text


@attrs.frozen
class Citation:
    """A citation of an archived document, optionally with a verified quotation and pin cite."""

    origin: str
    standing: Standing
    pin: Pin | None = None
    quote: QuoteReport | None = None

    @property
    def entry(self) -> Entry:
        """The cited document's verified entry."""
        return self.standing.entry

    @property
    def fields(self) -> DocumentFields:
        """What the cited document's signed entry states."""
        return fields_of(self.standing.entry)

    @property
    def doc(self) -> str:
        """The cited document's id."""
        return self.fields.doc

    @property
    def identifier(self) -> str:
        """The citation's stable identifier (origin, document id and digest prefix)."""
        return identifier(self.origin, self.fields)

    @property
    def text(self) -> str:
        """The citation as text, with its quotation and pin cite if any."""
        return citation_text(
            self.origin, self.fields, quote=self.quote.quote if self.quote else None, pin=self.pin
        )

    @property
    def warnings(self) -> tuple[str, ...]:
        """The document has been amended, superseded, rescinded, or is not yet released."""
        return _warnings(self.standing)

    def to_dict(self) -> JSONObject:
        """The JSON object ``cite --json`` prints."""
        d = self.fields
        return {
            "citation": self.text,
            "identifier": self.identifier,
            "doc": d.doc,
            "seq": self.entry.seq,
            "title": d.title,
            "issuer": d.issuer,
            "issued": d.issued,
            "kind": d.kind,
            "source_url": d.source_url,
            "sha256": d.sha256,
            "text_sha256": d.text.sha256 if d.text else None,
            "pin": self.pin.to_dict() if self.pin else None,
            "quotation": self.quote.to_dict() if self.quote else None,
            "document": _standing_dict(self.standing),
            "warnings": list(self.warnings),
        }


def pin_for(report: QuoteReport, paged: bool) -> Pin:
    """The pin cite of a matched quotation's passage (pages, else paragraphs)."""
    loc = report.locator
    assert loc is not None  # a match always has a locator
    if paged and loc.page is not None:
        return Pin(page=loc.page, last_page=report.last_page or loc.page)
    return Pin(paragraph=loc.paragraph, last_paragraph=report.last_paragraph or loc.paragraph)


def _page_count(entry: Entry, layer: TextLayer | None) -> int | None:
    if layer is not None:
        return len(layer.pages)
    pages = fields_of(entry).meta.get("pages")
    return pages if isinstance(pages, int) and not isinstance(pages, bool) else None


def check_page(entry: Entry, layer: TextLayer | None, page: int) -> None:
    """Refuse a pin cite to a *page* the document does not have (or a document without pages)."""
    d = fields_of(entry)
    if not is_paged(entry):
        raise MalformedError(
            f"{d.doc} is {d.media_type}, which has no pages",
            hint="cite it by a quotation: the citation then names the paragraph",
            remedy=Remedy.CITE_BY_QUOTE,
        )
    count = _page_count(entry, layer)
    if page < 1 or (count is not None and page > count):
        raise MalformedError(f"{d.doc} has no page {page} (it has {count} pages)")


# -- evidence files ----------------------------------------------------------------------------

_MEMBERS = frozenset(
    ["format", "doc", "citation", "quotation", "pin", "text_layer", "proof", "status"]
)
_QUOTATION_MEMBERS = frozenset(["text", "status", "locator", "normalisations", "alterations"])
_LOCATOR_MEMBERS = frozenset(["page", "paragraph", "start", "end"])
_PIN_MEMBERS = frozenset(["page", "last_page", "paragraph", "last_paragraph"])
_STATUS_MEMBERS = frozenset(["status", "changed_by"])


def _quotation_dict(report: QuoteMatch) -> dict[str, Any]:
    return {
        "text": report.quote,
        "status": report.status.value,
        "locator": _locator_dict(report.locator),
        "normalisations": list(report.normalisations),
        "alterations": list(report.alterations),
    }


def _standing_from(entries: Sequence[Entry], doc: str) -> str:
    kinds = {
        rel.type
        for e in entries
        for rel in fields_of(e).relations
        if rel.target == doc and rel.type in STANDING_RELATIONS
    }
    for relation, name in _STANDING:
        if relation in kinds:
            return name
    return "in-force"


def evidence_file(
    citation: Citation, layer_bytes: bytes, proof: bytes, changed_by: Sequence[bytes]
) -> bytes:
    """The evidence file (``orderarchive-evidence/v2``) for *citation*: canonical JSON + LF.

    *layer_bytes* is the document's signed text layer, *proof* its tlog-proof and
    *changed_by* the tlog-proofs, against the same checkpoint, of the later documents that
    amend, supersede, rescind or correct it (in entry order). Nothing is verified here:
    :func:`orderarchive.citing.make_evidence` gathers the parts from an archive and verifies
    the file with :func:`verify_evidence` as a stranger would.
    """
    d = citation.fields
    tp = inner_proof(proof)
    extra = Entry.from_bytes(tp.extra or b"")
    if extra.raw != citation.entry.raw:
        raise ConflictError(f"the archive's entry for {d.doc!r} changed while citing it")
    changed: list[str] = []
    entries: list[Entry] = []
    for other in changed_by:
        other_tp = inner_proof(other)
        if other_tp.checkpoint != tp.checkpoint:
            raise ConflictError("a release was made while the evidence was written; try again")
        changed.append(other.decode("utf-8"))
        entries.append(Entry.from_bytes(other_tp.extra or b""))
    body = {
        "format": EVIDENCE_FORMAT,
        "doc": d.doc,
        "citation": citation.text,
        "quotation": _quotation_dict(citation.quote.match) if citation.quote else None,
        "pin": citation.pin.to_dict() if citation.pin else None,
        "text_layer": b64encode(layer_bytes),
        "proof": proof.decode("utf-8"),
        "status": {"status": _standing_from(entries, d.doc), "changed_by": changed},
    }
    data = canonical.dumps(body) + b"\n"
    if len(data) > MAX_EVIDENCE_BYTES:
        raise ProofFormatError(
            f"the evidence would be {len(data)} bytes, over the limit of {MAX_EVIDENCE_BYTES}"
        )
    return data


@attrs.frozen
class VerifiedEvidence:
    """An evidence file that verified: every claim in it checked against the signed entry."""

    entry: Entry
    checkpoint: Checkpoint
    entry_signer: VerifierKey
    checkpoint_signers: tuple[VerifierKey, ...]
    layer: TextLayer = attrs.field(repr=False)
    quotation: QuoteMatch | None
    pin: Pin | None
    status: str
    changed_by: tuple[Entry, ...]
    citation: str
    #: The keys it was checked with: under key sets, the key history its proof's chain gave.
    trust: Sequence[VerifierKey] = ()

    @property
    def fields(self) -> DocumentFields:
        """What the evidence's signed entry states."""
        return fields_of(self.entry)

    @property
    def accepted(self) -> bool:
        """Whether the quotation (if any) is accepted under the policy: ``exact``,
        ``normalised`` or ``altered``. A file written with ``--accept-review`` verifies, but its
        ``needs-review`` or ``misquoted`` quotation is not accepted."""
        return self.quotation is None or self.quotation.is_match

    def to_dict(self) -> JSONObject:
        """The JSON object ``verify-evidence --json`` prints."""
        d = self.fields
        q = self.quotation
        return {
            "verified": True,
            "accepted": self.accepted,
            "citation": self.citation,
            "identifier": identifier(self.checkpoint.origin, d),
            "doc": d.doc,
            "title": d.title,
            "issuer": d.issuer,
            "issued": d.issued,
            "source_url": d.source_url,
            "sha256": d.sha256,
            "text_sha256": d.text.sha256 if d.text else None,
            "seq": self.entry.seq,
            "origin": self.checkpoint.origin,
            "release": self.checkpoint.size,
            "signer": str(self.entry_signer),
            "checkpoint_signers": [str(k) for k in self.checkpoint_signers],
            "quotation": None if q is None else {
                **_quotation_dict(q), "source_text": q.source_text, "reviews": list(q.reviews),
                "differences": [attrs.asdict(x) for x in q.differences],
            },
            "pin": self.pin.to_dict() if self.pin else None,
            "status": self.status,
            "changed_by": [
                {"doc": fields_of(e).doc, "seq": e.seq, "title": fields_of(e).title,
                 "relations": [r.type for r in fields_of(e).relations if r.target == d.doc]}
                for e in self.changed_by
            ],
        }


def _string(obj: Mapping[str, Any], key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ProofFormatError(f"evidence: {what}{key!r} is missing or not a string")
    return value


def _exact_members(obj: Any, members: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ProofFormatError(f"evidence: {what} is not an object")
    if set(obj) != members:
        extra = sorted(set(obj) - members)
        missing = sorted(members - set(obj))
        raise ProofFormatError(
            f"evidence: {what} has unexpected members {extra}"
            if extra
            else f"evidence: {what} lacks {missing}"
        )
    return obj


def _optional_int(obj: Mapping[str, Any], key: str, what: str) -> int | None:
    value = obj[key]
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProofFormatError(f"evidence: {what}{key!r} is not a non-negative integer")
    return value


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProofFormatError(f"evidence: {what} is not a list of strings")
    return tuple(value)


def _strict_b64decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ProofFormatError(f"evidence: {what} is not base64") from e
    if b64encode(raw) != text:  # one encoding only: no stray padding bits
        raise ProofFormatError(f"evidence: {what} is not canonical base64")
    return raw


def _proof_bytes(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate
        raise ProofFormatError(f"evidence: {what} is not valid Unicode") from e


def _open_proof(
    text: str, verifiers: Sequence[VerifierKey], origin: str | None, what: str
) -> tuple[TlogProof, Entry, Checkpoint, SignedNote, VerifierKey]:
    """A tlog-proof carrying a document entry, checked as :func:`.proofs.verify_proof` checks
    one, except for the file's hash: the evidence carries the text layer, not the file."""
    opened = open_proof(_proof_bytes(text, what), verifiers, origin=origin, what=what)
    return opened.proof, opened.entry, opened.checkpoint, opened.note, opened.entry_signer


def _load(data: bytes) -> dict[str, Any]:
    """Parse an evidence file written in any JSON serialisation (whitespace, key order, final
    newline): every signed part inside it is checked byte for byte, so re-saving the file in
    an editor must not make it unverifiable. What would make two readings possible is refused:
    duplicate keys, floats and NaN, text that is not UTF-8."""
    if len(data) > MAX_EVIDENCE_BYTES:
        raise ProofFormatError(f"evidence is larger than {MAX_EVIDENCE_BYTES} bytes")
    try:
        body = canonical.loads_strict(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ProofFormatError(f"evidence is not UTF-8 (byte {e.start})") from e
    except CanonicalJSONError as e:
        raise ProofFormatError(f"evidence is not valid: {e}") from e
    if not isinstance(body, dict) or body.get("format") not in (
        EVIDENCE_FORMAT, EVIDENCE_FORMAT_V1
    ):
        raise ProofFormatError(f"not an {EVIDENCE_FORMAT} (or v1) file")
    return _exact_members(body, _MEMBERS, "the file")


# An alteration that is an ellipsis, as quote.py writes it (format v1 counted these as the
# normalisation "ellipsis" and did not list them).
_OMISSION = re.compile(r"(?:\[\s*(?:\.\s*){3,}\]|\[\s*…\s*\]|\.(?:[ \u00a0]?\.){2,}|…)(?: |$)")


def _legacy_quotation(found: QuoteMatch) -> dict[str, Any]:
    """What format v1 recorded for *found*: ``altered`` was ``normalised``, ellipses were the
    normalisation ``ellipsis``, not alterations. Only accepted quotations were ever written."""
    omissions = [a for a in found.alterations if _OMISSION.match(a)]
    names = list(found.normalisations)
    if omissions:
        names.insert(
            len(names) - (names[-1:] == ["trailing-punctuation"]), "ellipsis"
        )
    status = found.status
    return {
        **_quotation_dict(found),
        "status": "normalised" if status is QuoteStatus.ALTERED else status.value,
        "normalisations": names,
        "alterations": [a for a in found.alterations if a not in omissions],
    }


def _verify_quotation(
    value: Any, layer: TextLayer, doc: str, paged: bool, *, v1: bool = False
) -> QuoteMatch | None:
    if value is None:
        return None
    q = _exact_members(value, _QUOTATION_MEMBERS, "quotation")
    text = _string(q, "text", "quotation ")
    if text != canonical_quote(text):
        raise ProofFormatError(
            "evidence: the quotation is not in canonical form (NFC, no surrounding whitespace "
            "or enclosing quotation marks)"
        )
    locator = _exact_members(q["locator"], _LOCATOR_MEMBERS, "quotation locator")
    claimed = {
        "status": _string(q, "status", "quotation "),
        "locator": {k: _optional_int(locator, k, "quotation locator ") for k in locator},
        "normalisations": list(_strings(q["normalisations"], "quotation normalisations")),
        "alterations": list(_strings(q["alterations"], "quotation alterations")),
    }
    try:
        found = match_quote(text, layer, doc=doc, paged=paged)
    except QuoteTooShortError as e:
        raise ProofFormatError(f"evidence: {e}") from e
    if found.status is QuoteStatus.NOT_FOUND or (v1 and not found.is_match):
        raise QuotationMismatchError(
            f"the quotation is {found.status.value} in the signed text of {doc}"
        )
    actual = _legacy_quotation(found) if v1 else _quotation_dict(found)
    for key, want in claimed.items():
        if actual[key] != want:
            raise QuotationMismatchError(
                f"the evidence says the quotation's {key} is {want!r}; "
                f"the signed text gives {actual[key]!r}"
            )
    return found


def _verify_pin(
    value: Any, layer: TextLayer, paged: bool, quotation: QuoteMatch | None
) -> Pin | None:
    if value is None:
        if quotation is not None:
            raise VerificationError("the evidence has a quotation but no pin cite")
        return None
    p = _exact_members(value, _PIN_MEMBERS, "pin")
    pin = Pin(*(_optional_int(p, k, "pin ") for k in ("page", "last_page", "paragraph",
                                                       "last_paragraph")))
    if quotation is not None:
        assert quotation.locator is not None
        last_page, last_paragraph = passage_end(layer, quotation.locator)
        report = QuoteReport(quotation, last_page=last_page if paged else None,
                             last_paragraph=last_paragraph)
        expected = pin_for(report, paged)
    elif paged and pin.page is not None and 1 <= pin.page <= len(layer.pages):
        expected = Pin(page=pin.page, last_page=pin.page)
    else:
        raise VerificationError(f"the evidence's pin cite {pin.to_dict()} is not in the document")
    if pin != expected:
        raise VerificationError(
            f"the evidence's pin cite {pin.to_dict()} is not the passage's {expected.to_dict()}"
        )
    return pin


def _verify_status(
    value: Any,
    entry: Entry,
    checkpoint_note: bytes,
    verifiers: Sequence[VerifierKey],
    origin: str,
) -> tuple[str, tuple[Entry, ...]]:
    s = _exact_members(value, _STATUS_MEMBERS, "status")
    claimed = _string(s, "status", "status ")
    doc = fields_of(entry).doc
    entries: list[Entry] = []
    for i, text in enumerate(_strings(s["changed_by"], "status changed_by")):
        tp, other, _, _, _ = _open_proof(text, verifiers, origin, f"status proof {i}")
        if tp.checkpoint != checkpoint_note:
            raise VerificationError(f"status proof {i} is against another checkpoint")
        if other.seq <= (entries[-1].seq if entries else entry.seq):
            raise VerificationError(
                f"status proof {i} is not for a later entry than the one before it "
                "(status proofs are in increasing entry order, one per entry)"
            )
        if _standing_from([other], doc) == "in-force":
            raise VerificationError(f"status proof {i}: entry {other.seq} does not act on {doc}")
        entries.append(other)
    actual = _standing_from(entries, doc)
    if claimed != actual:
        raise VerificationError(
            f"the evidence says {doc} is {claimed!r}; its proofs show {actual!r}"
        )
    return actual, tuple(entries)


def verify_evidence(
    data: bytes, verifiers: Sequence[VerifierKey], *, origin: str | None = None
) -> VerifiedEvidence:
    """Check an evidence file with only the public key(s); return what it proves.

    In order: the file is canonical JSON of the v1 shape, with no unknown member; the
    checkpoint is signed by a trusted key named after its origin (and is *origin*'s, if
    given); the entry is signed by that log's key and included in the checkpoint's tree; the
    carried text layer has the entry's ``text.sha256`` and size and is in normalised form; the
    quotation, re-matched against that layer, is found with exactly the recorded status,
    locator, normalisations and alterations (a ``needs-review`` or ``misquoted`` status, which
    ``cite`` writes only with ``accept_review``, verifies but :attr:`VerifiedEvidence.accepted`
    is then False); the pin cite is the passage's; every status proof
    is against the same checkpoint and acts on the document, and the status follows from
    them; and the citation text is the one these facts give. Raises on the first failure.
    """
    if not verifiers:
        raise SignatureError("no trusted keys were given; nothing can be verified")
    body = _load(data)
    opened = open_proof(
        _proof_bytes(_string(body, "proof", ""), "the proof"), verifiers, origin=origin,
        what="the proof",
    )
    tp, entry, cp, signer = opened.proof, opened.entry, opened.checkpoint, opened.entry_signer
    d = fields_of(entry)
    doc = _string(body, "doc", "")
    if doc != d.doc:
        raise VerificationError(f"the evidence names {doc!r}, its signed entry is {d.doc!r}")
    if d.text is None:
        raise VerificationError(f"the signed entry of {d.doc} has no text layer")
    raw = _strict_b64decode(_string(body, "text_layer", ""), "text_layer")
    actual = Digest.of(raw)
    if actual != d.text.digest:
        raise DigestMismatchError(
            f"the text layer is not the one signed for {d.doc}",
            expected=str(d.text.digest),
            actual=str(actual),
        )
    if len(raw) != d.text.size:
        raise VerificationError(f"the text layer is {len(raw)} bytes, the entry says {d.text.size}")
    try:
        layer = TextLayer.from_bytes(raw)
    except MalformedError as e:
        raise VerificationError(f"the signed text layer of {d.doc} is malformed: {e}") from e
    paged = is_paged(entry)
    v1 = body["format"] == EVIDENCE_FORMAT_V1
    quotation = _verify_quotation(body["quotation"], layer, d.doc, paged, v1=v1)
    pin = _verify_pin(body["pin"], layer, paged, quotation)
    status, changed_by = _verify_status(body["status"], entry, tp.checkpoint, verifiers, cp.origin)
    text = citation_text(
        cp.origin, d, quote=quotation.quote if quotation else None, pin=pin
    )
    if _string(body, "citation", "") != text:
        raise VerificationError("the evidence's citation text is not what its signed facts give")
    return VerifiedEvidence(
        entry=entry,
        checkpoint=cp,
        entry_signer=signer,
        checkpoint_signers=opened.checkpoint_signers,
        layer=layer,
        quotation=quotation,
        pin=pin,
        status=status,
        changed_by=changed_by,
        citation=text,
        trust=opened.trust,
    )


# -- briefs ------------------------------------------------------------------------------------

#: The largest brief ``check_brief`` reads by default (``cite-check --max-size``): a 300-page
#: brief with exhibits is a few megabytes; a 45 MB file is not a brief to check in one go.
MAX_BRIEF_BYTES = 32 * 2**20

#: The most quotations ``check_brief`` checks by default (``cite-check --max-quotations``):
#: each costs an index query and up to :data:`MAX_CANDIDATES` comparisons.
MAX_BRIEF_QUOTATIONS = 2000

#: Quoted spans of fewer words are terms ("Order"), not quotations; spans of this many words
#: up to :data:`.quote.MIN_QUOTE_WORDS` are listed as ``too-short``, never dropped silently.
BRIEF_MIN_WORDS = 2

TITLE_QUOTES = frozenset("\"'`´‘’‚‛“”„‟′″«»‹›")
_TITLE_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212")


def title_key(text: str) -> str:
    """A title as compared: typography (quotation marks, dashes, spaces, a final period or
    comma inside the closing mark) and case set aside; every word and its order kept."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(
        "'" if ch in TITLE_QUOTES else "-" if ch in _TITLE_DASHES else ch for ch in text
    )
    return " ".join(text.split()).rstrip(".,").strip().casefold()


@attrs.frozen
class TitleMatch:
    """A quotation that is an archived document's signed title: the entry it was read from
    (checked against the log, and against trusted keys when *signer* is set)."""

    entry: Entry
    signer: VerifierKey | None = None

    def to_dict(self) -> JSONObject:
        """The JSON object ``quote --json`` prints for a title match."""
        d = fields_of(self.entry)
        return {
            "doc": d.doc,
            "seq": self.entry.seq,
            "title": d.title,
            "signer": str(self.signer) if self.signer else None,
        }


@attrs.frozen
class BriefItem:
    """One quotation found in a brief and what checking it gave: a quotation report, a
    document title it equals, or why it was not checked (too short)."""

    found: FoundQuotation
    report: QuoteReport | None
    skipped: str | None = None
    title: TitleMatch | None = None

    @property
    def status(self) -> str:
        """The quotation's status (see :mod:`.quote`), ``title`` or ``too-short``."""
        if self.title is not None:
            return "title"
        return self.report.verdict if self.report else "too-short"

    @property
    def accepted(self) -> bool:
        """Checked and found faithful: a matching quotation or a signed title."""
        return self.title is not None or (self.report is not None and self.report.ok)

    def to_dict(self) -> JSONObject:
        """The JSON object ``cite-check --json`` prints for the quotation."""
        f = self.found
        out: dict[str, Any] = {
            "text": f.text,
            "kind": f.kind,
            "brief_page": f.page,
            "brief_line": f.line,
            "brief_start": f.start,
            "brief_end": f.end,
            "markup_removed": list(f.removed),
            "status": self.status,
        }
        if self.title is not None:
            out.update(self.title.to_dict())
        elif self.report is not None:
            out.update({k: v for k, v in self.report.to_dict().items() if k not in out})
        else:
            out["skipped"] = self.skipped
        return out


@attrs.frozen
class BriefReport:
    """Every quotation of a brief, checked. :attr:`ok` only if every one was checked and is
    faithful: a misquoted, not-found or too-short one (or any status a person must review)
    makes it false."""

    filename: str | None
    items: tuple[BriefItem, ...]

    @property
    def totals(self) -> dict[str, int]:
        """Quotations per status: every quotation status, ``title`` and ``too-short``."""
        counts = Counter(item.status for item in self.items)
        order = [status.value for status in QuoteStatus] + ["title", "too-short"]
        order += sorted(s for s in counts if s not in order)
        return {status: counts.get(status, 0) for status in order}

    @property
    def ok(self) -> bool:
        """True when every quotation of the brief was accepted."""
        return all(item.accepted for item in self.items)

    def to_dict(self) -> JSONObject:
        """The JSON object ``cite-check --json`` prints."""
        return {
            "ok": self.ok,
            "brief": self.filename,
            "quotations": [item.to_dict() for item in self.items],
            "totals": self.totals,
        }


def _refuse_hidden_text(data: bytes, filename: str | None, limits: Any) -> None:
    """Refuse an HTML or PDF brief whose reader sees other text than its text layer.

    A quotation is checked as the brief's text holds it; a brief that hides a word of it
    (CSS, invisible PDF text) or adds one (CSS ``::before``) shows its reader another
    quotation than the one checked, so no answer about it can be given. The same detection
    as ``check``'s (:func:`.visible.read_copy`); plain text and Markdown show what they hold.
    """
    from ..documents.visible import read_copy

    reading = read_copy(data, filename=filename, limits=limits)
    if reading.hidden:
        first = reading.hidden[0].describe("the brief")
        raise DocumentError(
            f"the brief hides or adds text that its reader does not see as its text "
            f"({reading.hidden_count} finding(s); first: {first}); "
            "its quotations cannot be checked as a reader sees them",
            hint="check the text as shown: copy it from the viewer into a .txt file",
        )


def _brief_source(
    data: bytes, filename: str | None, max_bytes: int
) -> tuple[str | TextLayer, bool, bool]:
    """The brief as :func:`.brief.find_quotations` wants it, whether it is Markdown, and
    whether indented lines are block quotations: the raw string for plain text and Markdown
    (indented block quotes survive only there), HTML rendered with its ``<q>`` and
    ``<blockquote>`` marked, a PDF's text layer."""
    from ..documents import (
        HTML,
        MARKDOWN,
        TEXT,
        EmptyDocumentError,
        Limits,
        decode_utf8_text,
        read_document,
        sniff_media_type,
    )

    if not data:
        raise EmptyDocumentError("empty document (0 bytes)")
    media_type = sniff_media_type(data, filename)
    limits = Limits(max_bytes=max_bytes, max_text_chars=max_bytes)
    if media_type in (TEXT, MARKDOWN):
        text = decode_utf8_text(data)
        if not text.strip():
            raise DocumentError("the brief has no text to check (only whitespace)")
        return text.replace("\r\n", "\n").replace("\r", "\n"), media_type == MARKDOWN, True
    if media_type in (HTML, _PDF):
        _refuse_hidden_text(data, filename, limits)
    if media_type == HTML:
        from ..documents import _sandbox
        from ..documents.html import brief_text

        rendered = _sandbox.shared_pool().run(
            brief_text, (data, limits),
            timeout=limits.timeout_seconds, memory_bytes=limits.memory_bytes,
        )
        if not rendered.strip():
            raise DocumentError("the brief has no text to check (an HTML page without text)")
        return rendered, False, False  # block quotations are <blockquote>, not indentation
    read = read_document(data, media_type=media_type, filename=filename, limits=limits)
    if read.text is None:
        raise DocumentError(f"the brief has no text to check ({read.no_text_reason})")
    return read.text, False, False


def brief_quotations(
    data: bytes,
    filename: str | None = None,
    *,
    max_bytes: int = MAX_BRIEF_BYTES,
    max_quotations: int = MAX_BRIEF_QUOTATIONS,
) -> list[FoundQuotation]:
    """Every quotation of the brief *data* (:func:`.brief.find_quotations`), read within
    bounds. Raises :class:`.errors.DocumentError` for a brief that cannot be read, hides or
    adds text its reader does not see, is over *max_bytes*, or holds more than
    *max_quotations* quotations (:class:`.brief.TooManyQuotationsError`)."""
    if len(data) > max_bytes:
        from ..documents import DocumentTooLargeError

        raise DocumentTooLargeError(
            f"the brief is {len(data)} bytes, over the limit of {max_bytes} bytes",
            hint="raise the limit (max_bytes), or check the brief in parts",
            remedy=Remedy.BRIEF_SIZE,
        )
    source, markdown, indented = _brief_source(data, filename, max_bytes)
    return find_quotations(source, min_words=BRIEF_MIN_WORDS, markdown=markdown,
                           indented=indented, max_quotations=max_quotations)
