"""`db._loads_text` (orjson where it can) gives exactly what `json.loads` gives, or its error."""

from __future__ import annotations

import json
import os

import hypothesis.strategies as st
import pytest
from hypothesis import example, given, settings

from pyreference.db import _loads_text

SETTINGS = settings(
    max_examples=int(os.environ.get("PYREF_PROPERTY_EXAMPLES", "300")),
    deadline=None,
    derandomize=os.environ.get("CI") == "true",
)
NUMBERS = (
    st.integers()
    | st.integers(min_value=2**62, max_value=2**80)
    | st.integers(min_value=-(2**80), max_value=-(2**62))
    | st.floats(allow_nan=True, allow_infinity=True)
)
SCALARS = st.none() | st.booleans() | NUMBERS | st.text()  # text: lone surrogates too
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
EDGES = [
    "",
    " ",
    "{",
    "null",
    "-0",
    "-0.0",
    "1e400",
    "-1e400",
    "1E-400",
    "18446744073709551616",
    "-9223372036854775809",
    "9223372036854775807",
    "NaN",
    "[Infinity, -Infinity]",
    '"\\ud800"',
    '"\\ud83d\\ude00"',
    '{"a": 1, "a": 2}',
    "\ufeff{}",
    '{"a": 1} ',
    ' {"a": 1}',
    "[1,]",
    "01",
    "[" * 2000 + "]" * 2000,
    "[" * 1100 + "]" * 1100,
    *("[" * n + "]" * n for n in (499, 500, 990, 995, 1000, 1020, 1024, 1025)),
    *('{"a":' * n + "1" + "}" * n for n in (499, 500, 1000, 1024)),
    '"\x00"',
    "tru",
]


def _outcome(loads, text: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    try:
        return "value", repr(loads(text))  # repr tells 1 from 1.0, -0.0 from 0.0, nan
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("text", EDGES, ids=range(len(EDGES)))
def test_edge_texts(text: str) -> None:
    assert _outcome(_loads_text, text) == _outcome(json.loads, text)


@SETTINGS
@given(VALUES, st.booleans(), st.booleans())
@example(2**64, False, False)
@example(float("nan"), False, False)
def test_any_document_json_writes(value, ascii_only: bool, spaced: bool) -> None:  # type: ignore[no-untyped-def]
    separators = (", ", ": ") if spaced else (",", ":")
    text = json.dumps(value, ensure_ascii=ascii_only, separators=separators)
    assert _outcome(_loads_text, text) == _outcome(json.loads, text)


@SETTINGS
@given(st.text(alphabet=st.sampled_from('{}[],:"\\ 0123456789.eE+-ntrufalsNI\u00e9\ud800')))
def test_any_text(text: str) -> None:
    assert _outcome(_loads_text, text) == _outcome(json.loads, text)
