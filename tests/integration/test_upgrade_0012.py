"""0012 upgrades a populated database in place, and rolls back cleanly (SPEC-SEMANTICS).

A database built by the migrations before 0012 and filled with the demo fleet is
upgraded: `verify()` is empty at once (0012 recomputes every evidence row) and every
summary equals the one a database built fresh at the newest migration gives.
"""

from __future__ import annotations

import pytest

import pyreference
from pyreference.demo import build_demo_fleet
from pyreference.errors import InvalidInput
from pyreference.store import Store
from tests.support.scenario import NOW
from tests.support.upgrades import apply_upto, fresh_head, reconcile_at, rollback_after, summaries

BEFORE = "0011_run_projection"
UPGRADE = "0012_semantics"


def test_0012_upgrades_a_populated_database_in_place(
    blank: Store, request: pytest.FixtureRequest, backend: str
) -> None:
    apply_upto(blank, BEFORE)
    assert UPGRADE in blank.pending_migrations()
    build_demo_fleet(blank, NOW)
    reconcile_at(blank)
    blank.add_detail_gap("cin_github", "repositories", status="terminal")  # one dirty row too
    apply_upto(blank, None)
    assert blank.pending_migrations() == []
    assert blank.verify() == []

    with fresh_head(request, backend) as fresh:
        build_demo_fleet(fresh, NOW)
        fresh.add_detail_gap("cin_github", "repositories", status="terminal")
        fresh.reconcile()
        blank.reconcile()
        assert summaries(blank) == summaries(fresh)
        # The amended rules, not the old ones: e.g. a revoked connection is retired.
        rows = {r["connection_id"]: r for r in summaries(blank)}
        assert rows["cin_spotify_old"]["owner_state"]["resolver"] == "retired"


def test_0012_rolls_back_and_forward(blank: Store) -> None:
    apply_upto(blank, None)
    build_demo_fleet(blank, NOW)
    blank.reconcile()
    before = summaries(blank)
    rollback_after(blank, BEFORE)
    assert UPGRADE in blank.pending_migrations()
    with blank.database.session() as s:  # the old view is back, evidence recomputed under it
        s.execute("SELECT connector_instance_id FROM pyref_evidence_source")
        if blank.dialect == "postgres":
            # 0011's verify is clean under 0011's view, and readers' recompute function is
            # 0011's again (it returns that view's rows, for the named owner only).
            assert s.execute("SELECT * FROM pyref_verify_v2()") == []
            s.execute("SELECT set_config('pyref.owner', 'owner_local', false)")
            got = s.execute(
                "SELECT latest_run, gap_counts"
                " FROM pyref_recompute_evidence_v1(ARRAY['cin_github'])"
            )
            assert len(got) == 1 and "known_gaps" in str(got[0]["latest_run"])
            assert "in_progress" not in str(got[0]["gap_counts"])  # 0011's gap counts
            columns = s.execute(
                "SELECT count(*) AS n FROM information_schema.columns"
                " WHERE table_name = 'pyref_connector_digest' AND column_name = 'declarations'"
            )
            assert columns[0]["n"] == 0
    apply_upto(blank, None)
    assert blank.verify() == []
    assert summaries(blank) == before


def test_0012_keeps_every_trigger_of_the_tables_it_rebuilds_on_sqlite() -> None:
    """SQLite widens a CHECK by rebuilding the table: its triggers must all come back."""
    store = pyreference.connect("sqlite:///:memory:")
    apply_upto(store, BEFORE)
    names = "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
    tables = ("connector_detail_gaps", "connector_attention_records")
    with store.database.session() as s:
        before = [(r["tbl_name"], r["name"]) for r in s.execute(names) if r["tbl_name"] in tables]
    apply_upto(store, None)
    with store.database.session() as s:
        after = [(r["tbl_name"], r["name"]) for r in s.execute(names) if r["tbl_name"] in tables]
    assert before == after and len(after) == 10
    store.register_connector({"connector_key": "acme", "streams": [{"name": "items"}]})
    store.create_connection("c1", "acme")
    with store.database.session(transaction=True) as s, pytest.raises(InvalidInput):
        s.execute(
            "INSERT INTO connector_detail_gaps (gap_id, connector_instance_id, stream, updated_at)"
            " VALUES ('g', 'c1', 'items', '2026-11-31T00:00:00.000000Z')"
        )
    store.close()
