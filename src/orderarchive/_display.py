"""Text that reaches a terminal: control characters made visible, never interpreted.

Titles, issuers, ids, file names and error messages that echo input come from documents,
archives and command lines an adversary may write. Printed raw, ``ESC [ 2 K`` erases the
line and ``ESC [ 32 m`` paints the next word green, so a file named
``x\\r\\e[2K\\e[32mOFFICIAL`` draws a green OFFICIAL over the real NOT OFFICIAL verdict, and
a right-to-left override (U+202E) reverses what follows it on the screen. Every character
such sequences are made of is replaced here by a visible escape (``\\x1b``, ``\\r``,
``\\u202e``), the way ``git`` and ``ls`` quote unusual file names. The CLI prints only
through :func:`terminal_safe` (and :func:`json_safe` for ``--json``); ``add`` refuses these
characters in what it signs (:func:`unsafe_characters`).
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls (U+0080-U+009F: a terminal in UTF-8 mode may take U+009B as
# CSI), the bidirectional embeddings and overrides (U+202A-U+202E) and isolates
# (U+2066-U+2069), and the Unicode line and paragraph separators (a new line to some
# renderers). Newline is kept only where output is multi-line by design.
_BEYOND_C0 = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
UNSAFE_CHARACTERS = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
_UNSAFE_BUT_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f{_BEYOND_C0}]")
_UNSAFE_IN_JSON = re.compile(f"[{_BEYOND_C0}]")  # the encoder escapes C0 itself

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal_safe(text: str, *, keep_newlines: bool = False) -> str:
    """*text* with every control, bidi-override and line-separator character escaped."""
    pattern = _UNSAFE_BUT_NEWLINE if keep_newlines else UNSAFE_CHARACTERS
    return pattern.sub(_visible, text)


def json_safe(encoded: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with the characters a terminal
    would act on written as ``\\uXXXX`` escapes: the same JSON value, safe to print.

    The encoder already escapes C0 controls inside strings; DEL, C1, the bidi controls and
    U+2028/U+2029 it leaves raw. Outside strings JSON text holds only ASCII punctuation,
    digits, letters and whitespace, so every such character is inside a string.
    """
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)


def unsafe_characters(text: str) -> list[str]:
    """The characters of *text* a terminal would act on, as visible escapes (for messages)."""
    return sorted({_visible(m) for m in UNSAFE_CHARACTERS.finditer(text)})
