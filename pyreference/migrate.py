"""Apply the rendered migrations with yoyo-migrations, on the store's own connection.

yoyo normally opens its own connection from a URI; borrowing the store's lets
`migrate()` work on `sqlite:///:memory:`, on a passed-in connection and on a
pool, and records progress in yoyo's usual tables so that a DBA's plain
`yoyo apply sql/postgres` and `pyreference migrate` agree on what is applied.
"""

from __future__ import annotations

from typing import Any

from yoyo import read_migrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.backends.core.sqlite3 import SQLiteBackend
from yoyo.connections import parse_uri

from . import sqlfiles
from .db import Database
from .errors import ReadOnlyDatabase

MIGRATION_TABLE = "_yoyo_migration"


def _borrowing(base: type) -> type:
    class Borrowed(base):  # type: ignore[misc, valid-type]
        def __init__(self, conn: Any, uri: str) -> None:
            self._borrowed = conn
            super().__init__(parse_uri(uri), MIGRATION_TABLE)

        def connect(self, dburi: Any) -> Any:
            return self._borrowed

        def copy(self) -> Any:
            # yoyo applies each migration on a copy; ours shares the borrowed connection.
            twin = type(self)(self._borrowed, "sqlite:///:memory:")
            twin.uri = self.uri
            return twin

        def __exit__(self, *exc: object) -> None:
            pass  # the connection is the store's, not ours to close

    return Borrowed


_SQLITE = _borrowing(SQLiteBackend)
_POSTGRES = _borrowing(PostgresqlPsycopgBackend)


def pending(db: Database) -> list[str]:
    """Ids of migrations not yet applied."""
    with db.session() as session:
        backend = _backend(db, session.raw)
        return [m.id for m in backend.to_apply(_migrations(db))]


def migrate(db: Database) -> list[str]:
    """Apply every pending migration; return their ids (empty when up to date).

    Raises:
        ReadOnlyDatabase: the server is a hot standby (or read-only): migrate the primary.
    """
    with db.session() as session:
        if db.dialect == "postgres" and session.execute("read_only")[0]["read_only"]:
            raise ReadOnlyDatabase.at(db.description)
        backend = _backend(db, session.raw)
        with backend.lock():
            todo = backend.to_apply(_migrations(db))
            backend.apply_migrations(todo)
    applied = [m.id for m in todo]
    if db.dialect == "sqlite" and "0003_triggers" in applied:
        _project_earlier_run_events(db)
    return applied


def _project_earlier_run_events(db: Database) -> None:
    """Fold run events written before the spine trigger existed, in log order.

    Postgres does this inside migration 0003 (a PL/pgSQL loop); SQLite has no
    procedural SQL, so the trigger's own statement runs here once per event.
    """
    with db.session(transaction=True) as s:
        for row in s.execute("unprojected_run_events"):
            s.execute("project_run_event", {"seq": row["event_seq"]})
            s.execute("mark_run_event_dirty", {"seq": row["event_seq"]})


def _migrations(db: Database) -> Any:
    return read_migrations(str(sqlfiles.migrations_dir(db.dialect)))


def _backend(db: Database, raw: Any) -> Any:
    if db.dialect == "sqlite":
        backend = _SQLITE(raw, "sqlite:///:memory:")
    else:
        backend = _POSTGRES(raw, "postgresql+psycopg://localhost/borrowed")
    backend.init_database()
    return backend
