"""Storage: the only module that touches the archive's files.

The interface is deliberately small so that other back ends (a C2SP static tiled log, S3-style
object storage with conditional writes) can stand behind it later:

* **create-only objects** — written once, never changed (:meth:`Store.create`);
* **append-only files** — the entry log, its offsets and the stored tree hashes, appended at a
  known length (:meth:`Store.append`); bytes past the committed length are crash debris;
* **one mutable pointer** — the latest signed checkpoint, replaced by compare-and-swap
  (:meth:`Store.swap`) and written last, so it is the commit point of every append.

:class:`FileStore` implements it on a POSIX file system: every write goes to a temporary file
or is appended, then ``fsync`` of the data and of the directory, then (for replacements)
``rename``; writers are serialised by ``flock`` on a lock file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hmac
import os
import time
from collections.abc import Iterator
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
    def size(self, name: str) -> int: ...
    def exists(self, name: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def create(self, name: str, data: bytes) -> bool: ...
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

    def _write_new(self, path: Path, data: bytes) -> Path:
        """Write *data* to a fresh temporary file beside *path*, fsynced."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        return tmp

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
        archive's writers, ``index.lock`` the updates of the derived index."""
        if not self.root.is_dir():
            raise ArchiveNotFoundError(f"no archive at {self.root}")
        try:
            fd = os.open(self._path(name), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
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
