"""Shared helpers for the reliability suite (manifests, resets, summary snapshots).

Also the multiprocessing worker bodies: with the `spawn` start method a worker
must be importable by module name, and the parent's sys.path (which holds this
directory) is handed to every child.
"""

from __future__ import annotations

import time
from typing import Any

import pyreference
from pyreference.store import Store

NOW = "2024-06-01T12:00:00Z"

ALPHA = {
    "connector_key": "alpha",
    "display_name": "Alpha",
    "streams": [{"name": "s1"}, {"name": "s2", "required": False}],
    "capabilities": {
        "refresh_policy": {"maximum_staleness_seconds": 86400, "background_safe": True}
    },
}
BETA = {
    "connector_key": "beta",
    "display_name": "Beta (browser)",
    "streams": [{"name": "s1"}],
    "capabilities": {
        "browser_surface": {"profile_key": "bp"},
        "refresh_policy": {"recommended_mode": "manual"},
    },
}
# A manifest object with no usable streams: stored, declaration `unavailable` (R22).
GAMMA = {"connector_key": "gamma", "display_name": "Gamma", "streams": "not-a-list"}

MANIFESTS = (ALPHA, BETA, GAMMA)

RESET_SQL = (
    "DELETE FROM records",
    "DELETE FROM spine_events",
    "DELETE FROM connector_schedules",
    "DELETE FROM connector_detail_gaps",
    "DELETE FROM connector_attention_records",
    "DELETE FROM pyref_runs",
    "DELETE FROM pyref_run_facts",
    "DELETE FROM pyref_dirty_runs",
    "DELETE FROM pyref_evidence",
    "DELETE FROM connector_instances",
    "DELETE FROM pyref_dirty",
    "DELETE FROM pyref_connector_digest",
    "DELETE FROM connectors",
)


def sql(store: Store, text: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run literal SQL in its own transaction through the store's connection."""
    with store.database.session(transaction=True) as s:
        return s.execute(text, params)


def owed(store: Store, cid: str) -> bool:
    """Does `cid` wait for a reconcile: a mark, or record deltas not folded in yet (0020)?"""
    c = ":c" if store.dialect == "sqlite" else "%(c)s"
    n = sql(
        store,
        f"SELECT (SELECT count(*) FROM pyref_dirty WHERE connector_instance_id = {c})"
        f" + (SELECT count(*) FROM pyref_record_deltas WHERE connector_instance_id = {c}) AS n",
        {"c": cid},
    )[0]["n"]
    return bool(n)


# The spine refuses DELETE (0008): a test reset lifts the guard inside its transaction.
SPINE_GUARD = {
    "postgres": (
        "ALTER TABLE spine_events DISABLE TRIGGER pyref_100_spine_append_only",
        "ALTER TABLE spine_events ENABLE TRIGGER pyref_100_spine_append_only",
    ),
    "sqlite": ("DROP TRIGGER pyref_100_spine_no_delete", None),
}


def reset(store: Store) -> None:
    """Empty every canonical and derived table (keeps the migrated schema and cursor key)."""
    lift, restore = SPINE_GUARD[store.dialect]
    with store.database.session(transaction=True) as s:
        if store.dialect == "sqlite":  # SQLite cannot disable a trigger: drop and recreate it
            restore = s.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'pyref_100_spine_no_delete'"
            )[0]["sql"]
        s.execute(lift)
        for statement in RESET_SQL:
            s.execute(statement)
        s.execute(restore)


def seed_connectors(store: Store) -> None:
    for manifest in MANIFESTS:
        store.register_connector(manifest)


def all_connection_ids(store: Store) -> list[str]:
    rows = sql(
        store,
        "SELECT connector_instance_id FROM connector_instances ORDER BY connector_instance_id",
    )
    return [r["connector_instance_id"] for r in rows]


def strip(summary: Any) -> dict[str, Any]:
    data = summary.to_dict()
    data.pop("evidence", None)
    return data


def snapshot(store: Store, now: str = NOW) -> dict[str, Any]:
    """Every connection's summary (scoped reads, drafts included) plus the listed page."""
    scoped = {}
    for cid in all_connection_ids(store):
        summary = store.get_connection_summary(cid, now=now)
        assert summary is not None, cid
        scoped[cid] = strip(summary)
    listed = [strip(s) for s in store.iter_connection_summaries(now=now)]
    return {"scoped": scoped, "listed": listed}


def count_rows(store: Store, table: str, where: str = "true") -> int:
    return int(sql(store, f"SELECT count(*) AS n FROM {table} WHERE {where}")[0]["n"])


# -- multiprocessing workers (Postgres) -------------------------------------------

PG_SETTINGS = "SET lock_timeout = '5s'; SET statement_timeout = '20s'"


def _pg_store(dsn: str) -> Store:
    # lock_timeout/statement_timeout make a deadlock or a stuck lock fail loudly.
    opts = "-c lock_timeout=5000 -c statement_timeout=20000 -c deadlock_timeout=200"
    sep = "&" if "?" in dsn else "?"
    from urllib.parse import quote

    return pyreference.connect(f"{dsn}{sep}options={quote(opts)}")


def writer_worker(
    dsn: str, worker: int, connections: list[str], deadline: float, max_ops: int, out: Any
) -> None:
    """Ingest, re-ingest, delete and append run events; report what was written."""
    import random

    rng = random.Random(worker)
    store = _pg_store(dsn)
    written: dict[str, Any] = {"records": {}, "deleted": [], "events": [], "runs": {}, "errors": []}
    try:
        for op in range(max_ops):
            if time.monotonic() > deadline:
                break
            cid = rng.choice(connections)
            kind = rng.random()
            if kind < 0.55:
                batch = [
                    {
                        "key": f"w{worker}-{op}-{i}",
                        "data": {"w": worker, "op": op, "i": i},
                        "emitted_at": "2024-05-01T00:00:00Z",
                    }
                    for i in range(rng.randint(1, 5))
                ]
                store.ingest_records(cid, "s1", batch)
                for r in batch:
                    written["records"][f"{cid}|s1|{r['key']}"] = True
            elif kind < 0.7 and written["records"]:
                key = rng.choice(sorted(written["records"]))
                c, stream, rk = key.split("|")
                if store.delete_record(c, stream, rk):
                    written["deleted"].append(key)
                    del written["records"][key]
            else:
                run = f"run-w{worker}-{op}"
                end = rng.choice(["run.completed", "run.failed"])
                events = [
                    {
                        "event_id": f"e-{run}-start",
                        "event_type": "run.started",
                        "occurred_at": "2024-05-01T00:00:00Z",
                        "run_id": run,
                        "connection_id": cid,
                    },
                    {
                        "event_id": f"e-{run}-end",
                        "event_type": end,
                        "occurred_at": "2024-05-01T00:05:00Z",
                        "run_id": run,
                    },
                ]
                # Half the time the two events go in separate transactions.
                if rng.random() < 0.5:
                    store.append_events(events)
                else:
                    store.append_events(events[:1])
                    store.append_events(events[1:])
                written["events"] += [e["event_id"] for e in events]
                written["runs"][run] = (cid, "succeeded" if end == "run.completed" else "failed")
    except Exception as exc:
        written["errors"].append(f"{type(exc).__name__}: {exc}")
    finally:
        store.close()
    out.put((worker, written))


def reconciler_worker(dsn: str, worker: int, deadline: float, max_ops: int, out: Any) -> None:
    store = _pg_store(dsn)
    result: dict[str, Any] = {"reconciled": 0, "failed": 0, "calls": 0, "errors": []}
    try:
        for _ in range(max_ops):
            if time.monotonic() > deadline:
                break
            report = store.reconcile_report(limit=3)
            result["reconciled"] += report.reconciled
            result["failed"] += report.failed
            result["calls"] += 1
            time.sleep(0.002)
    except Exception as exc:
        result["errors"].append(f"{type(exc).__name__}: {exc}")
    finally:
        store.close()
    out.put((f"reconciler-{worker}", result))
