"""Apply the rendered migrations with yoyo-migrations, under a lock that cannot outlive its holder.

yoyo records progress in its usual tables, so a DBA's plain `yoyo apply sql/postgres`
and `pyreference migrate` agree on what is applied. yoyo's own lock is a row in
`yoyo_lock`, which survives a killed process and then blocks every later run; so
`migrate()` replaces it with a lock held by a live session:

- Postgres: a session advisory lock (`pg_try_advisory_lock`, polled, never a blocking
  wait) on a direct autocommit connection of its own; the server frees it when that
  session ends, however it ends. The same connection applies the migrations, with a
  `lock_timeout` so a migration never waits forever on a table an application holds.
  The caller's connection or pool is never used for DDL (yoyo commits per migration).
- SQLite: an exclusive `flock` on a `<database>.migrate-lock` file beside the
  database; the kernel frees it when the process ends. A memory database is private.

Nothing pending means no lock is taken. A `yoyo_lock` row (a `yoyo apply` running, or
one killed) is reported by `MigrationLocked` and removed only on request (`break_lock`).
"""

from __future__ import annotations

import inspect
import io
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from yoyo import internalmigrations, read_migrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.backends.core.sqlite3 import SQLiteBackend
from yoyo.connections import parse_uri

from . import sqlfiles
from .db import Database, PostgresDatabase, SQLiteDatabase
from .errors import InvalidInput, MigrationLocked, ReadOnlyDatabase
from .seconds import seconds

MIGRATION_TABLE = "_yoyo_migration"
# The advisory lock key: the same for every pyreference version and process.
LOCK_KEY = int.from_bytes(b"pyrefmig", "big")
LOCK_WAIT = 60.0  # seconds migrate() waits for another migrate to finish
DDL_LOCK_TIMEOUT = "30s"  # how long one migration statement waits for a table lock
_POLL = 0.2
_log = logging.getLogger(__name__)


def _borrowing(base: type) -> type:
    class Borrowed(base):  # type: ignore[misc, valid-type]
        def __init__(self, conn: Any, uri: str) -> None:
            self._borrowed = conn
            super().__init__(parse_uri(uri), MIGRATION_TABLE)
            # Our session-held lock replaces yoyo's lock row (see the module doc).
            self._is_locked = True

        def connect(self, dburi: Any) -> Any:
            return self._borrowed

        def copy(self) -> Any:
            # yoyo applies each migration on a copy; ours shares the borrowed connection.
            twin = type(self)(self._borrowed, "sqlite:///:memory:")
            twin.uri = self.uri
            return twin

        def __exit__(self, *exc: object) -> None:
            pass  # the connection is closed by whoever opened it

    return Borrowed


_SQLITE = _borrowing(SQLiteBackend)
_POSTGRES = _borrowing(PostgresqlPsycopgBackend)


def pending(db: Database) -> list[str]:
    """Ids of migrations not yet applied (all of them on a database yoyo never touched)."""
    migrations = _migrations(db)
    with _yoyo(db) as backend:
        if internalmigrations.needs_upgrading(backend):
            return [m.id for m in migrations]
        return [m.id for m in backend.to_apply(migrations)]


def migrate(db: Database, *, lock_wait: float = LOCK_WAIT, break_lock: bool = False) -> list[str]:
    """Apply every pending migration; return their ids (empty when up to date).

    Args:
        db: the store's database.
        lock_wait: seconds to wait for another `migrate()` to release the lock.
        break_lock: remove a `yoyo_lock` row left by a killed `yoyo apply` (only when
            no `yoyo apply` is running).

    Raises:
        ReadOnlyDatabase: the server is a hot standby (or read-only): migrate the primary.
        MigrationLocked: the lock stayed taken for `lock_wait` seconds, a `yoyo_lock`
            row remains (without `break_lock`), or a migration waited longer than
            `DDL_LOCK_TIMEOUT` for a table lock. Nothing of this call is half-applied:
            each migration is its own transaction.
        InvalidInput: a caller's sqlite3 connection is inside a transaction, or
            `lock_wait` is not a finite number of seconds in [0, a day] (NaN or
            infinity would wait forever).
    """
    lock_wait = seconds(lock_wait, "lock_wait")
    migrations = _migrations(db)
    with _yoyo(db, writing=True) as backend:
        settled = not (break_lock or internalmigrations.needs_upgrading(backend))
        if settled and not backend.to_apply(migrations):
            return []
        with _exclusive(db, backend, lock_wait):
            _clear_or_refuse_yoyo_lock(backend, break_lock)
            # Read again under the lock: another migrate may just have applied them.
            todo = backend.to_apply(migrations)
            for migration in todo:
                _rows_to_log(migration)
            try:
                backend.apply_migrations(todo)
            except Exception as exc:
                if type(exc).__name__ == "LockNotAvailable":
                    raise MigrationLocked(
                        f"a migration waited more than {DDL_LOCK_TIMEOUT} for a table lock "
                        "held by another session (an open transaction?); nothing of that "
                        "migration was applied: run migrate again when it ends"
                    ) from exc
                raise
    # 0010 folds run events written before the spine trigger existed (in SQL, so a
    # plain `yoyo apply` does it too).
    return [m.id for m in todo]


def _rows_to_log(migration: Any) -> None:
    """Log, not print, the rows a migration's statements return (0022's `setval`).

    yoyo writes them to `sys.stdout`: the application's own stdout, and the CLI's
    `--json` output. Each step writes to a buffer logged at DEBUG instead; a yoyo
    whose steps take no `out` prints as before.
    """
    migration.load()
    steps = list(migration.steps)
    while steps:
        step = steps.pop()
        steps.extend(getattr(step, "steps", None) or ())
        if getattr(step, "step", None) is not None:
            steps.append(step.step)
        execute = getattr(step, "_execute", None)
        if execute is not None and "out" in inspect.signature(execute).parameters:
            step._execute = _logging(execute, migration.id)


def _logging(execute: Any, migration_id: str) -> Any:
    def quiet(cursor: Any, stmt: Any, out: Any = None) -> None:
        rows = io.StringIO()
        execute(cursor, stmt, out=rows)
        if rows.getvalue():
            _log.debug("%s returned:\n%s", migration_id, rows.getvalue())

    return quiet


def _migrations(db: Database) -> Any:
    return read_migrations(str(sqlfiles.migrations_dir(db.dialect)))


@contextmanager
def _yoyo(db: Database, *, writing: bool = False) -> Iterator[Any]:
    """A yoyo backend on the connection migrations run on (see the module doc)."""
    if isinstance(db, PostgresDatabase):
        import psycopg

        conninfo, kwargs = db.direct_conninfo()
        with db.translate_errors():
            conn = psycopg.connect(
                conninfo, autocommit=True, prepare_threshold=None, connect_timeout=10, **kwargs
            )
        try:
            # A hot standby (or default_transaction_read_only) refuses the DDL: say so first.
            if writing and (conn.execute(db.queries["read_only"]).fetchone() or [False])[0]:
                raise ReadOnlyDatabase.at(db.description)
            with db.translate_errors():
                backend = _POSTGRES(conn, "postgresql+psycopg://localhost/borrowed")
                backend.init_database()
                yield backend
        finally:
            conn.close()
        return
    assert isinstance(db, SQLiteDatabase)
    with db._lock:
        lite = db.conn
        if lite.in_transaction:
            raise InvalidInput(
                "migrate() needs the sqlite3 connection outside a transaction "
                "(each migration commits)"
            )
        saved = lite.isolation_level
        lite.isolation_level = None  # yoyo sends BEGIN/COMMIT itself
        try:
            with db.translate_errors():
                backend = _SQLITE(lite, "sqlite:///:memory:")
                backend.init_database()
                yield backend
        finally:
            lite.isolation_level = saved


@contextmanager
def _exclusive(db: Database, backend: Any, wait: float) -> Iterator[None]:
    """Hold the migration lock of this database for the block (see the module doc)."""
    if isinstance(db, PostgresDatabase):
        with _advisory_lock(backend.connection, wait):
            yield
        return
    path = getattr(db, "path", "")
    if path in (":memory:", "", "(connection)"):
        yield  # a memory database is private to its connection
        return
    with _file_lock(f"{path}.migrate-lock", wait):
        yield


@contextmanager
def _advisory_lock(conn: Any, wait: float) -> Iterator[None]:
    deadline = time.monotonic() + wait
    # Polled, never a blocking pg_advisory_lock(): a blocked waiter can deadlock with
    # the holder's DDL, and it would wait forever.
    while not conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
        if time.monotonic() >= deadline:
            raise MigrationLocked(
                f"another migrate holds the pyreference migration lock ({_holder(conn)}); "
                f"waited {wait:g} s. It is released when that session ends: let it finish, "
                "or end it with pg_terminate_backend(pid)"
            )
        time.sleep(_POLL)
    try:
        conn.execute(f"SET lock_timeout = '{DDL_LOCK_TIMEOUT}'")
        yield
    finally:
        if not conn.closed:
            conn.execute("RESET lock_timeout")
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def _holder(conn: Any) -> str:
    row = conn.execute(
        "SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start"
        "  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted"
        "   AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
        (LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF),
    ).fetchone()
    if row is None:
        return "holder unknown"
    pid, app, addr, since = row
    return f"pid {pid}{f' ({app})' if app else ''}{f' from {addr}' if addr else ''}, since {since}"


@contextmanager
def _file_lock(path: str, wait: float) -> Iterator[None]:
    import fcntl

    deadline = time.monotonic() + wait
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise MigrationLocked(
                        f"another migrate holds {path}; waited {wait:g} s (it is released "
                        "when that process ends)"
                    ) from None
                time.sleep(_POLL)
        yield
    finally:
        os.close(fd)  # releases the lock


def _clear_or_refuse_yoyo_lock(backend: Any, break_lock: bool) -> None:
    """A `yoyo_lock` row means a `yoyo apply` runs now or was killed: say so, or clear it."""
    rows = backend.execute(f"SELECT pid, ctime FROM {backend.lock_table_quoted}").fetchall()
    if not rows:
        return
    if break_lock:
        backend.break_lock()
        return
    pid, ctime = rows[0]
    raise MigrationLocked(
        f"a yoyo lock row remains (pid {pid}, taken {ctime} UTC): a `yoyo apply` is running "
        "or was killed. If none is running, remove it with `pyreference migrate --break-lock`"
    )
