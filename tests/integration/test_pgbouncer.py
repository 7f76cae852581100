"""The store behind a real PgBouncer in transaction pooling mode (issue 13, item 2).

PgBouncer (Debian package `pgbouncer`) runs as an unprivileged user on a free local
port with fewer server connections than clients, so statements of one client land on
different backends. With `prepare=False` every read and write succeeds from several
threads; with psycopg's default auto-prepare the same load fails, with a typed error
that names the fix.
"""

from __future__ import annotations

from urllib.parse import urlsplit

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
        assert _hammer(store) == []
        store.reconcile()
        assert store.verify() == []
        page = store.list_connection_summaries(limit=100, now=NOW)
    assert {f"cin_bouncer_{w}" for w in range(THREADS)} <= {s.connection_id for s in page.items}


def test_prepare_off_from_the_environment(bouncer, pg_dsn: str, monkeypatch) -> None:
    with pyreference.connect(pg_dsn) as direct:
        small_fleet(direct)
    monkeypatch.setenv("PYREFERENCE_PREPARE", "off")
    with pyreference.connect(_through(bouncer, pg_dsn)) as store:
        assert _hammer(store) == []


def test_default_auto_prepare_fails_there_with_a_typed_error(bouncer, pg_dsn: str) -> None:
    # The control: this is what prepare=False prevents.
    with pyreference.connect(pg_dsn) as direct:
        small_fleet(direct)
    with pyreference.connect(_through(bouncer, pg_dsn), prepare=True) as store:
        errors = _hammer(store)
    assert errors, "auto-prepared statements behind transaction pooling should have failed"
    assert all(isinstance(e, DatabaseUnavailable) for e in errors), errors
    assert any("prepare=False" in str(e) for e in errors)
