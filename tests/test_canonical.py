from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderarchive import canonical
from orderarchive.errors import CanonicalJSONError

keys = st.text(alphabet=st.characters(max_codepoint=127), max_size=8)
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=20,
)


@given(values)
def test_round_trip(value: object) -> None:
    data = canonical.dumps(value)
    assert canonical.loads(data) == value
    assert canonical.dumps(canonical.loads(data)) == data


def test_known_bytes() -> None:
    assert canonical.dumps({"b": 1, "a": [True, None, "é\n\x01"]}) == (
        '{"a":[true,null,"é\\n\\u0001"],"b":1}'.encode()
    )


@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("whitespace", b'{"a": 1}'),
        ("unsorted-keys", b'{"b":1,"a":2}'),
        ("duplicate-keys", b'{"a":1,"a":1}'),
        ("float", b'{"a":1.0}'),
        ("exponent", b'{"a":1e3}'),
        ("nan", b'{"a":NaN}'),
        ("big-integer", b'{"a":9007199254740992}'),
        ("huge-integer", b'{"a":' + b"9" * 5000 + b"}"),
        ("escaped-ascii", b'{"a":"\\u0041"}'),
        ("upper-hex-escape", b'{"a":"\\u001F"}'),
        ("not-utf8", b'{"a":"\xff"}'),
        ("trailing-newline", b'{"a":1}\n'),
        ("truncated", b'{"a":'),
        ("lone-surrogate", b'{"a":"\\ud800"}'),
        ("deep-nesting", b"[" * 100000 + b"]" * 100000),
        ("empty", b""),
    ],
)
def test_rejects_non_canonical(case: str, data: bytes) -> None:
    with pytest.raises(CanonicalJSONError):
        canonical.loads(data)


@pytest.mark.parametrize("value", [1.5, {1: 2}, {"é": 1}, 2**53, object()])
def test_refuses_to_encode(value: object) -> None:
    with pytest.raises(CanonicalJSONError):
        canonical.dumps(value)


@given(values)
def test_the_reencoder_writes_what_dumps_writes(value: object) -> None:
    # loads proves canonical form by re-encoding with an encoder built once (issue 15, vfast):
    # it must write exactly what the documented encoder writes, for any value it may see.
    assert canonical._reencode(value) == canonical._ENCODER.encode(value)


def test_the_reencoder_is_the_prebuilt_one_here() -> None:
    # On CPython the C encoder is available and passes the probe: the fast path is in use
    # (were it silently the fallback, verify would be slower and nothing would say so).
    assert canonical._reencode is not canonical._ENCODER.encode
    assert canonical._reencode({"b": 1, "a": [True, None, "é\n\x01"]}) == (
        '{"a":[true,null,"é\\n\\u0001"],"b":1}'
    )

def test_the_fast_check_of_dumps_never_passes_what_the_full_check_refuses() -> None:
    """dumps skips the full check (which names the failing member) when a cheaper walk
    passes: on values mixing everything JSON can and cannot hold, the two agree on every
    value the cheap walk passes, and dumps raises exactly when the full check does."""
    import enum
    import random

    from orderarchive.canonical import CanonicalJSONError, _check, _valid, dumps

    class Small(enum.IntEnum):
        ONE = 1

    leaves = ["a", "é", "\ud800", 0, -(2**53 - 1), 2**53, 1.5, True, None, Small.ONE, b"x"]
    keys = ["k", "é", 1, "\ud800"]
    rng = random.Random(5)

    def build(depth: int) -> object:
        r = rng.random()
        if depth > 3 or r < 0.4:
            return rng.choice(leaves)
        if r < 0.6:
            return [build(depth + 1) for _ in range(rng.randint(0, 3))]
        if r < 0.7:
            return tuple(build(depth + 1) for _ in range(rng.randint(0, 3)))
        return {rng.choice(keys): build(depth + 1) for _ in range(rng.randint(0, 3))}

    passed = refused = 0
    for _ in range(5_000):
        value = build(0)
        try:
            _check(value)
            full = True
        except CanonicalJSONError:
            full = False
        if _valid(value):
            assert full, repr(value)
        try:
            dumps(value)
            assert full, repr(value)
            passed += 1
        except CanonicalJSONError:
            assert not full, repr(value)
            refused += 1
        except (TypeError, ValueError):
            pass  # what the encoder itself refuses after the check passed
    assert passed > 500 and refused > 500
