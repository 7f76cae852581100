"""Reconcile, rebuild and verify (R7–R9).

On Postgres each is one SQL function call (`pyref_reconcile_v2` and friends);
on SQLite the same statements, rendered from the same templates, run here in
one transaction. SQLite has one writer at a time (`BEGIN IMMEDIATE`), so a
reconcile there cannot interleave with a write. Each is a plan (see `plan.py`),
driven by the sync and the async store alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .db import Ids
from .errors import InvalidInput
from .plan import Context, Plan, Transaction, execute

BATCH = 500


@dataclass(frozen=True)
class ReconcileResult:
    reconciled: int
    failed: int


def reconcile(ctx: Context, limit: int | None = None) -> Plan[ReconcileResult]:
    """Reconcile up to `limit` dirty connections (all when None), committing per batch.

    Each batch claims dirty rows that no other transaction holds (skipped *before* the
    batch is counted), so concurrent reconcilers share the backlog. It goes on while
    batches make progress: a short batch is not the end (a row may be held, or new
    marks may have arrived). A connection that fails stays dirty (`state = failed`)
    and is not tried again in the same call.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidInput("limit must be a positive int or None")
    done = failed = 0
    failed_ids: list[str] = []
    while limit is None or done + failed < limit:
        batch = BATCH if limit is None else min(BATCH, limit - done - failed)
        result = yield Transaction(_reconcile_batch(ctx.dialect, batch, failed_ids))
        done += result.reconciled
        failed += len(result.failed_ids)
        failed_ids += result.failed_ids
        if result.reconciled + len(result.failed_ids) == 0:
            break  # nothing left that another reconcile does not hold
    return ReconcileResult(done, failed)


@dataclass(frozen=True)
class _Batch:
    reconciled: int
    failed_ids: list[str]


def _reconcile_batch(dialect: str, batch: int, skip: list[str]) -> Plan[_Batch]:
    if dialect == "postgres":
        params = {"limit": batch, "skip": Ids(list(skip))}
        row = (yield from execute("reconcile", params))[0]
        return _Batch(int(row["reconciled"]), list(row["failed_ids"] or []))
    claimed = yield from execute("reconcile_claim", {"limit": batch, "skip": Ids(list(skip))})
    ids = [r["connector_instance_id"] for r in claimed]
    if not ids:
        return _Batch(0, [])
    seqs = [r["dirty_seq"] for r in (yield from execute("dirty_seqs", {"ids": Ids(ids)}))]
    if (yield from _refresh_or_rollback(ids, seqs)) is None:
        return _Batch(len(ids), [])
    # Like pyref_reconcile_v2: retry one connection at a time, so one failing
    # connection (claimed first, as its mark is oldest) cannot starve the rest.
    done = 0
    consumed = set(seqs)
    failures: list[str] = []
    for cid in ids:
        own = [r["dirty_seq"] for r in (yield from execute("dirty_seqs", {"ids": Ids([cid])}))]
        own = [q for q in own if q in consumed]
        exc = yield from _refresh_or_rollback([cid], own)
        if exc is None:
            done += 1
        else:  # the row stays dirty, marked failed with a sanitized reason
            failures.append(cid)
            yield from execute(
                "mark_failed",
                {"ids": Ids([cid]), "error": f"reconcile failed ({type(exc).__name__})"},
            )
    return _Batch(done, failures)


def _refresh_or_rollback(ids: list[Any], seqs: list[Any]) -> Plan[Exception | None]:
    """Persist a recomputation of `ids` and consume `seqs`, or undo both and return why."""
    yield from execute("SAVEPOINT pyref_reconcile")
    failure: Exception | None = None
    try:
        # Runs first: evidence is computed from them (as pyref_refresh_evidence_v1 does).
        # Only the stale runs (pyref_stale_runs, 0016), then the pairs are consumed.
        yield from execute("refresh_runs_delete", {"ids": Ids(ids)})
        yield from execute("refresh_runs_insert", {"ids": Ids(ids)})
        yield from execute("release_stale", {"ids": Ids(ids)})
        yield from execute("refresh_evidence", {"ids": Ids(ids)})
        # Its recount counted every record delta of these connections (0020).
        yield from execute("release_deltas", {"ids": Ids(ids)})
        yield from execute("release_dirty", {"seqs": Ids(seqs)})
    except Exception as exc:
        failure = exc
        yield from execute("ROLLBACK TO SAVEPOINT pyref_reconcile")
    yield from execute("RELEASE SAVEPOINT pyref_reconcile")
    return failure


def rebuild(ctx: Context, progress: Callable[[int, int], None] | None = None) -> Plan[int]:
    """Recompute every connection's evidence in one transaction.

    `progress(done, total)` is called as batches finish; `InvalidInput` if it is not callable."""
    if progress is not None and not callable(progress):
        raise InvalidInput("progress must be a callable taking (done, total), or None")
    n = yield Transaction(_rebuild(ctx.dialect, progress))
    return int(n)


def _rebuild(dialect: str, progress: Callable[[int, int], None] | None) -> Plan[int]:
    if dialect == "postgres":
        n = int(next(iter((yield from execute("rebuild"))[0].values())))
        if progress:
            progress(n, n)
        return n
    seqs = [r["dirty_seq"] for r in (yield from execute("all_dirty_seqs"))]
    ids = [r["connector_instance_id"] for r in (yield from execute("all_connection_ids"))]
    yield from execute("refresh_digests")
    yield from execute("rebuild_missing_facts")
    yield from execute("rebuild_runs_delete")
    yield from execute("rebuild_runs_insert")
    yield from execute("rebuild_release_stale")
    yield from execute("refresh_profiles")
    for start in range(0, len(ids), BATCH):
        yield from execute("refresh_evidence", {"ids": Ids(ids[start : start + BATCH])})
        if progress:
            progress(min(start + BATCH, len(ids)), len(ids))
    yield from execute("release_all_deltas")
    for start in range(0, len(seqs), 10_000):
        yield from execute("release_dirty", {"seqs": Ids(seqs[start : start + 10_000])})
    return len(ids)


def verify(ctx: Context) -> Plan[list[dict[str, Any]]]:
    """Drift (R7, issue #14): `[{connection_id, differing}]`, empty when right.

    `differing` names the evidence columns of a clean row that differ from a recomputation
    (`missing` for no row), `runs` when its stored runs differ from the spine's projection,
    `run_facts` when run events that would affect it have no facts (loaded with triggers
    off; 0016), and `digest.<column>` (`digest` when missing) when its connector's manifest
    digest differs from the manifest (any row, dirty or not; 0015's `pyref_verify_v3`,
    which 0016 extends)."""
    found = yield from execute("verify")
    return [
        {
            "connection_id": r["connector_instance_id"],
            "differing": [c for c in str(r["differing"]).split(",") if c],
        }
        for r in found
    ]


def backlog(ctx: Context) -> Plan[dict[str, Any]]:
    """The dirty backlog: connections and marks waiting, and the oldest mark's time."""
    row = (yield from execute("dirty_backlog"))[0]
    return {
        "dirty_connections": int(row["connections"] or 0),
        "dirty_marks": int(row["marks"] or 0),
        "oldest_mark": row["oldest_mark"],
        # Postgres: spine statements whose runs' other connections are not marked yet
        # (reconcile turns them into marks; reads count them as dirty meanwhile).
        "run_marks": int(row["run_marks"] or 0),
    }


def health(ctx: Context) -> Plan[dict[str, Any]]:
    """The read model's state for `/healthz` and `/metrics`, in one statement.

    Returns `dirty_connections`, `dirty_marks`, `oldest_mark` (ISO-8601 UTC or None),
    `failed_rows` (evidence rows whose last recompute failed) and `last_reconciled_at`
    (the newest successfully persisted evidence row, ISO-8601 UTC or None)."""
    row = (yield from execute("read_model_health"))[0]
    return {
        "dirty_connections": int(row["connections"] or 0),
        "dirty_marks": int(row["marks"] or 0),
        "oldest_mark": row["oldest_mark"],
        "failed_rows": int(row["failed_rows"] or 0),
        "last_reconciled_at": row["last_reconciled_at"],
    }
