"""Citing from an archive: the recipes that check quotations, cite, write evidence files and
check briefs against an open :class:`~.archive.Archive`.

The values and the archive-free checks are in :mod:`orderarchive.citations.cite` (this recipe
layer builds them; that layer never imports this one, docs/ARCHITECTURE.md):

* :func:`check_quote` -- which archived document holds this quotation, and how faithfully?
  The index narrows a million documents to a few candidates (FTS5 over the quotation's
  distinctive words, :func:`.citations.quote.candidate_terms`); only their text layers are
  read, each re-checked against the signed log (``Archive.entry`` compares the entry with its
  stored leaf hash, ``Archive.text_layer`` the layer with the entry's ``text.sha256``). The
  answer is a frozen :class:`~.citations.cite.QuoteReport`: status, locator, differences, and
  the document's standing (amended, superseded, rescinded; covered by a release or not).
* :func:`cite` -- a ready-to-paste :class:`~.citations.cite.Citation`.
* :func:`make_evidence` -- the citation as a self-contained evidence file, with the proofs
  from :func:`.proofs.prove`; :func:`.citations.cite.verify_evidence` checks one with only
  the public key.
* :func:`check_brief` -- every quotation of a brief (PDF, HTML, text or Markdown), checked.

Queries return frozen results; verification raises (:mod:`.errors`) or returns what it
verified. Example (run by the tests)::

    >>> from orderarchive.archive import Archive, document_fields
    >>> from orderarchive.citations.cite import verify_evidence
    >>> from orderarchive.citing import check_quote, cite, make_evidence
    >>> from orderarchive.log.note import Signer
    >>> from orderarchive.log.textlayer import TextLayer
    >>> signer = Signer(name="example.gov/orders", seed=bytes(32))
    >>> archive = Archive.init("demo-archive", "example.gov/orders")
    >>> text = "Section 1. No city vehicle shall idle for more than five minutes.\\n"
    >>> _ = archive.add([document_fields(
    ...     text.encode(), doc="eo-1", kind="executive-order", title="Anti-Idling Order",
    ...     issuer="City of Example", issued="2026-02-05", media_type="text/plain",
    ...     source_url="https://example.gov/eo-1", text=TextLayer.from_text(text))], signer)
    >>> _ = archive.release(signer)
    >>> keys = [signer.verifier()]  # the publisher's key, which the reader trusts
    >>> report = check_quote(archive, "[n]o city vehicle shall idle for more than five minutes",
    ...                      verifiers=keys)
    >>> report.status.value, report.doc, report.locator.paragraph, report.alterations
    ('altered', 'eo-1', 1, ('[n]o for "No"',))
    >>> check_quote(archive, "No city vehicle may idle for more than five minutes",
    ...             verifiers=keys).differences
    (Difference(op='changed', quoted='may', source='shall', offset=27, paragraph=1, reversal=None),)
    >>> citation = cite(archive, "eo-1", quote="shall idle for more than five minutes",
    ...                 verifiers=keys)
    >>> print(citation.text)  # doctest: +NORMALIZE_WHITESPACE
    “shall idle for more than five minutes” City of Example, Anti-Idling Order, ¶ 1
    (Feb. 5, 2026), https://example.gov/eo-1
    [orderarchive:example.gov/orders/eo-1@sha256:4b3c108e31d5].
    >>> evidence = make_evidence(archive, citation, keys)
    >>> verify_evidence(evidence, keys).citation == citation.text
    True
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from .archive import Archive
from .citations.cite import (
    MAX_BRIEF_BYTES,
    MAX_BRIEF_QUOTATIONS,
    MAX_CANDIDATES,
    STANDING_RELATIONS,
    TITLE_QUOTES,
    BriefItem,
    BriefReport,
    Citation,
    NoTextLayerError,
    Pin,
    QuotationMismatchError,
    QuoteReport,
    TitleMatch,
    UnreleasedQuotationError,
    brief_quotations,
    canonical_quote,
    check_page,
    evidence_file,
    fields_of,
    is_paged,
    passage_end,
    pin_for,
    title_key,
    verify_evidence,
)
from .citations.quote import (
    QuoteMatch,
    QuoteStatus,
    QuoteTooShortError,
    best_match,
    candidate_terms,
)
from .errors import MalformedError, NotFoundError, Remedy, VerificationError
from .log.checkpoint import Checkpoint
from .log.entry import Entry, verify_read_entry
from .log.note import SignedNote, VerifierKey
from .log.textlayer import TextLayer
from .log.tlogproof import inner_proof
from .status import DocumentStatus, document_status

if TYPE_CHECKING:  # sqlite3 is loaded only when an index is opened
    from .index import Index

__all__ = ["check_brief", "check_quote", "cite", "make_evidence"]

#: Kinds of document searched only when no official text matches.
_SECONDARY_KINDS = frozenset(["article", "press-release"])
#: A quotation this long or longer is never compared with document titles.
_TITLE_MAX_WORDS = 40

_RANK = {status: rank for rank, status in enumerate(QuoteStatus)}


def _rank(found: QuoteMatch) -> tuple[int, float]:
    return _RANK[found.status], -found.score


class _Checker:
    """Checks quotations against one archive, caching layers and standings across a brief."""

    def __init__(self, archive: Archive, verifiers: Sequence[VerifierKey] | None) -> None:
        self.archive = archive
        self.verifiers = list(verifiers) if verifiers is not None else None
        self._loaded: dict[int, tuple[Entry, TextLayer | None]] = {}
        self._standing: dict[str, DocumentStatus] = {}
        self._checkpoint: Checkpoint | None = None

    def load(self, seq: int) -> tuple[Entry, TextLayer | None]:
        if seq not in self._loaded:
            if len(self._loaded) >= 64:  # bound memory over a long brief
                self._loaded.clear()
            entry = self.archive.entry(seq)  # compared with the stored leaf hash
            if entry.seq != seq:
                raise VerificationError(f"the entry at position {seq} says it is entry {entry.seq}")
            self._loaded[seq] = (entry, self.archive.text_layer(entry))  # checked by hash
        return self._loaded[seq]

    def named(self, idx: Index, doc: str) -> tuple[Entry, TextLayer]:
        row = idx.by_doc(doc)
        if row is None:
            raise NotFoundError(
                f"no document {doc!r} in the archive",
                hint="'orderarchive list' shows the archived documents",
            )
        entry, layer = self.load(int(row.seq))
        if entry.doc != doc:  # the index is never trusted
            raise VerificationError(
                f"the index points {doc!r} at entry {entry.seq}, which is {entry.doc!r}",
                hint="run 'orderarchive verify' against the publisher's key",
            )
        if layer is None:
            reason = fields_of(entry).no_text_reason or "no text layer was archived"
            raise NoTextLayerError(f"{doc} has no text layer to quote from ({reason})")
        return entry, layer

    def standing(self, idx: Index, doc: str) -> DocumentStatus:
        if doc not in self._standing:
            self._standing[doc] = document_status(
                self.archive, doc, self.verifiers or (), index=idx
            )
        return self._standing[doc]

    def verify_entry(self, entry: Entry) -> VerifierKey | None:
        """With trusted keys: the entry's signature and its inclusion in the signed tree."""
        if self.verifiers is None:
            return None
        if self._checkpoint is None:
            head = self.archive.head(self.verifiers)  # checks the checkpoint's signature
            if head.checkpoint is None:
                raise VerificationError("the archive has no signed checkpoint")
            self._checkpoint = head.checkpoint
        return verify_read_entry(self.archive, entry, self._checkpoint, self.verifiers)[0]

    def title(self, idx: Index, text: str, doc: str | None) -> TitleMatch | None:
        """The document whose signed title *text* is, if any. The index only proposes
        candidates (title hits of a full-text search); the title compared is the entry's."""
        key = title_key(text)
        if not key or len(key.split()) >= _TITLE_MAX_WORDS:
            return None
        if doc is not None:
            row = idx.by_doc(doc)
            seqs = [int(row.seq)] if row is not None else []
        else:
            query = "".join(" " if ch in TITLE_QUOTES else ch for ch in text)
            try:
                hits = idx.search(query, limit=MAX_CANDIDATES)
            except MalformedError:
                return None
            seqs = list(dict.fromkeys(int(h.seq) for h in hits if h.paragraph == 0))
        for seq in seqs:
            entry, _ = self.load(seq)  # compared with the stored leaf hash
            d = entry.document
            if d is not None and (doc is None or d.doc == doc) and title_key(d.title) == key:
                return TitleMatch(entry, self.verify_entry(entry))
        return None

    def check(self, idx: Index, text: str, doc: str | None) -> QuoteReport:
        best_match(text, ())  # refuses a too-short quotation before any lookup
        loaded: dict[str, tuple[Entry, TextLayer]] = {}
        if doc is not None:
            entry, layer = self.named(idx, doc)
            loaded[doc] = (entry, layer)
            groups: list[list[int]] = [[entry.seq]]
        else:
            seqs = idx.candidate_docs(candidate_terms(text), limit=MAX_CANDIDATES)
            rows = {seq: idx.by_seq(seq) for seq in seqs}  # only orders the search
            secondary = {s for s, row in rows.items() if row and row.kind in _SECONDARY_KINDS}
            groups = [[s for s in seqs if s not in secondary], [s for s in seqs if s in secondary]]

        def candidates(seqs: list[int]) -> Iterator[tuple[str, TextLayer, bool]]:
            for seq in seqs:
                entry, maybe = self.load(int(seq))
                d = entry.document
                if d is None or maybe is None:
                    continue
                loaded[d.doc] = (entry, maybe)
                yield d.doc, maybe, is_paged(entry)

        # The official documents first: a match there (exact, or normalised only for a line
        # break the PDF put in) beats an article or press release that quotes the same words
        # verbatim. Secondary sources are searched only when no official text matches.
        found = best_match(text, candidates(groups[0]))
        if not found.is_match and len(groups) > 1 and groups[1]:
            other = best_match(text, candidates(groups[1]))
            if _rank(other) < _rank(found):
                found = other
        if found.doc is None or found.status is QuoteStatus.NOT_FOUND:
            return QuoteReport(found, searched=len(loaded))
        entry, layer = loaded[found.doc]
        standing = self.standing(idx, found.doc)
        if standing.entry.raw != entry.raw:
            raise VerificationError(f"the index gives two entries for {found.doc!r}")
        last_page, last_paragraph = (
            passage_end(layer, found.locator) if found.locator else (None, None))
        return QuoteReport(
            found,
            standing,
            last_page=last_page if is_paged(entry) else None,
            last_paragraph=last_paragraph,
            searched=len(loaded),
            signer=self.verify_entry(entry),
        )


def check_quote(
    archive: Archive,
    text: str,
    *,
    doc: str | None = None,
    verifiers: Sequence[VerifierKey] | None = None,
) -> QuoteReport:
    """Find the quotation *text* in the archive's signed text layers (or only in *doc*).

    Returns a :class:`QuoteReport` whatever the outcome (exact, normalised, misquoted,
    not-found). Raises :class:`.quote.QuoteTooShortError` for a quotation too short to identify
    a passage, :class:`.errors.NotFoundError` for an unknown *doc* or one without a text
    layer, and :class:`.errors.VerificationError` if the archive's log does not bear out what
    its index says. With *verifiers*, the matched entry's signature and its inclusion in the
    signed checkpoint are checked too.
    """
    checker = _Checker(archive, verifiers)
    with archive.index(verifiers or ()) as idx:
        return checker.check(idx, text, doc)




def cite(
    archive: Archive,
    doc: str,
    *,
    quote: str | None = None,
    page: int | None = None,
    verifiers: Sequence[VerifierKey] | None = None,
    accept_review: bool = False,
) -> Citation:
    """A citation of *doc*: with *quote*, only if the quotation is accepted (``exact``,
    ``normalised`` or ``altered``, docs/CITATIONS.md) and the pin cite is the passage's; with
    *page*, a pin cite to that page. With *accept_review*, a ``needs-review`` or ``misquoted``
    quotation is cited too: the citation's report (and an evidence file made from it) carries
    that status, and ``verify-evidence`` prints it.

    Raises :class:`QuotationMismatchError` for a quotation that is not accepted (without
    *accept_review*), is not found, or is not on *page*; :class:`.errors.NotFoundError` for an
    unknown document.
    """
    checker = _Checker(archive, verifiers)
    with archive.index(verifiers or ()) as idx:
        if quote is None:
            standing = checker.standing(idx, doc)
            entry, layer = checker.load(standing.entry.seq)
            if entry.raw != standing.entry.raw:
                raise VerificationError(f"the index gives two entries for {doc!r}")
            checker.verify_entry(entry)
            if page is None:
                return Citation(archive.origin, standing)
            check_page(entry, layer, page)
            return Citation(archive.origin, standing, Pin(page=page, last_page=page))
        report = checker.check(idx, canonical_quote(quote), doc)
    if report.status is QuoteStatus.NOT_FOUND or report.standing is None:
        raise QuotationMismatchError(
            f"the quotation is not found in {doc}: no citation for it", report=report
        )
    if not report.is_match and not accept_review:
        raise QuotationMismatchError(
            f"the quotation is {report.status.value} in {doc}: no citation unless the review is "
            "accepted explicitly; the status is then recorded",
            report=report, remedy=Remedy.ACCEPT_REVIEW,
        )
    source = report.standing
    if not source.released:
        raise UnreleasedQuotationError(
            f"the quotation is {report.status.value} in {doc}, but entry {source.entry.seq} is "
            "not yet covered by a signed release: no citation for it", report=report)
    pin = pin_for(report, is_paged(source.entry))
    if page is not None:
        check_page(source.entry, None, page)
        first, last = pin.page or 0, pin.last_page or 0
        if not first <= page <= last:
            on = f"page {first}" if first == last else f"pages {first}–{last}"
            raise QuotationMismatchError(
                f"the quotation is on {on} of {doc}, not on page {page}", report=report
            )
    return Citation(archive.origin, source, pin, report)




def make_evidence(
    archive: Archive, citation: Citation, verifiers: Sequence[VerifierKey] | None = None
) -> bytes:
    """The evidence file (``orderarchive-evidence/v2``) for *citation*: canonical JSON + LF.

    The document's entry must be covered by a signed release (the proof is against the latest
    one; :class:`.proofs.UnreleasedError` otherwise). Later documents that amend, supersede,
    rescind or correct it and are in that release travel with their own inclusion proofs, so
    the status is checked too. With *verifiers*, the file is verified as a stranger would
    before it is returned.
    """
    from .proofs import prove

    d = citation.fields
    if d.text is None:
        raise NoTextLayerError(
            f"{d.doc} has no text layer, so there is no quotation to carry",
            hint="'orderarchive prove' writes an offline proof of the file itself",
        )
    layer_bytes = archive.read_object(d.text.sha256, d.text.size)  # checked by hash
    proof = prove(archive, d.doc, verifiers or ())
    tp = inner_proof(proof)
    release = Checkpoint.parse(SignedNote.parse(tp.checkpoint).text).size
    acts = sorted({r.seq: r for r in citation.standing.changed_by
                   if r.relation in STANDING_RELATIONS}.values(), key=lambda r: r.seq)
    # a later document not in the release the proof is against could not be checked
    changed = [prove(archive, r.doc, verifiers or ()) for r in acts if r.seq < release]
    data = evidence_file(citation, layer_bytes, proof, changed)
    if verifiers is not None:
        verify_evidence(data, verifiers, origin=archive.origin)
    return data




def check_brief(
    archive: Archive,
    data: bytes,
    filename: str | None = None,
    doc: str | None = None,
    *,
    verifiers: Sequence[VerifierKey] | None = None,
    max_bytes: int = MAX_BRIEF_BYTES,
    max_quotations: int = MAX_BRIEF_QUOTATIONS,
) -> BriefReport:
    """Find every quotation in the brief *data* and check each (against *doc*, if given).

    A quotation that equals an archived document's signed title (read from the verified
    entry, never from the index) is reported as ``title``; one of fewer than
    :data:`.quote.MIN_QUOTE_WORDS` words as ``too-short`` (listed, and :attr:`BriefReport.ok`
    is then false: it was not verified). Raises :class:`.errors.DocumentError` for a brief
    that cannot be read, is over *max_bytes*, or holds more than *max_quotations* quotations
    (:class:`.brief.TooManyQuotationsError`).
    """
    found = brief_quotations(data, filename, max_bytes=max_bytes,
                             max_quotations=max_quotations)
    checker = _Checker(archive, verifiers)
    items: list[BriefItem] = []
    with archive.index(verifiers or ()) as idx:
        for quotation in found:
            title = checker.title(idx, quotation.text, doc)
            if title is not None:
                items.append(BriefItem(quotation, None, title=title))
                continue
            try:
                items.append(BriefItem(quotation, checker.check(idx, quotation.text, doc)))
            except QuoteTooShortError as e:
                items.append(BriefItem(quotation, None, skipped=str(e)))
    return BriefReport(filename, tuple(items))
