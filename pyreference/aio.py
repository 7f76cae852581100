"""The async store: `await pyreference.connect_async(...)` returns one.

The same plans as the sync store (`plan.py`, `read_path.py`, `writes.py`,
`maintenance.py`), with the same arguments, errors and outputs. Postgres runs on
psycopg's async connections (`plan.run_async`); SQLite, whose driver has no async
form, runs the sync driver in a worker thread (`asyncio.to_thread`), so a slow
read never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from . import maintenance, migrate, read_path, writes
from .db import AsyncPostgresDatabase, Database, PostgresDatabase, prepare_default, wait_seconds
from .errors import InvalidInput
from .plan import Plan, run, run_async
from .read_path import ListRequest, Page, list_request
from .routing import ReadSource, Router, replica_options
from .store import DEFAULT_DSN, DEFAULT_MEMO_ROWS, StoreBase, _database, postgres_dsn
from .synthesis import ConnectionSummary

P = ParamSpec("P")
T = TypeVar("T")


def _async(
    plan: Callable[Concatenate[Any, P], Plan[T]],
) -> Callable[Concatenate[AsyncStore, P], Coroutine[Any, Any, T]]:
    """A plan as an async store method (same arguments, same docstring)."""

    @functools.wraps(plan)
    async def method(self: AsyncStore, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._run(plan(self._ctx, *args, **kwargs))

    return method


def _async_write(
    plan: Callable[Concatenate[Any, P], Plan[T]],
) -> Callable[Concatenate[AsyncStore, P], Coroutine[Any, Any, T]]:
    """A write plan as an async store method that remembers the write's WAL position."""

    @functools.wraps(plan)
    async def method(self: AsyncStore, *args: P.args, **kwargs: P.kwargs) -> T:
        result = await self._run(plan(self._ctx, *args, **kwargs))
        await self._router.note_write_async()
        return result

    return method


def _async_read(
    plan: Callable[Concatenate[Any, P], Plan[T]],
) -> Callable[..., Coroutine[Any, Any, T]]:
    """A scoped read plan as an async store method routed by `Router` (adds `consistent_with=`)."""

    @functools.wraps(plan)
    async def method(
        self: AsyncStore, *args: Any, consistent_with: str | None = None, **kwargs: Any
    ) -> T:
        target = await self._router.target_async(consistent_with)
        result, _ = await self._read(lambda: plan(self._ctx, *args, **kwargs), target)
        return result

    return method


class AsyncStore(StoreBase):
    """A pyreference store for asyncio code over one database (Postgres or SQLite),
    optionally with streaming replicas (see `Store`, docs/scaling.md)."""

    def __init__(
        self,
        db: Database,
        owner: str = "owner_local",
        *,
        memo_rows: int = DEFAULT_MEMO_ROWS,
        router: Router | None = None,
    ) -> None:
        super().__init__(db, owner, memo_rows=memo_rows, router=router)
        self._inflight: dict[tuple[Any, ...], asyncio.Task[Page]] = {}
        self._last_source: contextvars.ContextVar[ReadSource | None] = contextvars.ContextVar(
            "last_read_source", default=None
        )

    @property
    def last_read_source(self) -> ReadSource | None:
        """Which server served this task's latest read, and its lag (None before a read)."""
        return self._last_source.get()

    async def current_position(self) -> str:
        """The primary's WAL insert position now (see `Store.current_position`)."""
        return await self._router.current_position_async()

    async def replica_status(self) -> list[dict[str, Any]]:
        """Each replica's health, replay position and lag in seconds, checked now."""
        return await self._router.status_async()

    async def _read(self, make: Callable[[], Plan[T]], target: int | None) -> tuple[T, ReadSource]:
        result, source = await self._router.read_async(make, target, self._run, self.owner)
        self._last_source.set(source)
        return result, source

    async def _run(self, plan: Plan[T]) -> T:
        if isinstance(self._db, AsyncPostgresDatabase):
            return await run_async(self._db, plan, self.owner)
        return await asyncio.to_thread(run, self._db, plan, self.owner)

    async def aclose(self) -> None:
        """Close the connections this store opened (a passed-in connection or pool stays open).

        A store's own pools belong to the event loop that opened it: called from another
        loop, the close runs on that loop while it still runs (in another thread).

        Raises:
            EventLoopMismatch: the loop that opened the store has stopped (see
                `AsyncPostgresDatabase.aclose`).
        """
        db = self._db
        home = db.loop if isinstance(db, AsyncPostgresDatabase) else None
        if isinstance(db, AsyncPostgresDatabase) and home not in (None, asyncio.get_running_loop()):
            if home.is_running():
                done = asyncio.run_coroutine_threadsafe(self.aclose(), home)
                await asyncio.wrap_future(done)
                return
            await db.aclose()  # raises EventLoopMismatch, before replicas' pools
        await self._router.aclose_replicas()
        await _close(self._db)

    async def __aenter__(self) -> AsyncStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- schema ----------------------------------------------------------------
    async def migrate(
        self, *, lock_wait: float = migrate.LOCK_WAIT, break_lock: bool = False
    ) -> list[str]:
        """Apply pending migrations (idempotent); returns the ids applied (see `Store.migrate`)."""
        return await self._on_sync_twin(
            functools.partial(migrate.migrate, lock_wait=lock_wait, break_lock=break_lock)
        )

    async def pending_migrations(self) -> list[str]:
        """Ids of migrations not yet applied."""
        return await self._on_sync_twin(migrate.pending)

    async def _on_sync_twin(self, work: Callable[[Database], T]) -> T:
        # yoyo is synchronous: it runs in a thread, on a short-lived sync connection
        # to the same Postgres database, or on the SQLite database itself.
        db = self._db
        if not isinstance(db, AsyncPostgresDatabase):
            return await asyncio.to_thread(work, db)
        conninfo = db.conninfo

        def on_twin() -> T:
            twin = PostgresDatabase(
                conninfo, dsn=conninfo, prepare=db.prepared_statements, timeout=db.timeout
            )
            try:
                return work(twin)
            finally:
                twin.close()

        return await asyncio.to_thread(on_twin)

    # -- list path (R10, R12, R13) -------------------------------------------------
    async def list_connection_summaries(
        self,
        limit: int = 100,
        cursor: str | None = None,
        connector_id: str | None = None,
        now: datetime | str | None = None,
        *,
        live_run_ids: frozenset[str] | None = None,
        consistent_with: str | None = None,
    ) -> Page:
        """One keyset page of summaries (see `Store.list_connection_summaries`).

        Identical concurrent reads in this event loop share one computation (R13): a
        task that outlives any one caller's cancellation, forgotten once it settles."""
        req = list_request(limit, cursor, connector_id, now, live_run_ids)
        req = req.at_position(await self._router.target_async(consistent_with))
        key = (asyncio.get_running_loop(), *req.key)
        task = self._inflight.get(key)
        if task is None or task.done():
            task = asyncio.ensure_future(self._list_page(req))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _list_page(self, req: ListRequest) -> Page:
        page, source = await self._read(lambda: read_path.list_page(self._ctx, req), req.target)
        return dataclasses.replace(page, source=source)

    async def iter_connection_summaries(
        self,
        now: datetime | str | None = None,
        *,
        connector_id: str | None = None,
        page_size: int = 500,
        consistent_with: str | None = None,
    ) -> AsyncIterator[ConnectionSummary]:
        """Every summary, following pages (one `now` for the whole walk)."""
        at = list_request(page_size, None, connector_id, now, None).now
        cursor = None
        while True:
            page = await self.list_connection_summaries(
                page_size, cursor, connector_id, at, consistent_with=consistent_with
            )
            for item in page.items:
                yield item
            if not page.has_more:
                return
            cursor = page.next_cursor

    # -- scoped path (R11) -----------------------------------------------------------
    resolve_connection = _async_read(read_path.resolve_connection)
    get_connection_summary = _async_read(read_path.connection_summary)
    connection_diagnostics = _async_read(read_path.connection_diagnostics)
    list_connectors = _async_read(read_path.owner_connectors)

    # -- maintenance (R7) ---------------------------------------------------------------
    async def reconcile(self, limit: int | None = None) -> int:
        """Persist recomputations of dirty rows, oldest first; returns how many."""
        return (await self.reconcile_report(limit)).reconciled

    reconcile_report = _async(maintenance.reconcile)
    rebuild = _async(maintenance.rebuild)
    verify = _async(maintenance.verify)
    dirty_backlog = _async(maintenance.backlog)
    read_model_health = _async(maintenance.health)

    # -- writes (thin wrappers over plain SQL; the triggers maintain) ---------------------
    register_connector = _async_write(writes.register_connector)
    create_connection = _async_write(writes.create_connection)
    update_connection = _async_write(writes.update_connection)
    ingest_records = _async_write(writes.ingest_records)
    delete_record = _async_write(writes.delete_record)
    append_events = _async_write(writes.append_events)
    set_schedule = _async_write(writes.set_schedule)
    add_detail_gap = _async_write(writes.add_detail_gap)
    update_detail_gap = _async_write(writes.update_detail_gap)
    open_attention = _async_write(writes.open_attention)
    update_attention = _async_write(writes.update_attention)


async def connect_async(
    target: Any = None,
    *,
    owner: str = "owner_local",
    memo_rows: int = DEFAULT_MEMO_ROWS,
    prepare: bool | None = None,
    replicas: Sequence[str] = (),
    consistency: str = "session",
    replica_wait: float = 0.25,
    replica_retry_after: float = 5.0,
    create: bool = True,
    timeout: float | None = None,
) -> AsyncStore:
    """An async store over a DSN (`postgresql://…` gets an `AsyncConnectionPool` of its
    own; `sqlite:///path`), a psycopg `AsyncConnection` or `AsyncConnectionPool`, or
    anything `connect()` accepts (a `sqlite3.Connection` must allow other threads:
    `check_same_thread=False`). A caller's connection or pool is used as given and
    `prepare` is as in `connect()`. `replicas`, `consistency`, `replica_wait` and
    `replica_retry_after` route reads to streaming replicas as for `connect()` (the
    primary must then be async Postgres). `create=False` refuses to create a missing
    SQLite file (`SchemaNotReady`), as in `connect()`. `timeout` (seconds) bounds a new
    connection's connect and a call's wait for a pooled connection, as in `connect()`
    (`pyreference serve` uses a short one: a request fails fast when the database is
    down). Raises `DatabaseUnavailable`, `InvalidInput`, `SchemaNotReady`."""
    target = DEFAULT_DSN if target is None else target
    prepared = prepare_default(prepare)
    replica_options(  # before the primary's pool opens: a bad option opens nothing
        replicas,
        consistency=consistency,
        replica_wait=replica_wait,
        retry_after=replica_retry_after,
    )
    seconds = wait_seconds(timeout)
    db: Database
    dsn = postgres_dsn(target) if isinstance(target, str) else None
    if dsn is not None:
        db = await AsyncPostgresDatabase.open(dsn, prepare=prepared, timeout=seconds)
    elif isinstance(target, AsyncConnection | AsyncConnectionPool):
        db = AsyncPostgresDatabase(target, prepare=prepared, timeout=seconds)
    else:
        db = await asyncio.to_thread(
            functools.partial(_database, target, prepare=prepared, create=create, timeout=seconds)
        )
    try:
        if replicas and not isinstance(db, AsyncPostgresDatabase):
            raise InvalidInput("replicas need a PostgreSQL primary")
        router = Router(
            db,
            replicas,
            consistency=consistency,
            replica_wait=replica_wait,
            retry_after=replica_retry_after,
            asynchronous=True,
        )
    except BaseException:  # InvalidInput, or anything: the pool just opened is closed
        await _close(db)
        raise
    try:
        return AsyncStore(db, owner, memo_rows=memo_rows, router=router)
    except BaseException:
        await router.aclose_replicas()
        await _close(db)
        raise


async def _close(db: Database) -> None:
    if isinstance(db, AsyncPostgresDatabase):
        await db.aclose()
    else:
        await asyncio.to_thread(db.close)
