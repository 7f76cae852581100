"""Triggers keep the evidence right whoever writes (R2–R5, R7), on both backends."""

from __future__ import annotations

import random

import pytest

from pyreference.errors import InvalidInput
from tests.support.scenario import NOW, at, records, register, run, small_fleet


def dirty_ids(store) -> set[str]:
    """Connections waiting for a reconcile: marked, or with record deltas (0020)."""
    with store.database.session() as s:
        return {
            r["connector_instance_id"]
            for r in s.execute(
                "SELECT connector_instance_id FROM pyref_dirty"
                " UNION SELECT connector_instance_id FROM pyref_record_deltas"
            )
        }


def summary(store, cid: str):
    return store.get_connection_summary(cid, now=NOW).to_dict()


def counts(store, cid: str) -> dict[str, object]:
    return {r["stream"]: r["record_count"] for r in summary(store, cid)["stream_records"]}


def run_row(store, run_id: str) -> list[dict]:
    """The stored run rows of one run, after a reconcile (pyref_runs is kept by reconcile)."""
    store.reconcile()
    with store.database.session() as s:
        return s.execute(
            f"SELECT connector_instance_id, status FROM pyref_runs WHERE run_id = '{run_id}'"
        )


@pytest.fixture
def two(store):
    register(store, "gmail", "amazon", "chase")
    store.create_connection("cin_a", "gmail", created_at=at(100))
    store.create_connection("cin_b", "gmail", created_at=at(90))
    store.reconcile()
    assert dirty_ids(store) == set()
    return store


def test_ingest_update_delete_touch_exactly_the_affected_connection(two) -> None:
    store = two
    assert store.ingest_records("cin_a", "messages", records(3, minutes_ago=10)) == 3
    assert dirty_ids(store) == {"cin_a"}
    assert counts(store, "cin_a")["messages"] == 3
    assert counts(store, "cin_b")["messages"] is None
    store.reconcile()
    # a changed document is an update; a new emitted_at alone is not
    changed = [{"key": "k0", "data": {"n": 99}, "emitted_at": at(1)}]
    assert store.ingest_records("cin_a", "messages", changed) == 1
    assert dirty_ids(store) == {"cin_a"}
    assert summary(store, "cin_a")["freshness"]["captured_at"] == at(1)
    store.reconcile()
    assert store.delete_record("cin_a", "messages", "k0") is True
    assert dirty_ids(store) == {"cin_a"}
    assert counts(store, "cin_a")["messages"] == 2
    # the deleted record was the newest: the last record time moves back
    assert summary(store, "cin_a")["freshness"]["captured_at"] == at(10)
    store.reconcile()
    assert store.verify() == []
    assert counts(store, "cin_a")["messages"] == 2


def test_no_op_writes_mark_nothing(two) -> None:
    store = two
    store.ingest_records("cin_a", "messages", records(3))
    store.reconcile()
    again = [{**r, "emitted_at": at(0)} for r in records(3)]
    assert store.ingest_records("cin_a", "messages", again) == 0
    assert store.delete_record("cin_a", "messages", "missing") is False
    assert store.delete_record("cin_a", "messages", "k1") is True
    store.reconcile()
    assert store.delete_record("cin_a", "messages", "k1") is False
    assert dirty_ids(store) == set()
    # re-ingesting a deleted record revives it
    assert store.ingest_records("cin_a", "messages", records(3)) == 1
    assert counts(store, "cin_a")["messages"] == 3


def test_direct_sql_writers_are_tracked_too(two) -> None:
    """The triggers keep the model right whoever writes (here: plain SQL)."""
    store = two
    store.ingest_records("cin_a", "messages", records(2))
    store.reconcile()
    with store.database.session(transaction=True) as s:
        s.execute("DELETE FROM records WHERE connector_instance_id = 'cin_a' AND record_key = 'k0'")
    assert dirty_ids(store) == {"cin_a"}
    assert counts(store, "cin_a")["messages"] == 1
    store.reconcile()
    with store.database.session(transaction=True) as s:
        s.execute("UPDATE records SET stream = 'threads' WHERE connector_instance_id = 'cin_a'")
    moved = counts(store, "cin_a")
    assert (moved["messages"], moved["threads"]) == (None, 1)
    store.reconcile()
    assert store.verify() == []


EVENT_STATUS = [
    ("run.started", None, "running"),
    ("run.completed", None, "succeeded"),
    ("run.failed", None, "failed"),
    ("run.cancelled", None, "cancelled"),
    ("run.browser_surface_failed", None, "surface_failed"),
    ("run.completed", "skipped", "skipped"),
]


@pytest.mark.parametrize(("event_type", "explicit", "expected"), EVENT_STATUS)
def test_every_run_bearing_event_updates_run_evidence(two, event_type, explicit, expected) -> None:
    store = two
    event = {
        "event_type": event_type,
        "occurred_at": at(5),
        "run_id": "r1",
        "connection_id": "cin_a",
    }
    if explicit:
        event["status"] = explicit
    store.append_events([event])
    assert dirty_ids(store) == {"cin_a"}
    assert summary(store, "cin_a")["last_run"]["status"] == expected
    assert run_row(store, "r1") == [{"connector_instance_id": "cin_a", "status": expected}]
    assert summary(store, "cin_a")["last_run"]["status"] == expected
    assert store.verify() == []


def test_waiting_and_progress_events_keep_status_and_record_surface(two) -> None:
    store = two
    store.append_events(
        [
            {
                "event_type": "run.started",
                "occurred_at": at(9),
                "run_id": "r1",
                "connection_id": "cin_a",
            },
            {
                "event_type": "run.browser_surface_waiting",
                "occurred_at": at(8),
                "run_id": "r1",
                "data": {"browser_surface": {"status": "waiting", "wait_reason": "otp"}},
            },
            {"event_type": "run.progress_reported", "occurred_at": at(7), "run_id": "r1"},
        ]
    )
    diag = store.connection_diagnostics("cin_a", now=NOW).to_dict()
    assert diag["summary"]["last_run"]["status"] == "running"
    assert diag["browser_surface_history"][0]["wait_reason"] == "otp"


class TestAttribution:
    """R3, one rule at a time."""

    @pytest.fixture
    def fleet(self, store):
        register(store, "amazon", "chase", "gmail")
        store.create_connection("cin_a", "amazon", created_at=at(100))
        store.create_connection("cin_b", "amazon", created_at=at(90))
        store.create_connection("chase", "chase", created_at=at(80))
        return store

    def test_profile_key_wins_over_a_named_sibling(self, fleet) -> None:
        fleet.append_events(
            run(
                "r1",
                connector_id="amazon",
                connection_id="cin_a",
                data={"browser_surface": {"profile_key": "amazon:cin_b"}},
            )
        )
        assert run_row(fleet, "r1") == [{"connector_instance_id": "cin_b", "status": "succeeded"}]
        assert summary(fleet, "cin_a")["last_run"] is None

    def test_profile_key_of_a_connection_named_like_its_connector_is_the_base(self, fleet) -> None:
        fleet.append_events(
            run("r1", connector_id="chase", data={"browser_surface": {"profile_key": "chase"}})
        )
        assert run_row(fleet, "r1")[0]["connector_instance_id"] == "chase"

    def test_unknown_profile_key_leaves_the_run_unattributed(self, fleet) -> None:
        fleet.append_events(
            run(
                "r1",
                connector_id="chase",
                data={"browser_surface": {"profile_key": "amazon:nobody"}},
            )
        )
        assert run_row(fleet, "r1") == []
        assert summary(fleet, "chase")["last_run"] is None

    @pytest.mark.parametrize("field", ["column", "connection_id", "connector_instance_id"])
    def test_explicit_connection(self, fleet, field) -> None:
        if field == "column":
            events = run("r1", connector_id="amazon", connection_id="cin_a")
        else:
            events = run("r1", connector_id="amazon", data={field: "cin_a"})
        fleet.append_events(events)
        assert run_row(fleet, "r1")[0]["connector_instance_id"] == "cin_a"

    def test_explicit_unknown_connection_is_unattributed_not_singleton(self, fleet) -> None:
        fleet.append_events(run("r1", connector_id="chase", connection_id="cin_gone"))
        assert run_row(fleet, "r1") == []
        assert summary(fleet, "chase")["last_run"] is None

    def test_singleton_fallback_only_with_exactly_one_active(self, fleet) -> None:
        fleet.append_events(run("r1", connector_id="chase"))
        assert run_row(fleet, "r1")[0]["connector_instance_id"] == "chase"
        fleet.append_events(run("r2", connector_id="amazon"))  # two active siblings
        assert run_row(fleet, "r2") == []
        assert summary(fleet, "cin_a")["last_run"] is None
        assert summary(fleet, "cin_b")["last_run"] is None
        fleet.update_connection("cin_b", status="paused")
        fleet.append_events(run("r3", connector_id="amazon"))
        assert run_row(fleet, "r3")[0]["connector_instance_id"] == "cin_a"

    def test_later_events_inherit_the_runs_attribution(self, fleet) -> None:
        fleet.append_events(
            [
                {
                    "event_type": "run.started",
                    "occurred_at": at(10),
                    "run_id": "r1",
                    "connector_id": "amazon",
                    "data": {"browser_surface": {"profile_key": "amazon:cin_a"}},
                }
            ]
        )
        fleet.append_events(
            [
                {
                    "event_type": "run.failed",
                    "occurred_at": at(5),
                    "run_id": "r1",
                    "connector_id": "amazon",
                    "data": {"failure_reason": "timeout"},
                }
            ]
        )
        assert run_row(fleet, "r1") == [{"connector_instance_id": "cin_a", "status": "failed"}]
        assert summary(fleet, "cin_a")["last_run"]["failure_reason"] == "timeout"

    def test_attribution_is_not_redecided_by_rebuild(self, fleet) -> None:
        fleet.append_events(run("r1", connector_id="chase"))  # singleton at write time
        fleet.create_connection("chase_2", "chase", created_at=at(1))
        fleet.rebuild()
        assert summary(fleet, "chase")["last_run"]["run_id"] == "r1"
        assert summary(fleet, "chase_2")["last_run"] is None
        assert fleet.verify() == []

    def test_event_naming_unknown_connection_is_stored_unattributed(self, fleet) -> None:
        fleet.append_events(
            [{"event_type": "note.added", "occurred_at": at(1), "connection_id": "ghost"}]
        )
        with fleet.database.session() as s:
            assert s.execute("SELECT count(*) AS n FROM spine_events")[0]["n"] == 1


def test_record_for_unknown_connection_is_refused_naming_it(two) -> None:
    with pytest.raises(InvalidInput, match="cin_ghost"):
        two.ingest_records("cin_ghost", "messages", records(1))


def test_a_batch_with_one_bad_record_writes_nothing(two) -> None:
    bad = [*records(3), {"key": "bad", "data": [1, 2], "emitted_at": at(1)}]
    with pytest.raises(InvalidInput):
        two.ingest_records("cin_a", "messages", bad)
    assert counts(two, "cin_a")["messages"] is None


def test_manifest_without_streams_is_stored_and_readable(store) -> None:
    store.register_connector({"connector_key": "bare", "display_name": "Bare"})
    store.create_connection("cin_bare", "bare")
    got = summary(store, "cin_bare")
    assert got["streams"] == []
    with pytest.raises(InvalidInput):
        store.register_connector("[1, 2, 3]")
    with pytest.raises(InvalidInput):
        store.register_connector("not json")


def test_verify_is_empty_after_a_randomized_workload_and_after_rebuild(store) -> None:
    rng = random.Random(20261123)
    register(store, "gmail", "amazon", "chase", "slack")
    ids = []
    for i in range(12):
        connector = ["gmail", "amazon", "chase", "slack"][i % 4]
        cid = f"cin_{i}"
        store.create_connection(cid, connector, created_at=at(1000 - i))
        ids.append((cid, connector))
    writes = 0
    while writes < 2500:
        cid, connector = rng.choice(ids)
        roll = rng.random()
        if roll < 0.45:
            batch = [
                {
                    "key": f"k{rng.randrange(60)}",
                    "data": {"v": rng.randrange(4)},
                    "emitted_at": at(rng.randrange(500)),
                }
                for _ in range(rng.randrange(1, 20))
            ]
            store.ingest_records(cid, rng.choice(["messages", "orders", "threads"]), batch)
            writes += len(batch)
        elif roll < 0.65:
            store.delete_record(
                cid, rng.choice(["messages", "orders", "threads"]), f"k{rng.randrange(60)}"
            )
            writes += 1
        elif roll < 0.85:
            rid = f"r{rng.randrange(200)}"
            kind = rng.choice(
                [
                    "run.started",
                    "run.completed",
                    "run.failed",
                    "run.cancelled",
                    "run.browser_surface_failed",
                    "run.progress_reported",
                ]
            )
            identity = rng.choice(
                [
                    {"connection_id": cid},
                    {"connector_id": connector},
                    {"data": {"browser_surface": {"profile_key": f"{connector}:{cid}"}}},
                    {},
                ]
            )
            store.append_events(
                [
                    {
                        "event_type": kind,
                        "occurred_at": at(rng.randrange(500)),
                        "run_id": rid,
                        **identity,
                    }
                ]
            )
            writes += 1
        elif roll < 0.9:
            store.add_detail_gap(
                cid, "messages", status=rng.choice(["pending", "terminal", "recovered"])
            )
            writes += 1
        elif roll < 0.95:
            store.set_schedule(
                cid,
                interval_seconds=600,
                enabled=rng.random() < 0.7,
                consecutive_failures=rng.randrange(9),
            )
            writes += 1
        else:
            store.open_attention(cid, reason_code="reauth", owner_action="sign_in")
            writes += 1
        if rng.random() < 0.05:
            store.reconcile(limit=rng.randrange(1, 6))
        assert writes < 5000
    before = [s.to_dict() for s in store.iter_connection_summaries(now=NOW)]
    assert store.verify() == []
    store.reconcile()
    assert store.verify() == []
    assert dirty_ids(store) == set()
    after_reconcile = [s.to_dict() for s in store.iter_connection_summaries(now=NOW)]
    store.rebuild()
    assert store.verify() == []
    after_rebuild = [s.to_dict() for s in store.iter_connection_summaries(now=NOW)]

    def strip(items):
        return [{k: v for k, v in d.items() if k != "evidence"} for d in items]

    assert strip(before) == strip(after_reconcile) == strip(after_rebuild)


def test_verify_names_a_corrupted_clean_row(two) -> None:
    two.ingest_records("cin_a", "messages", records(2))
    two.reconcile()
    with two.database.session(transaction=True) as s:
        s.execute(
            "UPDATE pyref_evidence SET stream_stats = '[]' WHERE connector_instance_id = 'cin_a'"
        )
    assert two.verify() == [{"connection_id": "cin_a", "differing": ["stream_stats"]}]
    two.rebuild()
    assert two.verify() == []


def test_small_fleet_reconciles_and_verifies(store) -> None:
    small_fleet(store)
    assert store.verify() == []
    assert store.reconcile() == 6
    assert store.verify() == []
    assert store.reconcile() == 0


def test_connection_errors_name_what_is_wrong(two) -> None:
    with pytest.raises(InvalidInput, match="no connector 'nope'"):
        two.create_connection("cin_x", "nope")
    with pytest.raises(InvalidInput, match="'cin_a' already exists"):
        two.create_connection("cin_a", "gmail")
    with pytest.raises(InvalidInput, match="status"):
        two.create_connection("cin_y", "gmail", status="sleeping")


def test_unmigrated_database_says_to_migrate(backend, request) -> None:
    import sqlite3

    import pyreference
    from pyreference.errors import SchemaNotReady

    if backend == "sqlite":
        fresh = pyreference.connect(sqlite3.connect(":memory:", check_same_thread=False))
    else:
        import psycopg

        fresh = pyreference.connect(request.getfixturevalue("pg_dsn"))
        with psycopg.connect(request.getfixturevalue("pg_dsn"), autocommit=True) as conn:
            conn.execute("DROP VIEW pyref_evidence_source CASCADE")
            conn.execute("DROP TABLE pyref_evidence CASCADE")
    with pytest.raises(SchemaNotReady, match="pyreference migrate"):
        fresh.list_connection_summaries()
    fresh.close()
