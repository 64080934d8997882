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
import json.encoder
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from .errors import CanonicalJSONError

#: A JSON value as the library's results give it (``to_dict``); read-only containers, so that
#: a ``dict[str, JSONValue]`` of lists and objects type-checks without casts.
JSONValue: TypeAlias = (
    "str | int | float | bool | Sequence[JSONValue] | Mapping[str, JSONValue] | None"
)
#: A JSON object: what every result type's ``to_dict`` returns.
JSONObject: TypeAlias = "dict[str, JSONValue]"

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


def _valid(value: Any) -> bool:
    """Whether :func:`_check` would pass *value*, without building the path of every member
    (which only an error message needs): entries are encoded twice per signature."""
    kind = type(value)
    if kind is str:
        return value.isascii() or _encodable(value)
    if kind is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    if value is None or kind is bool:
        return True
    if kind is dict:
        return all(
            type(key) is str and key.isascii() and _valid(item) for key, item in value.items()
        )
    if kind is list or kind is tuple:
        return all(_valid(item) for item in value)
    return False  # subclasses, floats, anything else: the full check decides and explains


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def dumps(value: Any) -> bytes:
    """Encode *value* as canonical JSON bytes (no trailing newline)."""
    if not _valid(value):
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


# -- the fast path ------------------------------------------------------------------------------
#
# Checking a value with _check and encoding it again costs more than parsing it (verify loads
# every entry of the log). Most stored bytes are canonical, and for those a cheaper proof
# exists: parse with hooks that refuse, instead of checking afterwards, what JSON can express
# but canonical form forbids, then compare the re-encoding with the input. Each rule of the
# full path is then established:
#
# * floats, NaN and the infinities: the parse_float / parse_constant hooks refuse them;
# * integers within ±(2**53 - 1): parse_int refuses any literal of more than 15 characters
#   (at most 15 digits is below 2**53 - 1; longer literals, in range or not, take the full
#   path);
# * ASCII keys: the input is ASCII, or the object hook sees every object's keys;
# * no duplicate keys: the encoding of a parsed object writes each key once, so input that
#   holds a duplicate key never equals it;
# * valid Unicode: the input text was decoded strictly from UTF-8, so it holds no lone
#   surrogate, and neither does an encoding equal to it;
# * canonical bytes: the comparison itself, with the same encoder as dumps.
#
# Anything the fast path does not accept goes through the full path, which has the final word
# and gives the error message; the fast path only ever says "canonical".


class _NotPlain(Exception):
    """The fast path cannot vouch for this input; the full path decides."""


def _plain_int(literal: str) -> int:
    if len(literal) > 15:
        raise _NotPlain
    return int(literal)


def _not_plain(_literal: str) -> Any:
    raise _NotPlain


def _ascii_keys(obj: dict[str, Any]) -> dict[str, Any]:
    if not "".join(obj).isascii():
        raise _NotPlain
    return obj


_ASCII_DECODER = json.JSONDecoder(
    parse_float=_not_plain, parse_int=_plain_int, parse_constant=_not_plain
)
_UNICODE_DECODER = json.JSONDecoder(
    parse_float=_not_plain,
    parse_int=_plain_int,
    parse_constant=_not_plain,
    object_hook=_ascii_keys,
)
_NOT_PLAIN = object()


def _reencoder() -> Callable[[Any], str]:
    """``_ENCODER.encode`` for what the fast path parsed, without its per-call set-up.

    JSONEncoder.encode builds the C encoder anew on every call (~1.2 µs of the ~5 µs an entry
    costs to re-encode; verify re-encodes every entry). The C encoder is built here once, with
    the same settings as _ENCODER, and without the cycle check (a parsed value holds no
    cycle). ``json.encoder.c_make_encoder`` is not a documented API: it is used only if it
    exists and encodes a probe value exactly as _ENCODER does, else _ENCODER.encode is.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    quote = getattr(json.encoder, "c_encode_basestring", None)
    if make is None or quote is None:
        return _ENCODER.encode
    probe = {"b": [1, -2, "x\u00e9\n\"\\\x01"], "a": {"z": None, "y": True, "": ""}}
    try:
        iterencode = make(None, _ENCODER.default, quote, None, ":", ",", True, False, False)
        same = "".join(iterencode(probe, 0)) == _ENCODER.encode(probe)
    except Exception:  # any failure of the probe: the documented path
        return _ENCODER.encode
    if not same:
        return _ENCODER.encode

    def encode(value: Any) -> str:
        return "".join(iterencode(value, 0))

    return encode


_reencode = _reencoder()


def _plain_value(text: str) -> Any:
    """The value of *text* if the fast path proves it canonical, else ``_NOT_PLAIN``."""
    decoder = _ASCII_DECODER if text.isascii() else _UNICODE_DECODER
    try:
        value, end = decoder.raw_decode(text)
    except (_NotPlain, ValueError, RecursionError):
        return _NOT_PLAIN
    if end != len(text) or _reencode(value) != text:
        return _NOT_PLAIN
    return value


def loads(data: bytes) -> Any:
    """Decode canonical JSON bytes; raise :class:`CanonicalJSONError` on anything else."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CanonicalJSONError(f"not UTF-8 at byte {e.start}") from e
    value = _plain_value(text)
    if value is not _NOT_PLAIN:
        return value
    return _checked_value(data, text)


def loads_strict(text: str) -> Any:
    """Decode JSON in any serialisation (whitespace, key order), refusing what would allow
    two readings of one file: duplicate keys, floating-point numbers, NaN and infinities.
    Raises :class:`CanonicalJSONError`. Evidence files are read this way (their signed parts
    are checked byte for byte inside them); canonical JSON additionally re-encodes exactly."""
    try:
        return json.loads(
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


def _checked_value(data: bytes, text: str) -> Any:
    """The full path: every rule checked on its own, with a message for the first broken."""
    value = loads_strict(text)
    if dumps(value) != data:
        raise CanonicalJSONError("JSON is not in canonical form")
    return value
