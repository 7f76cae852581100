"""0017 upgrades a populated database in place, and rolls back cleanly (issue #14's review).

A database at 0016 filled with the demo fleet, plus a run whose payload identity is a JSON
`true` and a pending gap, is upgraded: `verify()` is empty at once (0017 recomputes every
run and evidence row) and every summary equals a fresh database's at the newest migration.
After the upgrade a plain-SQL change of a gap's retry time is reflected (F1); rolled back
to 0016, the same change is not (0016's triggers), and forward again nothing differs.
"""

from __future__ import annotations

import pytest

import pyreference
from pyreference.demo import build_demo_fleet
from pyreference.store import Store
from tests.integration.test_runs_trust import q
from tests.support.scenario import NOW, at
from tests.support.upgrades import (
    apply_upto,
    fresh_head,
    migrations_after,
    reconcile_at,
    rollback_after,
    summaries,
)

BEFORE = "0016_run_upkeep"
UPGRADE = "0017_watch_every_column"


def _writes(store: Store) -> None:
    """A cooling-down pending gap, and a run whose data.connection_id is JSON true (and no
    connector: facts recorded before 0017 are kept, and 0016 counted `true` as an id, so
    with a connector 0017 would give the event, written afresh, to its single active
    connection, which an upgraded database written before does not)."""
    store.add_detail_gap(
        "cin_github", "repositories", gap_id="g_up", next_attempt_after=at(-60), reason="rate"
    )
    mark = (lambda n: f"%({n})s") if store.dialect == "postgres" else (lambda n: f":{n}")
    q(
        store,
        "INSERT INTO spine_events (event_id, event_type, occurred_at, run_id, data_json)"
        f" VALUES ('e_up', 'run.started', {mark('at')}, 'r_up', {mark('d')})",
        {"at": at(5), "d": pyreference.db.Json({"connection_id": True, "reason": True})},
    )


def _reschedule(store: Store, minutes_ago: float) -> None:
    """What the original scheduler does to a gap: plain SQL, one column."""
    when = at(minutes_ago)
    q(
        store,
        f"UPDATE connector_detail_gaps SET next_attempt_after = '{when}' WHERE gap_id = 'g_up'",
    )


def test_0017_upgrades_a_populated_database_in_place(
    blank: Store, request: pytest.FixtureRequest, backend: str
) -> None:
    apply_upto(blank, BEFORE)
    assert blank.pending_migrations() == migrations_after(blank, BEFORE)
    build_demo_fleet(blank, NOW)
    reconcile_at(blank)
    _writes(blank)
    apply_upto(blank, None)
    assert blank.pending_migrations() == []
    assert blank.verify() == []

    with fresh_head(request, backend) as fresh:
        build_demo_fleet(fresh, NOW)
        fresh.reconcile()
        _writes(fresh)
        fresh.reconcile()
        blank.reconcile()
        assert blank.verify() == [] and fresh.verify() == []
        assert summaries(blank) == summaries(fresh)


def test_0017_rolls_back_and_forward(blank: Store) -> None:
    apply_upto(blank, None)
    build_demo_fleet(blank, NOW)
    _writes(blank)
    blank.reconcile()
    before = summaries(blank)
    rollback_after(blank, BEFORE)
    assert blank.pending_migrations() == migrations_after(blank, BEFORE)
    if blank.dialect == "postgres":  # (SQLite's verify is this library's: today's schema)
        assert blank.verify() == []
    # 0016's triggers: a plain-SQL reschedule of a gap marks nothing (the F1 fault) ...
    marks = "SELECT count(*) AS n FROM pyref_dirty"
    before_marks = q(blank, marks)[0]["n"]
    _reschedule(blank, 1)
    assert q(blank, marks)[0]["n"] == before_marks
    if blank.dialect == "postgres":
        blank.reconcile()
        assert [d["differing"] for d in blank.verify()] == [["gap_counts"]]
    _reschedule(blank, -60)
    apply_upto(blank, None)
    assert blank.verify() == []
    assert summaries(blank) == before
    # ... and 0017's mark it.
    _reschedule(blank, 1)
    blank.reconcile()
    assert blank.verify() == []
    assert summaries(blank) != before
