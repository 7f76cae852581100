"""Shared by the upgrade-in-place tests (test_upgrade_00NN.py, with conftest's `blank`
store): migrations applied or rolled back up to an id, summaries compared without their
clock, and a fresh head database to compare an upgraded one with."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import pyreference
from pyreference import migrate
from pyreference.store import Store
from tests.support.scenario import NOW


def apply_upto(store: Store, upto: str | None) -> None:
    """Apply the migrations up to and including `upto` (all when None)."""
    db = store.database
    with migrate._yoyo(db, writing=True) as backend, backend.lock():
        wanted = migrate._migrations(db).filter(lambda m: upto is None or m.id <= upto)
        backend.apply_migrations(backend.to_apply(wanted))


def migrations_after(store: Store, migration_id: str) -> list[str]:
    """The ids of every migration after `migration_id`, oldest first (what is pending once
    `migration_id` is the last applied): later migrations need no test edited."""
    return [m.id for m in migrate._migrations(store.database) if m.id > migration_id]


def rollback_after(store: Store, migration_id: str) -> None:
    """Roll back every migration after `migration_id` (newest first)."""
    db = store.database
    with migrate._yoyo(db, writing=True) as backend, backend.lock():
        backend.rollback_migrations(
            backend.to_rollback(migrate._migrations(db).filter(lambda m: m.id > migration_id))
        )


def reconcile_at(store: Store) -> None:
    """Reconcile a database whose migrations stop before today's: on Postgres with that
    version's own functions; on SQLite not at all (the rows stay dirty until after the
    upgrade): its reconcile is this library's Python, running today's statements, which
    read today's schema (0020's record deltas)."""
    if store.dialect == "postgres":
        store.reconcile()


def summaries(store: Store) -> list[dict[str, Any]]:
    """Every summary at NOW as `to_dict()`, without `computed_at` (a clock, not evidence)."""
    rows = [s.to_dict() for s in store.iter_connection_summaries(NOW)]
    for row in rows:
        row["evidence"].pop("computed_at")
    return rows


@contextmanager
def fresh_head(request: pytest.FixtureRequest, backend: str) -> Iterator[Store]:
    """A database built by today's migrations, to compare an upgraded one with."""
    store = pyreference.connect(
        request.getfixturevalue("sqlite_conn" if backend == "sqlite" else "pg_dsn")
    )
    try:
        yield store
    finally:
        store.close()
