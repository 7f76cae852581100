"""R9: a failing reconcile loses nothing, leaks nothing, and the next one repairs.

Faults are injected test-only: a trigger on pyref_evidence that refuses the
'ok' update for one connection (its message deliberately holds SQL text and a
secret), and a broken pyref_evidence_source view so reads cannot recompute.
"""

from __future__ import annotations

from typing import Any

import pytest
from rel_support import NOW, owed, seed_connectors, sql

from pyreference.store import Store
from tests.support.faults import SECRET
from tests.support.faults import install_fault as _install_fault
from tests.support.faults import remove_fault as _remove_fault

FORBIDDEN = (SECRET, "SELECT", "INSERT", "UPDATE", "pyref_evidence", "record_json", "boom")


def _break_view(store: Store) -> None:
    """Replace the recompute view by one with the same columns that fails when read, and
    a table a read's recompute reads (it inlines the evidence computation, with runs from
    the spine) by a relation that fails when read."""
    if store.dialect == "postgres":
        sql(store, "ALTER TABLE connector_schedules RENAME TO pyref_test_saved_schedules")
        # A constant error: every statement that reads it fails when planned, rows or not.
        sql(
            store,
            """CREATE VIEW connector_schedules AS
                      SELECT * FROM pyref_test_saved_schedules WHERE 1 / 0 = 1""",
        )
        sql(store, "ALTER VIEW pyref_evidence_source RENAME TO pyref_test_saved_source")
        sql(
            store,
            """CREATE FUNCTION pyref_test_boom() RETURNS boolean LANGUAGE plpgsql AS $$
                      BEGIN RAISE EXCEPTION 'view broken'; END $$""",
        )
        sql(
            store,
            """CREATE VIEW pyref_evidence_source AS
                      SELECT * FROM pyref_test_saved_source WHERE pyref_test_boom()""",
        )
    else:
        definition = sql(
            store, "SELECT sql FROM sqlite_master WHERE name = 'pyref_evidence_source'"
        )[0]["sql"]
        store._saved_view = definition  # type: ignore[attr-defined]
        sql(store, "DROP VIEW pyref_evidence_source")
        # Same shape, but every row read aborts (json() of invalid JSON raises).
        sql(
            store,
            definition.replace(
                "pyref_evidence_source AS", "pyref_evidence_source AS SELECT * FROM (", 1
            )
            + ") WHERE json('not json') IS NOT NULL",
        )
        sql(store, "ALTER TABLE pyref_run_facts RENAME TO pyref_test_saved_facts")
        sql(
            store,
            "CREATE VIEW pyref_run_facts AS SELECT * FROM pyref_test_saved_facts"
            " WHERE json('not json') IS NOT NULL",
        )


def _restore_view(store: Store) -> None:
    if store.dialect == "postgres":
        sql(store, "DROP VIEW connector_schedules")
        sql(store, "ALTER TABLE pyref_test_saved_schedules RENAME TO connector_schedules")
        sql(store, "DROP VIEW pyref_evidence_source")
        sql(store, "ALTER VIEW pyref_test_saved_source RENAME TO pyref_evidence_source")
        sql(store, "DROP FUNCTION pyref_test_boom()")
    else:
        sql(store, "DROP VIEW pyref_run_facts")
        sql(store, "ALTER TABLE pyref_test_saved_facts RENAME TO pyref_run_facts")
        sql(store, "DROP VIEW pyref_evidence_source")
        sql(store, store._saved_view)  # type: ignore[attr-defined]


def _evidence(store: Store, cid: str) -> dict[str, Any]:
    row = sql(
        store,
        "SELECT state, last_error, stream_stats, revision FROM pyref_evidence "
        "WHERE connector_instance_id = :c"
        if store.dialect == "sqlite"
        else "SELECT state, last_error, stream_stats, revision FROM pyref_evidence "
        "WHERE connector_instance_id = %(c)s",
        {"c": cid},
    )[0]
    row["stream_stats"] = store.database.loads(row["stream_stats"])
    return row


def _dirty(store: Store, cid: str) -> bool:
    return owed(store, cid)


def _s1(summary: Any) -> Any:
    return {r.stream: r for r in summary.stream_records}["s1"]


@pytest.fixture
def faulty(store: Store) -> Store:
    seed_connectors(store)
    for cid in ("a_ok", "b_bad", "c_ok"):
        store.create_connection(cid, "alpha")
        store.ingest_records(cid, "s1", [{"key": "k1", "data": {"token": SECRET}}])
    store.reconcile()
    assert store.verify() == []
    return store


def _assert_sanitized(error: str | None) -> None:
    assert error, "a failed row must say why"
    assert len(error) <= 240
    for bad in FORBIDDEN:
        assert bad not in error, (bad, error)


def test_failing_reconcile_keeps_rows_dirty_and_sanitized(faulty: Store) -> None:
    store = faulty
    before = _evidence(store, "b_bad")
    for cid in ("a_ok", "b_bad", "c_ok"):
        store.ingest_records(cid, "s1", [{"key": "k2", "data": {"token": SECRET, "n": 2}}])
    _install_fault(store, "b_bad")

    report = store.reconcile_report()
    bad = _evidence(store, "b_bad")
    assert bad["state"] == "failed" and _dirty(store, "b_bad")
    _assert_sanitized(bad["last_error"])
    # Nothing partial for the failing connection: its evidence columns are untouched.
    assert bad["stream_stats"] == before["stream_stats"] and bad["revision"] == before["revision"]
    if store.dialect == "postgres":
        # Per-connection retry: the others in the same batch still reconcile.
        assert (report.reconciled, report.failed) == (2, 1)
        for cid in ("a_ok", "c_ok"):
            ok = _evidence(store, cid)
            assert ok["state"] == "ok" and ok["last_error"] is None and not _dirty(store, cid)
            assert ok["stream_stats"][0]["live"] == 2
    assert report.failed >= 1

    # Canonical writes still succeed while reconcile is broken.
    assert store.ingest_records("b_bad", "s1", [{"key": "k3", "data": {"n": 3}}]) == 1
    store.append_events(
        [
            {
                "event_type": "run.completed",
                "occurred_at": "2024-06-01T11:00:00Z",
                "run_id": "rb",
                "connection_id": "b_bad",
            }
        ]
    )
    # A second reconcile still fails for it, and says so the same sanitized way.
    store.reconcile()
    _assert_sanitized(_evidence(store, "b_bad")["last_error"])

    # Reads recompute the dirty row on the fly: the summary is right, not `unknown`.
    summary = store.get_connection_summary("b_bad", now=NOW)
    assert summary is not None
    assert _s1(summary).record_count == 3 and _s1(summary).count_state == "known"
    assert summary.last_run is not None and summary.last_run.run_id == "rb"
    # Reliable once recomputed: whatever else it lacks, never "evidence not current".
    assert not any(r.startswith("evidence_") for r in summary.connection_health.unknown_reasons)
    listed = {s.connection_id: s for s in store.list_connection_summaries(now=NOW).items}
    assert _s1(listed["b_bad"]).record_count == 3
    assert store.verify() == []  # dirty rows are known stale, not differing

    _remove_fault(store)
    store.reconcile()
    repaired = _evidence(store, "b_bad")
    assert (
        repaired["state"] == "ok" and repaired["last_error"] is None and not _dirty(store, "b_bad")
    )
    assert repaired["stream_stats"][0]["live"] == 3
    assert store.verify() == []
    assert store.dirty_backlog()["dirty_marks"] == 0


def test_failing_connection_does_not_starve_the_rest(faulty: Store) -> None:
    """A permanently failing connection is claimed first (oldest mark): every other dirty
    connection in its batch must still get reconciled, on both backends."""
    store = faulty
    _install_fault(store, "b_bad")
    store.ingest_records("b_bad", "s1", [{"key": "k2", "data": {"n": 2}}])  # oldest mark
    store.ingest_records("a_ok", "s1", [{"key": "k2", "data": {"n": 2}}])
    store.ingest_records("c_ok", "s1", [{"key": "k2", "data": {"n": 2}}])
    store.reconcile()
    store.reconcile()
    assert not _dirty(store, "a_ok") and not _dirty(store, "c_ok")
    assert _evidence(store, "a_ok")["stream_stats"][0]["live"] == 2
    assert _evidence(store, "b_bad")["state"] == "failed"
    _remove_fault(store)
    store.reconcile()
    assert store.verify() == [] and store.dirty_backlog()["dirty_marks"] == 0


def test_reads_report_unknown_when_recompute_is_impossible(faulty: Store) -> None:
    store = faulty
    _install_fault(store, "b_bad")
    store.ingest_records("b_bad", "s1", [{"key": "k2", "data": {"n": 2}}])
    store.reconcile()  # b_bad: failed and dirty
    store.ingest_records("c_ok", "s1", [{"key": "k2", "data": {"n": 2}}])  # c_ok: dirty, stored ok
    _break_view(store)
    try:
        # Writes keep working; reconcile fails for everyone but loses nothing.
        assert store.ingest_records("a_ok", "s1", [{"key": "k9", "data": {"n": 9}}]) == 1
        report = store.reconcile_report()
        assert report.reconciled == 0
        for cid in ("a_ok", "b_bad", "c_ok"):
            ev = _evidence(store, cid)
            assert _dirty(store, cid) and ev["state"] == "failed"
            _assert_sanitized(ev["last_error"])

        for read in ("list", "scoped"):
            if read == "list":
                items = {s.connection_id: s for s in store.list_connection_summaries(now=NOW).items}
            else:
                items = {
                    cid: store.get_connection_summary(cid, now=NOW)
                    for cid in ("a_ok", "b_bad", "c_ok")
                }
            for cid, summary in items.items():
                assert summary is not None
                health = summary.connection_health
                assert health.state == "unknown", (read, cid, health)
                assert health.unknown_reasons, (read, cid)
                assert summary.rendered_verdict.tone == "grey"
                assert summary.rendered_verdict.label != "Healthy"
                assert _s1(summary).count_state == "stale"
    finally:
        _restore_view(store)
    _remove_fault(store)
    store.reconcile()
    assert store.verify() == [] and store.dirty_backlog()["dirty_marks"] == 0
    for cid, n in (("a_ok", 2), ("b_bad", 2), ("c_ok", 2)):
        summary = store.get_connection_summary(cid, now=NOW)
        assert summary is not None
        reasons = summary.connection_health.unknown_reasons
        assert not any(r.startswith("evidence_") for r in reasons)
        assert _s1(summary).record_count == n and _evidence(store, cid)["state"] == "ok"


def test_bounded_reconcile_is_not_starved_by_failed_rows(faulty: Store) -> None:
    """A failed row keeps its old mark; bounded reconciles must still reach newer rows."""
    store = faulty
    _install_fault(store, "b_bad")
    store.ingest_records("b_bad", "s1", [{"key": "k2", "data": {"n": 2}}])  # oldest mark
    store.ingest_records("a_ok", "s1", [{"key": "k2", "data": {"n": 2}}])
    store.ingest_records("c_ok", "s1", [{"key": "k2", "data": {"n": 2}}])
    assert store.reconcile_report(limit=1).failed == 1  # b_bad claimed first, fails
    assert store.reconcile(limit=1) == 1
    assert store.reconcile(limit=1) == 1
    assert not _dirty(store, "a_ok") and not _dirty(store, "c_ok")
    assert _dirty(store, "b_bad")
    _remove_fault(store)
    store.reconcile()
    assert store.verify() == [] and store.dirty_backlog()["dirty_marks"] == 0
