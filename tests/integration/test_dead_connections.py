"""Connections the server closed are replaced; reads retry once, writes never (issue 13, item 3).

The server really closes them: `pg_terminate_backend` on the store's backends.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool, ConnectionPool

import pyreference
from pyreference.errors import DatabaseUnavailable
from tests.support.scenario import NOW, small_fleet
from tests.support.together import together

pytestmark = pytest.mark.postgres


def _terminate_all_but_mine(dsn: str) -> int:
    """End every other backend of this (per-test) database; wait until they are gone."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
        _wait_gone(admin, "datname = current_database() AND pid <> pg_backend_pid()")
    return int(ended)


def _terminate(dsn: str, pid: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        _wait_gone(admin, f"pid = {int(pid)}")


def _wait_gone(admin: psycopg.Connection, where: str) -> None:
    deadline = time.monotonic() + 10
    while admin.execute(f"SELECT count(*) FROM pg_stat_activity WHERE {where}").fetchone()[0]:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _read_in_threads(store: pyreference.Store, threads: int, reads: int) -> list[BaseException]:
    def work(_: int) -> None:
        for i in range(reads):
            if i % 2:
                store.list_connection_summaries(now=NOW)
            else:
                store.get_connection_summary("cin_mail", NOW)

    return together(threads, work)[1]


def test_terminated_backends_cost_no_failed_read(pg_dsn: str) -> None:
    store = pyreference.connect(pg_dsn)
    small_fleet(store)
    assert _read_in_threads(store, 4, 10) == []  # the pool now holds several connections
    assert _terminate_all_but_mine(pg_dsn) >= 2
    assert _read_in_threads(store, 4, 10) == []
    store.close()


def test_callers_pool_without_checks_recovers_through_read_retries(pg_dsn: str) -> None:
    with pyreference.connect(pg_dsn) as setup:
        small_fleet(setup)
    with ConnectionPool(pg_dsn, min_size=3, max_size=3, kwargs={"autocommit": True}) as pool:
        pool.wait()
        store = pyreference.connect(pool)
        assert _terminate_all_but_mine(pg_dsn) >= 3
        for _ in range(6):  # every pooled connection is dead at first
            assert store.list_connection_summaries(now=NOW).items
        assert _read_in_threads(store, 3, 6) == []


def test_a_read_is_retried_once_on_a_fresh_connection(pg_dsn: str) -> None:
    store = pyreference.connect(pg_dsn)
    small_fleet(store)
    with store.database.session() as s, store.statement_counter() as counter:
        dead = s.raw
        _terminate(pg_dsn, dead.info.backend_pid)
        assert s.execute("cursor_key")  # retried on another connection
        assert s.raw is not dead and dead.closed
        assert counter.statements == 1
    store.close()


def _dies_on(pid: int) -> str:
    """A read that ends its own backend when it runs on `pid`, and on any other backend
    returns no rows: killed mid-transaction the first time, fine on the retry."""
    return (
        f"SELECT pg_terminate_backend(p.pid) FROM (SELECT {int(pid)} AS pid) AS p"
        " WHERE p.pid = pg_backend_pid()"
    )


def test_an_owner_read_is_retried_once_on_a_fresh_connection(pg_dsn: str) -> None:
    # An owner read is a transaction of its own (BEGIN with the owner, the statement,
    # COMMIT): its backend ended before it, or in the middle of it, costs no failed read.
    store = pyreference.connect(pg_dsn)
    small_fleet(store)
    with store.database.session(owner=store.owner) as s, store.statement_counter() as counter:
        dead = s.raw
        _terminate(pg_dsn, dead.info.backend_pid)
        assert s.execute("cursor_key")
        assert s.raw is not dead and dead.closed
        assert counter.statements == 1
    with store.database.session(owner=store.owner) as s, store.statement_counter() as counter:
        dying = s.raw
        assert s.execute(_dies_on(dying.info.backend_pid)) == []
        assert s.raw is not dying and dying.closed
        assert counter.statements == 1
    assert store.list_connection_summaries(now=NOW).items
    store.close()


def test_an_async_owner_read_is_retried_once_on_a_fresh_connection(pg_dsn: str) -> None:
    import asyncio

    with pyreference.connect(pg_dsn) as setup:
        small_fleet(setup)

    async def scenario() -> None:
        store = await pyreference.connect_async(pg_dsn)
        async with store.database.session(owner=store.owner) as s:
            dead = s.raw
            await asyncio.to_thread(_terminate, pg_dsn, dead.info.backend_pid)
            assert (await s.rows("cursor_key"))[1]
            assert s.raw is not dead and dead.closed
        async with store.database.session(owner=store.owner) as s:
            dying = s.raw
            assert (await s.rows(_dies_on(dying.info.backend_pid)))[1] == []
            assert s.raw is not dying and dying.closed
        assert (await store.list_connection_summaries(now=NOW)).items
        await store.aclose()

    asyncio.run(scenario())


def _write_dies_on(pid: int) -> str:
    """A write that ends its own backend when it runs on `pid` (so it may have run)."""
    return (
        "UPDATE connector_instances SET display_name = 'x'"
        f" WHERE pg_terminate_backend({int(pid)}) AND pg_backend_pid() = {int(pid)}"
    )


def test_a_write_is_never_retried(pg_dsn: str) -> None:
    store = pyreference.connect(pg_dsn)
    small_fleet(store)
    with store.database.session() as s, store.statement_counter() as counter:
        dying = s.raw
        with pytest.raises(DatabaseUnavailable, match="the server closed the connection"):
            s.execute(_write_dies_on(dying.info.backend_pid))
        assert s.raw is dying and counter.statements == 1  # not sent again
    # The next call gets a live connection (checked before its write; the dead one was
    # discarded by the pool).
    store.update_connection("cin_mail", display_name="Mail 2")
    summary = store.get_connection_summary("cin_mail", NOW)
    assert summary is not None and summary.display_name == "Mail 2"
    store.close()


def test_callers_own_connection_killed_reports_why(pg_dsn: str) -> None:
    conn = psycopg.connect(pg_dsn, autocommit=True)
    store = pyreference.connect(conn)
    _terminate(pg_dsn, conn.info.backend_pid)
    with pytest.raises(DatabaseUnavailable, match="the server closed the connection") as info:
        store.list_connection_summaries(now=NOW)
    assert "\n" not in str(info.value)


def test_async_store_terminated_backends_cost_no_failed_read(pg_dsn: str) -> None:
    import asyncio

    with pyreference.connect(pg_dsn) as setup:
        small_fleet(setup)

    async def scenario() -> None:
        store = await pyreference.connect_async(pg_dsn)

        async def reads() -> None:
            for _ in range(5):
                assert (await store.list_connection_summaries(now=NOW)).items
                assert await store.get_connection_summary("cin_mail", NOW) is not None

        await asyncio.gather(*(reads() for _ in range(4)))
        assert await asyncio.to_thread(_terminate_all_but_mine, pg_dsn) >= 1
        await asyncio.gather(*(reads() for _ in range(4)))
        await store.aclose()

    asyncio.run(scenario())


def test_a_write_goes_out_on_a_connection_that_answered(pg_dsn: str) -> None:
    # Pooled connections are handed out unchecked (reads retry instead): one that died
    # while idle is checked and replaced before a write is sent on it.
    store = pyreference.connect(pg_dsn)
    small_fleet(store)
    with store.database.session() as s, store.statement_counter() as counter:
        dead = s.raw
        _terminate(pg_dsn, dead.info.backend_pid)
        s.execute(
            "UPDATE connector_instances SET display_name = 'Mail 3'"
            " WHERE connector_instance_id = 'cin_mail'"
        )
        assert s.raw is not dead and dead.closed
        assert counter.statements == 1
    store.close()
    # A transaction's write, every pooled connection dead at first (a pool that does not
    # check: the store's own are made so).
    with ConnectionPool(pg_dsn, min_size=2, max_size=2, kwargs={"autocommit": True}) as pool:
        pool.wait()
        store = pyreference.connect(pool)
        assert _terminate_all_but_mine(pg_dsn) >= 2
        store.update_connection("cin_mail", display_name="Mail 4")
        summary = store.get_connection_summary("cin_mail", NOW)
        assert summary is not None and summary.display_name == "Mail 4"


def test_an_async_write_goes_out_on_a_connection_that_answered(pg_dsn: str) -> None:
    import asyncio

    with pyreference.connect(pg_dsn) as setup:
        small_fleet(setup)

    async def scenario() -> None:
        store = await pyreference.connect_async(pg_dsn)
        async with store.database.session() as s:
            dead = s.raw
            await asyncio.to_thread(_terminate, pg_dsn, dead.info.backend_pid)
            await s.rows(
                "UPDATE connector_instances SET display_name = 'Mail 3'"
                " WHERE connector_instance_id = 'cin_mail'"
            )
            assert s.raw is not dead and dead.closed
        summary = await store.get_connection_summary("cin_mail", NOW)
        assert summary is not None and summary.display_name == "Mail 3"
        await store.aclose()
        pool = AsyncConnectionPool(
            pg_dsn, min_size=2, max_size=2, kwargs={"autocommit": True}, open=False
        )
        async with pool:
            await pool.wait()
            store = await pyreference.connect_async(pool)
            assert await asyncio.to_thread(_terminate_all_but_mine, pg_dsn) >= 2
            await store.update_connection("cin_mail", display_name="Mail 4")
            summary = await store.get_connection_summary("cin_mail", NOW)
            assert summary is not None and summary.display_name == "Mail 4"

    asyncio.run(scenario())


def test_a_full_pool_of_dead_connections_costs_no_failed_read(pg_dsn: str) -> None:
    # After a restart every pooled connection is dead; sessions that each hold one must
    # give it back before taking a replacement, or their retries wait on each other for a
    # slot of the full pool until its timeout.
    import threading

    from pyreference.db import POOL_MAX_SIZE

    store = pyreference.connect(pg_dsn, timeout=3)
    small_fleet(store)
    together_in = threading.Barrier(POOL_MAX_SIZE)

    def read(_: int) -> None:
        with store.database.session(owner=store.owner) as s:
            together_in.wait(timeout=10)  # every slot of the pool held
            if _ == 0:
                _terminate_all_but_mine(pg_dsn)
            together_in.wait(timeout=10)
            assert s.execute("cursor_key")

    assert together(POOL_MAX_SIZE, read)[1] == []
    store.close()


def test_an_async_full_pool_of_dead_connections_costs_no_failed_read(pg_dsn: str) -> None:
    import asyncio

    from pyreference.db import POOL_MAX_SIZE

    with pyreference.connect(pg_dsn) as setup:
        small_fleet(setup)

    async def scenario() -> None:
        store = await pyreference.connect_async(pg_dsn, timeout=3)
        held = asyncio.Barrier(POOL_MAX_SIZE)

        async def read(i: int) -> None:
            async with store.database.session(owner=store.owner) as s:
                await held.wait()  # every slot of the pool held
                if i == 0:
                    assert await asyncio.to_thread(_terminate_all_but_mine, pg_dsn) >= 1
                await held.wait()
                assert (await s.rows("cursor_key"))[1]

        await asyncio.gather(*(read(i) for i in range(POOL_MAX_SIZE)))
        pages = await asyncio.gather(
            *(store.list_connection_summaries(now=NOW) for _ in range(2 * POOL_MAX_SIZE))
        )
        assert all(p.items for p in pages)
        await store.aclose()

    asyncio.run(scenario())
