"""pyreference: a maintained, SQL-first connection-summary read model for Postgres and SQLite."""

# First: importing it decides whether the compiled modules run (see pyreference/native.py).
from . import native  # noqa: F401
from .aio import AsyncStore, connect_async
from .errors import (
    ConnectionAmbiguous,
    ConnectionNotFound,
    DatabaseError,
    DatabaseUnavailable,
    InsufficientPrivilege,
    InvalidCursor,
    InvalidInput,
    LockTimeout,
    MigrationLocked,
    PyreferenceError,
    ReadOnlyDatabase,
    SchemaNotReady,
    StatementTimeout,
    TransactionConflict,
)
from .store import Page, Resolution, Store, connect
from .synthesis import ConnectionDiagnostics, ConnectionSummary, Runtime, synthesize

__all__ = [
    "AsyncStore",
    "ConnectionAmbiguous",
    "ConnectionDiagnostics",
    "ConnectionNotFound",
    "ConnectionSummary",
    "DatabaseError",
    "DatabaseUnavailable",
    "InsufficientPrivilege",
    "InvalidCursor",
    "InvalidInput",
    "LockTimeout",
    "MigrationLocked",
    "Page",
    "PyreferenceError",
    "ReadOnlyDatabase",
    "Resolution",
    "Runtime",
    "SchemaNotReady",
    "StatementTimeout",
    "Store",
    "TransactionConflict",
    "connect",
    "connect_async",
    "synthesize",
]
__version__ = "0.1.0"
