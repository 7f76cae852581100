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
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from .db import Database, PostgresDatabase, StatementCounter, cancelled_by_recovery, redact_dsn
from .errors import DatabaseUnavailable, InvalidInput
from .inputs import shown
from .plan import Plan, drive, query_on, run

T = TypeVar("T")
Consistency = Literal["session", "strict"]
CONSISTENCIES = ("session", "strict")
# How often a read waiting for a lagging replica re-checks its replay position.
POLL_SECONDS = 0.005


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
    wait its whole timeout for a connection that never comes)."""

    def __init__(self, dsn: str, timeout: float, *, prepare: bool = True) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        def configure(conn: Any) -> None:
            # The BEGIN a read sends carries these; statements outside it are autocommit.
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True

        self.dsn = dsn
        self.name = redact_dsn(dsn)
        self.connect_timeout = max(1, round(timeout))
        # Opened on the first successful probe: a replica that is down at start is not an error.
        self.pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=8,
            kwargs={
                "autocommit": True,
                "connect_timeout": self.connect_timeout,
                **({} if prepare else {"prepare_threshold": None}),
            },
            configure=configure,
            # A connection the server closed is replaced, not handed out.
            check=ConnectionPool.check_connection,
            open=False,
            timeout=timeout,
            name=f"pyreference-replica {self.name}",
        )
        self.db = PostgresDatabase(self.pool, dsn=dsn, prepare=prepare)
        self.down_until = 0.0
        self.suspect = True
        self.reason: str | None = None
        self._lock = threading.Lock()

    def available(self, now: float) -> bool:
        return now >= self.down_until

    def mark_down(self, reason: str, retry_after: float) -> None:
        self.reason = reason
        self.suspect = True
        self.down_until = time.monotonic() + retry_after

    def ready(self, retry_after: float) -> bool:
        """Probe a suspect replica; True when its pool may be used."""
        if not self.suspect:
            return True
        import psycopg

        with self._lock:
            if not self.suspect:
                return True
            try:
                psycopg.connect(self.dsn, connect_timeout=self.connect_timeout).close()
            except psycopg.Error:
                self.mark_down(f"cannot reach PostgreSQL at {self.name}", retry_after)
                return False
            if self.pool.closed:
                self.pool.open(wait=False)
            else:
                self.pool.check()  # drop connections the server closed while it was away
            self.suspect = False
            return True


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
    ) -> None:
        if consistency not in CONSISTENCIES:
            raise InvalidInput(f"consistency must be one of {', '.join(CONSISTENCIES)}")
        for name, value in (
            ("replica_wait", replica_wait),
            ("retry_after", retry_after),
            ("replica_timeout", replica_timeout),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidInput(f"{name} must be a number of seconds >= 0")
        if isinstance(replicas, str) or not all(isinstance(r, str) for r in replicas):
            raise InvalidInput("replicas must be a list of PostgreSQL URLs")
        if replicas and primary.dialect != "postgres":
            raise InvalidInput("replicas need a PostgreSQL primary")
        for dsn in replicas:
            if not dsn.startswith(("postgresql://", "postgres://")) and "=" not in dsn:
                raise InvalidInput(f"unsupported replica URL: {redact_dsn(dsn)}")
        self.primary = primary
        self.consistency = consistency
        self.replica_wait = float(replica_wait)
        self.retry_after = float(retry_after)
        # Replicas follow the primary's pooler setting (prepare=False behind PgBouncer).
        prepare = getattr(primary, "prepared_statements", True)
        self._replicas = [
            _Replica(dsn, float(replica_timeout) or 2.0, prepare=prepare) for dsn in replicas
        ]
        self._turn = itertools.count()
        self._own = 0
        self._own_lock = threading.Lock()

    @property
    def routes(self) -> bool:
        """True when there are replicas to route reads to."""
        return bool(self._replicas)

    @property
    def databases(self) -> list[Database]:
        return [self.primary, *(r.db for r in self._replicas)]

    # -- positions -----------------------------------------------------------------
    def note_write(self) -> str | None:
        """After a committed write: remember and return the primary's WAL insert position."""
        if not self._replicas:
            return None
        position = self._primary_position()
        with self._own_lock:
            self._own = max(self._own, parse_position(position))
        return position

    @property
    def own_position(self) -> str | None:
        """The position of this store's latest write (None before any, or without replicas)."""
        return format_position(self._own) if self._own else None

    def current_position(self) -> str:
        """The primary's WAL insert position now (a token for `consistent_with=`)."""
        if self.primary.dialect != "postgres":
            raise InvalidInput("WAL positions exist on PostgreSQL only")
        return self._primary_position()

    def target(self, consistent_with: str | None) -> int | None:
        """The position a read must observe: the caller's, the store's own, or (strict) now."""
        if not self._replicas:
            if consistent_with is not None:
                parse_position(consistent_with)  # validate; the primary is always current
            return None
        wanted = [self._own]
        if consistent_with is not None:
            wanted.append(parse_position(consistent_with))
        if self.consistency == "strict":
            wanted.append(parse_position(self._primary_position()))
        return max(wanted) or None

    def _primary_position(self) -> str:
        with self.primary.session() as s:
            return str(s.execute("write_position")[0]["position"])

    # -- reads ---------------------------------------------------------------------
    def read(self, make: Callable[[], Plan[T]], target: int | None) -> tuple[T, ReadSource]:
        """Drive the read plan `make()` on a replica that replayed `target`, else the primary.

        A fresh plan is made for each attempt (a replica failing mid-read is retried
        elsewhere); read plans never write. Errors other than an unreachable or cancelling
        replica propagate.
        """
        if not self._replicas:
            return run(self.primary, make()), PRIMARY
        started = time.monotonic()
        deadline = started + (self.replica_wait if target else 0.0)
        while True:
            behind = False
            for replica in self._rotation():
                outcome = self._try(replica, make, target)
                if outcome is _BEHIND:
                    behind = True
                elif outcome is not None:
                    result, source = outcome
                    waited = round(time.monotonic() - started, 6) if target else 0.0
                    return result, _with_wait(source, waited)
            if not behind or time.monotonic() >= deadline:
                break
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        result = run(self.primary, make())
        waited = round(time.monotonic() - started, 6)
        return result, _with_wait(PRIMARY, waited)

    def _rotation(self) -> Iterator[_Replica]:
        now = time.monotonic()
        first = next(self._turn) % len(self._replicas)
        for replica in self._replicas[first:] + self._replicas[:first]:
            if replica.available(now):
                yield replica

    def _try(self, replica: _Replica, make: Callable[[], Plan[T]], target: int | None) -> Any:
        """(result, source), `_BEHIND`, or None when the replica cannot serve now."""
        if not replica.ready(self.retry_after):
            return None
        try:
            with replica.db.session() as s:
                state = s.execute("replica_state")[0]
                if not state["in_recovery"] or state["replayed"] is None:
                    replica.mark_down("not a standby (not in recovery)", self.retry_after)
                    return None
                if target and parse_position(state["replayed"]) < target:
                    return _BEHIND
                with replica.db.translate_errors(), s.raw.transaction():
                    result = drive(make(), functools.partial(query_on, s))
        except DatabaseUnavailable as exc:
            if type(exc.__cause__).__name__ == "PoolTimeout":
                replica.suspect = True  # busy, or gone: probe before the next use
            elif not cancelled_by_recovery(exc):
                replica.mark_down(str(exc), self.retry_after)
            return None
        replica.reason = None
        lag = state["lag_seconds"]
        source = ReadSource(
            server=replica.name,
            role="replica",
            replayed=state["replayed"],
            lag_seconds=None if lag is None else float(lag),
        )
        return result, source

    # -- status --------------------------------------------------------------------
    def status(self) -> list[dict[str, Any]]:
        """Each replica's health and lag, checked now (a documented call, docs/scaling.md)."""
        out = []
        for replica in self._replicas:
            entry: dict[str, Any] = {"server": replica.name}
            if not replica.ready(self.retry_after):
                entry.update(healthy=False, replayed=None, lag_seconds=None, reason=replica.reason)
                out.append(entry)
                continue
            try:
                with replica.db.session() as s:
                    state = s.execute("replica_state")[0]
                healthy = bool(state["in_recovery"]) and state["replayed"] is not None
                lag = state["lag_seconds"]
                entry.update(
                    healthy=healthy,
                    replayed=state["replayed"],
                    lag_seconds=None if lag is None else float(lag),
                    reason=None if healthy else "not a standby (not in recovery)",
                )
            except DatabaseUnavailable as exc:
                entry.update(healthy=False, replayed=None, lag_seconds=None, reason=str(exc))
            out.append(entry)
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
        for replica in self._replicas:
            if not replica.pool.closed:
                replica.pool.close()
        self.primary.close()


_BEHIND = object()


def _with_wait(source: ReadSource, waited: float) -> ReadSource:
    if not waited:
        return source
    return ReadSource(source.server, source.role, source.replayed, source.lag_seconds, waited)
