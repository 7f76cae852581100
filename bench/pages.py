"""Pages where owners feel them: every position, cold and warm, dirty, under write load.

One fleet (N connections, R records, E = 20 run events each) in its own database. At the
first, middle and last page, in interleaved rounds (so drift of a shared machine slows
every reader alike), it times:

- **floor**: the raw keyset SELECT of the same 100 evidence rows (`fetchall`, JSON as
  text): what any reader of the maintained rows must pay;
- pyreference **warm** (memo on, the page read before) and **cold** (memo off: every row
  decoded, prepared and synthesized), and its page statement alone (**sql**);
- **fan-out (indexed)**: the original reference's five queries per connection, with the
  indexes a careful developer would add (each query an index scan; the plans are kept);
- the plain view and the materialized view, paged by the same keyset.

Then a full walk of the fleet with the memo off against a walk of the floor; a page whose
rows are all (or 10 %) dirty against the same page clean; reads while writer processes
ingest records and run events (and a reconciler runs) against the same reads idle; and the
triggers' overhead on single-row INSERTs and a bulk COPY into `records`.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pyreference
from pyreference import native
from pyreference.cursors import derive_key, encode_cursor
from pyreference.store import Store, page_statement

from . import baselines, fleet, measure

EVENTS = 20  # run events per connection (E)
PAGE = 100
MANY_WRITES = 20  # insert statements before `inserted_many`'s read (20 deltas a row)
# Pages compared for position: the first, the middle, the deepest page of the dominant
# connector's rows (the same kind of rows as the first), and the list's last page.
POSITIONS = ("first", "middle", "deep", "last")
DOMINANT = "amazon"  # alphabetically first, so its block starts the list
OWNER = baselines.OWNER
# The page statement's order: byte order (COLLATE "C"), as its index `connector_instances_list_idx`
# holds it. Raw readers page by the same keyset, so each reads that index as pyreference does
# (ordered by the database's default collation, a reader would sort the whole connector block).
KEYSET = 'ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"'
SQLITE_KEYSET = "ci.connector_id, ci.created_at, ci.connector_instance_id"

# What a careful developer adds for the fan-out's five queries (bench-only, never a
# migration): stream counts read from a covering index; the run lookup's three ways of
# naming a connection each get an index, so the planner ORs three index scans.
FANOUT_INDEXES = (
    "CREATE INDEX IF NOT EXISTS bench_fan_records_stream_idx"
    " ON records (connector_instance_id, stream) INCLUDE (deleted, emitted_at)",
    "CREATE INDEX IF NOT EXISTS bench_fan_runs_by_id_idx ON spine_events"
    " (source_kind, source_id, connector_instance_id, occurred_at) WHERE run_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS bench_fan_runs_by_data_id_idx ON spine_events"
    " (source_kind, source_id, (data_json->>'connection_id')) WHERE run_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS bench_fan_runs_by_profile_idx ON spine_events"
    " (source_kind, source_id, (data_json->'browser_surface'->>'profile_key'))"
    " WHERE run_id IS NOT NULL",
)

# The floor: the evidence columns of the same 100 rows, in the same order, nothing else.
_FLOOR = """SELECT ci.connector_instance_id, e.expected_profile_key, e.stream_stats, e.latest_run,
       e.latest_successful_run, e.latest_settled_run, e.failures_since_success, e.stream_facts,
       e.gap_counts, e.schedule, e.open_attention
  FROM connector_instances ci
  JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = %s AND ci.status <> 'draft'{after}
 ORDER BY {keyset} LIMIT %s"""
_AFTER = f" AND ({KEYSET}) > (%s, %s, %s)"
_KEY_OF = "SELECT ci.connector_id, ci.created_at, ci.connector_instance_id"


def _page_sql(select: str, relation: str = "connector_instances ci", after: bool = False) -> str:
    return (
        f"{select} FROM {relation} WHERE ci.owner_subject_id = %s AND ci.status <> 'draft'"
        f"{_AFTER if after else ''} ORDER BY {KEYSET} LIMIT %s"
    )


Key = tuple[Any, Any, Any] | None
K = TypeVar("K")


def _text_cursor(conn: Any) -> Any:
    from psycopg.types.string import TextLoader

    cur = conn.cursor()
    cur.adapters.register_loader("json", TextLoader)
    cur.adapters.register_loader("jsonb", TextLoader)
    return cur


def floor_page(conn: Any, after: Key) -> list[tuple[Any, ...]]:
    """The raw read: the page's evidence rows by keyset, JSON as text."""
    sql = _FLOOR.format(after=_AFTER if after else "", keyset=KEYSET)
    with _text_cursor(conn) as cur:
        cur.execute(sql, (OWNER, *(after or ()), PAGE))
        return cur.fetchall()


def floor_walk(conn: Any) -> int:
    """Every evidence row, a page at a time by keyset (the floor of a full walk)."""
    sql = _page_sql(
        f"{_KEY_OF}, e.expected_profile_key, e.stream_stats, e.latest_run,"
        " e.latest_successful_run, e.latest_settled_run, e.failures_since_success,"
        " e.stream_facts, e.gap_counts, e.schedule, e.open_attention",
        "connector_instances ci JOIN pyref_evidence e"
        " ON e.connector_instance_id = ci.connector_instance_id",
        after=True,
    )
    after: tuple[Any, ...] = ("", "-infinity", "")
    seen = 0
    with _text_cursor(conn) as cur:
        while True:
            cur.execute(sql, (OWNER, *after, PAGE))
            rows = cur.fetchall()
            seen += len(rows)
            if len(rows) < PAGE:
                return seen
            after = rows[-1][:3]


def fanout_page(conn: Any, after: Key) -> tuple[list[dict[str, Any]], int]:
    """The fan-out reader at a keyset position: one page query, five queries per connection."""
    page_sql = _page_sql(
        "SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status,"
        " ci.source_kind, ci.created_at",
        after=after is not None,
    )
    statements = 0
    with conn.cursor() as cur:
        cur.execute(page_sql, (OWNER, *(after or ()), PAGE))
        statements += 1
        page = cur.fetchall()

        def run_one(params: dict[str, Any]) -> list[tuple[str, list[Any]]]:
            nonlocal statements
            parts = []
            for part, sql in baselines.PG_FANOUT.items():
                cur.execute(sql, params)
                statements += 1
                parts.append((part, cur.fetchall()))
            return parts

        return baselines.summaries(page, run_one), statements


def view_page(conn: Any, after: Key, materialized: bool) -> list[Any]:
    relation = "bench_summary_mv ci" if materialized else "bench_summary_view ci"
    with conn.cursor() as cur:
        cur.execute(
            _page_sql("SELECT *", relation, after is not None), (OWNER, *(after or ()), PAGE)
        )
        return cur.fetchall()


def positions(conn: Any) -> dict[str, tuple[Key, str | None]]:
    """The keyset (for raw readers) and signed cursor (for pyreference) of each position."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT ci.connector_id, ci.created_at, ci.connector_instance_id,"
            f" pyref_iso(ci.created_at) FROM connector_instances ci"
            f" WHERE ci.owner_subject_id = %s AND ci.status <> 'draft' ORDER BY {KEYSET}",
            (OWNER,),
        )
        rows = cur.fetchall()
        cur.execute("SELECT value FROM pyref_meta WHERE key = 'cursor_secret'")
        secret = derive_key(str(cur.fetchone()[0]), OWNER)  # type: ignore[index]
    out: dict[str, tuple[Key, str | None]] = {"first": (None, None)}
    block = max(i for i, r in enumerate(rows) if r[0] == rows[0][0]) + 1  # the first connector's
    starts = {
        "middle": len(rows) // PAGE // 2 * PAGE,
        "deep": block - PAGE,
        "last": len(rows) - PAGE,
    }
    for name, start in starts.items():
        before = rows[max(start, 1) - 1]
        out[name] = (
            tuple(before[:3]),  # type: ignore[dict-item]
            encode_cursor(secret, OWNER, None, [before[0], before[3], before[2]]),
        )
    return out


def position_rows(conn: Any) -> dict[str, int]:
    """The list offset of each position's first row (for the report)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*), count(*) FILTER (WHERE connector_id = %s) FROM connector_instances"
            " WHERE owner_subject_id = %s AND status <> 'draft'",
            (DOMINANT, OWNER),
        )
        total, block = cur.fetchone()  # type: ignore[misc]
    return {
        "first": 0,
        "middle": total // PAGE // 2 * PAGE,
        "deep": block - PAGE,
        "last": total - PAGE,
    }


def _pyref_sql(store: Store, cursor: str | None) -> int:
    """The page statement a warm read runs (its key columns, `list_keys`) alone."""
    name, params = page_statement(OWNER, PAGE + 1, None, cursor, keys=True)
    with store.database.session(owner=OWNER) as s:  # as the store reads: naming its owner
        return len(s.rows(name, params)[1])


def rounds(readers: dict[K, Callable[[], Any]], reps: int) -> dict[K, dict[str, Any]]:
    """Each reader once per round, in rotating order; p50/p99 of each over the rounds."""
    for _ in range(6):  # warm-up: the warm reader's memo, prepared statements, caches
        for fn in readers.values():
            fn()
    names = list(readers)
    samples: dict[K, list[float]] = {n: [] for n in names}
    for rep in range(reps):
        k = rep % len(names)
        for name in names[k:] + names[:k]:
            t0 = time.perf_counter()
            readers[name]()
            samples[name].append((time.perf_counter() - t0) * 1000)
    return {n: _stats(xs) for n, xs in samples.items()}


def _stats(xs: list[float]) -> dict[str, Any]:
    return {
        "p50_ms": measure.percentile(xs, 0.5),
        "p95_ms": measure.percentile(xs, 0.95),
        "p99_ms": measure.percentile(xs, 0.99),
        "n": len(xs),
        "samples_ms": [round(x, 3) for x in xs],
    }


def position_rounds(
    warm: Store,
    cold: Store,
    dsn: str,
    where: dict[str, tuple[Key, str | None]],
    reps: int,
    views: bool,
) -> dict[str, dict[str, Any]]:
    """Every reader at every position, all in the same rounds, so that a ratio between
    positions or readers compares samples taken moments apart.

    Each raw reader has a connection of its own, as pyreference has its pool: psycopg
    prepares a statement repeated on a connection, and the fan-out's many statements
    would push the floor's out of one shared connection's cache.
    """
    import psycopg

    own = {name: psycopg.connect(dsn, autocommit=True) for name in ("floor", "fanout", "views")}
    try:
        readers: dict[tuple[str, str], Callable[[], Any]] = {}
        for pos, (key, cursor) in where.items():
            readers[pos, "floor"] = partial(floor_page, own["floor"], key)
            readers[pos, "pyreference_sql"] = partial(_pyref_sql, warm, cursor)
            readers[pos, "pyreference"] = partial(_list, warm, cursor)
            readers[pos, "pyreference_cold"] = partial(_list, cold, cursor)
            readers[pos, "fanout_indexed"] = partial(fanout_page, own["fanout"], key)
            readers[pos, "matview"] = partial(view_page, own["views"], key, True)
            if views:
                readers[pos, "plain_view"] = partial(view_page, own["views"], key, False)
        measured = rounds(readers, reps)
        out: dict[str, dict[str, Any]] = {pos: {} for pos in where}
        for (pos, reader), stats in measured.items():
            out[pos][reader] = stats
        for pos, (key, _cursor) in where.items():
            out[pos]["fanout_indexed"]["statements"] = fanout_page(own["fanout"], key)[1]
        return out
    finally:
        for conn in own.values():
            conn.close()


def _list(store: Store, cursor: str | None) -> Any:
    return store.list_connection_summaries(PAGE, cursor, now=measure.NOW)


def fanout_explains(conn: Any) -> dict[str, str]:
    """EXPLAIN ANALYZE of the indexed fan-out's five queries for a browser connection."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT connector_instance_id, connector_id FROM connector_instances"
            " WHERE source_kind = 'browser_collector' ORDER BY connector_instance_id LIMIT 1"
        )
        cid, connector = cur.fetchone()  # type: ignore[misc]
    params = {"id": cid, "connector": connector, "profile": f"{connector}:{cid}"}
    return {
        part: baselines.pg_explain(conn, sql, params) for part, sql in baselines.PG_FANOUT.items()
    }


def dirty_pages(warm: Store, cold: Store, conn: Any, reps: int) -> dict[str, Any]:
    """The first page clean (warm, and cold), then dirty two ways, settled between rounds.

    `inserted_all`: a new record in every row of the page (what ingest does): each row has
    record deltas, which the page statement reads and adds to its stored row (0020); the
    first read prepares each row again from the memoized clean one, a reread of it
    unchanged (`inserted_all_reread`) finds it in the memo.
    `inserted_many`: `MANY_WRITES` such statements before the read (a writer ingesting in
    small statements while reconcile lags): as many deltas a row, summed per stream by the
    page statement from 0036 (a reread: `inserted_many_reread`).
    `dirty_10pct` / `dirty_all`: a schedule write in 10 % / all rows (a scheduler moving
    `next_run_at`, the commonest write but ingest): marked rows are recomputed by every
    read, from 0029 without their runs or records (the mark says the write kept both);
    the first read of a marked row also prepares it (its key is new), a reread of it
    unchanged (`dirty_all_reread`, a console refreshing before the reconciler came) finds
    it in the memo.
    `updated_all`: a record of every row given new content (ingest of a record seen
    before): from 0031 a record delta, which the page statement adds as it adds an
    INSERT's (a reread: `updated_all_reread`).
    `recount_all`: a record of every row moved back in time (a change a delta cannot
    express): recomputed with its records recounted, its runs kept (0029; a reread:
    `recount_all_reread`).
    `marked_all`: a bare mark in every row (`INSERT INTO pyref_dirty`, a mark that says
    nothing of its write, as every mark before 0029 and on SQLite): everything recomputed.
    `run_marked_all`: a run event in every row of the page (what a collector's run
    leaves): the rows are marked by run events only, so their runs are recomputed and,
    from 0024, their records not recounted (a reread: `run_marked_all_reread`)."""
    ids = [i.connection_id for i in cold.list_connection_summaries(PAGE, now=measure.NOW).items]
    samples: dict[str, list[float]] = {}
    mark = "INSERT INTO pyref_dirty (connector_instance_id) SELECT unnest(%s::text[])"
    # The scheduler's write: each connection's next run moved by a second.
    schedule = (
        "UPDATE connector_schedules SET next_run_at = coalesce(next_run_at, %s::timestamptz)"
        " + interval '1 second' WHERE connector_instance_id = ANY(%s::text[])"
    )
    # One record per connection changed, in one statement: new content, or (`recount`)
    # moved back in time by a second.
    one_per_connection = (
        " FROM (SELECT DISTINCT ON (connector_instance_id) connector_instance_id, stream,"
        " record_key FROM records WHERE connector_instance_id = ANY(%s::text[])"
        " ORDER BY connector_instance_id, stream, record_key) k"
        " WHERE (r.connector_instance_id, r.stream, r.record_key)"
        " = (k.connector_instance_id, k.stream, k.record_key)"
    )
    update = (
        "UPDATE records r SET record_json = jsonb_set(r.record_json, '{bench}', to_jsonb(%s::text))"
        + one_per_connection
    )
    recount = (
        "UPDATE records r SET emitted_at = r.emitted_at - interval '1 second'" + one_per_connection
    )
    # One record per connection, into a stream it already has, in one statement.
    insert = (
        "INSERT INTO records (connector_instance_id, stream, record_key, record_json, emitted_at)"
        " SELECT r.connector_instance_id, min(r.stream), %s || r.connector_instance_id,"
        " '{\"bench\": true}'::jsonb, %s::timestamptz FROM records r"
        " WHERE r.connector_instance_id = ANY(%s::text[]) GROUP BY r.connector_instance_id"
    )

    # One run.started event per connection (a run of its own), in one statement.
    run_event = (
        "INSERT INTO spine_events (event_id, event_type, occurred_at, run_id,"
        " connector_instance_id) SELECT %s || x, 'run.started', %s::timestamptz, %s || x, x"
        " FROM unnest(%s::text[]) AS x"
    )

    def timed(name: str, store: Store) -> None:
        t0 = time.perf_counter()
        store.list_connection_summaries(PAGE, now=measure.NOW)
        samples.setdefault(name, []).append((time.perf_counter() - t0) * 1000)

    for rep in range(-1, reps):  # rep -1 warms every path and is not kept
        fleet.pg_settle(conn)  # rewrites the rows (computed_at): the memo must refill
        warm.list_connection_summaries(PAGE, now=measure.NOW)
        for name, store in (("clean", warm), ("clean_cold", cold)):
            timed(name, store)
        conn.execute(insert, (f"bench_dirty_{rep}_{time.monotonic_ns()}_", measure.NOW, ids))
        timed("inserted_all", warm)
        timed("inserted_all_reread", warm)
        fleet.pg_settle(conn)
        warm.list_connection_summaries(PAGE, now=measure.NOW)
        for k in range(MANY_WRITES):  # a record a statement, reconcile lagging
            conn.execute(insert, (f"bench_many_{rep}_{k}_{time.monotonic_ns()}_", measure.NOW, ids))
        timed("inserted_many", warm)
        timed("inserted_many_reread", warm)
        # Gone again: the rows keep the records the other writes recount (20 more a round
        # made a recount of each connection's records several times longer).
        conn.execute("DELETE FROM records WHERE record_key LIKE %s", ("bench\\_many\\_%",))
        fleet.pg_settle(conn)
        warm.list_connection_summaries(PAGE, now=measure.NOW)
        conn.execute(schedule, (measure.NOW, ids[::10]))
        timed("dirty_10pct", warm)
        conn.execute(schedule, (measure.NOW, ids))
        timed("dirty_all", warm)
        timed("dirty_all_reread", warm)
        fleet.pg_settle(conn)
        warm.list_connection_summaries(PAGE, now=measure.NOW)
        conn.execute(update, (f"{rep}_{time.monotonic_ns()}", ids))
        timed("updated_all", warm)
        timed("updated_all_reread", warm)
        fleet.pg_settle(conn)
        warm.list_connection_summaries(PAGE, now=measure.NOW)
        conn.execute(recount, (ids,))
        timed("recount_all", warm)
        timed("recount_all_reread", warm)
        fleet.pg_settle(conn)
        warm.list_connection_summaries(PAGE, now=measure.NOW)
        conn.execute(mark, (ids,))
        timed("marked_all", warm)
        fleet.pg_settle(conn)
        warm.list_connection_summaries(PAGE, now=measure.NOW)
        tag = f"bench_run_{rep}_{time.monotonic_ns()}_"
        conn.execute(run_event, (tag, measure.NOW, tag, ids))
        timed("run_marked_all", warm)
        timed("run_marked_all_reread", warm)
        if rep < 0:
            samples.clear()
    # Statements of the first read after each write, the clean page read before it (as in
    # the rounds above).
    fleet.pg_settle(conn)
    warm.list_connection_summaries(PAGE, now=measure.NOW)
    with warm.statement_counter() as counter:
        conn.execute(mark, (ids,))
        warm.list_connection_summaries(PAGE, now=measure.NOW)
    fleet.pg_settle(conn)
    warm.list_connection_summaries(PAGE, now=measure.NOW)
    with warm.statement_counter() as inserted:
        conn.execute(insert, (f"bench_count_{time.monotonic_ns()}_", measure.NOW, ids))
        warm.list_connection_summaries(PAGE, now=measure.NOW)
    fleet.pg_settle(conn)
    out = {name: _stats(xs) for name, xs in samples.items()}
    out["statements_dirty"] = counter.statements
    out["statements_inserted"] = inserted.statements
    return out


def compiled_vs_source(dsn: str, reps: int, processes: int = 3) -> dict[str, Any]:
    """The cold first page with the read path compiled (mypyc) and from its Python sources
    (`PYREFERENCE_PURE_PYTHON=1`: the same code), each in processes of its own (a process
    runs one or the other), alternating; every process also times the floor."""
    samples: dict[str, dict[str, list[float]]] = {}
    for rep in range(processes):
        for mode in ("compiled", "source")[:: 1 if rep % 2 == 0 else -1]:
            done = subprocess.run(
                [sys.executable, "-m", "bench.pages", "cold-samples", dsn, str(reps)],
                env=native.environment(pure=mode == "source"),
                cwd=Path(__file__).resolve().parent.parent,
                capture_output=True,
                text=True,
                check=True,
            )
            got = json.loads(done.stdout)
            into = samples.setdefault(mode, {"cold": [], "floor": [], "read_path": []})
            into["cold"] += got["cold"]
            into["floor"] += got["floor"]
            into["read_path"].append(got["read_path"])
    return {
        mode: {
            "cold": _stats(got["cold"]),
            "floor": _stats(got["floor"]),
            "read_path": sorted(set(got["read_path"])),
        }
        for mode, got in samples.items()
    }


def _cold_samples(dsn: str, reps: int) -> dict[str, Any]:
    """One process's cold first pages and floor reads, alternating (`compiled_vs_source`)."""
    import psycopg

    store = pyreference.connect(dsn)
    cold = Store(store.database, memo_rows=0)
    conn = psycopg.connect(dsn, autocommit=True)
    out: dict[str, Any] = {"cold": [], "floor": [], "read_path": native.status()}
    try:
        for rep in range(-10, reps):  # ten rounds of warm-up (prepared statements, caches)
            readers = (
                ("cold", partial(_list, cold, None)),
                ("floor", partial(floor_page, conn, None)),
            )
            for name, read in readers:
                t0 = time.perf_counter()
                read()
                if rep >= 0:
                    out[name].append((time.perf_counter() - t0) * 1000)
    finally:
        conn.close()
        store.close()
    return out


def walks(cold: Store, conn: Any, reps: int) -> dict[str, Any]:
    """A full walk of the fleet, memo off, against the floor's walk; alternating."""
    samples: dict[str, list[float]] = {"floor": [], "pyreference_cold": []}
    rows = 0
    for rep in range(reps):
        order = ["floor", "pyreference_cold"][:: 1 if rep % 2 == 0 else -1]
        for name in order:
            t0 = time.perf_counter()
            if name == "floor":
                rows = floor_walk(conn)
            else:
                sum(1 for _ in cold.iter_connection_summaries(now=measure.NOW, page_size=PAGE))
            samples[name].append((time.perf_counter() - t0) * 1000)
    return {"rows": rows, **{name: _stats(xs) for name, xs in samples.items()}}


# -- reads under a write load ---------------------------------------------------------


def _writer(dsn: str, span: int, seed: int, stop: Any, done: Any) -> None:
    """Ingest 10 records and a run (2 events) to a random connection, until stopped."""
    store = pyreference.connect(dsn)
    rnd = random.Random(seed)
    spec = fleet.FleetSpec()
    k = 0
    while not stop.is_set():
        i = rnd.randrange(span)
        cid, connector = fleet.cid(i), fleet.connector_of(i, spec)
        stream = (fleet.streams_of(connector) or ["default"])[0]
        records = [
            {"key": f"w{seed}_{k}_{j}", "data": {"n": j, "writer": seed}, "emitted_at": measure.NOW}
            for j in range(10)
        ]
        store.ingest_records(cid, stream, records)
        run_id = f"wrun_{seed}_{k}"
        base = {"run_id": run_id, "connector_id": connector, "connection_id": cid}
        store.append_events(
            [
                {**base, "event_type": "run.started", "occurred_at": "2026-02-28T23:00:00Z"},
                {**base, "event_type": "run.completed", "occurred_at": "2026-02-28T23:05:00Z"},
            ]
        )
        k += 1
        with done.get_lock():
            done.value += 1
    store.close()


def _reconciler(dsn: str, stop: Any) -> None:
    """A reconcile worker, as a deployment runs one (`pyreference reconcile --watch`)."""
    store = pyreference.connect(dsn)
    while not stop.is_set():
        if store.reconcile(500) == 0:
            time.sleep(0.2)
    store.close()


def under_load(
    warm: Store, cold: Store, conn: Any, dsn: str, n: int, writers: int, seconds: float
) -> dict[str, Any]:
    """Reads of the first page idle, then while `writers` processes write (plus a reconciler).

    The floor is read in the same rounds: how much it slows is the machine's share (the
    writers, the reconciler, the server and the reader share its cores), the rest is the
    library's. `recomputing_reads`: the share of pyreference's reads whose page held marked
    rows (a second statement recomputed them)."""
    span = min(n, 10 * PAGE)  # writes land on the first 10 pages: the read page sees them

    def sample(seconds: float) -> dict[str, Any]:
        xs: dict[str, list[float]] = {"floor": [], "pyreference": [], "pyreference_cold": []}
        recomputing = 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            floor_page(conn, None)
            xs["floor"].append((time.perf_counter() - t0) * 1000)
            for name, store in (("pyreference", warm), ("pyreference_cold", cold)):
                t0 = time.perf_counter()
                with store.statement_counter() as counter:
                    store.list_connection_summaries(PAGE, now=measure.NOW)
                xs[name].append((time.perf_counter() - t0) * 1000)
                recomputing += counter.statements > 1
        out: dict[str, Any] = {name: _stats(v) for name, v in xs.items()}
        out["recomputing_reads"] = recomputing / max(1, 2 * len(xs["floor"]))
        return out

    idle = sample(seconds)
    ctx = multiprocessing.get_context("spawn")
    stop, done = ctx.Event(), ctx.Value("i", 0)
    procs = [ctx.Process(target=_writer, args=(dsn, span, s, stop, done)) for s in range(writers)]
    procs.append(ctx.Process(target=_reconciler, args=(dsn, stop)))
    for p in procs:
        p.start()
    # Writers connected and writing: spawned processes import the library first, which
    # takes seconds on a busy machine (a fixed 2 s sleep sometimes sampled no writes).
    deadline = time.perf_counter() + 60.0
    while done.value < writers and time.perf_counter() < deadline:
        time.sleep(0.05)
    before = done.value
    t0 = time.perf_counter()
    loaded = sample(seconds)
    rate = (done.value - before) / (time.perf_counter() - t0)
    stop.set()
    for p in procs:
        p.join(30)
    with warm.database.session() as s:
        dirty = s.execute("dirty_backlog")[0]["connections"]
    return {
        "writers": writers,
        "span": span,
        "seconds": seconds,
        "write_batches_per_s": rate,
        "dirty_connections_after": dirty,
        "idle": idle,
        "load": loaded,
    }


# -- SQLite: flat in position too -------------------------------------------------------


def sqlite_positions(n: int, records: int, reps: int, path: str) -> dict[str, Any]:
    """The first page vs the deepest page of the same kind of rows on SQLite (warm, cold,
    the statement alone), interleaved."""
    store = pyreference.connect(f"sqlite:///{path}")
    store.migrate()
    conn = store.database.conn  # type: ignore[attr-defined]
    spec = replace(fleet.FleetSpec(), events_per_connection=EVENTS, dominant=DOMINANT)
    fleet.sqlite_register_connectors(conn)
    fleet.sqlite_grow_connections(conn, 0, n, spec, records)
    store.reconcile()
    cold = Store(store.database, memo_rows=0)
    rows = conn.execute(
        f"SELECT ci.connector_id, ci.created_at, ci.connector_instance_id FROM connector_instances"
        f" ci WHERE ci.owner_subject_id = ? AND ci.status <> 'draft' ORDER BY {SQLITE_KEYSET}",
        (OWNER,),
    ).fetchall()
    secret = conn.execute("SELECT value FROM pyref_meta WHERE key = 'cursor_secret'").fetchone()[0]
    secret = derive_key(str(secret), OWNER)
    block = max(i for i, r in enumerate(rows) if r[0] == rows[0][0]) + 1
    deep = encode_cursor(secret, OWNER, None, list(rows[block - PAGE - 1]))
    out: dict[str, Any] = {"n": n, "records_per_connection": records}
    out["deep_row"] = block - PAGE
    readers: dict[tuple[str, str], Callable[[], Any]] = {}
    for pos, cursor in (("first", None), ("deep", deep)):
        readers[pos, "pyreference_sql"] = partial(_pyref_sql, store, cursor)
        readers[pos, "pyreference"] = partial(_list, store, cursor)
        readers[pos, "pyreference_cold"] = partial(_list, cold, cursor)
    for (pos, reader), stats in rounds(readers, reps).items():
        out.setdefault(pos, {})[reader] = stats
    store.close()
    return out


# -- the experiment -----------------------------------------------------------------------


def run(
    dsn: str,
    n: int,
    records: int,
    reps: int,
    *,
    writers: int = 4,
    load_s: float = 10.0,
    write_reps: int = 5,
    views: bool = True,
    tick: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Load the fleet and measure everything the module doc lists; raw samples kept."""
    import psycopg

    say = tick or (lambda _msg: None)
    store = pyreference.connect(dsn)
    store.migrate()
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        fleet.pg_register_connectors(conn)
        baselines.pg_install_views(conn)
        spec = replace(fleet.FleetSpec(), events_per_connection=EVENTS, dominant=DOMINANT)
        say(f"pages: loading N={n}, R={records}, E={EVENTS}")
        t0 = time.perf_counter()
        fleet.pg_grow_connections(conn, 0, n, spec, records)
        load_s_taken = time.perf_counter() - t0
        settle_s = fleet.pg_settle(conn)
        for sql in FANOUT_INDEXES:
            conn.execute(sql)
        fleet.pg_vacuum(conn)
        baselines.pg_refresh_matview(conn)
        cold = Store(store.database, memo_rows=0)
        out: dict[str, Any] = {
            "n": n,
            "records_per_connection": records,
            "events_per_connection": EVENTS,
            "page": PAGE,
            "reps": reps,
            "load_s": load_s_taken,
            "settle_s": settle_s,
            "fanout_indexes": list(FANOUT_INDEXES),
            "dominant": DOMINANT,
            "position_rows": position_rows(conn),
        }
        say("pages: every reader at every position, in rounds")
        out["positions"] = position_rounds(store, cold, dsn, positions(conn), reps, views)
        say("pages: the cold page compiled and from source")
        out["compiled_vs_source"] = compiled_vs_source(dsn, max(30, reps * 2))
        say("pages: full walks")
        out["walk"] = walks(cold, conn, max(3, reps // 10))
        say("pages: dirty pages")
        out["dirty"] = dirty_pages(store, cold, conn, max(5, reps // 2))
        say(f"pages: reads under {writers} writers")
        out["write_load"] = under_load(store, cold, conn, dsn, n, writers, load_s)
        fleet.pg_settle(conn)
        say("pages: trigger overhead on records")
        fleet.pg_vacuum(conn)
        conn.execute("CHECKPOINT")
        ids = [fleet.cid(i) for i in range(min(n, 100))]
        out["write_overhead"] = measure.write_overhead(conn, ids, reps=write_reps)
        fleet.pg_settle(conn)
        out["explain"] = {
            "fanout_indexed": fanout_explains(conn),
            "pyreference_last_page": _explain_last(conn, store),
        }
        return out
    finally:
        conn.close()
        store.close()


def _explain_last(conn: Any, store: Store) -> str:
    _key, cursor = positions(conn)["last"]
    name, params = page_statement(OWNER, PAGE + 1, None, cursor)
    return baselines.pg_explain(conn, store.database.queries[name], params)


if __name__ == "__main__":  # `python -m bench.pages cold-samples DSN REPS` (compiled_vs_source)
    if sys.argv[1:2] != ["cold-samples"] or len(sys.argv) != 4:
        sys.exit("usage: python -m bench.pages cold-samples DSN REPS")
    print(json.dumps(_cold_samples(sys.argv[2], int(sys.argv[3]))))
