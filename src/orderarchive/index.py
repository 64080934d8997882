"""The derived index: an SQLite database that says where in the log to look.

``check``, ``show``, ``quote`` and ``search`` must not scan a log of a million entries, so
every document entry's metadata, relations and text paragraphs are copied into SQLite (stdlib
:mod:`sqlite3`, FTS5 for full text). The index is **derived data, kept outside the archive**:
it lives in the user's cache directory (:func:`index_path`), never in the archive, so a mirror
(``cp -r``, ``rsync``) cannot carry a poisoned one, and a read-only archive can be read. It is
built only from entries whose signatures verify against the user's trusted keys and whose leaf
hashes, folded into the compact range kept in ``meta`` (:func:`.merkle.compact_append`), give
the root of a checkpoint signed by those keys (see ``Archive.index``); the origin, key set,
tree size, root and compact range it was built for are recorded, and any mismatch rebuilds it.
Callers still re-read from the log every entry whose status, relation or text they report.
The database runs with ``synchronous=NORMAL``: a transaction lost in a power cut costs a
rebuild, never an archive.

Schema (version :data:`SCHEMA_VERSION`; any other version is deleted and rebuilt):

* ``documents`` — one row per document entry, ``seq`` as the rowid, ``doc`` unique, with
  indexes on ``sha256``, ``text_sha256``, ``source_url`` and ``(kind, seq)``;
* ``relations`` — ``(seq, position) → type, target``, indexed by ``target``;
* ``stems`` — the same rows indexed by their Porter stems, for ``search`` (external content:
  the text is read from ``passages``);
* ``passages`` — a contentful FTS5 table (``unicode61``, diacritics folded) with one row per
  text-layer paragraph plus one for the title. The rowid packs the place in the log:
  ``seq << 32 | paragraph`` with paragraph 0 for the title, so that hits map back to entries
  without a join table and a search inside one document is a rowid range scan;
* ``meta`` — schema version, origin, trusted-key-set fingerprint, indexed tree size, root
  and compact range, row counts, and ``text_size``: the first ``text_size`` entries of the
  tree have their rows in ``passages`` and ``stems``.

The full text may lag the metadata (issue 15): ``add`` indexes the metadata it needs for its
own checks (ids, digests, relations) and leaves the two FTS5 tables, which cost most of the
index's time, to :meth:`Index.fill_text`, run before any other use of the index
(``Archive.index``). It reads each pending document's text layer through a callback that
checks the layer against the digest and size its verified entry signs, so the lazily built
rows are the rows an eager build writes (``tests/test_index_lazy.py``).
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import stat
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs

from .errors import ConflictError, MalformedError, StorageError
from .log.entry import Entry
from .log.merkle import HASH_SIZE

if TYPE_CHECKING:
    from .log.checkpoint import Checkpoint
    from .log.textlayer import TextLayer

SCHEMA_VERSION = 4

#: Environment variable naming the directory that holds the derived indexes.
CACHE_ENV = "ORDERARCHIVE_CACHE"

#: Seconds a reader or writer waits for another connection's lock before giving up.
BUSY_TIMEOUT = 30.0
#: SQLite's page cache: 64 MiB, for random sha256 keys at a million rows; while an update is
#: held open across a streaming add (:meth:`Index.hold`), 2 MiB (uncommitted pages beyond it
#: spill to the write-ahead log instead of growing the process).
CACHE_KIB = 65536
HOLD_CACHE_KIB = 2048

#: Markers around matched terms in :attr:`SearchHit.snippet`.
MARK = ("[", "]")

_PARAGRAPH_BITS = 32
_PARAGRAPH_MASK = (1 << _PARAGRAPH_BITS) - 1
#: SQLite rowids are signed 64-bit, so the packed ``seq << 32 | paragraph`` caps seq at 2**31.
MAX_SEQ = (1 << (63 - _PARAGRAPH_BITS)) - 1

# Term sampling for candidate_docs/near_duplicates: look only at the rarest terms (they say the
# most about which document a text came from) and bound the postings read per call, so a query
# made only of common words costs a bounded amount at a million documents.
_SAMPLE_TERMS = 32
_POSTING_BUDGET = 500_000

_TOKENIZER = "unicode61 remove_diacritics 2"
# `search` looks words up by their Porter stems (issue 12 item 7: "orders" finds "order",
# "prioritizing" finds "prioritize") in a second FTS5 index over the same rows (external
# content: the text is stored once, in passages). Candidate lookups for quotations and copies
# keep the unstemmed index, whose terms they weigh by rarity.
_STEM_TOKENIZER = "porter unicode61 remove_diacritics 2"
_HYPHENS = "-\u2010\u2011"
#: Splits of a compound word tried against the index ("nonpublic" -> "non public").
_MAX_SPLITS = 2
#: Vocabulary terms read when looking for a "did you mean" suggestion.
_SUGGEST_SCAN = 20_000
_QUOTES = frozenset('"“”„')  # typographic quotes delimit phrases too: users paste them

# SQLite result codes that mean "this file is not a usable database" (rather than "busy" or
# "permission denied"): only these make open() throw the file away.
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26

_SCHEMA = (
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID",
    """CREATE TABLE documents(
        seq INTEGER PRIMARY KEY,
        doc TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        issuer TEXT NOT NULL,
        issued TEXT,
        sha256 BLOB NOT NULL,
        text_sha256 BLOB,
        text_size INTEGER,
        source_url TEXT,
        media_type TEXT NOT NULL,
        recorded TEXT NOT NULL)""",
    "CREATE INDEX documents_sha256 ON documents(sha256)",
    "CREATE INDEX documents_text_sha256 ON documents(text_sha256) WHERE text_sha256 IS NOT NULL",
    "CREATE INDEX documents_source_url ON documents(source_url) WHERE source_url IS NOT NULL",
    "CREATE INDEX documents_kind ON documents(kind, seq)",
    """CREATE TABLE relations(
        seq INTEGER NOT NULL,
        position INTEGER NOT NULL,
        type TEXT NOT NULL,
        target TEXT NOT NULL,
        PRIMARY KEY(seq, position)) WITHOUT ROWID""",
    "CREATE INDEX relations_target ON relations(target, seq)",
    f"CREATE VIRTUAL TABLE passages USING fts5(body, page UNINDEXED, tokenize='{_TOKENIZER}')",
    "CREATE VIRTUAL TABLE stems USING fts5(body, content='passages', content_rowid='rowid', "
    f"tokenize='{_STEM_TOKENIZER}')",
)
_TABLES = ("meta", "documents", "relations", "passages", "stems")

_DOC_COLUMNS = (
    "d.seq, d.doc, d.kind, d.title, d.issuer, d.issued, d.sha256, d.text_sha256, "
    "d.source_url, d.media_type, d.recorded"
)


@attrs.frozen
class Binding:
    """What an index was built for: the log, the trusted keys, and the tree it holds.

    ``root`` is None while an update is under way (the compact range then holds leaves whose
    root has not yet been compared with a signed checkpoint).
    """

    origin: str | None
    keys: str | None
    size: int
    root: bytes | None
    frontier: tuple[bytes, ...]


@attrs.frozen
class IndexedDoc:
    """What the index holds about one document entry (unverified: re-read the log)."""

    seq: int
    doc: str
    kind: str
    title: str
    issuer: str
    issued: str | None
    sha256: str
    text_sha256: str | None
    source_url: str | None
    media_type: str
    recorded: str


@attrs.frozen
class RelationRow:
    """Entry *seq* (document *source_doc*) declares that it *type*s *target_doc*."""

    seq: int
    source_doc: str
    type: str
    target_doc: str
    issued: str | None
    recorded: str


@attrs.frozen
class SearchHit:
    """One matching paragraph.

    ``paragraph`` is the 1-based paragraph number of the text layer, or 0 when the match is in
    the title; ``page`` is None for title hits and for media without pages. ``snippet`` is the
    matching passage with matched terms between :data:`MARK`. ``rank`` is the FTS5 bm25
    relevance negated, so that larger is better.
    """

    seq: int
    doc: str
    title: str
    page: int | None
    paragraph: int
    snippet: str
    rank: float


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _has_token(text: str) -> bool:
    # unicode61's token characters are the categories L*, N* and Co; everything else separates.
    return any(unicodedata.category(ch)[0] in "LN" or unicodedata.category(ch) == "Co"
               for ch in text)


@attrs.frozen
class _Term:
    """One term of a search: a word, a ``"phrase"``, or a ``prefix*``."""

    text: str
    phrase: bool = False
    prefix: bool = False

    def render(self) -> str:
        return _quote(self.text) + (" *" if self.prefix else "")


def _parse(text: str) -> list[_Term]:
    terms: list[_Term] = []
    buf: list[str] = []
    in_phrase = False

    def flush_word() -> None:
        word = "".join(buf)
        buf.clear()
        prefix = word.endswith("*")
        word = word.rstrip("*")
        if _has_token(word):
            terms.append(_Term(word, prefix=prefix))

    # Control characters separate words anyway, and a NUL would end the query string inside
    # SQLite's FTS5 parser ("unterminated string"); a lone surrogate cannot be encoded at all.
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in text)
    for ch in text:
        if ch in _QUOTES:
            if in_phrase:
                phrase = "".join(buf)
                buf.clear()
                if _has_token(phrase):
                    terms.append(_Term(phrase, phrase=True))
            else:
                flush_word()
            in_phrase = not in_phrase
        elif ch.isspace() and not in_phrase:
            flush_word()
        else:
            buf.append(ch)
    if in_phrase:  # an unclosed quote: the rest is the phrase
        phrase = "".join(buf)
        if _has_token(phrase):
            terms.append(_Term(phrase, phrase=True))
    else:
        flush_word()
    return terms


def fts_query(text: str) -> str | None:
    """Turn what a user typed into a safe FTS5 query, or None if it has nothing to search.

    Every word must occur; ``"..."`` (straight or typographic quotes) is a phrase and a word
    ending in ``*`` is a prefix. Nothing else is syntax: ``AND``, ``NEAR(``, ``col:``, ``^``
    and stray quotes are searched for as the words they contain, because every term is passed
    to FTS5 as a quoted string, the only FTS5 construct with no operators inside.
    """
    # Juxtaposition is FTS5's implicit AND.
    return " ".join(t.render() for t in _parse(text)) or None


def _digest(sha_hex: str) -> bytes | None:
    text = sha_hex.strip().lower().removeprefix("sha256:")
    if len(text) != 64:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def _indexed_doc(row: Sequence[Any]) -> IndexedDoc:
    # Digests are stored as 32-byte BLOBs: half the size of hex, which keeps the random-order
    # sha256 index in cache while a million entries are indexed.
    (seq, doc, kind, title, issuer, issued, sha, text_sha, source_url, media_type,
     recorded) = row
    return IndexedDoc(
        seq=seq, doc=doc, kind=kind, title=title, issuer=issuer, issued=issued,
        sha256=bytes(sha).hex(), text_sha256=bytes(text_sha).hex() if text_sha else None,
        source_url=source_url, media_type=media_type, recorded=recorded,
    )


def _passages(
    seq: int, title: str, layer: TextLayer | None, paged: bool
) -> list[tuple[Any, ...]]:
    """The full-text rows of document entry *seq*: its title, then each paragraph."""
    base = seq << _PARAGRAPH_BITS
    rows: list[tuple[Any, ...]] = []
    if title:
        rows.append((base, title, None))
    if layer is not None:
        for para in layer.paragraphs():
            if para.number > _PARAGRAPH_MASK:
                raise StorageError(f"index: entry {seq} has too many paragraphs")
            rows.append((base | para.number, para.text, para.page if paged else None))
    return rows


def _insert_passages(conn: sqlite3.Connection, passages: Sequence[tuple[Any, ...]]) -> None:
    conn.executemany("INSERT INTO passages(rowid, body, page) VALUES (?, ?, ?)", passages)
    conn.executemany("INSERT INTO stems(rowid, body) VALUES (?, ?)", [r[:2] for r in passages])


def _is_pdf(entry: Entry) -> bool:
    return entry.document is not None and entry.document.media_type == "application/pdf"


def _storage_error(e: sqlite3.Error, what: str) -> StorageError:
    return StorageError(
        f"index: cannot {what}: {e}",
        hint=f"the index is derived data in {cache_dir()} (or ${CACHE_ENV}): delete it and it "
        "is rebuilt from the verified log",
    )


class _UnusableError(Exception):
    """Internal: the file is not an index of this schema and should be recreated."""


def cache_dir() -> Path:
    """Where derived indexes live: ``$ORDERARCHIVE_CACHE``, else ``$XDG_CACHE_HOME/orderarchive``,
    else ``~/.cache/orderarchive`` (XDG Base Directory specification)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME")
    if base and Path(base).is_absolute():
        return Path(base) / "orderarchive"
    return Path.home() / ".cache" / "orderarchive"


def index_path(location: str | Path, origin: str) -> Path:
    """The index file, in the user's cache directory, of the archive whose store is at
    *location* (``Store.location()``: a directory store's resolved directory, or a URL such
    as an S3 bucket's ``s3://...``) for *origin*.

    Named from a hash of the location and the origin, so that two archives (or one directory
    re-initialised for another log) never share an index. Never beside the archive: an index
    shipped inside a mirror must not decide anything (issue 11; docs/THREATS.md).
    """
    import hashlib

    if isinstance(location, str) and "://" in location:
        resolved = location  # a URL: not a path to resolve against the working directory
    else:
        try:
            resolved = str(Path(location).resolve())
        except (OSError, RuntimeError) as e:
            raise StorageError(f"cannot resolve {location}: {e}") from e
    key = hashlib.sha256(f"{resolved}\n{origin}".encode("utf-8", "surrogateescape")).hexdigest()
    return cache_dir() / f"index-{key[:32]}.sqlite"


def _sidecars(path: Path) -> tuple[Path, ...]:
    return (Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal"))


def _make_private_dir(directory: Path) -> None:
    """Create *directory* (mode 0700) unless it exists; refuse a symlink or a non-directory."""
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        st = os.lstat(directory)
    except OSError as e:
        raise StorageError(f"index: cannot create {directory}: {e.strerror}") from e
    if not stat.S_ISDIR(st.st_mode):
        raise StorageError(
            f"index: {directory} is not a directory (a symlink is not followed)",
            hint=f"remove it, or set {CACHE_ENV} to another directory",
        )
    # Whoever can write the directory can swap the index (or plant its -wal) between our
    # checks of the file and SQLite's open: another user's directory, or one that group or
    # others may write, is not used (the caller builds the index in memory instead).
    if st.st_uid != os.geteuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StorageError(
            f"index: {directory} is another user's or writable by others; not used",
            hint=f"set {CACHE_ENV} to a directory of your own (mode 0700)",
        )


def _claim_file(path: Path) -> None:
    """Make sure *path* is a regular file of ours (0600), writable only by us, before SQLite
    opens it.

    SQLite follows symlinks; a symlink planted at the index (or its -wal/-shm/-journal) would
    make a read command write to its target. Symlinks and other non-regular files at these
    names are removed (the link, never its target), then the file is created with O_NOFOLLOW.
    """
    for name in (path, *_sidecars(path)):
        try:
            st = os.lstat(name)
        except FileNotFoundError:
            continue
        except OSError as e:
            raise StorageError(f"index: cannot inspect {name}: {e.strerror}") from e
        # Not a regular file, another user's, or writable by others: whoever could write it
        # could have poisoned it. It is derived data: remove it (never a link's target).
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_uid != os.geteuid()
            or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        ):
            try:
                os.unlink(name)
            except OSError as e:
                raise StorageError(
                    f"index: {name} is not a regular file and cannot be removed: {e.strerror}"
                ) from e
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        raise StorageError(f"index: cannot open {path}: {e.strerror}") from e
    os.close(fd)


def _defensive(conn: sqlite3.Connection) -> None:
    """SQLite's settings for a database file that may have been edited by someone else.

    ``trusted_schema=OFF`` stops views and triggers in the file from calling functions with
    side effects; defensive mode forbids writing to the schema or shadow tables directly
    (sqlite.org/security.html); extension loading stays off.
    """
    conn.execute("PRAGMA trusted_schema = OFF")
    config = getattr(conn, "setconfig", None)  # Python 3.12+
    flag = getattr(sqlite3, "SQLITE_DBCONFIG_DEFENSIVE", None)
    if config is not None and flag is not None:
        config(flag, True)
    if hasattr(conn, "enable_load_extension"):
        conn.enable_load_extension(False)


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; add() and reset() BEGIN IMMEDIATE
    # themselves, so each is one transaction and a writer never upgrades a read lock (which
    # could deadlock against another writer in WAL mode).
    _claim_file(path)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        _defensive(conn)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA temp_store = MEMORY")
        # Checkpoint every 64 MiB of WAL rather than 4 MiB: a rebuild commits every few
        # thousand entries, and fewer checkpoints write each hot index page fewer times.
        conn.execute("PRAGMA wal_autocheckpoint = 16384")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")  # random sha256 keys at 1M rows
    except BaseException:
        conn.close()
        raise
    return conn


def _create_schema(
    conn: sqlite3.Connection, origin: str | None = None, keys: str | None = None
) -> None:
    for statement in _SCHEMA:
        conn.execute(statement)
    conn.executemany(
        "INSERT INTO meta(key, value) VALUES (?, ?)",
        [("schema", SCHEMA_VERSION), ("size", 0), ("root", None), ("frontier", b""),
         ("origin", origin), ("keys", keys), ("documents", 0), ("passages", 0),
         ("text_size", 0)],
    )


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def _prepare(conn: sqlite3.Connection) -> None:
    """Create the schema in an empty database; refuse a foreign or other-version one."""
    tables = _tables(conn)
    if not tables:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not _tables(conn):  # another process may have created it meanwhile
                _create_schema(conn)
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        tables = _tables(conn)
    if "meta" not in tables:
        raise _UnusableError("not an orderarchive index")
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    if row is None or row[0] != SCHEMA_VERSION or not set(_TABLES) <= tables:
        raise _UnusableError(f"index schema {row and row[0]!r}, want {SCHEMA_VERSION}")


def _unusable(e: sqlite3.Error) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def _remove(path: Path) -> None:
    for name in (path, *_sidecars(path)):
        try:
            name.unlink(missing_ok=True)
        except OSError as e:
            raise StorageError(f"index: cannot remove unusable {name}: {e.strerror}") from e


class Index:
    """The derived SQLite index of one archive. Open with :meth:`open`; close when done."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._probe_ready = False
        #: The verified checkpoint the index was last brought up to (set by ``Archive.index``).
        self.checkpoint: Checkpoint | None = None

    @classmethod
    def open(cls, path: Path) -> Index:
        """Open (creating if missing) the index at *path*.

        A file that is not a database, is corrupt, or holds another schema is deleted and
        recreated empty: it is derived data, and :meth:`state` then tells the caller to rebuild.
        """
        path = Path(path)
        _make_private_dir(path.parent)
        for attempt in range(2):
            conn: sqlite3.Connection | None = None
            try:
                conn = _connect(path)
                _prepare(conn)
                return cls(conn, path)
            except _UnusableError:
                if conn is not None:
                    conn.close()
                if attempt:
                    raise StorageError(f"index: cannot recreate {path}") from None
                _remove(path)
            except sqlite3.Error as e:
                if conn is not None:
                    conn.close()
                if attempt or not _unusable(e):
                    raise _storage_error(e, f"open {path}") from e
                _remove(path)
        raise AssertionError("unreachable")  # pragma: no cover

    @classmethod
    def memory(cls) -> Index:
        """An empty index in memory, for one process (when no cache directory is writable)."""
        try:
            conn = sqlite3.connect(":memory:", isolation_level=None)
            _defensive(conn)
            _prepare(conn)
        except sqlite3.Error as e:
            raise _storage_error(e, "create an index in memory") from e
        return cls(conn, Path(":memory:"))

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _query(self, what: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except UnicodeEncodeError:
            return []  # a str with lone surrogates: everything indexed is valid UTF-8
        except sqlite3.Error as e:
            raise _storage_error(e, what) from e

    @contextlib.contextmanager
    def transaction(self, what: str = "update") -> Iterator[None]:
        """One transaction around several :meth:`reset`/:meth:`add` calls: a reader (or a
        crash) sees the index before or after all of them, never between."""
        with self._transaction(what):
            yield

    def hold(self) -> None:
        """Begin a transaction that the next :meth:`add` and :meth:`seal` calls join, until
        :meth:`release`: a streaming ``add`` indexes each batch as it is written and commits
        the index only once the log's checkpoint has. Its pages are held in a small cache
        (the rest spills to the write-ahead log), so memory does not grow with the batch."""
        try:
            self._conn.execute(f"PRAGMA cache_size = -{HOLD_CACHE_KIB}")
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise _storage_error(e, "begin an update") from e

    def release(self, *, commit: bool) -> None:
        """End the transaction of :meth:`hold`: commit it, or roll it back (nothing of it kept)."""
        conn = self._conn
        try:
            if conn.in_transaction:
                conn.execute("COMMIT" if commit else "ROLLBACK")
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        except sqlite3.Error as e:
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            raise _storage_error(e, "commit an update" if commit else "roll back") from e

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        try:
            nested = conn.in_transaction  # inside transaction(): the outer one commits
        except sqlite3.Error as e:
            raise _storage_error(e, what) from e
        if nested:
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise _storage_error(e, what) from e
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as e:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                raise _storage_error(e, what) from e
            raise

    def _meta(self, conn: sqlite3.Connection) -> dict[str, Any]:
        return dict(conn.execute("SELECT key, value FROM meta").fetchall())

    # -- state ----------------------------------------------------------------------------------

    def state(self) -> tuple[int, bytes | None]:
        """(tree size, root hash) of the log as of the last :meth:`add`; (0, None) if empty."""
        try:
            meta = self._meta(self._conn)
        except sqlite3.Error as e:
            raise _storage_error(e, "read its state") from e
        root = meta.get("root")
        return int(meta.get("size") or 0), bytes(root) if root is not None else None

    def binding(self) -> Binding:
        """The origin, key set and tree the index holds (see :class:`Binding`)."""
        try:
            meta = self._meta(self._conn)
        except sqlite3.Error as e:
            raise _storage_error(e, "read its state") from e
        size, root = meta.get("size"), meta.get("root")
        frontier = meta.get("frontier")
        origin, keys = meta.get("origin"), meta.get("keys")
        # Anything of the wrong type is damage: report it as an index of nothing.
        if (
            not isinstance(size, int) or size < 0
            or not isinstance(frontier, bytes) or len(frontier) != HASH_SIZE * size.bit_count()
            or not (root is None or (isinstance(root, bytes) and len(root) == HASH_SIZE))
        ):
            return Binding(None, None, 0, None, ())
        hashes = tuple(frontier[i : i + HASH_SIZE] for i in range(0, len(frontier), HASH_SIZE))
        return Binding(
            origin if isinstance(origin, str) else None,
            keys if isinstance(keys, str) else None,
            size, root, hashes,
        )

    def reset(self, *, origin: str | None = None, keys: str | None = None) -> None:
        """Drop everything, leaving an empty index at size 0 bound to *origin* and *keys*."""
        with self._transaction("reset") as conn:
            for table in reversed(_TABLES):
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            _create_schema(conn, origin, keys)
        self._probe_ready = False

    def seal(self, root: bytes) -> None:
        """Record that the indexed tree's root is *root*, compared with a signed checkpoint."""
        with self._transaction("record the indexed root") as conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'root'", (bytes(root),))

    def add(
        self,
        entries: Sequence[Entry],
        texts: Mapping[str, TextLayer],
        *,
        size: int,
        root: bytes | None,
        paged: Callable[[Entry], bool] | None = None,
        frontier: Sequence[bytes] = (),
        text: bool = True,
    ) -> None:
        """Index *entries*, which continue the log at ``state()[0]``, and record (size, root)
        and the compact range *frontier* of the tree of *size* leaves.

        *texts* maps text-layer sha256 to the layer; a document whose layer is missing is
        indexed by its metadata and title only. ``paged(entry)`` says whether page numbers
        mean anything (default: PDF); if not, hits carry no page. With ``text=False``, or
        when earlier entries' text is still pending, the full-text rows are left for
        :meth:`fill_text`. One transaction: a crash leaves the index at its previous state.
        """
        is_paged = paged or _is_pdf
        docs: list[tuple[Any, ...]] = []
        relations: list[tuple[Any, ...]] = []
        passages: list[tuple[Any, ...]] = []
        for entry in entries:
            fields = entry.document
            if fields is None:
                continue  # other entry types occupy a seq but are not documents
            if entry.seq > MAX_SEQ:
                raise StorageError(f"index: entry {entry.seq} is beyond the index's {MAX_SEQ}")
            docs.append((
                entry.seq, fields.doc, fields.kind, fields.title, fields.issuer, fields.issued,
                bytes.fromhex(fields.sha256),
                bytes.fromhex(fields.text.sha256) if fields.text else None,
                fields.text.size if fields.text else None, fields.source_url,
                fields.media_type, entry.recorded,
            ))
            relations.extend(
                (entry.seq, i, rel.type, rel.target) for i, rel in enumerate(fields.relations)
            )
            if text:
                layer = texts.get(fields.text.sha256) if fields.text else None
                passages.extend(_passages(entry.seq, fields.title, layer, is_paged(entry)))
        with self._transaction("add entries") as conn:
            meta = self._meta(conn)
            start = int(meta["size"])
            text_size = int(meta["text_size"])
            if text_size != start:
                text = False  # earlier entries' text is pending: fill_text adds it in order
            if not text:
                passages = []
            for i, entry in enumerate(entries):
                if entry.seq != start + i:
                    raise ConflictError(
                        f"index: entry {entry.seq} does not continue the index at {start + i}"
                    )
            if size != start + len(entries):
                raise ConflictError(
                    f"index: {len(entries)} entries from {start} do not make tree size {size}"
                )
            try:
                conn.executemany(
                    "INSERT INTO documents(seq, doc, kind, title, issuer, issued, sha256, "
                    "text_sha256, text_size, source_url, media_type, recorded) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    docs,
                )
            except sqlite3.IntegrityError as e:
                raise self._duplicate(conn, docs, start) from e
            conn.executemany(
                "INSERT INTO relations(seq, position, type, target) VALUES (?, ?, ?, ?)",
                relations,
            )
            _insert_passages(conn, passages)
            conn.executemany(
                "UPDATE meta SET value = ? WHERE key = ?",
                [(size, "size"), (None if root is None else bytes(root), "root"),
                 (b"".join(frontier), "frontier"),
                 (int(meta["documents"]) + len(docs), "documents"),
                 (int(meta["passages"]) + len(passages), "passages"),
                 (size if text else text_size, "text_size")],
            )

    def text_pending(self) -> bool:
        """Whether entries' full text waits for :meth:`fill_text`."""
        try:
            meta = self._meta(self._conn)
        except sqlite3.Error as e:
            raise _storage_error(e, "read its state") from e
        return int(meta.get("text_size") or 0) != int(meta.get("size") or 0)

    def fill_text(
        self, read: Callable[[str, int], TextLayer], *, batch: int = 2000
    ) -> int:
        """Index the full text of the entries :meth:`add` left without it; the number of
        documents filled.

        ``read(text_sha256, size)`` returns the text layer with that digest and size, checked
        against both (the values come from verified entries), or raises. The rows written are
        those :meth:`add` writes with the layers at hand (title, then each paragraph; pages
        for PDFs only). One transaction: an unreadable layer leaves the text pending.
        """
        filled = 0
        with self._transaction("index full text") as conn:
            meta = self._meta(conn)
            size, text_size = int(meta["size"]), int(meta["text_size"])
            if text_size >= size:
                return 0
            total = int(meta["passages"])
            after = text_size - 1
            while True:
                rows = conn.execute(
                    "SELECT seq, title, text_sha256, text_size, media_type FROM documents "
                    "WHERE seq > ? ORDER BY seq LIMIT ?", (after, batch),
                ).fetchall()
                if not rows:
                    break
                passages: list[tuple[Any, ...]] = []
                for seq, title, text_sha, text_bytes, media_type in rows:
                    layer = None if text_sha is None else read(bytes(text_sha).hex(), text_bytes)
                    passages.extend(
                        _passages(seq, title, layer, media_type == "application/pdf")
                    )
                _insert_passages(conn, passages)
                total += len(passages)
                filled += len(rows)
                after = rows[-1][0]
            conn.executemany(
                "UPDATE meta SET value = ? WHERE key = ?",
                [(total, "passages"), (size, "text_size")],
            )
        return filled

    def _duplicate(
        self, conn: sqlite3.Connection, docs: list[tuple[Any, ...]], start: int
    ) -> ConflictError:
        # Rows of this batch inserted before the failing one are still visible here (the
        # transaction is rolled back after), hence "seq < start".
        seen: dict[str, int] = {}
        for row in docs:
            seq, doc = row[0], row[1]
            if doc in seen:
                return ConflictError(f"index: document id {doc!r} in entries {seen[doc]} and {seq}")
            seen[doc] = seq
            found = conn.execute(
                "SELECT seq FROM documents WHERE doc = ? AND seq < ?", (doc, start)
            ).fetchone()
            if found is not None:
                return ConflictError(f"index: document id {doc!r} in entries {found[0]} and {seq}")
        return ConflictError("index: an entry conflicts with one already indexed")

    # -- lookups --------------------------------------------------------------------------------

    # The SQL built with f-strings below joins fixed fragments of this module only; every value
    # is a bound parameter.

    def _docs(self, where: str, params: Sequence[Any], what: str) -> list[IndexedDoc]:
        sql = f"SELECT {_DOC_COLUMNS} FROM documents d {where}"  # noqa: S608 (fixed fragments)
        rows = self._query(what, sql, params)
        return [_indexed_doc(row) for row in rows]

    def by_doc(self, doc: str) -> IndexedDoc | None:
        """The indexed document *doc* (unverified: re-read the log), or None."""
        found = self._docs("WHERE d.doc = ?", (doc,), "look up a document id")
        return found[0] if found else None

    def by_seq(self, seq: int) -> IndexedDoc | None:
        """The indexed document of entry *seq* (unverified: re-read the log), or None."""
        found = self._docs("WHERE d.seq = ?", (seq,), "look up an entry")
        return found[0] if found else None

    def by_sha256(self, sha_hex: str) -> list[IndexedDoc]:
        """Documents whose bytes have this SHA-256 (hex, optionally ``sha256:``-prefixed)."""
        digest = _digest(sha_hex)
        if digest is None:
            return []
        return self._docs("WHERE d.sha256 = ? ORDER BY d.seq", (digest,), "look up a sha256")

    def by_text_sha256(self, sha_hex: str) -> list[IndexedDoc]:
        """Documents whose text layer has this SHA-256."""
        digest = _digest(sha_hex)
        if digest is None:
            return []
        return self._docs(
            "WHERE d.text_sha256 = ? ORDER BY d.seq", (digest,), "look up a text sha256"
        )

    def by_source_url(self, url: str) -> list[IndexedDoc]:
        """The indexed documents fetched from *url* (unverified: re-read the log)."""
        return self._docs("WHERE d.source_url = ? ORDER BY d.seq", (url,),
                          "look up a source URL")

    def documents(
        self, *, kind: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[IndexedDoc]:
        """Documents in log order, optionally of one kind, paged by *limit*/*offset*."""
        where = "WHERE d.kind = ?" if kind is not None else ""
        params: list[Any] = [kind] if kind is not None else []
        params += [-1 if limit is None else max(limit, 0), max(offset, 0)]
        return self._docs(f"{where} ORDER BY d.seq LIMIT ? OFFSET ?", params, "list documents")

    def count(self) -> int:
        """The number of document entries indexed."""
        rows = self._query("count documents", "SELECT value FROM meta WHERE key = 'documents'")
        return int(rows[0][0]) if rows else 0

    def _relations(self, where: str, params: Sequence[Any], what: str) -> list[RelationRow]:
        sql = (
            "SELECT r.seq, d.doc, r.type, r.target, d.issued, d.recorded "  # noqa: S608 (fixed)
            f"FROM relations r JOIN documents d ON d.seq = r.seq {where}"
        )
        rows = self._query(what, sql, params)
        return [RelationRow(*row) for row in rows]

    def relations_from(self, doc: str) -> list[RelationRow]:
        """The relations document *doc*'s entry declares, in the entry's order."""
        return self._relations("WHERE d.doc = ? ORDER BY r.position", (doc,), "read relations")

    def relations_to(self, doc: str) -> list[RelationRow]:
        """Relations that name *doc* as their target, in log order."""
        return self._relations(
            "WHERE r.target = ? ORDER BY r.seq, r.position", (doc,), "read relations"
        )

    # -- full text ------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        limit: int = 20,
        doc: str | None = None,
        mark: tuple[str, str] = MARK,
    ) -> list[SearchHit]:
        """Paragraphs (and titles) matching *query* (see :func:`fts_query`), best first."""
        terms = _parse(query)
        if not terms or limit <= 0:
            return []
        try:
            # Explicit AND: FTS5 has no implicit AND next to a parenthesised group.
            match = " AND ".join(self._variants(t) for t in terms)
        except sqlite3.Error as e:
            raise _storage_error(e, "search") from e
        bounds = ""
        params: list[Any] = [mark[0], mark[1], match]
        if doc is not None:
            found = self.by_doc(doc)
            if found is None:
                return []
            bounds = "AND rowid BETWEEN ? AND ?"
            params += [found.seq << _PARAGRAPH_BITS, found.seq << _PARAGRAPH_BITS | _PARAGRAPH_MASK]
        params.append(limit)
        sql = (
            "SELECT h.rid >> 32, d.doc, d.title, p.page, h.rid & 4294967295, h.snip, -h.score "  # noqa: S608 (fixed)
            "FROM (SELECT rowid AS rid, "
            "snippet(stems, 0, ?, ?, '…', 16) AS snip, rank AS score "
            f"FROM stems WHERE stems MATCH ? {bounds} ORDER BY rank LIMIT ?) h "
            "JOIN documents d ON d.seq = h.rid >> 32 JOIN passages p ON p.rowid = h.rid "
            "ORDER BY h.score, h.rid"
        )
        try:
            rows = self._conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as e:
            if "fts5" in str(e):  # fts_query should make this impossible; never leak it
                raise MalformedError(f"search query {query!r} cannot be searched: {e}") from e
            raise _storage_error(e, "search") from e
        except sqlite3.Error as e:
            raise _storage_error(e, "search") from e
        return [SearchHit(*row) for row in rows]

    def _ensure_probe(self) -> None:
        if self._probe_ready:
            return
        conn = self._conn
        conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe USING fts5(body, "
            f"tokenize='{_TOKENIZER}')"
        )
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.probe_terms "
            "USING fts5vocab(temp, probe, row)"
        )
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.passage_terms "
            "USING fts5vocab(main, passages, row)"
        )
        conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.stem_probe USING fts5(body, "
            f"tokenize='{_STEM_TOKENIZER}')"
        )
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.stem_probe_terms "
            "USING fts5vocab(temp, stem_probe, row)"
        )
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.stem_terms USING fts5vocab(main, stems, row)"
        )
        self._probe_ready = True

    def _has_match(self, expression: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM stems WHERE stems MATCH ? LIMIT 1", (expression,)
        ).fetchone()
        return row is not None

    def _stem(self, word: str) -> str | None:
        """The one stem the search tokenizer makes of *word* (None if not exactly one)."""
        self._ensure_probe()
        conn = self._conn
        conn.execute("DELETE FROM temp.stem_probe")
        conn.execute("INSERT INTO temp.stem_probe(body) VALUES (?)",
                     (word.encode("utf-8", "replace").decode("utf-8"),))
        rows = conn.execute("SELECT term FROM temp.stem_probe_terms").fetchall()
        conn.execute("DELETE FROM temp.stem_probe")
        return str(rows[0][0]) if len(rows) == 1 else None

    def _variants(self, term: _Term) -> str:
        """*term* as an FTS5 expression, widened to its spelling variants found in the index.

        A prefix also matches by its stem (the index holds stems: "immigrat*" must find
        "immigration", stored as "immigr"). A hyphenated word also matches written as one
        ("de-escalation" finds "deescalation"), and a word also matches split in two where the
        index holds the two parts in sequence ("nonpublic" finds "non-public").
        """
        alternatives = [term.render()]
        word = term.text
        if term.prefix:
            # The typed prefix may run past a stem ("escalat*" for "escalation", stored as
            # "escal"): also match the index's terms that the prefix itself begins with.
            stem = self._stem(word) or word.casefold()
            if stem != word.casefold():
                alternatives.append(_quote(stem) + " *")
            self._ensure_probe()
            for n in range(max(3, len(stem) - 4), len(stem)):
                if self._conn.execute("SELECT 1 FROM temp.stem_terms WHERE term = ?",
                                      (stem[:n],)).fetchone() is not None:
                    alternatives.append(_quote(stem[:n]))
        elif not term.phrase and any(h in word for h in _HYPHENS):
            joined = "".join(ch for ch in word if ch not in _HYPHENS)
            if _has_token(joined):
                alternatives.append(_quote(joined))
        elif not term.phrase and word.isalpha() and len(word) >= 6:
            for i in range(2, len(word) - 2):
                split = f"{word[:i]} {word[i:]}"
                if self._has_match(_quote(split)):
                    alternatives.append(_quote(split))
                    if len(alternatives) > _MAX_SPLITS:
                        break
        if len(alternatives) == 1:
            return alternatives[0]
        return "(" + " OR ".join(alternatives) + ")"

    def suggest(self, query: str) -> str | None:
        """A "did you mean" for a search that found nothing: *query* with each word the index
        does not hold replaced by the closest word it does (from its own vocabulary), or None.
        """
        import difflib

        changed = False
        out: list[str] = []
        try:
            self._ensure_probe()
            for term in _parse(query):
                shown = f'"{term.text}"' if term.phrase else term.text + "*" * term.prefix
                stem = None if term.phrase or term.prefix else self._stem(term.text)
                if stem is None or len(stem) < 2 or self._has_match(self._variants(term)):
                    out.append(shown)
                    continue
                vocabulary = [
                    str(t) for (t,) in self._conn.execute(
                        "SELECT term FROM temp.stem_terms WHERE term >= ? AND term < ? "
                        "LIMIT ?", (stem[:2], stem[:2] + "\U0010ffff", _SUGGEST_SCAN),
                    )
                ]
                close = difflib.get_close_matches(stem, vocabulary, n=1, cutoff=0.75)
                word = self._surface(close[0]) if close else None
                out.append(word or shown)
                changed = changed or word is not None
        except UnicodeEncodeError:
            return None
        except sqlite3.Error as e:
            raise _storage_error(e, "suggest a search") from e
        return " ".join(out) if changed else None

    def _surface(self, stem: str) -> str | None:
        """A word of the indexed text that the index stores as *stem* (as it is written)."""
        row = self._conn.execute(
            "SELECT highlight(stems, 0, char(1), char(2)) FROM stems "
            "WHERE stems MATCH ? LIMIT 1", (_quote(stem),),
        ).fetchone()
        if row is None:
            return None
        text = str(row[0])
        start = text.find("\x01")
        end = text.find("\x02", start)
        return text[start + 1 : end].lower() if 0 <= start < end else None

    def _terms(self, words: Iterable[str]) -> list[tuple[str, int]]:
        """The index's tokens for *words* with the number of passages holding each.

        Tokenised by FTS5 itself (a scratch in-memory FTS5 table with the same tokenizer), so
        the terms are exactly those the index stores. Terms the index lacks are left out.
        """
        conn = self._conn
        self._ensure_probe()
        conn.execute("DELETE FROM temp.probe")
        text = "\n".join(words).encode("utf-8", "replace").decode("utf-8")  # lone surrogates
        conn.execute("INSERT INTO temp.probe(body) VALUES (?)", (text,))
        rows = conn.execute(
            "SELECT t.term, m.doc FROM temp.probe_terms t "
            "JOIN temp.passage_terms m ON m.term = t.term"
        ).fetchall()
        conn.execute("DELETE FROM temp.probe")
        return [(term, int(df)) for term, df in rows]

    def _sharing(self, words: Sequence[str], limit: int, fraction: float, what: str) -> list[int]:
        """Seqs of documents whose text shares at least *fraction* of the sampled terms.

        Ranked by the summed inverse passage frequency of the shared terms, then by seq.
        """
        if limit <= 0:
            return []
        try:
            terms = sorted(self._terms(words), key=lambda t: (t[1], t[0]))[:_SAMPLE_TERMS]
            total = max(int(self._meta(self._conn)["passages"]), 1)
            scores: dict[int, float] = {}
            shared: dict[int, int] = {}
            scanned = 0
            budget = _POSTING_BUDGET
            for term, df in terms:
                if scanned and df > budget:
                    break
                budget -= df
                scanned += 1
                weight = math.log(1 + total / df)
                for (seq,) in self._conn.execute(
                    "SELECT DISTINCT rowid >> 32 FROM passages "
                    "WHERE passages MATCH ? AND rowid & 4294967295 != 0",
                    (_quote(term),),
                ):
                    scores[seq] = scores.get(seq, 0.0) + weight
                    shared[seq] = shared.get(seq, 0) + 1
        except sqlite3.Error as e:
            raise _storage_error(e, what) from e
        need = max(1, math.ceil(fraction * scanned))
        ranked = sorted((s for s in scores if shared[s] >= need), key=lambda s: (-scores[s], s))
        return ranked[:limit]

    def candidate_docs(self, terms: Sequence[str], *, limit: int = 50) -> list[int]:
        """Seqs of documents whose text holds most of *terms* (a quotation's words), best first.

        A narrowing step for quote checking: a document qualifies if its paragraphs hold at
        least half of the query's rarest terms, so a misquotation still finds its source.
        """
        return self._sharing(terms, limit, 0.5, "find candidate documents")

    def near_duplicates(self, words: Sequence[str], *, limit: int = 10) -> list[int]:
        """Seqs of documents sharing many distinctive terms with *words* (an altered copy's text).

        Qualifies a document holding at least a third of the rarest terms of *words*.
        """
        return self._sharing(words, limit, 1 / 3, "find similar documents")
