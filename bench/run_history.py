"""A dirty read and a reconcile as one connection's run history grows (issue 10's review).

One connection `c1` gets H runs of 5 events each (COPY / executemany, then reconcile); then
one more event of its oldest run makes it dirty, and a scoped read, a list page of 10 and
the reconcile that settles it are timed (medians of 5 reads). From migration 0016 a dirty
read and a reconcile merge only the runs touched since the last reconcile, so the dirty
figures should stay flat in H on Postgres; the clean ones are beside them.

    python bench/run_history.py postgresql://postgres@127.0.0.1:5432/postgres [H ...]
    python bench/run_history.py sqlite [H ...]

A Postgres DSN names the server: a scratch database is created and dropped. Prints one JSON
line per H: milliseconds.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import pyreference

NOW = "2026-11-30T12:00:00.000000Z"
TYPES = ["run.started"] + ["run.progress_reported"] * 3 + ["run.completed"]
AT = "2026-01-01T00:00:00.000000Z"


def _median_ms(f: Callable[[], Any], n: int = 5) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        samples.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(samples), 1)


def _load(store: Any, first: int, last: int) -> None:
    rows = [
        (f"e{r}-{j}", t, AT, f"r{r}", "c1") for r in range(first, last) for j, t in enumerate(TYPES)
    ]
    columns = "event_id, event_type, occurred_at, run_id, connector_instance_id"
    sql = f"INSERT INTO spine_events ({columns})"
    if store.dialect == "postgres":
        import psycopg

        copy_sql = f"COPY spine_events ({columns}) FROM STDIN"
        with (
            psycopg.connect(store.database.dsn) as conn,
            conn.cursor() as cur,
            cur.copy(copy_sql) as copy,
        ):
            for row in rows:
                copy.write_row(row)
    else:
        with store.database.session(transaction=True):
            store.database.conn.executemany(sql + " VALUES (?, ?, ?, ?, ?)", rows)


def measure(store: Any, sizes: list[int]) -> None:
    store.register_connector({"connector_key": "acme", "streams": [{"name": "items"}]})
    store.create_connection("c1", "acme")
    store.create_connection("c2", "acme")
    done = 0
    for h in sizes:
        _load(store, done, h)
        done = h
        store.reconcile()
        out: dict[str, Any] = {"backend": store.dialect, "runs": h, "events": 5 * h}
        out["clean_scoped"] = _median_ms(lambda: store.get_connection_summary("c1", now=NOW))
        out["clean_page"] = _median_ms(lambda: store.list_connection_summaries(10, now=NOW))
        event = {"event_type": "run.progress_reported", "occurred_at": NOW, "run_id": "r0"}
        store.append_events([{**event, "event_id": f"x{h}", "connection_id": "c1"}])
        out["dirty_scoped"] = _median_ms(lambda: store.get_connection_summary("c1", now=NOW))
        out["dirty_page"] = _median_ms(lambda: store.list_connection_summaries(10, now=NOW))
        t0 = time.perf_counter()
        store.reconcile()
        out["reconcile"] = round((time.perf_counter() - t0) * 1000, 1)
        print(json.dumps(out), flush=True)


def main(argv: list[str]) -> None:
    target = argv[0] if argv else "sqlite"
    sizes = [int(a) for a in argv[1:]] or [100, 1000, 5000, 20000]
    if target == "sqlite":
        path = os.path.join(tempfile.mkdtemp(), "history.db")
        store = pyreference.connect(f"sqlite:///{path}")
        store.migrate()
        try:
            measure(store, sizes)
        finally:
            store.close()
        return
    import psycopg

    name = f"pyref_hist_{uuid.uuid4().hex[:8]}"
    base, _, _ = target.rpartition("/")
    with psycopg.connect(target, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        store = pyreference.connect(f"{base}/{name}")
        try:
            store.migrate()
            measure(store, sizes)
        finally:
            store.close()
    finally:
        with psycopg.connect(target, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main(sys.argv[1:])
