"""`reconcile(None)` settles the whole backlog; concurrent reconcilers share it (issue 13, #6).

A row another transaction holds is skipped before a batch is counted (it no longer makes
a batch short, nor ends the run); a run goes on while its batches make progress; a
connection that fails is tried once per run; N reconcilers at once each take a part and
together take exactly the backlog.
"""

from __future__ import annotations

import psycopg
import pytest

import pyreference
from pyreference.maintenance import BATCH
from pyreference.store import Store
from tests.support.scenario import register
from tests.support.together import together

BACKLOG = 3 * BATCH + 137  # several batches, the last one short


def _dirty_backlog(store: Store, n: int) -> list[str]:
    """`n` connections, each with a record written after the last reconcile."""
    register(store, "gmail")
    ids = [f"cin_{i:05d}" for i in range(n)]
    for start in range(0, n, 500):
        for cid in ids[start : start + 500]:
            store.create_connection(cid, "gmail", created_at="2026-11-01T00:00:00Z")
    store.reconcile()
    with store.database.session(transaction=True) as s:
        for cid in ids:
            s.execute(
                "INSERT INTO records (connector_instance_id, stream, record_key, record_json,"
                " emitted_at) VALUES (:c, 'messages', 'k', '{}', '2026-11-02T00:00:00.000000Z')"
                if store.dialect == "sqlite"
                else "INSERT INTO records (connector_instance_id, stream, record_key, record_json,"
                " emitted_at) VALUES (%(c)s, 'messages', 'k', '{}', '2026-11-02T00:00:00Z')",
                {"c": cid},
            )
    assert store.dirty_backlog()["dirty_connections"] == n
    return ids


def test_reconcile_none_settles_a_backlog_of_several_batches(store: Store) -> None:
    _dirty_backlog(store, BACKLOG)
    assert store.reconcile() == BACKLOG
    assert store.dirty_backlog()["dirty_connections"] == 0
    assert store.verify() == []


def test_a_failing_connection_is_tried_once_and_stops_nothing(store: Store) -> None:
    ids = _dirty_backlog(store, BATCH + 10)
    bad = ids[0]  # the oldest mark: claimed first
    if store.dialect == "sqlite":
        fault = [
            f"""CREATE TRIGGER pyref_test_fault BEFORE UPDATE ON pyref_evidence
                WHEN NEW.connector_instance_id = '{bad}' AND NEW.state = 'ok'
                BEGIN SELECT RAISE(ABORT, 'boom'); END"""
        ]
    else:
        fault = [
            f"""CREATE FUNCTION pyref_test_fault() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.connector_instance_id = '{bad}' AND NEW.state = 'ok' THEN
                        RAISE EXCEPTION 'boom';
                    END IF;
                    RETURN NEW;
                END $$""",
            """CREATE TRIGGER pyref_test_fault BEFORE UPDATE ON pyref_evidence
               FOR EACH ROW EXECUTE FUNCTION pyref_test_fault()""",
        ]
    with store.database.session(transaction=True) as s:
        for statement in fault:
            s.execute(statement)
    report = store.reconcile_report()
    assert (report.reconciled, report.failed) == (BATCH + 9, 1)  # failed once, not per batch
    assert store.dirty_backlog()["dirty_connections"] == 1
    # The next run tries it again (failed rows go last, they are not given up on).
    assert (store.reconcile_report().failed, store.dirty_backlog()["dirty_connections"]) == (1, 1)


@pytest.mark.postgres
def test_a_locked_row_is_skipped_not_the_end_of_the_run(pg_store: Store, pg_dsn: str) -> None:
    ids = _dirty_backlog(pg_store, BACKLOG)
    holder = psycopg.connect(pg_dsn)  # an open transaction holding one evidence row
    holder.execute(
        "SELECT 1 FROM pyref_evidence WHERE connector_instance_id = %s FOR UPDATE", (ids[3],)
    )
    try:
        assert pg_store.reconcile() == BACKLOG - 1
        assert pg_store.dirty_backlog()["dirty_connections"] == 1
        assert pg_store.reconcile(limit=BATCH) == 0  # still held: nothing else to do
    finally:
        holder.rollback()
        holder.close()
    assert pg_store.reconcile() == 1
    assert pg_store.verify() == []


@pytest.mark.postgres
def test_concurrent_reconcilers_share_the_backlog(pg_store: Store, pg_dsn: str) -> None:
    backlog = 8 * BATCH
    _dirty_backlog(pg_store, backlog)
    workers = 4
    stores = [pyreference.connect(pg_dsn) for _ in range(workers)]
    # Open each store's connection before the start line, so no worker is still
    # connecting while the others drain the whole backlog.
    for s in stores:
        s.dirty_backlog()
    counts, errors = together(workers, lambda i: stores[i].reconcile())
    for s in stores:
        s.close()
    assert errors == []
    assert sum(counts) == backlog, counts  # each row exactly once
    # Shared, not serialized: more than one did a part (a worker the scheduler starts late
    # may find the backlog gone; that a locked row is skipped is tested above, exactly).
    assert sum(c > 0 for c in counts) >= 2, counts
    assert pg_store.dirty_backlog()["dirty_connections"] == 0
    assert pg_store.verify() == []


@pytest.mark.postgres
def test_0009_rolls_back_and_forward(pg_store: Store, pg_dsn: str) -> None:
    from yoyo import get_backend, read_migrations

    from pyreference import sqlfiles
    from pyreference.errors import SchemaNotReady

    _dirty_backlog(pg_store, 3)
    # pyref_reconcile_v1 knows marks only: records moved back in time mark each connection
    # too (new content alone would leave deltas, 0031).
    q = "UPDATE records SET emitted_at = emitted_at - interval '1 day'"
    with pg_store.database.session(transaction=True) as s:
        s.execute(q)
    backend = get_backend(pg_dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    migrations = read_migrations(str(sqlfiles.migrations_dir("postgres")))
    with backend.lock():
        backend.rollback_migrations(
            migrations.filter(lambda m: m.id == "0009_reconcile_skip_locked")
        )
    backend.connection.close()
    with pytest.raises(SchemaNotReady):
        pg_store.reconcile()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # v1 is untouched
        assert conn.execute("SELECT reconciled FROM pyref_reconcile_v1(1)").fetchone() == (1,)
    assert pg_store.migrate() == ["0009_reconcile_skip_locked"]
    assert pg_store.reconcile() == 2
    assert pg_store.verify() == []
