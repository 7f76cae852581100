"""0020 (record deltas) upgrades a populated database in place, and rolls back without
losing a pending insert.

A database at 0019 with the demo fleet and a records write, all still marked, is upgraded:
the marks are read as marks, new inserts leave deltas, and before and after reconcile every
summary equals a fresh database's given the same writes. Rolled back with deltas pending,
each of their connections is marked instead (0019's reads and reconcile recount it);
forward again, reconcile leaves nothing to verify and the counts the deltas gave.
"""

from __future__ import annotations

import pytest

from pyreference.demo import build_demo_fleet
from pyreference.store import Store
from tests.integration.test_runs_trust import q
from tests.support.scenario import NOW, records
from tests.support.upgrades import (
    apply_upto,
    fresh_head,
    migrations_after,
    rollback_after,
    summaries,
)

BEFORE = "0019_cached_read_plans"
CID, STREAM = "cin_github", "repositories"


def _totals(store: Store) -> dict[str, object]:
    return {
        s.connection_id: (s.total_records, s.retained_bytes)
        for s in store.iter_connection_summaries(NOW)
    }


def test_0020_upgrades_a_populated_database_in_place(
    blank: Store, request: pytest.FixtureRequest, backend: str
) -> None:
    apply_upto(blank, BEFORE)
    assert blank.pending_migrations() == migrations_after(blank, BEFORE)
    # Written at 0019 and not reconciled (this library's reconcile needs 0020's table):
    # the connections' marks, the records write's among them, wait for 0020's reconcile.
    build_demo_fleet(blank, NOW)
    blank.ingest_records(CID, STREAM, records(2, prefix="before"))
    apply_upto(blank, None)
    assert blank.pending_migrations() == []
    blank.ingest_records(CID, STREAM, records(3, prefix="after"))  # deltas from 0020

    with fresh_head(request, backend) as fresh:
        build_demo_fleet(fresh, NOW)
        fresh.reconcile()
        fresh.ingest_records(CID, STREAM, records(2, prefix="before"))
        fresh.ingest_records(CID, STREAM, records(3, prefix="after"))
        assert _totals(blank) == _totals(fresh)
        blank.reconcile()
        fresh.reconcile()
        assert blank.verify() == [] and fresh.verify() == []
        assert summaries(blank) == summaries(fresh)


def test_0020_rolls_back_with_pending_deltas_and_forward(blank: Store) -> None:
    apply_upto(blank, None)
    build_demo_fleet(blank, NOW)
    blank.reconcile()
    blank.ingest_records(CID, STREAM, records(4, prefix="pending"))
    expected = _totals(blank)
    assert q(blank, "SELECT count(*) AS n FROM pyref_record_deltas")[0]["n"] > 0

    rollback_after(blank, BEFORE)
    marked = q(blank, "SELECT DISTINCT connector_instance_id AS c FROM pyref_dirty")
    assert [r["c"] for r in marked] == [CID], "each connection with deltas is marked"
    tables = q(
        blank,
        "SELECT count(*) AS n FROM "
        + (
            "information_schema.tables WHERE table_name = 'pyref_record_deltas'"
            if blank.dialect == "postgres"
            else "sqlite_master WHERE name = 'pyref_record_deltas'"
        ),
    )
    assert tables[0]["n"] == 0

    apply_upto(blank, None)
    assert _totals(blank) == expected  # the mark makes the read recount
    blank.reconcile()
    assert blank.verify() == []
    assert _totals(blank) == expected
