"""The input rules every public method applies before anything reaches the database.

One rule on both backends (R22, R31), so SQLite and Postgres accept and refuse the
same values, and every refusal is an `InvalidInput` naming the argument:

- **Ids** (connection, connector, stream, record key, event, gap, attention ids):
  non-empty text of at most `MAX_ID` characters.
- **Free text** (display name, status, reasons, owner action): text of at most
  `MAX_TEXT` characters.
- **All text**, ids and JSON strings and keys included: no NUL character (U+0000;
  the six-character text ``\\u0000`` is ordinary text) and no lone surrogate
  (U+D800..U+DFFF unpaired), because neither backend can store them as text.
- **JSON documents** (manifests, record data, event data): a JSON object, given as a
  dict or as JSON text; keys are text; values are objects, arrays (lists or
  tuples), text, finite numbers, booleans or null; nested at most `MAX_JSON_DEPTH`
  levels; at most `MAX_JSON_BYTES` bytes as compact UTF-8 JSON. Numbers are
  compared by value: a number with an integral value is stored as an integer
  (``1.0`` becomes ``1``), so re-writing ``{"v": 1}`` over ``{"v": 1.0}`` is a no-op
  on both backends.
- **Integers** stored in bigint columns: within 64-bit signed range.

Messages never echo more than `SHOWN` characters of an input.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .db import canonical_json
from .errors import InvalidCursor, InvalidInput, shown

MAX_ID = 512
MAX_TEXT = 4096
MAX_JSON_DEPTH = 100
MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_BIGINT = 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character"
    if _SURROGATE.search(value):
        return "contains a lone surrogate (not encodable text)"
    return None


def _bounded(value: str, what: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidInput(f"{what} is longer than {limit} characters")
    problem = _text_problem(value)
    if problem:
        raise InvalidInput(f"{what} {problem}")
    return value


def ident(value: Any, what: str) -> str:
    """A non-empty id of at most `MAX_ID` characters (R22)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must be a non-empty string")
    return _bounded(value, what, MAX_ID)


def optional_ident(value: Any, what: str) -> str | None:
    return None if value is None else ident(value, what)


def optional_text(value: Any, what: str) -> str | None:
    """None, or text of at most `MAX_TEXT` characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    return _bounded(value, what, MAX_TEXT)


def choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidInput(f"unknown {what} {shown(value)}: expected one of {', '.join(allowed)}")
    return value


def flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{what} must be True or False")
    return value


def bigint(value: Any, what: str, *, minimum: int) -> int:
    """An int (not a bool) from `minimum` to 2**63 - 1."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_BIGINT:
        raise InvalidInput(f"{what} must be an integer from {minimum} to 2**63 - 1")
    return value


def items(value: Any, what: str) -> Iterable[Any]:
    """An iterable of items (a list, tuple, generator …; not text, bytes or a mapping)."""
    if isinstance(value, str | bytes | bytearray | Mapping) or value is None:
        raise InvalidInput(f"{what} must be an iterable of mappings")
    try:
        return iter(value)
    except TypeError:
        raise InvalidInput(f"{what} must be an iterable of mappings") from None


def id_set(value: Any, what: str) -> frozenset[str] | None:
    """None, or a collection of ids (not a single string)."""
    if value is None:
        return None
    if isinstance(value, str | bytes | bytearray | Mapping):
        raise InvalidInput(f"{what} must be a set of ids, not {type(value).__name__}")
    try:
        members = list(value)
    except TypeError:
        raise InvalidInput(f"{what} must be a set of ids, not {type(value).__name__}") from None
    for member in members:
        ident(member, f"{what} member")
    return frozenset(members)


def cursor_text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidCursor("cursor is malformed (not text)")
    return value


def json_object(value: Any, what: str) -> dict[str, Any]:
    """A JSON object under the rule above, numbers normalized; refusals name `what`."""
    if isinstance(value, str | bytes | bytearray):
        try:
            value = json.loads(value)
        except RecursionError:
            raise InvalidInput(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels") from None
        except ValueError:
            raise InvalidInput(f"{what} is not valid JSON") from None
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a JSON object")
    document = _normal(value, what, 1)
    try:
        size = len(canonical_json(document).encode("utf-8"))
    except ValueError:  # an integer with more digits than Python will print
        raise InvalidInput(f"{what} holds a number too long to represent") from None
    if size > MAX_JSON_BYTES:
        raise InvalidInput(f"{what} is larger than {MAX_JSON_BYTES} bytes as JSON")
    return document  # type: ignore[no-any-return]


def _normal(value: Any, what: str, depth: int) -> Any:
    """A copy of `value` as plain JSON data, integral floats as ints; raises on anything else."""
    if isinstance(value, str):
        problem = _text_problem(value)
        if problem:
            raise InvalidInput(f"{what} text {problem}")
        return str(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{what} holds NaN or Infinity, which JSON cannot represent")
        return int(value) if value.is_integer() else value
    if depth > MAX_JSON_DEPTH:
        raise InvalidInput(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"{what} has a key that is not text: {shown(key)}")
            problem = _text_problem(key)
            if problem:
                raise InvalidInput(f"{what} key {problem}")
            out[key] = _normal(item, what, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_normal(item, what, depth + 1) for item in value]
    raise InvalidInput(f"{what} holds a {type(value).__name__}, which JSON cannot represent")
