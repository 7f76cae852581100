"""The store behind a real PgBouncer in transaction pooling mode (issue 13, item 2).

PgBouncer (Debian package `pgbouncer`) runs as an unprivileged user on a free local
port with fewer server connections than clients, so statements of one client land on
different backends. With `prepare=False` every read and write succeeds from several
threads; with psycopg's default auto-prepare the same load fails, with a typed error
that names the fix.

A transaction pooler also needs a client to send nothing after the reply that ends its
transaction: PgBouncer hands a server connection to each message of a client that holds
none, and a Flush gets no ReadyForQuery to take it back (the control below).
`test_pooler_safe_wire.py` checks every message of the store's reads for that.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg
import pytest

import pyreference
from pyreference.errors import DatabaseUnavailable
from tests.support import pgbouncer
from tests.support.scenario import NOW, records, run, small_fleet
from tests.support.together import together

pytestmark = pytest.mark.postgres

THREADS = 4
READS = 30  # per thread: well past psycopg's prepare threshold (5 runs of a statement)


@pytest.fixture
def bouncer(pg_admin_dsn: str):
    with pgbouncer.running(pg_admin_dsn, pool_mode="transaction", pool_size=2) as b:
        yield b


def _load(store: pyreference.Store, worker: int) -> None:
    """Reads of every kind, and writes of this worker's own connection."""
    cid = f"cin_bouncer_{worker}"
    store.create_connection(cid, "gmail", created_at="2026-11-23T10:00:00Z")
    for i in range(READS):
        store.list_connection_summaries(limit=3, now=NOW)
        store.get_connection_summary("cin_mail", NOW)
        if i % 5 == 0:
            store.ingest_records(cid, "messages", records(2, prefix=f"w{i}-"))
            store.append_events(run(f"run_{worker}_{i}", connection_id=cid))
            store.connection_diagnostics(cid, NOW)
            store.reconcile(limit=10)


def _hammer(store: pyreference.Store) -> list[BaseException]:
    return together(THREADS, lambda worker: _load(store, worker))[1]


def _through(bouncer: pgbouncer.Bouncer, pg_dsn: str) -> str:
    return bouncer.url(urlsplit(pg_dsn).path.lstrip("/"))


def test_no_failures_with_prepare_off(bouncer, pg_dsn: str) -> None:
    with pyreference.connect(pg_dsn) as direct:
        small_fleet(direct)
    with pyreference.connect(_through(bouncer, pg_dsn), prepare=False) as store:
        errors = _hammer(store)
        assert errors == [], bouncer.log_tail()
        store.reconcile()
        assert store.verify() == []
        page = store.list_connection_summaries(limit=100, now=NOW)
    assert {f"cin_bouncer_{w}" for w in range(THREADS)} <= {s.connection_id for s in page.items}


def test_prepare_off_from_the_environment(bouncer, pg_dsn: str, monkeypatch) -> None:
    with pyreference.connect(pg_dsn) as direct:
        small_fleet(direct)
    monkeypatch.setenv("PYREFERENCE_PREPARE", "off")
    with pyreference.connect(_through(bouncer, pg_dsn)) as store:
        errors = _hammer(store)
        assert errors == [], bouncer.log_tail()


def test_default_auto_prepare_fails_there_with_a_typed_error(bouncer, pg_dsn: str) -> None:
    # The control: this is what prepare=False prevents.
    with pyreference.connect(pg_dsn) as direct:
        small_fleet(direct)
    with pyreference.connect(_through(bouncer, pg_dsn), prepare=True) as store:
        errors = _hammer(store)
    assert errors, "auto-prepared statements behind transaction pooling should have failed"
    assert all(isinstance(e, DatabaseUnavailable) for e in errors), errors
    assert any("prepare=False" in str(e) for e in errors)


def test_a_lone_flush_holds_the_server_there(pg_admin_dsn: str) -> None:
    # The control for the rule the store's reads keep (test_pooler_safe_wire.py): what
    # psycopg's pipeline sent after each owner read, a Flush after the transaction ended,
    # takes PgBouncer's only server and keeps it while the client is idle.
    with pgbouncer.running(pg_admin_dsn, pool_size=1, query_wait_timeout=2) as b:
        url = _through(b, pg_admin_dsn)
        with psycopg.connect(url, autocommit=True) as idle:
            idle.execute("SELECT 1")
            idle.pgconn.send_flush_request()
            assert idle.pgconn.flush() == 0
            with (
                psycopg.connect(url, autocommit=True) as waiting,
                pytest.raises(psycopg.OperationalError, match="query_wait_timeout"),
            ):
                waiting.execute("SELECT 1")
            assert idle.execute("SELECT 2").fetchone() == (2,)  # its ReadyForQuery frees it
            with psycopg.connect(url, autocommit=True) as other:
                assert other.execute("SELECT 1").fetchone() == (1,)


def test_idle_readers_hold_no_server_there(pg_dsn: str) -> None:
    # Two readers through one server connection, each idle while the other reads: any
    # message sent after a read's transaction would starve the other (query_wait_timeout).
    # End to end only: the old trailing Flush starved it when it reached PgBouncer after
    # the reply, which takes a loaded machine; test_pooler_safe_wire.py is deterministic.
    with pyreference.connect(pg_dsn) as direct:
        small_fleet(direct)
    with pgbouncer.running(pg_dsn, pool_size=1, query_wait_timeout=5) as b:
        url = _through(b, pg_dsn)
        with (
            psycopg.connect(url, autocommit=True, prepare_threshold=None) as first,
            psycopg.connect(url, autocommit=True, prepare_threshold=None) as second,
        ):
            readers = [pyreference.connect(conn, prepare=False) for conn in (first, second)]
            for i in range(20):
                reader = readers[i % 2]
                assert reader.list_connection_summaries(limit=3, now=NOW).items, b.log_tail()
                assert reader.get_connection_summary("cin_mail", NOW) is not None
