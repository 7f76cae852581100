"""R8 on Postgres: no lost updates under concurrency, deterministic races, no deadlocks."""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections import Counter
from typing import Any

import psycopg
import pytest
from rel_support import NOW, owed, reconciler_worker, seed_connectors, sql, writer_worker

import pyreference
from pyreference.store import Store

pytestmark = pytest.mark.postgres


def _pg(dsn: str, autocommit: bool = False) -> psycopg.Connection[Any]:
    conn = psycopg.connect(dsn, autocommit=autocommit)
    conn.execute("SET lock_timeout = '5s'")
    conn.execute("SET statement_timeout = '15s'")
    if not autocommit:
        conn.commit()
    return conn


def _dirty(store: Store, cid: str) -> bool:
    return owed(store, cid)


def _stored_live(store: Store, cid: str, stream: str = "s1") -> int | None:
    rows = sql(
        store,
        "SELECT stream_stats FROM pyref_evidence WHERE connector_instance_id = %(c)s",
        {"c": cid},
    )
    for s in store.database.loads(rows[0]["stream_stats"]) or []:
        if s["stream"] == stream:
            return int(s["live"])
    return None


def _stored_bytes(store: Store, cid: str) -> int:
    rows = sql(
        store,
        "SELECT stream_stats FROM pyref_evidence WHERE connector_instance_id = %(c)s",
        {"c": cid},
    )
    return sum(int(s["bytes"]) for s in store.database.loads(rows[0]["stream_stats"]) or [])


def _true_bytes(store: Store, cid: str) -> int:
    rows = sql(
        store,
        "SELECT coalesce(sum(octet_length(record_json::text)), 0) AS n FROM records"
        " WHERE connector_instance_id = %(c)s AND NOT deleted",
        {"c": cid},
    )
    return int(rows[0]["n"])


def _count(store: Store, cid: str) -> int | None:
    summary = store.get_connection_summary(cid, now=NOW)
    assert summary is not None
    return {r.stream: r.record_count for r in summary.stream_records}.get("s1")


@pytest.fixture
def fleet(pg_store: Store) -> Store:
    seed_connectors(pg_store)
    for cid in ("c0", "c1", "c2", "c3"):
        pg_store.create_connection(cid, "alpha")
    pg_store.ingest_records("c0", "s1", [{"key": "a", "data": {"v": 1}}])
    pg_store.reconcile()
    return pg_store


# -- (a) a reconcile that read older state must not clear a newer dirty mark -------


def _manual_reconcile(
    conn: psycopg.Connection[Any], cid: str, *, naive: bool, between: Any
) -> None:
    """pyref_reconcile_v1's steps by hand, in one transaction, with `between` hooks."""
    cur = conn.cursor()
    claimed = cur.execute(
        "SELECT connector_instance_id FROM pyref_evidence WHERE connector_instance_id = %s "
        "FOR UPDATE SKIP LOCKED",
        (cid,),
    ).fetchall()
    assert claimed == [(cid,)]
    between("after_claim")
    seqs = cur.execute(
        "SELECT array_agg(dirty_seq) FROM pyref_dirty WHERE connector_instance_id = %s", (cid,)
    ).fetchone()[0]
    between("after_snapshot")
    cur.execute("SELECT pyref_refresh_evidence_v1(ARRAY[%s])", (cid,))  # recompute via the view
    between("after_recompute")
    if naive:  # the lost-update bug: clear by connection, not by consumed entry
        cur.execute("DELETE FROM pyref_dirty WHERE connector_instance_id = %s", (cid,))
    else:
        cur.execute("DELETE FROM pyref_dirty WHERE dirty_seq = ANY(%s)", (seqs,))
    conn.commit()


@pytest.mark.parametrize("moment", ["after_claim", "after_snapshot", "after_recompute"])
def test_write_committed_during_reconcile_stays_dirty(
    fleet: Store, pg_dsn: str, moment: str
) -> None:
    fleet.ingest_records("c0", "s1", [{"key": "b", "data": {"v": 2}}])  # dirty, 2 live
    conn = _pg(pg_dsn)

    def between(step: str) -> None:
        if step == moment:  # another process writes and commits right here
            fleet.ingest_records("c0", "s1", [{"key": "c", "data": {"v": 3}}])

    _manual_reconcile(conn, "c0", naive=False, between=between)
    conn.close()
    stored = _stored_live(fleet, "c0")
    # Either the recompute saw the write, or the write's mark survived the reconcile.
    assert stored == 3 or _dirty(fleet, "c0"), (moment, stored)
    if moment == "after_recompute":
        assert stored == 2 and _dirty(fleet, "c0")
    assert fleet.verify() == []
    assert _count(fleet, "c0") == 3
    fleet.reconcile()
    assert _stored_live(fleet, "c0") == 3 and not _dirty(fleet, "c0")
    assert fleet.verify() == []


def test_naive_clear_by_connection_would_lose_the_update(fleet: Store, pg_dsn: str) -> None:
    """Control: the same race with a naive clear loses the mark, and the suite sees it. The
    writes change a record and move it back in time (such an UPDATE marks; an INSERT or new
    content alone leaves a delta, which the clear of marks does not touch)."""
    fleet.ingest_records("c0", "s1", [{"key": "a", "data": {"v": 22}}])
    conn = _pg(pg_dsn)
    _manual_reconcile(
        conn,
        "c0",
        naive=True,
        between=lambda step: (
            step == "after_recompute"
            and fleet.ingest_records(
                "c0", "s1", [{"key": "a", "data": {"v": 333}, "emitted_at": "2020-01-01T00:00:00Z"}]
            )
        ),
    )
    conn.close()
    assert not _dirty(fleet, "c0") and _stored_bytes(fleet, "c0") != _true_bytes(fleet, "c0")
    assert fleet.verify() == [{"connection_id": "c0", "differing": ["stream_stats"]}]
    fleet.rebuild()
    assert fleet.verify() == []


def test_real_reconcile_paused_mid_recompute_keeps_concurrent_mark(
    fleet: Store, pg_dsn: str
) -> None:
    """The real pyref_reconcile_v2, held inside its evidence upsert by a test-only trigger
    waiting on an advisory lock, while a writer commits a record for the same connection.
    One batch (limit=1): an unlimited reconcile would go on and settle the new mark too."""
    admin = _pg(pg_dsn, autocommit=True)
    admin.execute("""
        CREATE FUNCTION pyref_test_hold() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NEW; END $$""")
    admin.execute("""CREATE TRIGGER pyref_test_hold BEFORE UPDATE ON pyref_evidence
                     FOR EACH ROW EXECUTE FUNCTION pyref_test_hold()""")
    fleet.ingest_records("c0", "s1", [{"key": "b", "data": {"v": 2}}])
    admin.execute("SELECT pg_advisory_lock(4242)")
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["n"] = fleet.reconcile(limit=1)
        except Exception as exc:
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = admin.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchone()[0]
        if waiting:
            break
        time.sleep(0.01)
    else:
        pytest.fail("the reconcile never reached the evidence upsert")
    fleet.ingest_records("c0", "s1", [{"key": "c", "data": {"v": 3}}])  # commits while it waits
    admin.execute("SELECT pg_advisory_unlock(4242)")
    thread.join(15)
    assert not thread.is_alive() and "error" not in result, result
    assert _stored_live(fleet, "c0") == 2  # its recompute read the older state...
    assert _dirty(fleet, "c0")  # ...so the writer's mark survives
    assert fleet.verify() == []
    assert _count(fleet, "c0") == 3
    admin.execute("DROP TRIGGER pyref_test_hold ON pyref_evidence")
    admin.close()
    assert fleet.reconcile() == 1
    assert _stored_live(fleet, "c0") == 3 and not _dirty(fleet, "c0")
    assert fleet.verify() == []


# -- (b) event_seq order is not commit order ----------------------------------------

INSERT_EVENT = """
INSERT INTO spine_events
    (event_seq, event_id, event_type, occurred_at, run_id, connector_instance_id)
VALUES (coalesce(%(seq)s, nextval(pg_get_serial_sequence('spine_events', 'event_seq'))),
        %(id)s, %(type)s, %(at)s, %(run)s, %(cid)s)
"""


def test_lower_seq_committing_after_higher_is_not_skipped(fleet: Store, pg_dsn: str) -> None:
    t1, t2 = _pg(pg_dsn), _pg(pg_dsn)
    # T1 takes seq n for run.started and waits before writing it.
    n = t1.execute(
        "SELECT nextval(pg_get_serial_sequence('spine_events', 'event_seq'))"
    ).fetchone()[0]
    # T2 writes run.completed (seq n+1) and commits first.
    t2.execute(
        INSERT_EVENT,
        {
            "seq": None,
            "id": "x-end",
            "type": "run.completed",
            "at": "2024-05-01T00:05:00Z",
            "run": "X",
            "cid": "c1",
        },
    )
    t2.commit()
    seq2 = sql(fleet, "SELECT event_seq FROM spine_events WHERE event_id = 'x-end'")[0]["event_seq"]
    assert seq2 > n
    t1.execute(
        INSERT_EVENT,
        {
            "seq": n,
            "id": "x-start",
            "type": "run.started",
            "at": "2024-05-01T00:00:00Z",
            "run": "X",
            "cid": "c1",
        },
    )
    t1.commit()
    t1.close(), t2.close()
    summary = fleet.get_connection_summary("c1", now=NOW)  # read dirty: from the spine
    assert summary is not None and summary.last_run is not None
    assert summary.last_run.status == "succeeded"
    fleet.reconcile()  # pyref_runs is kept by reconcile
    run = sql(fleet, "SELECT status, started_at, completed_at FROM pyref_runs WHERE run_id = 'X'")
    assert len(run) == 1 and run[0]["status"] == "succeeded" and run[0]["started_at"] is not None
    summary = fleet.get_connection_summary("c1", now=NOW)
    assert summary is not None and summary.last_run is not None
    assert summary.last_run.status == "succeeded"
    assert summary.last_run.started_at == "2024-05-01T00:00:00.000000Z"
    assert summary.last_run.finished_at == "2024-05-01T00:05:00.000000Z"
    assert fleet.verify() == []
    fleet.reconcile()
    assert fleet.verify() == []
    after = fleet.get_connection_summary("c1", now=NOW)
    assert after is not None and after.last_run == summary.last_run


def test_open_transaction_on_same_run_blocks_then_merges(fleet: Store, pg_dsn: str) -> None:
    """T1 inserts run.started (seq n) and holds; T2's run.completed (seq n+1) waits on the run
    row rather than skipping anything; both commit; the run ends succeeded with started_at."""
    t1 = _pg(pg_dsn)
    t1.execute(
        INSERT_EVENT,
        {
            "seq": None,
            "id": "y-start",
            "type": "run.started",
            "at": "2024-05-01T00:00:00Z",
            "run": "Y",
            "cid": "c2",
        },
    )
    done = threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        try:
            fleet.append_events(
                [
                    {
                        "event_id": "y-end",
                        "event_type": "run.completed",
                        "occurred_at": "2024-05-01T00:05:00Z",
                        "run_id": "Y",
                        "connection_id": "c2",
                    }
                ]
            )
        except BaseException as exc:
            errors.append(exc)
        done.set()

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.3)
    t1.commit()
    thread.join(10)
    t1.close()
    assert done.is_set() and not errors, errors
    seqs = sql(
        fleet, "SELECT event_id, event_seq FROM spine_events WHERE run_id = 'Y' ORDER BY event_seq"
    )
    assert [r["event_id"] for r in seqs] == ["y-start", "y-end"]
    summary = fleet.get_connection_summary("c2", now=NOW)
    assert summary is not None and summary.last_run is not None
    assert (summary.last_run.status, summary.last_run.started_at) == (
        "succeeded",
        "2024-05-01T00:00:00.000000Z",
    )
    assert fleet.verify() == []


def test_two_reconcilers_share_work_without_waiting(fleet: Store, pg_dsn: str) -> None:
    """SKIP LOCKED: a reconcile holding c0 does not block a second one, which takes the rest."""
    for cid in ("c0", "c1", "c2", "c3"):
        fleet.ingest_records(cid, "s1", [{"key": "z", "data": {"v": cid}}])
    t1 = _pg(pg_dsn)
    t1.execute("SELECT 1 FROM pyref_evidence WHERE connector_instance_id = 'c0' FOR UPDATE")
    other = pyreference.connect(pg_dsn)
    started = time.monotonic()
    assert other.reconcile() == 3
    assert time.monotonic() - started < 3
    other.close()
    t1.rollback(), t1.close()
    assert _dirty(fleet, "c0")
    assert fleet.reconcile() == 1
    assert fleet.verify() == []


# -- multi-process load --------------------------------------------------------------


def test_multiprocess_writers_and_reconcilers(fleet: Store, pg_dsn: str) -> None:
    for cid in ("w0", "w1", "w2"):
        fleet.create_connection(cid, "alpha")
    fleet.reconcile()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    deadline = time.monotonic() + 6.0
    procs = []
    for w in range(3):
        shared = ["c0", "c1", "c2", "c3", f"w{w}"]
        procs.append(
            ctx.Process(target=writer_worker, args=(pg_dsn, w, shared, deadline + 2.0, 400, out))
        )
    for r in range(2):
        procs.append(
            ctx.Process(target=reconciler_worker, args=(pg_dsn, r, deadline + 2.5, 2000, out))
        )
    for p in procs:
        p.start()
    results: dict[Any, Any] = {}
    try:
        for _ in procs:
            key, value = out.get(timeout=40)
            results[key] = value
    except queue.Empty:
        pytest.fail(f"workers did not report in time: {sorted(results, key=str)}")
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    errors = {k: v["errors"] for k, v in results.items() if v["errors"]}
    assert not errors, errors  # includes lock/statement timeouts: a deadlock fails loudly
    assert sum(results[f"reconciler-{r}"]["calls"] for r in range(2)) > 0
    assert all(results[f"reconciler-{r}"]["failed"] == 0 for r in range(2))

    fleet.reconcile()
    assert fleet.verify() == []
    assert fleet.dirty_backlog()["dirty_marks"] == 0

    live: Counter[str] = Counter({"c0": 1})  # the fixture's record
    events: list[str] = []
    runs: dict[str, tuple[str, str]] = {}
    deleted: list[str] = []
    for w in range(3):
        written = results[w]
        for key in written["records"]:
            live[key.split("|")[0]] += 1
        deleted += written["deleted"]
        events += written["events"]
        runs.update(written["runs"])
    assert sum(live.values()) > 20, "the load test wrote too little to mean anything"
    rows = sql(
        fleet,
        "SELECT connector_instance_id AS c, count(*) AS n FROM records"
        " WHERE NOT deleted GROUP BY 1",
    )
    assert {r["c"]: r["n"] for r in rows} == {k: v for k, v in live.items() if v}
    if deleted:
        gone = sql(fleet, "SELECT count(*) AS n FROM records WHERE deleted")[0]["n"]
        assert gone == len(deleted)
    stored_events = {r["event_id"] for r in sql(fleet, "SELECT event_id FROM spine_events")}
    assert set(events) <= stored_events and len(events) == len(set(events))
    stored_runs = {
        r["run_id"]: (r["connector_instance_id"], r["status"])
        for r in sql(fleet, "SELECT run_id, connector_instance_id, status FROM pyref_runs")
    }
    assert stored_runs == runs
    for summary in fleet.iter_connection_summaries(now=NOW):
        shown = {r.stream: r.record_count for r in summary.stream_records}
        assert (shown.get("s1") or 0) == live[summary.connection_id], summary.connection_id
        assert summary.evidence.dirty is False and summary.evidence.state == "ok"
    before = [s.to_dict() for s in fleet.iter_connection_summaries(now=NOW)]
    fleet.rebuild()
    after = [s.to_dict() for s in fleet.iter_connection_summaries(now=NOW)]
    for b, a in zip(before, after, strict=True):
        b.pop("evidence"), a.pop("evidence")
        assert a == b
