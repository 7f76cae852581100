"""Issue 12: every public method raises only PyreferenceError, whatever its arguments.

Hypothesis draws a value of any type (text with NULs and lone surrogates, huge and
non-finite numbers, naive and edge-offset datetimes, nested containers, arbitrary
objects) for every parameter of every public Store method, on both backends. A call
either returns or raises a PyreferenceError subclass whose message carries no SQL
text, no password and at most 300 characters.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rel_support import seed_connectors

from pyreference.errors import PyreferenceError
from pyreference.store import Store

# Methods that take no caller data, or manage the store itself.
NOT_INPUT = {"close", "migrate", "pending_migrations", "statement_counter"}
LEAKS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", "Traceback", "psycopg", "sqlite3", "password")
PLUS14 = timezone(timedelta(hours=14))

texts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "c1",
            "alpha",
            "s1",
            "\ud800",
            "a\x00b",
            "x" * 5000,
            "",
            " ",
            "run.started",
            "0001-01-01T00:00:00+14:00",
            "2026-11-31T10:00:00Z",
            "infinity",
            "9999-12-31T23:59:59Z",
        ]
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**63) - 1, 10**400, 0, -1, 1000, 1001]),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
    st.binary(max_size=8),
    st.sampled_from(
        [
            datetime(2024, 1, 1),
            datetime(1, 1, 1, tzinfo=PLUS14),
            datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14))),
            datetime(2024, 1, 1, tzinfo=UTC),
            object(),
            print,
            {1, 2},
            frozenset({"r1"}),
        ]
    ),
)
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(texts, st.integers()), inner, max_size=3),
        st.fixed_dictionaries(
            {
                "key": inner,
                "data": inner,
                "emitted_at": inner,
                "event_type": inner,
                "occurred_at": inner,
                "run_id": inner,
                "event_seq": inner,
            }
        ),
    ),
    max_leaves=6,
)


def _methods() -> list[str]:
    names = []
    for name, member in inspect.getmembers(Store):
        if name.startswith("_") or name in NOT_INPUT or not callable(member):
            continue
        if isinstance(inspect.getattr_static(Store, name), property):
            continue
        names.append(name)
    return sorted(names)


METHODS = _methods()


def test_the_method_list_is_the_public_api() -> None:
    assert {
        "list_connection_summaries",
        "append_events",
        "ingest_records",
        "set_schedule",
        "rebuild",
        "connection_diagnostics",
    } <= set(METHODS)


def _call(store: Store, name: str, draw: st.DrawFn) -> None:
    method = getattr(store, name)
    args, kwargs = [], {}
    for param in inspect.signature(method).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        optional = param.default is not inspect.Parameter.empty
        if optional and draw(st.booleans()):
            continue  # leave the default
        value = draw(anything)
        if param.kind == param.KEYWORD_ONLY or (optional and draw(st.booleans())) or kwargs:
            kwargs[param.name] = value
        else:
            args.append(value)
    try:
        result = method(*args, **kwargs)
        if inspect.isgenerator(result):
            for _ in zip(range(3), result, strict=False):
                pass
    except PyreferenceError as exc:
        message = str(exc)
        assert message.strip(), (name, args, kwargs)
        assert len(message) <= 300, (name, len(message), message[:120])
        for leak in LEAKS:
            assert leak not in message, (name, leak, message)


@pytest.mark.parametrize("name", METHODS)
def test_any_argument_gives_a_typed_error(store: Store, name: str) -> None:
    seed_connectors(store)
    store.create_connection("c1", "alpha")

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        _call(store, name, data.draw)

    check()
    # Whatever was accepted left the store consistent and readable.
    store.reconcile()
    assert store.verify() == []
    store.list_connection_summaries(limit=1000)
