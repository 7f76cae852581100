"""Measurements: timed reads, statement counts, write overhead, reconcile/rebuild, staleness."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from pyreference.store import Store, page_statement

from . import baselines, fleet

NOW = "2026-03-01T00:00:00Z"  # a fixed `now`, so every synthesis sees the same clock


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def timed(
    fn: Callable[[], Any], reps: int, budget_s: float = 20.0, warmup: int = 1
) -> dict[str, Any]:
    """p50/p95/mean in ms over up to `reps` runs (at least 3, fewer once `budget_s` is spent)."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    started = time.perf_counter()
    while len(samples) < reps:
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
        if len(samples) >= 3 and time.perf_counter() - started > budget_s:
            break
    return {
        "p50_ms": percentile(samples, 0.5),
        "p95_ms": percentile(samples, 0.95),
        "mean_ms": statistics.fmean(samples),
        "n": len(samples),
        "samples_ms": [round(s, 3) for s in samples],
    }


# -- reads ---------------------------------------------------------------------------


def pyref_page_sql(store: Any, limit: int = 100) -> int:
    """Only the page statement a warm pyreference read sends (its key columns; no
    decoding, no synthesis)."""
    name, params = page_statement("owner_local", limit + 1, None, None, keys=True)
    with store.database.session() as s:
        return len(s.rows(name, params)[1])


def pyref_statements(store: Any, limit: int = 100) -> dict[str, int]:
    store.list_connection_summaries(limit=limit, now=NOW)  # warm the cursor secret
    with store.statement_counter() as counter:
        store.list_connection_summaries(limit=limit, now=NOW)
    return {"statements": counter.statements, "writes": counter.writes}


def page_reader(store: Any) -> Callable[[], Any]:
    """A list page of 100 at the fixed `now`."""
    return lambda: store.list_connection_summaries(limit=100, now=NOW)


def scoped_reader(store: Any, calls: int) -> Callable[[], Any]:
    """Scoped reads cycling through the first page's connections, enough for `calls` (+ warmup)."""
    ids = [i.connection_id for i in store.list_connection_summaries(limit=100, now=NOW).items]
    cycle = iter(ids * (calls + 2))
    return lambda: store.get_connection_summary(next(cycle), now=NOW)


def read_point(
    store: Any, conn: Any, reps: int, *, dialect: str, views: bool, budget_s: float = 15.0
) -> dict[str, Any]:
    """Every read kind at the current fleet: pyreference list and scoped, and the baselines.

    `pyreference` is the library as shipped, read repeatedly as a console refreshes a page
    (clean rows come from the memo); `pyreference_cold` is the same with the memo off.
    """
    out: dict[str, Any] = {}
    scoped = scoped_reader(store, 3 * reps)
    out["pyreference"] = timed(page_reader(store), reps, budget_s)
    out["pyreference"].update(pyref_statements(store))
    # Memo off: every read decodes and prepares every row (a first read, or rows that
    # changed since the last one).
    cold = Store(store.database, memo_rows=0)
    out["pyreference_cold"] = timed(page_reader(cold), reps, budget_s)
    out["pyreference_cold"]["statements"] = out["pyreference"]["statements"]
    # The same page's SQL alone: the rest of a pyreference page is Python (decode + synthesis).
    out["pyreference_sql"] = timed(lambda: pyref_page_sql(store), reps, budget_s)
    out["pyreference_sql"]["statements"] = 1
    out["scoped"] = timed(scoped, 3 * reps, budget_s)
    fan = baselines.pg_fanout_page if dialect == "postgres" else baselines.sqlite_fanout_page
    out["fanout"] = timed(lambda: fan(conn), reps, budget_s)
    out["fanout"]["statements"] = fan(conn)[1]
    if views:
        out["plain_view"] = timed(lambda: baselines.pg_view_page(conn), reps, budget_s)
        out["plain_view"]["statements"] = 1
        t0 = time.perf_counter()
        baselines.pg_refresh_matview(conn)
        out["matview_refresh_ms"] = (time.perf_counter() - t0) * 1000
        out["matview"] = timed(
            lambda: baselines.pg_view_page(conn, materialized=True), reps, budget_s
        )
        out["matview"]["statements"] = 1
    return out


def interleaved(small: Callable[[], Any], large: Callable[[], Any], reps: int) -> dict[str, Any]:
    """Two readers timed in alternation, so a drifting machine slows both alike."""
    small(), large()
    samples: dict[str, list[float]] = {"small": [], "large": []}
    for rep in range(reps):
        order = (("small", small), ("large", large))
        for name, fn in order if rep % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - t0) * 1000)
    out: dict[str, Any] = {
        name: {"p50_ms": percentile(xs, 0.5), "p95_ms": percentile(xs, 0.95), "n": len(xs)}
        for name, xs in samples.items()
    }
    out["ratio"] = out["large"]["p50_ms"] / out["small"]["p50_ms"]
    return out


def growth(small: Any, large: Any, reps: int) -> dict[str, Any]:
    """List-page and scoped-read latency of a small and a large fleet, interleaved."""
    return {
        "list": interleaved(page_reader(small), page_reader(large), reps),
        "scoped": interleaved(
            scoped_reader(small, 3 * reps), scoped_reader(large, 3 * reps), 3 * reps
        ),
    }


def pre_vacuum(store: Any, conn: Any, reps: int) -> dict[str, Any]:
    """Reads right after a bulk load and reconcile, before VACUUM: the dirty queue's dead rows."""
    row = conn.execute(
        "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'pyref_dirty'"
    ).fetchone()
    scoped = scoped_reader(store, 3 * reps)
    return {
        "pyref_dirty_dead_tuples": None if row is None else int(row[0]),
        "pyreference": timed(page_reader(store), reps, 5.0),
        "scoped": timed(scoped, 3 * reps, 5.0),
    }


def statements_vs_page_size(
    store: Any, conn: Any, dialect: str, sizes: tuple[int, ...] = (10, 50, 100)
) -> dict[str, dict[int, int]]:
    fan = baselines.pg_fanout_page if dialect == "postgres" else baselines.sqlite_fanout_page
    return {
        "pyreference": {s: pyref_statements(store, s)["statements"] for s in sizes},
        "fanout": {s: fan(conn, s)[1] for s in sizes},
    }


# -- writes (Postgres) ---------------------------------------------------------------


def _write_rows(n: int, tag: str, ids: list[str]) -> list[tuple[str, str, str, str, str]]:
    return [
        (
            ids[k % len(ids)],
            "bench_writes",
            f"{tag}_{k:06d}",
            f'{{"n": {k}, "tag": "{tag}"}}',
            "2026-02-01T00:00:00Z",
        )
        for k in range(n)
    ]


COLUMNS = "(connector_instance_id, stream, record_key, record_json, emitted_at)"


def _timed_write(conn: Any, rows: list[tuple[Any, ...]], bulk: bool, triggers: bool) -> float:
    """Seconds to write `rows` into `records` (commit excluded), its triggers on or off.

    Off means `DISABLE TRIGGER USER` inside the same transaction: the same table, size,
    indexes and foreign key, without pyreference. The connections are then marked dirty
    by hand, as the triggers would have, so the read model stays right.
    """
    with conn.transaction(), conn.cursor() as cur:
        if not triggers:
            cur.execute("ALTER TABLE records DISABLE TRIGGER USER")
        t0 = time.perf_counter()
        if bulk:
            with cur.copy(f"COPY records {COLUMNS} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cur.executemany(f"INSERT INTO records {COLUMNS} VALUES (%s, %s, %s, %s, %s)", rows)
        elapsed = time.perf_counter() - t0
        if not triggers:
            cur.execute("ALTER TABLE records ENABLE TRIGGER USER")
            cur.execute(
                "INSERT INTO pyref_dirty (connector_instance_id)"
                " SELECT DISTINCT unnest(%s::text[])",
                ([r[0] for r in rows],),
            )
    return elapsed


def write_overhead(
    conn: Any,
    ids: list[str],
    reps: int = 5,
    row_count: int = 2000,
    bulk_count: int = 10000,
    tick: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """`records` with its triggers on vs off: row-at-a-time and bulk, alternating, median."""
    samples: dict[str, dict[str, list[float]]] = {
        "row": {"triggers_on": [], "triggers_off": []},
        "bulk": {"triggers_on": [], "triggers_off": []},
    }
    for rep in range(-1, reps):  # rep -1 warms both paths and is not counted
        order = [True, False] if rep % 2 == 0 else [False, True]
        for shape, count in (("row", row_count), ("bulk", bulk_count)):
            for triggers in order:
                rows = _write_rows(count, f"{shape}{rep + 1}_{time.monotonic_ns()}", ids)
                elapsed = _timed_write(conn, rows, shape == "bulk", triggers)
                if rep >= 0:
                    samples[shape]["triggers_on" if triggers else "triggers_off"].append(elapsed)
        if tick:
            tick()
    out: dict[str, Any] = {"reps": reps, "row_count": row_count, "bulk_count": bulk_count}
    for shape, by_variant in samples.items():
        trig = statistics.median(by_variant["triggers_on"])
        plain = statistics.median(by_variant["triggers_off"])
        out[shape] = {
            "triggered_ms": trig * 1000,
            "plain_ms": plain * 1000,
            "ratio": trig / plain,
            "samples_ms": {v: [round(x * 1000, 3) for x in xs] for v, xs in by_variant.items()},
        }
    return out


EVENT_COLUMNS = "(event_id, event_type, occurred_at, run_id, connector_id, connector_instance_id)"


def _run_event_rows(
    n: int, ids: list[str], connector_of: dict[str, str], tag: str
) -> list[tuple[Any, ...]]:
    """`n` run events spread over `ids`: per connection, runs of a start naming the
    connection, keyless progress, and a keyless end (R3's inheritance on every run)."""
    rows: list[tuple[Any, ...]] = []
    kinds = ["run.started"] + ["run.progress_reported"] * 8 + ["run.completed"]
    for k in range(n):
        c = ids[k % len(ids)]
        step = k // len(ids)  # runs of ten events per connection
        run = f"{tag}_{c}_{step // 10}"
        kind = kinds[step % 10]
        rows.append(
            (
                f"{tag}_{k:06d}",
                kind,
                f"2026-02-01T00:{step % 60:02d}:00Z",
                run,
                connector_of[c],
                c if kind == "run.started" else None,
            )
        )
    return rows


def _timed_events(conn: Any, rows: list[tuple[Any, ...]], triggers: bool) -> float:
    """Seconds for one COPY of run events into `spine_events`, its triggers on or off;
    rolled back either way, so every sample writes into the same table."""
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        if not triggers:
            cur.execute("ALTER TABLE spine_events DISABLE TRIGGER USER")
        t0 = time.perf_counter()
        with cur.copy(f"COPY spine_events {EVENT_COLUMNS} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return time.perf_counter() - t0


def run_event_overhead(
    conn: Any, reps: int = 5, count: int = 10000, connections: int = 500
) -> dict[str, Any]:
    """One COPY of `count` run events for up to `connections` connections, `spine_events`'
    triggers on vs off (alternating, median), and the dirty marks one such COPY leaves."""
    found = conn.execute(
        "SELECT connector_instance_id, connector_id FROM connector_instances"
        " ORDER BY connector_instance_id LIMIT %s",
        (connections,),
    ).fetchall()
    owner = {c: k for c, k in found}
    ids = list(owner)
    samples: dict[str, list[float]] = {"triggers_on": [], "triggers_off": []}
    for rep in range(-1, reps):
        order = [True, False] if rep % 2 == 0 else [False, True]
        for triggers in order:
            rows = _run_event_rows(count, ids, owner, f"bev{rep + 1}_{time.monotonic_ns()}")
            elapsed = _timed_events(conn, rows, triggers)
            if rep >= 0:
                samples["triggers_on" if triggers else "triggers_off"].append(elapsed)
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        before = cur.execute("SELECT count(*) FROM pyref_dirty").fetchone()[0]
        runs_before = cur.execute("SELECT count(*) FROM pyref_dirty_runs").fetchone()[0]
        with cur.copy(f"COPY spine_events {EVENT_COLUMNS} FROM STDIN") as copy:
            for row in _run_event_rows(count, ids, owner, f"bevm_{time.monotonic_ns()}"):
                copy.write_row(row)
        marks = cur.execute("SELECT count(*) FROM pyref_dirty").fetchone()[0] - before
        run_marks = cur.execute("SELECT count(*) FROM pyref_dirty_runs").fetchone()[0] - runs_before
    trig = statistics.median(samples["triggers_on"])
    plain = statistics.median(samples["triggers_off"])
    return {
        "reps": reps,
        "count": count,
        "connections": len(ids),
        "triggered_ms": trig * 1000,
        "plain_ms": plain * 1000,
        "ratio": trig / plain,
        "dirty_marks_per_copy": marks,
        "run_marks_per_copy": run_marks,
        "samples_ms": {v: [round(x * 1000, 3) for x in xs] for v, xs in samples.items()},
    }


def reconcile_vs_dirty(
    conn: Any, n: int, fractions: tuple[float, ...], reps: int = 3
) -> dict[str, Any]:
    """Mark a fraction of connections dirty, then time `pyref_reconcile_v3(NULL)`."""
    fleet.pg_settle(conn)
    out: dict[str, Any] = {}
    for frac in fractions:
        k = max(1, round(n * frac))
        times = []
        for rep in range(reps):
            conn.execute(
                "INSERT INTO pyref_dirty (connector_instance_id) SELECT connector_instance_id "
                "FROM connector_instances ORDER BY md5(connector_instance_id || %s) LIMIT %s",
                (str(rep), k),
            )
            times.append(fleet.pg_settle(conn) * 1000)
        out[f"{frac:g}"] = {"dirty_rows": k, "ms": statistics.median(times), "samples_ms": times}
    return out


def rebuild_cost(conn: Any, reps: int = 3) -> dict[str, Any]:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        conn.execute("SELECT pyref_rebuild_v3()")
        times.append((time.perf_counter() - t0) * 1000)
    return {"ms": statistics.median(times), "samples_ms": times}


def staleness(store: Any, conn: Any, views: bool) -> dict[str, Any]:
    """Write one record to a listed connection, then read at once: who reflects it?"""
    first = store.list_connection_summaries(limit=100, now=NOW).items[0]
    target = first.connection_id
    stream = (first.streams or ["bench_stale"])[0]
    fan = baselines.pg_fanout_page if store.dialect == "postgres" else baselines.sqlite_fanout_page

    def pyref_total() -> int:
        items = store.list_connection_summaries(limit=100, now=NOW).items
        return next(i.total_records or 0 for i in items if i.connection_id == target)

    def fan_total() -> int:
        return next(r["total_records"] for r in fan(conn)[0] if r["connection_id"] == target)

    def view_total(materialized: bool) -> int:
        rows = baselines.pg_view_page(conn, materialized=materialized)[0]
        return next(int(r[8]) for r in rows if r[0] == target)

    readers: dict[str, Callable[[], int]] = {"pyreference": pyref_total, "fanout": fan_total}
    if views:
        readers["plain_view"] = lambda: view_total(False)
        readers["matview"] = lambda: view_total(True)
    before = {name: read() for name, read in readers.items()}
    store.ingest_records(
        target,
        stream,
        [{"key": f"stale_{time.monotonic_ns()}", "data": {"fresh": True}, "emitted_at": NOW}],
    )
    out: dict[str, Any] = {"connection_id": target}
    for name, read in readers.items():
        with store.statement_counter() as counter:
            reflects = read() == before[name] + 1
        entry: dict[str, Any] = {
            "reflects_immediately": reflects,
            "staleness_s": 0.0 if reflects else None,
        }
        if name == "pyreference":
            entry["statements_with_dirty_row"] = counter.statements
        out[name] = entry
    if views:
        t0 = time.perf_counter()
        baselines.pg_refresh_matview(conn)
        refresh = time.perf_counter() - t0
        fixed = view_total(True) == before["matview"] + 1
        out["matview"].update(
            {
                "refresh_s": refresh,
                "reflects_after_refresh": fixed,
                # stale from the commit until a refresh finishes, at best:
                "staleness_s": 0.0 if out["matview"]["reflects_immediately"] else refresh,
            }
        )
    return out
