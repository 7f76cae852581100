"""Typed errors: everything pyreference raises on purpose derives from PyreferenceError."""

from __future__ import annotations

from typing import Any

SHOWN = 60  # the most characters of a caller's value any message echoes


def shown(value: Any) -> str:
    """``repr(value)`` cut to `SHOWN` characters, for messages."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


class PyreferenceError(Exception):
    """Base class of every error pyreference raises on purpose.

    `retryable` is True on errors where the same call may succeed if simply made again
    (a lock or a timeout that a busy moment caused); False everywhere else.
    """

    retryable: bool = False
    # The database's own code for the failure this error translates, when there is one:
    # the SQLSTATE on Postgres (e.g. "42703"), the result code name on SQLite (e.g.
    # "SQLITE_BUSY"). The driver's exception is chained as `__cause__` (for logs).
    sqlstate: str | None = None


class ConnectionNotFound(PyreferenceError, LookupError):
    """No connection (or no single connection of a connector) matches the id."""


class InvalidCursor(PyreferenceError, ValueError):
    """A page cursor is malformed, tampered with, or belongs to another owner or filter."""


class SchemaNotReady(PyreferenceError):
    """The database has not been migrated; run `pyreference migrate`."""


class InvalidInput(PyreferenceError, ValueError):
    """An argument or a row to write is malformed; nothing was written."""


class DatabaseUnavailable(PyreferenceError):
    """The database cannot be reached, or cannot serve calls now: the connection failed or
    broke, the server is shutting down or out of resources (Postgres SQLSTATE classes 08,
    28, 53, 57P, 58; SQLite I/O errors, a full disk, a file that is not a database). The
    message names the host or file, never a password."""


class EventLoopMismatch(PyreferenceError, RuntimeError):
    """An async store's own pool was used (or closed) from an event loop other than the one
    that opened it, and that loop is no longer running: asyncio pools belong to one loop.
    Open, use and close an async store on one loop (`async with await connect_async(…)`)."""


class ReadOnlyDatabase(PyreferenceError):
    """A write, maintenance call or migration reached a read-only server (a hot standby).

    Route writes to the primary: `connect(primary, replicas=[...])` does (docs/scaling.md)."""

    @classmethod
    def at(cls, server: str) -> ReadOnlyDatabase:
        """The error for `server` (a description without password)."""
        return cls(
            f"PostgreSQL at {server} is read-only (a hot standby replica, or "
            "default_transaction_read_only is on): writes, maintenance and migrations "
            "must run on the primary"
        )


class MigrationLocked(PyreferenceError):
    """`migrate()` could not take the migration lock in time (another migrate is running),
    a lock row left by `yoyo apply` remains, or a migration waited too long for a table lock.
    Nothing was applied by this call; the message says who holds what and what to do."""


class InsufficientPrivilege(PyreferenceError, PermissionError):
    """The database role lacks a privilege this call needs (SQLSTATE 42501).

    The message names the kind of object when the server does, never SQL text; a DBA
    grants what each role needs with `pyreference grants` (docs/dba-guide.md). Not retryable.
    """


class StatementTimeout(PyreferenceError, TimeoutError):
    """The server cancelled a statement: `statement_timeout` expired, or it was cancelled
    (SQLSTATE 57014). Nothing of the call was committed; retryable."""

    retryable = True


class LockTimeout(PyreferenceError, TimeoutError):
    """A lock could not be taken in time: Postgres `lock_timeout` or NOWAIT (SQLSTATE 55P03),
    or SQLite's "database is locked" after its busy timeout. Nothing of the call was
    committed; retryable."""

    retryable = True


class TransactionConflict(PyreferenceError):
    """A concurrent transaction conflicted with this one (PostgreSQL serialization
    failure or deadlock, SQLSTATE 40001 / 40P01); nothing was written. Retry the call."""

    retryable = True


class ConnectionAmbiguous(PyreferenceError, LookupError):
    """A connector id names several non-draft connections of the owner (R62).

    ``candidates`` holds ``(connection_id, display_name, status)`` in list order.
    """

    def __init__(self, message: str, candidates: tuple[tuple[str, str, str], ...] = ()) -> None:
        super().__init__(message)
        self.candidates = candidates


class DatabaseError(PyreferenceError):
    """The database refused a call for a reason no other error here names: a database
    function or trigger raised an error of its own (PL/pgSQL `RAISE`, SQLSTATE P0001), an
    internal error, a feature the server lacks, a statement it found too complex, a
    caller's transaction that had already failed, a driver refusal.

    The message names the SQLSTATE and its condition (Postgres) or SQLite's result code,
    plus the objects the server names (table, column, constraint, function); never SQL
    text or parameter values. `sqlstate` holds the code; the driver's exception is chained
    as `__cause__`. Not retryable."""
