"""The driver-error mapping is total (pyreference/driver_errors.py): every SQLSTATE psycopg
knows, and every sqlite3 error class, becomes a typed error that shows no driver text."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from pyreference import errors
from pyreference.driver_errors import postgres_error, sqlite_error

DRIVER_TEXT = "boom LINE 1: SELECT secret FROM t WHERE x = 42 DETAIL: Key (x)=(42)"
# Every SQLSTATE psycopg has a class for.
SQLSTATES = sorted(
    {
        c.sqlstate
        for c in vars(psycopg.errors).values()
        if isinstance(c, type) and issubclass(c, psycopg.Error) and getattr(c, "sqlstate", None)
    }
)
UNAVAILABLE = ("08", "28", "3D", "53", "57", "58", "26000", "42P05")


@pytest.mark.parametrize("state", SQLSTATES)
def test_every_sqlstate_is_typed_and_shows_no_driver_text(state: str) -> None:
    exc = psycopg.errors.lookup(state)(DRIVER_TEXT)
    typed = postgres_error(exc, where="postgresql://u@h:5432/db")
    assert isinstance(typed, errors.PyreferenceError) and typed.sqlstate == state
    assert "SELECT" not in str(typed) and "42" not in str(typed).replace(state, "")
    # "cannot reach" / unavailable only for connection, resource and shutdown classes.
    unavailable = isinstance(typed, errors.DatabaseUnavailable)
    assert unavailable == (state.startswith(UNAVAILABLE) and state != "57014"), typed
    if state.startswith("P0"):
        assert isinstance(typed, errors.DatabaseError)


def test_the_drivers_own_errors_are_typed() -> None:
    where = "postgresql://u@h:5432/db"
    lost = postgres_error(psycopg.OperationalError("the connection is closed"), where=where)
    assert isinstance(lost, errors.DatabaseUnavailable) and lost.sqlstate is None
    refused = postgres_error(psycopg.ProgrammingError(DRIVER_TEXT), where=where)
    assert isinstance(refused, errors.DatabaseError) and "SELECT" not in str(refused)
    value = postgres_error(psycopg.DataError("NUL in text: 'secret'"), where=where)
    assert isinstance(value, errors.InvalidInput) and "secret" not in str(value)
    # Behind PgBouncer, a backend killed during COMMIT: the connection broke.
    broke = postgres_error(
        psycopg.InternalError("received 2 results from command 'COMMIT'"), where=where
    )
    assert isinstance(broke, errors.DatabaseUnavailable) and "COMMIT" not in str(broke)


@pytest.mark.parametrize(
    "exc",
    [
        sqlite3.Error(DRIVER_TEXT),
        sqlite3.DatabaseError(DRIVER_TEXT),
        sqlite3.OperationalError(DRIVER_TEXT),
        sqlite3.ProgrammingError(DRIVER_TEXT),
        sqlite3.InterfaceError(DRIVER_TEXT),
        sqlite3.InternalError(DRIVER_TEXT),
        sqlite3.NotSupportedError(DRIVER_TEXT),
        sqlite3.DataError(DRIVER_TEXT),
        sqlite3.IntegrityError(DRIVER_TEXT),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_sqlite3_error_is_typed_and_shows_no_driver_text(exc: Exception) -> None:
    typed = sqlite_error(exc, path="/tmp/x.db")
    assert isinstance(typed, errors.PyreferenceError)
    assert "SELECT" not in str(typed) and "42" not in str(typed)
    assert not isinstance(typed, errors.DatabaseUnavailable)
