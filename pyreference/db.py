"""Database access: the one place in Python that knows Postgres from SQLite.

Every statement the store sends goes through `Session.execute`, which adapts
parameters to the dialect, counts the statement for `statement_counter()`,
and turns driver errors into pyreference's typed errors.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from . import sqlfiles
from .errors import DatabaseUnavailable, InvalidInput, ReadOnlyDatabase, SchemaNotReady
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


_DECODER = json.JSONDecoder()


def _loads_text(text: str) -> Any:
    """``json.loads(text)``, skipping its whitespace scans for the compact text databases emit.

    A document that does not span the whole text from its first character is left to
    ``json.loads``, so the result (or the error) is always exactly what it would give.
    """
    try:
        value, end = _DECODER.raw_decode(text)
    except ValueError:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


@dataclass
class StatementCounter:
    """Statements sent through the store while active (transaction control excluded)."""

    statements: int = 0
    writes: int = 0
    names: list[str] = field(default_factory=list)


_TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "COPY", "MERGE")
_WRITE_FUNCTIONS = re.compile(r"pyref_(reconcile|rebuild|refresh)\w*\(")


def is_write(sql: str) -> bool:
    head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return head in _WRITE_VERBS or bool(_WRITE_FUNCTIONS.search(sql))


Rows = tuple[tuple[str, ...], list[tuple[Any, ...]]]

# SQLSTATEs of a read a hot standby cancelled (recovery conflict, deadlock).
_CANCELLED_BY_RECOVERY = ("40001", "40P01")


def cancelled_by_recovery(exc: BaseException) -> bool:
    """True when a standby cancelled the read (a recovery conflict): retry it elsewhere."""
    return getattr(exc.__cause__, "sqlstate", None) in _CANCELLED_BY_RECOVERY


C = TypeVar("C")


class Session:
    """One connection, optionally inside a transaction."""

    def __init__(self, db: Database, raw: Any) -> None:
        self._db = db
        self._raw = raw

    def execute(self, name: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a named query (or literal SQL for tests/bench) and return its rows as dicts."""
        columns, rows = self.rows(name, params)
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def rows(self, name: str, params: Mapping[str, Any] | None = None) -> Rows:
        """Like `execute`, as column names and value tuples (hashable: the page memo's keys)."""
        sql, adapted = self._db.prepare(name, params)
        with self._db.translate_errors():
            return self._db._run(self._raw, sql, adapted)

    @property
    def raw(self) -> Any:
        return self._raw


class Database:
    dialect: str = ""

    def __init__(self) -> None:
        self.queries = sqlfiles.queries(self.dialect)
        self._counters: list[StatementCounter] = []
        self._counter_lock = threading.Lock()

    # -- counting -------------------------------------------------------
    @contextmanager
    def statement_counter(
        self, counter: StatementCounter | None = None
    ) -> Iterator[StatementCounter]:
        """Count statements sent while active (into `counter`, shared by several databases)."""
        counter = counter or StatementCounter()
        with self._counter_lock:
            self._counters.append(counter)
        try:
            yield counter
        finally:
            with self._counter_lock:
                self._counters.remove(counter)

    def _count(self, name: str, sql: str) -> None:
        if not self._counters or _TRANSACTION_CONTROL.match(sql):
            return
        write = is_write(sql)
        with self._counter_lock:
            for counter in self._counters:
                counter.statements += 1
                counter.writes += int(write)
                counter.names.append(name)

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

    @contextmanager
    def session(self, transaction: bool = False) -> Iterator[Session]:
        raise NotImplementedError
        yield  # pragma: no cover

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


class PostgresDatabase(Database):
    dialect = "postgres"

    def __init__(self, target: Any, *, dsn: str | None = None) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        super().__init__()
        self._psycopg = psycopg
        self._lock = threading.RLock()
        self._pool: Any = None
        self._conn: Any = None
        self.dsn = dsn
        if isinstance(target, ConnectionPool):
            self._pool = target
        elif isinstance(target, psycopg.Connection):
            self._conn = target
        else:
            self._pool = _open_pool(str(target))
            self._owns_pool = True

    @property
    def description(self) -> str:
        if self.dsn:
            return redact_dsn(self.dsn)
        raw = self._conn if self._conn is not None else None
        return f"postgresql://{raw.info.host}/{raw.info.dbname}" if raw else "postgresql (pool)"

    def adapt(self, value: Any) -> Any:
        if isinstance(value, Json):
            from psycopg.types.json import Jsonb

            return Jsonb(value.value)
        if isinstance(value, Ids):
            return list(value.values)
        return value

    @contextmanager
    def session(self, transaction: bool = False) -> Iterator[Session]:
        with self._connection() as conn:
            if transaction:
                with self.translate_errors(), conn.transaction():
                    yield Session(self, conn)
            else:
                yield Session(self, conn)

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self._conn is not None:
            with self._lock:
                if not self._conn.autocommit and self._conn.info.transaction_status == 0:
                    self._conn.autocommit = True
                yield self._conn
            return
        with self.translate_errors(), self._pool.connection() as conn:
            yield conn

    def _run(self, raw: Any, sql: str, params: Mapping[str, Any]) -> Rows:
        with _text_json(raw.cursor(row_factory=_tuple_row())) as cur:
            cur.execute(sql, params or None)
            if cur.description is None:
                return (), []
            return tuple(c.name for c in cur.description), cur.fetchall()

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        errors = self._psycopg.errors
        try:
            yield
        except (errors.UndefinedTable, errors.UndefinedFunction) as exc:
            raise SchemaNotReady(
                "the pyreference schema is missing or outdated: run `pyreference migrate`"
            ) from exc
        except errors.ReadOnlySqlTransaction as exc:
            raise ReadOnlyDatabase.at(self.description) from exc
        except (errors.IntegrityError, errors.DataError) as exc:
            if "append-only" in (exc.diag.message_primary or ""):
                raise InvalidInput(APPEND_ONLY) from exc
            raise InvalidInput(
                _integrity_message(exc.diag.sqlstate, exc.diag.constraint_name)
            ) from exc
        except self._psycopg.OperationalError as exc:
            if isinstance(exc, errors.QueryCanceled | errors.LockNotAvailable):
                raise
            raise DatabaseUnavailable(f"cannot reach PostgreSQL at {self.description}") from exc
        except Exception as exc:
            if type(exc).__name__ == "PoolTimeout":
                raise DatabaseUnavailable(f"cannot reach PostgreSQL at {self.description}") from exc
            raise

    def close(self) -> None:
        if self._pool is not None and getattr(self, "_owns_pool", False):
            self._pool.close()


def _tuple_row() -> Any:
    from psycopg.rows import tuple_row

    return tuple_row


def _text_json(cursor: C) -> C:
    """The cursor, set to return JSON as text, as SQLite does: the reader decodes each
    distinct document once (runs and manifests repeat across rows and reads)."""
    from psycopg.types.string import TextLoader

    cursor.adapters.register_loader("jsonb", TextLoader)  # type: ignore[attr-defined]
    cursor.adapters.register_loader("json", TextLoader)  # type: ignore[attr-defined]
    return cursor


class AsyncSession:
    """One async Postgres connection, optionally inside a transaction (see `Session`)."""

    def __init__(self, db: AsyncPostgresDatabase, raw: Any) -> None:
        self._db = db
        self._raw = raw

    async def rows(self, name: str, params: Mapping[str, Any] | None = None) -> Rows:
        sql, adapted = self._db.prepare(name, params)
        with self._db.translate_errors():
            async with _text_json(self._raw.cursor(row_factory=_tuple_row())) as cur:
                await cur.execute(sql, adapted or None)
                if cur.description is None:
                    return (), []
                return tuple(c.name for c in cur.description), await cur.fetchall()


class AsyncPostgresDatabase(PostgresDatabase):
    """Postgres through psycopg's `AsyncConnection` or `AsyncConnectionPool`.

    Shares parameter adaptation, statement counting and error translation with
    `PostgresDatabase`; only how a connection is borrowed is async. Open it with
    `await AsyncPostgresDatabase.open(target)`.
    """

    def __init__(self, target: Any, *, dsn: str | None = None, owns_pool: bool = False) -> None:
        import asyncio

        import psycopg

        Database.__init__(self)
        self._psycopg = psycopg
        self._alock = asyncio.Lock()
        self.dsn = dsn
        self._owns_pool = owns_pool
        self._pool: Any = None
        self._conn: Any = None
        if isinstance(target, psycopg.AsyncConnection):
            self._conn = target
        else:
            self._pool = target

    @classmethod
    async def open(cls, target: Any) -> AsyncPostgresDatabase:
        """A database over a DSN (with a pool of its own), an `AsyncConnection`
        or an `AsyncConnectionPool`; raises `DatabaseUnavailable`."""
        import psycopg
        from psycopg_pool import AsyncConnectionPool

        if not isinstance(target, str):
            return cls(target)
        try:
            # Probe first: a pool retries silently, a probe fails with a reason.
            await (await psycopg.AsyncConnection.connect(target, connect_timeout=10)).close()
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"cannot reach PostgreSQL at {redact_dsn(target)}") from exc
        except psycopg.ProgrammingError:
            raise InvalidInput(f"malformed PostgreSQL URL: {redact_dsn(target)}") from None
        pool = AsyncConnectionPool(
            target, min_size=1, max_size=8, kwargs={"autocommit": True}, open=False, timeout=30
        )
        await pool.open(wait=True, timeout=30)
        return cls(pool, dsn=target, owns_pool=True)

    @property
    def conninfo(self) -> str:
        """A libpq connection string for a synchronous twin (migrations run on yoyo)."""
        from psycopg.conninfo import make_conninfo

        if self.dsn:
            return self.dsn
        if self._pool is not None:
            return str(self._pool.conninfo)
        info = self._conn.info
        return make_conninfo(info.dsn, password=info.password) if info.password else info.dsn

    @property
    def description(self) -> str:
        if self.dsn:
            return redact_dsn(self.dsn)
        return "postgresql (async pool)" if self._pool is not None else "postgresql (async)"

    @asynccontextmanager
    async def session(  # type: ignore[override]
        self, transaction: bool = False
    ) -> AsyncIterator[AsyncSession]:
        async with self._aconnection() as conn:
            if transaction:
                with self.translate_errors():
                    async with conn.transaction():
                        yield AsyncSession(self, conn)
            else:
                yield AsyncSession(self, conn)

    @asynccontextmanager
    async def _aconnection(self) -> AsyncIterator[Any]:
        if self._conn is not None:
            async with self._alock:
                if not self._conn.autocommit and self._conn.info.transaction_status == 0:
                    await self._conn.set_autocommit(True)
                yield self._conn
            return
        with self.translate_errors():
            async with self._pool.connection() as conn:
                yield conn

    async def aclose(self) -> None:
        if self._pool is not None and self._owns_pool:
            await self._pool.close()

    def close(self) -> None:  # pragma: no cover - async databases close with `aclose`
        raise TypeError("close an async database with `await db.aclose()`")


def _open_pool(dsn: str) -> Any:
    import psycopg
    from psycopg_pool import ConnectionPool

    try:
        # Probe first: a pool retries silently, a probe fails with a reason.
        psycopg.connect(dsn, connect_timeout=10).close()
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"cannot reach PostgreSQL at {redact_dsn(dsn)}") from exc
    except psycopg.ProgrammingError:
        # psycopg's message quotes the whole URL, password included.
        raise InvalidInput(f"malformed PostgreSQL URL: {redact_dsn(dsn)}") from None
    return ConnectionPool(
        dsn, min_size=1, max_size=8, kwargs={"autocommit": True}, open=True, timeout=30
    )


def redact_dsn(dsn: str) -> str:
    """The DSN with any password removed, for messages."""
    try:
        parts = urlsplit(dsn)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a malformed host or port: drop everything between // and @
        return re.sub(r"//[^/]*@", "//***@", dsn)
    if parts.scheme and parts.hostname:
        user = f"{parts.username}@" if parts.username else ""
        return f"{parts.scheme}://{user}{parts.hostname}{port}{parts.path}"
    return re.sub(r"password\s*=\s*\S+", "password=***", dsn)


# The one message for any statement that would change or remove a spine event (both backends).
APPEND_ONLY = "spine_events is append-only: insert a new event instead of changing or removing one"


def _integrity_message(sqlstate: str | None, constraint: str | None) -> str:
    what = {
        "23505": "duplicate key",
        "23503": "reference to a row that does not exist",
        "23514": "value outside the allowed set",
        "23502": "missing required value",
    }.get(sqlstate or "", "rejected value")
    return f"{what}{f' ({constraint})' if constraint else ''}"


# -- SQLite --------------------------------------------------------------------


class SQLiteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, target: sqlite3.Connection | str) -> None:
        super().__init__()
        self._lock = threading.RLock()
        if isinstance(target, sqlite3.Connection):
            self.conn = target
            self.path = "(connection)"
        else:
            self.path = target
            try:
                self.conn = sqlite3.connect(target, check_same_thread=False, timeout=30)
            except sqlite3.OperationalError as exc:
                raise DatabaseUnavailable(f"cannot open SQLite database {target}") from exc
        self.conn.isolation_level = None  # explicit BEGIN/COMMIT, as yoyo expects
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute("PRAGMA busy_timeout = 30000")
        # INSERT OR REPLACE fires delete triggers only so: a replaced spine event is refused.
        self.conn.execute("PRAGMA recursive_triggers = ON")
        if self.path not in (":memory:", "(connection)", ""):
            self.conn.execute("PRAGMA journal_mode = WAL")

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
    def session(self, transaction: bool = False) -> Iterator[Session]:
        with self._lock:
            if not transaction:
                yield Session(self, self.conn)
                return
            with self.translate_errors():
                self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield Session(self, self.conn)
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                with self.translate_errors():
                    self.conn.execute("COMMIT")

    def _run(self, raw: Any, sql: str, params: Mapping[str, Any]) -> Rows:
        cur = raw.execute(sql, dict(params))
        if cur.description is None:
            return (), []
        return tuple(c[0] for c in cur.description), cur.fetchall()

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError as exc:
            raise InvalidInput(_sqlite_integrity_message(str(exc))) from exc
        except (OverflowError, UnicodeEncodeError) as exc:
            # The write helpers refuse these first; this is the net for anything else.
            raise InvalidInput(
                "an integer outside 64-bit range"
                if isinstance(exc, OverflowError)
                else "text that is not encodable (a lone surrogate)"
            ) from exc
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "malformed JSON" in text:
                raise InvalidInput("malformed JSON") from exc
            if "no such table" in text or "no such view" in text:
                raise SchemaNotReady(
                    "the pyreference schema is missing or outdated: run `pyreference migrate`"
                ) from exc
            if "unable to open" in text:
                raise DatabaseUnavailable(f"cannot open SQLite database {self.path}") from exc
            raise

    def close(self) -> None:
        self.conn.close()


def _sqlite_integrity_message(text: str) -> str:
    if "append-only" in text:
        return APPEND_ONLY
    if "UNIQUE" in text:
        return "duplicate key"
    if "FOREIGN KEY" in text:
        return "reference to a row that does not exist"
    if "CHECK" in text:
        return "value outside the allowed set (or malformed timestamp or JSON)"
    if "NOT NULL" in text:
        return "missing required value"
    return "rejected value"
