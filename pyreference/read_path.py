"""The read path, written once as plans (see `plan.py`) that the sync and async stores drive.

A list page (R10, R12) is one page statement (`list_keys` for a store whose memo holds
rows, then `page_rows` for clean rows it lacks; `list_page`, whole rows, otherwise) plus,
when the page holds dirty rows, one `recompute_evidence` statement (R6): at most three.
A scoped read (R11) is one `scoped_summary` statement plus the same recompute for its
row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .cursors import check_format, cursor_position, encode_cursor, verify_cursor
from .db import Ids, unreadable_data
from .errors import ConnectionAmbiguous, ConnectionNotFound, InvalidCursor, InvalidInput
from .evidence import DeepEvidence, Evidence
from .inputs import cursor_text, id_set, ident, optional_ident, shown
from .memo import MAX_PAGE_ROWS, PageKeys, as_keyed, from_memo, prepare_rows
from .plan import Context, Plan, execute, rows
from .reads import (
    PageDecoder,
    deep_from_row,
    evidence_from_row,
    needs_recompute,
    unreadable,
    unreadable_evidence,
)
from .routing import PRIMARY, ReadSource
from .synthesis import (
    ConnectionDiagnostics,
    ConnectionSummary,
    Prepared,
    Runtime,
    diagnose,
    summarize_at,
    synthesize,
)
from .timeutil import now_utc, to_utc


@dataclass(frozen=True)
class Page:
    """One keyset page of summaries (R12): `items`, an opaque `next_cursor`, `has_more`.

    `source` says which server served the page and how old its data may be (replica lag,
    docs/scaling.md); it describes the read, not the data, so `to_dict()` leaves it out."""

    items: tuple[ConnectionSummary, ...]
    next_cursor: str | None
    has_more: bool
    source: ReadSource = field(default=PRIMARY, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [item.to_dict() for item in self.items],
            "next_cursor": self.next_cursor,
            "has_more": self.has_more,
        }


# Candidates an ambiguous resolution lists (R62); a connector rarely has more.
MAX_CANDIDATES = 100


@dataclass(frozen=True)
class Resolution:
    """R62: how a reference resolves: ``resolved``, ``unresolved`` or ``ambiguous``.

    ``candidates`` are ``(connection_id, display_name, status)`` in list order (only
    when ambiguous; at most ``MAX_CANDIDATES``).
    """

    state: str
    connection_id: str | None = None
    candidates: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class ListRequest:
    """Validated arguments of one list read; `key` identifies identical concurrent reads (R13)."""

    limit: int
    cursor: str | None
    connector_id: str | None
    now: datetime
    runtime: Runtime
    key: tuple[Any, ...]
    # The WAL position a replica must have replayed to serve it (routing.Router.target).
    target: int | None = None

    def at_position(self, target: int | None) -> ListRequest:
        """This request needing `target`; the position joins the key, so a read never
        shares a page older than it asked for."""
        return dataclasses.replace(self, target=target, key=(*self.key, target))


def list_request(
    limit: Any,
    cursor: Any,
    connector_id: Any,
    now: datetime | str | None,
    live_run_ids: frozenset[str] | None,
) -> ListRequest:
    """Check a list read's arguments (raises `InvalidInput`) before any I/O."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_ROWS:
        raise InvalidInput(f"limit must be an int from 1 to {MAX_PAGE_ROWS}, not {shown(limit)}")
    connector_id = optional_ident(connector_id, "connector_id")
    cursor = cursor_text(cursor)
    at = now_utc() if now is None else to_utc(now, "now")
    runtime = Runtime(live_run_ids=id_set(live_run_ids, "live_run_ids"))
    key = (limit, cursor, connector_id, None if now is None else at, runtime.live_run_ids)
    return ListRequest(limit, cursor, connector_id, at, runtime, key)


def page_statement(
    owner: str, fetch: int, connector_id: str | None, cursor: str | None, keys: bool = False
) -> tuple[str, dict[str, Any]]:
    """The named page statement and its parameters (R10/R12).

    Args:
        owner: the owner whose connections are listed.
        fetch: rows to fetch (the page size plus one, to learn whether more follow).
        connector_id: only this connector's connections, or all.
        cursor: the position to continue after (its signature is checked by the caller).
        keys: the page's key columns only (`list_keys…`, for a store that memoizes rows),
            not its whole rows (`list_page…`).

    Returns:
        One of `list_page`, `list_page_after`, `list_page_connector`,
        `list_page_connector_after` (or the same four `list_keys…`), and exactly the
        parameters it takes: each keeps the keyset an index condition under any plan.

    Raises:
        InvalidCursor: the cursor is malformed or bound to another owner or filter.
    """
    name = "list_keys" if keys else "list_page"
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


def list_page(ctx: Context, req: ListRequest) -> Plan[Page]:
    """One keyset page of summaries: a fixed number of statements whatever the fleet.

    A store whose memo holds rows reads the page's key columns, then (one more
    statement) whole rows only for clean rows its memo lacks; otherwise it reads whole
    rows."""
    if req.cursor is not None:
        # Verified before any part of it is used: a tampered position never reaches
        # the query.
        yield from _verify_cursor(ctx, req.cursor)
    # A store whose memo holds nothing yet (its first read) reads whole rows: a second
    # statement would only fetch them all again.
    keyed = len(ctx.memo) > 0
    name, params = page_statement(ctx.owner, req.limit + 1, req.connector_id, req.cursor, keyed)
    columns, page_rows = yield from rows(name, params)
    column = {name: i for i, name in enumerate(columns)}
    # The page query carries the cursor key; only an empty page needs a lookup.
    if page_rows:
        secret = ctx.secret.value = ctx.cursor_key(page_rows[0][column["cursor_key"]], ctx.owner)
    else:
        secret = yield from _read_secret(ctx)
    has_more = len(page_rows) > req.limit
    page_rows = page_rows[: req.limit]
    ident = column["connector_instance_id"]
    marked, deltas, state = column["dirty"], column["record_deltas"], column["state"]
    dirty = [r[ident] for r in page_rows if needs_recompute(r[marked], r[deltas], r[state])]
    recomputed = yield from _recompute_cached(ctx, columns, page_rows, dirty)
    decoder = PageDecoder(ctx.loads, ctx.profiles, ctx.memo.documents)
    if ctx.memo.size > 0:
        prepared = yield from _prepare_memoized(
            ctx, columns, page_rows, decoder, recomputed, dirty, whole=not keyed
        )
    else:
        prepared = prepare_rows(columns, page_rows, ctx.memo, decoder, recomputed, dirty, None)
    next_cursor = None
    if has_more:
        last = page_rows[-1]
        position = [last[column["connector_id"]], last[column["created_at"]], last[ident]]
        next_cursor = encode_cursor(secret, ctx.owner, req.connector_id, position)
    items = tuple(_summary(p, req.now, req.runtime) for p in prepared)
    return Page(items=items, next_cursor=next_cursor, has_more=has_more)


def _prepare_memoized(
    ctx: Context,
    columns: tuple[str, ...],
    page_rows: list[tuple[Any, ...]],
    decoder: PageDecoder,
    recomputed: Mapping[str, Mapping[str, Any]],
    dirty: list[str],
    whole: bool,
) -> Plan[list[Prepared]]:
    """Prepared evidence of a page through the memo: a row it holds from there, a
    recomputed row from its page columns and its recomputation, a whole row (`whole`)
    from itself, and a key row (`list_keys`) the memo lacks from its whole row
    (`page_rows`, one statement, only when the memo lacks some clean rows).

    A key row names its connector's digest by revision only: a recomputed one whose
    profile this store has not decoded yet is read whole too.

    Rows change between the two statements only by another writer's commit. A row gone
    from the owner meanwhile leaves the page. A row clean in the key statement that
    `page_rows` finds marked or with other deltas is served as the key statement saw it
    while its documents are unchanged (same revision): its documents with the key
    statement's mark and deltas; otherwise (reconciled and marked again meanwhile) as a
    failed recompute serves a row, from its stored documents, marked.
    """
    ident = columns.index("connector_instance_id")
    recompute = set(dirty)
    keys = PageKeys(columns)
    found = from_memo(keys, page_rows, ident, ctx.memo, decoder, recomputed, recompute)
    # Prepared here: whole rows, and key rows whose recomputation replaces their
    # documents, when their connector's profile is at hand (else read whole below).
    here = [
        i
        for i, (row, p) in enumerate(zip(page_rows, found, strict=True))
        if p is None
        and (
            whole
            or (
                recomputed.get(row[ident]) is not None
                and decoder.knows_profile(dict(zip(columns, row, strict=True)))
            )
        )
    ]
    ready = prepare_rows(
        columns, [page_rows[i] for i in here], ctx.memo, decoder, recomputed, recompute, keys
    )
    for i, made in zip(here, ready, strict=True):
        found[i] = made
    missing = [row[ident] for row, p in zip(page_rows, found, strict=True) if p is None]
    if not missing:
        return found  # type: ignore[return-value]
    named, fetched = yield from rows("page_rows", {"owner": ctx.owner, "ids": Ids(missing)})
    fetched = as_keyed(named, fetched, columns, page_rows)
    at = named.index("connector_instance_id")
    ready = prepare_rows(named, fetched, ctx.memo, decoder, recomputed, recompute, PageKeys(named))
    read = dict(zip((r[at] for r in fetched), ready, strict=True))
    out = []
    for row, held in zip(page_rows, found, strict=True):
        got = held if held is not None else read.get(row[ident])
        if got is not None:
            out.append(got)
    return out


def _summary(prepared: Prepared, now: datetime, runtime: Runtime) -> ConnectionSummary:
    """A page row's summary; a row whose evidence cannot be synthesized is served as unknown."""
    try:
        return summarize_at(prepared, now, runtime)  # `now`: UTC, checked by `list_request`
    except Exception as exc:
        return synthesize(unreadable(prepared.evidence, exc), now, runtime)


def _read_secret(ctx: Context) -> Plan[str]:
    ctx.secret.value = ctx.cursor_key((yield from execute("cursor_key"))[0]["value"], ctx.owner)
    return ctx.secret.value


def _verify_cursor(ctx: Context, cursor: str) -> Plan[None]:
    """Raise InvalidCursor unless the cursor is signed with this database's secret (read
    once per store; read again once if a cursor does not match it, in case the database
    was replaced)."""
    check_format(cursor)
    cached = ctx.secret.value
    secret = cached if cached is not None else (yield from _read_secret(ctx))
    try:
        verify_cursor(secret, cursor)
    except InvalidCursor:
        if cached is None or (yield from _read_secret(ctx)) == cached:
            raise
        verify_cursor(ctx.secret.value or "", cursor)


def _recompute_cached(
    ctx: Context, columns: tuple[str, ...], page_rows: list[tuple[Any, ...]], dirty: list[str]
) -> Plan[dict[str, Mapping[str, Any]]]:
    """`_recompute` of a page's dirty rows, passing the version of each row whose
    recomputation the memo holds under the same key columns (Postgres, 0025): the
    statement recomputes only rows whose version changed since (a write added a mark, a
    record delta or a run mark naming them, or a reconcile rewrote them; see
    `recompute_versions` in sql/templates/_runs.sql.j2), and returns the version of every
    row. A console rereading rows that wait for reconcile recomputes only those written
    since its last read, in the same one statement."""
    if not dirty:
        return {}
    keys = PageKeys(columns)
    ident = columns.index("connector_instance_id")
    row_of = {row[ident]: row for row in page_rows}
    held = {cid: ctx.memo.recomputed(keys.of(row_of[cid])) for cid in dirty}
    versions = [None if (kept := held[cid]) is None else kept[0] for cid in dirty]
    fresh = yield from _recompute("recompute_evidence", dirty, held=Ids(versions))
    out: dict[str, Mapping[str, Any]] = {}
    saved = 0
    for cid, row in fresh.items():
        version, made = row.pop("version", None), row.pop("recomputed", True)
        kept = held.get(cid)
        if not made:  # unchanged since the recomputation kept (else: not recomputed)
            if kept is not None and kept[0] == version:
                out[cid] = kept[1]
                saved += 1
            continue
        out[cid] = row
        if version is not None:
            ctx.memo.keep_recomputed(keys.of(row_of[cid]), (version, row))
    ctx.memo.count_recomputes(len(out) - saved, saved)
    return out


def _recompute(query: str, dirty: list[str], **params: Any) -> Plan[dict[str, dict[str, Any]]]:
    """Evidence of dirty rows recomputed in one extra statement (R6), by connection id:
    `query` with the ids and `params`.

    `recompute_evidence_deep` adds each row's recent runs (a scoped read's), recomputed
    from the spine: the stored runs of a dirty row may be stale. `recompute_evidence`
    (a list page's) takes `held`, by position in `dirty`: the version of the
    recomputation the store holds for each row, or None (see `_recompute_cached`;
    SQLite has no versions and ignores it)."""
    if not dirty:
        return {}
    try:
        fresh = yield from execute(query, {"ids": Ids(dirty), **params})
    except Exception as exc:
        # Canonical rows the recompute cannot read (bad data; the read's last statement):
        # these rows are reported as not current (health unknown), never guessed. Anything
        # else (a missing privilege or object, a timeout, a lost connection) is raised.
        if not unreadable_data(exc):
            raise
        return {}
    return {r["connector_instance_id"]: r for r in fresh}


def _scoped_at(connection_id: Any, now: datetime | str | None) -> datetime:
    ident(connection_id, "connection id")
    return now_utc() if now is None else to_utc(now, "now")


def _scoped(ctx: Context, connection_id: str) -> Plan[tuple[Any, Any] | None]:
    found = yield from execute("scoped_summary", {"owner": ctx.owner, "id": connection_id})
    if not found:
        return None
    row = found[0]
    recompute = needs_recompute(row["dirty"], row["record_deltas"], row["state"])
    dirty = [row["connector_instance_id"]] if recompute else []
    recomputed = yield from _recompute("recompute_evidence_deep", dirty)
    fresh = recomputed.get(row["connector_instance_id"])
    return scoped_evidence(row, fresh, PageDecoder(ctx.loads, ctx.profiles, ctx.memo.documents))


def scoped_evidence(
    row: Mapping[str, Any], fresh: Mapping[str, Any] | None, decoder: PageDecoder
) -> tuple[Evidence, DeepEvidence]:
    """A scoped read's row (`scoped_summary`; `fresh`: its recomputation, if any) as its
    evidence and deep evidence; a row that cannot be decoded degrades only this
    connection (health unknown, the problem named)."""
    deep = row if fresh is None else {**row, "recent_runs": fresh["recent_runs"]}
    try:
        return evidence_from_row(row, decoder, fresh), deep_from_row(deep, decoder)
    except Exception as exc:
        return unreadable_evidence(row, decoder, exc), DeepEvidence()


def diagnostics_of(
    evidence: Evidence, deep: DeepEvidence, at: datetime, runtime: Runtime
) -> ConnectionDiagnostics:
    """`diagnose`, with evidence that decodes but cannot be synthesized served as unknown."""
    try:
        return diagnose(evidence, deep, at, runtime)
    except Exception as exc:
        return diagnose(unreadable(evidence, exc), DeepEvidence(), at, runtime)


def resolve_connection(ctx: Context, ref: str) -> Plan[Resolution]:
    """R62: an exact connection id of this owner (any status, drafts included), else this
    owner's non-draft connections whose connector id is ``ref``. One statement.

    Raises:
        InvalidInput: ``ref`` is not an id (a non-empty string of at most 512 characters).
    """
    ident(ref, "connection reference")
    found = yield from execute(
        "resolve_connection", {"owner": ctx.owner, "ref": ref, "fetch": MAX_CANDIDATES + 1}
    )
    if not found:
        return Resolution("unresolved")
    if found[0]["exact"] or len(found) == 1:
        return Resolution("resolved", str(found[0]["connector_instance_id"]))
    candidates = tuple(
        (str(r["connector_instance_id"]), str(r["display_name"]), str(r["status"]))
        for r in found[:MAX_CANDIDATES]
    )
    return Resolution("ambiguous", None, candidates)


def connection_summary(
    ctx: Context,
    connection_id: str,
    now: datetime | str | None = None,
    live_run_ids: frozenset[str] | None = None,
) -> Plan[ConnectionSummary | None]:
    """One connection's summary (R11, R62): by id, or by a connector id naming exactly one
    non-draft connection; None when the reference is unresolved or ambiguous."""
    at = _scoped_at(connection_id, now)
    runtime = Runtime(live_run_ids=id_set(live_run_ids, "live_run_ids"))
    found = yield from _scoped(ctx, connection_id)
    if found is None:
        return None
    try:
        return synthesize(found[0], at, runtime)
    except Exception as exc:  # evidence that decodes but cannot be synthesized
        return synthesize(unreadable(found[0], exc), at, runtime)


def connection_diagnostics(
    ctx: Context,
    connection_id: str,
    now: datetime | str | None = None,
    live_run_ids: frozenset[str] | None = None,
) -> Plan[ConnectionDiagnostics]:
    """Deep diagnostics of one connection (R11).

    Raises:
        ConnectionNotFound: the reference is unresolved (R62).
        ConnectionAmbiguous: it names several connections; ``candidates`` lists them (one
            more statement, only on this path).
    """
    at = _scoped_at(connection_id, now)
    runtime = Runtime(live_run_ids=id_set(live_run_ids, "live_run_ids"))
    found = yield from _scoped(ctx, connection_id)
    if found is None:
        resolution = yield from resolve_connection(ctx, connection_id)
        if resolution.state == "ambiguous":
            names = "; ".join(f"{c} ({n}, {st})" for c, n, st in resolution.candidates)
            raise ConnectionAmbiguous(
                f"{shown(connection_id)} names {len(resolution.candidates)} connections: "
                f"{names}; pass one connection id",
                resolution.candidates,
            )
        raise ConnectionNotFound(
            f"no connection {shown(connection_id)} for owner {shown(ctx.owner)}"
        )
    return diagnostics_of(found[0], found[1], at, runtime)


def owner_connectors(ctx: Context) -> Plan[list[dict[str, str | None]]]:
    """The owner's connectors that have a listed connection, by id: `connector_id` and the
    manifest's `display_name` (or None). One statement, constant in the fleet size."""
    found = yield from execute("owner_connectors", {"owner": ctx.owner})
    return [
        {"connector_id": str(r["connector_id"]), "display_name": r["display_name"]} for r in found
    ]
