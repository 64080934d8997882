"""Reading the files a user names on the command line, with one-line errors.

Kept apart from :mod:`.ingest` so that commands which only read a copy or a proof (`check`,
`verify-proof`) do not load the ingestion machinery.
"""

from __future__ import annotations

from pathlib import Path

from .errors import DocumentError, MalformedError

#: The largest document orderarchive reads (a bound on memory, not a format limit).
MAX_FILE_BYTES = 512 * 1024 * 1024


def read_user_file(path: Path) -> bytes:
    """The bytes of *path*; a missing, unreadable, directory or oversized file is one error."""
    try:
        if path.is_dir():
            raise MalformedError(f"{path} is a directory, not a document")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DocumentError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MiB")
        return path.read_bytes()
    except FileNotFoundError as e:
        raise MalformedError(f"{path}: no such file") from e
    except OSError as e:
        raise MalformedError(f"cannot read {path}: {e.strerror}") from e
