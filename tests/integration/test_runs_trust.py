"""Issue 10: runs you can trust, on both backends.

Runs are a pure function of the spine plus write-time facts (pyref_run_facts): whatever
the commit order, the order of events within a statement, or the backend; never a
sibling's; rebuilt by rebuild(), checked by verify().
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from pyreference.store import Store
from tests.support.scenario import NOW, at, comparable

ACME = {
    "connector_key": "acme",
    "display_name": "Acme",
    "streams": [{"name": "items"}],
    "capabilities": {"refresh_policy": {"maximum_staleness_seconds": 86400}},
}
BROW = {
    "connector_key": "brow",
    "display_name": "Brow",
    "streams": [{"name": "items"}],
    "capabilities": {"browser_surface": {"profile_key": "brow"}},
}
CREATED = "2026-06-01T00:00:00.000000Z"


def q(store: Store, text: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with store.database.session(transaction=True) as s:
        return s.execute(text, params)


def p(store: Store, name: str) -> str:
    """A query parameter spelled for the store's dialect."""
    return f"%({name})s" if store.dialect == "postgres" else f":{name}"


def sql_dirty(store: Store, cid: str) -> bool:
    return bool(store.get_connection_summary(cid, now=NOW).to_dict()["evidence"]["dirty"])


def last_run(store: Store, cid: str) -> dict[str, Any] | None:
    summary = store.get_connection_summary(cid, now=NOW)
    assert summary is not None
    return summary.to_dict()["last_run"]


def everything(store: Store) -> dict[str, Any]:
    ids = [
        r["connector_instance_id"]
        for r in q(store, "SELECT connector_instance_id FROM connector_instances ORDER BY 1")
    ]
    return {cid: comparable(store.get_connection_summary(cid, now=NOW).to_dict()) for cid in ids}


def settled(store: Store) -> dict[str, Any]:
    """Summaries read dirty, then after reconcile; both must agree and verify be empty."""
    before = everything(store)
    store.reconcile()
    after = everything(store)
    for cid in before:
        before[cid]["evidence"] = after[cid]["evidence"]
    assert before == after
    assert store.verify() == []
    return after


def ev(event_type: str, minutes_ago: float, run_id: str, **fields: Any) -> dict[str, Any]:
    return {"event_type": event_type, "occurred_at": at(minutes_ago), "run_id": run_id, **fields}


@pytest.fixture
def acme(store: Store) -> Store:
    """ACME with two active connections c1 and c2."""
    store.register_connector(ACME)
    store.create_connection("c1", "acme", created_at=CREATED)
    store.create_connection("c2", "acme", created_at=CREATED)
    store.reconcile()
    return store


# -- 1. order independence -----------------------------------------------------------


def test_keyless_completion_committed_before_its_start_settles_the_run(acme: Store) -> None:
    """Issue case 1, as separate commits: the keyless end first, then the start naming c1."""
    acme.append_events([ev("run.completed", 10, "r1", connector_id="acme")])
    assert last_run(acme, "c1") is None and last_run(acme, "c2") is None
    acme.append_events([ev("run.started", 20, "r1", connector_id="acme", connection_id="c1")])
    run = last_run(acme, "c1")
    assert run is not None and (run["status"], run["started_at"], run["finished_at"]) == (
        "succeeded",
        at(20),
        at(10),
    )
    assert last_run(acme, "c2") is None
    settled(acme)


def test_multi_row_values_order_does_not_matter(store: Store) -> None:
    """Issue case 1: one INSERT listing the keyless completion before the start (SQLite's
    row triggers see VALUES order, Postgres' statement trigger the whole statement), and
    the same in the other order: the same run."""
    store.register_connector(ACME)
    for cid in ("c1", "c2"):
        store.create_connection(cid, "acme", created_at=CREATED)
    for run, first in (("r_end_first", "end"), ("r_start_first", "start")):
        start = f"('{run}-s', 'run.started', '{at(20)}', '{run}', 'acme', 'c1')"
        end = f"('{run}-e', 'run.completed', '{at(10)}', '{run}', 'acme', NULL)"
        rows = [end, start] if first == "end" else [start, end]
        q(
            store,
            "INSERT INTO spine_events (event_id, event_type, occurred_at, run_id, connector_id,"
            f" connector_instance_id) VALUES {', '.join(rows)}",
        )
    runs = {r.run.run_id: r.run for r in store.connection_diagnostics("c1", now=NOW).recent_runs}
    assert set(runs) == {"r_end_first", "r_start_first"}
    for run in runs.values():
        assert (run.status, run.started_at, run.finished_at) == ("succeeded", at(20), at(10))
    assert last_run(store, "c2") is None
    settled(store)


@pytest.mark.postgres
def test_two_connections_commit_in_the_opposite_order_of_event_seq(pg_dsn: str) -> None:
    """Issue case 1 with two real connections: A's start stays open while B's keyless
    completion (a later event_seq) commits first; then A commits."""
    import pyreference

    store = pyreference.connect(pg_dsn)
    store.register_connector(ACME)
    store.create_connection("c1", "acme", created_at=CREATED)
    store.create_connection("c2", "acme", created_at=CREATED)
    store.reconcile()
    a = psycopg.connect(pg_dsn)
    b = psycopg.connect(pg_dsn, autocommit=True)
    insert = (
        "INSERT INTO spine_events (event_id, event_type, occurred_at, run_id, connector_id,"
        " connector_instance_id) VALUES (%s, %s, %s, 'r1', 'acme', %s)"
    )
    a.execute(insert, ("e-start", "run.started", at(20), "c1"))
    b.execute(insert, ("e-end", "run.completed", at(10), None))
    seqs = dict(b.execute("SELECT event_id, event_seq FROM spine_events").fetchall())
    assert seqs == {"e-end": seqs["e-end"]}  # A's row is not visible yet
    # A reconcile between the two commits sees only the keyless end.
    store.reconcile()
    a.commit()
    run = last_run(store, "c1")
    assert run is not None and run["status"] == "succeeded" and run["started_at"] == at(20)
    store.reconcile()
    assert last_run(store, "c1") == run
    assert last_run(store, "c2") is None
    assert store.verify() == []
    a.close(), b.close()
    store.close()


@pytest.mark.postgres
def test_a_run_losing_its_keyless_events_is_dirty_at_once(pg_dsn: str) -> None:
    """A keyless event went to the single active connection; an identified event of the
    same run, written concurrently (invisible to the first writer), re-homes it. The
    connection that loses the run is reconciled by the run mark, and reads see it dirty."""
    import pyreference

    store = pyreference.connect(pg_dsn)
    store.register_connector(ACME)
    store.create_connection("c1", "acme", created_at=CREATED)
    store.create_connection("c2", "acme", created_at=CREATED, status="paused")
    store.reconcile()
    a = psycopg.connect(pg_dsn)
    insert = (
        "INSERT INTO spine_events (event_id, event_type, occurred_at, run_id, connector_id,"
        " connector_instance_id) VALUES (%s, %s, %s, 'r1', 'acme', %s)"
    )
    a.execute(insert, ("e-start", "run.started", at(20), "c2"))  # names the paused c2
    store.append_events(
        [ev("run.completed", 10, "r1", connector_id="acme")]
    )  # keyless: c1 is the single active
    store.reconcile()
    assert last_run(store, "c1")["status"] == "succeeded"  # its end alone, for now
    assert not sql_dirty(store, "c1")
    a.commit()  # A's trigger could not see B's fact: it marks c2, plus a run mark
    assert last_run(store, "c1") is None
    assert last_run(store, "c2")["status"] == "succeeded"
    store.reconcile()
    assert last_run(store, "c1") is None and last_run(store, "c2")["status"] == "succeeded"
    assert store.verify() == []
    a.close()
    store.close()


def test_earliest_terminal_event_settles_whatever_the_commit_order(acme: Store) -> None:
    """S50.2: a failure at -2h and a success at -1h give failed, in either order."""
    for run_id, order in (("r1", (0, 1)), ("r2", (1, 0))):
        events = [
            ev("run.started", 180, run_id, connection_id="c1"),
            ev("run.failed", 120, run_id, connection_id="c1", data={"failure_reason": "timeout"}),
            ev("run.completed", 60, run_id, connection_id="c1"),
        ]
        acme.append_events([events[0]])
        for i in order:
            acme.append_events([events[1 + i]])
    rows = q(acme, "SELECT run_id, status, failure_reason FROM pyref_runs ORDER BY run_id")
    acme.reconcile()
    rows = q(acme, "SELECT run_id, status, failure_reason FROM pyref_runs ORDER BY run_id")
    assert rows == [
        {"run_id": "r1", "status": "failed", "failure_reason": "timeout"},
        {"run_id": "r2", "status": "failed", "failure_reason": "timeout"},
    ]
    assert last_run(acme, "c1")["finished_at"] == at(120)
    settled(acme)


def test_a_later_identified_event_rehomes_earlier_keyless_ones(acme: Store) -> None:
    """Keyless start and progress (two active connections: no singleton), then the end
    names c2: the whole run is c2's."""
    acme.append_events([ev("run.started", 30, "r1", connector_id="acme")])
    acme.append_events([ev("run.progress_reported", 25, "r1")])
    assert last_run(acme, "c2") is None
    acme.append_events([ev("run.completed", 20, "r1", data={"connection_id": "c2"})])
    run = last_run(acme, "c2")
    assert run is not None and (run["status"], run["started_at"]) == ("succeeded", at(30))
    assert last_run(acme, "c1") is None
    settled(acme)


# -- 2. never a sibling's --------------------------------------------------------------


@pytest.mark.parametrize("identity", ["ghost_id", "ghost_profile_key"])
def test_a_run_naming_no_connection_never_falls_to_the_single_active_one(
    store: Store, identity: str
) -> None:
    store.register_connector(BROW)
    store.create_connection("c1", "brow", created_at=CREATED)  # the connector's only active one
    data = (
        {"connection_id": "ghost"}
        if identity == "ghost_id"
        else {"browser_surface": {"profile_key": "other:ghost"}}
    )
    store.append_events([ev("run.started", 30, "r1", connector_id="brow", data=data)])
    store.append_events(
        [ev("run.failed", 20, "r1", connector_id="brow", data={"failure_reason": "x"})]
    )
    assert last_run(store, "c1") is None
    settled(store)
    assert q(store, "SELECT count(*) AS n FROM pyref_runs")[0]["n"] == 0


def test_a_deleted_connections_runs_never_go_to_its_sibling(store: Store) -> None:
    store.register_connector(ACME)
    store.create_connection("c_old", "acme", created_at=CREATED)
    store.create_connection("c_sib", "acme", created_at=CREATED, status="paused")
    store.append_events(
        [ev("run.started", 60, "r0", connection_id="c_old"), ev("run.completed", 50, "r0")]
    )
    store.append_events([ev("run.started", 30, "r1", connection_id="c_old")])
    store.reconcile()
    q(store, "DELETE FROM connector_instances WHERE connector_instance_id = 'c_old'")
    store.update_connection("c_sib", status="active")  # now the connector's only active one
    store.append_events([ev("run.completed", 20, "r1", connector_id="acme")])  # keyless
    assert last_run(store, "c_sib") is None
    settled(store)
    assert q(store, "SELECT count(*) AS n FROM pyref_runs")[0]["n"] == 0


def test_singleton_runs_need_every_keyless_event_to_agree(acme: Store) -> None:
    """No event carried identity: the run is the single active connection's only when the
    events saw one, and the same one."""
    acme.update_connection("c2", status="paused")
    acme.append_events([ev("run.started", 30, "r1", connector_id="acme")])  # saw c1
    acme.update_connection("c2", status="active")
    acme.append_events([ev("run.completed", 20, "r1", connector_id="acme")])  # saw none
    assert last_run(acme, "c1")["status"] == "succeeded"
    acme.update_connection("c1", status="paused")
    acme.append_events([ev("run.progress_reported", 15, "r1", connector_id="acme")])  # saw c2
    assert last_run(acme, "c1") is None and last_run(acme, "c2") is None
    settled(acme)


# -- 3. connection identity -------------------------------------------------------------


def test_rewriting_a_connection_row_keeps_its_history(store: Store) -> None:
    store.register_connector(ACME)
    store.create_connection("c1", "acme", created_at=CREATED, display_name="Old")
    store.append_events(
        [ev("run.started", 30, "r1", connection_id="c1"), ev("run.completed", 20, "r1")]
    )
    store.reconcile()
    columns = (
        "connector_instance_id, connector_id, display_name, status, source_kind,"
        " created_at, updated_at"
    )
    if store.dialect == "sqlite":
        q(
            store,
            f"INSERT OR REPLACE INTO connector_instances ({columns}) VALUES"
            f" ('c1', 'acme', 'New', 'active', 'account', '{CREATED}', '{CREATED}')",
        )
    else:
        with store.database.session(transaction=True) as s:
            s.execute("DELETE FROM connector_instances WHERE connector_instance_id = 'c1'")
            s.execute(
                f"INSERT INTO connector_instances ({columns}) VALUES"
                f" ('c1', 'acme', 'New', 'active', 'account', '{CREATED}', '{CREATED}')"
            )
    summary = store.get_connection_summary("c1", now=NOW).to_dict()
    assert summary["display_name"] == "New"
    assert summary["last_run"]["run_id"] == "r1" and summary["last_run"]["status"] == "succeeded"
    after = settled(store)
    assert after["c1"]["last_run"]["run_id"] == "r1"


def test_a_re_created_connection_does_not_resurrect_old_runs(store: Store) -> None:
    _recreate(store)


def test_a_re_created_connection_does_not_resurrect_old_runs_without_foreign_keys(
    sqlite_conn: Any,
) -> None:
    """Issue case 3: SQLite with foreign keys off used to resurrect them."""
    import pyreference

    store = pyreference.connect(sqlite_conn)
    sqlite_conn.execute("PRAGMA foreign_keys = OFF")
    _recreate(store)


def _recreate(store: Store) -> None:
    store.register_connector(ACME)
    store.create_connection("c1", "acme", created_at=CREATED)
    store.append_events(
        [ev("run.started", 30, "r1", connection_id="c1"), ev("run.failed", 20, "r1")]
    )
    store.reconcile()
    q(store, "DELETE FROM connector_instances WHERE connector_instance_id = 'c1'")
    store.create_connection("c1", "acme", created_at=at(5))
    assert last_run(store, "c1") is None
    after = settled(store)
    assert after["c1"]["last_run"] is None
    store.append_events([ev("run.started", 3, "r2", connection_id="c1")])
    assert last_run(store, "c1")["run_id"] == "r2"
    settled(store)


# -- 4. back-filled events ---------------------------------------------------------------


def test_a_back_filled_start_marks_the_connection(acme: Store) -> None:
    """Issue case 4: run.completed with event_seq 100, reconcile, then run.started with 50."""
    insert = (
        "INSERT INTO spine_events"
        " (event_seq, event_id, event_type, occurred_at, run_id, connector_instance_id) VALUES"
        f" ({p(acme, 'seq')}, {p(acme, 'id')}, {p(acme, 'type')}, {p(acme, 'at')}, 'r1', 'c1')"
    )
    q(acme, insert, {"seq": 100, "id": "e100", "type": "run.completed", "at": at(10)})
    acme.reconcile()
    assert last_run(acme, "c1")["started_at"] == at(10)
    q(acme, insert, {"seq": 50, "id": "e50", "type": "run.started", "at": at(20)})
    assert (
        q(acme, "SELECT count(*) AS n FROM pyref_dirty WHERE connector_instance_id = 'c1'")[0]["n"]
        == 1
    )
    assert last_run(acme, "c1")["started_at"] == at(20)
    settled(acme)


# -- 5. verify and rebuild see runs ---------------------------------------------------------


@pytest.mark.parametrize("damage", ["edit", "delete", "insert"])
def test_verify_reports_hand_edited_runs_and_rebuild_repairs_them(acme: Store, damage: str) -> None:
    acme.append_events(
        [ev("run.started", 30, "r1", connection_id="c1"), ev("run.completed", 20, "r1")]
    )
    acme.reconcile()
    before = everything(acme)
    statement = {
        "edit": "UPDATE pyref_runs SET status = 'failed' WHERE run_id = 'r1'",
        "delete": "DELETE FROM pyref_runs WHERE run_id = 'r1'",
        "insert": "INSERT INTO pyref_runs (run_id, connector_instance_id, status, started_at)"
        " SELECT 'fake', 'c2', 'succeeded', started_at FROM pyref_runs WHERE run_id = 'r1'",
    }[damage]
    q(acme, statement)
    drift = acme.verify()
    assert drift and "runs" in drift[0]["differing"], drift
    acme.rebuild()
    assert acme.verify() == []
    assert everything(acme)["c1"]["last_run"] == before["c1"]["last_run"]


# -- 6. R50 vocabulary -----------------------------------------------------------------------


def test_any_run_type_is_stored_and_attribution_only_types_change_no_status(acme: Store) -> None:
    """S2.1 / S50.1 / S3.3 in short: unknown run.* types are stored, abandoned settles."""
    acme.append_events(
        [
            ev("run.started", 60, "r1", connection_id="c1", status="started"),
            ev("run.made_up", 55, "r1", status="completed"),
            ev("run.stream_session_resolved", 50, "r1", status="completed"),
            ev(
                "run.abandoned",
                40,
                "r1",
                data={"reason": "controller_terminated_before_run_finished"},
            ),
        ]
    )
    run = last_run(acme, "c1")
    assert (run["status"], run["finished_at"]) == ("abandoned", at(40))
    acme.reconcile()
    diag = acme.connection_diagnostics("c1", now=NOW).to_dict()
    assert diag["recent_runs"][0]["terminal_reason"] == "controller_terminated_before_run_finished"
    settled(acme)


def test_upstream_surface_spellings_attribute_and_describe(store: Store) -> None:
    """S51.1: nested browser_surface_* keys; S3.1: a keyless run homed by a later key."""
    store.register_connector(BROW)
    store.create_connection("c1", "brow", created_at=CREATED, source_kind="browser_collector")
    store.create_connection("c2", "brow", created_at=CREATED, source_kind="browser_collector")
    store.append_events([ev("run.started", 120, "r1")])
    store.append_events(
        [
            ev(
                "run.browser_surface_failed",
                60,
                "r1",
                status="surface_failed",
                data={
                    "browser_surface": {
                        "browser_surface_profile_key": "brow:c2",
                        "browser_surface_status": "surface_failed",
                        "browser_surface_wait_reason": "otp_required",
                    }
                },
            )
        ]
    )
    run = last_run(store, "c2")
    assert (run["run_id"], run["status"], run["failure_reason"]) == (
        "r1",
        "surface_failed",
        "otp_required",
    )
    assert last_run(store, "c1") is None
    settled(store)
