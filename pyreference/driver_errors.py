"""The one mapping from driver errors to pyreference's typed errors (both backends).

`Database.translate_errors` (pyreference/db.py) wraps every statement, transaction and
connection checkout of both stores (sync and async) and raises what `postgres_error` or
`sqlite_error` returns, chained to the driver's exception. The mapping is total: every
psycopg or sqlite3 error becomes a `PyreferenceError`, chosen by the database's own error
code (the SQLSTATE class on Postgres, the result code on SQLite), never by the Python
class psycopg happens to give it (a PL/pgSQL `RAISE ... USING ERRCODE` of class 55 is an
`OperationalError` to psycopg, but the server is there):

- `SchemaNotReady`: a missing table, function, column, object or schema (42P01 42883
  42703 42704 3F000); SQLite "no such table/view/column", "has no column named".
- `InsufficientPrivilege`: 42501.
- `InvalidInput`: classes 21 22 23 44 and 40002 (cardinality, data, integrity, check
  option); SQLite constraints (and a trigger's `RAISE(ABORT)`), too big, malformed JSON,
  a value it cannot bind.
- `TransactionConflict`: 40001 40P01 40000. `LockTimeout`: 55P03; SQLite busy or locked.
- `StatementTimeout`: 57014; SQLite interrupted. `ReadOnlyDatabase`: 25006; SQLite
  read-only.
- `DatabaseUnavailable`: classes 08 28 53 57 (but 57014) 58, 3D000, a prepared statement
  lost behind a pooler (26000 42P05), a broken connection; SQLite cannot open, I/O error,
  full, not a database, closed.
- `DatabaseError`: anything else (P0001 from a PL/pgSQL `RAISE`, XX, 0A, 54, 25P02, a
  driver refusal; any other SQLite code).

Messages never contain SQL text or parameter values: they name the SQLSTATE and its
condition, and objects the server names (table, column, constraint, data type, the
function that raised); a missing object's own description (e.g. `column "x" does not
exist`) where the schema is missing. `err.sqlstate` holds the code.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from .conninfo import failure_reason
from .errors import (
    DatabaseError,
    DatabaseUnavailable,
    InsufficientPrivilege,
    InvalidInput,
    LockTimeout,
    PyreferenceError,
    ReadOnlyDatabase,
    SchemaNotReady,
    StatementTimeout,
    TransactionConflict,
)

# The one message for any statement that would change or remove a spine event (both backends).
APPEND_ONLY = "spine_events is append-only: insert a new event instead of changing or removing one"
PREPARE_ENV = "PYREFERENCE_PREPARE"
MIGRATE = "run `pyreference migrate`"

# -- Postgres ---------------------------------------------------------------------

# A missing table, function, column, object (type, ...) or schema: not migrated, or
# migrated by an older pyreference.
_SCHEMA_STATES = frozenset({"42P01", "42883", "42703", "42704", "3F000"})
_INPUT_CLASSES = ("21", "22", "23", "44")
_CONFLICT_STATES = frozenset({"40000", "40001", "40P01"})
# Connection, authorization, missing database, resources, shutdown, system errors.
_UNAVAILABLE_CLASSES = ("08", "28", "3D", "53", "57", "58")
_LIMIT = 200


def postgres_error(exc: Exception, *, where: str, dsn: str | None = None) -> PyreferenceError:
    """The typed error for a psycopg error.

    Args:
        exc: a `psycopg.Error` (server errors carry a SQLSTATE; the driver's own do not).
        where: the server, described without password (for messages).
        dsn: the DSN in use, so that no password of it is ever shown.

    Returns:
        The `PyreferenceError` to raise from `exc` (see the module's table), its
        `sqlstate` set.
    """
    state: str | None = getattr(exc, "sqlstate", None)
    typed = _postgres_server(exc, state, where, dsn) if state else _postgres_client(exc, where, dsn)
    typed.sqlstate = state
    return typed


def _postgres_server(exc: Any, state: str, where: str, dsn: str | None) -> PyreferenceError:
    diag = exc.diag
    primary = diag.message_primary or ""
    condition = _condition(exc, state)
    if state in _SCHEMA_STATES:
        return SchemaNotReady(
            f"the pyreference schema is missing or outdated ({condition}: "
            f"{_clip(primary)}): {MIGRATE}"
        )
    if state == "42501":
        return InsufficientPrivilege(_privilege_message(primary))
    if state == "25006":
        return ReadOnlyDatabase.at(where)
    if state in ("26000", "42P05"):
        return DatabaseUnavailable(
            f"PostgreSQL at {where} lost a prepared statement: the server connection is "
            "shared (a transaction pooler such as PgBouncer?); connect with prepare=False "
            f"or {PREPARE_ENV}=0"
        )
    if state == "57014":
        return StatementTimeout(
            "PostgreSQL cancelled the statement (statement_timeout, or a cancel request);"
            " nothing was committed: retry, or raise statement_timeout for this role"
        )
    if state == "55P03":
        return LockTimeout(
            "a lock was not granted in time (lock_timeout); nothing was committed: retry"
        )
    if state in _CONFLICT_STATES:
        return TransactionConflict(
            f"a concurrent transaction conflicted with this one ({condition}); nothing was"
            " written: retry"
        )
    if state.startswith(_INPUT_CLASSES) or state == "40002":
        if "append-only" in primary:
            return InvalidInput(APPEND_ONLY)
        return InvalidInput(_integrity_message(state, diag.constraint_name, condition))
    if state.startswith(_UNAVAILABLE_CLASSES):
        if state.startswith(("53", "58")) and state != "53300":
            return DatabaseUnavailable(
                f"PostgreSQL at {where} cannot serve the call now ({condition}{_objects(diag)})"
            )
        return DatabaseUnavailable(
            f"cannot reach PostgreSQL at {where}: {failure_reason(primary, dsn)} ({condition})"
        )
    if state == "25P02":
        return callers_transaction_aborted(where)
    if state.startswith("P0"):
        return DatabaseError(
            f"a database function or trigger raised an error ({condition}{_objects(diag)})"
        )
    return DatabaseError(f"PostgreSQL refused the call ({condition}{_objects(diag)})")


def callers_transaction_aborted(where: str) -> PyreferenceError:
    """The error for a store call on a caller's connection whose own transaction has
    already failed (SQLSTATE 25P02 in_failed_sql_transaction): raised before any statement
    is sent when the connection says so (`PostgresDatabase.session`), and the mapping of
    25P02 should the server answer it.

    Args:
        where: the server, described without password.

    Returns:
        A `DatabaseError` (not retryable as is), `sqlstate` "25P02".
    """
    typed = DatabaseError(
        f"the caller's transaction on this connection to PostgreSQL at {where} is aborted"
        " (an earlier statement of it failed; SQLSTATE 25P02 in_failed_sql_transaction):"
        " roll back that transaction (or to a savepoint) before using the store on this"
        " connection"
    )
    typed.sqlstate = "25P02"
    return typed


def _postgres_client(exc: Exception, where: str, dsn: str | None) -> PyreferenceError:
    """An error psycopg raised itself (no SQLSTATE)."""
    kind = type(exc).__name__
    if kind == "PipelineAborted":
        return DatabaseError("an earlier statement of the same pipeline failed")
    if kind == "DataError":  # a value psycopg cannot send (e.g. a NUL in text)
        return InvalidInput("a value PostgreSQL cannot take (the driver refused to send it)")
    if _is(exc, "OperationalError"):
        reason = failure_reason(str(exc), dsn)
        return DatabaseUnavailable(f"cannot reach PostgreSQL at {where}: {reason}")
    if kind == "InternalError" and str(exc).startswith("received "):
        # psycopg's "received N results from command ..." (BEGIN, COMMIT): the server or a
        # pooler answered out of turn, as PgBouncer does when the server backend dies
        # during COMMIT. The connection is done and the outcome of the call unknown.
        return DatabaseUnavailable(
            f"the connection to PostgreSQL at {where} broke during the call (the server"
            " answered one command with several results): whether it took effect is unknown"
        )
    return DatabaseError(f"the PostgreSQL driver refused the call (psycopg {kind})")


def _is(exc: Exception, name: str) -> bool:
    return any(c.__name__ == name for c in type(exc).__mro__)


_BASES = frozenset(
    {
        "Error",
        "DatabaseError",
        "OperationalError",
        "ProgrammingError",
        "InternalError",
        "IntegrityError",
        "DataError",
        "NotSupportedError",
    }
)


def _condition(exc: Exception, state: str) -> str:
    """`SQLSTATE 42703 undefined_column`: the code and psycopg's name for it."""
    name = type(exc).__name__
    if name in _BASES:
        return f"SQLSTATE {state}"
    return f"SQLSTATE {state} {re.sub(r'(?<!^)(?=[A-Z])', '_', name).lower()}"


_FUNCTION = re.compile(r"(?:PL/pgSQL|SQL) function ([\w.\"]+)\(")


def _objects(diag: Any) -> str:
    """`: table x, column y, in function f` from what the server named (identifiers only)."""
    parts = [
        f"{label} {value}"
        for label, value in (
            ("schema", diag.schema_name),
            ("table", diag.table_name),
            ("column", diag.column_name),
            ("type", diag.datatype_name),
            ("constraint", diag.constraint_name),
        )
        if value
    ]
    raised = _FUNCTION.search(diag.context or "")
    if raised:
        parts.append(f"in function {raised.group(1)}")
    return f": {', '.join(parts)}" if parts else ""


def _clip(text: str) -> str:
    return " ".join(text.split())[:_LIMIT]


_DENIED = re.compile(r"permission denied for (table|view|sequence|function|schema|database) (\w+)")


def _privilege_message(primary: str | None) -> str:
    """What a role may not do, naming the object the server named (never SQL text)."""
    found = _DENIED.search(primary or "")
    what = f" on {found.group(1)} {found.group(2)}" if found else ""
    return (
        f"permission denied{what}: this database role lacks a privilege the call needs"
        " (a DBA grants each role what it needs with `pyreference grants`)"
    )


def _integrity_message(sqlstate: str, constraint: str | None, condition: str) -> str:
    what = {
        "23505": "duplicate key",
        "23503": "reference to a row that does not exist",
        "23514": "value outside the allowed set",
        "23502": "missing required value",
    }.get(sqlstate)
    if what is None:
        what = f"rejected value ({condition})"
    return f"{what}{f' ({constraint})' if constraint else ''}"


# -- SQLite -------------------------------------------------------------------------

_SQLITE_SCHEMA = ("no such table", "no such view", "no such column")
_SQLITE_UNAVAILABLE = (
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_NOTADB",
    "SQLITE_NOMEM",
    "SQLITE_PERM",
    "SQLITE_PROTOCOL",
)


def sqlite_error(exc: Exception, *, path: str) -> PyreferenceError:
    """The typed error for a sqlite3 error (or the OverflowError / UnicodeEncodeError it
    raises for a value it cannot bind).

    Args:
        exc: the exception.
        path: the database file (for messages).

    Returns:
        The `PyreferenceError` to raise from `exc` (see the module's table), its
        `sqlstate` set to SQLite's result code name when there is one.
    """
    code: str | None = getattr(exc, "sqlite_errorname", None)
    typed = _sqlite(exc, code, str(exc), path)
    typed.sqlstate = code
    return typed


def _sqlite(exc: Exception, code: str | None, text: str, path: str) -> PyreferenceError:
    what = f" ({code})" if code else ""
    if isinstance(exc, OverflowError):
        return InvalidInput("an integer outside 64-bit range")
    if isinstance(exc, UnicodeEncodeError):
        return InvalidInput("text that is not encodable (a lone surrogate)")
    if isinstance(exc, sqlite3.IntegrityError):  # constraints, and RAISE(ABORT) of a trigger
        return InvalidInput(_sqlite_integrity_message(text))
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in text:
        # As on Postgres (a closed pool): the store was closed, not a bad statement.
        return DatabaseUnavailable(f"the SQLite database {path} is closed")
    if "malformed JSON" in text:
        return InvalidInput("malformed JSON")
    if isinstance(exc, sqlite3.DataError) or code == "SQLITE_TOOBIG":
        return InvalidInput(f"a value SQLite cannot store{what}")
    if text.startswith(_SQLITE_SCHEMA) or "has no column named" in text:
        # "no such column: x" names only the missing object.
        return SchemaNotReady(
            f"the pyreference schema is missing or outdated ({_clip(text)}): {MIGRATE}"
        )
    if (code or "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "is locked" in text:
        return LockTimeout(
            f"SQLite database {path} is locked by another writer (busy timeout"
            " expired); nothing was committed: retry"
        )
    if (code or "").startswith("SQLITE_READONLY") or "readonly database" in text:
        return ReadOnlyDatabase(
            f"SQLite database {path} is read-only (file or folder permissions, or opened"
            f" read-only){what}"
        )
    if code == "SQLITE_INTERRUPT":
        return StatementTimeout("the SQLite statement was interrupted; nothing was committed")
    if "unable to open" in text:
        return DatabaseUnavailable(f"cannot open SQLite database {path}")
    if (code or "").startswith(_SQLITE_UNAVAILABLE):
        return DatabaseUnavailable(f"SQLite database {path} cannot serve the call now{what}")
    return DatabaseError(f"SQLite refused the call ({code or 'sqlite3.' + type(exc).__name__})")


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
