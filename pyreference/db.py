"""Database access: the one place in Python that knows Postgres from SQLite.

Every statement the store sends goes through `Session.execute`, which adapts
parameters to the dialect, counts the statement for `statement_counter()`,
and turns driver errors into pyreference's typed errors.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import sqlite3
import threading
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager, nullcontext, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import orjson

from . import sqlfiles
from .conninfo import describe_dsn, describe_params, failure_reason, parse_dsn
from .cursors import derive_key
from .driver_errors import PREPARE_ENV, callers_transaction_aborted, postgres_error, sqlite_error
from .errors import (
    DatabaseError,
    DatabaseUnavailable,
    EventLoopMismatch,
    InvalidInput,
    PyreferenceError,
    SchemaNotReady,
)
from .seconds import seconds
from .timeutil import iso


@dataclass(frozen=True)
class Json:
    """A JSON document parameter (jsonb on Postgres, canonical text on SQLite)."""

    value: Any


@dataclass(frozen=True)
class Ids:
    """A list-of-ids parameter (an array on Postgres, JSON text on SQLite)."""

    values: Sequence[Any]


def canonical_json(value: Any) -> str:
    # Sorted keys so that the same document is the same text (SQLite compares text).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Every digit as 0, so that 19 digits in a row (maybe an integer past 64 bits, which orjson
# reads as a float) are found with one `find`: ten times cheaper than a regular expression.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19
# json.loads recurses per nesting level, so a document nested some 990 deep exceeds
# Python's recursion limit (how deep exactly depends on the caller's stack), where orjson
# reads 1,024 levels. Fewer brackets than this, and no document is nested that deep.
_FEW_BRACKETS = 500


def _loads_text(text: str) -> Any:
    """``json.loads(text)``, parsed by orjson where orjson can: about three times faster,
    and a cold page parses a few hundred documents.

    orjson reads an integer past 64 bits as a float, so a text with 19 digits in a row
    goes to ``json.loads``; so does a text of 500 brackets or more (either parser has its
    own nesting limit), whatever orjson refuses that ``json.loads`` accepts beyond strict
    JSON (``NaN``, lone surrogates), and every malformed text. The result
    (or the error) is always exactly what ``json.loads`` gives
    (``tests/unit/test_json_text.py``).
    """
    data = text.encode("utf-8", "surrogatepass")  # lone surrogates: orjson refuses them
    if (
        # (Most documents are too short to hold that many brackets: counting them costs
        # each of those as much as parsing it.)
        (len(data) < _FEW_BRACKETS or data.count(b"[") + data.count(b"{") < _FEW_BRACKETS)
        and data.translate(_DIGITS_AS_ZERO).find(_LONG_DIGITS) < 0
    ):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


@dataclass(eq=False)
class StatementCounter:
    """Statements sent through the store while active (transaction control excluded).

    Counters compare by identity: two counters holding the same numbers are still two.
    """

    statements: int = 0
    writes: int = 0
    names: list[str] = field(default_factory=list)

    def add(self, name: str, write: bool) -> None:
        self.statements += 1
        self.writes += int(write)
        self.names.append(name)


_TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)
OWNER_SETTING = "pyref.owner"
# Every Postgres transaction and read of the store first drops from its search_path a
# schema named like the current or session user that another role owns, even for a
# superuser (the "$user" hijack: a role with CREATE on the database plants
# `pyref_reconcile_v3` or a view `connector_instances` there, and the owner's reconcile
# or read runs it), and puts pg_temp last (a temp table never shadows a pyreference
# table). Transaction-local; every name and operator here is pg_catalog's, so this
# statement itself resolves nothing hostile.
SAFE_SEARCH_PATH = (
    "pg_catalog.set_config('search_path', pg_catalog.concat_ws(', ',"
    " (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(s.name), ', ' ORDER BY s.ord)"
    " FROM pg_catalog.unnest(pg_catalog.current_schemas(false)) WITH ORDINALITY AS s(name, ord)"
    " JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) s.name"
    " WHERE (n.nspname OPERATOR(pg_catalog.<>) CURRENT_USER"
    " AND n.nspname OPERATOR(pg_catalog.<>) SESSION_USER)"
    " OR n.nspowner OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r"
    " WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)), 'pg_temp'), true)"
)
SAFE_SEARCH_PATH_STATEMENT = f"SELECT {SAFE_SEARCH_PATH}"
# Inside a caller's open transaction the store's transaction-local settings (the safe
# search_path, `pyref.owner`) would outlive its savepoint and stay in force for the
# caller's own statements until it commits: the caller's values are read first (in the
# same statement as the safe path, for a write; the OFFSET 0 subquery is evaluated before
# the set_config beside it) and put back before the savepoint is released. A savepoint
# rolled back (the store's work failed) undoes the settings by itself.
SAVE_CALLER_SETTINGS = (
    "SELECT pg_catalog.current_setting('search_path') AS search_path,"
    f" pg_catalog.current_setting('{OWNER_SETTING}', true) AS owner"
)
SAVE_CALLER_SETTINGS_THEN_SAFE = (
    f"SELECT saved.search_path, saved.owner, {SAFE_SEARCH_PATH}"
    f" FROM ({SAVE_CALLER_SETTINGS} OFFSET 0) AS saved"
)
RESTORE_CALLER_SEARCH_PATH = "SELECT pg_catalog.set_config('search_path', %s, true)"
RESTORE_CALLER_SETTINGS = (
    "SELECT pg_catalog.set_config('search_path', %s, true),"
    f" pg_catalog.set_config('{OWNER_SETTING}', %s, true)"
)
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "COPY", "MERGE")
_WRITE_FUNCTIONS = re.compile(r"pyref_(reconcile|rebuild|refresh)\w*\(")


def is_write(sql: str) -> bool:
    head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return head in _WRITE_VERBS or bool(_WRITE_FUNCTIONS.search(sql))


Rows = tuple[tuple[str, ...], list[tuple[Any, ...]]]

# SQLSTATEs of a read a hot standby cancelled (recovery conflict, deadlock).
_CANCELLED_BY_RECOVERY = ("40001", "40P01")


def unreadable_data(exc: BaseException) -> bool:
    """True when a statement failed on the data it read: a data exception (SQLSTATE class
    22), an error raised while computing (P0001), SQLite's malformed JSON. False for what
    is not the data's fault: a privilege, a missing object, a timeout, a lost connection."""
    for error in (exc, exc.__cause__):
        if isinstance(error, PyreferenceError):
            continue  # the driver's error is its cause
        state = getattr(error, "sqlstate", None)
        if state:
            return state.startswith("22") or state == "P0001"
        if isinstance(error, sqlite3.Error):
            return "malformed JSON" in str(error)
    return False


def cancelled_by_recovery(exc: BaseException) -> bool:
    """True when a standby cancelled the read (a recovery conflict): retry it elsewhere."""
    return getattr(exc.__cause__, "sqlstate", None) in _CANCELLED_BY_RECOVERY


class Session:
    """One connection, optionally inside a transaction.

    `reconnect`, when given, checks out a fresh connection that answers. The pooled
    connection itself is not checked when handed out (a round trip every read would pay):
    a read (never a write) whose connection turns out to have been closed by the server
    is retried once on a fresh one, and before the session's first write its connection
    is checked (`Database.answers`) and, if dead, replaced, so a write is only ever sent
    on a connection that answered.
    `owner_setting` (Postgres reads): SQL naming the store's owner, sent in the same
    transaction as every statement of the session (see `Database.session`).
    """

    def __init__(
        self,
        db: Database,
        raw: Any,
        *,
        reconnect: Callable[[], Any] | None = None,
        owner_setting: str | None = None,
    ) -> None:
        self._db = db
        self._raw = raw
        self._reconnect = reconnect
        self._owner_setting = owner_setting
        self._unchecked = reconnect is not None

    def execute(self, name: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a named query (or literal SQL for tests/bench) and return its rows as dicts."""
        columns, rows = self.rows(name, params)
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def rows(self, name: str, params: Mapping[str, Any] | None = None) -> Rows:
        """Like `execute`, as column names and value tuples (hashable: the page memo's keys)."""
        sql, adapted = self._db.prepare(name, params)
        with self._db.translate_errors():
            if self._unchecked and is_write(sql):
                self._unchecked = False
                if not self._db.answers(self._raw):
                    assert self._reconnect is not None
                    self._raw, self._reconnect = self._reconnect(), None
            try:
                return self._send(name, sql, adapted)
            except Exception as exc:
                if not self._retryable(sql, exc):
                    raise
                # The statement never ran (its connection was gone): sent once more,
                # counted once.
                assert self._reconnect is not None
                self._raw = self._reconnect()
                self._reconnect = None
                return self._send(name, sql, adapted)

    def _send(self, name: str, sql: str, adapted: Mapping[str, Any]) -> Rows:
        if self._owner_setting is None:
            return self._db._run(self._raw, sql, adapted)
        return self._db._run_as_owner(self._raw, self._owner_setting, name, sql, adapted)

    def _retryable(self, sql: str, exc: Exception) -> bool:
        return (
            self._reconnect is not None
            and not is_write(sql)
            and self._db.connection_lost(self._raw, exc)
        )

    @property
    def raw(self) -> Any:
        return self._raw


class Database:
    """The dialect-neutral half of a database: named queries, counting, sessions."""

    dialect: str = ""

    def __init__(self) -> None:
        self.queries = sqlfiles.queries(self.dialect)
        # The counters of the current context (a thread, or an asyncio task and the
        # worker threads it hands work to), plus counters that watch every thread.
        self._mine: ContextVar[tuple[StatementCounter, ...]] = ContextVar(
            f"pyreference_counters_{id(self)}", default=()
        )
        self._everywhere: list[StatementCounter] = []
        self._counter_lock = threading.Lock()

    # -- counting -------------------------------------------------------
    @contextmanager
    def statement_counter(
        self, counter: StatementCounter | None = None, *, all_threads: bool = False
    ) -> Iterator[StatementCounter]:
        """Count the statements the store sends while the block runs (R10).

        Args:
            counter: count into this counter (one shared by several databases, as a
                store with replicas does); a new one by default.
            all_threads: count statements sent by every thread (default: only those of
                the thread or asyncio task that opened the counter, so concurrent
                counters never mix).

        Counters nest: an inner block's statements count in every enclosing counter.
        """
        counter = counter or StatementCounter()
        if all_threads:
            with self._counter_lock:
                self._everywhere.append(counter)
        else:
            self._mine.set((*self._mine.get(), counter))
        try:
            yield counter
        finally:
            if all_threads:
                with self._counter_lock:
                    self._everywhere[:] = [c for c in self._everywhere if c is not counter]
            else:
                self._mine.set(tuple(c for c in self._mine.get() if c is not counter))

    def _count(self, name: str, sql: str) -> None:
        mine = self._mine.get()
        if not mine and not self._everywhere:
            return
        if _TRANSACTION_CONTROL.match(sql):
            return
        write = is_write(sql)
        for counter in mine:
            counter.add(name, write)
        if self._everywhere:
            with self._counter_lock:
                for counter in self._everywhere:
                    counter.add(name, write)

    def prepare(self, name: str, params: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
        """The SQL of a named query (or literal SQL) and its adapted parameters; counts it."""
        sql = self.queries.get(name, name)
        self._count(name, sql)
        return sql, {k: self.adapt(v) for k, v in (params or {}).items()}

    # -- dialect hooks ----------------------------------------------------
    def adapt(self, value: Any) -> Any:
        raise NotImplementedError

    def _run(self, raw: Any, sql: str, params: Mapping[str, Any]) -> Rows:
        raise NotImplementedError

    def connection_lost(self, raw: Any, exc: Exception) -> bool:
        """True when `exc` came from `raw` having been closed (by the server or network)."""
        return False

    def answers(self, raw: Any) -> bool:
        """True when connection `raw` answers a round trip (checked before a write)."""
        return True

    @contextmanager
    def session(self, transaction: bool = False, owner: str | None = None) -> Iterator[Session]:
        """A connection for one plan. `transaction`: one read-write transaction. `owner`
        (reads): on Postgres every statement runs in a transaction of its own opened with
        a `SET LOCAL pyref.owner` naming that owner (`owner_setting`; transaction-local,
        so safe behind a transaction pooler); the reader functions and row-level security
        key on it. SQLite has no roles and ignores it."""
        raise NotImplementedError
        yield  # pragma: no cover

    def _run_as_owner(
        self, raw: Any, setting: str, name: str, sql: str, params: Mapping[str, Any]
    ) -> Rows:
        raise NotImplementedError

    def cursor_key(self, value: Any, owner: str) -> str:
        """The key signing `owner`'s cursors, from what the page statement returned."""
        raise NotImplementedError

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        raise NotImplementedError
        yield  # pragma: no cover

    def loads(self, value: Any) -> Any:
        """A JSON column's value as Python data (SQLite returns text)."""
        if isinstance(value, str):
            return _loads_text(value)
        return json.loads(value) if isinstance(value, bytes) else value

    def close(self) -> None:
        pass

    @property
    def description(self) -> str:
        raise NotImplementedError


# -- Postgres ------------------------------------------------------------------

POOL_MAX_SIZE = 8
POOL_TIMEOUT = 30.0  # seconds a call waits for a pooled connection
POOL_MAX_LIFETIME = 30 * 60.0  # seconds before a pooled connection is replaced
POOL_MAX_IDLE = 5 * 60.0  # seconds an idle connection above min_size is kept
CONNECT_TIMEOUT = 10  # seconds, for the probe and every new pooled connection


def wait_seconds(timeout: Any) -> float | None:
    """`timeout=` of `connect()`/`connect_async()` checked: None (the defaults) or seconds.

    Raises:
        InvalidInput: not a finite number of seconds in (0, `seconds.MAX_SECONDS`].
    """
    return None if timeout is None else seconds(timeout, "timeout", exclusive=True)


def connect_seconds(timeout: float | None) -> int:
    """libpq's `connect_timeout` for `timeout=`: whole seconds, at least 2 (libpq's floor)."""
    return CONNECT_TIMEOUT if timeout is None else max(2, math.ceil(timeout))


def prepare_default(prepare: bool | None) -> bool:
    """`prepare` as given, else from PYREFERENCE_PREPARE (`0`/`off`/`false`/`no` → False)."""
    if prepare is not None:
        return bool(prepare)
    return os.environ.get(PREPARE_ENV, "").strip().lower() not in ("0", "off", "false", "no")


class PostgresDatabase(Database):
    """Postgres through psycopg 3: the store's own pool (from a DSN), or the caller's
    connection or pool, used as given.

    A caller's connection keeps its autocommit, isolation and transaction state: the
    store's work runs in `conn.transaction()`, which begins and commits only its own
    transaction when the connection is idle and nests as a savepoint inside a caller's
    transaction (so the caller commits or rolls back everything, store work included);
    there the caller's `search_path` and `pyref.owner` are put back before the savepoint
    is released (`SAVE_CALLER_SETTINGS`).

    `prepare=False` sends every statement unprepared: required behind PgBouncer in
    transaction (or statement) pooling mode, where server-side prepared statements
    land on another client's backend.
    """

    dialect = "postgres"

    def __init__(
        self,
        target: Any,
        *,
        dsn: str | None = None,
        prepare: bool = True,
        timeout: float | None = None,
    ) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        super().__init__()
        self._psycopg = psycopg
        self._lock = threading.RLock()
        self._pool: Any = None
        self._conn: Any = None
        self._owns_pool = False
        self.dsn = dsn
        self.prepared_statements = prepare
        # `connect(timeout=)`: a new connection's connect timeout and the wait for a
        # pooled one (None: CONNECT_TIMEOUT and POOL_TIMEOUT).
        self.timeout = timeout
        # psycopg's own per-execute switch: None = its default (prepare after 5 runs).
        self._prepare_arg: bool | None = None if prepare else False
        self._one_trip = OneTripReads(psycopg)
        if isinstance(target, ConnectionPool):
            self._pool = target
        elif isinstance(target, psycopg.Connection):
            self._conn = target
        else:
            self._pool = _open_pool(str(target), prepare=prepare, timeout=timeout)
            self._owns_pool = True

    @property
    def description(self) -> str:
        if self.dsn:
            return describe_dsn(self.dsn)
        if self._conn is not None:
            try:
                return describe_params(self._conn.info.get_parameters())
            except self._psycopg.Error:  # a closed connection has no parameters left
                return "postgresql (a closed connection)"
        return describe_dsn(self._pool.conninfo) if self._pool.conninfo else "postgresql (pool)"

    def direct_conninfo(self) -> tuple[str, dict[str, Any]]:
        """How to open a new connection to the same database (conninfo and keyword args)."""
        if self.dsn:
            return self.dsn, {}
        if self._conn is not None:
            info = self._conn.info
            return info.dsn, ({"password": info.password} if info.password else {})
        kwargs = {
            k: v
            for k, v in (self._pool.kwargs or {}).items()
            if k not in ("autocommit", "prepare_threshold", "row_factory", "cursor_factory")
        }
        return self._pool.conninfo, kwargs

    def adapt(self, value: Any) -> Any:
        if isinstance(value, Json):
            from psycopg.types.json import Jsonb

            return Jsonb(value.value)
        if isinstance(value, Ids):
            return list(value.values)
        return value

    @contextmanager
    def session(self, transaction: bool = False, owner: str | None = None) -> Iterator[Session]:
        setting = None if transaction or owner is None else owner_setting(owner)
        if self._conn is not None:
            # The caller's connection, one user at a time; left as it was found.
            with self._lock:
                conn = self._conn
                self._refuse_aborted(conn)
                if self._in_callers_transaction(conn):
                    # A savepoint of the caller's transaction, its settings put back.
                    with self.translate_errors(), conn.transaction():
                        saved = None
                        if transaction or setting is not None:
                            saved = self._save_settings(conn, safe=transaction)
                        yield Session(self, conn, owner_setting=setting)
                        if saved is not None:
                            self._restore_settings(conn, saved, owner=setting is not None)
                elif transaction or not conn.autocommit:
                    with self.translate_errors(), conn.transaction():
                        if transaction:
                            conn.execute(SAFE_SEARCH_PATH_STATEMENT, prepare=False)
                        yield Session(self, conn, owner_setting=setting)
                else:
                    yield Session(self, conn, owner_setting=setting)
            return
        with _Lease(self) as lease:
            if transaction:  # a write: on a connection checked to answer
                conn = lease.take(checked=True)
                with self.translate_errors(), conn.transaction():
                    conn.execute(SAFE_SEARCH_PATH_STATEMENT, prepare=False)
                    yield Session(self, conn)
                return
            conn = lease.take(checked=False)
            yield Session(self, conn, reconnect=lease.replace, owner_setting=setting)

    def _refuse_aborted(self, conn: Any) -> None:
        """Raise `callers_transaction_aborted` when the caller's own transaction on `conn`
        has already failed: every statement would fail, and the savepoint psycopg opens
        for the store's work could not even be rolled back (it logged 'error ignored in
        rollback'). Nothing is sent; the caller's transaction is left for the caller."""
        status = self._psycopg.pq.TransactionStatus
        if conn.info.transaction_status == status.INERROR:
            raise callers_transaction_aborted(self.description)

    def _in_callers_transaction(self, conn: Any) -> bool:
        """True when the caller's connection is inside a transaction of the caller's."""
        return bool(conn.info.transaction_status == self._psycopg.pq.TransactionStatus.INTRANS)

    @staticmethod
    def _save_settings(conn: Any, *, safe: bool) -> tuple[str, str | None]:
        """The caller's search_path and owner setting (then, with `safe`, the safe path)."""
        statement = SAVE_CALLER_SETTINGS_THEN_SAFE if safe else SAVE_CALLER_SETTINGS
        row = _tuple_cursor(conn).execute(statement, prepare=False).fetchone()
        return str(row[0]), row[1]

    @staticmethod
    def _restore_settings(conn: Any, saved: tuple[str, str | None], *, owner: bool) -> None:
        """Put back what `_save_settings` read (the owner only when the session set it)."""
        if owner:
            conn.execute(RESTORE_CALLER_SETTINGS, saved, prepare=False)
        else:
            conn.execute(RESTORE_CALLER_SEARCH_PATH, saved[:1], prepare=False)

    def _run_as_owner(
        self, raw: Any, setting: str, name: str, sql: str, params: Mapping[str, Any]
    ) -> Rows:
        """`sql` in a transaction that names the owner first, so the owner never outlives
        the read (`OwnerRead` says how, and why it is never pipelined); a list page on a
        connection of its own, in one round trip through 0025's function when it can."""
        step = OwnerRead.step(raw, self._psycopg)
        if step != OwnerRead.OWN_TRANSACTION:  # the caller's transaction or pipeline
            try:
                with raw.transaction() if step == OwnerRead.CALLERS_PIPELINE else nullcontext():
                    raw.execute(_owner_text(raw, setting), prepare=False)
                    return self._run(raw, self._one_trip.statement(name, sql, self.queries), params)
            except BaseException as exc:
                self._one_trip.recompute_gone(name, exc)  # (its next read calls v1)
                raise
        call = self._one_trip.call(name, params)
        if call is not None:
            try:
                return self._run(raw, *call)
            except self._one_trip.GONE:
                self._one_trip.stop()  # rolled back or revoked: framed from now on
        raw.execute(_owner_text(raw, OwnerRead.begin(setting)), prepare=False)
        try:
            if self._one_trip.unknown(name):
                found = _tuple_cursor(raw).execute(OneTripReads.FIND, prepare=False)
                self._one_trip.found(found.fetchall())
            rows = self._run(raw, self._one_trip.statement(name, sql, self.queries), params)
        except BaseException as exc:
            if OwnerRead.needs_rollback(raw, self._psycopg):
                # A failure here means the connection is going: the retry or pool replaces it.
                with suppress(self._psycopg.Error):
                    raw.execute("ROLLBACK", prepare=False)
            if self._one_trip.recompute_gone(name, exc):  # 0034 rolled back: v1 from now on
                return self._run_as_owner(raw, setting, name, sql, params)
            raise
        raw.execute("COMMIT", prepare=False)
        return rows

    def cursor_key(self, value: Any, owner: str) -> str:
        # pyref_cursor_key_v1() derived it in the database: readers never see the secret.
        if value is None:
            raise InvalidInput("this database has no cursor key: run `pyreference migrate`")
        return str(value)

    def _run(self, raw: Any, sql: str, params: Mapping[str, Any]) -> Rows:
        with _tuple_cursor(raw, json_as_text=True) as cur:
            cur.execute(sql, params or None, prepare=self._prepare_arg)
            if raw.info.pipeline_status:  # a caller's pipeline delivers results at a sync
                with raw.pipeline() as pipeline:
                    pipeline.sync()
            names = _column_names(cur)
            return (names, cur.fetchall()) if names is not None else ((), [])

    def answers(self, raw: Any) -> bool:
        from psycopg_pool import ConnectionPool

        try:
            ConnectionPool.check_connection(raw)
        except self._psycopg.Error:
            return False
        return True

    def connection_lost(self, raw: Any, exc: Exception) -> bool:
        # An OperationalError with no SQLSTATE is the client's own ("connection socket
        # closed"): psycopg may raise it for a backend just terminated before libpq has
        # marked the connection BAD, so `broken` alone missed it now and then.
        return isinstance(exc, self._psycopg.OperationalError) and bool(
            raw.closed or raw.broken or exc.sqlstate is None
        )

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        """Every driver error of the block raised as a typed `PyreferenceError`
        (`postgres_error`): none escapes raw, none carries SQL text."""
        try:
            yield
        except self._psycopg.Error as exc:
            if type(exc).__name__ == "PoolTimeout":
                raise DatabaseUnavailable(self._pool_timeout_message()) from exc
            raise postgres_error(exc, where=self.description, dsn=self.dsn) from exc
        except UnicodeEncodeError as exc:  # a parameter psycopg cannot encode for the server
            shown = exc.object[exc.start : exc.end] if isinstance(exc.object, str) else "?"
            raise InvalidInput(
                f"text the database's encoding cannot represent ({shown!r})"
            ) from exc
        except UnicodeDecodeError as exc:  # stored bytes Python's codec refuses
            raise DatabaseError(
                f"stored text Python cannot decode from the database's encoding ({exc.reason})"
            ) from exc

    def _pool_timeout_message(self) -> str:
        """Why no pooled connection came: the server's answer to a fresh probe, or a full pool."""
        where = self.description
        conninfo, kwargs = self.direct_conninfo()
        try:
            timeout = min(3, connect_seconds(self.timeout))
            self._psycopg.connect(conninfo, **{"connect_timeout": timeout, **kwargs}).close()
        except self._psycopg.Error as exc:
            return f"cannot reach PostgreSQL at {where}: {failure_reason(str(exc), self.dsn)}"
        return (
            f"no pooled connection to PostgreSQL at {where} within {self._pool.timeout:g} s: "
            f"all {self._pool.max_size} are busy (the server answers)"
        )

    def close(self) -> None:
        if self._pool is not None and self._owns_pool:
            self._pool.close()


class _Lease:
    """One pooled connection held for a session, as `pool.connection()` holds it, that can
    be swapped for one that answers (`replace`: a read's retry). The dead one goes back
    to the pool first (which discards it and opens a replacement): sessions each holding
    a dead connection, as after a server restart, would otherwise fill the pool and wait
    on each other until the pool's timeout. Given back when its block ends, committed or
    rolled back as `pool.connection()` does."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self.conn: Any = None

    def __enter__(self) -> _Lease:
        return self

    def __exit__(self, _type: Any, exc: BaseException | None, _tb: Any) -> None:
        self.release(exc)

    def take(self, *, checked: bool) -> Any:
        """A connection from the pool; `checked`: one that answers a round trip (dead ones
        met go back until one answers)."""
        pool = self._db._pool
        for _ in range(pool.max_size + 1):
            with self._db.translate_errors():
                conn = pool.getconn()
            if not checked or self._db.answers(conn):
                self.conn = conn
                return conn
            pool.putconn(conn)
        raise DatabaseUnavailable(
            f"cannot reach PostgreSQL at {self._db.description}: no pooled connection answers"
        )

    def replace(self) -> Any:
        """The held connection (found dead) back to the pool, and one that answers."""
        dead, self.conn = self.conn, None
        if dead is not None:
            self._db._pool.putconn(dead)
        return self.take(checked=True)

    def release(self, exc: BaseException | None) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            conn.__exit__(type(exc) if exc is not None else None, exc, None)
        finally:
            self._db._pool.putconn(conn)


class _AsyncLease:
    """`_Lease` on an asyncio pool. A connection the pool does not grant within its timeout
    is explained by an async probe (the sync one would block the loop)."""

    def __init__(self, db: AsyncPostgresDatabase) -> None:
        self._db = db
        self.conn: Any = None

    async def __aenter__(self) -> _AsyncLease:
        return self

    async def __aexit__(self, _type: Any, exc: BaseException | None, _tb: Any) -> None:
        await self.release(exc)

    async def take(self, *, checked: bool) -> Any:
        from psycopg_pool import PoolTimeout

        pool = self._db._pool
        for _ in range(pool.max_size + 1):
            try:
                conn = await pool.getconn()
            except PoolTimeout as exc:
                raise DatabaseUnavailable(await self._db._why_no_connection()) from exc
            if not checked or await self._db.answers_async(conn):
                self.conn = conn
                return conn
            await pool.putconn(conn)
        raise DatabaseUnavailable(
            f"cannot reach PostgreSQL at {self._db.description}: no pooled connection answers"
        )

    async def replace(self) -> Any:
        dead, self.conn = self.conn, None
        if dead is not None:
            await self._db._pool.putconn(dead)
        return await self.take(checked=True)

    async def release(self, exc: BaseException | None) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            await conn.__aexit__(type(exc) if exc is not None else None, exc, None)
        finally:
            await self._db._pool.putconn(conn)


class OwnerRead:
    """How a Postgres read names its owner: `BEGIN` and `owner_setting` in one simple query
    (one round trip), the statement, then `COMMIT`.

    Never a psycopg pipeline: psycopg ends one with a Sync and a Flush sent after the
    reply that closed its transaction, and a transaction pooler (PgBouncer) hands the
    idle client a server connection for each. The Flush gets no ReadyForQuery, so that
    server stays with the idle client until its next statement; a few idle pooled
    connections hold every server, and the other clients wait until PgBouncer's
    `query_wait_timeout` closes them (seen as `DatabaseUnavailable: cannot exit pipeline
    mode while busy`). Here the last message of a read is the COMMIT that ends its
    transaction, and nothing follows it.

    Inside a transaction (a caller's, under the session's savepoint), or on a connection
    not in autocommit (psycopg begins the transaction, the connection's holder ends it),
    the setting and the statement simply run in it; a caller's connection in pipeline
    mode gets a nested `transaction()` of its own pipeline.
    """

    CALLERS_PIPELINE = "callers_pipeline"
    IN_TRANSACTION = "in_transaction"
    OWN_TRANSACTION = "own_transaction"

    @staticmethod
    def step(raw: Any, psycopg: Any) -> str:
        """Which of the three ways `raw` (sync or async connection) runs an owner read."""
        if raw.info.pipeline_status:
            return OwnerRead.CALLERS_PIPELINE
        if raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE or not raw.autocommit:
            return OwnerRead.IN_TRANSACTION
        return OwnerRead.OWN_TRANSACTION

    @staticmethod
    def begin(setting: str) -> str:
        """The read's first round trip: its transaction opened and its owner named."""
        return f"BEGIN; {setting}"

    @staticmethod
    def needs_rollback(raw: Any, psycopg: Any) -> bool:
        """True when a failed read left its own transaction open on a live connection (a
        connection the server closed has none left: the retry and the pool replace it)."""
        status = psycopg.pq.TransactionStatus
        return not (raw.closed or raw.broken) and raw.info.transaction_status in (
            status.INTRANS,
            status.INERROR,
        )


class OneTripReads:
    """What a Postgres database learned about 0025's list-page functions, and how a list
    page statement (`list_keys…`, `list_page…`) is sent as one call of them; and whether
    its reads may call 0034's recompute (`RECOMPUTES`).

    A read framed in its owner's transaction costs three round trips (`OwnerRead`); the
    function names the owner itself, with its search_path pinned, so a page on a connection
    of its own is one statement in autocommit. Nothing in the call resolves through the
    connection's search_path, where the safe path is not in force (a `"$user"` schema
    another role created, or a `pg_temp` type, could shadow a name): the functions are
    schema-qualified and the casts name `pg_catalog`'s types. The schema is found once per
    store, inside its first framed page read's transaction under the safe search_path: the
    schema of both functions when this role may execute them, else none (0025 not applied,
    `pyreference grants` not re-run, or readers confined to their owner), and pages are
    read framed as before. A call that meets the functions gone or revoked (`GONE`) is
    read framed, and so is every later page of the store.

    The readers' recompute statements call `pyref_recompute_evidence_v2` (0034: the
    documents it keeps come back as stored, not parsed and printed again) where the role
    may execute it, found by the same look-up (which a recompute statement makes too when
    it comes first), and its `…_v1` twin otherwise: before the look-up, on a database
    without 0034 or a role without the grant. A call that meets v2 gone or revoked (0034
    rolled back) is made again with v1, and so is every later recompute of the store.
    """

    # The page statement's name -> the function that runs it (all four keyset variants).
    FUNCTIONS: ClassVar[dict[str, str]] = {
        kind + variant: f"pyref_{kind}_v1"
        for kind in ("list_keys", "list_page")
        for variant in ("", "_after", "_connector", "_connector_after")
    }
    SIGNATURE = "(text, integer, text, text, timestamptz, text)"
    # A recompute statement (calling 0034's v2) -> its twin calling v1.
    RECOMPUTES: ClassVar[dict[str, str]] = {
        "recompute_evidence": "recompute_evidence_v1",
        "recompute_evidence_deep": "recompute_evidence_deep_v1",
    }
    # Run after `OwnerRead.begin`, so its names resolve under the safe search_path: the
    # page functions' schema (NULL: none), whether the role may call 0034's recompute.
    FIND = (
        "SELECT (SELECT n.nspname"
        " FROM pg_catalog.pg_proc k, pg_catalog.pg_proc w, pg_catalog.pg_namespace n"
        f" WHERE k.oid = pg_catalog.to_regprocedure('pyref_list_keys_v1{SIGNATURE}')"
        f" AND w.oid = pg_catalog.to_regprocedure('pyref_list_page_v1{SIGNATURE}')"
        " AND w.pronamespace = k.pronamespace AND n.oid = k.pronamespace"
        " AND pg_catalog.has_function_privilege(k.oid, 'EXECUTE')"
        " AND pg_catalog.has_function_privilege(w.oid, 'EXECUTE')),"
        " coalesce(pg_catalog.has_function_privilege(pg_catalog.to_regprocedure("
        "'pyref_recompute_evidence_v2(text[])'), 'EXECUTE'), false)"
    )
    # The call's arguments after the function's name: psycopg placeholders, pg_catalog types.
    ARGUMENTS = (
        "(%(owner)s, %(fetch)s::pg_catalog.int4, %(connector_id)s::pg_catalog.text,"
        " %(after_connector)s::pg_catalog.text, %(after_created)s::pg_catalog.timestamptz,"
        " %(after_id)s::pg_catalog.text)"
    )
    # The optional arguments, in order after the owner and the row count (NULL: absent).
    ARGS = ("connector_id", "after_connector", "after_created", "after_id")

    def __init__(self, psycopg: Any) -> None:
        self.GONE = (psycopg.errors.UndefinedFunction, psycopg.errors.InsufficientPrivilege)
        self._calls: dict[str, str] | None = None  # None: not looked for yet
        self._recompute_v2 = False  # until FIND says the role may call it

    def unknown(self, name: str) -> bool:
        """True when `name` is a page or recompute statement and the functions were not
        looked for."""
        return self._calls is None and (name in self.FUNCTIONS or name in self.RECOMPUTES)

    def found(self, rows: list[Any]) -> None:
        """Keep what `FIND` returned: the calls of a schema, or none; whether the role may
        call 0034's recompute."""
        from psycopg import sql

        calls: dict[str, str] = {}
        self._recompute_v2 = bool(rows and rows[0][1])
        if rows and rows[0][0] is not None:
            schema = sql.Identifier(str(rows[0][0]))
            for name, function in self.FUNCTIONS.items():
                named = sql.SQL("SELECT * FROM {}.{}").format(schema, sql.Identifier(function))
                # A % in a quoted name is no placeholder.
                calls[name] = named.as_string().replace("%", "%%") + self.ARGUMENTS
        self._calls = calls

    def stop(self) -> None:
        """Read every later page framed (the functions were gone or revoked)."""
        self._calls = {}

    def statement(self, name: str, sql: str, queries: Mapping[str, str]) -> str:
        """The SQL to send for statement `name` (`sql`): a recompute's v1 twin unless the
        role may call 0034's recompute."""
        twin = self.RECOMPUTES.get(name)
        return sql if twin is None or self._recompute_v2 else queries[twin]

    def recompute_gone(self, name: str, exc: BaseException) -> bool:
        """True (and every later recompute calls v1) when `exc` says the v2 recompute
        statement `name` met the function gone or revoked: the statement is to be made
        again (in a transaction of its own; a caller's fails, and its next read calls v1)."""
        if name in self.RECOMPUTES and self._recompute_v2 and isinstance(exc, self.GONE):
            self._recompute_v2 = False
            return True
        return False

    def call(self, name: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """Statement `name` as one function call and its parameters, or None to frame it."""
        calls = self._calls  # once: another thread may stop() meanwhile
        sql = calls.get(name) if calls else None
        if sql is None:
            return None
        return sql, {"owner": params["owner"], "fetch": params["fetch"]} | {
            k: params.get(k) for k in self.ARGS
        }


def owner_setting(owner: str) -> str:
    """SQL setting `pyref.owner` to `owner` (a literal: no connection needed, so a dead one
    fails at its first statement, with the usual typed error) and the safe search_path
    (`SAFE_SEARCH_PATH`), both for the read's transaction only."""
    from psycopg import sql

    setting = sql.SQL("SELECT pg_catalog.set_config({}, {}, true), {}").format(
        sql.Literal(OWNER_SETTING), sql.Literal(owner), sql.SQL(SAFE_SEARCH_PATH)
    )
    return setting.as_string()


def _tuple_cursor(conn: Any, json_as_text: bool = False) -> Any:
    """A cursor of a psycopg connection (sync or async) that returns tuples, whatever row
    factory the caller gave the connection: the read path takes rows as tuples. With
    `json_as_text`, JSON comes as text, as SQLite returns it: the reader decodes each
    distinct document once (runs and manifests repeat across rows and reads). On a
    caller's connection whose `client_encoding` is SQL_ASCII the server converts nothing,
    and psycopg returns text undecoded (bytes) and sends text as UTF-8: the cursor reads
    (JSON too, as text) and writes text in the server's own encoding instead
    (`_server_text`)."""
    from psycopg.rows import tuple_row

    cursor = conn.cursor(row_factory=tuple_row)
    if conn.info.encoding == "ascii":  # psycopg's name for SQL_ASCII
        loader, dumper = _server_text()
        for name in _TEXT_TYPES:
            cursor.adapters.register_loader(name, loader)
        cursor.adapters.register_dumper(str, dumper)
    elif json_as_text:
        from psycopg.types.string import TextLoader

        cursor.adapters.register_loader("jsonb", TextLoader)
        cursor.adapters.register_loader("json", TextLoader)
    return cursor


# What the read path reads as text on a SQL_ASCII connection: text columns, names, and
# JSON (the read path always takes JSON as text).
_TEXT_TYPES = ("text", "varchar", "bpchar", "name", '"char"', "json", "jsonb")


def server_codec(conn: Any) -> tuple[str, str]:
    """The Python codec of the server's encoding (`server_encoding`) and its error handling:
    a server that is itself SQL_ASCII holds what writers sent, read and written as UTF-8
    (what pyreference writes), an undecodable byte read as U+FFFD rather than failing the
    read; every other server, strictly."""
    from psycopg._encodings import pg2pyenc  # psycopg's own map of server encoding names

    server = (conn and conn.info.parameter_status("server_encoding")) or "UTF8"
    if isinstance(server, bytes):  # (psycopg before 3.2 returned bytes)
        server = server.decode("ascii", "replace")
    if server == "SQL_ASCII":
        return "utf-8", "replace"
    try:
        return pg2pyenc(server.encode("ascii")), "strict"
    except Exception:  # an encoding Python has no codec for (EUC_TW, MULE_INTERNAL):
        return "utf-8", "replace"  # as psycopg itself treats SQL_ASCII


def _owner_text(raw: Any, text: str) -> str | bytes:
    """A statement that names the owner in its text (`owner_setting`), as the connection
    sends it: on a SQL_ASCII connection psycopg would encode the text as ASCII, so a
    non-ASCII owner goes as the server's own bytes instead."""
    if raw.info.encoding != "ascii" or text.isascii():
        return text
    return text.encode(*server_codec(raw))


@functools.cache
def _server_text() -> tuple[type, type]:
    """The loader and dumper classes `_tuple_cursor` registers on a SQL_ASCII connection
    (built once: psycopg is imported only when used)."""
    from psycopg.adapt import Loader
    from psycopg.types.string import StrDumperUnknown

    class ServerText(Loader):
        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._encoding, self._errors = server_codec(self.connection)

        def load(self, data: Any) -> str:
            return bytes(data).decode(self._encoding, self._errors)

    class ServerStr(StrDumperUnknown):
        def __init__(self, cls: type, context: Any = None) -> None:
            super().__init__(cls, context)
            self._encoding = server_codec(self.connection)[0]

    return ServerText, ServerStr


def _column_names(cursor: Any) -> tuple[str, ...] | None:
    """The names of the columns of a psycopg cursor's result (sync or async), or None when
    its statement returns no rows (psycopg's ``description`` is None). Read from the
    result itself, decoded as ``description`` decodes them (the connection's encoding),
    which builds a ``Column`` object per column: ~50 us for a page statement's 19
    columns against ~5 us."""
    from psycopg.pq import ExecStatus

    result = cursor.pgresult
    if result is None or result.status not in (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE):
        return None
    encoding = cursor.connection.info.encoding
    return tuple(result.fname(i).decode(encoding) for i in range(result.nfields))


class AsyncSession:
    """One async Postgres connection, optionally inside a transaction (see `Session`:
    the same one retry of a read whose connection the server closed, never of a write,
    and the same check before the first write)."""

    def __init__(
        self,
        db: AsyncPostgresDatabase,
        raw: Any,
        *,
        reconnect: Callable[[], Awaitable[Any]] | None = None,
        owner_setting: str | None = None,
    ) -> None:
        self._db = db
        self._raw = raw
        self._reconnect = reconnect
        self._owner_setting = owner_setting
        self._unchecked = reconnect is not None

    @property
    def raw(self) -> Any:
        return self._raw

    async def rows(self, name: str, params: Mapping[str, Any] | None = None) -> Rows:
        sql, adapted = self._db.prepare(name, params)
        with self._db.translate_errors():
            if self._unchecked and is_write(sql):
                self._unchecked = False
                if not await self._db.answers_async(self._raw):
                    assert self._reconnect is not None
                    self._raw, self._reconnect = await self._reconnect(), None
            try:
                return await self._send(name, sql, adapted)
            except Exception as exc:
                if not (
                    self._reconnect is not None
                    and not is_write(sql)
                    and self._db.connection_lost(self._raw, exc)
                ):
                    raise
                self._raw, self._reconnect = await self._reconnect(), None
                return await self._send(name, sql, adapted)

    async def _send(self, name: str, sql: str, adapted: dict[str, Any]) -> Rows:
        """As `Session._send`, with `PostgresDatabase._run_as_owner`'s transaction."""
        setting = self._owner_setting
        if setting is None:
            return await self._run(sql, adapted)
        raw, psycopg = self._raw, self._db._psycopg
        step = OwnerRead.step(raw, psycopg)
        one_trip = self._db._one_trip
        if step != OwnerRead.OWN_TRANSACTION:  # the caller's transaction or pipeline
            statement = one_trip.statement(name, sql, self._db.queries)
            try:
                async with (
                    raw.transaction() if step == OwnerRead.CALLERS_PIPELINE else nullcontext()
                ):
                    await raw.execute(_owner_text(raw, setting), prepare=False)
                    return await self._run(statement, adapted)
            except BaseException as exc:
                one_trip.recompute_gone(name, exc)  # (its next read calls v1)
                raise
        call = one_trip.call(name, adapted)
        if call is not None:
            try:
                return await self._run(*call)
            except one_trip.GONE:
                one_trip.stop()  # rolled back or revoked: framed from now on
        await raw.execute(_owner_text(raw, OwnerRead.begin(setting)), prepare=False)
        try:
            if one_trip.unknown(name):
                found = await _tuple_cursor(raw).execute(OneTripReads.FIND, prepare=False)
                one_trip.found(await found.fetchall())
            rows = await self._run(one_trip.statement(name, sql, self._db.queries), adapted)
        except BaseException as exc:
            if OwnerRead.needs_rollback(raw, psycopg):
                # A failure here means the connection is going: the retry or pool replaces it.
                with suppress(psycopg.Error):
                    await raw.execute("ROLLBACK", prepare=False)
            if one_trip.recompute_gone(name, exc):  # 0034 rolled back: v1 from now on
                return await self._send(name, sql, adapted)
            raise
        await raw.execute("COMMIT", prepare=False)
        return rows

    async def _run(self, sql: str, adapted: dict[str, Any]) -> Rows:
        async with _tuple_cursor(self._raw, json_as_text=True) as cur:
            await cur.execute(sql, adapted or None, prepare=self._db._prepare_arg)
            if self._raw.info.pipeline_status:  # a caller's pipeline: results at a sync
                async with self._raw.pipeline() as pipeline:
                    await pipeline.sync()
            names = _column_names(cur)
            return (names, await cur.fetchall()) if names is not None else ((), [])


class AsyncPostgresDatabase(PostgresDatabase):
    """Postgres through psycopg's `AsyncConnection` or `AsyncConnectionPool`.

    Shares parameter adaptation, statement counting, error translation and the
    production rules of `PostgresDatabase` (a caller's connection used as given,
    `prepare=False` for transaction poolers, checked pools, one read retry); only how
    a connection is borrowed is async. Open it with `await AsyncPostgresDatabase.open(target)`.
    """

    def __init__(
        self,
        target: Any,
        *,
        dsn: str | None = None,
        owns_pool: bool = False,
        prepare: bool = True,
        timeout: float | None = None,
    ) -> None:
        import asyncio

        import psycopg

        Database.__init__(self)
        self._psycopg = psycopg
        self._alock = asyncio.Lock()
        self.dsn = dsn
        self._owns_pool = owns_pool
        self.prepared_statements = prepare
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop of a pool of our own
        self._prepare_arg = None if prepare else False
        self._one_trip = OneTripReads(psycopg)
        self._pool: Any = None
        self._conn: Any = None
        if isinstance(target, psycopg.AsyncConnection):
            self._conn = target
        else:
            self._pool = target

    @classmethod
    async def open(
        cls, target: Any, *, prepare: bool = True, timeout: float | None = None
    ) -> AsyncPostgresDatabase:
        """A database over a DSN (with a pool of its own), an `AsyncConnection`
        or an `AsyncConnectionPool`; `timeout` as in `connect_async()`. Raises
        `DatabaseUnavailable`, `InvalidInput`."""
        import asyncio

        import psycopg
        from psycopg_pool import AsyncConnectionPool

        if not isinstance(target, str):
            return cls(target, prepare=prepare, timeout=timeout)
        _refuse_malformed(target)
        try:
            # Probe first: a pool retries silently, a probe fails with a reason.
            probe = await psycopg.AsyncConnection.connect(
                target, connect_timeout=connect_seconds(timeout)
            )
            await probe.close()
        except psycopg.Error as exc:
            raise _unreachable(target, exc) from None
        pool = AsyncConnectionPool(target, **_pool_settings(prepare, timeout))
        try:
            await pool.open(wait=True, timeout=POOL_TIMEOUT if timeout is None else timeout)
        except Exception as exc:  # PoolTimeout: the server went away since the probe
            await pool.close()
            raise _unreachable(target, exc) from None
        db = cls(pool, dsn=target, owns_pool=True, prepare=prepare, timeout=timeout)
        db._loop = asyncio.get_running_loop()
        return db

    @property
    def conninfo(self) -> str:
        """A libpq connection string for a synchronous twin (migrations run on yoyo)."""
        from psycopg.conninfo import make_conninfo

        conninfo, kwargs = self.direct_conninfo()
        return make_conninfo(conninfo, **kwargs) if kwargs else conninfo

    @asynccontextmanager
    async def session(  # type: ignore[override]
        self, transaction: bool = False, owner: str | None = None
    ) -> AsyncIterator[AsyncSession]:
        setting = None if transaction or owner is None else owner_setting(owner)
        if self._conn is not None:
            # The caller's connection, one task at a time; left as it was found.
            async with self._alock:
                conn = self._conn
                self._refuse_aborted(conn)
                if self._in_callers_transaction(conn):
                    # A savepoint of the caller's transaction, its settings put back.
                    with self.translate_errors():
                        async with conn.transaction():
                            saved = None
                            if transaction or setting is not None:
                                saved = await self._save_settings_async(conn, safe=transaction)
                            yield AsyncSession(self, conn, owner_setting=setting)
                            if saved is not None:
                                await self._restore_settings_async(
                                    conn, saved, owner=setting is not None
                                )
                elif transaction or not conn.autocommit:
                    with self.translate_errors():
                        async with conn.transaction():
                            if transaction:
                                await conn.execute(SAFE_SEARCH_PATH_STATEMENT, prepare=False)
                            yield AsyncSession(self, conn, owner_setting=setting)
                else:
                    yield AsyncSession(self, conn, owner_setting=setting)
            return
        self._on_home_loop()
        with self.translate_errors():
            async with _AsyncLease(self) as lease:
                if transaction:  # a write: on a connection checked to answer
                    conn = await lease.take(checked=True)
                    async with conn.transaction():
                        await conn.execute(SAFE_SEARCH_PATH_STATEMENT, prepare=False)
                        yield AsyncSession(self, conn)
                    return
                conn = await lease.take(checked=False)
                yield AsyncSession(self, conn, reconnect=lease.replace, owner_setting=setting)

    async def _why_no_connection(self) -> str:
        """`_pool_timeout_message`, probing without blocking the event loop and for at
        most the pool's timeout."""
        import asyncio

        where = self.description
        conninfo, kwargs = self.direct_conninfo()
        wait = float(self._pool.timeout)
        try:
            probe = await asyncio.wait_for(
                self._psycopg.AsyncConnection.connect(
                    conninfo, **{"connect_timeout": connect_seconds(wait), **kwargs}
                ),
                wait,
            )
        except TimeoutError:
            return f"cannot reach PostgreSQL at {where}: no answer within {wait:g} s"
        except self._psycopg.Error as exc:
            return f"cannot reach PostgreSQL at {where}: {failure_reason(str(exc), self.dsn)}"
        await probe.close()
        return (
            f"no pooled connection to PostgreSQL at {where} within {wait:g} s: "
            f"all {self._pool.max_size} are busy (the server answers)"
        )

    def _pool_timeout_message(self) -> str:
        # A pool timeout outside `_AsyncLease.take` (which probes, async): no sync probe
        # here, it would block the loop.
        return (
            f"cannot reach PostgreSQL at {self.description}: no pooled connection within "
            f"{self._pool.timeout:g} s (the server does not answer, or all "
            f"{self._pool.max_size} connections are busy)"
        )

    @staticmethod
    async def _save_settings_async(conn: Any, *, safe: bool) -> tuple[str, str | None]:
        """`PostgresDatabase._save_settings` on asyncio."""
        statement = SAVE_CALLER_SETTINGS_THEN_SAFE if safe else SAVE_CALLER_SETTINGS
        row = await (await _tuple_cursor(conn).execute(statement, prepare=False)).fetchone()
        return str(row[0]), row[1]

    @staticmethod
    async def _restore_settings_async(
        conn: Any, saved: tuple[str, str | None], *, owner: bool
    ) -> None:
        """`PostgresDatabase._restore_settings` on asyncio."""
        if owner:
            await conn.execute(RESTORE_CALLER_SETTINGS, saved, prepare=False)
        else:
            await conn.execute(RESTORE_CALLER_SEARCH_PATH, saved[:1], prepare=False)

    async def answers_async(self, raw: Any) -> bool:
        """`PostgresDatabase.answers`, async."""
        from psycopg_pool import AsyncConnectionPool

        try:
            await AsyncConnectionPool.check_connection(raw)
        except self._psycopg.Error:
            return False
        return True

    def _on_home_loop(self) -> None:
        """Refuse, typed, a use of our own pool from an event loop other than its own
        (asyncio's primitives would raise a raw RuntimeError, or worse, misbehave)."""
        import asyncio

        if self._loop is not None and asyncio.get_running_loop() is not self._loop:
            raise EventLoopMismatch(
                "this async store was opened on another event loop: use it on that loop "
                "(an asyncio pool belongs to the loop that opened it)"
            )

    @property
    def loop(self) -> Any:
        """The event loop our own pool belongs to (None: a caller's connection or pool)."""
        return self._loop

    async def aclose(self) -> None:
        """Close our own pool (a caller's connection or pool stays open), on its loop.

        Raises:
            EventLoopMismatch: called on another loop (`AsyncStore.aclose` runs it on the
                pool's loop while that loop runs); the pool is then only marked closed,
                its tasks ended with their loop and its connections close when they are
                garbage-collected.
        """
        if self._pool is None or not self._owns_pool:
            return
        try:
            self._on_home_loop()
        except EventLoopMismatch:
            self._owns_pool = False
            raise EventLoopMismatch(
                "this async store was opened on an event loop that has stopped: close it on "
                "the loop that opened it (its connections are released when it is "
                "garbage-collected)"
            ) from None
        await self._pool.close()

    def close(self) -> None:  # pragma: no cover - async databases close with `aclose`
        raise TypeError("close an async database with `await db.aclose()`")


def _pool_settings(prepare: bool, timeout: float | None = None) -> dict[str, Any]:
    """What the store's own pools (sync and async) are made with; `timeout` as in
    `connect()` (None: CONNECT_TIMEOUT and POOL_TIMEOUT)."""
    kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": connect_seconds(timeout)}
    if not prepare:
        kwargs["prepare_threshold"] = None
    return {
        "min_size": 1,
        "max_size": POOL_MAX_SIZE,
        "kwargs": kwargs,
        # Not checked on checkout (a round trip every read would pay): a connection the
        # server closed (restart, failover, idle timeout, pg_terminate_backend) costs a
        # read one retry and is checked before a write (`Session`), then replaced.
        "check": None,
        "max_lifetime": POOL_MAX_LIFETIME,
        "max_idle": POOL_MAX_IDLE,
        "timeout": POOL_TIMEOUT if timeout is None else timeout,
        "open": False,
        "name": "pyreference",
    }


def _refuse_malformed(dsn: str) -> None:
    if parse_dsn(dsn) is None:
        raise InvalidInput(f"malformed PostgreSQL connection string: {describe_dsn(dsn)}")


def _unreachable(dsn: str, exc: Exception) -> DatabaseUnavailable:
    reason = failure_reason(str(exc), dsn)
    return DatabaseUnavailable(f"cannot connect to PostgreSQL at {describe_dsn(dsn)}: {reason}")


def _open_pool(dsn: str, *, prepare: bool, timeout: float | None = None) -> Any:
    import psycopg
    from psycopg_pool import ConnectionPool

    _refuse_malformed(dsn)
    try:
        # Probe first: a pool retries silently, a probe fails with a reason.
        psycopg.connect(dsn, connect_timeout=connect_seconds(timeout)).close()
    except psycopg.Error as exc:
        raise _unreachable(dsn, exc) from None
    pool = ConnectionPool(dsn, **_pool_settings(prepare, timeout))
    pool.open()
    return pool


def redact_dsn(dsn: str) -> str:
    """Where the DSN points, never its password (see `conninfo.describe_dsn`); a SQLite
    URL holds no secret and is shown as given."""
    return dsn if dsn.startswith("sqlite:") else describe_dsn(dsn)


# -- SQLite --------------------------------------------------------------------


class SQLiteDatabase(Database):
    """SQLite through the standard library: a file or memory database of the store's own,
    or the caller's `sqlite3.Connection`, used as given.

    A caller's connection keeps its isolation level and transaction: the store's own
    transactions are `BEGIN IMMEDIATE … COMMIT` when the connection is idle and a
    savepoint inside the caller's open transaction. Only `PRAGMA foreign_keys = ON` and
    `PRAGMA recursive_triggers = ON` are set on it (the schema's references and its
    append-only spine rely on them; they are no-ops inside a transaction).
    """

    dialect = "sqlite"

    def __init__(self, target: sqlite3.Connection | str, *, create: bool = True) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self.owned = not isinstance(target, sqlite3.Connection)
        if isinstance(target, sqlite3.Connection):
            self.conn = target
            self.path = _sqlite_file(target) or "(connection)"
        else:
            self.path = target
            self.conn = _open_sqlite(target, create)
            self.conn.isolation_level = None  # explicit BEGIN/COMMIT, as yoyo expects
            self.conn.execute("PRAGMA busy_timeout = 30000")
            if target not in (":memory:", ""):
                self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        # INSERT OR REPLACE fires delete triggers only so: a replaced spine event is refused.
        self.conn.execute("PRAGMA recursive_triggers = ON")

    @property
    def description(self) -> str:
        return f"sqlite:///{self.path}"

    def adapt(self, value: Any) -> Any:
        if isinstance(value, Json):
            return None if value.value is None else canonical_json(value.value)
        if isinstance(value, Ids):
            return json.dumps(list(value.values))
        if isinstance(value, datetime):
            return iso(value)
        if isinstance(value, bool):
            return int(value)
        return value

    @contextmanager
    def session(self, transaction: bool = False, owner: str | None = None) -> Iterator[Session]:
        with self._lock:
            if not transaction:
                yield Session(self, self.conn)
                return
            # Inside the caller's transaction the store's work is a savepoint of it.
            with self.translate_errors():
                nested = self.conn.in_transaction
            begin, commit, undo = (
                ("SAVEPOINT pyref_session", "RELEASE pyref_session",
                 ("ROLLBACK TO pyref_session", "RELEASE pyref_session"))
                if nested
                else ("BEGIN IMMEDIATE", "COMMIT", ("ROLLBACK",))
            )  # fmt: skip
            with self.translate_errors():
                self.conn.execute(begin)
            try:
                yield Session(self, self.conn)
            except BaseException:
                try:
                    for statement in undo:
                        self.conn.execute(statement)
                except sqlite3.Error as failed:
                    # SQLite may have rolled back by itself (a full disk, an I/O error):
                    # then the first error is the one to raise.
                    if self.conn.in_transaction:
                        raise sqlite_error(failed, path=self.path) from failed
                raise
            else:
                with self.translate_errors():
                    self.conn.execute(commit)

    def _run(self, raw: Any, sql: str, params: Mapping[str, Any]) -> Rows:
        cur = _sqlite_tuple_cursor(raw)
        cur.execute(sql, dict(params))
        if cur.description is None:
            return (), []
        return tuple(c[0] for c in cur.description), cur.fetchall()

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        """Every sqlite3 error of the block (and a value it cannot bind) raised as a typed
        `PyreferenceError` (`sqlite_error`): none escapes raw, none carries SQL text."""
        try:
            yield
        except (sqlite3.Error, OverflowError, UnicodeEncodeError) as exc:
            raise sqlite_error(exc, path=self.path) from exc

    def cursor_key(self, value: Any, owner: str) -> str:
        # SQLite has no roles: the page read the secret itself and derives the same key.
        return derive_key(str(value), owner)

    def close(self) -> None:
        if self.owned:
            self.conn.close()


def _open_sqlite(path: str, create: bool) -> sqlite3.Connection:
    """A connection to `path`; with `create=False` a missing file is refused, not created."""
    try:
        if create or path in (":memory:", ""):
            return sqlite3.connect(path, check_same_thread=False, timeout=30)
        uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=rw"
        return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)
    except sqlite3.OperationalError as exc:
        folder = os.path.dirname(os.path.abspath(path))
        if not create and os.path.isdir(folder) and not os.path.exists(path):
            raise SchemaNotReady(
                f"no SQLite database at {path}: run `pyreference migrate` to create one"
            ) from None
        raise DatabaseUnavailable(f"cannot open SQLite database {path}: {exc}") from exc


def _sqlite_tuple_cursor(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """A cursor of `conn` that returns tuples, whatever row factory the caller gave it
    (sqlite3.Row, dicts): the read path takes rows as tuples."""
    cursor = conn.cursor()
    cursor.row_factory = None
    return cursor


def _sqlite_file(conn: sqlite3.Connection) -> str | None:
    """The file behind a caller's connection (None for a memory database)."""
    try:
        rows = _sqlite_tuple_cursor(conn).execute("PRAGMA database_list").fetchall()
    except sqlite3.Error:
        return None
    return next((str(r[2]) for r in rows if r[1] == "main" and r[2]), None)
