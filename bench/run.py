"""Run the benchmarks: `python bench/run.py [--quick] [--dsn DSN]` (or `pyreference bench`).

Creates scratch databases `pyref_bench_*` on the server named by --dsn (dropped at the
end), loads a fleet over the 44 real manifests, measures pyreference beside the fan-out,
plain-view and materialized-view baselines, and writes bench/results/<name>.{json,md,png}.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

import pyreference
from bench import baselines, fleet, measure, pages, pages_report, report
from pyreference.store import page_statement

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).parent / "results"
LOCAL = RESULTS / "local"  # untracked (.gitignore)
# Measured: `pyreference bench --quick` on the 2-core project machine (see bench/README.md).
QUICK_TAKES = "about two minutes on 2 cores, 107 s measured with the pages experiment"


@dataclass(frozen=True)
class Config:
    name: str
    n_series: tuple[int, ...]
    records: int  # records per connection for the N series
    r_series: tuple[int, ...]
    r_series_n: int
    reps: int
    write_reps: int
    sqlite_n: tuple[int, ...]
    sqlite_records: int
    budget_s: float
    e_series: tuple[int, ...] = (6, 20, 100)  # run events per connection (R40: E up to 100)
    e_series_n: int = 1000
    pages_writers: int = 4  # writer processes in the pages experiment's write load
    pages_load_s: float = 15.0  # seconds of reads idle, then as long under the write load


QUICK = Config(
    "quick",
    (10, 100, 1000),
    100,
    (10, 100, 1000),
    100,
    15,
    5,
    (10, 100, 1000),
    10,
    4.0,
    e_series_n=100,
    pages_load_s=6.0,
)
MEDIUM = Config(
    "medium", (10, 100, 1000, 10000), 100, (10, 100, 1000), 1000, 30, 9, (10, 100, 1000), 100, 15.0
)
FULL = Config(
    "full", (10, 100, 1000, 10000), 100, (10, 100, 1000), 10000, 30, 9, (10, 100, 1000), 100, 20.0
)
CONFIGS = {c.name: c for c in (QUICK, MEDIUM, FULL)}


def with_db(dsn: str, name: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    params["dbname"] = name
    return make_conninfo(**params)


class Scratch:
    """A scratch Postgres database, dropped on exit."""

    def __init__(self, admin_dsn: str, tag: str) -> None:
        import psycopg

        self.admin_dsn = admin_dsn
        self.name = f"pyref_bench_{tag}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        self.dsn = with_db(admin_dsn, self.name)

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        import psycopg

        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def open_pg(dsn: str) -> tuple[Any, Any]:
    import psycopg

    store = pyreference.connect(dsn)
    store.migrate()
    conn = psycopg.connect(dsn, autocommit=True)
    fleet.pg_register_connectors(conn)
    baselines.pg_install_views(conn)
    return store, conn


def pg_small_fleet(dsn: str, spec: fleet.FleetSpec, n: int, records: int) -> tuple[Any, Any]:
    """The small end a growth target compares against, loaded in its own database."""
    store, conn = open_pg(dsn)
    fleet.pg_grow_connections(conn, 0, n, spec, records)
    fleet.pg_settle(conn)
    fleet.pg_vacuum(conn)
    return store, conn


def interleaved_growth(
    store: Any, conn: Any, small_dsn: str, spec: fleet.FleetSpec, n: int, records: int, reps: int
) -> dict[str, Any]:
    """Time `store` and a fleet of n × records in alternation (see `measure.growth`)."""
    fleet.pg_settle(conn)  # e.g. the staleness probe leaves a row dirty
    fleet.pg_vacuum(conn)  # as before every per-point measurement
    small_store, small_conn = pg_small_fleet(small_dsn, spec, n, records)
    try:
        return measure.growth(small_store, store, reps)
    finally:
        small_conn.close()
        small_store.close()


def pg_n_series(
    cfg: Config, dsn: str, ui: Progress, spec: fleet.FleetSpec, small_dsn: str | None = None
) -> dict[str, Any]:
    """Grow the fleet through cfg.n_series at cfg.records; measure at each N; extras at max N.

    With `small_dsn`, the growth targets are also measured at the end by timing the
    smallest and the largest fleet in alternation (see `measure.growth`).
    """
    store, conn = open_pg(dsn)
    out: dict[str, Any] = {"records_per_connection": cfg.records, "points": {}}
    total = sum(cfg.n_series[-1:]) * cfg.records
    load = ui.add_task(f"pg N-series: loading records (R={cfg.records})", total=total)
    prev = 0
    try:
        for n in cfg.n_series:
            t0 = time.perf_counter()
            fleet.pg_grow_connections(
                conn, prev, n, spec, cfg.records, lambda k: ui.advance(load, k)
            )
            load_s = time.perf_counter() - t0
            settle_s = fleet.pg_settle(conn)
            pre_vacuum = measure.pre_vacuum(store, conn, cfg.reps)
            vacuum_s = fleet.pg_vacuum(conn)
            ui.update(load, description=f"pg N={n}: measuring reads")
            point = measure.read_point(
                store, conn, cfg.reps, dialect="postgres", views=True, budget_s=cfg.budget_s
            )
            point.update(
                {
                    "load_s": load_s,
                    "settle_s": settle_s,
                    "vacuum_s": vacuum_s,
                    "pre_vacuum": pre_vacuum,
                    "rebuild": measure.rebuild_cost(conn, 1 if n >= 10000 else 3),
                    "reconcile_1pct": measure.reconcile_vs_dirty(conn, n, (0.01,))["0.01"],
                }
            )
            out["points"][str(n)] = point
            prev = n
        n = cfg.n_series[-1]
        ui.update(load, description=f"pg N={n}: writes, reconcile, staleness")
        out["statements_vs_page_size"] = measure.statements_vs_page_size(store, conn, "postgres")
        out["reconcile_vs_dirty"] = measure.reconcile_vs_dirty(
            conn, n, (0.01, 0.1, 1.0), reps=1 if n >= 10000 else 3
        )
        out["rebuild"] = measure.rebuild_cost(conn, 1 if n >= 10000 else 3)
        out["reconcile_vs_dirty"]["rebuild_ms"] = out["rebuild"]["ms"]
        ids = [f"cin_{i:06d}" for i in range(min(n, 100))]
        fleet.pg_vacuum(conn)  # quiet the server: no autovacuum racing the write timings
        conn.execute("CHECKPOINT")
        out["write_overhead"] = measure.write_overhead(conn, ids, reps=cfg.write_reps)
        out["run_event_overhead"] = measure.run_event_overhead(conn, reps=cfg.write_reps)
        fleet.pg_settle(conn)
        baselines.pg_refresh_matview(conn)
        out["staleness"] = measure.staleness(store, conn, views=True)
        out["explain"] = explains(conn, store)
        if small_dsn is not None:
            ui.update(load, description=f"pg N={n}: growth, interleaved with a small fleet")
            small_n = 100 if 100 in cfg.n_series else cfg.n_series[0]
            out["growth"] = {"small_n": small_n, "large_n": n}
            out["growth"].update(
                interleaved_growth(store, conn, small_dsn, spec, small_n, cfg.records, 3 * cfg.reps)
            )
    finally:
        ui.remove_task(load)
        conn.close()
        store.close()
    return out


def explains(conn: Any, store: Any) -> dict[str, str]:
    """EXPLAIN ANALYZE of each read query, for the report when a target is missed."""
    owner = baselines.OWNER
    queries = store.database.queries
    name, page = page_statement(owner, 101, None, None)
    keys, _ = page_statement(owner, 101, None, None, keys=True)
    return {
        "pyreference_list_page": baselines.pg_explain(conn, queries[name], page),
        "pyreference_list_keys": baselines.pg_explain(conn, queries[keys], page),
        "pyreference_scoped": baselines.pg_explain(
            conn, queries["scoped_summary"], {"owner": owner, "id": "cin_000042"}
        ),
        "plain_view": baselines.pg_explain(
            conn, baselines.VIEW_PAGE.format(relation="bench_summary_view"), (owner, 100)
        ),
        "fanout_runs_one_connection": baselines.pg_explain(
            conn,
            baselines.PG_FANOUT["runs"]
            .replace("%(id)s", "'cin_000000'")
            .replace("%(connector)s", "'amazon'")
            .replace("%(profile)s", "'amazon:cin_000000'"),
        ),
    }


def pg_step(store: Any, conn: Any, cfg: Config, grow: Callable[[], None]) -> dict[str, Any]:
    """One point of a series: grow the fleet, settle and vacuum it, measure every read."""
    t0 = time.perf_counter()
    grow()
    load_s = time.perf_counter() - t0
    settle_s = fleet.pg_settle(conn)
    fleet.pg_vacuum(conn)
    point = measure.read_point(
        store, conn, cfg.reps, dialect="postgres", views=True, budget_s=cfg.budget_s
    )
    point.update({"load_s": load_s, "settle_s": settle_s})
    return point


def pg_r_series(
    cfg: Config, dsn: str, ui: Progress, spec: fleet.FleetSpec, small_dsn: str | None = None
) -> dict[str, Any]:
    """Fixed N, growing records per connection (with `small_dsn`: growth interleaved too)."""
    store, conn = open_pg(dsn)
    n = cfg.r_series_n
    out: dict[str, Any] = {"n": n, "points": {}}
    load = ui.add_task(f"pg R-series (N={n}): loading records", total=n * cfg.r_series[-1])
    try:
        fleet.pg_grow_connections(conn, 0, n, spec, 0)
        prev = 0
        for r in cfg.r_series:
            ui.update(load, description=f"pg R={r} (N={n}): loading, then measuring")
            tick = partial(ui.advance, load)
            grow = partial(fleet.pg_grow_records, conn, n, prev, r, spec, tick)
            out["points"][str(r)] = pg_step(store, conn, cfg, grow)
            prev = r
        if small_dsn is not None:
            ui.update(load, description=f"pg R={prev} (N={n}): growth, interleaved")
            small_r = cfg.r_series[0]
            out["growth"] = {"small_r": small_r, "large_r": prev}
            out["growth"].update(
                interleaved_growth(store, conn, small_dsn, spec, n, small_r, 3 * cfg.reps)
            )
    finally:
        ui.remove_task(load)
        conn.close()
        store.close()
    return out


def pg_e_series(cfg: Config, dsn: str, ui: Progress, spec: fleet.FleetSpec) -> dict[str, Any]:
    """Fixed N and R, growing run history: E run events per connection."""
    store, conn = open_pg(dsn)
    n, first = cfg.e_series_n, cfg.e_series[0]
    out: dict[str, Any] = {"n": n, "records_per_connection": cfg.records, "points": {}}
    load = ui.add_task(f"pg E-series (N={n}): loading", total=len(cfg.e_series))
    try:
        fleet.pg_grow_connections(
            conn, 0, n, replace(spec, events_per_connection=first), cfg.records
        )
        prev = first
        for e in cfg.e_series:
            ui.update(load, description=f"pg E={e} (N={n}): loading, then measuring")
            grow = partial(fleet.pg_grow_events, conn, n, prev, e, spec)
            point = pg_step(store, conn, cfg, grow)
            point["rebuild"] = measure.rebuild_cost(conn, 1)
            point["reconcile_1pct"] = measure.reconcile_vs_dirty(conn, n, (0.01,))["0.01"]
            out["points"][str(e)] = point
            ui.advance(load)
            prev = e
    finally:
        ui.remove_task(load)
        conn.close()
        store.close()
    return out


def sqlite_series(cfg: Config, ui: Progress, spec: fleet.FleetSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"records_per_connection": cfg.sqlite_records, "points": {}}
    load = ui.add_task("sqlite: loading", total=cfg.sqlite_n[-1] * cfg.sqlite_records)
    with tempfile.TemporaryDirectory() as tmp:
        store = pyreference.connect(f"sqlite:///{tmp}/bench.db")
        store.migrate()
        conn = store.database.conn  # type: ignore[attr-defined]
        fleet.sqlite_register_connectors(conn)
        prev = 0
        try:
            for n in cfg.sqlite_n:
                t0 = time.perf_counter()
                fleet.sqlite_grow_connections(
                    conn, prev, n, spec, cfg.sqlite_records, lambda k: ui.advance(load, k)
                )
                load_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                store.reconcile()
                settle_s = time.perf_counter() - t0
                ui.update(load, description=f"sqlite N={n}: measuring reads")
                point = measure.read_point(
                    store, conn, cfg.reps, dialect="sqlite", views=False, budget_s=cfg.budget_s
                )
                point.update({"load_s": load_s, "settle_s": settle_s})
                out["points"][str(n)] = point
                prev = n
            out["statements_vs_page_size"] = measure.statements_vs_page_size(store, conn, "sqlite")
            out["staleness"] = measure.staleness(store, conn, views=False)
        finally:
            ui.remove_task(load)
            store.close()
    return out


def pages_phase(cfg: Config, admin_dsn: str, ui: Progress, out_dir: Path) -> list[Path]:
    """The pages experiment (bench/pages.py) at the largest N; its own report files."""
    task = ui.add_task("pages", total=None)

    def say(msg: str) -> None:
        ui.update(task, description=msg)

    try:
        with Scratch(admin_dsn, "pages") as db:
            result = pages.run(
                db.dsn,
                cfg.n_series[-1],
                cfg.records,
                cfg.reps,
                writers=cfg.pages_writers,
                load_s=cfg.pages_load_s,
                write_reps=cfg.write_reps,
                tick=say,
            )
        say("pages: SQLite first vs last page")
        with tempfile.TemporaryDirectory() as tmp:
            result["sqlite"] = pages.sqlite_positions(
                cfg.sqlite_n[-1], cfg.sqlite_records, cfg.reps, f"{tmp}/pages.db"
            )
        result["machine"] = report.machine_info(admin_dsn)
        return pages_report.write(result, out_dir, cfg.name)
    finally:
        ui.remove_task(task)


def output_dir(scale: str, out: Path | None) -> Path:
    """Where a run writes its report: `out` if given; a quick run (a check on this machine)
    never rewrites the committed results, so it goes to the untracked LOCAL folder."""
    if out is not None:
        return out
    return LOCAL if scale == "quick" else RESULTS


BROWSER_N = 10_000  # the fleet size for the browser harness (--quick: 1,000)
BROWSER_RECORDS = 10


def browser_phase(admin_dsn: str, ui: Progress, out_dir: Path, n: int) -> list[Path]:
    """The owner console in Chromium on a fleet of `n`, beside fan-out (bench/browser.py)."""
    from bench import browser

    with Scratch(admin_dsn, "browser") as db:
        task = ui.add_task(f"browser: loading N={n:,}", total=n * BROWSER_RECORDS)
        store, conn = open_pg(db.dsn)
        try:
            fleet.pg_grow_connections(
                conn, 0, n, fleet.FleetSpec(), BROWSER_RECORDS, lambda k: ui.advance(task, k)
            )
            fleet.pg_settle(conn)
            fleet.pg_vacuum(conn)
            ui.update(task, description=f"browser: N={n:,}, loading pages in Chromium")
            results = browser.measure(db.dsn, n)
            results["canonical_fanout_ms"] = browser.canonical_fanout_ms(db.dsn)
            results["database"] = f"PostgreSQL {conn.info.server_version // 10000}"
            results["machine"] = report.machine_info(admin_dsn)
        finally:
            ui.remove_task(task)
            conn.close()
            store.close()
    return browser.write_report(results, out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"small scales ({QUICK_TAKES})")
    parser.add_argument(
        "--dsn",
        default=os.environ.get("PYREFERENCE_BENCH_DSN", DEFAULT_DSN),
        help="admin DSN: scratch databases pyref_bench_* are created there",
    )
    parser.add_argument(
        "--scale",
        choices=sorted(CONFIGS),
        default=None,
        help="quick | medium (N ≤ 10,000, R=100; ~15 min) | full (10M records)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"where to write the report (default: {LOCAL} for quick, which git ignores; "
        f"{RESULTS}, the committed results, for medium and full)",
    )
    parser.add_argument(
        "--only",
        choices=("all", "pages", "browser"),
        default="all",
        help="pages: only the pages experiment (positions, walk, dirty, write load); "
        "browser: only the console in Chromium beside fan-out (N = 10,000; --quick: 1,000)",
    )
    args = parser.parse_args(argv)
    cfg = CONFIGS[args.scale or ("quick" if args.quick else "full")]
    args.out = output_dir(cfg.name, args.out)
    if args.dsn.startswith("postgresql+psycopg://"):
        args.dsn = args.dsn.replace("postgresql+psycopg://", "postgresql://", 1)
    spec = fleet.FleetSpec()
    console = Console(stderr=True)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "config": asdict(cfg),
        "fleet": asdict(spec),
        "machine": report.machine_info(args.dsn),
    }
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    if args.only == "browser":
        with Progress(*columns, console=console) as ui:
            n = 1000 if args.quick else BROWSER_N
            paths = browser_phase(args.dsn, ui, args.out, n)
        console.print(f"bench browser finished in {time.perf_counter() - started:.0f} s")
        for path in paths:
            console.print(f"  wrote {path}")
        return 0
    if args.only == "pages":
        with Progress(*columns, console=console) as ui:
            paths = pages_phase(cfg, args.dsn, ui, args.out)
        console.print(f"bench {cfg.name} pages finished in {time.perf_counter() - started:.0f} s")
        for path in paths:
            console.print(f"  wrote {path}")
        return 0
    with Progress(*columns, console=console) as ui:
        phases = ui.add_task(f"bench {cfg.name}", total=5)
        with Scratch(args.dsn, "n") as db, Scratch(args.dsn, "small") as small:
            results["postgres_n"] = pg_n_series(cfg, db.dsn, ui, spec, small.dsn)
        ui.advance(phases)
        with Scratch(args.dsn, "r") as db, Scratch(args.dsn, "small") as small:
            results["postgres_r"] = pg_r_series(cfg, db.dsn, ui, spec, small.dsn)
        ui.advance(phases)
        with Scratch(args.dsn, "e") as db:
            results["postgres_e"] = pg_e_series(cfg, db.dsn, ui, spec)
        ui.advance(phases)
        results["sqlite"] = sqlite_series(cfg, ui, spec)
        ui.advance(phases)
        page_paths = pages_phase(cfg, args.dsn, ui, args.out)
        ui.advance(phases)
    results["elapsed_s"] = time.perf_counter() - started
    paths = report.write_all(results, args.out, cfg.name) + page_paths
    console.print(f"bench {cfg.name} finished in {results['elapsed_s']:.0f} s")
    for path in paths:
        console.print(f"  wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
