"""The store: `pyreference.connect(...)` returns one. Reads, writes and maintenance."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import maintenance, migrate
from .cursors import cursor_position, encode_cursor, verify_cursor
from .db import Database, Ids, PostgresDatabase, SQLiteDatabase, StatementCounter
from .errors import ConnectionNotFound, InvalidInput
from .memo import PreparedMemo, prepare_page
from .reads import PageDecoder, deep_from_row, evidence_from_row
from .synthesis import (
    ConnectionDiagnostics,
    ConnectionSummary,
    Runtime,
    diagnose,
    synthesize,
    synthesize_prepared,
)
from .timeutil import now_utc, to_utc
from .writes import WriteHelpers

DEFAULT_DSN = "sqlite:///pyreference.db"
# Page rows whose prepared evidence is kept between reads (about 10 KB each).
DEFAULT_MEMO_ROWS = 1024


@dataclass(frozen=True)
class Page:
    items: tuple[ConnectionSummary, ...]
    next_cursor: str | None
    has_more: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [item.to_dict() for item in self.items],
            "next_cursor": self.next_cursor,
            "has_more": self.has_more,
        }


def page_statement(
    owner: str, fetch: int, connector_id: str | None, cursor: str | None
) -> tuple[str, dict[str, Any]]:
    """The named page statement and its parameters (R10/R12).

    Args:
        owner: the owner whose connections are listed.
        fetch: rows to fetch (the page size plus one, to learn whether more follow).
        connector_id: only this connector's connections, or all.
        cursor: the position to continue after (its signature is checked by the caller).

    Returns:
        One of `list_page`, `list_page_after`, `list_page_connector`,
        `list_page_connector_after`, and exactly the parameters it takes: each keeps the
        keyset an index condition under any plan.

    Raises:
        InvalidCursor: the cursor is malformed or bound to another owner or filter.
    """
    name = "list_page"
    params: dict[str, Any] = {"owner": owner, "fetch": fetch}
    if connector_id is not None:
        name += "_connector"
        params["connector_id"] = connector_id
    if cursor is not None:
        name += "_after"
        position = cursor_position(cursor, owner, connector_id)
        params.update(after_created=position[1], after_id=position[2])
        if connector_id is None:  # a filtered cursor's connector is the filter
            params["after_connector"] = position[0]
    return name, params


class Store(WriteHelpers):
    """A pyreference store over one database (Postgres or SQLite)."""

    def __init__(
        self, db: Database, owner: str = "owner_local", *, memo_rows: int = DEFAULT_MEMO_ROWS
    ) -> None:
        if not isinstance(owner, str) or not owner:
            raise InvalidInput("owner must be a non-empty string")
        if isinstance(memo_rows, bool) or not isinstance(memo_rows, int) or memo_rows < 0:
            raise InvalidInput(f"memo_rows must be an int >= 0, not {memo_rows!r}")
        self._db = db
        self.owner = owner
        self._memo = PreparedMemo(memo_rows)
        self._inflight: dict[tuple[Any, ...], Future[Page]] = {}
        self._inflight_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self._db.dialect

    @property
    def database(self) -> Database:
        return self._db

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ----------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply pending migrations (idempotent); returns the ids applied."""
        return migrate.migrate(self._db)

    def pending_migrations(self) -> list[str]:
        return migrate.pending(self._db)

    def statement_counter(self) -> AbstractContextManager[StatementCounter]:
        return self._db.statement_counter()

    # -- list path (R10, R12, R13) -------------------------------------------------
    def list_connection_summaries(
        self,
        limit: int = 100,
        cursor: str | None = None,
        connector_id: str | None = None,
        now: datetime | str | None = None,
        *,
        live_run_ids: frozenset[str] | None = None,
    ) -> Page:
        """One keyset page of summaries: a fixed number of statements whatever the fleet."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidInput(f"limit must be an int from 1 to 1000, not {limit!r}")
        if connector_id is not None and not isinstance(connector_id, str):
            raise InvalidInput("connector_id must be text")
        at = now_utc() if now is None else to_utc(now, "now")
        runtime = Runtime(live_run_ids=None if live_run_ids is None else frozenset(live_run_ids))
        key = (limit, cursor, connector_id, None if now is None else at, runtime.live_run_ids)
        return self._single_flight(
            key, lambda: self._list_page(limit, cursor, connector_id, at, runtime)
        )

    def _single_flight(self, key: tuple[Any, ...], compute: Callable[[], Page]) -> Page:
        # Identical concurrent reads share one computation; nothing outlives it.
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

    def _list_page(
        self,
        limit: int,
        cursor: str | None,
        connector_id: str | None,
        now: datetime,
        runtime: Runtime,
    ) -> Page:
        name, params = page_statement(self.owner, limit + 1, connector_id, cursor)
        with self._db.session() as s:
            columns, rows = s.rows(name, params)
            column = {name: i for i, name in enumerate(columns)}
            # The page query carries the secret; only an empty page needs a lookup.
            secret = str(rows[0][column["cursor_secret"]]) if rows else self._cursor_secret(s)
            if cursor is not None:
                verify_cursor(secret, cursor)
            has_more = len(rows) > limit
            rows = rows[:limit]
            ident = column["connector_instance_id"]
            recomputed = self._recompute(s, [r[ident] for r in rows if r[column["dirty"]]])
        prepared = prepare_page(columns, rows, self._memo, PageDecoder(self._db.loads), recomputed)
        next_cursor = None
        if has_more:
            last = rows[-1]
            position = [last[column["connector_id"]], last[column["created_at"]], last[ident]]
            next_cursor = encode_cursor(secret, self.owner, connector_id, position)
        items = tuple(synthesize_prepared(p, now, runtime) for p in prepared)
        return Page(items=items, next_cursor=next_cursor, has_more=has_more)

    def iter_connection_summaries(
        self,
        now: datetime | str | None = None,
        *,
        connector_id: str | None = None,
        page_size: int = 500,
    ) -> Iterator[ConnectionSummary]:
        """Every summary, following pages (one `now` for the whole walk)."""
        at = now_utc() if now is None else to_utc(now, "now")
        cursor = None
        while True:
            page = self.list_connection_summaries(page_size, cursor, connector_id, at)
            yield from page.items
            if not page.has_more:
                return
            cursor = page.next_cursor

    def _cursor_secret(self, session: Any) -> str:
        return str(session.execute("cursor_secret")[0]["value"])

    def _recompute(self, session: Any, dirty: list[str]) -> dict[str, Mapping[str, Any]]:
        """Evidence of dirty rows recomputed in one extra statement (R6), by connection id."""
        if not dirty:
            return {}
        try:
            rows = session.execute("recompute_evidence", {"ids": Ids(dirty)})
        except Exception:
            # The recompute is a read's last statement; without it the dirty rows
            # are reported as not current (health unknown), never guessed.
            return {}
        return {r["connector_instance_id"]: r for r in rows}

    # -- scoped path (R11) -----------------------------------------------------------
    def _scoped(self, connection_id: str, now: datetime | str | None) -> tuple[Any, Any, datetime]:
        if not isinstance(connection_id, str) or not connection_id:
            raise InvalidInput("connection id must be a non-empty string")
        at = now_utc() if now is None else to_utc(now, "now")
        with self._db.session() as s:
            rows = s.execute("scoped_summary", {"owner": self.owner, "id": connection_id})
            if not rows:
                return None, None, at
            row = rows[0]
            dirty = [row["connector_instance_id"]] if row["dirty"] else []
            fresh = self._recompute(s, dirty).get(row["connector_instance_id"])
        decoder = PageDecoder(self._db.loads)
        return evidence_from_row(row, decoder, fresh), deep_from_row(row, decoder), at

    def get_connection_summary(
        self,
        connection_id: str,
        now: datetime | str | None = None,
        *,
        live_run_ids: frozenset[str] | None = None,
    ) -> ConnectionSummary | None:
        """One connection's summary (by id, or by a connector id with exactly one connection)."""
        evidence, _, at = self._scoped(connection_id, now)
        if evidence is None:
            return None
        return synthesize(evidence, at, Runtime(live_run_ids=live_run_ids))

    def connection_diagnostics(
        self,
        connection_id: str,
        now: datetime | str | None = None,
        *,
        live_run_ids: frozenset[str] | None = None,
    ) -> ConnectionDiagnostics:
        evidence, deep, at = self._scoped(connection_id, now)
        if evidence is None:
            raise ConnectionNotFound(f"no connection {connection_id!r} for owner {self.owner!r}")
        return diagnose(evidence, deep, at, Runtime(live_run_ids=live_run_ids))

    # -- maintenance (R7) ---------------------------------------------------------------
    def reconcile(self, limit: int | None = None) -> int:
        """Persist recomputations of dirty rows, oldest first; returns how many."""
        return maintenance.reconcile(self._db, limit).reconciled

    def reconcile_report(self, limit: int | None = None) -> maintenance.ReconcileResult:
        return maintenance.reconcile(self._db, limit)

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Recompute every evidence row in one transaction; returns how many."""
        return maintenance.rebuild(self._db, progress)

    def verify(self) -> list[dict[str, Any]]:
        """Clean evidence rows that differ from a recomputation (empty when right)."""
        return maintenance.verify(self._db)

    def dirty_backlog(self) -> dict[str, Any]:
        return maintenance.backlog(self._db)


def connect(
    target: Any = None, *, owner: str = "owner_local", memo_rows: int = DEFAULT_MEMO_ROWS
) -> Store:
    """A store over a DSN (`postgresql://…`, `sqlite:///path`, `sqlite:///:memory:`),
    a psycopg connection or pool, or a `sqlite3.Connection`.

    `memo_rows` bounds how many page rows' prepared evidence is kept between reads
    (0 keeps none; see `PreparedMemo`)."""
    db = _database(DEFAULT_DSN if target is None else target)
    try:
        return Store(db, owner, memo_rows=memo_rows)
    except InvalidInput:
        db.close()
        raise


def _database(target: Any) -> Database:
    if isinstance(target, sqlite3.Connection):
        return SQLiteDatabase(target)
    if isinstance(target, str):
        if target.startswith("sqlite://"):
            path = target.removeprefix("sqlite://")
            path = path[1:] if path.startswith("/") else path
            return SQLiteDatabase(path or ":memory:")
        if target.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            dsn = target.replace("postgresql+psycopg://", "postgresql://", 1)
            return PostgresDatabase(dsn, dsn=dsn)
        if "=" in target and "://" not in target:  # libpq keyword form: "host=… dbname=…"
            return PostgresDatabase(target, dsn=target)
        raise InvalidInput("unsupported database URL: use postgresql://… or sqlite:///path")
    module = type(target).__module__
    if module.startswith(("psycopg", "psycopg_pool")):
        return PostgresDatabase(target)
    raise InvalidInput(f"cannot connect to a {type(target).__name__}")
