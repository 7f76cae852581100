"""A caller's connection or pool is used as given (issue 13, item 1).

Its autocommit, isolation and transaction state are untouched, and the store's own
transactions never commit or roll back the caller's work: inside a caller's open
transaction the store's work is a savepoint of it, so the caller's rollback undoes
both and the caller's commit keeps both.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

import pyreference
from pyreference.errors import DatabaseError, InvalidInput
from tests.support.scenario import NOW, small_fleet


def _app_rows_pg(dsn: str) -> int:
    with psycopg.connect(dsn) as other:
        return int(other.execute("SELECT count(*) FROM app_orders").fetchone()[0])


@pytest.fixture
def pg_app(pg_dsn: str) -> str:
    with pyreference.connect(pg_dsn) as store:
        small_fleet(store)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE app_orders (id int PRIMARY KEY)")
    return pg_dsn


@pytest.mark.postgres
def test_caller_transaction_around_a_store_read_is_left_alone(pg_app: str) -> None:
    conn = psycopg.connect(pg_app)  # autocommit off, as applications use it
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    store = pyreference.connect(conn)
    conn.execute("INSERT INTO app_orders VALUES (1)")
    page = store.list_connection_summaries(now=NOW)
    assert page.items
    assert store.get_connection_summary(page.items[0].connection_id, NOW) is not None
    assert store.verify() == []
    # Still the caller's open transaction, settings as set.
    assert conn.info.transaction_status == TransactionStatus.INTRANS
    assert conn.autocommit is False
    assert conn.isolation_level == psycopg.IsolationLevel.REPEATABLE_READ
    conn.rollback()
    assert _app_rows_pg(pg_app) == 0  # the caller's rollback still rolls back
    conn.close()


@pytest.mark.postgres
def test_store_writes_join_the_callers_transaction(pg_app: str) -> None:
    conn = psycopg.connect(pg_app)
    store = pyreference.connect(conn)
    conn.execute("INSERT INTO app_orders VALUES (1)")
    store.create_connection("cin_in_tx", "gmail")
    assert store.reconcile() >= 1
    assert store.get_connection_summary("cin_in_tx", NOW) is not None
    assert conn.info.transaction_status == TransactionStatus.INTRANS
    conn.rollback()  # undoes the caller's insert and the store's writes alike
    assert _app_rows_pg(pg_app) == 0
    assert pyreference.connect(pg_app).get_connection_summary("cin_in_tx", NOW) is None
    conn.execute("INSERT INTO app_orders VALUES (2)")
    store.create_connection("cin_in_tx", "gmail")
    conn.commit()
    assert _app_rows_pg(pg_app) == 1
    assert pyreference.connect(pg_app).get_connection_summary("cin_in_tx", NOW) is not None
    conn.close()


@pytest.mark.postgres
def test_idle_non_autocommit_connection_stays_idle(pg_app: str) -> None:
    conn = psycopg.connect(pg_app)
    store = pyreference.connect(conn)
    store.list_connection_summaries(now=NOW)
    store.create_connection("cin_idle", "gmail")
    # The store's own work began and ended its own transaction: nothing left open.
    assert conn.info.transaction_status == TransactionStatus.IDLE
    assert conn.autocommit is False
    conn.execute("INSERT INTO app_orders VALUES (1)")  # the reproduction
    conn.rollback()
    assert _app_rows_pg(pg_app) == 0
    store.close()
    assert not conn.closed  # the caller's connection is the caller's to close
    conn.close()
    assert pyreference.connect(pg_app).get_connection_summary("cin_idle", NOW) is not None


@pytest.mark.postgres
def test_failed_store_write_leaves_the_callers_transaction_usable(pg_app: str) -> None:
    conn = psycopg.connect(pg_app)
    store = pyreference.connect(conn)
    conn.execute("INSERT INTO app_orders VALUES (1)")
    with pytest.raises(pyreference.InvalidInput):
        store.create_connection("cin_orphan", "no_such_connector")
    conn.execute("INSERT INTO app_orders VALUES (2)")  # not aborted by the store's failure
    conn.commit()
    assert _app_rows_pg(pg_app) == 2
    conn.close()


@pytest.mark.postgres
def test_callers_pool_is_used_as_configured(pg_app: str) -> None:
    with ConnectionPool(pg_app, min_size=1, max_size=2, kwargs={"autocommit": False}) as pool:
        store = pyreference.connect(pool)
        assert store.list_connection_summaries(now=NOW).items
        store.create_connection("cin_pool", "gmail")
        with pool.connection() as conn:
            assert conn.autocommit is False
            assert conn.info.transaction_status == TransactionStatus.IDLE
        store.close()
        assert not pool.closed
    assert pyreference.connect(pg_app).get_connection_summary("cin_pool", NOW) is not None


def test_sqlite_caller_transaction_around_a_store_read_is_left_alone(tmp_path) -> None:
    path = tmp_path / "app.db"
    with pyreference.connect(f"sqlite:///{path}") as setup:
        setup.migrate()
        small_fleet(setup)
    conn = sqlite3.connect(path, check_same_thread=False)
    level = conn.isolation_level
    conn.execute("CREATE TABLE app_orders (id int PRIMARY KEY)")
    conn.commit()
    store = pyreference.connect(conn)
    conn.execute("INSERT INTO app_orders VALUES (1)")  # opens the caller's transaction
    assert store.list_connection_summaries(now=NOW).items
    store.create_connection("cin_in_tx", "gmail")
    assert store.reconcile() >= 1
    assert conn.in_transaction and conn.isolation_level == level
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM app_orders").fetchone()[0] == 0
    assert store.get_connection_summary("cin_in_tx", NOW) is None
    # Idle: the store's write is its own transaction, committed, nothing left open.
    store.create_connection("cin_idle", "gmail")
    assert not conn.in_transaction
    store.close()
    conn.execute("SELECT 1")  # still open: the caller closes it
    conn.close()
    assert pyreference.connect(f"sqlite:///{path}").get_connection_summary("cin_idle", NOW)


def test_sqlite_migrate_refuses_a_connection_inside_a_transaction(tmp_path) -> None:
    conn = sqlite3.connect(tmp_path / "app.db")
    conn.execute("CREATE TABLE app_orders (id int)")
    conn.execute("INSERT INTO app_orders VALUES (1)")
    with pytest.raises(pyreference.InvalidInput, match="outside a transaction"):
        pyreference.connect(conn).migrate()
    conn.rollback()
    assert pyreference.connect(conn).migrate()
    conn.close()


@pytest.mark.postgres
def test_async_caller_transaction_around_a_store_read_is_left_alone(pg_app: str) -> None:
    import asyncio

    async def scenario() -> None:
        conn = await psycopg.AsyncConnection.connect(pg_app)  # autocommit off
        store = await pyreference.connect_async(conn)
        assert (await store.list_connection_summaries(now=NOW)).items  # idle: stays idle
        assert conn.info.transaction_status == TransactionStatus.IDLE
        assert conn.autocommit is False
        await conn.execute("INSERT INTO app_orders VALUES (1)")
        assert (await store.list_connection_summaries(now=NOW)).items
        await store.create_connection("cin_async_tx", "gmail")
        assert conn.info.transaction_status == TransactionStatus.INTRANS
        await conn.rollback()
        await store.aclose()
        assert not conn.closed
        await conn.close()

    asyncio.run(scenario())
    assert _app_rows_pg(pg_app) == 0
    assert pyreference.connect(pg_app).get_connection_summary("cin_async_tx", NOW) is None


def _settings(conn: psycopg.Connection) -> tuple[str, str | None]:
    row = conn.execute(
        "SELECT current_setting('search_path'), current_setting('pyref.owner', true)"
    )
    path, owner = row.fetchone()  # type: ignore[misc]
    # Once any transaction of the session named an owner, PostgreSQL keeps the custom
    # setting defined: unset reads as '' from then on (NULL before). Both mean no owner.
    return path, owner or None


@pytest.mark.postgres
@pytest.mark.parametrize("opened", ["implicitly", "with BEGIN on an autocommit connection"])
def test_store_calls_leave_the_callers_search_path_and_settings_alone(
    pg_app: str, opened: str
) -> None:
    """Review of #13: a store read inside the caller's transaction rewrote that
    transaction's search_path (the safe path of #11: "$user" dropped, pg_temp last) until
    it ended, so the caller's next unqualified INSERT INTO items landed in public.items
    instead of its own temp table; `pyref.owner` stayed set too. Reads, writes and
    maintenance alike put the caller's settings back (the security of the store's own
    statements is test_security's)."""
    with psycopg.connect(pg_app, autocommit=True) as setup:
        setup.execute("CREATE TABLE public.items (x int)")
    conn = psycopg.connect(pg_app, autocommit=opened != "implicitly")
    if opened != "implicitly":
        conn.execute("BEGIN")
    conn.execute("CREATE TEMP TABLE items (x int)")
    conn.execute('SET LOCAL search_path = pg_temp, "$user", public')  # the caller's own
    store = pyreference.connect(conn)
    before = _settings(conn)
    calls = {
        "list": lambda: store.list_connection_summaries(now=NOW),
        "scoped": lambda: store.get_connection_summary("cin_mail", NOW),
        "diagnostics": lambda: store.dirty_backlog(),
        "write": lambda: store.create_connection("cin_path", "gmail"),
        "maintenance": lambda: store.reconcile(),
    }
    for name, call in calls.items():
        call()
        assert conn.info.transaction_status == TransactionStatus.INTRANS, name
        assert _settings(conn) == before, name
        conn.execute("INSERT INTO items VALUES (1)")  # the caller's temp table, still
    assert conn.execute("SELECT count(*) FROM pg_temp.items").fetchone() == (len(calls),)
    assert conn.execute("SELECT count(*) FROM public.items").fetchone() == (0,)
    conn.rollback()
    conn.close()


@pytest.mark.postgres
def test_async_store_calls_leave_the_callers_search_path_alone(pg_app: str) -> None:
    import asyncio

    with psycopg.connect(pg_app, autocommit=True) as setup:
        setup.execute("CREATE TABLE public.items (x int)")

    async def scenario() -> None:
        conn = await psycopg.AsyncConnection.connect(pg_app)
        await conn.execute("CREATE TEMP TABLE items (x int)")
        store = await pyreference.connect_async(conn)
        query = (
            "SELECT current_setting('search_path'),"
            " coalesce(current_setting('pyref.owner', true), '')"
        )
        before = await (await conn.execute(query)).fetchone()
        await store.list_connection_summaries(now=NOW)
        await store.get_connection_summary("cin_mail", NOW)
        await store.create_connection("cin_path", "gmail")
        await store.reconcile()
        assert await (await conn.execute(query)).fetchone() == before
        await conn.execute("INSERT INTO items VALUES (1)")
        count = await (await conn.execute("SELECT count(*) FROM pg_temp.items")).fetchone()
        assert count == (1,)
        await conn.rollback()
        await conn.close()

    asyncio.run(scenario())


def _aborted_calls(store: Any) -> dict[str, Callable[[], Any]]:
    return {
        "list": lambda: store.list_connection_summaries(now=NOW),
        "scoped": lambda: store.get_connection_summary("cin_mail", NOW),
        "write": lambda: store.create_connection("cin_late", "gmail"),
        "maintenance": lambda: store.reconcile(),
    }


@pytest.mark.postgres
def test_store_call_on_the_callers_failed_transaction_is_typed_and_quiet(
    pg_app: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Review of #13: after the caller's own statement failed in its open transaction, a
    store read or write raised raw psycopg InFailedSqlTransaction and psycopg logged
    'error ignored in rollback … savepoint "_pg3_1" does not exist'. Now: DatabaseError
    naming the caller's aborted transaction, nothing sent, nothing logged, and the
    caller's transaction is still the caller's to roll back."""
    conn = psycopg.connect(pg_app)
    store = pyreference.connect(conn)
    conn.execute("INSERT INTO app_orders VALUES (1)")
    with pytest.raises(psycopg.errors.DivisionByZero):
        conn.execute("SELECT 1/0")
    caplog.set_level(logging.DEBUG)
    for name, call in _aborted_calls(store).items():
        with store.statement_counter() as counter, pytest.raises(DatabaseError) as info:
            call()
        assert info.value.sqlstate == "25P02", name
        assert "caller's transaction" in str(info.value) and "aborted" in str(info.value)
        assert "roll back" in str(info.value)
        assert counter.statements == 0, name  # refused before anything was sent
        assert conn.info.transaction_status == TransactionStatus.INERROR, name
    assert not [r for r in caplog.records if r.name.startswith("psycopg")], caplog.text
    conn.rollback()
    assert _app_rows_pg(pg_app) == 0
    assert store.get_connection_summary("cin_mail", NOW) is not None  # usable again
    conn.close()


@pytest.mark.postgres
def test_async_store_call_on_the_callers_failed_transaction_is_typed_and_quiet(
    pg_app: str, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        conn = await psycopg.AsyncConnection.connect(pg_app)
        store = await pyreference.connect_async(conn)
        with pytest.raises(psycopg.errors.DivisionByZero):
            await conn.execute("SELECT 1/0")
        for name, call in _aborted_calls(store).items():
            with pytest.raises(DatabaseError) as info:
                await call()
            assert info.value.sqlstate == "25P02" and "aborted" in str(info.value), name
        await conn.rollback()
        assert await store.get_connection_summary("cin_mail", NOW) is not None
        await conn.close()

    asyncio.run(scenario())
    assert not [r for r in caplog.records if r.name.startswith("psycopg")], caplog.text


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


def _everything(store: pyreference.Store) -> list[Any]:
    """Every read kind, as plain data: list pages (cold and warm), a scoped read, diagnostics."""
    pages = [
        [s.to_dict() for s in store.list_connection_summaries(2, now=NOW).items] for _ in (1, 2)
    ]
    scoped = store.get_connection_summary("cin_mail", NOW)
    deep = store.connection_diagnostics("cin_amz_a", NOW)
    assert scoped is not None and deep is not None
    return [pages, scoped.to_dict(), deep.to_dict()]


async def _everything_async(store: Any) -> list[Any]:
    """`_everything` through an async store."""
    pages = [
        [s.to_dict() for s in (await store.list_connection_summaries(2, now=NOW)).items]
        for _ in (1, 2)
    ]
    scoped = await store.get_connection_summary("cin_mail", NOW)
    deep = await store.connection_diagnostics("cin_amz_a", NOW)
    assert scoped is not None and deep is not None
    return [pages, scoped.to_dict(), deep.to_dict()]


@pytest.mark.parametrize("factory", [sqlite3.Row, _dict_row], ids=["Row", "dict"])
def test_sqlite_callers_row_factory_is_left_alone(tmp_path, factory) -> None:
    # The compiled read path takes rows as tuples: a caller's row factory must not reach it.
    path = tmp_path / "app.db"
    with pyreference.connect(f"sqlite:///{path}") as setup:
        setup.migrate()
        small_fleet(setup)
        expected = _everything(setup)
    conn = sqlite3.connect(path, check_same_thread=False)
    conn.row_factory = factory
    with pyreference.connect(conn) as store:
        assert _everything(store) == expected
        store.create_connection("cin_new", "gmail")
        assert store.reconcile() >= 1
    assert conn.row_factory is factory
    assert isinstance(conn.execute("SELECT 1 AS one").fetchone(), sqlite3.Row | dict)
    conn.close()


@pytest.mark.postgres
def test_callers_row_factory_is_left_alone(pg_app: str) -> None:
    from psycopg.rows import dict_row

    with pyreference.connect(pg_app) as plain:
        expected = _everything(plain)
    # Inside the caller's transaction (the store saves and restores its settings)...
    with psycopg.connect(pg_app, row_factory=dict_row) as conn:
        conn.execute("SELECT 1")
        with pyreference.connect(conn) as store:
            assert _everything(store) == expected
        conn.rollback()
    # ...and outside it.
    with psycopg.connect(pg_app, row_factory=dict_row) as conn:
        with pyreference.connect(conn) as store:
            assert _everything(store) == expected
            store.create_connection("cin_new", "gmail")
            assert store.reconcile() >= 1
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}


@pytest.mark.postgres
def test_async_callers_row_factory_is_left_alone(pg_app: str) -> None:
    from psycopg.rows import dict_row

    with pyreference.connect(pg_app) as plain:
        expected = _everything(plain)

    async def read(in_transaction: bool) -> list[Any]:
        conn = await psycopg.AsyncConnection.connect(pg_app, row_factory=dict_row)
        try:
            if in_transaction:
                await conn.execute("SELECT 1")
            store = await pyreference.connect_async(conn)
            everything = await _everything_async(store)
            await store.aclose()
            return everything
        finally:
            await conn.close()

    assert asyncio.run(read(False)) == expected
    assert asyncio.run(read(True)) == expected


@pytest.mark.parametrize("encoding", ["UTF8", "LATIN1", "EUC_JP"])
def test_column_names_are_read_as_the_connection_encodes_them(pg_dsn: str, encoding: str) -> None:
    """The read path takes a result's column names from the result itself (psycopg's
    `description` built a Column object per column); they are decoded in the connection's
    encoding as `description` decodes them (found by a reviewer: always UTF-8 first), and a
    statement without rows has none."""
    from pyreference.db import _column_names

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"SET client_encoding = '{encoding}'")
        cur = conn.execute('SELECT 1 AS "é_ünï", 2 AS plain')
        assert cur.description is not None
        assert _column_names(cur) == tuple(c.name for c in cur.description) == ("é_ünï", "plain")
        cur = conn.execute("SET application_name = 'x'")
        assert cur.description is None and _column_names(cur) is None


@pytest.mark.postgres
@pytest.mark.parametrize("autocommit", [True, False], ids=["autocommit", "transaction"])
def test_store_reads_on_a_callers_connection_in_pipeline_mode(
    pg_app: str, autocommit: bool
) -> None:
    """A caller's connection in pipeline mode gets the same pages and scoped reads as
    outside it (found by a reviewer: the read took its result before the pipeline had
    delivered it, saw no rows and raised IndexError)."""
    with psycopg.connect(pg_app, autocommit=autocommit) as conn:
        store = pyreference.connect(conn)
        plain = store.list_connection_summaries(limit=3, now=NOW)
        scoped = store.get_connection_summary(plain.items[0].connection_id, NOW)
        with conn.pipeline():
            piped = store.list_connection_summaries(limit=3, now=NOW)
            again = store.list_connection_summaries(limit=3, cursor=piped.next_cursor, now=NOW)
            assert store.get_connection_summary(plain.items[0].connection_id, NOW) == scoped
        assert [i.to_dict() for i in piped.items] == [i.to_dict() for i in plain.items]
        assert again.items and again.items[0].connection_id not in {
            i.connection_id for i in piped.items
        }


@pytest.mark.postgres
def test_async_store_reads_on_a_callers_connection_in_pipeline_mode(pg_app: str) -> None:
    async def main() -> None:
        conn = await psycopg.AsyncConnection.connect(pg_app, autocommit=True)
        try:
            store = await pyreference.connect_async(conn)
            plain = await store.list_connection_summaries(limit=3, now=NOW)
            async with conn.pipeline():
                piped = await store.list_connection_summaries(limit=3, now=NOW)
            assert [i.to_dict() for i in piped.items] == [i.to_dict() for i in plain.items]
        finally:
            await conn.close()

    asyncio.run(main())


def _scoped(store: pyreference.Store, connection_id: str) -> dict[str, Any]:
    found = store.get_connection_summary(connection_id, NOW)
    assert found is not None
    return found.to_dict()


@pytest.mark.postgres
def test_store_reads_on_a_callers_sql_ascii_connection(pg_app: str) -> None:
    """A caller's connection whose `client_encoding` is SQL_ASCII, where psycopg returns
    text undecoded (bytes), gets every read as a UTF8 connection does, non-ASCII names
    included, and its search_path back as it was (found by a reviewer: list reads raised
    TypeError on bytes, and the saved search_path would have come back as "b'...'")."""
    with pyreference.connect(pg_app) as plain:
        plain.create_connection("cin_zz", "gmail", display_name="Zoë’s mail ✓")
        plain.reconcile()
        expected = [*_everything(plain), _scoped(plain, "cin_zz")]
    assert "Zoë’s mail ✓" in str(expected)
    for in_transaction in (False, True):
        with psycopg.connect(pg_app, autocommit=not in_transaction) as conn:
            conn.execute("SET client_encoding = 'SQL_ASCII'")
            conn.execute('SET search_path = "$user", public')
            before = conn.execute("SHOW search_path").fetchone()
            with pyreference.connect(conn) as store:
                assert [*_everything(store), _scoped(store, "cin_zz")] == expected
                if in_transaction:  # writes too (rolled back below)
                    store.create_connection("cin_zz2", "gmail", display_name="Ça va")
                    store.reconcile()
                    again = store.get_connection_summary("cin_zz2", NOW)
                    assert again is not None and again.display_name == "Ça va"
            assert conn.execute("SHOW search_path").fetchone() == before
            conn.rollback()

    async def read() -> list[Any]:
        conn = await psycopg.AsyncConnection.connect(pg_app, autocommit=True)
        try:
            await conn.execute("SET client_encoding = 'SQL_ASCII'")
            store = await pyreference.connect_async(conn)
            everything = await _everything_async(store)
            mine = await store.get_connection_summary("cin_zz", NOW)
            await store.aclose()
            assert mine is not None
            return [*everything, mine.to_dict()]
        finally:
            await conn.close()

    assert asyncio.run(read()) == expected


@pytest.mark.postgres
def test_a_callers_sql_ascii_connection_to_a_database_in_another_encoding(
    pg_admin_dsn: str,
) -> None:
    """On a WIN1252 database a caller's SQL_ASCII connection gets the server's own bytes:
    text is read and written in the server's encoding, as a store's own connection does
    (found by a reviewer: non-ASCII text read as U+FFFD, ids not found, and writes stored
    as UTF-8 bytes). Text the encoding cannot hold is InvalidInput on either (it was a raw
    UnicodeEncodeError)."""
    from tests.conftest import scratch_database
    from tests.support.scenario import register

    with scratch_database(pg_admin_dsn, encoding="WIN1252") as dsn:
        with pyreference.connect(dsn) as plain:
            plain.migrate()
            register(plain, "gmail")
            plain.create_connection("cin_é", "gmail", display_name="Zoë")
            plain.reconcile()
            expected = [s.to_dict() for s in plain.list_connection_summaries(now=NOW).items]
            with pytest.raises(InvalidInput, match="cannot represent"):
                plain.get_connection_summary("cin_✓", NOW)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET client_encoding = 'SQL_ASCII'")
            with pyreference.connect(conn) as store:
                page = store.list_connection_summaries(now=NOW).items
                assert [s.to_dict() for s in page] == expected
                assert _scoped(store, "cin_é")["display_name"] == "Zoë"
                store.create_connection("cin_w", "gmail", display_name="Café")
                with pytest.raises(InvalidInput, match="cannot represent"):
                    store.create_connection("cin_x", "gmail", display_name="tick ✓")

        async def read() -> str:
            conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
            try:
                await conn.execute("SET client_encoding = 'SQL_ASCII'")
                store = await pyreference.connect_async(conn)
                found = await store.get_connection_summary("cin_é", NOW)
                await store.aclose()
                assert found is not None
                return str(found.display_name)
            finally:
                await conn.close()

        assert asyncio.run(read()) == "Zoë"
        with pyreference.connect(dsn) as plain:
            assert _scoped(plain, "cin_w")["display_name"] == "Café"
            # A byte the database holds and Python's codec refuses: typed, never raw.
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(
                    "UPDATE connector_instances SET display_name"
                    " = convert_from('\\x81'::bytea, 'WIN1252')"
                    " WHERE connector_instance_id = 'cin_w'"
                )
            with pytest.raises(DatabaseError, match="cannot decode"):
                plain.get_connection_summary("cin_w", NOW)


@pytest.mark.postgres
def test_a_non_ascii_owner_reads_through_a_callers_sql_ascii_connection(pg_app: str) -> None:
    """The owner is named in the read's own SQL text: on a SQL_ASCII connection it goes as
    the server's bytes (found by a reviewer: psycopg encoded the text as ASCII, and every
    read of an owner such as "josé" failed)."""
    with pyreference.connect(pg_app, owner="josé") as plain:
        plain.create_connection("cin_jose", "gmail", display_name="Correo")
        plain.reconcile()
        expected = _scoped(plain, "cin_jose")
    for in_transaction in (False, True):
        with psycopg.connect(pg_app, autocommit=not in_transaction) as conn:
            conn.execute("SET client_encoding = 'SQL_ASCII'")
            with pyreference.connect(conn, owner="josé") as store:
                assert _scoped(store, "cin_jose") == expected
                page = store.list_connection_summaries(now=NOW).items
                assert [s.connection_id for s in page] == ["cin_jose"]
            conn.rollback()
