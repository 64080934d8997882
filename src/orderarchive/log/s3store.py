"""The archive in an S3-compatible bucket: a :class:`~.store.Store` on conditional writes.

Install with ``pip install orderarchive[s3]`` (boto3). Used as ``--archive s3://bucket/prefix``
with the usual AWS configuration (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``, profiles) and ``--s3-endpoint URL`` for a server other than AWS.

The shape is the one every static transparency log uses (Tessera, Sunlight; C2SP
tlog-tiles): immutable objects written once, one checkpoint replaced by compare-and-swap,
and the checkpoint written last, so that a reader who sees a checkpoint can fetch everything
under it. Every object name is in docs/FORMAT.md §24.

* **Create-only members** (config, releases, objects): ``PutObject`` with
  ``If-None-Match: *``. A 412 means the name exists: the same bytes are success, other bytes
  are :class:`~.errors.ConflictError` (never overwritten).
* **The log's records**: S3 has no append, so each append of a record is one immutable chunk
  object ``log/<record>.d/<offset>`` (the offset as 20 decimal digits), created with
  ``If-None-Match: *``: the chunks of a record, in offset order and without gaps, are the
  record's bytes, identical to the directory store's file. Two writers appending from the same
  head both try to create the chunk at the committed length; exactly one succeeds, the other
  gets :class:`~.errors.LostRaceError` before it wrote anything of the log and retries from
  the new head. Each chunk carries its writer's random id (object metadata); only the writer
  that created a chunk removes it, and only when it knows the chunk is not committed (its own
  swap was refused, or it never reached the swap). A writer killed in between leaves chunks
  past the committed length: ``orderarchive repair`` removes them, as it cuts a file.
* **The checkpoint**: ``PutObject`` with ``If-Match: <ETag read>`` (``If-None-Match: *`` for
  the first). A 412 (or AWS's 409) is :class:`~.errors.LostRaceError`: another writer
  committed first; nothing was committed and the log never forks.

**The probe.** Some S3 servers ignore preconditions and overwrite (``rclone serve s3``, the
``juicefs`` gateway): a writer there could fork the log. Before its first write a store proves
that the server honours both preconditions on a probe object of its own (create twice: the
second must be refused; replace with a stale ETag: must be refused) and refuses to write,
naming the server, when it does not. Ceph RGW 16 refuses ``If-Match`` with a quoted ETag; the
probe finds which form the server accepts. Readers need no probe.

Every boto3/botocore exception is converted here into the project's error tree with a
one-line message (docs/THREATS.md, "S3-compatible storage").
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import (
    ArchiveNotFoundError,
    ConflictError,
    LostRaceError,
    MalformedError,
    NotFoundError,
    OrderArchiveError,
    StorageError,
)
from .store import (
    CHECKPOINT_NAME,
    CHUNK_BYTES,
    MAX_MEMBER_BYTES,
    MAX_OBJECT_BYTES,
    MAX_RANGE_BYTES,
    RECORDS,
    Versioned,
    _check_name,
    _next_want,
    write_atomically,
)

#: Cache-Control of what never changes once written (objects, releases, the config).
IMMUTABLE = "public, max-age=31536000, immutable"
#: Cache-Control of the checkpoint, and of log chunks (committed ones never change, but an
#: uncommitted one can be removed by ``repair`` and its name reused).
NO_CACHE = "no-cache"
#: Where a record's chunks are kept: ``<record>.d/<offset>``.
CHUNK_SUFFIX = ".d/"
OFFSET_DIGITS = 20
#: The object metadata key naming the writer that created a chunk.
WRITER_META = "orderarchive-writer"
#: The probe objects a writer creates and removes before its first write.
PROBE_PREFIX = "probe/"
#: Where a writer holding uncommitted chunks renews its lease (``lease/<writer id>``): a
#: liveness hint for a writer waiting on its commit, never a lock (docs/FORMAT.md §NN-left).
LEASE_PREFIX = "lease/"
#: Parallel requests of one reader or writer (batched object writes, scattered range reads).
PARALLEL_REQUESTS = 16
_CHUNK_NAME = re.compile(r"[0-9]{20}")
#: The first word of a chunk memo file (docs/FORMAT.md §30), and its largest size.
CHUNK_MEMO_MAGIC = "orderarchive-s3-chunks-1"
MAX_CHUNK_MEMO_BYTES = 64 << 20


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` as ``(bucket, prefix)``; the prefix is ``""`` or ends in ``/``."""
    if not url.startswith("s3://"):
        raise MalformedError(f"not an S3 URL: {url!r} (expected s3://bucket/prefix)")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        raise MalformedError(f"invalid S3 bucket name {bucket!r} in {url!r}")
    prefix = prefix.strip("/")
    if prefix:
        _check_name(prefix)
        prefix += "/"
    return bucket, prefix


def _parse_chunk_memo(data: bytes, name: str) -> tuple[builtins.list[tuple[int, int]], str]:
    """A chunk memo's committed chunks of *name* and the last one's ETag; ValueError if the
    file is not one (docs/FORMAT.md §30)."""
    lines = data.split(b"\n")
    header = f"{CHUNK_MEMO_MAGIC} {name}".encode()
    if (len(data) > MAX_CHUNK_MEMO_BYTES or len(lines) < 4 or lines[0] != header
            or lines[-1] != b"" or not lines[-2].startswith(b"etag ")):
        raise ValueError("not a chunk memo")
    chunks: builtins.list[tuple[int, int]] = []
    end = 0
    for line in lines[1:-2]:
        first, length = line.split(b" ")
        if not (first.isdigit() and length.isdigit()) or int(first) != end or int(length) <= 0:
            raise ValueError("chunks not contiguous")
        chunks.append((int(first), int(length)))
        end += int(length)
    return chunks, lines[-2][len(b"etag "):].decode("ascii")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


class S3Store:
    """A :class:`~.store.Store` in the bucket *bucket* under *prefix* (see the module
    documentation). *client* is a boto3 S3 client; :meth:`open` makes one."""

    def __init__(self, client: Any, bucket: str, prefix: str = "", *, endpoint: str | None = None,
                 client_factory: Any = None, memo_dir: Path | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self._client_obj = client
        self._client_pid = os.getpid()
        self._client_factory = client_factory
        self._writer_id = secrets.token_hex(16)
        self._probed = False
        self._unquoted_etag = False
        self.server = "unknown server"
        # Chunks this writer created that no checkpoint has committed yet (see writer()).
        self._mine: builtins.list[str] = []
        self._chunks: dict[str, builtins.list[tuple[int, int]]] = {}
        #: Per record, the chunks known to be committed (all a listing found but its last:
        #: only the last can be an interrupted writer's) and the ETag of the last of them:
        #: a listing starts after them (see :meth:`_list_chunks`).
        self._committed: dict[str, tuple[builtins.list[tuple[int, int]], str]] = {}
        #: Where those are remembered between processes (docs/FORMAT.md §30); None:
        #: only within this process.
        self.memo_dir = memo_dir
        self._lock = threading.Lock()
        # The ETag of the checkpoint a write attempt started from: the first one read inside
        # writer() (the head the attempt's offsets come from). A later read (an index sync)
        # must not stand in for it, or a committed chunk past a stale head would be waited on
        # as if it were an uncommitted writer's.
        self._seen_etag: str | None = None
        self._attempt_started = False
        #: How long a writer that found another's chunk waits for that writer's checkpoint,
        #: or for that writer to renew its lease, before taking the chunk for an interrupted
        #: writer's debris. A writer renews its own lease three times as often.
        self.commit_wait = 15.0
        # The lease of this writer's current attempt: its renewal count, and the thread
        # renewing it while the attempt holds uncommitted chunks (see _hold_lease).
        self._lease_count = 0
        self._lease_stop: threading.Event | None = None
        self._in_attempt = False
        self._lease_thread: threading.Thread | None = None

    @classmethod
    def open(
        cls, url: str, *, endpoint: str | None = None, memo_dir: Path | None = None
    ) -> S3Store:
        """The store at *url* (``s3://bucket/prefix``), with boto3's usual configuration;
        *memo_dir* (the user's cache) remembers the log's committed chunks between runs."""
        bucket, prefix = parse_url(url)
        try:
            import boto3
            import botocore.config
        except ImportError as e:
            raise OrderArchiveError(
                "S3 archives need boto3", hint="pip install 'orderarchive[s3]'"
            ) from e

        def factory() -> Any:
            config = botocore.config.Config(
                max_pool_connections=PARALLEL_REQUESTS * 2,
                retries={"max_attempts": 3, "mode": "standard"},
                s3={"addressing_style": "path"},
                connect_timeout=10,
                read_timeout=60,
            )
            try:
                return boto3.session.Session().client(
                    "s3", endpoint_url=endpoint or None, config=config
                )
            except Exception as e:  # botocore's configuration errors have no common base
                raise StorageError(f"cannot set up the S3 client: {_one_line(e)}") from e

        return cls(factory(), bucket, prefix, endpoint=endpoint, client_factory=factory,
                   memo_dir=memo_dir)

    # -- plumbing -------------------------------------------------------------------------------

    @property
    def _client(self) -> Any:
        # A client (and its connection pool) must not cross fork(): verify's worker processes
        # make their own.
        if self._client_pid != os.getpid() and self._client_factory is not None:
            self._client_obj = self._client_factory()
            self._client_pid = os.getpid()
        return self._client_obj

    def _key(self, name: str) -> str:
        _check_name(name)
        return self.prefix + name

    def location(self) -> str | None:
        """``s3://bucket/prefix`` at the endpoint: names this archive's index in the cache."""
        where = self.endpoint or "aws"
        return f"s3://{self.bucket}/{self.prefix}@{where}"

    def _call(self, op: str, name: str, **kwargs: Any) -> Any:
        """One S3 request; its failure as the project's error (412/409 as LostRaceError)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client, op)(Bucket=self.bucket, **kwargs)
        except ClientError as e:
            error = e.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (
                412, 409,
            ):
                raise LostRaceError(f"{name}: precondition failed ({code or status})") from e
            if code == "NoSuchBucket":
                raise ArchiveNotFoundError(
                    f"no bucket {self.bucket!r} at {self.endpoint or 'AWS'}",
                    hint="create the bucket first, or check the S3 endpoint",
                ) from e
            if code in ("NoSuchKey", "404", "NotFound") or status == 404:
                raise NotFoundError(f"{name} is missing from the archive") from e
            if code == "InvalidRange" or status == 416:
                raise StorageError(f"{name} is shorter than expected") from e
            message = _one_line(error.get("Message", "") or e)
            raise StorageError(
                f"S3 {op} of {name} failed: {code or status} {message}".rstrip(),
                hint="check the AWS credentials and the S3 endpoint",
            ) from e
        except BotoCoreError as e:
            raise StorageError(
                f"S3 {op} of {name} failed: {_one_line(e)}",
                hint="check the S3 endpoint and the AWS configuration (credentials, region)",
            ) from e

    def _get(self, name: str, key: str, limit: int, byte_range: str | None = None) -> bytes:
        kwargs: dict[str, Any] = {"Key": key}
        if byte_range is not None:
            kwargs["Range"] = byte_range
        response = self._call("get_object", name, **kwargs)
        body = response["Body"]
        try:
            data = body.read(limit + 1)
        except Exception as e:  # urllib3/botocore read errors have no common base
            raise StorageError(f"cannot read {name} from S3: {_one_line(e)}") from e
        finally:
            body.close()
        if len(data) > limit:
            raise StorageError(f"{name} is larger than its limit of {limit} bytes")
        return bytes(data)

    def _put(self, name: str, key: str, data: bytes, *, cache: str, **conditions: Any) -> Any:
        return self._call(
            "put_object", name, Key=key, Body=data, CacheControl=cache, **conditions
        )

    # -- the probe --------------------------------------------------------------------------------

    def probe(self) -> None:
        """Prove the server honours ``If-None-Match: *`` and ``If-Match`` (see the module
        documentation); :class:`~.errors.StorageError` naming the server if it does not."""
        if self._probed:
            return
        name = f"{PROBE_PREFIX}{self._writer_id}"
        key = self.prefix + name
        try:
            first = self._put(name, key, b"probe 1\n", cache=NO_CACHE, IfNoneMatch="*")
            headers = first.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            self.server = _one_line(headers.get("server") or "an unnamed S3 server")
            where = f"{self.server} at {self.endpoint or 'AWS'}"
            try:
                self._put(name, key, b"probe 2\n", cache=NO_CACHE, IfNoneMatch="*")
            except LostRaceError:
                pass
            else:
                raise StorageError(
                    f"refusing to write: the S3 server ({where}) ignores If-None-Match "
                    "(it overwrote an existing object), so two writers could fork the log",
                    hint="use a server that honours conditional writes (AWS S3, Ceph RGW, MinIO)",
                )
            etag = str(self._call("head_object", name, Key=key)["ETag"])
            try:
                self._put(name, key, b"probe 3\n", cache=NO_CACHE, IfMatch=etag)
            except LostRaceError:
                # Ceph RGW 16 compares If-Match with the ETag unquoted (a quoted one always
                # fails); a stale ETag fails either way, so the swap stays safe.
                try:
                    self._put(name, key, b"probe 3\n", cache=NO_CACHE, IfMatch=etag.strip('"'))
                except LostRaceError as e:
                    raise StorageError(
                        f"refusing to write: the S3 server ({where}) refuses If-Match with the "
                        "object's current ETag, so the checkpoint cannot be swapped safely"
                    ) from e
                self._unquoted_etag = True
            try:
                self._put(name, key, b"probe 4\n", cache=NO_CACHE, IfMatch=self._etag(etag))
            except LostRaceError:
                pass
            else:
                raise StorageError(
                    f"refusing to write: the S3 server ({where}) ignores If-Match (it replaced "
                    "an object whose ETag had changed), so two writers could fork the log",
                    hint="use a server that honours conditional writes (AWS S3, Ceph RGW, MinIO)",
                )
        except LostRaceError as e:
            raise StorageError(
                f"refusing to write: the S3 server at {self.endpoint or 'AWS'} refused to create "
                f"a new probe object ({e})"
            ) from e
        finally:
            with contextlib.suppress(StorageError, NotFoundError):
                self._call("delete_object", name, Key=key)
        self._probed = True

    def _etag(self, etag: str) -> str:
        return etag.strip('"') if self._unquoted_etag else etag

    # -- create-only members ----------------------------------------------------------------------

    def read(self, name: str, limit: int | None = None) -> bytes:
        if limit is None:
            limit = MAX_OBJECT_BYTES if name.startswith("objects/") else MAX_MEMBER_BYTES
        if name in RECORDS:
            with self.stream_record(name) as f:
                data = f.read(limit + 1)
            if len(data) > limit:
                raise StorageError(f"{name} is larger than its limit of {limit} bytes")
            return data
        return self._get(name, self._key(name), limit)

    def read_chunks(self, name: str, first: int) -> Iterator[bytes]:
        """*name* streamed in pieces (at most :data:`CHUNK_BYTES` in memory), the first of
        *first* bytes; no more than :data:`MAX_OBJECT_BYTES` read."""
        response = self._call("get_object", name, Key=self._key(name))
        body = response["Body"]
        want = max(1, min(first, CHUNK_BYTES))
        total = 0
        try:
            while True:
                try:
                    chunk = body.read(want)
                except Exception as e:  # urllib3/botocore read errors have no common base
                    raise StorageError(f"cannot read {name} from S3: {_one_line(e)}") from e
                if not chunk:
                    return
                total += len(chunk)
                if total > MAX_OBJECT_BYTES:
                    raise StorageError(f"{name} is larger than its limit of {MAX_OBJECT_BYTES}")
                yield bytes(chunk)
                want = _next_want(len(chunk), want)
        finally:
            body.close()

    def exists(self, name: str) -> bool:
        if name in RECORDS:
            return bool(self._list_chunks(name))
        try:
            self._call("head_object", name, Key=self._key(name))
        except NotFoundError:
            return False
        return True

    def _list_keys(self, prefix: str) -> builtins.list[tuple[str, int]]:
        return [(key, size) for key, size, _ in self._list_items(prefix)]

    def _list_items(
        self, prefix: str, start_after: str | None = None
    ) -> builtins.list[tuple[str, int, str]]:
        """``(name, size, ETag)`` of the objects under *prefix*, in key order, only those
        after the name *start_after* when given (``StartAfter``)."""
        out: builtins.list[tuple[str, int, str]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Prefix": self.prefix + prefix}
            if token:
                kwargs["ContinuationToken"] = token
            elif start_after is not None:
                kwargs["StartAfter"] = self.prefix + start_after
            page = self._call("list_objects_v2", prefix, **kwargs)
            for item in page.get("Contents", ()):
                out.append((str(item["Key"])[len(self.prefix) :], int(item["Size"]),
                            str(item.get("ETag", ""))))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return out

    def list(self, prefix: str) -> builtins.list[str]:
        _check_name(prefix)
        return sorted(name for name, _ in self._list_keys(prefix + "/"))

    def create(self, name: str, data: bytes) -> bool:
        """Create *name* (``If-None-Match: *``); False if it already holds exactly *data*."""
        if name == CHECKPOINT_NAME or name in RECORDS:
            raise StorageError(f"{name} is not a create-only member")
        self.probe()
        key = self._key(name)
        try:
            self._put(name, key, data, cache=IMMUTABLE, IfNoneMatch="*")
        except LostRaceError:
            import hmac

            if hmac.compare_digest(self._get(name, key, len(data)), data):
                return False
            raise ConflictError(f"{name} already exists with different content") from None
        return True

    def create_many(self, items: Sequence[tuple[str, bytes]]) -> builtins.list[bool]:
        """:meth:`create` for each item, in parallel; every one done before this returns."""
        import hmac

        given: dict[str, bytes] = {}
        for name, data in items:
            if name in given and not hmac.compare_digest(given[name], data):
                raise ConflictError(f"{name} is given twice with different content")
            given[name] = data
        self.probe()
        names = builtins.list(given)
        if len(names) <= 1:
            results = [self.create(n, given[n]) for n in names]
        else:
            with ThreadPoolExecutor(min(PARALLEL_REQUESTS, len(names))) as pool:
                results = builtins.list(pool.map(lambda n: self.create(n, given[n]), names))
        created = dict(zip(names, results, strict=True))
        done: set[str] = set()
        out: builtins.list[bool] = []
        for name, _ in items:
            out.append(name not in done and created[name])
            done.add(name)
        return out

    # -- the log's records ----------------------------------------------------------------------

    def _record(self, name: str) -> str:
        if name not in RECORDS:
            raise StorageError(f"{name} is not one of the log's records")
        return name + CHUNK_SUFFIX

    def _chunk_name(self, name: str, offset: int) -> str:
        return f"{self._record(name)}{offset:0{OFFSET_DIGITS}d}"

    def _list_chunks(self, name: str) -> builtins.list[tuple[int, int]]:
        """The record's chunks as ``(offset, size)`` in order, contiguous from 0 (a chunk past
        a gap is not the record's: only an interrupted writer leaves chunks, and only at the
        end, so a gap means a damaged bucket and is refused).

        Only the chunks past the known committed ones are listed (``StartAfter`` the one
        before the last known, which must be listed again with its size and ETag); when it
        is not, the known ones are forgotten and the whole record is listed."""
        known = self._known_committed(name)
        if known is not None:
            chunks = self._list_past(name, *known)
            if chunks is not None:
                return chunks
            with self._lock:
                self._committed.pop(name, None)
            self._forget_memo(name)
        return self._list_past(name, [], "") or []

    def _list_past(
        self, name: str, known: builtins.list[tuple[int, int]], etag: str
    ) -> builtins.list[tuple[int, int]] | None:
        """The chunks: *known* (committed, the last with *etag*) and those listed past them;
        None if the listing does not show the last known chunk as it was."""
        base = self._record(name)
        after = self._chunk_name(name, known[-2][0]) if len(known) > 1 else None
        listed: builtins.list[tuple[int, int, str]] = []
        for chunk, size, tag in self._list_items(base, after):
            tail = chunk[len(base) :]
            if not _CHUNK_NAME.fullmatch(tail):
                raise StorageError(f"unexpected object {chunk} among the chunks of {name}")
            listed.append((int(tail), size, tag))
        listed.sort()
        if known:
            if not listed or listed[0][:2] != known[-1] or listed[0][2] != etag:
                return None
            chunks = known[:-1] + [(o, n) for o, n, _ in listed]
        else:
            chunks = [(o, n) for o, n, _ in listed]
        end = 0
        for offset, size in chunks:
            if offset != end or size <= 0:
                if known:
                    return None  # perhaps a stale memo: list the whole record again
                raise StorageError(
                    f"the chunks of {name} are not contiguous at offset {end} (a damaged bucket)"
                )
            end = offset + size
        with self._lock:
            self._chunks[name] = chunks
        if len(listed) > 1:
            # All but the last are committed: the next listing starts after them (the memo
            # file rewritten only when that grew).
            committed = chunks[:-1]
            with self._lock:
                self._committed[name] = (committed, listed[-2][2])
            if len(committed) > len(known):
                self._remember(name, committed, listed[-2][2])
        return chunks

    def _known_committed(
        self, name: str
    ) -> tuple[builtins.list[tuple[int, int]], str] | None:
        with self._lock:
            known = self._committed.get(name)
        if known is None:
            known = self._recall(name)
            if known is not None:
                with self._lock:
                    self._committed[name] = known
        return known

    # The memo file (docs/FORMAT.md §30): a header line, "<offset> <size>" per committed
    # chunk, then "etag <ETag of the last>". Unreadable or malformed: as if absent.

    def _memo_path(self, name: str) -> Path | None:
        if self.memo_dir is None:
            return None
        import hashlib

        key = hashlib.sha256(f"{self.location()}\n{name}".encode()).hexdigest()[:32]
        return self.memo_dir / f"s3chunks-{key}"

    def _recall(self, name: str) -> tuple[builtins.list[tuple[int, int]], str] | None:
        path = self._memo_path(name)
        if path is None:
            return None
        try:
            with open(path, "rb") as f:
                return _parse_chunk_memo(f.read(MAX_CHUNK_MEMO_BYTES + 1), name)
        except (OSError, ValueError):
            return None

    def _remember(self, name: str, chunks: Sequence[tuple[int, int]], etag: str) -> None:
        path = self._memo_path(name)
        if path is None or not chunks:
            return
        body = "".join(f"{o} {n}\n" for o, n in chunks)
        data = f"{CHUNK_MEMO_MAGIC} {name}\n{body}etag {etag}\n".encode()
        if len(data) > MAX_CHUNK_MEMO_BYTES:
            return
        with contextlib.suppress(OSError, StorageError):
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_atomically(path, data, mode=0o600, durable=False)

    def _forget_memo(self, name: str) -> None:
        path = self._memo_path(name)
        if path is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def _cached_chunks(self, name: str, end: int) -> builtins.list[tuple[int, int]]:
        with self._lock:
            chunks = self._chunks.get(name)
        if chunks and chunks[-1][0] + chunks[-1][1] >= end:
            return chunks
        return self._list_chunks(name)

    def record_size(self, name: str) -> int:
        chunks = self._list_chunks(name)
        return chunks[-1][0] + chunks[-1][1] if chunks else 0

    def read_range(self, name: str, offset: int, length: int) -> bytes:
        return self.read_ranges(name, [(offset, length)])[0]

    def read_ranges(
        self, name: str, ranges: Sequence[tuple[int, int]]
    ) -> builtins.list[bytes]:
        """Each ``(offset, length)`` of the record, read with ranged GETs (in parallel when
        there are several); a range past the record's end is an error, never an allocation."""
        if not ranges:
            return []
        for offset, length in ranges:
            if offset < 0 or not 0 <= length <= MAX_RANGE_BYTES:
                raise StorageError(f"invalid range {offset}+{length} of {name}")
        end = max(offset + length for offset, length in ranges)
        chunks = self._cached_chunks(name, end)
        if not chunks:
            raise NotFoundError(f"{name} is missing from the archive")
        if chunks[-1][0] + chunks[-1][1] < end:
            raise StorageError(
                f"{name} is shorter than expected ({chunks[-1][0] + chunks[-1][1]} bytes)"
            )
        if len(ranges) == 1:
            return [self._read_span(name, chunks, *ranges[0])]
        with ThreadPoolExecutor(min(PARALLEL_REQUESTS, len(ranges))) as pool:
            return builtins.list(
                pool.map(lambda r: self._read_span(name, chunks, r[0], r[1]), ranges)
            )

    def _read_span(
        self, name: str, chunks: Sequence[tuple[int, int]], offset: int, length: int
    ) -> bytes:
        import bisect

        parts: builtins.list[bytes] = []
        at = offset
        i = bisect.bisect_right(chunks, (at, 1 << 63)) - 1
        while at < offset + length:
            start, size = chunks[i]
            stop = min(start + size, offset + length)
            want = stop - at
            piece = self._get(
                name,
                self.prefix + self._chunk_name(name, start),
                want,
                f"bytes={at - start}-{stop - start - 1}",
            )
            if len(piece) != want:
                # A chunk listed earlier was replaced (an uncommitted one, by repair): look
                # again once; committed chunks never change.
                with self._lock:
                    self._chunks.pop(name, None)
                raise StorageError(f"{name} is shorter than expected (chunk at {start})")
            parts.append(piece)
            at = stop
            i += 1
        return b"".join(parts)

    @contextlib.contextmanager
    def stream_record(self, name: str) -> Iterator[BinaryIO]:
        """The record as a buffered stream over its chunks, one chunk's GET at a time: memory
        stays bounded however long the log is."""
        chunks = self._list_chunks(name)
        if not chunks:
            raise NotFoundError(f"{name} is missing from the archive")
        raw = _ChunkStream(self, name, chunks)
        with io.BufferedReader(raw, CHUNK_BYTES) as f:
            yield f

    def append_record(self, name: str, data: bytes, *, at: int) -> None:
        """Create the chunk at offset *at* (the committed length) holding *data*.

        A chunk already there is this writer's own uncommitted one (removed and written
        again) or another writer's: :class:`~.errors.LostRaceError`, nothing written.
        """
        self.probe()
        with self._lock:
            cached = self._chunks.get(name)
        if cached and cached[-1][0] + cached[-1][1] == at and data:
            # Listed at the committed length in this attempt (record_size): creating the chunk
            # at *at* proves nothing lies past it (chunks are contiguous); a 412 means something
            # does, and is looked at below.
            with contextlib.suppress(LostRaceError):
                self._put_chunk(name, at, data)
                return
        chunks = self._list_chunks(name)
        size = chunks[-1][0] + chunks[-1][1] if chunks else 0
        if size < at:
            raise StorageError(f"{name} is shorter ({size}) than its committed length {at}")
        if size > at:
            past = [offset for offset, _ in chunks if offset >= at]
            if not past or past[0] != at:
                raise StorageError(
                    f"{name} has a chunk across its committed length {at} (a damaged bucket)"
                )
            for offset in past:
                chunk = self._chunk_name(name, offset)
                owner = self._owner(chunk)
                if owner != self._writer_id:
                    self._another_writer(name, owner)
            for offset in reversed(past):
                self._delete(self._chunk_name(name, offset))
        if not data:
            return
        try:
            self._put_chunk(name, at, data)
        except LostRaceError:
            self._another_writer(name, self._owner(self._chunk_name(name, at)))

    def _another_writer(self, name: str, owner: str | None) -> None:
        """Another writer's (*owner*'s) chunk lies at the committed length of *name*: wait for
        its checkpoint, then :class:`LostRaceError` (retry from the new head). The wait lasts
        while that writer renews its lease (a long batched add holds its chunks for minutes)
        and :attr:`commit_wait` seconds past its last renewal; if no checkpoint comes, it is
        an interrupted writer's debris: :class:`ConflictError`, for ``repair`` (a writer
        cannot tell a dead writer from a slow one, so it never removes another's chunk
        itself). Waiting longer never weakens the conditional writes: this writer has
        written nothing of the log, and the checkpoint's ``If-Match`` still decides."""
        import time

        deadline = time.monotonic() + self.commit_wait
        lease = self._lease_etag(owner)
        delay = 0.005
        while True:
            try:
                etag = self._call("head_object", CHECKPOINT_NAME, Key=self._key(CHECKPOINT_NAME))[
                    "ETag"
                ]
            except NotFoundError:
                etag = None
            if etag != self._seen_etag:
                raise LostRaceError(
                    f"another writer committed to {name} first: this writer committed nothing",
                    hint="try again: the command starts over from the new checkpoint",
                )
            if time.monotonic() > deadline:
                renewed = self._lease_etag(owner)
                if renewed is not None and renewed != lease:  # alive: wait on
                    lease, deadline = renewed, time.monotonic() + self.commit_wait
                    continue
                raise ConflictError(
                    f"{name} holds bytes past its committed length from another writer that "
                    f"has not committed (nor renewed its lease) for {self.commit_wait:g} s "
                    "(an interrupted writer?); this writer committed nothing",
                    hint="if no other writer runs, 'orderarchive repair' removes them",
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    # -- the lease: a writer with uncommitted chunks says it is alive -----------------------------

    def _lease_etag(self, owner: str | None) -> str | None:
        """The ETag of writer *owner*'s lease (None: it keeps none, or the id is not one)."""
        if owner is None or re.fullmatch(r"[0-9a-f]{32}", owner) is None:
            return None
        name = LEASE_PREFIX + owner
        try:
            return str(self._call("head_object", name, Key=self.prefix + name)["ETag"])
        except NotFoundError:
            return None

    def _renew_lease(self) -> None:
        """Write this writer's lease anew (another body, so another ETag)."""
        self._lease_count += 1
        name = LEASE_PREFIX + self._writer_id
        self._put(name, self.prefix + name, f"{self._writer_id} {self._lease_count}\n".encode(),
                  cache=NO_CACHE)

    def _hold_lease(self) -> None:
        """Before a write attempt's first chunk (within :meth:`writer`): the lease written,
        then renewed every third of :attr:`commit_wait` by a thread until the attempt ends.
        A renewal that fails is skipped: a waiting writer may then give up (it never removes
        anything)."""
        if self._lease_thread is not None or not self._in_attempt:
            return
        self._renew_lease()
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.commit_wait / 3):
                with contextlib.suppress(OrderArchiveError):
                    self._renew_lease()

        self._lease_stop = stop
        self._lease_thread = threading.Thread(target=renew, name="orderarchive-s3-lease",
                                              daemon=True)
        self._lease_thread.start()

    def _drop_lease(self) -> None:
        """The attempt ended (committed or not): stop renewing, remove the lease."""
        if self._lease_thread is None or self._lease_stop is None:
            return
        self._lease_stop.set()
        self._lease_thread.join()
        self._lease_thread = self._lease_stop = None
        with contextlib.suppress(StorageError, NotFoundError):
            self._delete(LEASE_PREFIX + self._writer_id)

    def _put_chunk(self, name: str, at: int, data: bytes) -> None:
        chunk = self._chunk_name(name, at)
        self._hold_lease()  # before the chunk: a writer that finds it finds the lease too
        self._put(
            chunk, self.prefix + chunk, data, cache=NO_CACHE, IfNoneMatch="*",
            Metadata={WRITER_META: self._writer_id},
        )
        self._mine.append(chunk)
        with self._lock:
            self._chunks.pop(name, None)

    def _owner(self, chunk: str) -> str | None:
        try:
            head = self._call("head_object", chunk, Key=self.prefix + chunk)
        except NotFoundError:
            return None
        meta = head.get("Metadata") or {}
        return str(meta.get(WRITER_META, "")) or None

    def _delete(self, name: str) -> None:
        self._call("delete_object", name, Key=self.prefix + name)

    def truncate_record(self, name: str, length: int) -> None:
        """Cut *name* to *length* bytes: chunks past it removed, one across it rewritten
        (``repair``: run it only when no writer runs)."""
        self.probe()
        chunks = self._list_chunks(name)
        if not chunks:
            if length:
                raise StorageError(f"cannot truncate missing {name}")
            return
        owners: set[str] = set()
        for offset, size in reversed(chunks):
            chunk = self._chunk_name(name, offset)
            if offset >= length:
                owner = self._owner(chunk)
                if owner is not None and owner != self._writer_id:
                    owners.add(owner)
                self._delete(chunk)
            elif offset + size > length:
                keep = self._get(chunk, self.prefix + chunk, size)[: length - offset]
                self._put(chunk, self.prefix + chunk, keep, cache=NO_CACHE)
        # The interrupted writers' leases go with their chunks (repair runs with no writer).
        for owner in sorted(owners):
            if self._lease_etag(owner) is not None:
                self._delete(LEASE_PREFIX + owner)
        with self._lock:
            self._chunks.pop(name, None)
            self._committed.pop(name, None)
        self._forget_memo(name)

    # -- the checkpoint ---------------------------------------------------------------------------

    def read_checkpoint(self, limit: int) -> Versioned:
        """The checkpoint and its ETag (None and None when there is none yet)."""
        try:
            response = self._call("get_object", CHECKPOINT_NAME, Key=self._key(CHECKPOINT_NAME))
        except NotFoundError:
            self._note_head(None)
            return Versioned(None, None)
        self._note_head(str(response["ETag"]))
        body = response["Body"]
        try:
            data = bytes(body.read(limit + 1))
        except Exception as e:  # urllib3/botocore read errors have no common base
            raise StorageError(f"cannot read {CHECKPOINT_NAME} from S3: {_one_line(e)}") from e
        finally:
            body.close()
        if len(data) > limit:
            raise StorageError(
                f"{CHECKPOINT_NAME} is more than its limit of {limit} bytes"
            )
        return Versioned(data, str(response["ETag"]))

    def _note_head(self, etag: str | None) -> None:
        if not self._attempt_started:
            self._seen_etag = etag
            self._attempt_started = True

    def swap_checkpoint(self, expected: Versioned, new: bytes) -> None:
        """Replace the checkpoint if its ETag is still *expected*'s (``If-Match``; the first
        with ``If-None-Match: *``). A refused swap is :class:`~.errors.LostRaceError`."""
        self.probe()
        version = expected.version
        condition = (
            {"IfNoneMatch": "*"} if version is None else {"IfMatch": self._etag(str(version))}
        )
        try:
            self._put(
                CHECKPOINT_NAME, self._key(CHECKPOINT_NAME), new, cache=NO_CACHE, **condition
            )
        except LostRaceError as e:
            raise LostRaceError(
                "the checkpoint changed underneath this writer: another writer committed "
                "first; nothing was committed",
                hint="try again: the command starts over from the new checkpoint",
            ) from e
        except BaseException:
            # Whether the swap happened is unknown: the chunks may be committed, keep them.
            self._mine.clear()
            raise
        self._mine.clear()

    @contextlib.contextmanager
    def writer(self) -> Iterator[None]:
        """One write attempt. No lock: the chunks' ``If-None-Match`` and the checkpoint's
        ``If-Match`` decide. If the attempt ends without committing (its swap refused, or
        an error before the swap), the chunks it created are removed: no checkpoint can name
        them, as only this writer could have written them."""
        self._mine.clear()
        self._attempt_started = False  # the next checkpoint read is this attempt's head
        self._in_attempt = True
        try:
            yield
        except BaseException:
            for chunk in reversed(self._mine):
                with contextlib.suppress(StorageError, NotFoundError):
                    self._delete(chunk)
            self._mine.clear()
            self._chunks.clear()
            raise
        finally:
            self._in_attempt = False
            self._drop_lease()


class _ChunkStream(io.RawIOBase):
    """A record's chunks read one after another through streaming GETs; seekable (a seek
    starts a ranged GET of the chunk holding the new position)."""

    def __init__(self, store: S3Store, name: str, chunks: Sequence[tuple[int, int]]) -> None:
        self.store = store
        self.name = name
        self.chunks = builtins.list(chunks)
        self.index = 0
        self.body: Any = None
        self.left = 0
        self.skip = 0  # bytes of the current chunk to start after (set by seek)
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        import bisect

        end = self.chunks[-1][0] + self.chunks[-1][1] if self.chunks else 0
        target = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: end}[whence] + offset
        if target < 0:
            raise StorageError(f"invalid position {target} in {self.name}")
        if self.body is not None:
            self.body.close()
            self.body = None
        self.position = target
        if target >= end:
            self.index, self.skip = len(self.chunks), 0
        else:
            self.index = bisect.bisect_right(self.chunks, (target, 1 << 63)) - 1
            self.skip = target - self.chunks[self.index][0]
        return target

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while True:
            if self.body is None:
                if self.index >= len(self.chunks):
                    return 0
                offset, size = self.chunks[self.index]
                chunk = self.store._chunk_name(self.name, offset)
                extra = {"Range": f"bytes={self.skip}-{size - 1}"} if self.skip else {}
                response = self.store._call(
                    "get_object", chunk, Key=self.store.prefix + chunk, **extra
                )
                self.body, self.left = response["Body"], size - self.skip
                self.skip = 0
            want = min(len(view), self.left)
            try:
                data = self.body.read(want) if want else b""
            except Exception as e:  # urllib3/botocore read errors have no common base
                raise StorageError(f"cannot read {self.name} from S3: {_one_line(e)}") from e
            if not data:
                if self.left:
                    raise StorageError(f"{self.name} is shorter than expected")
                self.body.close()
                self.body = None
                self.index += 1
                continue
            view[: len(data)] = data
            self.left -= len(data)
            self.position += len(data)
            return len(data)

    def close(self) -> None:
        if self.body is not None:
            self.body.close()
            self.body = None
        super().close()
