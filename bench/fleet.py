"""Fleet generator: connections over the 44 real manifests, records, run events, gaps, attention.

Everything is deterministic in the connection index, so a fleet can grow in steps
(more connections, or more records per connection) and every step is the same data
a one-shot load would produce. Postgres loads with COPY straight into the canonical
tables (the statement-level triggers still fire); SQLite loads with executemany.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pyreference.manifests import real_manifests

BASE = datetime(2026, 1, 1, tzinfo=UTC)
OWNER = "owner_local"
Progress = Callable[[int], None]


@dataclass(frozen=True)
class FleetSpec:
    """What each connection holds; connection i is the same whatever the fleet size."""

    events_per_connection: int = 6
    gap_every: int = 10  # every 10th connection has detail gaps
    attention_every: int = 20  # every 20th has open attention
    sibling_every: int = 25  # every 25th starts a pair of sibling browser connections
    # When set, 9 connections in 10 are of this connector (the others spread over all 44),
    # so that pages far apart in the list hold the same kind of rows (bench/pages.py).
    dominant: str | None = None


def connector_keys() -> list[str]:
    return list(real_manifests())


def streams_of(connector_id: str) -> list[str]:
    streams = real_manifests()[connector_id].get("streams") or []
    return [s["name"] for s in streams if isinstance(s, dict) and s.get("name")]


def cid(i: int) -> str:
    return f"cin_{i:06d}"


def connector_of(i: int, spec: FleetSpec) -> str:
    keys = connector_keys()
    # A sibling pair shares one connector (two browser profiles of one source).
    if i % spec.sibling_every == 1:
        i -= 1
    if spec.dominant is not None and i % 10 != 0:
        return spec.dominant
    return keys[i % len(keys)]


def is_browser(i: int, spec: FleetSpec) -> bool:
    return i % spec.sibling_every in (0, 1)


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def connection_rows(start: int, stop: int, spec: FleetSpec) -> Iterator[tuple[Any, ...]]:
    """(id, owner, connector_id, display_name, status, source_kind, created_at, updated_at)."""
    for i in range(start, stop):
        created = iso(BASE + timedelta(seconds=i))
        status = "paused" if i % 50 == 7 else "active"
        kind = "browser_collector" if is_browser(i, spec) else "account"
        yield (
            cid(i),
            OWNER,
            connector_of(i, spec),
            f"Connection {i}",
            status,
            kind,
            created,
            created,
        )


def record_rows(
    start: int, stop: int, r_from: int, r_to: int, spec: FleetSpec
) -> Iterator[tuple[Any, ...]]:
    """(connection, stream, key, json, emitted_at) for records r_from..r_to of each connection."""
    for i in range(start, stop):
        streams = streams_of(connector_of(i, spec)) or ["default"]
        c = cid(i)
        for j in range(r_from, r_to):
            stream = streams[j % len(streams)]
            doc = json.dumps({"n": j, "title": f"item {j} of {c}", "amount": (i * 31 + j) % 997})
            yield (c, stream, f"k{j:07d}", doc, iso(BASE + timedelta(hours=i % 48, minutes=j)))


def _event(
    run_id: str,
    suffix: str,
    kind: str,
    at: datetime,
    connector: str,
    connection: str | None,
    data: dict[str, Any],
) -> tuple[Any, ...]:
    """One spine row in COLUMNS["spine_events"] order; the source is the connector."""
    return (
        f"evt_{run_id}_{suffix}",
        kind,
        iso(at),
        None,
        run_id,
        connector,
        connection,
        "connector",
        connector,
        json.dumps(data),
    )


def event_rows(
    start: int, stop: int, spec: FleetSpec, events_from: int = 0
) -> Iterator[tuple[Any, ...]]:
    """Run events: started + terminal pairs; mixed successes, failures, surface failures.

    (event_id, event_type, occurred_at, status, run_id, connector_id, connector_instance_id,
    source_kind, source_id, data_json). Run k of a connection is the same whatever
    `events_per_connection` is, so `events_from` grows a fleet's history in steps.
    """
    runs = max(1, spec.events_per_connection // 2)
    for i in range(start, stop):
        c, connector = cid(i), connector_of(i, spec)
        streams = streams_of(connector) or ["default"]
        browser = is_browser(i, spec)
        for k in range(events_from // 2, runs):
            run_id = f"run_{i:06d}_{k:03d}"
            t0 = BASE + timedelta(days=k, hours=i % 24)
            ident: dict[str, Any] = {}
            column_id: str | None = c
            if browser:  # attributed by profile key only (R3 rule 1), never by id
                column_id = None
                ident = {"browser_surface": {"profile_key": f"{connector}:{c}", "status": "ready"}}
            yield _event(run_id, "s", "run.started", t0, connector, column_id, ident)
            outcome = (i + k) % 7
            data = dict(ident)
            if browser and outcome == 3:
                kind = "run.browser_surface_failed"
                data["browser_surface"] = {
                    "profile_key": f"{connector}:{c}",
                    "status": "failed",
                    "wait_reason": "profile_locked",
                }
            elif outcome in (2, 5) and k % 3 == 2 and i % 3 == 0:
                kind = "run.failed"
                data["failure_reason"] = "upstream_timeout"
            else:
                kind = "run.completed"
                data["collection_facts"] = {
                    "streams": [
                        {"stream": s, "checkpoint": "committed", "collected": 10, "considered": 10}
                        for s in streams
                    ]
                }
            at = t0 + timedelta(minutes=5)
            yield _event(run_id, "t", kind, at, connector, column_id, data)


def gap_rows(start: int, stop: int, spec: FleetSpec) -> Iterator[tuple[Any, ...]]:
    """(gap_id, connection, stream, status, reason, updated_at)."""
    for i in range(start, stop):
        if i % spec.gap_every != 3:
            continue
        stream = (streams_of(connector_of(i, spec)) or ["default"])[0]
        status = "terminal" if i % 30 == 3 else "pending"
        yield (f"gap_{i:06d}", cid(i), stream, status, "detail_fetch_failed", iso(BASE))


def attention_rows(start: int, stop: int, spec: FleetSpec) -> Iterator[tuple[Any, ...]]:
    """(attention_id, connection, reason_code, owner_action, lifecycle, created_at, updated_at)."""
    for i in range(start, stop):
        if i % spec.attention_every == 5:
            yield (
                f"att_{i:06d}",
                cid(i),
                "credentials_expired",
                "add_info",
                "open",
                iso(BASE),
                iso(BASE),
            )


def schedule_rows(start: int, stop: int) -> Iterator[tuple[Any, ...]]:
    """(connection, interval_seconds, enabled, consecutive_failures, updated_at)."""
    for i in range(start, stop):
        yield (cid(i), 86400, i % 40 != 11, 0, iso(BASE))


# -- loading ---------------------------------------------------------------------------

COLUMNS = {
    "connector_instances": "(connector_instance_id, owner_subject_id, connector_id, display_name, "
    "status, source_kind, created_at, updated_at)",
    "records": "(connector_instance_id, stream, record_key, record_json, emitted_at)",
    "spine_events": "(event_id, event_type, occurred_at, status, run_id, connector_id, "
    "connector_instance_id, source_kind, source_id, data_json)",
    "connector_detail_gaps": "(gap_id, connector_instance_id, stream, status, reason, updated_at)",
    "connector_attention_records": "(attention_id, connector_instance_id, reason_code, "
    "owner_action, lifecycle, created_at, updated_at)",
    "connector_schedules": "(connector_instance_id, interval_seconds, enabled, "
    "consecutive_failures, updated_at)",
}


def pg_register_connectors(conn: Any) -> None:
    with conn.transaction():
        for key, manifest in real_manifests().items():
            conn.execute(
                "INSERT INTO connectors (connector_id, manifest) VALUES (%s, %s::jsonb) "
                "ON CONFLICT (connector_id) DO NOTHING",
                (key, json.dumps(manifest)),
            )


def pg_copy(
    conn: Any,
    table: str,
    rows: Iterator[tuple[Any, ...]],
    tick: Progress | None = None,
    every: int = 20000,
) -> int:
    """One COPY statement (so a statement-level trigger fires once); returns rows written."""
    n = 0
    with (
        conn.transaction(),
        conn.cursor() as cur,
        cur.copy(f"COPY {table} {COLUMNS[table]} FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            n += 1
            if tick and n % every == 0:
                tick(every)
    if tick:
        tick(n % every)
    return n


def grow_connections(
    insert: Callable[[str, Iterator[tuple[Any, ...]]], int],
    start: int,
    stop: int,
    spec: FleetSpec,
    records: int,
    tick: Progress | None = None,
) -> None:
    """Add connections start..stop with everything they hold (records 0..records).

    `insert(table, rows)` writes one batch as one statement (COPY, or executemany).
    """
    for table, rows in (
        ("connector_instances", connection_rows(start, stop, spec)),
        ("connector_schedules", schedule_rows(start, stop)),
        ("connector_detail_gaps", gap_rows(start, stop, spec)),
        ("connector_attention_records", attention_rows(start, stop, spec)),
        ("spine_events", event_rows(start, stop, spec)),
    ):
        insert(table, rows)
    # Records in chunks of connections: bounded transactions, progress as they land.
    chunk = max(1, 200_000 // max(1, records))
    for lo in range(start, stop, chunk):
        hi = min(stop, lo + chunk)
        insert("records", record_rows(lo, hi, 0, records, spec))
        if tick:
            tick((hi - lo) * records)


def pg_grow_connections(
    conn: Any, start: int, stop: int, spec: FleetSpec, records: int, tick: Progress | None = None
) -> None:
    grow_connections(lambda t, rows: pg_copy(conn, t, rows), start, stop, spec, records, tick)


def pg_grow_records(
    conn: Any, n: int, r_from: int, r_to: int, spec: FleetSpec, tick: Progress | None = None
) -> None:
    """Add records r_from..r_to to every one of the n connections."""
    per = max(1, r_to - r_from)
    chunk = max(1, 200_000 // per)
    for lo in range(0, n, chunk):
        pg_copy(conn, "records", record_rows(lo, min(n, lo + chunk), r_from, r_to, spec), tick)


def pg_grow_events(conn: Any, n: int, e_from: int, e_to: int, spec: FleetSpec) -> None:
    """Add run events e_from..e_to to every one of the n connections (one COPY)."""
    grown = replace(spec, events_per_connection=e_to)
    pg_copy(conn, "spine_events", event_rows(0, n, grown, e_from))


def pg_settle(conn: Any) -> float:
    """Reconcile every dirty row; returns seconds taken."""
    import time

    t0 = time.perf_counter()
    conn.execute("SELECT * FROM pyref_reconcile_v3(NULL)")
    return time.perf_counter() - t0


def pg_vacuum(conn: Any) -> float:
    """VACUUM ANALYZE after a bulk load, as a DBA would (autovacuum would, later)."""
    import time

    t0 = time.perf_counter()
    conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - t0


def sqlite_register_connectors(conn: Any) -> None:
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT OR IGNORE INTO connectors (connector_id, manifest) VALUES (?, ?)",
        [
            (k, json.dumps(m, sort_keys=True, separators=(",", ":")))
            for k, m in real_manifests().items()
        ],
    )
    conn.execute("COMMIT")


def sqlite_insert(conn: Any, table: str, rows: Iterator[tuple[Any, ...]]) -> int:
    batch = list(rows)
    if not batch:
        return 0
    marks = ", ".join("?" * len(batch[0]))
    if table == "connector_schedules":
        batch = [(a, b, int(c), d, e) for a, b, c, d, e in batch]
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO {table} {COLUMNS[table]} VALUES ({marks})", batch)
    conn.execute("COMMIT")
    return len(batch)


def sqlite_grow_connections(
    conn: Any, start: int, stop: int, spec: FleetSpec, records: int, tick: Progress | None = None
) -> None:
    grow_connections(lambda t, rows: sqlite_insert(conn, t, rows), start, stop, spec, records, tick)
