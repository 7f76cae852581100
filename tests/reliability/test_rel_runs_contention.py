"""Issue 10, case 6 on Postgres: run-event writers never wait on each other, the triggers add
no serialization failures, and the failures that do happen are typed as retryable."""

from __future__ import annotations

import random
import threading
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from rel_support import NOW, seed_connectors, sql

import pyreference
from pyreference.errors import TransactionConflict
from pyreference.store import Store

pytestmark = pytest.mark.postgres

INSERT = (
    "INSERT INTO spine_events (event_id, event_type, occurred_at, run_id, connector_instance_id)"
    " VALUES (%s, %s, %s, %s, %s)"
)


def _pg(dsn: str, isolation: str = "read committed") -> psycopg.Connection[Any]:
    conn = psycopg.connect(dsn)
    conn.execute("SET lock_timeout = '3s'")
    conn.execute(f"SET default_transaction_isolation = '{isolation}'")
    conn.commit()
    return conn


@pytest.fixture
def fleet(pg_store: Store) -> Store:
    seed_connectors(pg_store)
    for cid in ("c1", "c2", "c3", "c4"):
        pg_store.create_connection(cid, "alpha")
    pg_store.reconcile()
    return pg_store


@pytest.mark.parametrize("isolation", ["read committed", "repeatable read", "serializable"])
def test_progress_events_of_two_runs_in_opposite_order_do_not_deadlock(
    fleet: Store, pg_dsn: str, isolation: str
) -> None:
    """Issue case 6: T1 writes r1 then r2, T2 writes r2 then r1, statement by statement.
    Nothing may wait (lock_timeout 3 s would fail the statement); both commit."""
    t1, t2 = _pg(pg_dsn, isolation), _pg(pg_dsn, isolation)
    for conn, run, cid in ((t1, "r1", "c1"), (t2, "r2", "c2")):
        conn.execute(INSERT, (f"{run}-start", "run.started", "2024-05-01T00:00:00Z", run, cid))
        conn.commit()
    t1.execute(INSERT, ("t1-r1", "run.progress_reported", "2024-05-01T00:01:00Z", "r1", None))
    t2.execute(INSERT, ("t2-r2", "run.progress_reported", "2024-05-01T00:01:00Z", "r2", None))
    t1.execute(INSERT, ("t1-r2", "run.progress_reported", "2024-05-01T00:02:00Z", "r2", None))
    t2.execute(INSERT, ("t2-r1", "run.progress_reported", "2024-05-01T00:02:00Z", "r1", None))
    t1.execute(INSERT, ("t1-r2-end", "run.completed", "2024-05-01T00:03:00Z", "r2", None))
    t2.execute(INSERT, ("t2-r1-end", "run.failed", "2024-05-01T00:03:00Z", "r1", None))
    t1.commit()
    t2.commit()
    t1.close(), t2.close()
    assert fleet.get_connection_summary("c1", now=NOW).last_run.status == "failed"
    assert fleet.get_connection_summary("c2", now=NOW).last_run.status == "succeeded"
    fleet.reconcile()
    assert fleet.verify() == []


def _writers(
    dsn: str, isolation: str, writers: int, transactions: int, tag: str
) -> tuple[int, int]:
    """`writers` connections appending run events concurrently with plain INSERTs (the
    canonical write alone: no read first), each transaction the events of two runs in
    random order on shared connections. Returns (serialization failures, commits)."""
    failures = 0
    commits = 0
    lock = threading.Lock()
    barrier = threading.Barrier(writers)
    problems: list[str] = []

    def work(w: int) -> None:
        nonlocal failures, commits
        rng = random.Random(w)
        conn = _pg(dsn, isolation)
        barrier.wait()
        try:
            for t in range(transactions):
                runs = [f"{tag}-w{w}-t{t}-a", f"{tag}-w{w}-t{t}-b"]
                rng.shuffle(runs)
                try:
                    for k, run in enumerate(runs):
                        cid = rng.choice(["c1", "c2", "c3", "c4"])
                        conn.execute(
                            INSERT, (f"{run}-s", "run.started", "2024-05-01T00:00:00Z", run, cid)
                        )
                        end = rng.choice(["run.completed", "run.failed"])
                        conn.execute(
                            INSERT, (f"{run}-e", end, f"2024-05-01T00:0{k + 1}:00Z", run, None)
                        )
                    conn.commit()
                    with lock:
                        commits += 1
                except psycopg.errors.SerializationFailure:
                    conn.rollback()
                    with lock:
                        failures += 1
        except Exception as exc:  # a deadlock or a lock timeout fails the test
            with lock:
                problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not problems, problems
    return failures, commits


@pytest.mark.parametrize("isolation", ["repeatable read", "serializable"])
def test_triggers_add_no_serialization_failures(fleet: Store, pg_dsn: str, isolation: str) -> None:
    """Issue case 6: several writers under REPEATABLE READ / SERIALIZABLE. The canonical
    writes alone never fail; with the triggers on they still never do (the triggers only
    append, and read no table a run-event writer writes)."""
    on = _writers(pg_dsn, isolation, writers=6, transactions=15, tag="on")
    sql(fleet, "ALTER TABLE spine_events DISABLE TRIGGER USER")
    try:
        off = _writers(pg_dsn, isolation, writers=6, transactions=15, tag="off")
    finally:
        sql(fleet, "ALTER TABLE spine_events ENABLE TRIGGER USER")
    assert on == (0, 90) and off == (0, 90), {"triggers_on": on, "triggers_off": off}
    assert fleet.get_connection_summary("c1", now=NOW) is not None
    fleet.reconcile()
    # The events written with the triggers off have no facts: verify says so (0016) and
    # rebuild records them, as after any bulk load done with triggers disabled.
    assert all(d["differing"] == ["run_facts"] for d in fleet.verify())
    fleet.rebuild()
    assert fleet.verify() == []


def test_a_serialization_failure_is_typed_as_retryable(fleet: Store, pg_dsn: str) -> None:
    """A REPEATABLE READ update that loses to a concurrent one: TransactionConflict, not
    "cannot reach PostgreSQL"."""
    opts = quote("-c default_transaction_isolation=repeatable\\ read")
    sep = "&" if "?" in pg_dsn else "?"
    store = pyreference.connect(f"{pg_dsn}{sep}options={opts}")
    holder = _pg(pg_dsn)
    holder.execute(
        "UPDATE connector_instances SET display_name = 'held' WHERE connector_instance_id = 'c1'"
    )
    outcome: list[BaseException] = []

    def update() -> None:
        try:
            with store.database.session(transaction=True) as s:
                s.execute("SELECT 1 FROM connector_instances")  # take the snapshot
                s.execute(
                    "UPDATE connector_instances SET display_name = 'mine'"
                    " WHERE connector_instance_id = 'c1'"
                )
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=update)
    thread.start()
    thread.join(0.5)
    holder.commit()
    thread.join(10)
    holder.close()
    store.close()
    assert len(outcome) == 1 and isinstance(outcome[0], TransactionConflict), outcome
    assert outcome[0].retryable and "cannot reach" not in str(outcome[0])


def test_bulk_copy_marks_each_connection_once(fleet: Store, pg_dsn: str) -> None:
    """Issue case 7: one COPY of run events for many connections: one dirty mark per
    connection, one run mark for the statement."""
    ids = [f"b{i:03d}" for i in range(50)]
    with (
        psycopg.connect(pg_dsn, autocommit=True) as conn,
        conn.cursor().copy(
            "COPY connector_instances (connector_instance_id, connector_id) FROM STDIN"
        ) as copy,
    ):
        for cid in ids:
            copy.write_row((cid, "alpha"))
    fleet.reconcile()
    rows = []
    for i in range(1000):
        cid = ids[i % len(ids)]
        run = f"{cid}-r"
        kind = (
            "run.started" if i < 200 else ("run.completed" if i >= 800 else "run.progress_reported")
        )
        rows.append(
            (f"ev{i}", kind, f"2024-05-01T00:{i // 100:02d}:00Z", run, cid if i < 200 else None)
        )
    with (
        psycopg.connect(pg_dsn, autocommit=True) as conn,
        conn.cursor().copy(
            "COPY spine_events (event_id, event_type, occurred_at, run_id, connector_instance_id)"
            " FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)
    marks = sql(fleet, "SELECT connector_instance_id, count(*) AS n FROM pyref_dirty GROUP BY 1")
    assert {r["connector_instance_id"] for r in marks} == set(ids)
    assert all(r["n"] == 1 for r in marks)
    assert sql(fleet, "SELECT count(*) AS n FROM pyref_dirty_runs")[0]["n"] == 1
    assert fleet.get_connection_summary("b007", now=NOW).last_run.status == "succeeded"
    fleet.reconcile()
    assert fleet.verify() == [] and fleet.dirty_backlog()["run_marks"] == 0
