"""Reconcile, rebuild and verify (R7–R9).

On Postgres each is one SQL function call (`pyref_reconcile_v1` and friends);
on SQLite the same statements, rendered from the same templates, run here in
one transaction. SQLite has one writer at a time (`BEGIN IMMEDIATE`), so a
reconcile there cannot interleave with a write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .db import Database, Ids
from .errors import InvalidInput

BATCH = 500


@dataclass(frozen=True)
class ReconcileResult:
    reconciled: int
    failed: int


def reconcile(db: Database, limit: int | None = None) -> ReconcileResult:
    """Reconcile up to `limit` dirty connections (all when None), committing per batch."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidInput("limit must be a positive int or None")
    done = failed = 0
    while limit is None or done + failed < limit:
        batch = BATCH if limit is None else min(BATCH, limit - done - failed)
        result = _reconcile_batch(db, batch)
        done += result.reconciled
        failed += result.failed
        if result.reconciled + result.failed < batch or result.reconciled == 0:
            break
    return ReconcileResult(done, failed)


def _reconcile_batch(db: Database, batch: int) -> ReconcileResult:
    if db.dialect == "postgres":
        with db.session(transaction=True) as s:
            row = s.execute("reconcile", {"limit": batch})[0]
        return ReconcileResult(int(row["reconciled"]), int(row["failed"]))
    with db.session(transaction=True) as s:
        ids = [r["connector_instance_id"] for r in s.execute("reconcile_claim", {"limit": batch})]
        if not ids:
            return ReconcileResult(0, 0)
        seqs = [r["dirty_seq"] for r in s.execute("dirty_seqs", {"ids": Ids(ids)})]
        if _refresh_or_rollback(s, ids, seqs) is None:
            return ReconcileResult(len(ids), 0)
        # Like pyref_reconcile_v1: retry one connection at a time, so one failing
        # connection (claimed first, as its mark is oldest) cannot starve the rest.
        done = 0
        consumed = set(seqs)
        for cid in ids:
            own = [r["dirty_seq"] for r in s.execute("dirty_seqs", {"ids": Ids([cid])})]
            own = [q for q in own if q in consumed]
            exc = _refresh_or_rollback(s, [cid], own)
            if exc is None:
                done += 1
            else:  # the row stays dirty, marked failed with a sanitized reason
                s.execute(
                    "mark_failed",
                    {"ids": Ids([cid]), "error": f"reconcile failed ({type(exc).__name__})"},
                )
        return ReconcileResult(done, len(ids) - done)


def _refresh_or_rollback(s: Any, ids: list[Any], seqs: list[Any]) -> Exception | None:
    """Persist a recomputation of `ids` and consume `seqs`, or undo both and return why."""
    s.execute("SAVEPOINT pyref_reconcile")
    try:
        s.execute("refresh_evidence", {"ids": Ids(ids)})
        s.execute("release_dirty", {"seqs": Ids(seqs)})
    except Exception as exc:
        s.execute("ROLLBACK TO SAVEPOINT pyref_reconcile")
        return exc
    finally:
        s.execute("RELEASE SAVEPOINT pyref_reconcile")
    return None


def rebuild(db: Database, progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute every connection's evidence in one transaction."""
    if db.dialect == "postgres":
        with db.session(transaction=True) as s:
            n = int(next(iter(s.execute("rebuild")[0].values())))
        if progress:
            progress(n, n)
        return n
    with db.session(transaction=True) as s:
        seqs = [r["dirty_seq"] for r in s.execute("all_dirty_seqs")]
        ids = [r["connector_instance_id"] for r in s.execute("all_connection_ids")]
        s.execute("refresh_digests")
        for start in range(0, len(ids), BATCH):
            s.execute("refresh_evidence", {"ids": Ids(ids[start : start + BATCH])})
            if progress:
                progress(min(start + BATCH, len(ids)), len(ids))
        for start in range(0, len(seqs), 10_000):
            s.execute("release_dirty", {"seqs": Ids(seqs[start : start + 10_000])})
    return len(ids)


def verify(db: Database) -> list[dict[str, Any]]:
    with db.session() as s:
        rows = s.execute("verify")
    return [
        {
            "connection_id": r["connector_instance_id"],
            "differing": [c for c in str(r["differing"]).split(",") if c],
        }
        for r in rows
    ]


def backlog(db: Database) -> dict[str, Any]:
    with db.session() as s:
        row = s.execute("dirty_backlog")[0]
    return {
        "dirty_connections": int(row["connections"] or 0),
        "dirty_marks": int(row["marks"] or 0),
        "oldest_mark": row["oldest_mark"],
    }
