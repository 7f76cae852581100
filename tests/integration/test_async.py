"""The async store: same plans, same arguments, errors and outputs as the sync store.

Parity runs one scenario through `connect()` and through `connect_async()`, each on
its own fresh database of the same backend, and compares every output's `to_dict()`.
"""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import pyreference
from pyreference.demo import DRAFT_ID, build_demo_fleet
from pyreference.errors import (
    ConnectionNotFound,
    DatabaseUnavailable,
    InvalidCursor,
    InvalidInput,
    PyreferenceError,
)
from pyreference.timeutil import now_utc, to_utc
from tests.support.scenario import NOW, comparable, small_fleet


class Blocking:
    """The async store driven from sync code: each call runs to completion on `runner`.

    Lets one scenario helper (`small_fleet`, `build_demo_fleet`) write through the
    async store's own write helpers."""

    def __init__(self, store: pyreference.AsyncStore, runner: asyncio.Runner) -> None:
        self._store = store
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if not asyncio.iscoroutine(result):
                return result
            # In the caller's context, so its statement counters see the call.
            return self._runner.run(result, context=contextvars.copy_context())

        return call

    def iter_connection_summaries(self, *args: Any, **kwargs: Any) -> list[Any]:
        async def collect() -> list[Any]:
            return [s async for s in self._store.iter_connection_summaries(*args, **kwargs)]

        return self._runner.run(collect(), context=contextvars.copy_context())


@pytest.fixture
def fresh_target(backend: str, request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
    """Makes fresh, migrated databases of the test's backend (as a target for connect)."""
    made: list[str] = []
    conns: list[sqlite3.Connection] = []

    def make() -> Any:
        if backend == "sqlite":
            template: Path = request.getfixturevalue("sqlite_template")
            source = sqlite3.connect(template)
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            source.backup(conn)
            source.close()
            conns.append(conn)
            return conn
        import psycopg

        from tests.conftest import _with_db

        admin = request.getfixturevalue("pg_admin_dsn")
        template = request.getfixturevalue("pg_template")
        name = f"pyref_a_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        made.append(name)
        return _with_db(admin, name)

    yield make
    for conn in conns:
        conn.close()
    if made:
        import psycopg

        with psycopg.connect(request.getfixturevalue("pg_admin_dsn"), autocommit=True) as c:
            for name in made:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as r:
        yield r


@pytest.fixture
def astore(fresh_target: Callable[[], Any], runner: asyncio.Runner) -> Iterator[Blocking]:
    store = runner.run(pyreference.connect_async(fresh_target()))
    yield Blocking(store, runner)
    runner.run(store.aclose())


def _scrub(value: Any) -> Any:
    """Data without what two databases must differ in: clock readings taken by writes
    (gap `updated_at`, attention `created_at`) and each database's cursor-signing key."""
    if isinstance(value, dict):
        out = {k: _scrub(v) for k, v in value.items()}
        if isinstance(out.get("next_cursor"), str):
            out["next_cursor"] = out["next_cursor"].split(".")[0]
        return out
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, str) and value[:2] == "20" and value.endswith("Z"):
        try:
            if abs(to_utc(value) - now_utc()) < timedelta(hours=1):
                return "<clock>"
        except PyreferenceError:
            pass
    return value


def _outcome(call: Callable[[], Any]) -> Any:
    """A call's output as comparable data, or its error's type and message."""
    try:
        value = call()
    except PyreferenceError as exc:
        return ("error", type(exc).__name__, str(exc))
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if isinstance(value, dict) and "items" in value:
        value = {**value, "items": [comparable(i) for i in value["items"]]}
    if isinstance(value, dict) and "summary" in value:
        value = {**value, "summary": comparable(value["summary"])}
    return _scrub(value)


def _observe(store: Any) -> dict[str, Any]:
    """Every read of the store, as data (pages walked with cursors, filters, scoped reads)."""
    seen: dict[str, Any] = {}
    cursor = None
    for n in range(20):
        page = store.list_connection_summaries(limit=4, cursor=cursor, now=NOW)
        seen[f"page{n}"] = _outcome(lambda p=page: p)
        if not page.has_more:
            break
        cursor = page.next_cursor
    seen["amazon"] = _outcome(
        lambda: store.list_connection_summaries(connector_id="amazon", now=NOW)
    )
    seen["all"] = [comparable(s.to_dict()) for s in store.iter_connection_summaries(NOW)]
    for summary in seen["all"] + [{"connection_id": DRAFT_ID}, {"connection_id": "nope"}]:
        cid = summary["connection_id"]
        seen[f"get:{cid}"] = _outcome(lambda c=cid: store.get_connection_summary(c, now=NOW))
        seen[f"diag:{cid}"] = _outcome(lambda c=cid: store.connection_diagnostics(c, now=NOW))
    seen["bad_limit"] = _outcome(lambda: store.list_connection_summaries(limit=0))
    seen["bad_cursor"] = _outcome(lambda: store.list_connection_summaries(cursor="x.y"))
    seen["bad_id"] = _outcome(lambda: store.get_connection_summary(""))
    seen["cw_ok"] = _outcome(
        lambda: store.get_connection_summary("cin_heb", now=NOW, consistent_with="0/0")
    )
    seen["cw_page"] = _outcome(
        lambda: store.list_connection_summaries(limit=3, now=NOW, consistent_with="0/16B3748")
    )
    seen["cw_bad"] = _outcome(lambda: store.list_connection_summaries(consistent_with="nope"))
    seen["cw_bad_scoped"] = _outcome(
        lambda: store.connection_diagnostics("cin_heb", consistent_with="nope")
    )
    seen["verify"] = _outcome(store.verify)
    backlog = store.dirty_backlog()
    seen["backlog"] = (backlog["dirty_connections"], backlog["dirty_marks"])
    with store.statement_counter() as counter:
        store.list_connection_summaries(limit=100, now=NOW)
        store.get_connection_summary("cin_heb", now=NOW)
    seen["statements"] = (counter.statements, counter.writes, counter.names)
    return seen


def _write_errors(store: Any) -> dict[str, Any]:
    return {
        "unknown_connector": _outcome(lambda: store.create_connection("c_x", "no_such")),
        "duplicate": _outcome(lambda: store.create_connection("cin_heb", "heb")),
        "records_for_nobody": _outcome(
            lambda: store.ingest_records("nobody", "s", [{"key": "k", "data": {}}])
        ),
        "bad_record": _outcome(lambda: store.ingest_records("cin_heb", "s", [{"key": "k"}])),
        "reused_event": _outcome(
            lambda: store.append_events(
                [{"event_id": "e1", "event_type": "note", "occurred_at": NOW}] * 2
            )
        ),
        "unknown_gap": _outcome(lambda: store.update_detail_gap("gap_nope", status="recovered")),
        "schedule_for_nobody": _outcome(lambda: store.set_schedule("nobody", interval_seconds=5)),
        "reconcile_limit": _outcome(lambda: store.reconcile(limit=0)),
    }


def test_async_store_matches_sync_store_on_the_demo_fleet(
    store: pyreference.Store, astore: Blocking
) -> None:
    observed = []
    for s in (store, astore):
        created = build_demo_fleet(s, NOW)
        dirty = _observe(s)
        errors = _write_errors(s)
        reconciled = s.reconcile_report()
        observed.append((created, dirty, errors, reconciled, _observe(s)))
    sync, async_ = observed
    assert sync[0] == async_[0]
    for part in range(1, 5):
        assert sync[part] == async_[part], part
    assert sync[3].reconciled > 0 and sync[4]["backlog"] == (0, 0)
    assert sync[1]["statements"][1] == 0  # reads never write, through either store


def test_async_store_matches_sync_store_on_writes_and_maintenance(
    store: pyreference.Store, astore: Blocking
) -> None:
    results = []
    for s in (store, astore):
        small_fleet(s)
        s.update_connection("cin_mail", display_name="Work mail")
        deleted = s.delete_record("cin_mail", "messages", "k0")
        s.update_detail_gap("gap_1", status="recovered")
        att = s.open_attention("cin_slack", reason_code="add_info", attention_id="att_1")
        s.update_attention(att, lifecycle="acknowledged")
        progress: list[tuple[int, int]] = []
        rebuilt = s.rebuild(progress=lambda done, total, p=progress: p.append((done, total)))
        results.append((deleted, rebuilt, progress[-1], s.verify(), _observe(s)))
    assert results[0] == results[1]


@pytest.mark.parametrize("how", ["pool", "connection"])
def test_async_store_over_a_passed_in_pool_or_connection(pg_dsn: str, how: str) -> None:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    async def scenario() -> tuple[list[str], int, bool]:
        if how == "pool":
            target: Any = AsyncConnectionPool(pg_dsn, open=False, kwargs={"autocommit": True})
            await target.open()
        else:
            target = await AsyncConnection.connect(pg_dsn)
        store = await pyreference.connect_async(target)
        pending = await store.pending_migrations()
        await store.register_connector({"connector_key": "gmail", "streams": []})
        await store.create_connection("c1", "gmail")
        page = await store.list_connection_summaries(now=NOW)
        await store.aclose()  # the caller's pool or connection stays open
        closed = target.closed
        await target.close()
        return pending, len(page.items), closed

    assert asyncio.run(scenario()) == ([], 1, False)


def test_async_migrate_on_an_empty_database(fresh_target: Callable[[], Any], backend: str) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        target = "sqlite:///:memory:" if backend == "sqlite" else fresh_target()
        if backend == "postgres":
            import psycopg

            with psycopg.connect(target, autocommit=True) as c:  # empty it: drop the schema
                c.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        store = await pyreference.connect_async(target)
        applied = await store.migrate()
        again = await store.migrate()
        await store.aclose()
        return applied, again

    applied, again = asyncio.run(scenario())
    assert applied and applied == sorted(applied) and again == []


def test_unreachable_postgres_raises_database_unavailable_without_password() -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        asyncio.run(pyreference.connect_async("postgresql://u:secret@127.0.0.1:1/x"))
    assert "secret" not in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_bad_settings_raise_before_any_read() -> None:
    with pytest.raises(InvalidInput):
        asyncio.run(pyreference.connect_async("sqlite:///:memory:", owner=""))
    with pytest.raises(InvalidInput):
        asyncio.run(pyreference.connect_async("mysql://x"))


def test_sqlite_read_never_blocks_the_event_loop(sqlite_conn: sqlite3.Connection) -> None:
    """A read held inside SQLite until the loop has ticked: were the read on the loop's
    thread, no tick could happen and the read would give up waiting."""
    conn = sqlite_conn
    released = threading.Event()
    waited: list[bool] = []

    def hold() -> int:
        if not waited:
            waited.append(released.wait(5))
        return 0

    async def scenario() -> int:
        store = await pyreference.connect_async(conn)
        await store.register_connector({"connector_key": "gmail", "streams": []})
        await store.create_connection("c1", "gmail")
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while not released.is_set():
                ticks += 1
                if ticks >= 5:
                    released.set()
                await asyncio.sleep(0.01)

        conn.set_progress_handler(hold, 1)
        tick = asyncio.create_task(ticker())
        page = await store.list_connection_summaries(now=NOW)
        conn.set_progress_handler(None, 1)
        await tick
        assert len(page.items) == 1
        return ticks

    assert asyncio.run(scenario()) >= 5
    assert waited == [True]  # the read was released by the ticking loop, not by the timeout


def test_single_flight_across_coroutines(astore: Blocking, runner: asyncio.Runner) -> None:
    small_fleet(astore)
    store: pyreference.AsyncStore = astore._store
    calls = []
    original = store._list_page
    release = asyncio.Event()

    async def slow_list_page(req: Any) -> Any:
        calls.append(1)
        await release.wait()
        return await original(req)

    store._list_page = slow_list_page  # type: ignore[method-assign]

    async def scenario() -> list[Any]:
        with store.statement_counter() as counter:
            readers = [
                asyncio.create_task(store.list_connection_summaries(limit=10, now=NOW))
                for _ in range(6)
            ]
            scoped = [
                asyncio.create_task(store.get_connection_summary("cin_mail", now=NOW))
                for _ in range(3)
            ]
            while len(calls) < 1:
                await asyncio.sleep(0)
            await asyncio.sleep(0.05)
            assert len(store._inflight) == 1
            readers[0].cancel()  # one caller giving up does not cancel the shared read
            release.set()
            pages = await asyncio.gather(*readers[1:])
            summaries = await asyncio.gather(*scoped)
        assert counter.names.count("list_page") + counter.names.count("list_keys") == 1
        assert counter.names.count("scoped_summary") == 3  # scoped reads run their own
        assert all(s == summaries[0] for s in summaries)
        return pages

    pages = runner.run(scenario())
    assert len(calls) == 1
    assert len(pages) == 5 and all(p == pages[0] for p in pages)
    assert store._inflight == {}
    astore.list_connection_summaries(limit=10, now=NOW)  # settled: computed again, not cached
    assert len(calls) == 2


def test_errors_are_the_same_types(astore: Blocking) -> None:
    small_fleet(astore)
    with pytest.raises(InvalidCursor):
        astore.list_connection_summaries(cursor="forged.cursor")
    with pytest.raises(ConnectionNotFound):
        astore.connection_diagnostics("nobody")
    with pytest.raises(InvalidInput):
        astore.list_connection_summaries(limit=1001)
