"""Sans-IO plans and their two drivers: the one read/write path both stores share.

Every store operation (a list page, a scoped read, a write helper, a reconcile) is
written once as a generator, a *plan*, that yields the statements it needs and
receives their rows; it never touches a connection. `run` drives a plan on a
synchronous `Database`, `run_async` on an `AsyncPostgresDatabase`; both are the
same short loop, one with `await`. A plan's exceptions are its own: a failing
statement is thrown back into the plan at the `yield` that asked for it, so a
plan catches database errors exactly as straight-line code would.

Steps a plan may yield:

- ``Query(name, params)`` → ``(columns, rows)``: runs on the plan's session, opened
  at the first query and held until the plan ends: on Postgres one read-only
  transaction naming the store's owner (`pyref.owner`, which the reader functions and
  row-level security key on), elsewhere a plain (autocommit) session.
- ``Transaction(plan)`` → that plan's result: runs a sub-plan (only `Query`
  steps) in its own transaction, committed when it returns, rolled back when it
  raises. A plan that yields transactions yields no bare queries.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Generator, Mapping
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .cursors import CursorSecret
from .db import Rows
from .reads import ProfileCache

if TYPE_CHECKING:
    from .db import AsyncPostgresDatabase, Database
    from .memo import PreparedMemo

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    """What a store's plans need besides their arguments: never a connection."""

    owner: str
    dialect: str
    memo: PreparedMemo
    loads: Callable[[Any], Any]
    # (what the page statement returned, owner) -> the key signing the owner's cursors
    cursor_key: Callable[[Any, str], str]
    # The database's cursor secret once a read has seen it (cursors are verified
    # with it before any part of them is used).
    secret: CursorSecret = field(default_factory=lambda: CursorSecret())
    # Connector profiles by their digest's content, shared by the store's reads.
    profiles: ProfileCache = field(default_factory=ProfileCache)


@dataclass(frozen=True)
class Query:
    """Run the named query (or literal SQL) and send back ``(columns, rows)``."""

    name: str
    params: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Transaction:
    """Run `plan` (queries only) in one transaction and send back its result."""

    plan: Plan[Any]


Step = Query | Transaction
Plan = Generator[Step, Any, T]


def execute(name: str, params: Mapping[str, Any] | None = None) -> Plan[list[dict[str, Any]]]:
    """``rows = yield from execute(...)``: a query's rows as dicts."""
    columns, rows = yield Query(name, params)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def rows(name: str, params: Mapping[str, Any] | None = None) -> Plan[Rows]:
    """``columns, rows = yield from rows(...)``: a query's rows as value tuples."""
    result: Rows = yield Query(name, params)
    return result


def query_on(session: Any, step: Step) -> Any:
    """A query step on `session` (``await``-able on an async session): a transaction's
    steps, and a read plan's on the replica session the router chose."""
    assert isinstance(step, Query), "a transaction's plan yields only queries"
    return session.rows(step.name, step.params)


def _step(plan: Plan[T], sent: Any, error: BaseException | None) -> Step:
    return plan.throw(error) if error is not None else plan.send(sent)


def drive(plan: Plan[T], perform: Callable[[Step], Any]) -> T:
    """Feed `plan` the result (or the error) of `perform(step)` for each step."""
    sent: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = _step(plan, sent, error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        sent, error = None, None
        try:
            sent = perform(step)
        except Exception as exc:
            error = exc


def run(db: Database, plan: Plan[T], owner: str | None = None) -> T:
    """Drive `plan` on a synchronous database (SQLite, or Postgres through psycopg);
    its bare queries run in one read session naming `owner` (see `Database.session`)."""
    with ExitStack() as stack:
        sessions: list[Any] = []

        def perform(step: Step) -> Any:
            if isinstance(step, Transaction):
                with db.session(transaction=True) as s:
                    return drive(step.plan, functools.partial(query_on, s))
            if not sessions:
                sessions.append(stack.enter_context(db.session(owner=owner)))
            return sessions[0].rows(step.name, step.params)

        return drive(plan, perform)


async def drive_async(plan: Plan[T], perform: Callable[[Step], Awaitable[Any]]) -> T:
    """`drive` with an awaited `perform`."""
    sent: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = _step(plan, sent, error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        sent, error = None, None
        try:
            sent = await perform(step)
        except Exception as exc:
            error = exc


async def run_async(db: AsyncPostgresDatabase, plan: Plan[T], owner: str | None = None) -> T:
    """Drive `plan` on psycopg's async connections: `run` with `await`."""
    async with AsyncExitStack() as stack:
        sessions: list[Any] = []

        async def perform(step: Step) -> Any:
            if isinstance(step, Transaction):
                async with db.session(transaction=True) as s:
                    return await drive_async(step.plan, functools.partial(query_on, s))
            if not sessions:
                sessions.append(await stack.enter_async_context(db.session(owner=owner)))
            return await sessions[0].rows(step.name, step.params)

        return await drive_async(plan, perform)
