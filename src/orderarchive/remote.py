"""Checks over HTTP against a published site (``orderarchive publish``): verify, check a copy,
prove, and mirror, fetching O(log n) tiles instead of the archive.

Nothing the server sends is believed until it is verified: the checkpoint by a trusted key
(named for the log's origin), every tile against that checkpoint's root
(:class:`~.tiles.TileHashReader`), every entry by its signature and an inclusion proof, every
object by its SHA-256 and the size its signed entry states. The lookups (``lookup/...``) only
say where to look; a lookup that lies leads to an entry that does not match, which is an error,
never an "official". A lookup that is missing makes the answer "not official (the site lists
no such document)": a server can withhold a document, as any server can, but never forge one.

Every download is bounded in size (per kind of file) and in time (a deadline for the whole
response, not only per read, so a server that trickles bytes is cut off), redirects are
followed only to http and https, and every failure is one :class:`RemoteError`.

The checkpoint remembered for the origin (:mod:`.history`, shared with local verification) is
compared with the published one first: a smaller tree is a rollback, a different tree at the
old size a fork; both are refused and their evidence kept. The newer checkpoint is then
remembered.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .errors import (
    ConflictError,
    CopyTooLargeError,
    KeyFileError,
    MalformedError,
    NotFoundError,
    OrderArchiveError,
    Remedy,
    RemoteError,
    StorageError,
    TileMismatchError,
    VerificationError,
)
from .log import merkle
from .log.checkpoint import Checkpoint, open_checkpoint
from .log.entry import MAX_ENTRY_BYTES, Entry, read_verified_entry, verify_read_entry
from .log.keyset import KeyHistory
from .log.layout import RELEASE_EXT, extension_size
from .log.note import SignedNote, VerifierKey
from .log.textlayer import TextLayer
from .log.tiles import (
    MAX_BUNDLE_ENTRY,
    TILE_WIDTH,
    TileHashReader,
    entry_bundle_for,
    entry_bundle_path,
    parse_entry_bundle,
)
from .log.tlogproof import TlogProof, chain_history
from .publish import (
    CHECKPOINT,
    ComputedEntries,
    doc_lookup_path,
    published_checkpoint,
    sha256_lookup_path,
    text_sha256_lookup_path,
)

if TYPE_CHECKING:
    from .copies import CompareLimits, TextComparison

__all__ = [
    "DEFAULT_TIMEOUT",
    "HttpSite",
    "MirrorReport",
    "RemoteCheck",
    "RemoteError",
    "RemoteLog",
    "RemoteText",
    "check_remote",
    "is_url",
    "mirror",
    "prove_remote",
    "verify_entries",
    "verify_remote",
]

DEFAULT_TIMEOUT = 30.0
MAX_CHECKPOINT = 1 << 20
MAX_TILE = TILE_WIDTH * merkle.HASH_SIZE
MAX_BUNDLE = TILE_WIDTH * (2 + min(MAX_BUNDLE_ENTRY, MAX_ENTRY_BYTES))
MAX_LOOKUP = 32
_CHUNK = 64 * 1024


def is_url(text: str) -> bool:
    """Whether an --archive value names a published site rather than a directory."""
    return text.startswith(("http://", "https://"))


def _user_agent() -> str:
    # From the installed metadata: the package root (which imports the recipe layer) is not
    # imported from here.
    import importlib.metadata

    try:
        return f"orderarchive/{importlib.metadata.version('orderarchive')}"
    except importlib.metadata.PackageNotFoundError:
        return "orderarchive"


class _Redirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(  # noqa: PLR0917 -- urllib's signature
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Any:
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            raise RemoteError(f"{req.full_url} redirects to {newurl!r}: only http and https")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class HttpSite:
    """A published site at *url*, read with urllib; counts its requests and bytes."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise MalformedError(f"not an http or https URL: {url!r}")
        if parts.query or parts.fragment:
            raise MalformedError(f"a site URL has no query or fragment: {url!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.requests = 0
        self.received = 0
        self._count = threading.Lock()  # mirror fetches objects from several threads
        self._opener = urllib.request.build_opener(_Redirects())

    def get(self, path: str, limit: int) -> bytes | None:
        """The bytes at *path* (None if the server says 404), at most *limit* bytes, within
        the time limit for the whole answer.

        The request runs in a worker thread that the caller waits for at most the time limit
        (and a second): socket timeouts bound each read, not a server that trickles its
        status line and headers a byte at a time; the abandoned worker ends at its next
        socket timeout.
        """
        url = f"{self.url}/{path}"
        with self._count:
            self.requests += 1
        outcome: list[bytes | BaseException | None] = []

        def work() -> None:
            try:
                outcome.append(self._get(url, limit))
            except BaseException as e:  # handed to the caller's thread
                outcome.append(e)

        worker = threading.Thread(target=work, name="orderarchive-http", daemon=True)
        worker.start()
        worker.join(self.timeout + 1.0)
        if not outcome:
            raise RemoteError(f"{url} took more than {self.timeout:g} s; cut off")
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]

    def _get(self, url: str, limit: int) -> bytes | None:
        deadline = time.monotonic() + self.timeout
        # The scheme was checked in __init__ (http or https only), redirects by _Redirects.
        request = urllib.request.Request(url, headers={  # noqa: S310
            "User-Agent": _user_agent(), "Accept-Encoding": "identity"})
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                length = response.headers.get("Content-Length")
                if length is not None and length.isdigit() and int(length) > limit:
                    raise RemoteError(f"{url} is {int(length)} bytes, more than the {limit} "
                                      "such a file can be")
                data = bytearray()
                while True:
                    if time.monotonic() > deadline:
                        raise RemoteError(f"{url} took more than {self.timeout:g} s; cut off")
                    chunk = response.read1(_CHUNK)
                    if not chunk:
                        break
                    data += chunk
                    with self._count:
                        self.received += len(chunk)
                    if len(data) > limit:
                        raise RemoteError(f"{url} sent more than the {limit} bytes such a "
                                          "file can be; cut off")
                return bytes(data)
        except urllib.error.HTTPError as e:
            e.close()  # it holds the response's socket
            if e.code in (404, 410):
                return None
            raise RemoteError(f"{url}: HTTP {e.code} {e.reason}") from e
        except urllib.error.URLError as e:
            raise RemoteError(f"cannot reach {url}: {e.reason}") from e
        except (TimeoutError, OSError, http.client.HTTPException, ValueError) as e:
            raise RemoteError(f"cannot read {url}: {e}") from e

    def require(self, path: str, limit: int) -> bytes:
        data = self.get(path, limit)
        if data is None:
            raise RemoteError(f"{self.url}/{path} is not on the server (HTTP 404)")
        return data

    def tile(self, path: str, limit: int) -> bytes:
        """A tile or bundle; a partial one that is gone is read from the full tile, whose
        prefix it is (c2sp.org/tlog-tiles)."""
        data = self.get(path, limit)
        if data is None and ".p/" in path:
            data = self.get(path.split(".p/", maxsplit=1)[0], limit)
        if data is None:
            raise RemoteError(f"{self.url}/{path} is not on the server (HTTP 404)")
        return data

    def tiles(self, paths: Sequence[str]) -> list[bytes]:
        return [self.tile(p, MAX_TILE) for p in paths]


# -- the log as published -----------------------------------------------------------------------


@attrs.frozen
class RemoteCheck:
    """What a remote check found: the verdict for a file, from verified bytes only."""

    status: str
    sha256: str
    size: int
    url: str
    checkpoint: Checkpoint
    entry: Entry | None = None
    signer: VerifierKey | None = None
    requests: int = 0
    #: When the site lists no entry for the file: that it could not be verified otherwise.
    reason: str | None = None
    #: For a file that is not the signed file: how its text compares with a signed text
    #: layer (``same-text`` or ``modified-copy``), as the local ``check`` says.
    text: TextComparison | None = None
    #: Why the file's text could not be compared (unreadable, no text).
    text_reason: str | None = None

    @property
    def official(self) -> bool:
        return self.status == "official"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "official": self.official,
            "sha256": self.sha256,
            "size": self.size,
            "url": self.url,
            "checkpoint_size": self.checkpoint.size,
            "requests": self.requests,
        }
        if self.reason is not None:
            out["reason"] = self.reason
        if self.text is not None:
            out["text"] = self.text.to_dict()
        if self.text_reason is not None:
            out["text_reason"] = self.text_reason
        if self.entry is not None and self.entry.document is not None:
            d = self.entry.document
            out.update(doc=d.doc, title=d.title, kind=d.kind, issuer=d.issuer, issued=d.issued,
                       seq=self.entry.seq, recorded=self.entry.recorded,
                       signer=str(self.signer) if self.signer else None)
        return out


class RemoteLog:
    """The log a site publishes, its checkpoint verified and compared with the one remembered.

    Use :meth:`open`; then :meth:`entry` returns verified entries and :attr:`reader` is a
    :data:`.merkle.HashReader` over authenticated tiles.
    """

    def __init__(self, site: HttpSite, verifiers: Sequence[VerifierKey], note: bytes,
                 checkpoint: Checkpoint) -> None:
        self.site = site
        self.verifiers = tuple(verifiers)
        self.note = note
        self.checkpoint = checkpoint
        self.reader = TileHashReader(checkpoint.size, checkpoint.root_hash, site.tiles)
        self.history: dict[str, Any] = {}
        # The last entry bundle read (parsed): reading a bundle's entries one by one
        # (verify --full) fetches it once. Each entry is still compared with its leaf hash.
        self._bundle: tuple[str, list[bytes]] | None = None

    @classmethod
    def open(cls, site: HttpSite, verifiers: Sequence[VerifierKey], *,
             state: Path | None = None, remember: bool = True) -> RemoteLog:
        if not verifiers:
            raise VerificationError("no trusted keys were given; nothing can be verified")
        note = site.require(CHECKPOINT, MAX_CHECKPOINT)
        claimed = note.split(b"\n", 1)[0].decode("utf-8", "replace")
        if not any(k.name == claimed for k in verifiers):
            # Bad input (the wrong key given), as for a local archive; the name claimed only
            # chooses the error, never a success.
            raise KeyFileError(
                f"no trusted key is for the site's origin {claimed!r}",
                remedy=Remedy.TRUSTED_KEYS)
        if isinstance(verifiers, KeyHistory):
            verifiers = cls._key_history(site, verifiers, note)
        cp, _ = open_checkpoint(note, verifiers)
        if cp.size == 0:
            raise NotFoundError(f"{site.url} publishes an empty log")
        log = cls(site, verifiers, note, cp)
        if remember:
            log._compare_history(state)
        return log

    @classmethod
    def _key_history(cls, site: HttpSite, trust: KeyHistory, note: bytes) -> KeyHistory:
        """Who may sign what in the site's log, walked from the pinned trust file through the
        key-set entries its release names (fetched through the tiles), as an offline proof's
        chain is walked (:func:`.tlogproof.chain_history`): every link's signature and
        inclusion, the release's signatures and threshold. Until that walk succeeds nothing
        read here is trusted: the tiles are only authenticated against the root the release
        claims, which the walk then shows signed."""
        from .proofs import keyset_chain

        claimed = Checkpoint.parse(SignedNote.parse(note).text)
        if claimed.size == 0:
            raise NotFoundError(f"{site.url} publishes an empty log")
        links = keyset_chain(cls(site, trust, note, claimed), claimed)
        return chain_history(trust, links, note, site.url)

    @property
    def released(self) -> bool:
        """Whether the published checkpoint is a release (publish writes only releases)."""
        latest = extension_size(self.checkpoint, RELEASE_EXT)
        return latest is None or latest == self.checkpoint.size

    def _compare_history(self, state: Path | None) -> None:
        from .history import ForkEvidence, LogForkedError, LogRolledBackError, last_seen
        from .history import remember as remember_checkpoint

        cp = self.checkpoint
        seen = last_seen(cp.origin, self.verifiers, state=state)
        if seen is not None:
            old = seen.checkpoint
            if old.size > cp.size:
                error: Exception = LogRolledBackError(ForkEvidence.of(seen.note, self.note,
                                                                      None, ()))
                self._keep(error, state)
                raise error
            if old.size:
                prefix = (cp.root_hash if old.size == cp.size
                          else merkle.tree_hash(old.size, self.reader.read))
                if not hmac.compare_digest(prefix, old.root_hash):
                    proof = (merkle.consistency_proof(old.size, cp.size, self.reader.read)
                             if old.size < cp.size else [])
                    error = LogForkedError(ForkEvidence.of(seen.note, self.note, prefix, proof))
                    self._keep(error, state)
                    raise error
            self.history["extends"] = old.size
        kept = remember_checkpoint(self.note, self.verifiers, state=state)
        self.history["remembered_size"] = kept.checkpoint.size

    @staticmethod
    def _keep(error: Any, state: Path | None) -> None:
        from .errors import OrderArchiveError

        with contextlib.suppress(OrderArchiveError):  # the refusal stands without it
            error.evidence.write(state)

    def lookup(self, path: str) -> int | None:
        """An entry number published at *path* (a hint, verified by the caller)."""
        data = self.site.get(path, MAX_LOOKUP)
        if data is None:
            return None
        text = data.decode("ascii", "replace").strip()
        if not text.isdigit() or len(text) > 20:
            raise MalformedError(f"{self.site.url}/{path} is not an entry number")
        return int(text)

    def entry_bytes(self, seq: int, size: int | None = None) -> bytes:
        """Entry *seq*'s bytes from its bundle, compared with the leaf hash of an
        authenticated tile (an :class:`~orderarchive.log.entry.EntryReader`)."""
        if not 0 <= seq < (self.checkpoint.size if size is None else size):
            raise NotFoundError(f"entry {seq} is not in the signed tree")
        n, width = entry_bundle_for(seq, self.checkpoint.size)
        path = entry_bundle_path(n, width)
        if self._bundle is None or self._bundle[0] != path:
            bundle = self.site.tile(path, MAX_BUNDLE)
            try:
                self._bundle = (path, parse_entry_bundle(bundle, width))
            except MalformedError as e:
                raise TileMismatchError(f"entry bundle {path}: {e}") from e
        raw = self._bundle[1][seq - n * TILE_WIDTH]
        # Compared before the bytes are parsed: an altered entry is a failed verification,
        # not a malformed input.
        leaf = self.reader.read([merkle.stored_hash_index(0, seq)])[0]
        if not hmac.compare_digest(leaf, merkle.leaf_hash(raw)):
            raise TileMismatchError(
                f"entry {seq} in {entry_bundle_path(n, width)} does not match its leaf hash")
        return raw

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        """Stored hashes from authenticated tiles (an ``EntryReader``'s hash reader)."""
        return self.reader.read(indexes)

    def entry(self, seq: int) -> tuple[Entry, VerifierKey | None, list[bytes]]:
        """Entry *seq* from its bundle, its signature and inclusion in the checkpoint checked
        (the log layer's one check, :func:`~orderarchive.log.entry.read_verified_entry`)."""
        return read_verified_entry(self, seq, self.checkpoint, self.verifiers)

    def document(self, ref: str) -> tuple[Entry, VerifierKey | None, list[bytes]]:
        """The verified entry of the document *ref* (an id or ``sha256:<hex>``)."""
        sha = ref.removeprefix("sha256:").lower()
        by_hash = len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)
        seq = self.lookup(sha256_lookup_path(sha) if by_hash else doc_lookup_path(ref)) if (
            by_hash or _safe_id(ref)) else None
        if seq is None:
            raise NotFoundError(f"{self.site.url} lists no document {ref!r}")
        if seq >= self.checkpoint.size:
            raise VerificationError(f"the site's lookup for {ref!r} points past its log")
        entry, signer, path = self.entry(seq)
        d = entry.document
        if d is None or not (hmac.compare_digest(d.sha256, sha) if by_hash else d.doc == ref):
            raise VerificationError(
                f"the site's lookup for {ref!r} points at entry {seq}, another document")
        return entry, signer, path

    def read_object(self, sha256: str, size: int) -> bytes:
        data = self.site.require(f"objects/sha256/{sha256[:2]}/{sha256[2:]}", size)
        actual = hashlib.sha256(data).hexdigest()
        if len(data) != size or not hmac.compare_digest(actual, sha256):
            raise VerificationError(f"the site's object sha256:{sha256} is not that document")
        return data


def _safe_id(ref: str) -> bool:
    from .log.entry import valid_doc_id

    return valid_doc_id(ref)


# -- recipes -------------------------------------------------------------------------------------


def verify_remote(url: str, verifiers: Sequence[VerifierKey], *, state: Path | None = None,
                  timeout: float = DEFAULT_TIMEOUT, full: bool = False) -> dict[str, Any]:
    """The site's checkpoint verified, its tiles shown to reproduce the signed root, the
    tree shown to extend the one remembered for its origin (then remembered), and the chain
    of signed releases it names (``orderarchive.previous-release``) followed back: each
    release present, signed by a trusted key, and a prefix of the published tree.

    By default the entries and documents are not fetched (``check``/``prove`` check one, and
    the result says ``"full": None``). With *full*, every entry is read from the entry
    bundles and verified (its bytes against the leaf hash of an authenticated tile, its
    signature, its inclusion in the signed checkpoint: the log layer's one check), and every
    document and text layer it names is fetched and checked against the SHA-256 and size the
    entry signs (:func:`verify_entries`)."""
    site = HttpSite(url, timeout=timeout)
    log = RemoteLog.open(site, verifiers, state=state)
    # The tiles of the whole right edge fold to the root (the reader checks it on first use).
    merkle.tree_hash(log.checkpoint.size, log.reader.read)
    releases = _release_chain(log)
    checked = verify_entries(log) if full else None
    return {
        "url": site.url,
        "origin": log.checkpoint.origin,
        "size": log.checkpoint.size,
        "root": log.checkpoint.root_hash.hex(),
        "released": log.released,
        "releases": releases,
        "history": log.history,
        "full": checked,
        "requests": site.requests,
        "received": site.received,
    }


def verify_entries(log: RemoteLog) -> dict[str, int]:
    """Every entry of the published tree verified and every object it names fetched and
    checked (``verify URL --full``); returns the counts.

    Bounded: each bundle and tile by its format's size, each object by the size its signed
    entry states (objects are fetched :data:`MIRROR_WORKERS` at a time and not kept). It
    writes nothing (the checkpoint was remembered by :meth:`RemoteLog.open` once verified), so
    an interrupted run is simply run again. Every object is tried; the first failure is
    raised after the others, with the number that failed.
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed

    wanted: dict[str, int] = {}
    documents = 0
    for seq in range(log.checkpoint.size):
        entry, _, _ = log.entry(seq)
        d = entry.document
        if d is None:
            continue
        documents += 1
        wanted.setdefault(d.sha256, d.size)
        if d.text is not None:
            wanted.setdefault(d.text.sha256, d.text.size)
    checked = 0
    failed: list[OrderArchiveError] = []
    received = 0
    pool = ThreadPoolExecutor(max_workers=MIRROR_WORKERS, thread_name_prefix="verify")
    try:
        futures = [pool.submit(log.read_object, sha, size) for sha, size in wanted.items()]
        for future in as_completed(futures):
            try:
                received += len(future.result())
                checked += 1
            except OrderArchiveError as e:
                failed.append(e)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failed:
        # A wrong object is a failed verification; one that could not be fetched, a site
        # that cannot be read.
        worst = next((e for e in failed if isinstance(e, VerificationError)), failed[0])
        kind = VerificationError if isinstance(worst, VerificationError) else RemoteError
        raise kind(f"{len(failed)} of {len(wanted)} objects failed the check; "
                   f"for one: {worst}") from worst
    return {"entries": log.checkpoint.size, "documents": documents, "objects": checked,
            "object_bytes": received}


def _release_chain(log: RemoteLog) -> list[int]:
    from .log.layout import previous_release

    cp = log.checkpoint
    size = extension_size(cp, RELEASE_EXT) if not log.released else cp.size
    sizes: list[int] = []
    while size is not None:
        note = log.site.get(f"releases/{size}", MAX_CHECKPOINT)
        if note is None:
            raise VerificationError(f"the site withholds release {size}, which "
                                    f"{'release ' + str(sizes[-1]) if sizes else 'its checkpoint'}"
                                    " names")
        rel, _ = open_checkpoint(note, log.verifiers, origin=cp.origin)
        if rel.size != size or size > cp.size or not hmac.compare_digest(
                merkle.tree_hash(size, log.reader.read), rel.root_hash):
            raise VerificationError(f"the site's releases/{size} is not the log's tree there")
        sizes.append(size)
        previous = previous_release(rel)
        if previous is not None and previous >= size:
            raise VerificationError(f"releases/{size} names a later release {previous}")
        size = previous
    return sorted(sizes)


def check_remote(url: str, data: bytes, verifiers: Sequence[VerifierKey], *,
                 state: Path | None = None, timeout: float = DEFAULT_TIMEOUT,
                 site: HttpSite | None = None, filename: str | None = None,
                 compare_text: bool = True, limits: CompareLimits | None = None) -> RemoteCheck:
    """Whether *data* is an official document of the site at *url*, from verified bytes.

    A file the site does not list by its SHA-256 has its text compared, as the local
    ``check`` does (:func:`~orderarchive.copies.compare_with`, the same rule): the site's
    text index (:mod:`.textindex`) names candidates, and each candidate's entry is verified
    (signature, inclusion through the tiles in the signed checkpoint) and its text layer
    checked against the hash that entry signs before it is compared. The downloads are
    bounded (:data:`MAX_TEXT_CANDIDATES` text layers, :data:`MAX_TEXT_BYTES` in all).
    """
    site = site or HttpSite(url, timeout=timeout)
    before = site.requests
    log = RemoteLog.open(site, verifiers, state=state)
    sha = hashlib.sha256(data).hexdigest()
    seq = log.lookup(sha256_lookup_path(sha))
    if seq is None:
        if compare_text:
            return _check_text(log, data, sha, filename, limits=limits, before=before)
        return RemoteCheck("not-official", sha, len(data), site.url, log.checkpoint,
                           requests=site.requests - before,
                           reason="the site lists no document with this SHA-256; its text was "
                           "not compared")
    if seq >= log.checkpoint.size:
        raise VerificationError(f"the site's lookup for sha256:{sha} points past its log")
    entry, signer, _ = log.entry(seq)
    d = entry.document
    if d is None or not hmac.compare_digest(d.sha256, sha) or d.size != len(data):
        raise VerificationError(
            f"the site's lookup for sha256:{sha} points at entry {seq}, another document")
    status = "official" if log.released else "official-unreleased"
    return RemoteCheck(status, sha, len(data), site.url, log.checkpoint, entry, signer,
                       site.requests - before)


#: Text layers one copy's comparison downloads at most (the comparison itself asks for at
#: most 11: one by the text's hash and five per term sample).
MAX_TEXT_CANDIDATES = 12
#: Bytes of text layers one copy's comparison downloads at most.
MAX_TEXT_BYTES = 64 << 20


def _check_text(log: RemoteLog, data: bytes, sha: str, filename: str | None, *,
                limits: CompareLimits | None, before: int) -> RemoteCheck:
    from .copies import DEFAULT_COMPARE_LIMITS, compare_with, read_copy_text

    limits = limits or DEFAULT_COMPARE_LIMITS
    deadline = time.monotonic() + limits.timeout_seconds
    site, cp = log.site, log.checkpoint
    copy = read_copy_text(data, filename, timeout=limits.timeout_seconds)
    if copy.shown is None:
        return RemoteCheck("not-official", sha, len(data), site.url, cp,
                           requests=site.requests - before, text_reason=copy.reason)
    source = RemoteText(log)
    comparison = compare_with(source, copy, limits=limits, deadline=deadline)
    if comparison is None:
        reason = None if source.searched else (
            "the site publishes no text index for its release; the text was compared only "
            "by its hash")
        return RemoteCheck("not-official", sha, len(data), site.url, cp,
                           requests=site.requests - before, reason=reason)
    entry = comparison.entry
    signer = source.signers.get(entry.seq)
    d = entry.document
    if d is not None and hmac.compare_digest(d.sha256, sha) and d.size == len(data):
        # The signed file itself, which the site's lookup by hash did not list: the verdict
        # comes from the verified entry.
        status = "official" if log.released else "official-unreleased"
        return RemoteCheck(status, sha, len(data), site.url, cp, entry, signer,
                           site.requests - before)
    return RemoteCheck(comparison.status, sha, len(data), site.url, cp, entry, signer,
                       site.requests - before, text=comparison)


class RemoteText:
    """A published site as a :class:`~orderarchive.copies.TextSource`: candidates from its
    lookup by text hash and its text index (hints), text layers from verified entries.

    Bounded: at most :data:`~.textindex.MAX_SHARDS_READ` index shards, and at most
    :data:`MAX_TEXT_CANDIDATES` text layers of :data:`MAX_TEXT_BYTES` in all; past that the
    comparison stops with :class:`~orderarchive.errors.CopyTooLargeError` (no verdict).
    """

    def __init__(self, log: RemoteLog) -> None:
        self.log = log
        self.signers: dict[int, VerifierKey | None] = {}
        #: Whether the site had a text index to search (else only the text hash was looked up).
        self.searched = False
        self._layers: dict[int, tuple[Entry, TextLayer | None]] = {}
        self._fetched = 0
        self._bytes = 0

    def exact_text(self, text_sha256: str) -> list[int]:
        seq = self.log.lookup(text_sha256_lookup_path(text_sha256))
        if seq is None:
            return []
        if seq >= self.log.checkpoint.size:
            raise VerificationError(f"the site's lookup for text sha256:{text_sha256} points "
                                    "past its log")
        return [seq]

    def similar(self, words: Sequence[str], limit: int) -> list[int]:
        from .textindex import (
            MAX_META_BYTES,
            MAX_SHARD_BYTES,
            MAX_SHARDS_READ,
            parse_meta,
            parse_shard,
            rank_similar,
            shard_of,
            terms_of,
            text_index_dir,
        )

        size = self.log.checkpoint.size
        base = text_index_dir(size)
        raw = self.log.site.get(f"{base}/index", MAX_META_BYTES)
        if raw is None:
            return []
        try:
            meta = parse_meta(raw)
        except MalformedError as e:
            raise MalformedError(f"{self.log.site.url}/{base}/index: {e}") from e
        self.searched = True
        terms = terms_of(words)
        by_shard: dict[int, int] = {}
        for term in terms:
            n = shard_of(term, meta.shards)
            by_shard[n] = by_shard.get(n, 0) + 1
        # The shards holding most of the copy's terms (a hostile index cannot make this read
        # more than MAX_SHARDS_READ files of MAX_SHARD_BYTES).
        chosen = sorted(by_shard, key=lambda n: (-by_shard[n], n))[:MAX_SHARDS_READ]
        found: dict[str, tuple[int, tuple[int, ...] | None]] = {}
        for n in sorted(chosen):
            path = f"{base}/{n}"
            data = self.log.site.get(path, MAX_SHARD_BYTES) or b""
            try:
                shard = parse_shard(data, size)
            except MalformedError as e:
                raise MalformedError(f"{self.log.site.url}/{path}: {e}") from e
            found.update((t, v) for t, v in shard.items() if shard_of(t, meta.shards) == n)
        return rank_similar(terms, found, meta.documents, limit)

    def signed_layer(self, seq: int) -> tuple[Entry, TextLayer | None]:
        if seq in self._layers:
            return self._layers[seq]
        if not 0 <= seq < self.log.checkpoint.size:
            raise VerificationError(f"the site's text index names entry {seq}, past its log")
        entry, signer, _ = self.log.entry(seq)
        self.signers[seq] = signer
        layer: TextLayer | None = None
        d = entry.document
        if d is not None and d.text is not None:
            if self._fetched >= MAX_TEXT_CANDIDATES or self._bytes + d.text.size > MAX_TEXT_BYTES:
                raise CopyTooLargeError(
                    f"the candidates' text layers exceed {MAX_TEXT_CANDIDATES} files or "
                    f"{MAX_TEXT_BYTES} bytes; cannot decide whether the copy is the same text",
                    hint="check it against a local copy or mirror of the archive")
            self._fetched += 1
            self._bytes += d.text.size
            blob = self.log.read_object(d.text.sha256, d.text.size)
            try:
                layer = TextLayer.from_bytes(blob)
            except MalformedError:
                layer = None  # as the local check: a signed layer that does not parse is skipped
        self._layers[seq] = (entry, layer)
        return entry, layer


def prove_remote(url: str, ref: str, verifiers: Sequence[VerifierKey], *,
                 state: Path | None = None, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """A ``.tlog-proof`` (as ``orderarchive prove`` writes) for document *ref* of the site,
    verified as a stranger would verify it before it is returned."""
    from .proofs import chained_proof, verify_proof

    site = HttpSite(url, timeout=timeout)
    log = RemoteLog.open(site, verifiers, state=state)
    if not log.released:
        raise NotFoundError(f"{site.url} publishes a checkpoint that is not a release")
    entry, _, path = log.document(ref)
    assert entry.document is not None
    # The key-set chain, as the local prove writes it: each listed key-set entry through the
    # authenticated tiles, its inclusion in the verified release checked before it is written.
    proof = chained_proof(log, log.checkpoint,
                          TlogProof(entry.seq, tuple(path), log.note, entry.raw))
    data = log.read_object(entry.document.sha256, entry.document.size)
    verify_proof(data, proof, verifiers, origin=log.checkpoint.origin)
    return proof


@attrs.frozen
class MirrorReport:
    url: str
    directory: Path
    old_size: int
    size: int
    requests: int
    received: int
    written: tuple[str, ...]
    #: Pages copied from the site (0: it publishes none, or they describe another tree).
    pages: int = 0
    #: Why the site's pages were not copied, if they were not.
    pages_skipped: str | None = None
    #: Pages not copied because they carry active content (``name: why``): a hostile site.
    pages_refused: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "directory": str(self.directory), "old_size": self.old_size,
                "size": self.size, "requests": self.requests, "received": self.received,
                "written": len(self.written), "pages": self.pages,
                "pages_skipped": self.pages_skipped, "pages_refused": list(self.pages_refused)}


def mirror(url: str, directory: Path, verifiers: Sequence[VerifierKey], *,
           state: Path | None = None, timeout: float = DEFAULT_TIMEOUT) -> MirrorReport:
    """Copy the site at *url* into *directory*, pulling only what the mirror lacks.

    The mirror's own checkpoint (if any) is what it had before: the new tree must extend it
    (its tiles, computed here from the mirror's verified tiles and the new entries, must fold
    to the new signed root), and the new checkpoint is written last, atomically. Every file is
    verified before it is kept; an interrupted mirror is resumed by running it again.
    """
    from .publish import _filled_partials, _Writer

    site = HttpSite(url, timeout=timeout)
    log = RemoteLog.open(site, verifiers, state=state)
    cp = log.checkpoint
    w = _Writer(directory)
    old = published_checkpoint(directory, verifiers, cp.origin,
                               hint="mirror into an empty directory")
    old_size = old.size if old else 0
    if old is not None and old.size > cp.size:
        raise ConflictError(
            f"the mirror in {directory} holds tree size {old.size}, newer than the site's "
            f"{cp.size}: the site rolled back", hint="keep the mirror; report the site")
    if old is not None and old.size == cp.size:
        if not hmac.compare_digest(old.root_hash, cp.root_hash):
            raise TileMismatchError(f"the site's tree of size {cp.size} differs from the "
                                    "mirror's: the log forked")
        return MirrorReport(site.url, directory, old_size, cp.size, site.requests,
                            site.received, ())
    start = (old_size // TILE_WIDTH) * TILE_WIDTH
    local = _LocalTiles(directory, old) if old else None
    store = _GrowingHashes(local, merkle.stored_hash_count(start))
    raws: list[bytes] = []
    bundles: list[tuple[str, bytes]] = []
    for n in range(start // TILE_WIDTH, -(-cp.size // TILE_WIDTH)):
        width = min(TILE_WIDTH, cp.size - n * TILE_WIDTH)
        path = entry_bundle_path(n, width)
        data = site.tile(path, MAX_BUNDLE)
        try:
            chunk = parse_entry_bundle(data, width)
        except MalformedError as e:
            raise TileMismatchError(f"entry bundle {path}: {e}") from e
        bundles.append((path, data[: sum(2 + len(c) for c in chunk)]))
        for raw in chunk:
            seq = start + len(raws)
            store.extra.extend(
                merkle.stored_hashes_for_record(seq, merkle.leaf_hash(raw), store.read))
            raws.append(raw)
    # The mirror's old tree (authenticated when it was mirrored) plus the new entries must
    # give the new signed root: that is the consistency check and authenticates every byte.
    if not hmac.compare_digest(merkle.tree_hash(cp.size, store.read), cp.root_hash):
        raise TileMismatchError(
            f"the site's entries do not extend the mirror's tree of size {old_size} to the "
            f"signed root of size {cp.size}")
    # The bundles re-fetched from the mirror's last partial one must give the mirror's own
    # tree again: a site that rewrote them (a fork) is refused.
    if old is not None and not hmac.compare_digest(
            merkle.tree_hash(old.size, store.read), old.root_hash):
        raise TileMismatchError(
            f"the site's log does not extend the mirror's tree of size {old.size}: it forked")
    entries = [Entry.from_bytes(raw) for raw in raws]
    computed = ComputedEntries(store.read, raws, start)
    for entry in entries[old_size - start:]:
        verify_read_entry(computed, entry, cp, verifiers)
    from .log.tiles import new_tiles, tile_data

    for tile in new_tiles(old_size, cp.size):
        w.write(tile.path, tile_data(tile, store.read))
    for path, data in bundles:
        w.write(path, data)
    _mirror_documents(log, w, entries[old_size - start:])
    _mirror_releases(site, w, cp, verifiers, old_size=old_size, store=store)
    _mirror_text_index(log, w)
    pages, skipped, refused = _mirror_pages(log, w, old_size, entries[old_size - start:])
    w.sync()
    w.write(CHECKPOINT, log.note, replace=True)
    for name in _filled_partials(old_size, cp.size):
        w.remove_dir(name)
    return MirrorReport(site.url, directory, old_size, cp.size, site.requests, site.received,
                        tuple(w.written), pages, skipped, refused)


#: Objects a mirror downloads at once (each in its own connection).
MIRROR_WORKERS = 8


def _mirror_documents(log: RemoteLog, w: Any, entries: Sequence[Entry]) -> None:
    """The objects of verified *entries* (each checked by its hash and signed size, fetched
    :data:`MIRROR_WORKERS` at a time) and their lookups, computed here rather than
    downloaded. Objects already in the mirror with the right hash (a resumed run) are kept."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    wanted: dict[str, int] = {}
    for entry in entries:
        d = entry.document
        if d is None:
            continue
        for sha, size in [(d.sha256, d.size)] + ([(d.text.sha256, d.text.size)] if d.text
                                                  else []):
            target = w.path(f"objects/sha256/{sha[:2]}/{sha[2:]}")
            if target.is_file() and not target.is_symlink() and target.stat().st_size == size \
                    and hashlib.sha256(target.read_bytes()).hexdigest() == sha:
                continue  # resumed: already fetched and checked
            wanted[sha] = size
    pool = ThreadPoolExecutor(max_workers=MIRROR_WORKERS, thread_name_prefix="mirror")
    first_error: OrderArchiveError | None = None
    try:
        futures = {pool.submit(log.read_object, sha, size): sha for sha, size in wanted.items()}
        for future in as_completed(futures):
            sha = futures[future]
            name = f"objects/sha256/{sha[:2]}/{sha[2:]}"
            try:
                data = future.result()
            except OrderArchiveError as e:
                # Keep every object that did arrive (a resumed run needs only the rest); the
                # first failure is raised once the others are stored.
                first_error = first_error or e
                continue
            try:
                w.path(name).unlink()  # a damaged copy from an earlier run (checked above)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise StorageError(f"cannot replace {w.path(name)}: {e.strerror}") from e
            w.write(name, data)  # made durable with the rest before the checkpoint
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if first_error is not None:
        raise first_error
    for entry in entries:
        d = entry.document
        if d is None:
            continue
        w.write(doc_lookup_path(d.doc), f"{entry.seq}\n".encode())
        if not w.path(sha256_lookup_path(d.sha256)).exists():
            w.write(sha256_lookup_path(d.sha256), f"{entry.seq}\n".encode())
        if d.text is not None and not w.path(text_sha256_lookup_path(d.text.sha256)).exists():
            w.write(text_sha256_lookup_path(d.text.sha256), f"{entry.seq}\n".encode())


#: The most bytes of the site's search index and index page, and of one document page.
MAX_SEARCH_INDEX = 64 << 20
MAX_PAGE = 4 << 20


def _mirror_pages(
    log: RemoteLog, w: Any, old_size: int = 0, new: Sequence[Entry] = ()
) -> tuple[int, str | None, tuple[str, ...]]:
    """The human part of the site (docs/FORMAT.md §26), so that the mirror can be served as
    a complete copy; returns the number of pages copied, if none were, why, and the pages
    refused (``name: why``).

    What decides a verdict is never copied: the verify page, its scripts and the trust file
    are written by this program (the trust file and ``keys/`` from the keys the mirror was
    verified with, never from keys the site serves). The document pages and the index page
    are copied only when they pass :func:`.site.passive_page` (nothing but what this program's
    own pages hold: no script but search.js, no handler, no foreign URL scheme, no frame,
    form, base or refresh), re-serialised from the parse; a page that fails is not written
    (and an earlier copy under its name is removed), since it would run on the mirror's web
    origin beside its verify page. The search index must match its schema
    (:func:`.site.parse_search_index`). Nothing is copied unless the search index describes
    the checkpoint being mirrored. When the mirror already holds the pages of its tree of
    *old_size* entries (its own search index says so), only the pages of the *new* entries'
    documents and of the documents they act or report on are fetched: the others are what a
    site's publish leaves unchanged (docs/FORMAT.md §26).
    """
    from .site import (
        ASSETS,
        INDEX_PAGE,
        SEARCH_INDEX,
        TRUST_FILE,
        VERIFY_PAGE,
        _asset,
        parse_search_index,
        passive_page,
        trust_file,
        verify_page,
    )

    cp = log.checkpoint
    raw = log.site.get(SEARCH_INDEX, MAX_SEARCH_INDEX)
    if raw is None:
        return 0, "the site publishes no pages", ()
    try:
        index = parse_search_index(raw)
    except MalformedError as e:
        raise MalformedError(f"{log.site.url}/{SEARCH_INDEX} is not a search index: {e}") from e
    if index["origin"] != cp.origin or index["size"] != cp.size:
        return 0, (f"the site's pages describe {index['origin']} at tree size "
                   f"{index['size']}, not its checkpoint's {cp.size}"), ()
    docs = [row["doc"] for row in index["documents"]]
    from .site import previous_site

    wanted = list(dict.fromkeys(docs))
    if old_size and previous_site(w.outdir, cp.origin, old_size) is not None:
        changed: set[str] = set()
        for entry in new:
            d = entry.document
            if d is not None:
                changed.add(d.doc)
                changed.update(r.target for r in d.relations)
        wanted = [doc for doc in wanted if doc in changed]
    pages = 0
    refused: list[str] = []
    for name in [f"doc/{doc}.html" for doc in wanted] + [INDEX_PAGE]:
        page, why = passive_page(log.site.require(name, MAX_PAGE))
        if page is None:
            refused.append(f"{name}: {why}")
            try:
                w.path(name).unlink()  # an earlier run's copy describes an older tree
            except FileNotFoundError:
                pass
            except OSError as e:
                raise StorageError(f"cannot remove {w.path(name)}: {e.strerror}") from e
            continue
        w.write(name, page, replace=True)
        pages += 1
    w.write(SEARCH_INDEX, raw, replace=True)
    keys = [v for v in log.verifiers if v.name == cp.origin]
    w.write(VERIFY_PAGE, verify_page(cp.origin), replace=True)
    w.write(TRUST_FILE, trust_file(cp.origin, keys), replace=True)
    for name in ASSETS:
        w.write(name, _asset(name), replace=True)
    key_file = cp.origin.replace("/", "_") + ".vkey"
    w.write(f"keys/{key_file}", "".join(f"{k.to_string()}\n" for k in keys).encode(),
            replace=True)
    return pages, None, tuple(refused)


def _mirror_text_index(log: RemoteLog, w: Any) -> None:
    """The site's text index of its release, copied as the hint it is (:mod:`.textindex`:
    never believed, its format checked, every shard bounded), its ``index`` file last."""
    from .textindex import MAX_META_BYTES, MAX_SHARD_BYTES, parse_meta, parse_shard, text_index_dir

    size = log.checkpoint.size
    base = text_index_dir(size)
    if w.path(f"{base}/index").is_file():
        return
    raw = log.site.get(f"{base}/index", MAX_META_BYTES)
    if raw is None:
        return  # a site published without one; check --archive on the mirror says so
    try:
        meta = parse_meta(raw)
        for n in range(meta.shards):
            data = log.site.get(f"{base}/{n}", MAX_SHARD_BYTES)
            if data is not None:
                parse_shard(data, size)
                w.write(f"{base}/{n}", data)
    except MalformedError as e:
        raise MalformedError(f"{log.site.url}/{base}: {e}") from e
    w.write(f"{base}/index", raw)


def _mirror_releases(site: HttpSite, w: Any, cp: Checkpoint, verifiers: Sequence[VerifierKey],
                     *, old_size: int, store: _GrowingHashes) -> None:
    """The signed releases after the mirror's old tree, following the chain back from the
    checkpoint through each ``orderarchive.previous-release`` line: each signed by a trusted
    key and each root that of the verified tree at its size."""
    from .log.layout import previous_release

    size: int | None = cp.size
    while size is not None and size > old_size:
        note = site.require(f"releases/{size}", MAX_CHECKPOINT)
        rel, _ = open_checkpoint(note, verifiers, origin=cp.origin)
        if rel.size != size or not hmac.compare_digest(
                merkle.tree_hash(size, store.read), rel.root_hash):
            raise VerificationError(f"the site's releases/{size} is not the log's tree there")
        w.write(f"releases/{size}", note)
        previous = previous_release(rel)
        if previous is not None and previous >= size:
            raise VerificationError(f"releases/{size} names a later release {previous}")
        size = previous


class _LocalTiles:
    """The mirror's own tiles, authenticated against its own (verified) checkpoint."""

    def __init__(self, directory: Path, cp: Checkpoint) -> None:
        self.directory = directory
        self.reader = TileHashReader(cp.size, cp.root_hash, self._fetch)

    def _fetch(self, paths: Sequence[str]) -> list[bytes]:
        out = []
        for p in paths:
            target = self.directory.joinpath(*p.split("/"))
            if not target.is_file() and ".p/" in p:
                target = self.directory.joinpath(*p.split(".p/", maxsplit=1)[0].split("/"))
            try:
                with open(target, "rb") as f:
                    out.append(f.read(MAX_TILE + 1))
            except OSError as e:
                raise StorageError(f"the mirror's tile {p} cannot be read: {e}") from e
        return out


class _GrowingHashes:
    def __init__(self, local: _LocalTiles | None, base: int) -> None:
        self.local = local
        self.base = base
        self.extra: list[bytes] = []

    def read(self, indexes: Sequence[int]) -> list[bytes]:
        old = [i for i in indexes if i < self.base]
        got: dict[int, bytes] = {}
        if old:
            assert self.local is not None
            got = dict(zip(old, self.local.reader.read(old), strict=True))
        return [got[i] if i < self.base else self.extra[i - self.base] for i in indexes]
