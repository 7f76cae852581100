"""Smoke test of bench/: a tiny fleet and one measurement of each kind (no timing assertions)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from rich.progress import Progress

import pyreference
from bench import baselines, fleet, measure, report, run

pytestmark = pytest.mark.postgres

TINY = run.Config(
    name="smoke",
    n_series=(10,),
    records=5,
    r_series=(5,),
    r_series_n=10,
    reps=2,
    write_reps=1,
    sqlite_n=(10,),
    sqlite_records=5,
    budget_s=1.0,
    e_series=(2, 4),
    e_series_n=10,
)


def test_fleet_is_deterministic_and_spans_the_real_manifests() -> None:
    spec = fleet.FleetSpec()
    rows = list(fleet.connection_rows(0, 88, spec))
    assert len({r[2] for r in rows}) == 44
    assert rows == list(fleet.connection_rows(0, 88, spec))
    events = list(fleet.event_rows(0, 50, spec))
    kinds = {e[1] for e in events}
    assert {"run.started", "run.completed", "run.failed", "run.browser_surface_failed"} <= kinds
    # Sibling browser connections are attributed by profile key only, never by id column.
    browser = [e for e in events if e[6] is None]
    assert browser and all("profile_key" in e[9] for e in browser)
    assert list(fleet.gap_rows(0, 50, spec)) and list(fleet.attention_rows(0, 50, spec))


def test_fleet_history_grows_in_steps_as_a_one_shot_load_would() -> None:
    spec = fleet.FleetSpec(events_per_connection=20)
    one_shot = list(fleet.event_rows(0, 30, spec))
    first = list(fleet.event_rows(0, 30, fleet.FleetSpec(events_per_connection=6)))
    rest = list(fleet.event_rows(0, 30, spec, events_from=6))
    assert sorted(one_shot) == sorted(first + rest)
    assert len(one_shot) == 30 * 20


def test_bench_smoke_postgres_and_sqlite(pg_dsn: str, pg_admin_dsn: str, tmp_path: Path) -> None:
    spec = fleet.FleetSpec()
    with Progress(disable=True) as ui:
        with run.Scratch(pg_admin_dsn, "smoke") as small:
            pg = run.pg_n_series(TINY, pg_dsn, ui, spec, small.dsn)
        with run.Scratch(pg_admin_dsn, "smoke_r") as db, run.Scratch(pg_admin_dsn, "sm") as small:
            pg_r = run.pg_r_series(TINY, db.dsn, ui, spec, small.dsn)
        with run.Scratch(pg_admin_dsn, "smoke_e") as db:
            pg_e = run.pg_e_series(TINY, db.dsn, ui, spec)
        lite = run.sqlite_series(TINY, ui, spec)

    point = pg["points"]["10"]
    for kind in ("pyreference", "pyreference_sql", "scoped", "fanout", "plain_view", "matview"):
        assert {"p50_ms", "p95_ms", "n"} <= set(point[kind])
    assert point["pyreference"]["statements"] <= 4
    assert point["pyreference"]["writes"] == 0
    assert point["fanout"]["statements"] > point["pyreference"]["statements"]
    for data in (pg, lite):
        by_size = data["statements_vs_page_size"]
        assert by_size["fanout"][10] == 1 + 10 * len(baselines.PG_FANOUT)
        assert all(v <= 4 for v in by_size["pyreference"].values())
    store = pyreference.connect(pg_dsn)
    try:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            by_size = measure.statements_vs_page_size(store, conn, "postgres", (2, 5, 10))
    finally:
        store.close()
    fan = [by_size["fanout"][s] for s in (2, 5, 10)]
    assert fan[0] < fan[1] < fan[2], "fan-out statements grow with the page size"
    assert all(v <= 4 for v in by_size["pyreference"].values())

    for growth in (pg["growth"], pg_r["growth"]):
        for kind in ("list", "scoped"):
            assert growth[kind]["ratio"] > 0
            assert growth[kind]["small"]["n"] == growth[kind]["large"]["n"]

    writes = pg["write_overhead"]
    assert writes["row"]["ratio"] > 0 and writes["bulk"]["ratio"] > 0
    # The untriggered writes disabled the triggers only inside their own transactions,
    # and marked their connections by hand: the read model is still right.
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        enabled = {
            r[0]
            for r in conn.execute(
                "SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'records'::regclass"
                " AND NOT tgisinternal"
            )
        }
        conn.execute("SELECT * FROM pyref_reconcile_v3(NULL)")
    assert enabled == {"O"}
    store = pyreference.connect(pg_dsn)
    try:
        assert store.verify() == []
    finally:
        store.close()
    assert {"0.01", "0.1", "1", "rebuild_ms"} <= set(pg["reconcile_vs_dirty"])
    assert pg["points"]["10"]["rebuild"]["ms"] > 0

    stale = pg["staleness"]
    assert stale["pyreference"]["reflects_immediately"] is True
    assert stale["pyreference"]["statements_with_dirty_row"] <= 4
    assert stale["plain_view"]["reflects_immediately"] is True
    assert stale["matview"]["reflects_immediately"] is False
    assert stale["matview"]["reflects_after_refresh"] is True
    assert lite["staleness"]["pyreference"]["reflects_immediately"] is True
    assert "Limit" in pg["explain"]["plain_view"]

    results = {
        "config": {"name": "smoke"},
        "machine": report.machine_info(pg_dsn),
        "postgres_n": pg,
        "postgres_r": pg_r,
        "postgres_e": pg_e,
        "sqlite": lite,
        "elapsed_s": 0.0,
    }
    paths = report.write_all(results, tmp_path, "smoke")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    assert "timed in alternation" in paths[1].read_text()
    assert "vs run events per connection" in paths[1].read_text()
    assert set(pg_e["points"]) == {"2", "4"}
    assert all(p["pyreference"]["statements"] == 1 for p in pg_e["points"].values())
    statuses = {t["status"] for t in results["targets"]}
    assert statuses <= {"PASS", "MISS"} and len(results["targets"]) == 10
    assert "R40 targets" in paths[1].read_text()


def test_fanout_page_counts_its_own_statements(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        fleet.pg_register_connectors(conn)
        fleet.pg_grow_connections(conn, 0, 3, fleet.FleetSpec(), 2)
        rows, statements = baselines.pg_fanout_page(conn, limit=100)
    assert len(rows) == 3 and statements == 1 + 3 * len(baselines.PG_FANOUT)
    assert all(r["total_records"] == 2 for r in rows)
    assert measure.percentile([1.0, 2.0, 3.0], 0.5) == 2.0


def test_bench_pages_smoke(pg_admin_dsn: str, tmp_path: Path) -> None:
    """The pages experiment once, tiny: every reader at each position, walks, dirty, load."""
    cfg = replace(
        TINY, n_series=(200,), records=2, sqlite_n=(200,), sqlite_records=2, pages_load_s=0.5
    )
    cfg = replace(cfg, pages_writers=1)
    with Progress(disable=True) as ui:
        paths = run.pages_phase(cfg, pg_admin_dsn, ui, tmp_path)
    data = json.loads(paths[0].read_text())
    assert set(data["positions"]) == {"first", "middle", "deep", "last"}
    for point in data["positions"].values():
        assert set(point) >= {"floor", "pyreference", "pyreference_cold", "fanout_indexed"}
        assert point["fanout_indexed"]["statements"] == 1 + 100 * len(baselines.PG_FANOUT)
    assert data["walk"]["rows"] == 200
    # Marked rows: key columns, then their recomputation (nothing more: a recomputed row
    # needs no documents of its own).
    assert data["dirty"]["statements_dirty"] == 2
    # New records only: the key columns, each row its memoized one plus its deltas.
    assert data["dirty"]["statements_inserted"] == 1
    assert data["write_load"]["write_batches_per_s"] > 0
    # The floor is read in the same rounds: the machine's share of the slowdown.
    assert data["write_load"]["load"]["floor"]["p50_ms"] > 0
    assert 0 <= data["write_load"]["load"]["recomputing_reads"] <= 1
    # The report keeps each fan-out query's plan (on 200 rows a table scan may win).
    assert set(data["explain"]["fanout_indexed"]) == set(baselines.PG_FANOUT)
    assert "ROW(" in data["explain"]["pyreference_last_page"]
    assert {t["status"] for t in data["targets"]} <= {"PASS", "MISS"}
    assert "floor" in paths[1].read_text() and paths[2].stat().st_size > 0


def test_replica_bench_runs_every_set_up_once(replica_cluster: object) -> None:
    """bench/replicas.py on the test cluster: a tiny fleet, one short window per set-up."""
    from bench import replicas

    cfg = replicas.Config(
        name="smoke", connections=20, records=2, seconds=0.3, readers=1, rounds=1, pin=False
    )
    result = replicas.run(cfg, replica_cluster)  # type: ignore[arg-type]
    rows = {row["mode"]: row for row in replicas.summarize(result)}
    assert set(rows) == set(replicas.MODES)
    assert rows["no readers"]["writes_per_s"] > 0
    assert rows["2 replicas"]["from_replicas_pct"] > 50  # a recovery conflict may fall back
    assert rows["primary only"]["from_replicas_pct"] == 0
    assert "| 2 replicas, strict |" in replicas.markdown(result)


def test_trigger_loop_times_every_variant(
    pg_admin_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """bench/trigger_loop.py once, tiny: each trigger variant swapped in and timed."""
    from bench import trigger_loop

    assert trigger_loop.main(["--dsn", pg_admin_dsn, "--rounds", "1", "--rows", "20"]) == 0
    out = capsys.readouterr().out
    for name in ("untriggered", "empty", "0020", "0021"):
        assert re.search(rf"^  {name} +\d+\.\d us", out, re.MULTILINE), out
