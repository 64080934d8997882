"""Reading the files a user names on the command line, with one-line errors.

Kept apart from :mod:`.ingest` so that commands which only read a copy or a proof (`check`,
`verify-proof`) do not load the ingestion machinery.

Every read is bounded before it starts: the file is opened without blocking (a FIFO with no
writer would otherwise hang the open), ``fstat`` must show a regular file (a FIFO, device or
directory is refused unread: ``/dev/zero`` is endless) and its size must be within the
reader's limit, and the read stops one byte past the limit in case the file grows meanwhile.
Documents, copies and briefs share one limit, :data:`MAX_FILE_BYTES` by default, which the
user can change with ``--max-size`` or the environment variable :data:`MAX_SIZE_ENV`; proofs,
evidence, keys and checkpoints have fixed limits of their formats (docs/THREATS.md, "Hostile
files: bounds and limits").
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from .errors import MalformedError, OrderArchiveError, Remedy

#: The default largest document, copy or brief orderarchive reads (a bound on memory, not a
#: format limit).
MAX_FILE_BYTES = 512 * 1024 * 1024
#: The environment variable that sets that limit (bytes, or with a K, M or G suffix).
MAX_SIZE_ENV = "ORDERARCHIVE_MAX_FILE_SIZE"

_SIZE = re.compile(r"([0-9]{1,15})([KMG]?)(?:i?B)?", re.ASCII | re.IGNORECASE)
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}
_CHUNK = 1 << 20

_configured: int | None = None


def parse_size(text: str) -> int:
    """A size such as ``1048576``, ``64K``, ``200M`` or ``2G`` (binary units) in bytes."""
    match = _SIZE.fullmatch(text.strip())
    if match is None or int(match[1]) == 0:
        raise MalformedError(
            f"invalid size {text!r}", hint="give a positive number of bytes, or e.g. 64K, 200M, 2G"
        )
    return int(match[1]) * _UNITS[match[2].upper()]


def set_max_file_size(limit: int | None) -> None:
    """Set the limit of documents, copies and briefs (None: from the environment/default)."""
    global _configured  # noqa: PLW0603 (one setting per process, made by the CLI's edge)
    _configured = limit


def max_file_size() -> int:
    """The limit of documents, copies and briefs: ``--max-size``, else the environment
    variable :data:`MAX_SIZE_ENV`, else :data:`MAX_FILE_BYTES`."""
    if _configured is not None:
        return _configured
    value = os.environ.get(MAX_SIZE_ENV)
    return MAX_FILE_BYTES if value is None else parse_size(value)


def _describe(limit: int) -> str:
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if limit >= factor and limit % factor == 0:
            return f"{limit // factor} {unit}"
    return f"{limit} bytes"


def _open_checked(  # noqa: PLR0917 -- read_bounded's own arguments, passed on
    path: Path,
    limit: int,
    label: str,
    error: type[OrderArchiveError],
    missing: type[OrderArchiveError],
    hint: str | None,
    remedy: Remedy | None,
) -> tuple[int, os.stat_result]:
    """*path* opened for reading (never blocking) and shown a regular file within *limit*:
    the checks :func:`read_bounded` makes before it reads, with its errors."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as e:
        raise missing(f"{label} not found (no such file)") from e
    except IsADirectoryError as e:
        raise error(f"{label} is a directory, not a file") from e
    except OSError as e:
        raise error(f"cannot read {label}: {e.strerror}") from e
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise error(f"{label} is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{label} is not a regular file (a FIFO, socket or device); refused")
        if info.st_size > limit:
            raise error(f"{label} is larger than {_describe(limit)}", hint=hint, remedy=remedy)
    except OSError as e:
        os.close(fd)
        raise error(f"cannot read {label}: {e.strerror}") from e
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def read_bounded(
    path: Path,
    limit: int,
    *,
    what: str = "",
    error: type[OrderArchiveError] = MalformedError,
    missing: type[OrderArchiveError] = MalformedError,
    hint: str | None = None,
    remedy: Remedy | None = None,
) -> bytes:
    """The bytes of the regular file *path*, at most *limit* of them.

    A missing file raises *missing*; a directory, FIFO, device, unreadable file or one
    larger than *limit* raises *error* (with *hint* and *remedy* for the size), each before
    anything is read. A symbolic link the user named is followed: the user chose the file.
    """
    label = f"{what} {path}" if what else str(path)
    fd, info = _open_checked(path, limit, label, error, missing, hint, remedy)
    try:
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, min(max(info.st_size - total, 0), _CHUNK) + 1):
            total += len(chunk)
            if total > limit:  # it grew while being read
                raise error(f"{label} is larger than {_describe(limit)}", hint=hint,
                            remedy=remedy)
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as e:
        raise error(f"cannot read {label}: {e.strerror}") from e
    finally:
        os.close(fd)


def check_user_file(path: Path) -> None:
    """Raise what :func:`read_user_file` would raise for *path* before it reads a byte
    (missing, unreadable, special or oversized), reading nothing: opened and examined only,
    so that a command can refuse a bad file before it asks for a passphrase."""
    limit = max_file_size()
    fd, _ = _open_checked(path, limit, str(path), MalformedError, MalformedError,
                          f"raise the limit, or set {MAX_SIZE_ENV}", Remedy.MAX_SIZE)
    os.close(fd)


def read_user_file(path: Path, limit: int | None = None) -> bytes:
    """The bytes of *path*; a missing, unreadable, special or oversized file is one error.

    Without *limit*, the user's document limit (:func:`max_file_size`) applies, and an
    oversized file says how to raise it.
    """
    if limit is not None:
        return read_bounded(path, limit)
    return read_bounded(
        path,
        max_file_size(),
        error=MalformedError,
        hint=f"raise the limit, or set {MAX_SIZE_ENV}",
        remedy=Remedy.MAX_SIZE,
    )


__all__ = [
    "MAX_FILE_BYTES",
    "MAX_SIZE_ENV",
    "check_user_file",
    "max_file_size",
    "parse_size",
    "read_bounded",
    "read_user_file",
    "set_max_file_size",
]
