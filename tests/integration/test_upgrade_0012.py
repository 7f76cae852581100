"""0012 upgrades a populated database in place, and rolls back cleanly (SPEC-SEMANTICS).

A database built by the migrations before 0012 and filled with the demo fleet is
upgraded: `verify()` is empty at once (0012 recomputes every evidence row) and every
summary equals the one a database built fresh at the newest migration gives.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import pyreference
from pyreference import migrate
from pyreference.demo import build_demo_fleet
from pyreference.errors import InvalidInput
from pyreference.store import Store
from tests.conftest import _with_db
from tests.support.scenario import NOW

BEFORE = "0011_run_projection"
UPGRADE = "0012_semantics"


@pytest.fixture
def blank(backend: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """An empty, unmigrated database of the parametrized backend."""
    if backend == "sqlite":
        store = pyreference.connect("sqlite:///:memory:")
        yield store
        store.close()
        return
    admin = request.getfixturevalue("pg_admin_dsn")
    name = f"pyref_up_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    store = pyreference.connect(_with_db(admin, name))
    yield store
    store.close()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _apply(store: Store, upto: str | None) -> None:
    """Apply the migrations up to and including `upto` (all when None)."""
    db = store.database
    with migrate._yoyo(db, writing=True) as backend, backend.lock():
        wanted = migrate._migrations(db).filter(lambda m: upto is None or m.id <= upto)
        backend.apply_migrations(backend.to_apply(wanted))


def _rollback_after(store: Store, migration_id: str) -> None:
    """Roll back every migration after `migration_id` (newest first)."""
    db = store.database
    with migrate._yoyo(db, writing=True) as backend, backend.lock():
        backend.rollback_migrations(
            backend.to_rollback(migrate._migrations(db).filter(lambda m: m.id > migration_id))
        )


def _summaries(store: Store) -> list[dict[str, Any]]:
    rows = [s.to_dict() for s in store.iter_connection_summaries(NOW)]
    for row in rows:
        row["evidence"].pop("computed_at")
    return rows


def test_0012_upgrades_a_populated_database_in_place(
    blank: Store, request: pytest.FixtureRequest, backend: str
) -> None:
    _apply(blank, BEFORE)
    assert UPGRADE in blank.pending_migrations()
    build_demo_fleet(blank, NOW)
    blank.reconcile()
    blank.add_detail_gap("cin_github", "repositories", status="terminal")  # one dirty row too
    _apply(blank, None)
    assert blank.pending_migrations() == []
    assert blank.verify() == []

    fresh = pyreference.connect(
        request.getfixturevalue("sqlite_conn" if backend == "sqlite" else "pg_dsn")
    )
    try:
        build_demo_fleet(fresh, NOW)
        fresh.add_detail_gap("cin_github", "repositories", status="terminal")
        fresh.reconcile()
        blank.reconcile()
        assert _summaries(blank) == _summaries(fresh)
        # The amended rules, not the old ones: e.g. a revoked connection is retired.
        rows = {r["connection_id"]: r for r in _summaries(blank)}
        assert rows["cin_spotify_old"]["owner_state"]["resolver"] == "retired"
    finally:
        fresh.close()


def test_0012_rolls_back_and_forward(blank: Store) -> None:
    _apply(blank, None)
    build_demo_fleet(blank, NOW)
    blank.reconcile()
    before = _summaries(blank)
    _rollback_after(blank, BEFORE)
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
    _apply(blank, None)
    assert blank.verify() == []
    assert _summaries(blank) == before


def test_0012_keeps_every_trigger_of_the_tables_it_rebuilds_on_sqlite() -> None:
    """SQLite widens a CHECK by rebuilding the table: its triggers must all come back."""
    store = pyreference.connect("sqlite:///:memory:")
    _apply(store, BEFORE)
    names = "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
    tables = ("connector_detail_gaps", "connector_attention_records")
    with store.database.session() as s:
        before = [(r["tbl_name"], r["name"]) for r in s.execute(names) if r["tbl_name"] in tables]
    _apply(store, None)
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
