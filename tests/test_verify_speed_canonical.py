"""The fast path of canonical.loads must never accept what the full checker refuses.

``canonical._plain_value`` either proves the input canonical (and returns the value the full
path would) or declines; ``loads`` then asks the full path, whose verdict and message are final.
Each rule the fast path establishes indirectly has crafted inputs here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderarchive import canonical
from orderarchive.errors import CanonicalJSONError


def full_verdict(data: bytes) -> tuple[bool, Any]:
    """The full path's answer: (True, value) or (False, error message)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False, "not UTF-8"
    try:
        return True, canonical._checked_value(data, text)
    except CanonicalJSONError as e:
        return False, str(e)


def assert_agrees(data: bytes) -> None:
    """Fast path accepts ⇒ the full path accepts the same value; loads answers as the full
    path does, value or message."""
    ok, answer = full_verdict(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        fast = canonical._plain_value(text)
        if fast is not canonical._NOT_PLAIN:
            assert ok, data
            assert fast == answer and type(fast) is type(answer)
    if ok:
        assert canonical.loads(data) == answer
    else:
        with pytest.raises(CanonicalJSONError):
            canonical.loads(data)
        if text is not None:
            with pytest.raises(CanonicalJSONError) as e:
                canonical.loads(data)
            assert str(e.value) == answer


CRAFTED = [
    # accepted
    b'{"a":1}', b"[]", b"{}", b"0", b"-1", b"true", b"null", b'"x"', b'"\\u001f"',
    '{"a":"é","b":["“q”",{"c":-5}]}'.encode(),
    b'{"n":999999999999999,"m":-999999999999999}',  # 15 digits: the fast path's limit
    b'{"n":9007199254740991}',  # 2**53 - 1: in range, more than 15 digits (full path)
    b'{"n":-9007199254740991}',
    '{"a":"\U0001f600"}'.encode(),  # a non-BMP character, written raw
    # duplicate keys, at the top and nested, same and different values
    b'{"a":1,"a":1}', b'{"a":1,"a":2}', b'{"a":{"b":1,"b":1}}', b'[{"a":1,"a":1}]',
    b'{"a":1,"b":1,"a":1}',
    # floats and constants, including ones whose repr would round-trip
    b'{"a":1.0}', b'{"a":1.5}', b'{"a":1e3}', b'{"a":-0.0}', b"1E2", b'{"a":NaN}',
    b'{"a":Infinity}', b'{"a":-Infinity}', b"[NaN]",
    # integer range and forms
    b'{"n":9007199254740992}', b'{"n":-9007199254740992}', b'{"n":1000000000000000}',
    b'{"n":' + b"9" * 5000 + b"}", b'{"n":-0}', b'{"n":01}', b'{"n":+1}',
    b'{"n":0000000000000001}',
    # keys: not ASCII, and orders where UTF-16 and code points disagree
    '{"é":1}'.encode(), '{"a":1,"é":2}'.encode(), '{"x":{"\U00010000":1,"\uffff":2}}'.encode(),
    '{"x":{"\uffff":2,"\U00010000":1}}'.encode(), '[{"ü":1}]'.encode(),
    # strings: escapes, surrogates
    b'{"a":"\\u0041"}', b'{"a":"\\u001F"}', b'{"a":"\\/"}', b'{"a":"\\ud800"}',
    b'{"a":"\\udc00x"}', b'{"a":"\\ud83d\\ude00"}', b'{"\\ud800":1}', b'{"a":"\x01"}',
    b'{"a":"\\u00e9"}', b'{"a":"\\b\\f\\n\\r\\t"}', b'{"a":"\\u0008"}', b'{"a":"\x7f"}',
    # layout
    b'{"a": 1}', b' {"a":1}', b'{"a":1} ', b'{"a":1}\n', b'{"b":1,"a":2}', b'{"a":1}{"a":1}',
    b"\xef\xbb\xbf{}", b"", b"[", b'{"a":', b'{"a":"\xff"}', b"[" * 100000 + b"]" * 100000,
    b'{"a":[1,2,]}', b"[1,,2]", b"'a'",
]


@pytest.mark.parametrize("data", CRAFTED)
def test_fast_path_agrees_with_full_path(data: bytes) -> None:
    assert_agrees(data)


def test_fast_path_takes_the_common_case() -> None:
    data = canonical.dumps({"v": 1, "seq": 12, "title": "“Order” é", "text": {"size": 3}})
    assert canonical._plain_value(data.decode()) == canonical.loads(data)
    for declined in (b'{"n":9007199254740991}', b'{"a":1,"a":1}', '{"é":1}'.encode()):
        assert canonical._plain_value(declined.decode()) is canonical._NOT_PLAIN


_keys = st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=6)
_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=16,
)


@settings(max_examples=1500, deadline=None)
@given(_values)
def test_fast_path_agrees_on_json_of_any_value(value: Any) -> None:
    for text in (
        json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        json.dumps(value, separators=(",", ":"), ensure_ascii=False),  # unsorted
        json.dumps(value, sort_keys=True, separators=(",", ":")),  # \u escapes
    ):
        assert_agrees(text.encode("utf-8", "surrogatepass"))


@settings(max_examples=1500, deadline=None)
@given(_values, st.data())
def test_fast_path_agrees_on_mutated_bytes(value: Any, data: st.DataObject) -> None:
    raw = bytearray(
        json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        )
    )
    if raw:
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.sampled_from(b'{}[]":,\\ 019-.eEu"a\x00\xc3\xa9'))
    if data.draw(st.booleans()):
        # a duplicated member: the text of the object's first member inserted again
        text = raw.decode("utf-8", "replace")
        if text.startswith('{"') and "," in text:
            first = text[1 : text.index(",")]
            raw = bytearray(("{" + first + "," + text[1:]).encode("utf-8", "surrogatepass"))
    assert_agrees(bytes(raw))
