"""What a store puts on the wire is safe for a transaction pooler (PgBouncer).

PgBouncer in transaction pooling mode hands a client a server connection for every
message it sends while it holds none, and takes it back only at a ReadyForQuery that
ends a transaction. So after the reply that ends a read's transaction a client must
send nothing until its next statement: a stray Sync costs a server checkout, and a
stray Flush (which gets no ReadyForQuery) leaves a server with the idle client until it
runs another statement. psycopg's pipeline sent both after every owner read (`Sync`,
`Flush` after the pipeline's own sync); a few idle pooled connections then held all of
PgBouncer's servers and every other client waited until `query_wait_timeout` closed it
(CI: `DatabaseUnavailable: … cannot exit pipeline mode while busy`). These tests read
libpq's trace of every message, so they fail on any such message, whatever the timing.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool, ConnectionPool

import pyreference
from pyreference.errors import InvalidInput
from tests.support.scenario import NOW, small_fleet

pytestmark = pytest.mark.postgres

# Messages that do work and end with a ReadyForQuery of their own (a Query, or an
# extended-protocol statement run by its Execute and closed by a Sync).
_WORK = {"Query", "Execute"}


def _messages(trace: str) -> list[tuple[str, str]]:
    """(direction, message type) of each message of a libpq trace (F: sent, B: received)."""
    found = []
    for line in trace.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0] in ("F", "B"):
            found.append((parts[0], parts[2].split(" ", 1)[0]))
    return found


def pooler_violations(trace: str) -> list[str]:
    """What in `trace` a transaction pooler would mishandle: a Flush; a batch of messages
    between two ReadyForQuery that runs nothing (a lone Sync); messages sent after the
    last ReadyForQuery."""
    problems: list[str] = []
    batch: list[str] = []
    replies = 0
    for direction, kind in _messages(trace):
        if direction == "F":
            batch.append(kind)
            if kind == "Flush":
                problems.append(f"a Flush after reply {replies}")
        elif kind == "ReadyForQuery":
            replies += 1
            if not _WORK & set(batch):
                problems.append(f"messages that run nothing before reply {replies}: {batch}")
            batch = []
    if batch:
        problems.append(f"messages sent after the last reply: {batch}")
    return problems


class Tracer:
    """libpq's trace of every message of the connections it is given, in one file."""

    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix="pyref-trace-")
        os.close(fd)
        self.path = Path(name)
        self._traced: list[tuple[psycopg.pq.abc.PGconn, int]] = []

    def start(self, pgconn: psycopg.pq.abc.PGconn) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        pgconn.trace(fd)  # libpq writes through a FILE on fd: open until `stop`
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        self._traced.append((pgconn, fd))

    def stop(self) -> str:
        """End every trace (before the connections close: untracing flushes libpq's
        buffer); the text. The fd of a connection already closed stays open: its FILE may
        still hold bytes that the interpreter's exit writes, and they must land here."""
        for pgconn, fd in self._traced:
            if pgconn.status == psycopg.pq.ConnStatus.OK:
                pgconn.untrace()
                os.close(fd)
        self._traced = []
        text = self.path.read_text()
        self.path.unlink()
        return text


def _reads(store: pyreference.Store) -> None:
    page = store.list_connection_summaries(limit=2, now=NOW)
    store.list_connection_summaries(limit=2, cursor=page.next_cursor, now=NOW)
    assert store.get_connection_summary("cin_mail", NOW) is not None
    store.connection_diagnostics("cin_mail", NOW)


def test_reads_from_a_pool_send_nothing_after_their_transaction_ends(pg_dsn: str) -> None:
    with pyreference.connect(pg_dsn) as setup:
        small_fleet(setup)
    tracer = Tracer()
    with ConnectionPool(
        pg_dsn,
        min_size=1,
        max_size=1,
        kwargs={"autocommit": True, "prepare_threshold": None},
        configure=lambda conn: tracer.start(conn.pgconn),
    ) as pool:
        try:
            pool.wait()
            store = pyreference.connect(pool, prepare=False)
            for _ in range(3):
                _reads(store)
        finally:
            trace = tracer.stop()
    assert "ReadyForQuery" in trace
    assert pooler_violations(trace) == []


def test_async_reads_from_a_pool_send_nothing_after_their_transaction_ends(
    pg_dsn: str,
) -> None:
    with pyreference.connect(pg_dsn) as setup:
        small_fleet(setup)
    tracer = Tracer()

    async def configure(conn: psycopg.AsyncConnection) -> None:
        tracer.start(conn.pgconn)

    async def scenario() -> str:
        async with AsyncConnectionPool(
            pg_dsn,
            min_size=1,
            max_size=1,
            kwargs={"autocommit": True, "prepare_threshold": None},
            configure=configure,
            open=False,
        ) as pool:
            try:
                await pool.wait()
                store = await pyreference.connect_async(pool, prepare=False)
                for _ in range(3):
                    page = await store.list_connection_summaries(limit=2, now=NOW)
                    await store.list_connection_summaries(limit=2, cursor=page.next_cursor, now=NOW)
                    assert await store.get_connection_summary("cin_mail", NOW) is not None
                    await store.connection_diagnostics("cin_mail", NOW)
            finally:
                trace = tracer.stop()
        return trace

    trace = asyncio.run(scenario())
    assert "ReadyForQuery" in trace
    assert pooler_violations(trace) == []


def test_the_check_catches_the_pipeline_exit() -> None:
    # What psycopg's pipeline did after an owner read: the statements and a Sync, then,
    # once their replies were in, another Sync and a Flush.
    trace = "\n".join(
        [
            'F\t13\tParse\t "" "SELECT 1" 0',
            'F\t12\tBind\t "" "" 0 0 0',
            'F\t6\tDescribe\t P ""',
            'F\t9\tExecute\t "" 0',
            "F\t4\tSync",
            "B\t4\tParseComplete",
            'B\t13\tCommandComplete\t "SELECT 1"',
            "B\t5\tReadyForQuery\t I",
            "F\t4\tSync",
            "F\t4\tFlush",
            "B\t5\tReadyForQuery\t I",
        ]
    )
    assert pooler_violations(trace) == [
        "a Flush after reply 1",
        "messages that run nothing before reply 2: ['Sync', 'Flush']",
    ]
    assert pooler_violations("F\t4\tSync\nB\t5\tReadyForQuery\t I\nF\t4\tFlush") == [
        "messages that run nothing before reply 1: ['Sync']",
        "a Flush after reply 1",
        "messages sent after the last reply: ['Flush']",
    ]


@pytest.mark.parametrize("in_transaction", [False, True], ids=["autocommit", "in-transaction"])
def test_a_failed_owner_read_leaves_the_callers_connection_as_found(
    pg_dsn: str, in_transaction: bool
) -> None:
    with pyreference.connect(pg_dsn) as setup:
        small_fleet(setup)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        store = pyreference.connect(conn)
        if in_transaction:
            conn.execute("BEGIN")
        with pytest.raises(InvalidInput), store.database.session(owner=store.owner) as s:
            s.execute("SELECT 1 / 0")
        status = psycopg.pq.TransactionStatus
        assert conn.info.transaction_status == (status.INTRANS if in_transaction else status.IDLE)
        assert conn.execute("SELECT current_setting('pyref.owner', true)").fetchone()[0] in (
            None,
            "",
        )
        assert store.get_connection_summary("cin_mail", NOW) is not None
        if in_transaction:
            conn.execute("COMMIT")


def test_a_failed_async_owner_read_leaves_the_callers_connection_idle(pg_dsn: str) -> None:
    with pyreference.connect(pg_dsn) as setup:
        small_fleet(setup)

    async def scenario() -> None:
        conn = await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True)
        try:
            store = await pyreference.connect_async(conn)
            with pytest.raises(InvalidInput):
                async with store.database.session(owner=store.owner) as s:
                    await s.rows("SELECT 1 / 0")
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            cur = await conn.execute("SELECT current_setting('pyref.owner', true)")
            assert (await cur.fetchone())[0] in (None, "")
            assert await store.get_connection_summary("cin_mail", NOW) is not None
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_owner_reads_on_a_pool_not_in_autocommit_open_one_transaction(pg_dsn: str) -> None:
    # psycopg begins the transaction there (the pool's `connection()` commits it): the read
    # sends no BEGIN of its own (Postgres would warn "already a transaction in progress").
    with pyreference.connect(pg_dsn) as setup:
        small_fleet(setup)
    notices: list[str] = []

    def configure(conn: psycopg.Connection) -> None:
        conn.add_notice_handler(lambda diag: notices.append(str(diag.message_primary)))

    with ConnectionPool(
        pg_dsn, min_size=1, max_size=1, kwargs={"autocommit": False}, configure=configure
    ) as pool:
        store = pyreference.connect(pool)
        _reads(store)
        with pool.connection() as conn:
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert notices == []
