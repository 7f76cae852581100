"""Issue 12: every public entry point raises only PyreferenceError, whatever its arguments.

Hypothesis draws a value of any type (text with NULs and lone surrogates, huge and
non-finite numbers, naive and edge-offset datetimes, nested containers, arbitrary
objects) for every parameter of every public Store method, every public AsyncStore
method, and every argument of `connect()` and `connect_async()`, on both backends. A call
either returns or raises a PyreferenceError subclass whose message carries no SQL
text, no password and at most 300 characters.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rel_support import seed_connectors

import pyreference
from pyreference.aio import AsyncStore
from pyreference.errors import InvalidInput, PyreferenceError
from pyreference.store import Store

# Methods that take no caller data, or manage the store itself.
NOT_INPUT = {"close", "aclose", "migrate", "pending_migrations", "statement_counter"}
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


def _methods(cls: type = Store) -> list[str]:
    names = []
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") or name in NOT_INPUT or not callable(member):
            continue
        if isinstance(inspect.getattr_static(cls, name), property):
            continue
        names.append(name)
    return sorted(names)


METHODS = _methods()
ASYNC_METHODS = _methods(AsyncStore)


def test_the_method_list_is_the_public_api() -> None:
    assert {
        "list_connection_summaries",
        "append_events",
        "ingest_records",
        "set_schedule",
        "rebuild",
        "connection_diagnostics",
    } <= set(METHODS)


def test_the_async_store_has_the_same_entry_points() -> None:
    assert set(ASYNC_METHODS) == set(METHODS)


def _arguments(
    function: Callable[..., Any],
    draw: st.DrawFn,
    values: Callable[[str], st.SearchStrategy[Any]] = lambda name: anything,
) -> tuple[list[Any], dict[str, Any]]:
    """Arguments for `function`: each parameter left at its default or drawn from
    `values(name)`, passed by position or by keyword."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for param in inspect.signature(function).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        optional = param.default is not inspect.Parameter.empty
        if optional and draw(st.booleans()):
            continue  # leave the default
        value = draw(values(param.name))
        if param.kind == param.KEYWORD_ONLY or (optional and draw(st.booleans())) or kwargs:
            kwargs[param.name] = value
        else:
            args.append(value)
    return args, kwargs


def _check_message(name: str, exc: PyreferenceError, args: Any, kwargs: Any) -> None:
    message = str(exc)
    assert message.strip(), (name, args, kwargs)
    assert len(message) <= 300, (name, len(message), message[:120])
    for leak in LEAKS:
        assert leak not in message, (name, leak, message)


def _call(store: Store, name: str, draw: st.DrawFn) -> None:
    args, kwargs = _arguments(getattr(store, name), draw)
    try:
        result = getattr(store, name)(*args, **kwargs)
        if inspect.isgenerator(result):
            for _ in zip(range(3), result, strict=False):
                pass
    except PyreferenceError as exc:
        _check_message(name, exc, args, kwargs)


async def _acall(store: AsyncStore, name: str, draw: st.DrawFn) -> None:
    args, kwargs = _arguments(getattr(store, name), draw)
    try:
        result = getattr(store, name)(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        if hasattr(result, "__aiter__"):
            taken = 0
            async for _ in result:
                taken += 1
                if taken == 3:
                    break
    except PyreferenceError as exc:
        _check_message(name, exc, args, kwargs)


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


@pytest.fixture
def event_loop_for_test() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _async_target(store: Store, request: pytest.FixtureRequest) -> Any:
    """What connect_async opens for the database of `store` (the same one)."""
    if store.dialect == "sqlite":
        return request.getfixturevalue("sqlite_conn")  # check_same_thread=False
    return request.getfixturevalue("pg_dsn")


@pytest.mark.parametrize("name", ASYNC_METHODS)
def test_any_argument_gives_a_typed_error_async(
    store: Store,
    name: str,
    request: pytest.FixtureRequest,
    event_loop_for_test: asyncio.AbstractEventLoop,
) -> None:
    seed_connectors(store)
    store.create_connection("c1", "alpha")
    run = event_loop_for_test.run_until_complete
    astore = run(pyreference.connect_async(_async_target(store, request)))

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        run(_acall(astore, name, data.draw))

    try:
        check()
        run(astore.reconcile())
        assert run(astore.verify()) == []
        run(astore.list_connection_summaries(limit=1000))
    finally:
        if store.dialect == "postgres":  # a SQLite connection is the fixture's to close
            run(astore.aclose())


# -- connect() and connect_async() -----------------------------------------------------

CLOSED_PORT = "postgresql://someone:hunter2@127.0.0.1:1/nothing"  # refused at once


def _connect_values(valid: Any, tmp: Path) -> Callable[[str], st.SearchStrategy[Any]]:
    """Values for each argument of connect(): anything, plus the real database (so the
    other arguments are reached), a refused server, other URL forms and files under
    `tmp` (never the working directory)."""
    targets = st.one_of(
        st.just(valid),
        st.sampled_from(
            [
                CLOSED_PORT,
                f"sqlite:///{tmp}/fresh.db",
                f"sqlite:///{tmp}/no-such-dir/x.db",
                "sqlite:///:memory:",
                "postgresql://",
                "postgresql://[::1",
                "host=127.0.0.1 port=1 dbname=x connect_timeout=1",
                "mysql://x/y",
            ]
        ),
        anything.filter(lambda v: not isinstance(v, str) or ("://" not in v and "=" not in v)),
    )
    replicas = st.one_of(
        anything.filter(lambda v: not isinstance(v, str | list | tuple)),
        st.lists(st.one_of(texts, st.just(CLOSED_PORT)), max_size=2),
    )
    by_name = {"target": targets, "replicas": replicas}
    return lambda name: by_name.get(name, anything)


def _valid_target(store: Store, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if store.dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'valid.db'}"
    return request.getfixturevalue("pg_dsn")


@pytest.mark.parametrize("opener", ["connect", "connect_async"])
def test_any_connect_argument_gives_a_typed_error(
    store: Store,
    opener: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # the default DSN is a file in the working directory
    monkeypatch.delenv("PYREFERENCE_PREPARE", raising=False)
    values = _connect_values(_valid_target(store, request, tmp_path), tmp_path)
    function = getattr(pyreference, opener)

    async def open_async(args: list[Any], kwargs: dict[str, Any]) -> None:
        opened = await pyreference.connect_async(*args, **kwargs)
        try:
            await opened.list_connection_summaries(1)
        except PyreferenceError as exc:  # e.g. a fresh file without the schema
            _check_message(opener, exc, args, kwargs)
        finally:
            await opened.aclose()

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        args, kwargs = _arguments(function, data.draw, values)
        try:
            if opener == "connect_async":
                asyncio.run(open_async(args, kwargs))
                return
            with function(*args, **kwargs) as opened:
                try:
                    opened.list_connection_summaries(1)
                except PyreferenceError as exc:
                    _check_message(opener, exc, args, kwargs)
        except PyreferenceError as exc:
            _check_message(opener, exc, args, kwargs)

    check()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "options",
    [
        {"replica_wait": 10**400},  # OverflowError from float(), and the pool leaked
        {"replica_retry_after": float("nan")},
        {"replica_wait": float("inf")},
        {"replicas": None},  # TypeError: 'NoneType' object is not iterable
        {"replicas": 5},
        {"replicas": ["not a url"]},
    ],
)
def test_bad_connect_options_are_typed_and_leak_no_connection(
    pg_dsn: str, options: dict[str, Any]
) -> None:
    """Found by extending the any-argument test to connect(): a bad replica option
    raised untyped errors after the primary's pool had opened, and the pool stayed open
    (a few hundred such calls exhausted max_connections)."""
    import time

    import psycopg

    # One watching connection for every count: a connection per count left the previous
    # count's backend exiting under load, and the count saw it.
    with psycopg.connect(pg_dsn, autocommit=True) as watcher:

        def backends() -> int:
            found = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
            return int(found[0]) if found else 0

        before = backends()
        for _ in range(3):
            with pytest.raises(InvalidInput) as sync_error:
                pyreference.connect(pg_dsn, **options)
            with pytest.raises(InvalidInput):
                asyncio.run(pyreference.connect_async(pg_dsn, **options))
            assert "password" not in str(sync_error.value)
        deadline = time.monotonic() + 10
        while backends() > before and time.monotonic() < deadline:
            time.sleep(0.1)  # a closed connection's backend exits a moment later
        assert backends() <= before
