"""Storage: the interface the log is kept behind, and its two implementations.

The interface is shaped by the log, not by a file system, so that a local directory, an
S3-compatible bucket with conditional writes and a read-only HTTP mirror all fit it:

* **create-only immutable members** — the config, the releases and the content-addressed
  objects: written once, never changed (:meth:`Store.create`, or :meth:`Store.create_many` for
  a batch with one durability barrier). Creating a member that exists with the same bytes is
  success; with different bytes it is :class:`ConflictError` (corruption, never overwritten);
* **the log's records** — the entry log, its offsets and the stored tree hashes
  (:data:`RECORDS`), each read by ranges or streamed, and extended at the committed length
  (:meth:`Store.append_record`); bytes past the committed length are crash debris;
* **one checkpoint** — the latest signed checkpoint, read with a version
  (:meth:`Store.read_checkpoint`) and replaced only by compare-and-swap on that version
  (:meth:`Store.swap_checkpoint`), written last so that it is the commit point of every append.
  A lost swap is :class:`ConflictError`: two writers never both commit, so the log never forks.

Names are ``/``-separated keys in the store's own namespace (docs/FORMAT.md §1), never file
paths: nothing above this module knows where or how a store keeps them.

Locking is not part of the contract: the checkpoint's compare-and-swap is what makes a commit
safe. :meth:`Store.writer` is where a store may serialise its writers to avoid wasted work or,
for the directory store, to keep two appends from interleaving in one file.

:class:`FileStore` implements it in a local directory (today's layout, byte for byte): every
write goes to a temporary file or is appended, then ``fsync`` of the data and of the
directory, then (for replacements) ``rename``; writers are serialised by ``flock`` on a lock
file. A batch of objects (:meth:`FileStore.create_many`) is made durable with two
file-system-wide flushes instead of two ``fsync`` calls per object, with the same guarantee
(see there). :class:`MemoryStore` keeps everything in this process, with the same contract and
the same read bounds: the test double the archive suite also runs against.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import hmac
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol, overload

import attrs

from ..errors import (
    ArchiveNotFoundError,
    ConflictError,
    LockError,
    LostRaceError,
    NotFoundError,
    StorageError,
)

#: The log's records (docs/FORMAT.md §1): append-only, extended at their committed length.
ENTRIES_RECORD = "log/entries"
OFFSETS_RECORD = "log/offsets"
HASHES_RECORD = "log/hashes"
RECORDS = (ENTRIES_RECORD, OFFSETS_RECORD, HASHES_RECORD)
#: The one mutable member: the latest signed checkpoint.
CHECKPOINT_NAME = "checkpoint"


@attrs.frozen
class Versioned:
    """The checkpoint as read, with the version a compare-and-swap must name.

    *version* is opaque to callers: the bytes themselves for the directory store, a counter
    for the in-memory store (an ETag for an object store). *data* is None when there is no
    checkpoint yet.
    """

    data: bytes | None
    version: object = attrs.field(eq=False, repr=False)


class Store(Protocol):
    """What the log needs from storage (see the module documentation for the contract)."""

    # -- create-only members: config, releases, objects ---------------------------------------
    def read(self, name: str, limit: int | None = None) -> bytes: ...
    def read_chunks(self, name: str, first: int) -> Iterator[bytes]: ...
    def exists(self, name: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def create(self, name: str, data: bytes) -> bool: ...
    def create_many(self, items: Sequence[tuple[str, bytes]]) -> builtins.list[bool]: ...

    # -- the log's records --------------------------------------------------------------------
    def record_size(self, name: str) -> int: ...
    def read_range(self, name: str, offset: int, length: int) -> bytes: ...
    def read_ranges(
        self, name: str, ranges: Sequence[tuple[int, int]]
    ) -> builtins.list[bytes]: ...
    def stream_record(self, name: str) -> contextlib.AbstractContextManager[BinaryIO]: ...
    def append_record(self, name: str, data: bytes, *, at: int) -> None: ...
    def truncate_record(self, name: str, length: int) -> None: ...

    # -- the checkpoint -----------------------------------------------------------------------
    def read_checkpoint(self, limit: int) -> Versioned: ...
    def swap_checkpoint(self, expected: Versioned, new: bytes) -> None: ...

    # -- an optimisation, not the contract ----------------------------------------------------
    def writer(self) -> contextlib.AbstractContextManager[None]: ...
    def location(self) -> str | None: ...


#: The first read of an object asks for its stated size plus one byte; after a full chunk the
#: next asks for CHUNK_BYTES, after a short one for _PROBE bytes (the end of the file).
_PROBE = 512


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


def _syncfs_at(syncfs: Callable[[int], int], fd: int) -> None:
    """syncfs(2) of the file system holding the open file *fd*; OSError if it fails."""
    if syncfs(fd) != 0:
        import ctypes

        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _device(fd: int) -> int:
    """The file system (``st_dev``) of the open directory *fd*."""
    return os.fstat(fd).st_dev


def _sync_filesystem(root: Path, files: Sequence[Path], directories: Sequence[Path]) -> None:
    """Make *files* and the entries of *directories* durable: one syncfs(2), else fsyncs.

    syncfs reports write-back errors since Linux 5.8 (earlier kernels returned 0 regardless;
    there the guarantee is the kernel's, as for any program relying on syncfs).
    """
    syncfs = _syncfs_function()
    if syncfs is not None:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            _syncfs_at(syncfs, fd)
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


#: Flags of every read of an archive member: a symbolic link is refused (``O_NOFOLLOW``), and
#: a FIFO or device is opened without blocking (``O_NONBLOCK``) so that fstat can refuse it
#: instead of the open hanging on a FIFO with no writer.
READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC

#: Largest archive member read whole when its reader states no limit (checkpoints, releases
#: and the config are far smaller; a signed note is at most 1 MiB, ``note.MAX_NOTE_BYTES``).
MAX_MEMBER_BYTES = 1 << 20
#: Largest stored object (a document or text layer): the largest document ``add`` accepts.
MAX_OBJECT_BYTES = 512 * 1024 * 1024
#: Largest single range read from a log file (an entry line is at most 64 KiB + LF).
MAX_RANGE_BYTES = 1 << 20


def _write_in(directory: int, name: str, data: bytes) -> None:
    """Write *data* to the new file *name* in the directory open as *directory* (``O_EXCL``,
    ``O_NOFOLLOW``; not fsynced: the caller's batch flushes)."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o644, dir_fd=directory)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=directory)
        raise
    os.close(fd)


def _exists_in(directory: int, name: str) -> bool:
    """Whether *name* exists (as anything, a link included) in the directory *directory*."""
    try:
        os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise StorageError(f"cannot read {name}: {e.strerror}") from e
    return True


class _Directories:
    """Descriptors of a :class:`FileStore`'s directories for one batch of writes, each opened
    (created if missing) relative to its parent's descriptor with ``O_NOFOLLOW``: a symbolic
    link or a file anywhere on the way is :class:`StorageError`, and each level is checked
    once per batch however many objects it receives.

    At most :attr:`LIMIT` descriptors are open at once (the least recently used is closed
    and opened again, through the same checks, when next needed): a batch spans up to 256
    ``objects/sha256/<2>/`` directories, and macOS's default limit is 256 descriptors for the
    whole process. Callers visit the directories in order, so each is opened once per pass."""

    LIMIT = 32

    def __init__(self, store: FileStore) -> None:
        self._store = store
        self._fds: dict[tuple[str, ...], int] = {}
        self._missing: set[tuple[str, ...]] = set()
        #: One directory on each file system a directory opened lies on: a directory of the
        #: archive may be a mount point (objects on another disk), and syncfs(2) flushes one
        #: file system.
        self.devices: dict[int, tuple[str, ...]] = {}

    def __enter__(self) -> _Directories:
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    @overload
    def open(self, parts: Sequence[str]) -> int: ...
    @overload
    def open(self, parts: Sequence[str], *, create: bool) -> int | None: ...

    def open(self, parts: Sequence[str], *, create: bool = True) -> int | None:
        """The descriptor of the directory *parts* (below the store's root), created if
        missing; with *create* false, None if it (or a level above it) does not exist."""
        key = tuple(parts)
        fd = self._fds.pop(key, None)
        if fd is not None:
            self._fds[key] = fd  # most recently used last
            return fd
        if not create and key in self._missing:
            return None
        if not key:
            try:
                fd = os.open(self._store.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError as e:
                raise StorageError(f"cannot open the archive: {e.strerror}") from e
        else:
            parent = self.open(key[:-1], create=create)
            if parent is None:
                self._missing.add(key)
                return None
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                try:
                    fd = os.open(key[-1], flags, dir_fd=parent)
                except FileNotFoundError:
                    if not create:
                        self._missing.add(key)
                        return None
                    with contextlib.suppress(FileExistsError):  # a racing writer made it
                        os.mkdir(key[-1], 0o755, dir_fd=parent)
                    fd = os.open(key[-1], flags, dir_fd=parent)
            except OSError as e:
                if e.errno == errno.ENOTDIR:  # O_DIRECTORY | O_NOFOLLOW: a link or a file
                    with contextlib.suppress(OSError):
                        if stat.S_ISLNK(os.stat(key[-1], dir_fd=parent,
                                                follow_symlinks=False).st_mode):
                            e.errno = errno.ELOOP
                if e.errno == errno.ELOOP:
                    raise StorageError(
                        f"{'/'.join(key)} is a symbolic link; refusing to write through it"
                    ) from e
                if e.errno == errno.ENOTDIR:
                    raise StorageError(f"{'/'.join(key)} is not a directory") from e
                raise StorageError(f"cannot open {'/'.join(key)}: {e.strerror}") from e
            self._store._real_dirs.add(key)
            self._missing.discard(key)
        try:
            self.devices.setdefault(_device(fd), key)
        except OSError as e:
            os.close(fd)
            raise StorageError(f"cannot read {'/'.join(key) or '.'}: {e.strerror}") from e
        while len(self._fds) >= self.LIMIT:  # the parent was used above: close the oldest
            with contextlib.suppress(OSError):
                os.close(self._fds.pop(next(iter(self._fds))))
        self._fds[key] = fd
        return fd


def _refuse_special(name: str, mode: int) -> None:
    if stat.S_ISLNK(mode):
        raise StorageError(f"{name} is a symbolic link; links in an archive are refused")
    if stat.S_ISDIR(mode):
        raise StorageError(f"{name} is a directory, expected a file")
    if not stat.S_ISREG(mode):
        raise StorageError(f"{name} is not a regular file (a FIFO, socket or device); refused")


def open_for_reading(name: str, path: str | Path) -> int:
    """A read-only descriptor of *name* stored at *path*, with the store's errors: a missing
    file is :class:`NotFoundError`; a symbolic link, FIFO, device or directory, or any other
    failure, :class:`StorageError` (never a hang: see :data:`READ_FLAGS`)."""
    try:
        fd = os.open(path, READ_FLAGS)
    except FileNotFoundError as e:
        raise NotFoundError(f"{name} is missing from the archive") from e
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise StorageError(
                f"{name} is a symbolic link; links in an archive are refused"
            ) from e
        raise StorageError(f"cannot read {name}: {e.strerror}") from e
    try:
        _refuse_special(name, os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_fd(name: str, fd: int, limit: int) -> bytes:
    """All of the regular file *fd* (*name*), refused unread if larger than *limit* bytes."""
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise StorageError(f"{name} is {size} bytes, more than its limit of {limit}")
        chunks: builtins.list[bytes] = []
        total = 0
        while chunk := os.read(fd, min(size - total, CHUNK_BYTES) + 1):
            total += len(chunk)
            if total > limit:  # grew while being read
                raise StorageError(f"{name} is larger than its limit of {limit} bytes")
            chunks.append(chunk)
    except OSError as e:
        raise StorageError(f"cannot read {name}: {e.strerror}") from e
    return b"".join(chunks)


CHUNK_BYTES = 1 << 20


def _next_want(got: int, want: int) -> int:
    return CHUNK_BYTES if got == want else _PROBE


def _write_temporary(path: Path, data: bytes, *, sync: bool = True, mode: int = 0o644) -> Path:
    """Write *data* to a fresh temporary file beside *path* (``O_EXCL``, ``O_NOFOLLOW``: never
    through a planted link), fsynced unless *sync* is false; its name matches
    ``layout._TEMPORARY``, so an interrupted writer's leftover is recognised as debris."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, mode)
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


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644, durable: bool = True) -> None:
    """Replace the file *path* by one holding *data*, atomically and durably: a temporary
    file beside it, fsynced, renamed over it, then the directory fsynced. Parent directories
    are created. The one atomic write outside a store (the user's state directory, the cache's
    memos); raises :class:`StorageError` with the reason. With *durable* false (a cache a
    crash may lose), nothing is fsynced: still atomic, never half-written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _write_temporary(path, data, sync=durable, mode=mode)
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if durable:
            _fsync_dir(path.parent)
    except OSError as e:
        raise StorageError(f"cannot write {path}: {e.strerror}") from e


@contextlib.contextmanager
def file_lock(
    directory: Path, name: str, timeout: float = 120.0, *, what: str = "the archive lock"
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the file *name* in *directory* (*what*, for messages):
    the archive's writers (``lock``), in the cache directory the updates of an index
    (``<index>.lock``), in the state directory the remembered checkpoints (``.lock``)."""
    if not directory.is_dir():
        raise ArchiveNotFoundError(f"no archive at {directory}")
    path = directory / name
    # O_NOFOLLOW: a (dangling) symlink planted at the lock's name must not make a writer
    # create or open a file outside the archive (issue 11 item 5).
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise LockError(
                f"the lock file {name} is a symlink; refusing to follow it",
                hint=f"remove {path}",
            ) from e
        raise LockError(f"cannot open {what}: {e.strerror}") from e
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise LockError(f"cannot take {what}: {e.strerror}") from e
                if time.monotonic() > deadline:
                    raise LockError(
                        f"another orderarchive process holds {what}",
                        hint="wait for it to finish, then try again",
                    ) from e
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        yield
    finally:
        os.close(fd)  # closing releases the flock


class Interrupts:
    """Whether SIGINT arrived while it was held back (see :func:`deferred_interrupts`)."""

    def __init__(self) -> None:
        self.interrupted = False
        self.holding = False


#: The scope of :func:`interrupts_until_commit` now running, if any (main thread only).
_SCOPE: builtins.list[Interrupts] = []


@contextlib.contextmanager
def interrupts_until_commit() -> Iterator[Interrupts]:
    """For a command's whole run: SIGINT (Ctrl-C) raises KeyboardInterrupt as usual until a
    write phase starts (:func:`deferred_interrupts`); from then on to the end of the scope it
    is only recorded, so a command that reached its commit point finishes (its report
    included) and one interrupted earlier wrote nothing. Off the main thread, or when SIGINT
    is not Python's default handler, nothing is changed."""
    import signal

    state = Interrupts()
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        or _SCOPE
    ):
        yield state
        return

    def handler(signum: int, frame: object) -> None:
        if not state.holding:
            raise KeyboardInterrupt
        state.interrupted = True

    signal.signal(signal.SIGINT, handler)
    _SCOPE.append(state)
    try:
        yield state
    finally:
        _SCOPE.clear()
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[Interrupts]:
    """Hold SIGINT (Ctrl-C) back for a write phase, which then runs to its end and never
    leaves a temporary file, an empty directory or a half-appended log behind. The signal is
    recorded, not lost. Inside :func:`interrupts_until_commit` it stays held to the end of
    that scope (the command has committed: it finishes); else the default handler is back
    after the block."""
    if _SCOPE:
        _SCOPE[0].holding = True
        yield _SCOPE[0]
        return
    with interrupts_until_commit() as state:
        state.holding = True
        yield state


@contextlib.contextmanager
def held_interrupts() -> Iterator[None]:
    """Hold SIGINT (Ctrl-C) back for one step of a longer write (a chunk of a streaming
    append: its objects and records), then raise :class:`KeyboardInterrupt` after the step
    if one arrived. Unlike :func:`deferred_interrupts`, Ctrl-C is honoured again after the
    step: the writer stops at a step boundary (never inside a write, so no temporary file is
    left) and removes what it wrote past the commit point."""
    outer = _SCOPE[0] if _SCOPE else None
    if outer is not None and outer.holding:
        yield  # already held to the end of the command (it reached its commit point)
        return
    with contextlib.ExitStack() as stack:
        state = outer or stack.enter_context(interrupts_until_commit())
        state.holding = True
        try:
            yield
        finally:
            state.holding = False
        if state.interrupted:
            state.interrupted = False
            raise KeyboardInterrupt


class FileStore:
    """A :class:`Store` in a local directory.

    Every member is read without following a symbolic link (``O_NOFOLLOW`` on the file, an
    ``lstat`` of each directory on its path) and must be a regular file: a hostile mirror's
    link to ``/dev/zero``, a FIFO or a file elsewhere is refused with one error, never read.
    Every read is bounded: whole-file reads by a limit checked with ``fstat`` before reading,
    range reads by :data:`MAX_RANGE_BYTES` and the file's size. Writes refuse a link anywhere
    on their path too, so nothing is written outside the archive (docs/THREATS.md, "Hostile
    files: bounds and limits").
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        # Directories already seen to be real directories (not links) by this process, as
        # tuples of names and (for open_fd) as "/"-joined names.
        self._real_dirs: set[tuple[str, ...]] = set()
        self._checked: set[str] = set()
        self._prefix = os.fspath(self.root) + os.sep

    def _parts(self, name: str) -> builtins.list[str]:
        parts = name.split("/")
        if not name or any(p in ("", ".", "..") for p in parts) or name.startswith("/"):
            raise StorageError(f"invalid storage name {name!r}")
        return parts

    def _path(self, name: str) -> Path:
        return self.root.joinpath(*self._parts(name))

    def _check_dirs(self, parts: Sequence[str], *, cached: bool = True) -> bool:
        """Whether every directory of *parts* (all but the last) exists as a real directory;
        a symbolic link or a file in its place is :class:`StorageError`."""
        for depth in range(1, len(parts)):
            key = tuple(parts[:depth])
            if cached and key in self._real_dirs:
                continue
            try:
                mode = os.lstat(self.root.joinpath(*key)).st_mode
            except FileNotFoundError:
                return False
            except OSError as e:
                raise StorageError(f"cannot read {'/'.join(key)}: {e.strerror}") from e
            if stat.S_ISLNK(mode):
                raise StorageError(
                    f"{'/'.join(key)} is a symbolic link; links in an archive are refused"
                )
            if not stat.S_ISDIR(mode):
                raise StorageError(f"{'/'.join(key)} is not a directory")
            self._real_dirs.add(key)
        return True

    def open_fd(self, name: str) -> int:
        """A read-only descriptor of the regular file *name* (see :func:`open_for_reading`).

        ``verify`` opens every object through here: once a directory is known to be real,
        opening a file in it costs a set lookup, the open and an fstat.
        """
        directory, _, leaf = name.rpartition("/")
        if directory not in self._checked or leaf in ("", ".", "..") or name.startswith("/"):
            if not self._check_dirs(self._parts(name)):
                raise NotFoundError(f"{name} is missing from the archive")
            self._checked.add(directory)
        return open_for_reading(name, self._prefix + name)

    # -- reading ----------------------------------------------------------------------------

    def read(self, name: str, limit: int | None = None) -> bytes:
        """All of *name*; refused unread if larger than *limit* (default: objects
        :data:`MAX_OBJECT_BYTES`, any other member :data:`MAX_MEMBER_BYTES`)."""
        if limit is None:
            limit = MAX_OBJECT_BYTES if name.startswith("objects/") else MAX_MEMBER_BYTES
        fd = self.open_fd(name)
        try:
            return read_fd(name, fd, limit)
        finally:
            os.close(fd)

    def read_chunks(self, name: str, first: int) -> Iterator[bytes]:
        """*name* in chunks, the first asking for *first* bytes (the size its entry states, plus
        one: an object of that size arrives in one piece, and a small read after a short one
        shows its end). ``verify`` hashes every object through here: a descriptor and
        ``os.read`` cost less than a buffered stream, which cost more than hashing a typical
        object. No link followed, no FIFO or device opened (:meth:`open_fd`)."""
        fd = self.open_fd(name)
        try:
            want = max(1, min(first, CHUNK_BYTES))
            while chunk := os.read(fd, want):
                yield chunk
                want = _next_want(len(chunk), want)
        except OSError as e:
            raise StorageError(f"cannot read {name}: {e.strerror}") from e
        finally:
            os.close(fd)

    def read_range(self, name: str, offset: int, length: int) -> bytes:
        return self.read_ranges(name, [(offset, length)])[0]

    def read_ranges(
        self, name: str, ranges: Sequence[tuple[int, int]]
    ) -> builtins.list[bytes]:
        """:meth:`read_range` for each ``(offset, length)``, opening *name* once.

        A Merkle proof or root needs up to ~64 stored hashes scattered over ``log/hashes``;
        one open and a ``pread`` each costs a fraction of opening the file per hash. Every
        range is checked against the file's size before it is read: an offset or length
        taken from a hostile file (2**62) is an error, not an allocation.
        """
        if not ranges:
            return []
        fd = self.open_fd(name)
        out: builtins.list[bytes] = []
        try:
            have = os.fstat(fd).st_size
            for offset, length in ranges:
                if offset < 0 or not 0 <= length <= MAX_RANGE_BYTES:
                    raise StorageError(f"invalid range {offset}+{length} of {name}")
                if offset + length > have:
                    raise StorageError(f"{name} is shorter than expected ({have} bytes)")
                data = os.pread(fd, length, offset)
                if len(data) != length:
                    raise StorageError(
                        f"{name} is shorter than expected ({offset + len(data)} bytes)"
                    )
                out.append(data)
        except OSError as e:
            raise StorageError(f"cannot read {name}: {e.strerror}") from e
        finally:
            os.close(fd)
        return out

    @contextlib.contextmanager
    def stream_record(self, name: str) -> Iterator[BinaryIO]:
        """*name* as a buffered stream; its readers bound how much they read."""
        fd = self.open_fd(name)
        try:
            f = os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise
        with f:
            yield f

    def record_size(self, name: str) -> int:
        """The size of *name* (0 if missing); a link or special file is refused."""
        parts = self._parts(name)
        if not self._check_dirs(parts):
            return 0
        try:
            mode_size = os.lstat(self.root.joinpath(*parts))
        except FileNotFoundError:
            return 0
        except OSError as e:
            raise StorageError(f"cannot stat {name}: {e.strerror}") from e
        _refuse_special(name, mode_size.st_mode)
        return mode_size.st_size

    def exists(self, name: str) -> bool:
        """Whether anything is stored as *name* (a link or FIFO too: reading it says why it
        is refused, instead of it passing for missing)."""
        parts = self._parts(name)
        if not self._check_dirs(parts):
            return False
        try:
            os.lstat(self.root.joinpath(*parts))
        except FileNotFoundError:
            return False
        except OSError as e:
            raise StorageError(f"cannot stat {name}: {e.strerror}") from e
        return True

    def list(self, prefix: str) -> list[str]:
        """Every non-directory name under *prefix*, links and special files included (so that
        reading them is refused loudly); a link in place of a directory is refused."""
        parts = self._parts(prefix)
        if not self._check_dirs([*parts, ""]):
            return []
        out: builtins.list[str] = []
        pending = [parts]
        while pending:
            current = pending.pop()
            try:
                with os.scandir(self.root.joinpath(*current)) as it:
                    for item in it:
                        if item.is_dir(follow_symlinks=False):
                            pending.append([*current, item.name])
                        else:
                            out.append("/".join([*current, item.name]))
            except FileNotFoundError:
                continue
            except OSError as e:
                raise StorageError(f"cannot list {'/'.join(current)}: {e.strerror}") from e
        return sorted(out)

    def members(
        self, plain: Callable[[str], Callable[[builtins.list[str]], bool] | None] | None = None
    ) -> builtins.list[tuple[str, bool, bool]]:
        """Every file and directory under the root as ``(name, is_dir, is_empty_dir)``, never
        following a link (a link is listed as a file): what :mod:`._audit` compares with the
        names the format gives (docs/FORMAT.md §1).

        *plain* may name, for a directory, a test of all its item names at once: when the
        directory holds no subdirectory and the test passes, its items are left
        out (the directory itself is listed). The object fan-out directories hold most of an
        archive's files, and this keeps their check out of a loop per file.
        """
        out: builtins.list[tuple[str, bool, bool]] = []
        pending: builtins.list[builtins.list[str]] = [[]]
        while pending:
            current = pending.pop()
            path = self.root.joinpath(*current)
            test = plain("/".join(current)) if plain is not None and current else None
            if test is not None and self._plain_directory(path, test):
                out.append(("/".join(current), True, False))
                continue
            try:
                with os.scandir(path) as it:
                    items = builtins.list(it)
            except FileNotFoundError:
                continue
            except OSError as e:
                where = "/".join(current) or "the archive"
                raise StorageError(f"cannot list {where}: {e.strerror}") from e
            if current:
                out.append(("/".join(current), True, not items))
            for item in items:
                if item.is_dir(follow_symlinks=False):
                    pending.append([*current, item.name])
                else:
                    out.append(("/".join([*current, item.name]), False, False))
        return sorted(out)

    @staticmethod
    def _plain_directory(path: Path, test: Callable[[builtins.list[str]], bool]) -> bool:
        """Whether the directory *path* holds no directory and only names *test* passes.

        ``st_nlink`` 2 shows a directory without subdirectories (its own entry and ``.``;
        each subdirectory's ``..`` adds one) on the usual Linux file systems; where it means
        something else (btrfs: always 1) the caller lists the directory item by item. Any
        other kind of item (a link, a FIFO) is what the item-by-item listing reports as a
        file too, so leaving these names out changes nothing but the time.
        """
        try:
            info = os.lstat(path)
            if not stat.S_ISDIR(info.st_mode) or info.st_nlink != 2:
                return False
            names = os.listdir(path)
        except OSError:
            return False  # the listing item by item reports it
        return bool(names) and test(names)

    def remove_debris(self, name: str, *, is_dir: bool) -> bool:
        """Remove the leftover file, or the empty directory, *name*; False if it is gone or
        (a directory) no longer empty. Only for what :mod:`.layout` calls the tool's debris."""
        path = self._path(name)
        try:
            if is_dir:
                os.rmdir(path)
            else:
                os.unlink(path)
            _fsync_dir(path.parent)
        except FileNotFoundError:
            return False
        except OSError as e:
            if e.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return False
            raise StorageError(f"cannot remove {name}: {e.strerror}") from e
        return True

    # -- writing ----------------------------------------------------------------------------

    def _parent(self, name: str, *, sync: bool = True) -> Path:
        """The directory of *name*, created (and each new directory's parent fsynced, so
        that its entry is durable before anything names it) if missing; a link anywhere on
        the way is refused, so no write leaves the archive."""
        parts = self._parts(name)
        directory = self.root
        for depth in range(1, len(parts)):
            key = tuple(parts[:depth])
            child = directory / parts[depth - 1]
            try:
                mode = os.lstat(child).st_mode
            except FileNotFoundError:
                try:
                    os.mkdir(child, 0o755)
                except FileExistsError:  # a racing writer made it: check it below
                    mode = os.lstat(child).st_mode
                else:
                    if sync:
                        _fsync_dir(directory)
                    mode = stat.S_IFDIR
            if stat.S_ISLNK(mode):
                raise StorageError(
                    f"{'/'.join(key)} is a symbolic link; refusing to write through it"
                )
            if not stat.S_ISDIR(mode):
                raise StorageError(f"{'/'.join(key)} is not a directory")
            self._real_dirs.add(key)
            directory = child
        return directory

    def _write_new(self, path: Path, data: bytes, *, sync: bool = True) -> Path:
        """Write *data* to a fresh temporary file beside *path* (fsynced unless *sync* is
        false, for a batch that flushes everything at once). The caller has checked the
        directory with :meth:`_parent`."""
        return _write_temporary(path, data, sync=sync)

    def _holds(self, name: str, data: bytes) -> bool:
        """Whether the existing *name* holds exactly *data*; ConflictError if it holds else."""
        fd = self.open_fd(name)
        try:
            # A file of another size differs: no need to read it (it may be a giant).
            same = os.fstat(fd).st_size == len(data) and hmac.compare_digest(
                read_fd(name, fd, len(data)), data
            )
        except OSError as e:
            raise StorageError(f"cannot read {name}: {e.strerror}") from e
        finally:
            os.close(fd)
        if same:
            return True
        raise ConflictError(f"{name} already exists with different content")

    def _exists_for_write(self, path: Path) -> bool:
        try:
            os.lstat(path)
        except FileNotFoundError:
            return False
        return True

    def create(self, name: str, data: bytes) -> bool:
        """Create *name* with *data*; False if it already holds exactly *data*.

        Raises :class:`ConflictError` if it holds anything else: create-only objects are
        never changed.
        """
        try:
            path = self._parent(name) / self._parts(name)[-1]
            if self._exists_for_write(path):
                self._holds(name, data)
                return False
            tmp = self._write_new(path, data)
            try:
                # link() fails if the name exists: create-only even against a racing writer;
                # it never follows a link at the new name.
                os.link(tmp, path, follow_symlinks=False)
            except FileExistsError as e:
                try:
                    self._holds(name, data)
                except ConflictError as conflict:
                    raise conflict from e
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
        pending: dict[str, tuple[builtins.list[str], bytes, builtins.list[int]]] = {}
        # Each directory is opened (every level without following a link) once per batch,
        # not once per object: a batch of thousands shares 256 objects/sha256/<2>/.
        with _Directories(self) as directories:
            # In directory order (stable: a name given twice keeps its first position first),
            # so that each directory is opened once however few descriptors are kept open.
            for i in sorted(range(len(items)), key=lambda i: items[i][0].rpartition("/")[0]):
                name, data = items[i]
                if name in pending:
                    if not hmac.compare_digest(pending[name][1], data):
                        raise ConflictError(f"{name} is given twice with different content")
                    pending[name][2].append(i)
                    continue
                parts = self._parts(name)
                fd = directories.open(parts[:-1], create=False)
                if fd is not None and _exists_in(fd, parts[-1]):
                    self._holds(name, data)
                    continue
                pending[name] = (parts, data, [i])
            if len(pending) < BATCH_SYNC_MIN:
                for name, (_, data, positions) in pending.items():
                    if self.create(name, data):
                        created[positions[0]] = True
                return created
            self._write_batch(pending, created, directories)
        return created

    def _write_batch(
        self,
        pending: dict[str, tuple[builtins.list[str], bytes, builtins.list[int]]],
        created: builtins.list[bool],
        directories: _Directories,
    ) -> None:
        """The batch path of :meth:`create_many`: every file operation relative to a
        descriptor of its directory, opened without following a link (``O_NOFOLLOW`` at each
        level) and, for each pass over *pending* (in directory order), at most once while
        fewer than :attr:`_Directories.LIMIT` are open: a directory swapped for a link is
        never written through, whether it was swapped before or after it was opened."""
        pid = os.getpid()
        stamp = time.monotonic_ns()
        temporary: builtins.list[tuple[builtins.list[str], str]] = []  # (directory, temporary)
        syncfs = _syncfs_function()

        def paths(leaves: Sequence[str]) -> builtins.list[Path]:
            # Only the portable fallback (fsync each file and directory) needs paths.
            if syncfs:
                return []
            return [self.root.joinpath(*parts[:-1], leaf)
                    for (parts, _, _), leaf in zip(pending.values(), leaves, strict=True)]

        def flush(files: Sequence[Path], dirs: Sequence[Path]) -> None:
            if syncfs is None:
                _sync_filesystem(self.root, files, dirs)
                return
            # Each file system the batch's directories lie on (the root's among them).
            for where in list(directories.devices.values()):
                fd = directories.open(where, create=False)
                if fd is None:
                    raise StorageError(f"{'/'.join(where)} was removed during the write")
                _syncfs_at(syncfs, fd)

        try:
            try:
                for k, (parts, data, _) in enumerate(pending.values()):
                    fd = directories.open(parts[:-1])
                    tmp = f".{parts[-1]}.{pid}.{stamp + k}.tmp"
                    _write_in(fd, tmp, data)
                    temporary.append((parts[:-1], tmp))
                # The batch's flushes make new directories' entries durable (syncfs, or the
                # fsync of every directory up to the root): no fsync per directory.
                flush(paths([tmp for _, tmp in temporary]), ())
                for (name, (parts, data, positions)), (_, tmp) in zip(
                    pending.items(), temporary, strict=True
                ):
                    fd = directories.open(parts[:-1])
                    try:
                        os.link(tmp, parts[-1], src_dir_fd=fd, dst_dir_fd=fd,
                                follow_symlinks=False)
                    except FileExistsError:  # a racing writer created it meanwhile
                        self._holds(name, data)
                    else:
                        created[positions[0]] = True
                names = paths([parts[-1] for parts, _, _ in pending.values()])
                flush((), self._directories(names) if names else ())
            finally:
                for where, tmp in temporary:
                    with contextlib.suppress(OSError, StorageError):
                        directory = directories.open(where, create=False)
                        if directory is not None:
                            os.unlink(tmp, dir_fd=directory)
        except OSError as e:
            raise StorageError(f"cannot write objects: {e.strerror}") from e

    def append_record(self, name: str, data: bytes, *, at: int) -> None:
        """Write *data* at offset *at* (the committed length) and fsync.

        Anything past *at* is debris from an interrupted append and is overwritten/cut.
        """
        try:
            path = self._parent(name) / self._parts(name)[-1]
            created = not self._exists_for_write(path)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
            try:
                _refuse_special(name, os.fstat(fd).st_mode)
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

    def truncate_record(self, name: str, length: int) -> None:
        try:
            path = self._parent(name) / self._parts(name)[-1]
            fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            try:
                _refuse_special(name, os.fstat(fd).st_mode)
                os.ftruncate(fd, length)
                os.fsync(fd)
            finally:
                os.close(fd)
        except FileNotFoundError:
            if length:
                raise StorageError(f"cannot truncate missing {name}") from None
        except OSError as e:
            raise StorageError(f"cannot truncate {name}: {e.strerror}") from e

    def read_checkpoint(self, limit: int) -> Versioned:
        """The checkpoint (None if there is none yet); its version is its bytes."""
        try:
            data: bytes | None = self.read(CHECKPOINT_NAME, limit)
        except NotFoundError:
            data = None
        return Versioned(data, data)

    def swap_checkpoint(self, expected: Versioned, new: bytes) -> None:
        """Replace the checkpoint with *new* if it still holds what *expected* read.

        Atomic on POSIX (write temporary, fsync, rename, fsync directory). Writers hold
        :meth:`writer`; the comparison guards against a writer that ignored the lock and is the
        contract an object store's conditional write (If-Match) provides. A lost swap is
        :class:`ConflictError` and changes nothing.
        """
        name = CHECKPOINT_NAME
        try:
            current: bytes | None = self.read(name)
        except NotFoundError:
            current = None
        version = expected.version
        if not isinstance(version, bytes | None) or not _same(current, version):
            raise LostRaceError(
                "the checkpoint changed underneath this writer: another writer committed "
                "first; nothing was committed"
            )
        try:
            # rename() replaces a link at *name* itself, never its target.
            path = self._parent(name) / self._parts(name)[-1]
            tmp = self._write_new(path, new)
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except OSError as e:
            raise StorageError(f"cannot write {name}: {e.strerror}") from e

    def writer(self) -> contextlib.AbstractContextManager[None]:
        """Serialise this archive's writers (``flock`` on ``lock``): two appends to the same
        log file must not interleave. The checkpoint's compare-and-swap still decides."""
        return file_lock(self.root, "lock")

    def location(self) -> str | None:
        """The resolved directory, which names this archive's derived index in the cache."""
        try:
            return str(self.root.resolve())
        except (OSError, RuntimeError) as e:
            raise StorageError(f"cannot resolve {self.root}: {e}") from e


def _same(current: bytes | None, expected: bytes | None) -> bool:
    if current is None or expected is None:
        return current is None and expected is None
    return hmac.compare_digest(current, expected)


def _check_name(name: str) -> None:
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise StorageError(f"invalid storage name {name!r}")


class MemoryStore:
    """A :class:`Store` held in this process: the same contract and read bounds as
    :class:`FileStore`, no durability. The test double of the storage interface, and an
    archive for a program that builds one only to publish it elsewhere.

    Thread-safe: every operation holds one lock, and :meth:`writer` serialises writers.
    """

    def __init__(self) -> None:
        self._members: dict[str, bytes] = {}
        self._records: dict[str, bytearray] = {}
        self._checkpoint: bytes | None = None
        self._version = 0
        self._mutex = threading.RLock()
        self._writers = threading.Lock()

    def location(self) -> str | None:
        return None  # nothing outside this process: its index is kept in memory too

    @contextlib.contextmanager
    def writer(self) -> Iterator[None]:
        with self._writers:
            yield

    # -- members ------------------------------------------------------------------------------

    def read(self, name: str, limit: int | None = None) -> bytes:
        _check_name(name)
        if limit is None:
            limit = MAX_OBJECT_BYTES if name.startswith("objects/") else MAX_MEMBER_BYTES
        with self._mutex:
            data = self._member(name)
        if len(data) > limit:
            raise StorageError(f"{name} is {len(data)} bytes, more than its limit of {limit}")
        return data

    def _member(self, name: str) -> bytes:
        if name == CHECKPOINT_NAME:
            data = self._checkpoint
        elif name in self._records:
            data = bytes(self._records[name])
        else:
            data = self._members.get(name)
        if data is None:
            raise NotFoundError(f"{name} is missing from the archive")
        return data

    def read_chunks(self, name: str, first: int) -> Iterator[bytes]:
        data = self.read(name, MAX_OBJECT_BYTES)
        want = max(1, min(first, CHUNK_BYTES))
        at = 0
        while chunk := data[at : at + want]:
            yield chunk
            at += len(chunk)
            want = _next_want(len(chunk), want)

    def exists(self, name: str) -> bool:
        _check_name(name)
        with self._mutex:
            return (
                name in self._members
                or name in self._records
                or (name == CHECKPOINT_NAME and self._checkpoint is not None)
            )

    def list(self, prefix: str) -> builtins.list[str]:
        _check_name(prefix)
        with self._mutex:
            names = [*self._members, *self._records]
            if self._checkpoint is not None:
                names.append(CHECKPOINT_NAME)
        return sorted(n for n in names if n.startswith(prefix + "/"))

    def create(self, name: str, data: bytes) -> bool:
        _check_name(name)
        if name == CHECKPOINT_NAME or name in RECORDS:
            raise StorageError(f"{name} is not a create-only member")
        with self._mutex:
            current = self._members.get(name)
            if current is None:
                self._members[name] = bytes(data)
                return True
        if hmac.compare_digest(current, data):
            return False
        raise ConflictError(f"{name} already exists with different content")

    def create_many(self, items: Sequence[tuple[str, bytes]]) -> builtins.list[bool]:
        given: dict[str, bytes] = {}
        for name, data in items:
            if name in given and not hmac.compare_digest(given[name], data):
                raise ConflictError(f"{name} is given twice with different content")
            given[name] = data
        with self._mutex:
            for name, data in given.items():  # all refused or none written
                current = self._members.get(name)
                if current is not None and not hmac.compare_digest(current, data):
                    raise ConflictError(f"{name} already exists with different content")
            done: set[str] = set()
            out: builtins.list[bool] = []
            for name, data in items:
                out.append(name not in done and self.create(name, data))
                done.add(name)
        return out

    # -- records ------------------------------------------------------------------------------

    def _record(self, name: str) -> bytearray:
        if name not in RECORDS:
            raise StorageError(f"{name} is not one of the log's records")
        return self._records.setdefault(name, bytearray())

    def record_size(self, name: str) -> int:
        with self._mutex:
            return len(self._record(name)) if name in self._records else 0

    def read_range(self, name: str, offset: int, length: int) -> bytes:
        return self.read_ranges(name, [(offset, length)])[0]

    def read_ranges(
        self, name: str, ranges: Sequence[tuple[int, int]]
    ) -> builtins.list[bytes]:
        if not ranges:
            return []
        with self._mutex:
            if name not in self._records:
                raise NotFoundError(f"{name} is missing from the archive")
            record = self._records[name]
            out: builtins.list[bytes] = []
            for offset, length in ranges:
                if offset < 0 or not 0 <= length <= MAX_RANGE_BYTES:
                    raise StorageError(f"invalid range {offset}+{length} of {name}")
                if offset + length > len(record):
                    raise StorageError(f"{name} is shorter than expected ({len(record)} bytes)")
                out.append(bytes(record[offset : offset + length]))
        return out

    @contextlib.contextmanager
    def stream_record(self, name: str) -> Iterator[BinaryIO]:
        import io

        with self._mutex:
            if name not in self._records:
                raise NotFoundError(f"{name} is missing from the archive")
            data = bytes(self._records[name])
        with io.BytesIO(data) as f:
            yield f

    def append_record(self, name: str, data: bytes, *, at: int) -> None:
        with self._mutex:
            record = self._record(name)
            if len(record) < at:
                raise StorageError(
                    f"{name} is shorter ({len(record)}) than its committed length {at}"
                )
            del record[at:]  # debris of an interrupted append
            record += data

    def truncate_record(self, name: str, length: int) -> None:
        with self._mutex:
            if name not in self._records:
                if length:
                    raise StorageError(f"cannot truncate missing {name}")
                return
            del self._records[name][length:]

    # -- the checkpoint -----------------------------------------------------------------------

    def read_checkpoint(self, limit: int) -> Versioned:
        with self._mutex:
            data, version = self._checkpoint, self._version
        if data is not None and len(data) > limit:
            raise StorageError(
                f"{CHECKPOINT_NAME} is {len(data)} bytes, more than its limit of {limit}"
            )
        return Versioned(data, version)

    def swap_checkpoint(self, expected: Versioned, new: bytes) -> None:
        with self._mutex:
            if expected.version != self._version:
                raise LostRaceError(
                    "the checkpoint changed underneath this writer: another writer committed "
                    "first; nothing was committed"
                )
            self._checkpoint = bytes(new)
            self._version += 1
