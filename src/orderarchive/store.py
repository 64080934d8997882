"""Storage: the only module that touches the archive's files.

The interface is deliberately small so that other back ends (a C2SP static tiled log, S3-style
object storage with conditional writes) can stand behind it later:

* **create-only objects** — written once, never changed (:meth:`Store.create`, or
  :meth:`Store.create_many` for a batch with one durability barrier);
* **append-only files** — the entry log, its offsets and the stored tree hashes, appended at a
  known length (:meth:`Store.append`); bytes past the committed length are crash debris;
* **one mutable pointer** — the latest signed checkpoint, replaced by compare-and-swap
  (:meth:`Store.swap`) and written last, so it is the commit point of every append.

:class:`FileStore` implements it on a POSIX file system: every write goes to a temporary file
or is appended, then ``fsync`` of the data and of the directory, then (for replacements)
``rename``; writers are serialised by ``flock`` on a lock file. A batch of objects
(:meth:`FileStore.create_many`) is made durable with two file-system-wide flushes instead of
two ``fsync`` calls per object, with the same guarantee (see there).
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import hmac
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from .errors import (
    ArchiveNotFoundError,
    ConflictError,
    LockError,
    NotFoundError,
    StorageError,
)


class Store(Protocol):
    """What the archive needs from storage. Names are ``/``-separated relative paths."""

    def read(self, name: str) -> bytes: ...
    def read_range(self, name: str, offset: int, length: int) -> bytes: ...
    def read_ranges(
        self, name: str, ranges: Sequence[tuple[int, int]]
    ) -> builtins.list[bytes]: ...
    def size(self, name: str) -> int: ...
    def exists(self, name: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def create(self, name: str, data: bytes) -> bool: ...
    def create_many(self, items: Sequence[tuple[str, bytes]]) -> builtins.list[bool]: ...
    def append(self, name: str, data: bytes, *, at: int) -> None: ...
    def truncate(self, name: str, length: int) -> None: ...
    def swap(self, name: str, expected: bytes | None, new: bytes) -> None: ...
    def lock(
        self, timeout: float = ..., name: str = ...
    ) -> contextlib.AbstractContextManager[None]: ...
    def open_stream(self, name: str) -> contextlib.AbstractContextManager[BinaryIO]: ...


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: Below this many new objects a batch is written with create()'s per-file fsync: syncfs(2)
#: also waits for other processes' dirty data on the file system, which only pays off when
#: it replaces many fsync calls.
BATCH_SYNC_MIN = 8

_syncfs: Callable[[int], int] | bool | None = False  # False: not looked up yet


def _syncfs_function() -> Callable[[int], int] | None:
    """Linux's syncfs(2) through ctypes (Python has no os.syncfs), or None elsewhere."""
    global _syncfs  # noqa: PLW0603 (looked up once per process)
    if _syncfs is False:
        _syncfs = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                function = libc.syncfs
                function.argtypes = [ctypes.c_int]
                function.restype = ctypes.c_int
                _syncfs = function
            except (OSError, AttributeError):
                _syncfs = None
    return _syncfs if callable(_syncfs) else None


def _sync_filesystem(root: Path, files: Sequence[Path], directories: Sequence[Path]) -> None:
    """Make *files* and the entries of *directories* durable: one syncfs(2), else fsyncs.

    syncfs reports write-back errors since Linux 5.8 (earlier kernels returned 0 regardless;
    there the guarantee is the kernel's, as for any program relying on syncfs).
    """
    syncfs = _syncfs_function()
    if syncfs is not None:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if syncfs(fd) != 0:
                import ctypes

                code = ctypes.get_errno()
                raise OSError(code, os.strerror(code))
        finally:
            os.close(fd)
        return
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for directory in directories:
        _fsync_dir(directory)


def open_for_reading(name: str, path: str | Path) -> int:
    """A read-only descriptor of *name* stored at *path*, with the store's errors: a missing
    file is :class:`NotFoundError`, any other failure :class:`StorageError`."""
    try:
        return os.open(path, os.O_RDONLY)
    except FileNotFoundError as e:
        raise NotFoundError(f"{name} is missing from the archive") from e
    except OSError as e:
        raise StorageError(f"cannot read {path}: {e.strerror}") from e


class FileStore:
    """A :class:`Store` in a local directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        parts = name.split("/")
        if not name or any(p in ("", ".", "..") for p in parts) or name.startswith("/"):
            raise StorageError(f"invalid storage name {name!r}")
        return self.root.joinpath(*parts)

    # -- reading ----------------------------------------------------------------------------

    def read(self, name: str) -> bytes:
        path = self._path(name)
        try:
            return path.read_bytes()
        except FileNotFoundError as e:
            raise NotFoundError(f"{name} is missing from the archive") from e
        except IsADirectoryError as e:
            raise StorageError(f"{name} is a directory, expected a file") from e
        except OSError as e:
            raise StorageError(f"cannot read {path}: {e.strerror}") from e

    def read_range(self, name: str, offset: int, length: int) -> bytes:
        path = self._path(name)
        try:
            with path.open("rb") as f:
                f.seek(offset)
                data = f.read(length)
        except FileNotFoundError as e:
            raise NotFoundError(f"{name} is missing from the archive") from e
        except OSError as e:
            raise StorageError(f"cannot read {path}: {e.strerror}") from e
        if len(data) != length:
            raise StorageError(f"{name} is shorter than expected ({offset + len(data)} bytes)")
        return data

    def read_ranges(
        self, name: str, ranges: Sequence[tuple[int, int]]
    ) -> builtins.list[bytes]:
        """:meth:`read_range` for each ``(offset, length)``, opening *name* once.

        A Merkle proof or root needs up to ~64 stored hashes scattered over ``log/hashes``;
        one open and a ``pread`` each costs a fraction of opening the file per hash.
        """
        if not ranges:
            return []
        path = self._path(name)
        fd = open_for_reading(name, path)
        out: builtins.list[bytes] = []
        try:
            for offset, length in ranges:
                if offset < 0 or length < 0:
                    raise StorageError(f"invalid range {offset}+{length} of {name}")
                data = os.pread(fd, length, offset)
                if len(data) != length:
                    raise StorageError(
                        f"{name} is shorter than expected ({offset + len(data)} bytes)"
                    )
                out.append(data)
        except OSError as e:
            raise StorageError(f"cannot read {path}: {e.strerror}") from e
        finally:
            os.close(fd)
        return out

    @contextlib.contextmanager
    def open_stream(self, name: str) -> Iterator[BinaryIO]:
        path = self._path(name)
        try:
            f = path.open("rb")
        except FileNotFoundError as e:
            raise NotFoundError(f"{name} is missing from the archive") from e
        except OSError as e:
            raise StorageError(f"cannot read {path}: {e.strerror}") from e
        with f:
            yield f

    def size(self, name: str) -> int:
        try:
            return self._path(name).stat().st_size
        except FileNotFoundError:
            return 0
        except OSError as e:
            raise StorageError(f"cannot stat {name}: {e.strerror}") from e

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())

    # -- writing ----------------------------------------------------------------------------

    def _write_new(self, path: Path, data: bytes, *, sync: bool = True) -> Path:
        """Write *data* to a fresh temporary file beside *path* (fsynced unless *sync* is
        false, for a batch that flushes everything at once)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if sync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        return tmp

    def _holds(self, name: str, data: bytes) -> bool:
        """Whether the existing *name* holds exactly *data*; ConflictError if it holds else."""
        if hmac.compare_digest(self.read(name), data):
            return True
        raise ConflictError(f"{name} already exists with different content")

    def create(self, name: str, data: bytes) -> bool:
        """Create *name* with *data*; False if it already holds exactly *data*.

        Raises :class:`ConflictError` if it holds anything else: create-only objects are
        never changed.
        """
        path = self._path(name)
        if path.exists():
            existing = self.read(name)
            if hmac.compare_digest(existing, data):
                return False
            raise ConflictError(f"{name} already exists with different content")
        try:
            tmp = self._write_new(path, data)
            try:
                # link() fails if the name exists: create-only even against a racing writer.
                os.link(tmp, path)
            except FileExistsError as e:
                if self.read(name) != data:
                    raise ConflictError(f"{name} already exists with different content") from e
                return False
            finally:
                tmp.unlink(missing_ok=True)
            _fsync_dir(path.parent)
        except OSError as e:
            raise StorageError(f"cannot write {name}: {e.strerror}") from e
        return True

    def _directories(self, paths: Sequence[Path]) -> builtins.list[Path]:
        """The directories holding *paths* and their ancestors up to the root: the entries
        a new object (and a new ``objects/sha256/<2>/``) adds."""
        found: set[Path] = set()
        for path in paths:
            directory = path.parent
            while directory not in found and directory != self.root:
                found.add(directory)
                directory = directory.parent
        return [*sorted(found, key=lambda d: len(d.parts), reverse=True), self.root]

    def create_many(self, items: Sequence[tuple[str, bytes]]) -> builtins.list[bool]:
        """:meth:`create` for each ``(name, data)``, with one durability barrier for all.

        The objects are written to temporary files beside their final names; one
        file-system flush (``syncfs``) makes their bytes durable; each is then linked to its
        final name (create-only, as :meth:`create`); a second flush makes the names durable.
        So, as with :meth:`create`, a final name never refers to bytes that are not on disk —
        after a crash an object either exists with its full content or not at all — and the
        cost is two flushes per batch instead of two ``fsync`` calls per object. Returns, in
        order, whether each item was created (False: it already held exactly that data).
        """
        created = [False] * len(items)
        pending: dict[str, tuple[Path, bytes, builtins.list[int]]] = {}
        for i, (name, data) in enumerate(items):
            if name in pending:
                if not hmac.compare_digest(pending[name][1], data):
                    raise ConflictError(f"{name} is given twice with different content")
                pending[name][2].append(i)
                continue
            path = self._path(name)
            if path.exists():
                self._holds(name, data)
                continue
            pending[name] = (path, data, [i])
        if len(pending) < BATCH_SYNC_MIN:
            for name, (_, data, positions) in pending.items():
                if self.create(name, data):
                    created[positions[0]] = True
            return created
        temporary: dict[str, Path] = {}
        try:
            try:
                for name, (path, data, _) in pending.items():
                    temporary[name] = self._write_new(path, data, sync=False)
                _sync_filesystem(self.root, list(temporary.values()), ())
                for name, (path, data, positions) in pending.items():
                    try:
                        os.link(temporary[name], path)
                    except FileExistsError:  # a racing writer created it meanwhile
                        self._holds(name, data)
                    else:
                        created[positions[0]] = True
                names = [path for path, _, _ in pending.values()]
                _sync_filesystem(self.root, (), self._directories(names))
            finally:
                for tmp in temporary.values():
                    tmp.unlink(missing_ok=True)
        except OSError as e:
            raise StorageError(f"cannot write objects: {e.strerror}") from e
        return created

    def append(self, name: str, data: bytes, *, at: int) -> None:
        """Write *data* at offset *at* (the committed length) and fsync.

        Anything past *at* is debris from an interrupted append and is overwritten/cut.
        """
        path = self._path(name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            created = not path.exists()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                current = os.fstat(fd).st_size
                if current < at:
                    raise StorageError(
                        f"{name} is shorter ({current}) than its committed length {at}"
                    )
                if current > at:
                    os.ftruncate(fd, at)
                os.lseek(fd, at, os.SEEK_SET)
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(path.parent)
        except OSError as e:
            raise StorageError(f"cannot append to {name}: {e.strerror}") from e

    def truncate(self, name: str, length: int) -> None:
        path = self._path(name)
        try:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.ftruncate(fd, length)
                os.fsync(fd)
            finally:
                os.close(fd)
        except FileNotFoundError:
            if length:
                raise StorageError(f"cannot truncate missing {name}") from None
        except OSError as e:
            raise StorageError(f"cannot truncate {name}: {e.strerror}") from e

    def swap(self, name: str, expected: bytes | None, new: bytes) -> None:
        """Replace *name* with *new* if it still holds *expected* (None: must not exist).

        Atomic on POSIX (write temporary, fsync, rename, fsync directory). Callers hold
        :meth:`lock`; the comparison guards against a writer that ignored the lock and is the
        contract an object store's conditional write (If-Match) will provide.
        """
        path = self._path(name)
        try:
            current: bytes | None = path.read_bytes()
        except FileNotFoundError:
            current = None
        except OSError as e:
            raise StorageError(f"cannot read {name}: {e.strerror}") from e
        if (current is None) != (expected is None) or (
            current is not None
            and expected is not None
            and not hmac.compare_digest(current, expected)
        ):
            raise ConflictError(f"{name} changed underneath this writer")
        try:
            tmp = self._write_new(path, new)
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except OSError as e:
            raise StorageError(f"cannot write {name}: {e.strerror}") from e

    @contextlib.contextmanager
    def lock(self, timeout: float = 120.0, name: str = "lock") -> Iterator[None]:
        """Hold an exclusive lock (``flock`` on the file *name*): ``lock`` serialises the
        archive's writers; in the cache directory, ``<index>.lock`` the updates of an index."""
        if not self.root.is_dir():
            raise ArchiveNotFoundError(f"no archive at {self.root}")
        # O_NOFOLLOW: a (dangling) symlink planted at the lock's name must not make a writer
        # create or open a file outside the archive (issue 11 item 5).
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self._path(name), flags, 0o644)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise LockError(
                    f"the lock file {name} is a symlink; refusing to follow it",
                    hint=f"remove {self._path(name)}",
                ) from e
            raise LockError(f"cannot open the archive lock: {e.strerror}") from e
        try:
            deadline = time.monotonic() + timeout
            delay = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise LockError(f"cannot lock the archive: {e.strerror}") from e
                    if time.monotonic() > deadline:
                        raise LockError(
                            "another orderarchive process holds the archive lock",
                            hint="wait for it to finish, then try again",
                        ) from e
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
            yield
        finally:
            os.close(fd)  # closing releases the flock
