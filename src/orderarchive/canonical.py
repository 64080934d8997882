"""Canonical JSON: the one byte encoding every signed structure uses.

The subset of RFC 8785 (JCS) that needs no floating point: objects with keys sorted by code
point, no insignificant whitespace, UTF-8, strings escaped minimally (``\\"``, ``\\\\``, the
short escapes ``\\b \\f \\n \\r \\t`` and ``\\u00xx`` in lower-case hex for other control
characters), integers only, in the interoperable range ±(2**53 - 1). Keys are restricted to
ASCII so that code-point and UTF-16 ordering agree (RFC 8785 §3.2.3 sorts by UTF-16 units).

:func:`loads` is strict: it refuses duplicate keys, floats, NaN, and any input that is not
byte-for-byte what :func:`dumps` would write, because signatures cover the exact stored bytes
(python-tuf: re-serialised data is not byte-identical).
"""

from __future__ import annotations

import json
from typing import Any

from .errors import CanonicalJSONError

MAX_SAFE_INTEGER = 2**53 - 1

_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)


def _check(value: Any, path: str = "$") -> None:
    if value is None or isinstance(value, (bool, str)):
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as e:
                raise CanonicalJSONError(f"{path}: string is not valid Unicode") from e
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalJSONError(f"{path}: integer {value} outside ±(2**53-1)")
        return
    if isinstance(value, float):
        raise CanonicalJSONError(f"{path}: floating-point numbers are not allowed")
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(f"{path}: object key {key!r} is not a string")
            if not key.isascii():
                raise CanonicalJSONError(f"{path}: object key {key!r} is not ASCII")
            _check(item, f"{path}.{key}")
        return
    raise CanonicalJSONError(f"{path}: {type(value).__name__} cannot be encoded")


def dumps(value: Any) -> bytes:
    """Encode *value* as canonical JSON bytes (no trailing newline)."""
    _check(value)
    return _ENCODER.encode(value).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CanonicalJSONError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_float(text: str) -> Any:
    raise CanonicalJSONError(f"floating-point number {text} is not allowed")


def _no_constant(text: str) -> Any:
    raise CanonicalJSONError(f"{text} is not allowed")


def loads(data: bytes) -> Any:
    """Decode canonical JSON bytes; raise :class:`CanonicalJSONError` on anything else."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CanonicalJSONError(f"not UTF-8 at byte {e.start}") from e
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as e:
        raise CanonicalJSONError(f"not JSON: {e.msg} at character {e.pos}") from e
    except ValueError as e:  # e.g. an integer literal longer than int_max_str_digits
        raise CanonicalJSONError(f"not acceptable JSON: {e}") from e
    except RecursionError as e:
        raise CanonicalJSONError("JSON nested too deeply") from e
    if dumps(value) != data:
        raise CanonicalJSONError("JSON is not in canonical form")
    return value
