"""Read routing: which server serves each operation, with read-your-writes by WAL position.

A `Router` holds the primary `Database` and, optionally, streaming replicas (hot standbys).
Writes, maintenance and migrations always use the primary (the store reaches it directly).
Each read asks the router for a session: `Router.read(fn, target)` runs `fn(session)` on a
replica that has replayed at least `target` (a WAL position), else waits up to `replica_wait`
seconds for one, else runs it on the primary (docs/scaling.md, SPEC R6).

Policy, per read:

- candidates are the healthy replicas in round-robin order (a different first one each read);
- each candidate's replay position is checked on the very connection that will serve the read,
  before the read's snapshot is taken (a replica that caught up is never vouched for by another);
- the read runs in one `REPEATABLE READ READ ONLY` transaction there (one snapshot per page);
- a replica that cannot be reached, or that is not in recovery (promoted, or never a standby), is
  skipped for `retry_after` seconds; a read cancelled by a recovery conflict (SQLSTATE 40001)
  moves on to the next candidate;
- with no healthy, caught-up replica, the primary serves the read.

`target` comes from the caller (`consistent_with=` a position a write returned), from the
store's own latest write, or — with `consistency="strict"` — from the primary's current insert
position taken at the start of the read, so the read observes every write committed before it.

A write made inside a caller's open transaction (the store over the caller's connection) is
committed by the caller, later: its position is unknown when the write returns. The router
keeps that transaction's id instead; each read first asks the primary whether it has ended
(`commit_status`): while it is in progress the read runs on the primary (the caller's own
connection, where the uncommitted write is visible: target `ON_PRIMARY`); once it committed,
the primary's insert position then becomes the store's own position, as after any write.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Generator, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from .db import (
    AsyncPostgresDatabase,
    Database,
    Ids,
    PostgresDatabase,
    StatementCounter,
    cancelled_by_recovery,
    redact_dsn,
)
from .errors import DatabaseUnavailable, InvalidInput, TransactionConflict
from .inputs import shown
from .plan import Plan, drive, drive_async, query_on, run
from .seconds import seconds

T = TypeVar("T")
Consistency = Literal["session", "strict"]
CONSISTENCIES = ("session", "strict")


def _listed(values: Any) -> list[Any] | None:
    """`values` as a list when it is a finite collection (a list, tuple, set…), else None."""
    if isinstance(values, str | bytes) or not isinstance(values, Collection):
        return None
    return list(values)


# How often a read waiting for a lagging replica re-checks its replay position.
POLL_SECONDS = 0.005
# The target of a read no replica may serve: the store's write is in a caller's transaction
# that has not ended (its commit position is not known yet).
ON_PRIMARY = -1


def parse_position(position: str) -> int:
    """A WAL position (`pg_lsn` text such as ``"0/3000148"``) as a byte offset.

    Raises:
        InvalidInput: the text is not a WAL position.
    """
    if isinstance(position, str):
        high, sep, low = position.partition("/")
        try:
            if sep and high and low:
                return (int(high, 16) << 32) | int(low, 16)
        except ValueError:
            pass
    raise InvalidInput(f"not a WAL position (expected text like '0/3000148'): {shown(position)}")


def format_position(offset: int) -> str:
    """The `pg_lsn` text of a byte offset (inverse of `parse_position`)."""
    return f"{offset >> 32:X}/{offset & 0xFFFFFFFF:X}"


@dataclass(frozen=True)
class ReadSource:
    """Which server served a read, and how old its data may be.

    Attributes:
        server: ``"primary"`` or the replica's DSN without password.
        role: ``"primary"`` or ``"replica"``.
        replayed: the replica's replay position when the read started (None on the primary).
        lag_seconds: how far behind the primary the data may be, in seconds: 0.0 on the
            primary and on a replica that had replayed all WAL it received while streaming;
            else the time since the replica last replayed a commit; None when unknown.
        waited_seconds: time spent waiting for a replica to catch up before serving.
    """

    server: str
    role: Literal["primary", "replica"]
    replayed: str | None = None
    lag_seconds: float | None = 0.0
    waited_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "role": self.role,
            "replayed": self.replayed,
            "lag_seconds": self.lag_seconds,
            "waited_seconds": self.waited_seconds,
        }


PRIMARY = ReadSource(server="primary", role="primary")


class _Replica:
    """One replica: its pooled database and whether to try it now.

    A replica starts, and returns after a failure, as *suspect*: before its pool is used it is
    probed with one direct connection, which a stopped server refuses at once (a pool would
    wait its whole timeout for a connection that never comes). The pool opens on the first
    successful probe, so a replica that is down at start is not an error."""

    def __init__(self, dsn: str, timeout: float, asynchronous: bool, *, prepare: bool) -> None:
        import psycopg
        from psycopg_pool import AsyncConnectionPool, ConnectionPool

        def configure(conn: Any) -> None:
            # The BEGIN a read sends carries these; statements outside it are autocommit.
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True

        async def aconfigure(conn: Any) -> None:
            await conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
            await conn.set_read_only(True)

        self.dsn = dsn
        self.name = redact_dsn(dsn)
        self.connect_timeout = max(1, round(timeout))
        options: dict[str, Any] = {
            "min_size": 1,
            "max_size": 8,
            "kwargs": {
                "autocommit": True,
                "connect_timeout": self.connect_timeout,
                **({} if prepare else {"prepare_threshold": None}),
            },
            "open": False,
            "timeout": timeout,
            "name": f"pyreference-replica {self.name}",
        }
        self.db: PostgresDatabase
        if asynchronous:
            # A connection the server closed is replaced, not handed out.
            self.pool: Any = AsyncConnectionPool(
                dsn, configure=aconfigure, check=AsyncConnectionPool.check_connection, **options
            )
            self.db = AsyncPostgresDatabase(self.pool, dsn=dsn, prepare=prepare)
        else:
            self.pool = ConnectionPool(
                dsn, configure=configure, check=ConnectionPool.check_connection, **options
            )
            self.db = PostgresDatabase(self.pool, dsn=dsn, prepare=prepare)
        self.unreachable = f"cannot reach PostgreSQL at {self.name}"
        self.down_until = 0.0
        self.suspect = True
        self.reason: str | None = None

    def available(self, now: float) -> bool:
        return now >= self.down_until

    def mark_down(self, reason: str, retry_after: float) -> None:
        self.reason = reason
        self.suspect = True
        self.down_until = time.monotonic() + retry_after

    def probe(self) -> bool:
        """One direct connection to a suspect replica; then (re)open or check its pool."""
        import psycopg

        try:
            psycopg.connect(self.dsn, connect_timeout=self.connect_timeout).close()
        except psycopg.Error:
            return False
        if self.pool.closed:
            self.pool.open(wait=False)
        else:
            self.pool.check()  # drop connections the server closed while it was away
        return True

    async def probe_async(self) -> bool:
        """`probe` on asyncio."""
        import psycopg

        try:
            conn = await psycopg.AsyncConnection.connect(
                self.dsn, connect_timeout=self.connect_timeout
            )
            await conn.close()
        except psycopg.Error:
            return False
        if self.pool.closed:
            await self.pool.open(wait=False)
        else:
            await self.pool.check()
        return True


# -- the routing policy, written once (sans-IO) and driven by a sync and an async driver ------
@dataclass(frozen=True)
class _Probe:
    replica: _Replica


@dataclass(frozen=True)
class _Attempt:
    replica: _Replica


@dataclass(frozen=True)
class _Sleep:
    seconds: float


@dataclass(frozen=True)
class _OnPrimary:
    pass


@dataclass(frozen=True)
class _Served:
    result: Any
    state: dict[str, Any]


_BEHIND = "behind"
_NOT_STANDBY = "not a standby (not in recovery)"
_Step = _Probe | _Attempt | _Sleep | _OnPrimary


def _verdict(state: dict[str, Any], target: int | None) -> str | None:
    """Why a replica in `state` cannot serve a read needing `target` (None: it can)."""
    if not state["in_recovery"] or state["replayed"] is None:
        return _NOT_STANDBY
    if target and parse_position(state["replayed"]) < target:
        return _BEHIND
    return None


def replica_options(
    replicas: Any,
    *,
    consistency: str = "session",
    replica_wait: float = 0.25,
    retry_after: float = 5.0,
    replica_timeout: float = 2.0,
) -> list[str]:
    """The `Router` options checked before anything is opened; returns `replicas` as a list.

    `connect()` calls it before it opens the primary's pool, so a bad option never opens
    (and never leaks) a connection.

    Raises:
        InvalidInput: an unknown `consistency`, a wait that is not a number of seconds in
            [0, a day], `replicas` not a collection of PostgreSQL URLs.
    """
    if consistency not in CONSISTENCIES:
        raise InvalidInput(f"consistency must be one of {', '.join(CONSISTENCIES)}")
    for name, value in (
        ("replica_wait", replica_wait),
        ("retry_after", retry_after),
        ("replica_timeout", replica_timeout),
    ):
        seconds(value, name)
    listed = _listed(replicas)
    if listed is None or not all(isinstance(r, str) for r in listed):
        raise InvalidInput("replicas must be a list of PostgreSQL URLs")
    for dsn in listed:
        if not dsn.startswith(("postgresql://", "postgres://")) and "=" not in dsn:
            raise InvalidInput(f"unsupported replica URL: {redact_dsn(dsn)}")
    return listed


class Router:
    """Chooses the server for each read; remembers the store's own write position.

    Args:
        primary: the primary's database (writes, maintenance, migrations, fallback reads).
        replicas: replica DSNs (`postgresql://…` or libpq keyword form).
        consistency: ``"session"`` (reads honour `consistent_with` and the store's own writes)
            or ``"strict"`` (every read first takes the primary's insert position).
        replica_wait: seconds a read needing a position waits for a replica to replay it
            before the primary serves it (0 = never wait).
        retry_after: seconds an unreachable or non-standby replica is left out.
        replica_timeout: seconds to wait for a replica connection before skipping it.
        asynchronous: the primary is an `AsyncPostgresDatabase` (the async store's router):
            use the `*_async` methods.

    Raises:
        InvalidInput: replicas on a non-Postgres primary, or a bad option.
    """

    def __init__(
        self,
        primary: Database,
        replicas: Sequence[str] = (),
        *,
        consistency: str = "session",
        replica_wait: float = 0.25,
        retry_after: float = 5.0,
        replica_timeout: float = 2.0,
        asynchronous: bool = False,
    ) -> None:
        replicas = replica_options(
            replicas,
            consistency=consistency,
            replica_wait=replica_wait,
            retry_after=retry_after,
            replica_timeout=replica_timeout,
        )
        if replicas and primary.dialect != "postgres":
            raise InvalidInput("replicas need a PostgreSQL primary")
        self.primary = primary
        self.consistency = consistency
        self.replica_wait = float(replica_wait)
        self.retry_after = float(retry_after)
        # Replicas follow the primary's pooler setting (prepare=False behind PgBouncer).
        prepare = getattr(primary, "prepared_statements", True)
        timeout = float(replica_timeout) or 2.0
        self._replicas = [_Replica(dsn, timeout, asynchronous, prepare=prepare) for dsn in replicas]
        self._turn = itertools.count()
        self._own = 0
        # Ids of caller transactions holding this store's writes, not yet seen to end.
        self._open_xacts: set[str] = set()
        self._own_lock = threading.Lock()

    @property
    def routes(self) -> bool:
        """True when there are replicas to route reads to."""
        return bool(self._replicas)

    @property
    def databases(self) -> list[Database]:
        return [self.primary, *(r.db for r in self._replicas)]

    # -- positions -----------------------------------------------------------------
    def _remember(self, position: str) -> str:
        with self._own_lock:
            self._own = max(self._own, parse_position(position))
        return position

    def _noted(self, row: dict[str, Any]) -> str:
        """Remember a write from the `write_position` row taken right after it: its position
        when the write is committed, else the caller's transaction that holds it."""
        if row["open_xact"] is None:
            return self._remember(str(row["position"]))
        with self._own_lock:
            self._open_xacts.add(str(row["open_xact"]))
        return str(row["position"])

    def note_write(self) -> str | None:
        """After a write: remember the primary's WAL insert position (when the write is
        committed; inside a caller's open transaction, that transaction, to be checked by
        the next read) and return the position."""
        if not self._replicas:
            return None
        with self.primary.session() as s:
            return self._noted(s.execute("write_position")[0])

    async def note_write_async(self) -> str | None:
        """`note_write` on asyncio."""
        if not self._replicas:
            return None
        async with self.primary.session() as s:  # type: ignore[attr-defined]
            columns, rows = await s.rows("write_position")
            return self._noted(dict(zip(columns, rows[0], strict=True)))

    def _settle(self, rows: list[dict[str, Any]]) -> bool:
        """Take the `commit_status` rows: forget ended transactions (a committed one's
        position becomes the store's own); True while one of them is still in progress."""
        in_progress = False
        with self._own_lock:
            for row in rows:
                if row["status"] == "in progress":
                    in_progress = True
                    continue
                self._open_xacts.discard(row["xact"])
                if row["status"] != "aborted":  # committed, or ended too long ago to know
                    self._own = max(self._own, parse_position(row["position"]))
        return in_progress

    def _open(self) -> list[str]:
        with self._own_lock:
            return sorted(self._open_xacts)

    def _uncommitted(self) -> bool:
        """True while a caller's transaction holding this store's writes is in progress."""
        xacts = self._open()
        if not xacts:
            return False
        with self.primary.session() as s:
            return self._settle(s.execute("commit_status", {"xacts": Ids(xacts)}))

    async def _uncommitted_async(self) -> bool:
        """`_uncommitted` on asyncio."""
        xacts = self._open()
        if not xacts:
            return False
        async with self.primary.session() as s:  # type: ignore[attr-defined]
            columns, rows = await s.rows("commit_status", {"xacts": Ids(xacts)})
            return self._settle([dict(zip(columns, row, strict=True)) for row in rows])

    @property
    def own_position(self) -> str | None:
        """The position of this store's latest write known to be committed (None before
        any, or without replicas). A write inside a caller's transaction counts once a
        read of this store has seen that transaction commit."""
        return format_position(self._own) if self._own else None

    def current_position(self) -> str:
        """The primary's WAL insert position now (a token for `consistent_with=`)."""
        self._require_postgres()
        return self._primary_position()

    async def current_position_async(self) -> str:
        """`current_position` on asyncio."""
        self._require_postgres()
        return await self._primary_position_async()

    def _require_postgres(self) -> None:
        if self.primary.dialect != "postgres":
            raise InvalidInput("WAL positions exist on PostgreSQL only")

    def _wanted(self, consistent_with: str | None) -> list[int]:
        wanted = [self._own]
        if consistent_with is not None:
            wanted.append(parse_position(consistent_with))
        return wanted

    def target(self, consistent_with: str | None) -> int | None:
        """The position a read must observe: the caller's, the store's own, or (strict) now;
        `ON_PRIMARY` while a caller's transaction holding this store's writes is open."""
        if consistent_with is not None:
            parse_position(consistent_with)  # validate even when the primary serves
        if not self._replicas:
            return None
        if self._uncommitted():
            return ON_PRIMARY
        wanted = self._wanted(consistent_with)
        if self.consistency == "strict":
            wanted.append(parse_position(self._primary_position()))
        return max(wanted, default=0) or None

    async def target_async(self, consistent_with: str | None) -> int | None:
        """`target` on asyncio."""
        if consistent_with is not None:
            parse_position(consistent_with)
        if not self._replicas:
            return None
        if await self._uncommitted_async():
            return ON_PRIMARY
        wanted = self._wanted(consistent_with)
        if self.consistency == "strict":
            wanted.append(parse_position(await self._primary_position_async()))
        return max(wanted, default=0) or None

    def _primary_position(self) -> str:
        with self.primary.session() as s:
            return str(s.execute("write_position")[0]["position"])

    async def _primary_position_async(self) -> str:
        async with self.primary.session() as s:  # type: ignore[attr-defined]
            (_, rows) = await s.rows("write_position")
            return str(rows[0][0])

    # -- reads ---------------------------------------------------------------------
    def _route(self, target: int | None) -> Generator[_Step, Any, tuple[Any, ReadSource]]:
        """The policy: replicas in turn, wait for one to catch up, else the primary."""
        if target == ON_PRIMARY:
            result = yield _OnPrimary()
            return result, PRIMARY
        started = time.monotonic()
        deadline = started + (self.replica_wait if target else 0.0)
        while True:
            behind = False
            for replica in self._rotation():
                if replica.suspect:
                    if not (yield _Probe(replica)):
                        replica.mark_down(
                            f"cannot reach PostgreSQL at {replica.name}", self.retry_after
                        )
                        continue
                    replica.suspect = False
                outcome = yield _Attempt(replica)
                if isinstance(outcome, _Served):
                    replica.reason = None
                    lag = outcome.state["lag_seconds"]
                    source = ReadSource(
                        server=replica.name,
                        role="replica",
                        replayed=outcome.state["replayed"],
                        lag_seconds=None if lag is None else float(lag),
                    )
                    waited = round(time.monotonic() - started, 6) if target else 0.0
                    return outcome.result, _with_wait(source, waited)
                if outcome == _BEHIND:
                    behind = True
                elif outcome == _NOT_STANDBY:
                    replica.mark_down(_NOT_STANDBY, self.retry_after)
                elif type(outcome.__cause__).__name__ == "PoolTimeout":
                    replica.suspect = True  # busy, or gone: probe before the next use
                elif not cancelled_by_recovery(outcome):
                    replica.mark_down(str(outcome), self.retry_after)
            if not behind or time.monotonic() >= deadline:
                break
            yield _Sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        result = yield _OnPrimary()
        return result, _with_wait(PRIMARY, round(time.monotonic() - started, 6))

    def read(
        self, make: Callable[[], Plan[T]], target: int | None, owner: str | None = None
    ) -> tuple[T, ReadSource]:
        """Drive the read plan `make()` on a replica that replayed `target`, else the primary.

        A fresh plan is made for each attempt (a replica failing mid-read is retried
        elsewhere); read plans never write. Errors other than an unreachable or cancelling
        replica propagate.
        """
        if not self._replicas:
            return run(self.primary, make(), owner), PRIMARY
        route = self._route(target)
        sent: Any = None
        while True:
            try:
                step = route.send(sent)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            if isinstance(step, _Probe):
                sent = step.replica.probe()
            elif isinstance(step, _Attempt):
                sent = self._attempt(step.replica, make, target, owner)
            elif isinstance(step, _Sleep):
                time.sleep(step.seconds)
            else:
                sent = run(self.primary, make(), owner)

    async def read_async(
        self,
        make: Callable[[], Plan[T]],
        target: int | None,
        on_primary: Callable[[Plan[T]], Awaitable[T]],
        owner: str | None = None,
    ) -> tuple[T, ReadSource]:
        """`read` on asyncio; `on_primary` drives a plan on the primary (naming `owner`)."""
        if not self._replicas:
            return await on_primary(make()), PRIMARY
        route = self._route(target)
        sent: Any = None
        while True:
            try:
                step = route.send(sent)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            if isinstance(step, _Probe):
                sent = await step.replica.probe_async()
            elif isinstance(step, _Attempt):
                sent = await self._attempt_async(step.replica, make, target, owner)
            elif isinstance(step, _Sleep):
                await asyncio.sleep(step.seconds)
            else:
                sent = await on_primary(make())

    def _rotation(self) -> Iterator[_Replica]:
        now = time.monotonic()
        first = next(self._turn) % len(self._replicas)
        for replica in self._replicas[first:] + self._replicas[:first]:
            if replica.available(now):
                yield replica

    def _attempt(
        self, replica: _Replica, make: Callable[[], Plan[T]], target: int | None, owner: str | None
    ) -> Any:
        """`_Served`, a verdict, or the `DatabaseUnavailable` that stopped the read."""
        try:
            with replica.db.session(owner=owner) as s:
                # Checked before the read's snapshot exists, on the connection that serves it.
                state = s.execute("replica_state")[0]
                verdict = _verdict(state, target)
                if verdict is not None:
                    return verdict
                with replica.db.translate_errors(), s.raw.transaction():
                    return _Served(drive(make(), functools.partial(query_on, s)), state)
        except (DatabaseUnavailable, TransactionConflict) as exc:
            return exc

    async def _attempt_async(
        self, replica: _Replica, make: Callable[[], Plan[T]], target: int | None, owner: str | None
    ) -> Any:
        """`_attempt` on asyncio."""
        db: Any = replica.db
        try:
            async with db.session(owner=owner) as s:
                columns, rows = await s.rows("replica_state")
                state = dict(zip(columns, rows[0], strict=True))
                verdict = _verdict(state, target)
                if verdict is not None:
                    return verdict
                with replica.db.translate_errors():
                    async with s.raw.transaction():
                        result = await drive_async(make(), functools.partial(query_on, s))
                return _Served(result, state)
        except (DatabaseUnavailable, TransactionConflict) as exc:
            return exc

    # -- status --------------------------------------------------------------------
    def _status_entry(self, replica: _Replica, state: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {"server": replica.name}
        if isinstance(state, dict):
            lag = state["lag_seconds"]
            verdict = _verdict(state, None)
            return {
                **entry,
                "healthy": verdict is None,
                "replayed": state["replayed"],
                "lag_seconds": None if lag is None else float(lag),
                "reason": verdict,
            }
        return {**entry, "healthy": False, "replayed": None, "lag_seconds": None, "reason": state}

    def status(self) -> list[dict[str, Any]]:
        """Each replica's health and lag, checked now (a documented call, docs/scaling.md)."""
        out = []
        for replica in self._replicas:
            state: Any = replica.unreachable
            if replica.probe():
                replica.suspect = False
                try:
                    with replica.db.session() as s:
                        state = s.execute("replica_state")[0]
                except DatabaseUnavailable as exc:
                    state = str(exc)
            out.append(self._status_entry(replica, state))
        return out

    async def status_async(self) -> list[dict[str, Any]]:
        """`status` on asyncio."""
        out = []
        for replica in self._replicas:
            state: Any = replica.unreachable
            if await replica.probe_async():
                replica.suspect = False
                db: Any = replica.db
                try:
                    async with db.session() as s:
                        columns, rows = await s.rows("replica_state")
                        state = dict(zip(columns, rows[0], strict=True))
                except DatabaseUnavailable as exc:
                    state = str(exc)
            out.append(self._status_entry(replica, state))
        return out

    @contextmanager
    def statement_counter(self, *, all_threads: bool = False) -> Iterator[StatementCounter]:
        """One counter over the statements sent to every server (see
        `Database.statement_counter`)."""
        counter = StatementCounter()
        with ExitStack() as stack:
            for db in self.databases:
                stack.enter_context(db.statement_counter(counter, all_threads=all_threads))
            yield counter

    def close(self) -> None:
        """Close the replicas' pools and the primary (sync router)."""
        for replica in self._replicas:
            if not replica.pool.closed:
                replica.pool.close()
        self.primary.close()

    async def aclose_replicas(self) -> None:
        """Close the replicas' pools (async router; the store closes the primary)."""
        for replica in self._replicas:
            if not replica.pool.closed:
                await replica.pool.close()


def _with_wait(source: ReadSource, waited: float) -> ReadSource:
    if not waited:
        return source
    return ReadSource(source.server, source.role, source.replayed, source.lag_seconds, waited)
