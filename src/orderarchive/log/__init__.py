"""The signed log: its formats, signatures, storage and audit.

:class:`Log` (in :mod:`.log`) is the log over a :class:`~.store.Store`: head, entries,
verified entries, append, releases and their signed chain, repair. It is loaded on first use,
so that importing one format module (``tlogproof``, ``merkle``) does not load the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .log import Log

__all__ = ["Log"]


def __getattr__(name: str) -> Any:
    if name == "Log":
        from .log import Log

        return Log
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
