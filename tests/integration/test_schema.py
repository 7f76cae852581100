"""Migrations, renderings and schema shape (R1, R14, R31; SPEC §1)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from yoyo import read_migrations
from yoyo.connections import get_backend

import pyreference
from pyreference import sqlfiles

SYNTHESIZED = (
    "freshness", "health", "verdict", "next_action", "label", "tone", "captured",
    # SPEC-SEMANTICS R1: nor owner state, source work, collection report or disposition
    "owner_state", "resolver", "source_work", "collection_report", "disposition",
    "coverage_condition",
)  # fmt: skip


def test_committed_renderings_match_templates() -> None:
    assert sqlfiles.check() == []


def test_render_check_detects_drift(tmp_path) -> None:
    import shutil

    root = tmp_path / "sql"
    shutil.copytree(sqlfiles.sql_dir(), root)
    target = root / "postgres" / "0001_canonical.sql"
    target.write_text(target.read_text() + "\n-- hand edit\n")
    assert sqlfiles.check(root) == [target.relative_to(root)]


@pytest.mark.parametrize("dialect", sqlfiles.DIALECTS)
def test_yoyo_splits_every_file_into_whole_statements(dialect: str) -> None:
    for migration in read_migrations(str(sqlfiles.migrations_dir(dialect))):
        migration.load()
        texts = []
        for step in migration.steps:
            inner = getattr(step, "step", step)
            texts += [t for t in (inner._apply, inner._rollback) if isinstance(t, str)]
        # Only a comment-only file (a migration that changes nothing on this dialect) has none.
        assert texts or _comments_only(migration.path), migration.id
        for text in (t.strip() for t in texts):
            assert text, migration.id
            assert text.count("$$") % 2 == 0, f"{migration.id}: a $$ body was split"
            if dialect == "sqlite" and text.upper().startswith("CREATE TRIGGER"):
                assert text.rstrip(";").upper().endswith("END"), f"{migration.id}: trigger split"


def _comments_only(path: str) -> bool:
    lines = [line.strip() for line in Path(path).read_text().splitlines()]
    return all(not line or line.startswith("--") for line in lines)


def test_migrate_twice_is_a_no_op(store) -> None:
    assert store.migrate() == []
    assert store.pending_migrations() == []


def _pg_schema(dsn: str) -> dict[str, object]:
    with psycopg.connect(dsn) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name NOT LIKE '%yoyo%'"
            " ORDER BY 1, 2"
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        triggers = conn.execute(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1"
        ).fetchall()
        functions = conn.execute(
            "SELECT proname FROM pg_proc WHERE proname LIKE 'pyref%' ORDER BY 1"
        ).fetchall()
    return {"columns": columns, "indexes": indexes, "triggers": triggers, "functions": functions}


@pytest.mark.postgres
def test_plain_yoyo_apply_gives_the_same_schema_as_migrate(pg_admin_dsn, pg_dsn) -> None:
    """A DBA's `yoyo apply sql/postgres` and `pyreference migrate` agree."""
    from tests.conftest import _with_db

    name = "pyref_t_yoyo_plain"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = _with_db(pg_admin_dsn, name)
    try:
        backend = get_backend(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
        with backend.lock():
            backend.apply_migrations(
                backend.to_apply(read_migrations(str(sqlfiles.migrations_dir("postgres"))))
            )
        backend.connection.close()
        assert _pg_schema(dsn) == _pg_schema(pg_dsn)
        store = pyreference.connect(dsn)
        assert store.pending_migrations() == []
        store.close()
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_sqlite_and_postgres_schemas_agree(pg_dsn, sqlite_conn: sqlite3.Connection) -> None:
    pg = _pg_schema(pg_dsn)
    pg_columns: dict[str, set[str]] = {}
    for table, column, _ in pg["columns"]:  # type: ignore[misc]
        pg_columns.setdefault(table, set()).add(column)
    lite_columns: dict[str, set[str]] = {}
    tables = sqlite_conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
        " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%yoyo%'"
    ).fetchall()
    for (table,) in tables:
        lite_columns[table] = {r[1] for r in sqlite_conn.execute(f'PRAGMA table_xinfo("{table}")')}
    assert lite_columns == pg_columns
    lite_indexes = {
        r[0]
        for r in sqlite_conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    }
    pg_indexes = {
        name
        for name, definition in pg["indexes"]
        if "UNIQUE" not in definition and not name.endswith("_pkey")
    }  # type: ignore[misc]
    assert lite_indexes == pg_indexes


@pytest.mark.parametrize("column_word", SYNTHESIZED)
def test_evidence_holds_no_synthesized_column(store, column_word: str) -> None:
    """R1: freshness, health, verdict, next action, owner state, source work, the collection
    report, forward disposition and copy are computed at read time."""
    with store.database.session() as s:
        if store.dialect == "postgres":
            rows = s.execute(
                "SELECT table_name AS t, column_name AS c FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name LIKE 'pyref%'"
            )
        else:
            rows = []
            for t in ("pyref_evidence", "pyref_runs", "pyref_connector_digest", "pyref_dirty"):
                rows += [{"t": t, "c": r["name"]} for r in s.execute(f"PRAGMA table_info({t})")]
    assert rows
    offending = [f"{r['t']}.{r['c']}" for r in rows if column_word in r["c"]]
    assert offending == []


@pytest.mark.postgres
def test_spine_indexes_are_provisioned(pg_dsn) -> None:
    """R14: the spine indexes exist by migration, never by hand."""
    indexes = dict(_pg_schema(pg_dsn)["indexes"])  # type: ignore[arg-type]
    source = indexes["spine_events_source_run_idx"]
    assert "(source_kind, source_id, run_id, occurred_at DESC)" in source
    assert "WHERE (run_id IS NOT NULL)" in source
    assert "(connector_instance_id, event_seq)" in indexes["spine_events_instance_seq_idx"]


def test_migration_folds_run_events_written_before_the_triggers(backend, request, tmp_path) -> None:
    """Canonical rows that predate 0003 (another writer got there first) are folded in."""
    from tests.support.scenario import NOW, at, register

    if backend == "sqlite":
        target = f"sqlite:///{tmp_path / 'early.db'}"
        uri = target
    else:
        from tests.conftest import _with_db

        name = f"pyref_t_early_{tmp_path.name[-8:].replace('-', '_')}"
        admin = request.getfixturevalue("pg_admin_dsn")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        target = _with_db(admin, name)
        uri = target.replace("postgresql://", "postgresql+psycopg://", 1)
    dialect = "sqlite" if backend == "sqlite" else "postgres"
    migrations = read_migrations(str(sqlfiles.migrations_dir(dialect)))
    yoyo = get_backend(uri)
    with yoyo.lock():
        todo = yoyo.to_apply(migrations)
        yoyo.apply_migrations(todo.filter(lambda m: m.id < "0003"))
    yoyo.connection.close()

    store = pyreference.connect(target)
    register(store, "chase")  # no triggers yet: a plain writer's rows
    store.create_connection("cin_chase", "chase")
    store.append_events(
        [
            {
                "event_type": "run.started",
                "occurred_at": at(30),
                "run_id": "r1",
                "connector_id": "chase",
            },
            {
                "event_type": "run.failed",
                "occurred_at": at(20),
                "run_id": "r1",
                "data": {"failure_reason": "login"},
            },
        ]
    )
    later = [m.id for m in migrations if m.id >= "0003"]
    assert store.migrate() == later
    last = store.get_connection_summary("cin_chase", now=NOW).to_dict()["last_run"]
    assert (last["run_id"], last["status"], last["failure_reason"]) == ("r1", "failed", "login")
    assert last["started_at"] == at(30)
    store.reconcile()
    assert store.verify() == []
    store.close()
    if backend == "postgres":
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _document_types(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT DISTINCT data_type FROM information_schema.columns"
            " WHERE table_name IN ('pyref_evidence', 'pyref_connector_digest')"
            " AND column_name IN ('stream_stats', 'latest_run', 'open_attention', 'streams',"
            " 'refresh_policy')"
        ).fetchall()
    return {r[0] for r in rows}


@pytest.mark.postgres
def test_0004_rolls_back_and_forward_with_evidence_intact(pg_dsn) -> None:
    """0004 stores documents as json; rolling it back (jsonb) and forward loses nothing."""
    from pyreference.demo import build_demo_fleet
    from tests.support.scenario import NOW

    store = pyreference.connect(pg_dsn)
    build_demo_fleet(store, NOW)
    store.reconcile()
    before = store.list_connection_summaries(limit=100, now=NOW).to_dict()
    assert _document_types(pg_dsn) == {"json"}

    backend = get_backend(pg_dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    migrations = read_migrations(str(sqlfiles.migrations_dir("postgres")))
    with backend.lock():
        backend.rollback_migrations(migrations.filter(lambda m: m.id == "0004_json_documents"))
    assert _document_types(pg_dsn) == {"jsonb"}
    assert store.verify() == []
    assert store.list_connection_summaries(limit=100, now=NOW).to_dict() == before

    with backend.lock():
        backend.apply_migrations(backend.to_apply(migrations))
    backend.connection.close()
    assert _document_types(pg_dsn) == {"json"}
    assert store.verify() == []
    assert store.list_connection_summaries(limit=100, now=NOW).to_dict() == before
    with store.database.session() as s:  # verify still sees a wrong stored document
        s.execute("UPDATE pyref_evidence SET stream_stats = '[]' WHERE stream_stats::text <> '[]'")
    assert store.verify() and all(v["differing"] == ["stream_stats"] for v in store.verify())
    store.close()


@pytest.mark.postgres
def test_maintenance_functions_plan_each_call(pg_dsn) -> None:
    """0005: no cached generic plan from a small queue serves a large backlog."""
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            "SELECT proname, proconfig FROM pg_proc WHERE proname IN"
            " ('pyref_refresh_evidence_v1', 'pyref_reconcile_v1', 'pyref_rebuild_v1')"
        ).fetchall()
    assert len(rows) == 3
    for name, config in rows:
        assert "plan_cache_mode=force_custom_plan" in (config or []), name


# Timestamps at the edges of pyref_iso's text: years under 1000 (zero-padded), whole
# seconds (".000000"), a leap day, the last microsecond of a year, a far-future year.
_ISO_EDGES = (
    "0001-01-01 00:00:00+00",
    "0999-12-31 23:59:59.999999+00",
    "2024-02-29 12:00:00+05:30",
    "2026-11-30 00:00:00-08",
    "2026-12-31 23:59:59.999999+00",
    "9999-12-31 23:59:59.5+00",
)
_ISO_EXPECTED = [
    "0001-01-01T00:00:00.000000Z",
    "0999-12-31T23:59:59.999999Z",
    "2024-02-29T06:30:00.000000Z",
    "2026-11-30T08:00:00.000000Z",
    "2026-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59.500000Z",
]


def _iso_state(conn: psycopg.Connection) -> tuple[str, str, list[str]]:
    """pyref_iso's volatility, its plan (inlined or called) and its text for the edges."""
    volatility = conn.execute("SELECT provolatile FROM pg_proc WHERE proname = 'pyref_iso'")
    query = "SELECT pyref_iso(t::timestamptz) FROM unnest(%s::text[]) WITH ORDINALITY AS x(t, n)"
    plan = conn.execute(f"EXPLAIN (VERBOSE) {query} ORDER BY n", (list(_ISO_EDGES),))
    texts = conn.execute(f"{query} ORDER BY n", (list(_ISO_EDGES),))
    return (
        str(volatility.fetchone()[0]),  # type: ignore[index]
        "\n".join(r[0] for r in plan),
        [r[0] for r in texts],
    )


@pytest.mark.postgres
def test_iso_is_inlined_with_the_same_text_and_rolls_back(pg_dsn) -> None:
    """0006: pyref_iso is STABLE (as to_char is), so the planner inlines it; text unchanged."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'America/Los_Angeles'")  # the session zone must not matter
        volatility, plan, texts = _iso_state(conn)
        assert volatility == "s"
        assert "to_char(" in plan and "pyref_iso(" not in plan, plan
        assert texts == _ISO_EXPECTED

        backend = get_backend(pg_dsn.replace("postgresql://", "postgresql+psycopg://", 1))
        migrations = read_migrations(str(sqlfiles.migrations_dir("postgres")))
        with backend.lock():
            backend.rollback_migrations(migrations.filter(lambda m: m.id == "0006_iso_inline"))
        volatility, plan, texts = _iso_state(conn)
        assert volatility == "i" and "pyref_iso(" in plan, plan
        assert texts == _ISO_EXPECTED
        with backend.lock():
            backend.apply_migrations(backend.to_apply(migrations))
        backend.connection.close()
        assert _iso_state(conn)[0] == "s"


def test_0008_rolls_back_and_forward(backend, request, tmp_path) -> None:
    """0008 (input rules) rolls back to 0007's schema (with the migrations after it, as
    `yoyo rollback --revision 0008_input_rules` does) and forward again, summaries intact."""
    from pyreference.demo import build_demo_fleet
    from pyreference.errors import InvalidInput
    from tests.support.scenario import NOW, comparable

    if backend == "sqlite":
        target = uri = f"sqlite:///{tmp_path / 'rules.db'}"
        store = pyreference.connect(target)
        store.migrate()
    else:
        target = request.getfixturevalue("pg_dsn")
        uri = target.replace("postgresql://", "postgresql+psycopg://", 1)
        store = pyreference.connect(target)
    build_demo_fleet(store, NOW)
    store.reconcile()

    def page() -> list[
        dict[str, object]
    ]:  # re-applying 0011 and 0012 recomputes evidence: a new computed_at
        return [
            comparable(i)
            for i in store.list_connection_summaries(limit=100, now=NOW).to_dict()["items"]
        ]

    before = page()
    guard = (
        "SELECT count(*) AS n FROM sqlite_master WHERE name = 'pyref_100_spine_no_delete'"
        if backend == "sqlite"
        else "SELECT count(*) AS n FROM pg_trigger WHERE tgname = 'pyref_100_spine_append_only'"
    )
    migrations = read_migrations(str(sqlfiles.migrations_dir(store.dialect)))
    yoyo = get_backend(uri)
    with yoyo.lock():
        # 0008 and what depends on it, newest first (as `yoyo rollback --revision` does)
        yoyo.rollback_migrations(
            yoyo.to_rollback(migrations.filter(lambda m: m.id >= "0008_input_rules"))
        )
    with store.database.session() as s:
        assert s.execute(guard)[0]["n"] == 0
    # (today's reads need 0012, rolled back with 0008: they are checked after re-applying)
    with yoyo.lock():
        yoyo.apply_migrations(yoyo.to_apply(migrations))
    yoyo.connection.close()
    with store.database.session() as s:
        assert s.execute(guard)[0]["n"] == 1
    assert store.verify() == []
    assert page() == before
    with pytest.raises(InvalidInput, match="append-only"), store.database.session() as s:
        s.execute("DELETE FROM spine_events")
    store.close()
