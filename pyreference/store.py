"""The store: `pyreference.connect(...)` returns one. Reads, writes and maintenance.

Every operation is a plan (`plan.py`) shared with the async store (`aio.py`);
this module binds each to a synchronous method driven by `plan.run`.
"""

from __future__ import annotations

import dataclasses
import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from . import maintenance, migrate, read_path, writes
from .db import (
    Database,
    PostgresDatabase,
    SQLiteDatabase,
    StatementCounter,
    prepare_default,
    wait_seconds,
)
from .errors import InvalidInput
from .inputs import ident, shown
from .memo import PreparedMemo
from .plan import Context, Plan, run
from .read_path import ListRequest, Page, Resolution, list_request, page_statement
from .routing import ReadSource, Router, replica_options
from .synthesis import ConnectionSummary

__all__ = [
    "DEFAULT_DSN",
    "DEFAULT_MEMO_ROWS",
    "Page",
    "Resolution",
    "Store",
    "connect",
    "page_statement",
]

DEFAULT_DSN = "sqlite:///pyreference.db"
# Page rows whose prepared evidence is kept between reads (about 10 KB each).
DEFAULT_MEMO_ROWS = 1024

P = ParamSpec("P")
T = TypeVar("T")


def store_context(db: Database, owner: Any, memo_rows: Any) -> Context:
    """Check a store's settings (raises `InvalidInput`) and build its plans' context."""
    ident(owner, "owner")
    if isinstance(memo_rows, bool) or not isinstance(memo_rows, int) or memo_rows < 0:
        raise InvalidInput(f"memo_rows must be an int >= 0, not {shown(memo_rows)}")
    return Context(
        owner=owner,
        dialect=db.dialect,
        memo=PreparedMemo(memo_rows),
        loads=db.loads,
        cursor_key=db.cursor_key,
    )


def _sync(plan: Callable[Concatenate[Context, P], Plan[T]]) -> Callable[Concatenate[Store, P], T]:
    """A plan as a synchronous store method (same arguments, same docstring)."""

    @functools.wraps(plan)
    def method(self: Store, *args: P.args, **kwargs: P.kwargs) -> T:
        return run(self._db, plan(self._ctx, *args, **kwargs), self.owner)

    return method


def _sync_write(
    plan: Callable[Concatenate[Context, P], Plan[T]],
) -> Callable[Concatenate[Store, P], T]:
    """A write plan as a store method that remembers the write's WAL position afterwards."""

    @functools.wraps(plan)
    def method(self: Store, *args: P.args, **kwargs: P.kwargs) -> T:
        result = run(self._db, plan(self._ctx, *args, **kwargs))
        self._router.note_write()
        return result

    return method


def _sync_read(plan: Callable[Concatenate[Context, P], Plan[T]]) -> Callable[..., T]:
    """A scoped read plan as a store method routed by `Router` (adds `consistent_with=`)."""

    @functools.wraps(plan)
    def method(self: Store, *args: Any, consistent_with: str | None = None, **kwargs: Any) -> T:
        target = self._router.target(consistent_with)
        result, _ = self._read(lambda: plan(self._ctx, *args, **kwargs), target)
        return result

    return method


class StoreBase:
    """What the sync and async stores share: settings, the plans' context, the read
    router (docs/scaling.md), counting."""

    def __init__(
        self,
        db: Database,
        owner: str = "owner_local",
        *,
        memo_rows: int = DEFAULT_MEMO_ROWS,
        router: Router | None = None,
    ) -> None:
        self._ctx = store_context(db, owner, memo_rows)
        self._db = db
        self._router = router or Router(db)
        self.owner = owner
        self._memo = self._ctx.memo

    @property
    def dialect(self) -> str:
        return self._db.dialect

    @property
    def database(self) -> Database:
        return self._db

    def statement_counter(
        self, *, all_threads: bool = False
    ) -> AbstractContextManager[StatementCounter]:
        """Count the statements this store sends while the block runs (R10).

        Counts the calling thread's (or asyncio task's) statements, all threads' with
        `all_threads=True`; counters nest. `counter.statements` excludes transaction
        control, `counter.writes` counts those that modify data, `counter.names` the
        query names.
        """
        return self._router.statement_counter(all_threads=all_threads)

    @property
    def write_position(self) -> str | None:
        """WAL position of this store's latest committed write (None before any write or
        without replicas). Reads on this store wait for replicas to replay it; pass it as
        `consistent_with=` to reads on another store or process (read-your-writes, R6).

        A write inside the caller's own open transaction (a store over the caller's
        connection) is not in it until a read of this store has seen that transaction
        commit; until then this store's reads run on the primary (docs/scaling.md). After
        committing such a transaction, take a token for another process with
        `current_position()`."""
        return self._router.own_position


class Store(StoreBase):
    """A pyreference store over one database (Postgres or SQLite), optionally with replicas.

    Writes, maintenance and migrations run on `db` (the primary); reads go through `router`,
    which may serve them from streaming replicas (`connect(..., replicas=[...])`)."""

    def __init__(
        self,
        db: Database,
        owner: str = "owner_local",
        *,
        memo_rows: int = DEFAULT_MEMO_ROWS,
        router: Router | None = None,
    ) -> None:
        super().__init__(db, owner, memo_rows=memo_rows, router=router)
        self._last_source = threading.local()
        self._inflight: dict[tuple[Any, ...], Future[Page]] = {}
        self._inflight_lock = threading.Lock()

    def close(self) -> None:
        self._router.close()

    # -- read routing (docs/scaling.md) ---------------------------------------------
    def current_position(self) -> str:
        """The primary's WAL insert position now: a read given it as `consistent_with=`
        observes every write committed before this call. Postgres only.

        Raises:
            InvalidInput: on SQLite.
            DatabaseUnavailable: the primary cannot be reached."""
        return self._router.current_position()

    def replica_status(self) -> list[dict[str, Any]]:
        """Each replica's health, replay position and lag in seconds, checked now."""
        return self._router.status()

    @property
    def last_read_source(self) -> ReadSource | None:
        """Which server served this thread's latest read, and its lag (None before a read)."""
        return getattr(self._last_source, "value", None)

    def _read(self, make: Callable[[], Plan[T]], target: int | None) -> tuple[T, ReadSource]:
        result, source = self._router.read(make, target, self.owner)
        self._last_source.value = source
        return result, source

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ----------------------------------------------------------------
    def migrate(
        self, *, lock_wait: float = migrate.LOCK_WAIT, break_lock: bool = False
    ) -> list[str]:
        """Apply pending migrations (idempotent); returns the ids applied.

        Concurrent calls are serialized by a lock held by a live session (a Postgres
        advisory lock, an SQLite file lock), never by a row a crash could leave behind;
        nothing pending takes no lock. On Postgres migrations run on a connection of
        their own, never in the caller's connection or transaction.

        Args:
            lock_wait: seconds to wait for a concurrent `migrate()` to finish.
            break_lock: remove a `yoyo_lock` row left by a killed `yoyo apply`.

        Raises:
            ReadOnlyDatabase: the server is a hot standby: migrate the primary.
            MigrationLocked: the lock stayed taken `lock_wait` seconds, a `yoyo_lock` row
                remains, or a migration waited too long for a table lock.
        """
        return migrate.migrate(self._db, lock_wait=lock_wait, break_lock=break_lock)

    def pending_migrations(self) -> list[str]:
        """Ids of the migrations not applied yet (takes no lock)."""
        return migrate.pending(self._db)

    # -- list path (R10, R12, R13) -------------------------------------------------
    def list_connection_summaries(
        self,
        limit: int = 100,
        cursor: str | None = None,
        connector_id: str | None = None,
        now: datetime | str | None = None,
        *,
        live_run_ids: frozenset[str] | None = None,
        consistent_with: str | None = None,
    ) -> Page:
        """One keyset page of summaries: a fixed number of statements whatever the fleet.

        `consistent_with` (a WAL position from `write_position` / `current_position()`)
        makes a replica serve the page only once it has replayed that far (else the primary).

        Raises `InvalidInput` (bad limit or position), `InvalidCursor`, `DatabaseUnavailable`."""
        req = list_request(limit, cursor, connector_id, now, live_run_ids)
        req = req.at_position(self._router.target(consistent_with))
        return self._single_flight(req.key, lambda: self._list_page(req))

    def _single_flight(self, key: tuple[Any, ...], compute: Callable[[], Page]) -> Page:
        # Identical concurrent reads share one computation; nothing outlives it (R13).
        with self._inflight_lock:
            future = self._inflight.get(key)
            leader = future is None
            if leader:
                future = Future()
                self._inflight[key] = future
        assert future is not None
        if not leader:
            return future.result()
        try:
            future.set_result(compute())
        except BaseException as exc:
            future.set_exception(exc)
        finally:
            with self._inflight_lock:
                del self._inflight[key]
        return future.result()

    def _list_page(self, req: ListRequest) -> Page:
        page, source = self._read(lambda: read_path.list_page(self._ctx, req), req.target)
        return dataclasses.replace(page, source=source)

    def iter_connection_summaries(
        self,
        now: datetime | str | None = None,
        *,
        connector_id: str | None = None,
        page_size: int = 500,
        consistent_with: str | None = None,
    ) -> Iterator[ConnectionSummary]:
        """Every summary, following pages (one `now` for the whole walk)."""
        at = list_request(page_size, None, connector_id, now, None).now
        cursor = None
        while True:
            page = self.list_connection_summaries(
                page_size, cursor, connector_id, at, consistent_with=consistent_with
            )
            yield from page.items
            if not page.has_more:
                return
            cursor = page.next_cursor

    # -- scoped path (R11, R62) ------------------------------------------------------
    resolve_connection = _sync_read(read_path.resolve_connection)
    get_connection_summary = _sync_read(read_path.connection_summary)
    connection_diagnostics = _sync_read(read_path.connection_diagnostics)
    list_connectors = _sync_read(read_path.owner_connectors)

    # -- maintenance (R7) ---------------------------------------------------------------
    def reconcile(self, limit: int | None = None) -> int:
        """Persist recomputations of dirty rows, oldest first; returns how many."""
        return self.reconcile_report(limit).reconciled

    reconcile_report = _sync(maintenance.reconcile)
    rebuild = _sync(maintenance.rebuild)
    verify = _sync(maintenance.verify)
    dirty_backlog = _sync(maintenance.backlog)
    read_model_health = _sync(maintenance.health)

    # -- writes (thin wrappers over plain SQL; the triggers maintain) ---------------------
    register_connector = _sync_write(writes.register_connector)
    create_connection = _sync_write(writes.create_connection)
    update_connection = _sync_write(writes.update_connection)
    ingest_records = _sync_write(writes.ingest_records)
    delete_record = _sync_write(writes.delete_record)
    append_events = _sync_write(writes.append_events)
    set_schedule = _sync_write(writes.set_schedule)
    add_detail_gap = _sync_write(writes.add_detail_gap)
    update_detail_gap = _sync_write(writes.update_detail_gap)
    open_attention = _sync_write(writes.open_attention)
    update_attention = _sync_write(writes.update_attention)


def connect(
    target: Any = None,
    *,
    owner: str = "owner_local",
    memo_rows: int = DEFAULT_MEMO_ROWS,
    replicas: Sequence[str] = (),
    consistency: str = "session",
    replica_wait: float = 0.25,
    replica_retry_after: float = 5.0,
    prepare: bool | None = None,
    create: bool = True,
    timeout: float | None = None,
) -> Store:
    """A store over a DSN (`postgresql://…` or libpq keywords `host=… dbname=…`,
    `sqlite:///path`, `sqlite:///:memory:`), a psycopg connection or pool, or a
    `sqlite3.Connection`.

    A connection or pool is used as given: its autocommit, isolation and open
    transaction are left alone, the store's own transactions nest inside the caller's
    (as savepoints) instead of committing or rolling back the caller's work, and the
    store never closes it.

    Args:
        target: the database; with `replicas`, the primary.
        owner: whose connections the reads show.
        memo_rows: page rows whose prepared evidence is kept between reads (0 keeps none;
            see `PreparedMemo`).
        prepare: False sends every statement unprepared, as PgBouncer in transaction
            or statement pooling mode requires; None (default) reads
            PYREFERENCE_PREPARE (`0`, `off`, `false` or `no` mean False), else True.
        create: SQLite only; False refuses to create a missing database file
            (`SchemaNotReady`) instead of creating an empty one.
        timeout: Postgres, a store's own pool only: seconds a new connection may take to
            connect (libpq's `connect_timeout`, whole seconds, at least 2) and a call may
            wait for a pooled connection before `DatabaseUnavailable`; None (default):
            10 s and 30 s. A server that must answer fast when the database is down (the
            HTTP API) sets a short one.
        replicas: DSNs of streaming replicas (hot standbys) of a Postgres primary. List and
            scoped reads go to them (round-robin, each checked on the connection that serves
            the read); writes, maintenance and migrations go to `target`; with no healthy,
            caught-up replica the primary serves the read (docs/scaling.md).
        consistency: ``"session"`` (default): a read observes this store's own writes and any
            `consistent_with=` position; other reads may see a replica's lag (`Page.source`).
            ``"strict"``: every read observes every write committed before it (R6), at one
            extra statement on the primary per read.
        replica_wait: seconds a read waits for a replica to replay its position before the
            primary serves it.
        replica_retry_after: seconds an unreachable or non-standby replica is left out.

    Raises:
        InvalidInput: a malformed URL or option (replicas need a Postgres primary).
        DatabaseUnavailable: the primary cannot be reached; the message says why (refused,
            unknown host, authentication, missing database, bad option) and names the
            host, never a password (a replica that is down is not an error: the primary
            serves its reads until it is back)."""
    replica_options(  # before the primary's pool opens: a bad option opens nothing
        replicas,
        consistency=consistency,
        replica_wait=replica_wait,
        retry_after=replica_retry_after,
    )
    db = _database(
        DEFAULT_DSN if target is None else target,
        prepare=prepare_default(prepare),
        create=create,
        timeout=wait_seconds(timeout),
    )
    try:
        router = Router(
            db,
            replicas,
            consistency=consistency,
            replica_wait=replica_wait,
            retry_after=replica_retry_after,
        )
    except BaseException:  # InvalidInput, or anything: the pool just opened is closed
        db.close()
        raise
    try:
        return Store(db, owner, memo_rows=memo_rows, router=router)
    except BaseException:
        router.close()
        raise


def postgres_dsn(target: str) -> str | None:
    """`target` as a libpq DSN when it names a PostgreSQL database, else None."""
    if target.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return target.replace("postgresql+psycopg://", "postgresql://", 1)
    if "=" in target and "://" not in target:  # libpq keyword form: "host=… dbname=…"
        return target
    return None


def sqlite_path(dsn: str) -> str | None:
    """The file path of a `sqlite://` DSN (`:memory:` for memory), None for other DSNs."""
    if not dsn.startswith("sqlite://"):
        return None
    path = dsn.removeprefix("sqlite://")
    path = path[1:] if path.startswith("/") else path
    return path or ":memory:"


def _database(
    target: Any, *, prepare: bool = True, create: bool = True, timeout: float | None = None
) -> Database:
    if isinstance(target, sqlite3.Connection):
        return SQLiteDatabase(target)
    if isinstance(target, str):
        path = sqlite_path(target)
        if path is not None:
            return SQLiteDatabase(path, create=create)
        dsn = postgres_dsn(target)
        if dsn is not None:
            return PostgresDatabase(dsn, dsn=dsn, prepare=prepare, timeout=timeout)
        raise InvalidInput("unsupported database URL: use postgresql://… or sqlite:///path")
    module = type(target).__module__
    if module.startswith(("psycopg", "psycopg_pool")):
        return PostgresDatabase(target, prepare=prepare, timeout=timeout)
    raise InvalidInput(f"cannot connect to a {type(target).__name__}")
