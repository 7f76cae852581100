"""R7: verify() names the connection and the column when maintained evidence is wrong."""

from __future__ import annotations

import pytest
from rel_support import NOW, seed_connectors, sql

from pyreference.store import Store

CORRUPTIONS = {
    "stream_stats": "stream_stats = '[]'",
    "latest_run": "latest_run = NULL",
    "failures_since_success": "failures_since_success = 42",
    "gap_counts": "gap_counts = '[]'",
    "schedule": "schedule = NULL",
    "open_attention": "open_attention = '[]'",
    "expected_profile_key": "expected_profile_key = 'wrong'",
}


@pytest.fixture
def clean(store: Store) -> Store:
    seed_connectors(store)
    for cid in ("v1", "v2"):
        store.create_connection(cid, "alpha")
        store.ingest_records(cid, "s1", [{"key": "k", "data": {"v": 1}}])
        store.append_events(
            [
                {
                    "event_type": "run.failed",
                    "occurred_at": "2024-05-01T00:00:00Z",
                    "run_id": f"r-{cid}",
                    "connection_id": cid,
                }
            ]
        )
        store.set_schedule(cid, interval_seconds=3600)
        store.add_detail_gap(cid, "s1")
        store.open_attention(cid, reason_code="reauth")
    store.reconcile()
    assert store.verify() == []
    return store


def test_verify_names_corrupted_connection_and_column(clean: Store) -> None:
    param = ":c" if clean.dialect == "sqlite" else "%(c)s"
    for column in sorted(CORRUPTIONS):
        sql(
            clean,
            f"UPDATE pyref_evidence SET {CORRUPTIONS[column]}"
            f" WHERE connector_instance_id = {param}",
            {"c": "v2"},
        )
        assert clean.verify() == [{"connection_id": "v2", "differing": [column]}], column
        # A reconcile only touches dirty rows; a rebuild repairs everything.
        clean.reconcile()
        assert clean.verify() == [{"connection_id": "v2", "differing": [column]}], column
        clean.rebuild()
        assert clean.verify() == [], column
    sql(clean, "UPDATE pyref_evidence SET stream_stats = '[]', latest_run = NULL")
    assert clean.verify() == [
        {"connection_id": c, "differing": ["stream_stats", "latest_run"]} for c in ("v1", "v2")
    ]


def test_verify_reports_missing_evidence_row(clean: Store) -> None:
    sql(clean, "DELETE FROM pyref_evidence WHERE connector_instance_id = 'v1'")
    result = clean.verify()
    assert [r["connection_id"] for r in result] == ["v1"] and "missing" in result[0]["differing"]
    summary = clean.get_connection_summary(
        "v1", now=NOW
    )  # a read without evidence is never healthy
    assert summary is not None and summary.connection_health.state == "unknown"
    clean.rebuild()
    assert clean.verify() == []


def test_a_write_to_a_corrupted_row_marks_it_dirty_and_reconcile_repairs(clean: Store) -> None:
    sql(clean, "UPDATE pyref_evidence SET stream_stats = '[]' WHERE connector_instance_id = 'v1'")
    assert clean.verify() == [{"connection_id": "v1", "differing": ["stream_stats"]}]
    # A record changed and moved back in time marks the row (a new one, or new content,
    # would leave a delta, added to the stored row: 0020, 0031).
    moved = {"key": "k", "data": {"v": 2}, "emitted_at": "2020-01-01T00:00:00Z"}
    clean.ingest_records("v1", "s1", [moved])
    assert clean.verify() == []  # dirty rows are known stale: every read recomputes them
    summary = clean.get_connection_summary("v1", now=NOW)
    assert summary is not None and summary.total_records == 1
    clean.reconcile()
    assert clean.verify() == []
    assert clean.get_connection_summary("v1", now=NOW).total_records == 1
