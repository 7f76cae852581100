"""0016 upgrades a populated database in place, and rolls back cleanly (issue 10's review).

A database at 0015 filled with the demo fleet (some rows dirty, one with stale surface
evidence under 0011's rule) is upgraded: `verify()` is empty at once (0016 recomputes
every run and evidence row) and every summary equals a fresh database's at the newest
migration. Rolled back to 0015 and forward again, nothing changes; meanwhile the functions
0016 replaces are 0014's (byte order) and 0015's (the digest checks) again.
"""

from __future__ import annotations

from typing import Any

import pytest

from pyreference.demo import build_demo_fleet
from pyreference.store import Store
from tests.support.scenario import NOW, at
from tests.support.upgrades import (
    apply_upto,
    fresh_head,
    migrations_after,
    reconcile_at,
    rollback_after,
    summaries,
)

BEFORE = "0015_verify_digest"
UPGRADE = "0016_run_upkeep"


def _writes(store: Store) -> None:
    """Writes after the demo fleet: a dirty row, and surface evidence 0016 reads differently."""
    store.add_detail_gap("cin_github", "repositories", status="terminal")
    store.append_events(
        [
            {
                "event_type": "run.browser_surface_waiting",
                "occurred_at": at(3),
                "run_id": "r_up",
                "connection_id": "cin_github",
                "data": {"browser_surface": {"status": "waiting", "wait_reason": "otp_required"}},
            },
            {
                "event_type": "run.browser_surface_failed",
                "occurred_at": at(2),
                "run_id": "r_up",
                "connection_id": "cin_github",
                "data": {"browser_surface": {"status": "lost"}},
            },
        ]
    )


def _surface(store: Store) -> Any:
    runs = store.connection_diagnostics("cin_github", now=NOW).recent_runs
    return next(r for r in runs if r.run.run_id == "r_up").run


def test_0016_upgrades_a_populated_database_in_place(
    blank: Store, request: pytest.FixtureRequest, backend: str
) -> None:
    apply_upto(blank, BEFORE)
    assert UPGRADE in blank.pending_migrations()
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
        assert _surface(blank) == _surface(fresh)


def test_0016_rolls_back_and_forward(blank: Store) -> None:
    apply_upto(blank, None)
    build_demo_fleet(blank, NOW)
    blank.reconcile()
    _writes(blank)
    blank.reconcile()
    before = summaries(blank)
    rollback_after(blank, BEFORE)
    assert blank.pending_migrations() == migrations_after(blank, BEFORE)
    if blank.dialect == "postgres":
        with blank.database.session() as s:
            assert s.execute("SELECT * FROM pyref_verify_v2()") == []
            assert s.execute("SELECT * FROM pyref_verify_v3()") == []
            src = {
                r["proname"]: r["prosrc"]
                for r in s.execute(
                    "SELECT proname, prosrc FROM pg_proc WHERE proname IN ('pyref_verify_v3',"
                    " 'pyref_recompute_evidence_v1', 'pyref_recent_runs_v1')"
                )
            }
        # 0015's verify (digest checks, no run_facts), 0014's readers' functions (byte order).
        assert "digest." in src["pyref_verify_v3"] and "'run_facts,'" not in src["pyref_verify_v3"]
        for name in ("pyref_recompute_evidence_v1", "pyref_recent_runs_v1"):
            assert 'COLLATE "C"' in src[name] and "pyref_stale_runs" not in src[name], name
    apply_upto(blank, None)
    assert blank.verify() == []
    assert summaries(blank) == before
    if blank.dialect == "postgres":
        with blank.database.session() as s:
            v3 = s.execute("SELECT prosrc FROM pg_proc WHERE proname = 'pyref_verify_v3'")
        # 0016's verify, which `verify()` calls: 0015's digest checks and run_facts.
        assert "digest." in v3[0]["prosrc"] and "'run_facts,'" in v3[0]["prosrc"]
