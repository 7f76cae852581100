"""Issue 10's review (migration 0016), on both backends where it applies.

- A dirty read and a reconcile recompute only the runs touched since the connection's
  last reconcile (pyref_stale_runs) and keep its other stored runs (R6, R11): their
  cost no longer grows with the connection's whole run history.
- An UPDATE of a connection's created_at (a new incarnation) marks it dirty.
- rebuild() records facts for run events loaded with triggers disabled; verify() sees them.
- Postgres, REPEATABLE READ: pausing a connection never fails because reconcile ran (R9).
- R50: the surface evidence is the newest surface event's whole object.
- A numeric connection id in the payload names the connection on both backends.
- 0017: only a JSON string or an integer-valued number below 2**53 (as its integer text)
  is payload text; `true`, `1.5`, `1e20` count as absent, alike on both backends.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

import pyreference
from pyreference.store import Store
from tests.integration.test_runs_trust import ACME, BROW, CREATED, ev, last_run, q, settled
from tests.support import run_model
from tests.support.scenario import NOW, at


def _runs_of(store: Store, cid: str) -> dict[str, str]:
    rows = q(
        store,
        "SELECT run_id, status FROM pyref_runs WHERE connector_instance_id = "
        + ("%(c)s" if store.dialect == "postgres" else ":c"),
        {"c": cid},
    )
    return {r["run_id"]: r["status"] for r in rows}


def test_dirty_read_and_reconcile_recompute_only_the_touched_runs(store: Store) -> None:
    """A stored run that nothing touched is kept as stored by a dirty read and by
    reconcile (a hand edit shows through until verify/rebuild), while the touched run is
    recomputed: the work is bounded by what changed, not by the run history."""
    store.register_connector(ACME)
    store.create_connection("c1", "acme", created_at=CREATED)
    events = []
    for k in range(30):
        events += [ev("run.started", 300 - k, f"r{k}", connection_id="c1")]
        events += [ev("run.completed", 299 - k, f"r{k}", connection_id="c1")]
    store.append_events(events)
    store.reconcile()
    assert store.verify() == []
    # r29 is the latest run; an edit of its stored row is what a keeping read shows.
    q(store, "UPDATE pyref_runs SET status = 'failed' WHERE run_id = 'r29'")
    store.append_events([ev("run.progress_reported", 1, "r0", connection_id="c1")])
    assert last_run(store, "c1")["status"] == "failed"  # dirty read kept r29's stored row
    store.reconcile()
    assert last_run(store, "c1")["status"] == "failed"  # so did reconcile
    assert store.verify() == [{"connection_id": "c1", "differing": ["runs"]}]
    store.rebuild()
    assert store.verify() == []
    assert last_run(store, "c1")["status"] == "succeeded"


def test_incremental_runs_follow_re_homing_and_reconcile_in_between(acme: Store) -> None:
    """A keyless run given to c1 (single active connection) is re-homed to c2 by a later
    identified event written after a reconcile: c1 loses it, c2 gains it, dirty reads
    agree with reconcile and verify is empty (the touched run is stale for both)."""
    store = acme
    q(store, "UPDATE connector_instances SET status = 'paused' WHERE connector_instance_id = 'c2'")
    store.append_events([ev("run.started", 30, "r1", connector_id="acme")])
    store.reconcile()
    assert last_run(store, "c1")["run_id"] == "r1"
    store.append_events([ev("run.completed", 20, "r1", connection_id="c2")])
    after = settled(store)
    assert after["c1"]["last_run"] is None
    assert after["c2"]["last_run"]["status"] == "succeeded"
    assert _runs_of(store, "c1") == {} and _runs_of(store, "c2") == {"r1": "succeeded"}


@pytest.fixture
def acme(store: Store) -> Store:
    store.register_connector(ACME)
    store.create_connection("c1", "acme", created_at=CREATED)
    store.create_connection("c2", "acme", created_at=CREATED)
    return store


def test_update_created_at_starts_a_new_history(store: Store) -> None:
    """docs/dba-guide.md: changing created_at by UPDATE starts a new history. The read right
    after shows it (the connection is marked), reconcile agrees, verify is empty."""
    store.register_connector(ACME)
    store.create_connection("c1", "acme", created_at=CREATED)
    store.append_events(
        [ev("run.started", 30, "r1", connection_id="c1"), ev("run.completed", 20, "r1")]
    )
    store.reconcile()
    assert last_run(store, "c1") is not None
    q(
        store,
        "UPDATE connector_instances SET created_at = '2026-06-02T00:00:00.000000Z'"
        " WHERE connector_instance_id = 'c1'",
    )
    assert last_run(store, "c1") is None
    settled(store)
    assert _runs_of(store, "c1") == {}
    # ... and back: the original incarnation's runs return.
    q(
        store,
        f"UPDATE connector_instances SET created_at = '{CREATED}'"
        " WHERE connector_instance_id = 'c1'",
    )
    assert last_run(store, "c1")["status"] == "succeeded"
    settled(store)


def test_surface_evidence_is_the_newest_events_object(store: Store) -> None:
    """SPEC-SEMANTICS R50: the newest browser-surface event's object is the run's surface
    evidence: a wait reason only an older event carried does not survive (R15: the
    surface_failed run's failure reason is then its surface status)."""
    store.register_connector(BROW)
    store.create_connection("c1", "brow", created_at=CREATED)
    key = "brow:c1"
    store.append_events(
        [
            ev("run.started", 40, "r1", connection_id="c1"),
            ev(
                "run.browser_surface_waiting",
                30,
                "r1",
                connection_id="c1",
                data={
                    "browser_surface": {
                        "profile_key": key,
                        "status": "waiting",
                        "wait_reason": "otp_required",
                    }
                },
            ),
            ev(
                "run.browser_surface_failed",
                20,
                "r1",
                connection_id="c1",
                data={"browser_surface": {"profile_key": key, "status": "lost"}},
            ),
        ]
    )
    run = last_run(store, "c1")
    assert run is not None and run["status"] == "surface_failed"
    assert run["failure_reason"] == "lost", run
    settled(store)
    diag = store.connection_diagnostics("c1", now=NOW).to_dict()
    assert diag["browser_surface_history"][0]["wait_reason"] is None


def test_twin_takes_the_newest_surface_object() -> None:
    events = [
        {"event_seq": 1, "event_type": "run.started", "occurred_at": at(40), "data": None},
        {
            "event_seq": 2,
            "event_type": "run.browser_surface_waiting",
            "occurred_at": at(30),
            "data": {"browser_surface": {"status": "waiting", "wait_reason": "otp"}},
        },
        {
            "event_seq": 3,
            "event_type": "run.browser_surface_failed",
            "occurred_at": at(20),
            "data": {"browser_surface": {"status": "lost"}},
        },
    ]
    merged = run_model._merge(events)
    assert merged is not None and merged["surface"] == (None, "lost", None)


@pytest.mark.parametrize(
    "data, column",
    [
        ({"connection_id": 123}, "123"),
        ({"connection_id": 123, "connector_instance_id": "123"}, None),
        ({"connector_instance_id": 123}, None),
        ({"connection_id": 123}, None),
    ],
)
def test_numeric_connection_id_in_payload(
    store: Store, data: dict[str, Any], column: str | None
) -> None:
    """R51 identity spelled as a JSON number names connection '123' on both backends (and
    the twin); plain SQL, so the helper's own id check does not normalise it first."""
    store.register_connector(ACME)
    store.create_connection("123", "acme", created_at=CREATED)
    store.create_connection("c2", "acme", created_at=CREATED)
    mark = (lambda n: f"%({n})s") if store.dialect == "postgres" else (lambda n: f":{n}")
    with store.database.session(transaction=True) as s:
        s.execute(
            "INSERT INTO spine_events (event_id, event_type, occurred_at, run_id,"
            f" connector_instance_id, data_json) VALUES ('e1', 'run.started', {mark('at')},"
            f" 'r1', {mark('cid')}, {mark('data')})",
            {"at": at(30), "cid": column, "data": pyreference.db.Json(data)},
        )
    run = last_run(store, "123")
    assert run is not None and run["status"] == "running", (store.dialect, run)
    conns = [
        run_model.Connection("123", "acme", "active", CREATED, "acme"),
        run_model.Connection("c2", "acme", "active", CREATED, "acme"),
    ]
    fact = run_model.facts({"connection_id": column, "data": data}, conns)
    assert fact.connection == ("123", CREATED)
    settled(store)


@pytest.mark.postgres
def test_rebuild_after_bulk_load_with_triggers_disabled(pg_dsn: str) -> None:
    """docs/dba-guide.md: rebuild after bulk loads done with triggers disabled. Run events
    loaded so have no facts: verify reports them, rebuild records their facts (as if
    written now) and shows their runs."""
    store = pyreference.connect(pg_dsn)
    try:
        store.register_connector(ACME)
        store.create_connection("c1", "acme", created_at=CREATED)
        store.reconcile()
        with psycopg.connect(pg_dsn) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute(
                "INSERT INTO spine_events (event_id, event_type, occurred_at, run_id,"
                " connector_instance_id) VALUES ('b1', 'run.started', %s, 'r1', 'c1'),"
                " ('b2', 'run.completed', %s, 'r1', 'c1')",
                (at(30), at(20)),
            )
        drift = store.verify()
        assert drift == [{"connection_id": "c1", "differing": ["run_facts"]}]
        store.rebuild()
        assert store.verify() == []
        run = last_run(store, "c1")
        assert run is not None and run["status"] == "succeeded"
    finally:
        store.close()


def test_rebuild_records_facts_of_events_written_without_the_trigger(store: Store) -> None:
    """The same on both backends: events written while the spine trigger is missing (here
    dropped and re-created around the write, as a DBA might) get facts from rebuild."""
    store.register_connector(ACME)
    store.create_connection("c1", "acme", created_at=CREATED)
    store.reconcile()
    if store.dialect == "postgres":
        q(store, "ALTER TABLE spine_events DISABLE TRIGGER pyref_500_spine_insert")
    else:
        sql = q(store, "SELECT sql FROM sqlite_master WHERE name = 'pyref_500_spine_insert'")
        q(store, "DROP TRIGGER pyref_500_spine_insert")
    store.append_events(
        [ev("run.started", 30, "r1", connection_id="c1"), ev("run.failed", 20, "r1")]
    )
    if store.dialect == "postgres":
        q(store, "ALTER TABLE spine_events ENABLE TRIGGER pyref_500_spine_insert")
    else:
        q(store, sql[0]["sql"])
    assert store.verify() == [{"connection_id": "c1", "differing": ["run_facts"]}]
    store.rebuild()
    assert store.verify() == []
    assert last_run(store, "c1")["status"] == "failed"


@pytest.mark.postgres
@pytest.mark.parametrize(
    "write",
    [
        "UPDATE connector_instances SET status = 'paused' WHERE connector_instance_id = 'c1'",
        "UPDATE connector_instances SET connector_id = 'acme2' WHERE connector_instance_id = 'c1'",
    ],
)
def test_repeatable_read_connection_update_after_reconcile(pg_dsn: str, write: str) -> None:
    """R9: a REPEATABLE READ transaction that took its snapshot before a reconcile
    committed can still pause the connection (or move it to another connector): the
    trigger only appends a dirty mark and never touches the evidence row reconcile wrote."""
    store = pyreference.connect(pg_dsn)
    try:
        store.register_connector(ACME)
        store.register_connector({**ACME, "connector_key": "acme2"})
        store.create_connection("c1", "acme")
        store.ingest_records("c1", "items", [{"key": "k0", "data": {"n": 0}, "emitted_at": at(5)}])
        store.reconcile()
        store.ingest_records("c1", "items", [{"key": "k1", "data": {"n": 1}, "emitted_at": at(4)}])
        with psycopg.connect(pg_dsn) as a:
            a.execute("SET default_transaction_isolation = 'repeatable read'")
            a.commit()
            a.execute("SELECT count(*) FROM connector_instances")  # A's snapshot
            assert store.reconcile() == 1  # maintenance commits in between
            a.execute(write)
            a.commit()
        summary = store.get_connection_summary("c1", now=NOW).to_dict()
        assert summary["evidence"]["dirty"]
        store.reconcile()
        assert store.verify() == []
    finally:
        store.close()


# 0017 (issue #14's review, F2): which JSON values are payload text (R51), alike on both
# backends and in the twin: a string, or a number with an integer value below 2**53 in
# magnitude, as its integer text; anything else counts as absent.
ODD_IDS = [
    (True, None),
    (False, None),
    (1e20, None),
    (10**20, None),
    (2**53, None),
    (2**53 - 1, str(2**53 - 1)),
    (5.0, "5"),
    (7, "7"),
    (-3, "-3"),
    (-0.0, "0"),
    (1.5, None),
    ({"id": "7"}, None),
    (["7"], None),
    ("true", "true"),
]
ODD_NAMES = ["1", "0", "true", "5", "7", "-3", "1.5", "5.0", "1e+20", "1.0e+20", "1e20"]
ODD_NAMES += ["100000000000000000000", str(2**53), str(2**53 - 1), "9.007199254740992e+15"]


@pytest.mark.parametrize(("value", "named"), ODD_IDS, ids=[repr(v) for v, _ in ODD_IDS])
def test_payload_values_read_alike_on_both_backends(
    store: Store, value: Any, named: str | None
) -> None:
    """`data.connection_id` (plain SQL, as the original system writes it) names the same
    connection on SQLite, on Postgres and in the twin; so does a reason (R51)."""
    store.register_connector(ACME)
    for name in [*ODD_NAMES, "c_r"]:
        store.create_connection(name, "acme", created_at=CREATED)
    mark = (lambda n: f"%({n})s") if store.dialect == "postgres" else (lambda n: f":{n}")
    insert = (
        "INSERT INTO spine_events (event_id, event_type, occurred_at, run_id, data_json)"
        f" VALUES ({mark('id')}, {mark('type')}, {mark('at')}, {mark('run')}, {mark('data')})"
    )
    with store.database.session(transaction=True) as s:
        for n, (event_type, run, data) in enumerate(
            [
                ("run.started", "r1", {"connection_id": value}),
                ("run.started", "r2", {"connection_id": "c_r"}),
                ("run.cancelled", "r2", {"connection_id": "c_r", "reason": value}),
            ]
        ):
            s.execute(
                insert,
                {
                    "id": f"e{n}",
                    "type": event_type,
                    "at": at(30 - n),
                    "run": run,
                    "data": pyreference.db.Json(data),
                },
            )
    holders = {
        name
        for name in ODD_NAMES
        if (last := last_run(store, name)) is not None and last["run_id"] == "r1"
    }
    assert holders == ({named} if named else set()), (store.dialect, holders)
    conns = [run_model.Connection(n, "acme", "active", CREATED, "acme") for n in ODD_NAMES]
    fact = run_model.facts({"data": {"connection_id": value}}, conns)
    assert fact.connection == ((named, CREATED) if named else None)
    diag = store.connection_diagnostics("c_r", now=NOW).to_dict()
    r2 = next(r for r in diag["recent_runs"] if r["run_id"] == "r2")
    assert r2["terminal_reason"] == named, (store.dialect, r2)
    settled(store)
