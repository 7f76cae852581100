"""Every driver error is a typed PyreferenceError with no SQL text (review of #11).

Real failures on both backends, through the sync and the async store: a schema older
than the code, a database never migrated, a trigger of the DBA's own that raises, a
read-only SQLite file, a caller's transaction that had already failed, a deadlock and a
serialization failure. Before, psycopg's UndefinedColumn or RaiseException escaped raw
with `LINE 1: SELECT …`, a `RAISE … USING ERRCODE` of class 55 read "cannot reach
PostgreSQL", and SQLite's "no such column" or "attempt to write a readonly database"
escaped as sqlite3.OperationalError.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import pyreference
from pyreference import PyreferenceError
from tests.support.scenario import NOW, at, register

SQL_WORDS = ("SELECT", "INSERT", "UPDATE", "LINE ", " FROM ", " WHERE ", "$1", "%(")


def _typed(call: Callable[[], Any], kind: type[PyreferenceError]) -> PyreferenceError:
    """The error `call` raises: of `kind`, chained to the driver's, no SQL text."""
    with pytest.raises(PyreferenceError) as caught:
        call()
    error = caught.value
    assert isinstance(error, kind), f"{type(error).__name__}: {error}"
    message = str(error)
    assert not any(word in message for word in SQL_WORDS), message
    assert error.__cause__ is not None
    return error


class Flavor:
    """One store on a target, sync or async; calls block either way."""

    def __init__(self, flavor: str, target: Any) -> None:
        self.runner = asyncio.Runner() if flavor == "async" else None
        if self.runner is None:
            self.store: Any = pyreference.connect(target)
        else:
            self.store = self.runner.run(pyreference.connect_async(target))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.store, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            return self.runner.run(result) if self.runner is not None else result

        return call

    def close(self) -> None:
        if self.runner is None:
            self.store.close()
            return
        self.runner.run(self.store.aclose())
        self.runner.close()


@pytest.fixture(params=["sync", "async"])
def flavor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Target:
    """A fresh migrated database of the backend: what to connect to, and plain SQL on it
    as its owner (the DBA)."""

    def __init__(self, backend: str, request: pytest.FixtureRequest) -> None:
        self.backend = backend
        if backend == "sqlite":
            self.conn: Any = request.getfixturevalue("sqlite_conn")
            self.target: Any = self.conn
        else:
            self.target = request.getfixturevalue("pg_dsn")
            self.conn = psycopg.connect(self.target, autocommit=True)

    def sql(self, *statements: str) -> None:
        for statement in statements:
            self.conn.execute(statement)


@pytest.fixture
def target(backend: str, request: pytest.FixtureRequest) -> Iterator[Target]:
    made = Target(backend, request)
    yield made
    if backend == "postgres":
        made.conn.close()


def _fleet(target: Target, flavor: str) -> Flavor:
    store = Flavor(flavor, target.target)
    register(store, "gmail")
    store.create_connection("cin_a", "gmail", created_at=at(60))
    store.reconcile()
    return store


def test_a_schema_older_than_the_code_is_schema_not_ready(target: Target, flavor: str) -> None:
    """A column the code reads or writes is missing (an older release's schema, or a
    hand edit): SchemaNotReady naming it, not UndefinedColumn / "no such column" with the
    statement."""
    store = _fleet(target, flavor)
    target.sql(
        "ALTER TABLE pyref_evidence RENAME COLUMN failures_since_success TO failures_old",
        "ALTER TABLE connector_schedules RENAME COLUMN consecutive_failures TO failures_old",
    )
    read = _typed(lambda: store.list_connection_summaries(now=NOW), pyreference.SchemaNotReady)
    write = _typed(
        lambda: store.set_schedule("cin_a", interval_seconds=60), pyreference.SchemaNotReady
    )
    for error in (read, write):
        assert "pyreference migrate" in str(error)
        assert error.sqlstate == ("42703" if target.backend == "postgres" else "SQLITE_ERROR")
    assert "failures_since_success" in str(read) and "consecutive_failures" in str(write)
    store.close()


def test_a_database_never_migrated_is_schema_not_ready(
    backend: str, flavor: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    target = (
        f"sqlite:///{tmp_path / 'empty.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("empty_pg_dsn")
    )
    store = Flavor(flavor, target)
    _typed(lambda: store.list_connection_summaries(now=NOW), pyreference.SchemaNotReady)
    _typed(
        lambda: store.append_events([{"event_type": "note", "occurred_at": at(1)}]),
        pyreference.SchemaNotReady,
    )
    store.close()


def test_a_trigger_of_the_dbas_own_that_raises(target: Target, flavor: str) -> None:
    """A DBA's trigger refuses writes. Postgres: a plain RAISE (P0001) is DatabaseError
    naming the function, not a raw RaiseException; `USING ERRCODE` of class 55 is not
    "cannot reach PostgreSQL"; a check_violation is InvalidInput. SQLite: RAISE(ABORT) is
    InvalidInput; a trigger calling a function that does not exist is DatabaseError. The
    trigger's message (here holding the connection id) is never shown."""
    store = _fleet(target, flavor)

    def refuse(body: str) -> Callable[[], Any]:
        if target.backend == "postgres":
            target.sql(
                "CREATE OR REPLACE FUNCTION dba_freeze() RETURNS trigger LANGUAGE plpgsql AS"
                f" $$ BEGIN {body}; END $$",
                "DROP TRIGGER IF EXISTS dba_freeze ON connector_schedules",
                "CREATE TRIGGER dba_freeze BEFORE INSERT ON connector_schedules"
                " FOR EACH ROW EXECUTE FUNCTION dba_freeze()",
            )
        else:
            create = "CREATE TRIGGER dba_freeze BEFORE INSERT ON connector_schedules BEGIN"
            target.sql("DROP TRIGGER IF EXISTS dba_freeze", f"{create} {body}; END")
        return lambda: store.set_schedule("cin_a", interval_seconds=60)

    if target.backend == "postgres":
        plain = _typed(
            refuse("RAISE EXCEPTION 'writes frozen for %', NEW.connector_instance_id"),
            pyreference.DatabaseError,
        )
        assert plain.sqlstate == "P0001" and "dba_freeze" in str(plain)
        state = _typed(
            refuse(
                "RAISE EXCEPTION 'writes frozen for %', NEW.connector_instance_id"
                " USING ERRCODE = 'object_not_in_prerequisite_state'"
            ),
            pyreference.DatabaseError,
        )
        assert state.sqlstate == "55000" and "cannot reach" not in str(state)
        check = _typed(
            refuse(
                "RAISE EXCEPTION 'writes frozen for %', NEW.connector_instance_id"
                " USING ERRCODE = 'check_violation'"
            ),
            pyreference.InvalidInput,
        )
        errors = [plain, state, check]
    else:
        abort = _typed(
            refuse("SELECT RAISE(ABORT, 'writes frozen for cin_a')"),
            pyreference.InvalidInput,
        )
        missing = _typed(
            refuse("SELECT dba_no_such_function(NEW.connector_instance_id)"),
            pyreference.DatabaseError,
        )
        assert missing.sqlstate == "SQLITE_ERROR"
        errors = [abort, missing]
    for error in errors:
        assert "frozen" not in str(error) and "cin_a" not in str(error), str(error)
        assert not error.retryable
    store.close()


def test_a_read_only_sqlite_file_is_read_only(tmp_path: Path, flavor: str) -> None:
    path = tmp_path / "ro.db"
    owner = pyreference.connect(f"sqlite:///{path}")
    owner.migrate()
    register(owner, "gmail")
    owner.close()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    store = Flavor(flavor, conn)
    assert store.list_connection_summaries(now=NOW).items == ()
    error = _typed(lambda: store.create_connection("cin_a", "gmail"), pyreference.ReadOnlyDatabase)
    assert error.sqlstate == "SQLITE_READONLY"
    store.close()
    conn.close()


@pytest.mark.postgres
def test_a_callers_failed_transaction_is_named(pg_dsn: str) -> None:
    """The caller's own statement failed in its open transaction; the store's next call on
    that connection is DatabaseError saying to roll back (was a raw InFailedSqlTransaction)."""
    with psycopg.connect(pg_dsn) as conn:
        store = pyreference.connect(conn)
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("SELECT 1 / 0")
        # Refused before anything is sent (test_caller_connections): no driver error to chain.
        with pytest.raises(pyreference.DatabaseError) as caught:
            store.list_connection_summaries(now=NOW)
        error = caught.value
        assert not any(word in str(error) for word in SQL_WORDS), str(error)
        assert error.sqlstate == "25P02" and "roll back" in str(error)
        conn.rollback()
        assert store.list_connection_summaries(now=NOW).items == ()


@pytest.mark.postgres
@pytest.mark.parametrize("conflict", ["deadlock", "serialization"])
def test_a_lost_transaction_conflict_is_typed_and_retryable(pg_dsn: str, conflict: str) -> None:
    """A deadlock (40P01) or serialization failure (40001) is TransactionConflict
    (retryable, no SQL text), nothing written, and the same call succeeds once the other
    transaction has moved on (never DatabaseUnavailable "cannot reach PostgreSQL")."""
    setup = pyreference.connect(pg_dsn)
    register(setup, "gmail")
    setup.create_connection("cin_a", "gmail")
    setup.create_connection("cin_b", "gmail")
    update = "UPDATE connector_instances SET display_name = %s WHERE connector_instance_id = %s"
    with psycopg.connect(pg_dsn) as mine, psycopg.connect(pg_dsn) as other:
        store = pyreference.connect(mine)  # the caller's connection, in its transaction
        if conflict == "deadlock":
            other.execute("SET deadlock_timeout = '30s'")  # so that the store's side detects it
            mine.execute(update, ["mine", "cin_b"])
            other.execute(update, ["other", "cin_a"])
            blocked = threading.Thread(target=lambda: other.execute(update, ["other", "cin_b"]))
            blocked.start()
            time.sleep(0.3)
        else:
            mine.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            mine.execute("SELECT count(*) FROM connector_instances")  # the snapshot
            other.execute(update, ["other", "cin_a"])
            other.commit()
        error = _typed(
            lambda: store.update_connection("cin_a", display_name="lost"),
            pyreference.TransactionConflict,
        )
        assert error.retryable and error.sqlstate == (
            "40P01" if conflict == "deadlock" else "40001"
        )
        mine.rollback()
        if conflict == "deadlock":
            blocked.join()
            other.commit()
        store.update_connection("cin_a", display_name="retried")
        mine.commit()
    summary = setup.get_connection_summary("cin_a", now=NOW)
    assert summary is not None and summary.display_name == "retried"
    setup.close()


@pytest.mark.postgres
def test_a_pool_with_no_free_connection_says_so(pg_dsn: str) -> None:
    """A caller's pool whose connections are all taken: DatabaseUnavailable saying they are
    busy while the server answers (psycopg_pool's PoolTimeout, an OperationalError, was
    reported as "cannot reach PostgreSQL")."""
    from psycopg_pool import ConnectionPool

    with ConnectionPool(pg_dsn, min_size=1, max_size=1, timeout=0.5, open=True) as pool:
        store = pyreference.connect(pool)
        with pool.connection():  # the only one
            error = _typed(
                lambda: store.list_connection_summaries(now=NOW), pyreference.DatabaseUnavailable
            )
        assert "busy (the server answers)" in str(error) and "cannot reach" not in str(error)
        assert store.list_connection_summaries(now=NOW).items == ()
