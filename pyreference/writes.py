"""Write helpers: thin wrappers over plain SQL on the canonical tables.

They validate input and write; they never maintain the read model themselves
(the triggers do, whoever writes). They act only on the store's owner's
connections: naming another owner's connection raises `ConnectionNotFound`.
Each call is one transaction: a batch is written whole or not at all. Each
helper is a plan (see `plan.py`): its arguments are checked before any I/O,
then it yields one `Transaction`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .db import Ids, Json
from .errors import ConnectionNotFound, InvalidInput
from .inputs import (
    bigint,
    choice,
    flag,
    ident,
    items,
    json_object,
    optional_ident,
    optional_text,
    shown,
)
from .plan import Context, Plan, Transaction, execute
from .timeutil import iso, now_utc, optional_utc, to_utc

CONNECTION_STATUSES = ("active", "paused", "revoked", "draft")
SOURCE_KINDS = ("account", "local_device", "browser_collector", "manual")
GAP_STATUSES = ("pending", "in_progress", "recovered", "terminal")
LIFECYCLES = (
    "open",
    "acknowledged",
    "in_progress",
    "resolved",
    "expired",
    "cancelled",
    "superseded",
)
BATCH = 2000
MAX_EVENT_SEQ = 2**53
# The keys an event may have (SPEC-SEMANTICS §4, plus `event_seq`); any other key is
# refused (R22: never a write silently lost). `connector_instance_id`, the original
# system's name for the column, is accepted as `connection_id`.
EVENT_KEYS = (
    "event_type",
    "occurred_at",
    "run_id",
    "connector_id",
    "connection_id",
    "status",
    "source_kind",
    "source_id",
    "event_id",
    "event_seq",
    "data",
)
EVENT_ALIASES = {"connector_instance_id": "connection_id"}
RECORD_KEYS = ("key", "data", "emitted_at")


def _one(
    name: str, params: Mapping[str, Any], require: str | None = None, owner: str = ""
) -> Plan[int]:
    """One statement (after checking that `owner` has connection `require`); rows returned."""
    if require is not None:
        yield from _require_connections(owner, [require])
    return len((yield from execute(name, params)))


def _require_connections(owner: str, ids: Iterable[str], *, missing_ok: bool = False) -> Plan[None]:
    """Raise `ConnectionNotFound` unless every id is a connection of `owner` (with
    `missing_ok`, ids naming no connection at all pass: only another owner's raise)."""
    wanted = sorted(set(ids))
    owners = {
        r["connector_instance_id"]: r["owner_subject_id"]
        for r in (yield from execute("connection_owners", {"ids": Ids(wanted)}))
    }
    for cid in wanted:
        if owners.get(cid, owner if missing_ok else None) != owner:
            raise ConnectionNotFound(f"no connection {shown(cid)} for owner {shown(owner)}")


# -- connectors and connections --------------------------------------------
def register_connector(
    ctx: Context, manifest: Mapping[str, Any] | str | bytes, *, replace: bool = True
) -> Plan[str]:
    """Store a manifest; its id is `connector_key`, else `connector_id`. Returns the id.

    `replace=False` leaves a connector that is already registered as it is (its manifest
    is not overwritten)."""
    data = json_object(manifest, "manifest")
    connector_id = data.get("connector_key") or data.get("connector_id")
    connector_id = ident(connector_id, "manifest connector_key (or connector_id)")
    query = "insert_connector" if replace else "insert_connector_if_absent"
    yield Transaction(_one(query, {"connector_id": connector_id, "manifest": Json(data)}))
    return connector_id


def create_connection(
    ctx: Context,
    connection_id: str,
    connector_id: str,
    *,
    display_name: str | None = None,
    source_kind: str = "account",
    status: str = "active",
    owner_subject_id: str | None = None,
    created_at: datetime | str | None = None,
) -> Plan[str]:
    """Create a connection of a registered connector; returns its id.

    `owner_subject_id` defaults to the store's owner (whose connections it lists)."""
    params = {
        "id": ident(connection_id, "connection_id"),
        "connector_id": ident(connector_id, "connector_id"),
        "display_name": optional_text(display_name, "display_name"),
        "source_kind": choice(source_kind, SOURCE_KINDS, "source_kind"),
        "status": choice(status, CONNECTION_STATUSES, "status"),
        "owner": ident(
            ctx.owner if owner_subject_id is None else owner_subject_id, "owner_subject_id"
        ),
        "created_at": optional_utc(created_at, "created_at") or now_utc(),
    }
    try:
        yield Transaction(_one("insert_connection", params))
    except InvalidInput as exc:
        if "does not exist" in str(exc):
            raise InvalidInput(
                f"no connector {shown(connector_id)}: register its manifest first"
            ) from exc
        if "duplicate" in str(exc):
            raise InvalidInput(f"connection {shown(connection_id)} already exists") from exc
        raise
    return connection_id


def update_connection(
    ctx: Context,
    connection_id: str,
    *,
    display_name: str | None = None,
    status: str | None = None,
) -> Plan[None]:
    """Change a connection's display name or status; raises `ConnectionNotFound`."""
    params = {
        "id": ident(connection_id, "connection_id"),
        "display_name": optional_text(display_name, "display_name"),
        "status": None if status is None else choice(status, CONNECTION_STATUSES, "status"),
        "now": now_utc(),
    }
    yield Transaction(_one("update_connection", params, connection_id, ctx.owner))


# -- records ---------------------------------------------------------------
def ingest_records(
    ctx: Context, connection_id: str, stream: str, records: Iterable[Mapping[str, Any]]
) -> Plan[int]:
    """Upsert records of one stream; returns the number of rows inserted or changed."""
    cid = ident(connection_id, "connection_id")
    stream = ident(stream, "stream")
    rows: dict[str, dict[str, Any]] = {}
    for n, record in enumerate(items(records, "records")):
        if not isinstance(record, Mapping):
            raise InvalidInput(f"record #{n} must be a mapping with key, data, emitted_at")
        _known_keys(record, RECORD_KEYS, f"record #{n}")
        key = ident(record.get("key"), f"record #{n} key")
        data = json_object(record.get("data"), f"record #{n} data")
        emitted = record.get("emitted_at")
        emitted_at = now_utc() if emitted is None else to_utc(emitted, f"record #{n} emitted_at")
        rows[key] = {"key": key, "data": data, "emitted_at": iso(emitted_at)}
    if not rows:
        return 0
    batch = list(rows.values())
    changed: int = yield Transaction(_ingest(ctx.owner, cid, stream, batch, ctx.dialect))
    return changed


def _ingest(
    owner: str, cid: str, stream: str, batch: list[dict[str, Any]], dialect: str
) -> Plan[int]:
    yield from _require_connections(owner, [cid], missing_ok=True)  # another owner's: raise
    try:
        yield from _require_connections(owner, [cid])
    except ConnectionNotFound:
        raise InvalidInput(f"records for a connection that does not exist: {shown(cid)}") from None
    changed = 0
    for start in range(0, len(batch), BATCH):
        chunk = batch[start : start + BATCH]
        params = {"id": cid, "stream": stream, "rows": Json(chunk)}
        if dialect == "sqlite":  # records seen before first: see the statement
            changed += yield from _one("ingest_records_changed", params)
        changed += yield from _one("ingest_records", params)
    return changed


def delete_record(ctx: Context, connection_id: str, stream: str, key: str) -> Plan[bool]:
    """Soft-delete one live record; True if a live record was deleted (another owner's
    connection raises `ConnectionNotFound`)."""
    params = {
        "id": ident(connection_id, "connection_id"),
        "stream": ident(stream, "stream"),
        "key": ident(key, "key"),
        "now": now_utc(),
    }
    return bool((yield Transaction(_delete_record(ctx.owner, params))))


def _delete_record(owner: str, params: Mapping[str, Any]) -> Plan[int]:
    yield from _require_connections(owner, [params["id"]], missing_ok=True)
    return (yield from _one("delete_record", params))


# -- the spine -------------------------------------------------------------
def append_events(ctx: Context, events: Iterable[Mapping[str, Any]]) -> Plan[list[str]]:
    """Append events in order; returns their event ids. An identical repeat is a no-op.

    SPEC-SEMANTICS §4: any `event_type` (a `run.*` one needs a `run_id`); a missing
    `connector_id` is taken from `source_id` (when `source_kind` is `connector`), then
    `data.source.id` (when `data.source.kind` is `connector`), then `data.connector_id`.
    `connector_instance_id` (the original system's name for the column) is accepted as
    `connection_id`. Raises `InvalidInput`, writing nothing of the batch, for a malformed
    event, an event with a key outside `EVENT_KEYS` (and the alias), or one whose
    connection ids (`connection_id`, `data.connection_id`, `data.connector_instance_id`)
    are present and different as the run projection reads them (S4.2; a whole number
    below 2**53 in `data` is the id its digits spell, `true` or `1.5` is no id)."""
    rows = [_event_row(n, e) for n, e in enumerate(items(events, "events"))]
    if not rows:
        return []
    ids = [r["event_id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise InvalidInput("the batch repeats an event_id")
    seqs = [r["event_seq"] for r in rows if r["event_seq"] is not None]
    if len(set(seqs)) != len(seqs):
        raise InvalidInput("the batch repeats an event_seq")
    yield Transaction(_append(ctx, rows, ids))
    return ids


def _append(ctx: Context, rows: list[dict[str, Any]], ids: list[str]) -> Plan[None]:
    # An event may name a connection that does not exist (stored unattributed, R3), but
    # never one of another owner.
    named = {c for r in rows for c in _named_connections(r)}
    if named:
        yield from _require_connections(ctx.owner, named, missing_ok=True)
    stored = yield from execute("events_by_id", {"ids": Ids(ids)})
    existing = {r["event_id"]: r for r in stored}
    fresh = []
    for row in rows:
        old = existing.get(row["event_id"])
        if old is None:
            fresh.append(row)
        elif not _same_event(old, row, ctx.loads):
            raise InvalidInput(
                f"event_id {shown(row['event_id'])} was already used for another event"
            )
    explicit = [r["event_seq"] for r in fresh if r["event_seq"] is not None]
    if explicit:
        taken = yield from execute("events_by_seq", {"seqs": Ids(explicit)})
        if taken:
            raise InvalidInput(f"event_seq {taken[0]['event_seq']} is already used")
    assigned = [r for r in fresh if r["event_seq"] is None]
    if assigned:
        yield from execute("insert_events", {"events": Json(assigned)})
    if explicit:
        yield from execute("insert_events_with_seq", {"events": Json(fresh)})
        # Numbers given explicitly are never handed out again (Postgres sequence;
        # SQLite's AUTOINCREMENT follows by itself).
        yield from execute("advance_event_seq")
    yield from _require_own_runs(ctx.owner, fresh)


def _require_own_runs(owner: str, fresh: list[dict[str, Any]]) -> Plan[None]:
    """Raise `ConnectionNotFound` (rolling the append back) when the appended run events
    moved an event to or from another owner's connection (SPEC R3 as amended: an event
    naming no connection is attributed by profile key, by the run's identified connection
    or to the connector's single active connection, and a new event can re-attribute the
    run's earlier keyless events). Checked after the insert, in its transaction, by
    migration 0013's `foreign_run_moves`; a schema rolled back below it is not checked."""
    ids = sorted(r["event_id"] for r in fresh if r["run_id"] and r["event_type"].startswith("run."))
    if not ids:
        return
    ready = yield from execute("run_owner_check_ready")
    if not ready or not ready[0]["ready"]:
        return
    moved = yield from execute("foreign_run_moves", {"owner": owner, "ids": Ids(ids)})
    if moved:
        run_id = min(r["run_id"] for r in moved)
        raise ConnectionNotFound(
            f"these events would move events of run {shown(run_id)} to or from a connection "
            f"that is not owner {shown(owner)}'s (by profile key, by the run's named "
            "connection or to the connector's single active connection): name one of the "
            "owner's own connections (connection_id)"
        )


def _named_connections(row: Mapping[str, Any]) -> list[str]:
    """The connection ids an event row names explicitly (R3 rule 3), as the run projection
    reads them (a number in `data` names the connection its digits spell)."""
    named = _connection_locations(row["connection_id"], row["data"])
    return [t for v in named.values() if (t := _id_text(v)) is not None]


def _event_row(n: int, event: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        raise InvalidInput(f"event #{n} must be a mapping")
    event_type = ident(event.get("event_type"), f"event #{n} event_type")
    if event.get("occurred_at") is None:
        raise InvalidInput(f"event #{n} needs occurred_at")
    occurred = to_utc(event["occurred_at"], f"event #{n} occurred_at")
    run_id = event.get("run_id")
    if event_type.startswith("run.") and run_id is None:
        raise InvalidInput(f"event #{n} ({shown(event_type)}) needs a run_id")
    _known_keys(event, EVENT_KEYS, f"event #{n}", EVENT_ALIASES)
    connection_id = _top_connection(n, event)
    data = event.get("data")
    data = None if data is None else json_object(data, f"event #{n} data")
    _same_connection(n, connection_id, data)
    connector_id = event.get("connector_id") or _derived_connector(event, data)
    seq = event.get("event_seq")
    return {
        "event_seq": None if seq is None else event_seq(seq, f"event #{n} event_seq"),
        "event_id": ident(
            event.get("event_id") or f"evt_{uuid.uuid4().hex}", f"event #{n} event_id"
        ),
        "event_type": event_type,
        "occurred_at": iso(occurred),
        "recorded_at": iso(now_utc()),
        "status": optional_text(event.get("status"), f"event #{n} status"),
        "run_id": optional_ident(run_id, f"event #{n} run_id"),
        "connector_id": optional_ident(connector_id, f"event #{n} connector_id"),
        "connection_id": connection_id,
        "source_kind": optional_text(
            event.get("source_kind", "connector" if connector_id else None),
            f"event #{n} source_kind",
        ),
        "source_id": optional_text(event.get("source_id", connector_id), f"event #{n} source_id"),
        "data": data,
    }


def _present(value: Any) -> str | None:
    """A connection or connector id as R51 reads it: a non-empty string, else absent."""
    return value if isinstance(value, str) and value else None


def _known_keys(
    given: Mapping[Any, Any],
    keys: tuple[str, ...],
    what: str,
    aliases: Mapping[str, str] | None = None,
) -> None:
    """Refuse a mapping with a key outside `keys` (and `aliases`), naming it and the
    accepted keys (R22: a field the write would drop is never dropped silently)."""
    aliases = aliases or {}
    unknown = [k for k in given if not (isinstance(k, str) and (k in keys or k in aliases))]
    if unknown:
        names = ", ".join(sorted(shown(k) for k in unknown))
        accepted = ", ".join(keys)
        also = "".join(f"; {a} is accepted as {k}" for a, k in aliases.items())
        raise InvalidInput(f"{what} has unknown key(s) {names}: the keys are {accepted}{also}")


def _top_connection(n: int, event: Mapping[str, Any]) -> str | None:
    """The event's top-level connection id: `connection_id`, or its alias
    `connector_instance_id`; both given and different raises `InvalidInput`."""
    top = optional_ident(event.get("connection_id"), f"event #{n} connection_id")
    alias = optional_ident(event.get("connector_instance_id"), f"event #{n} connector_instance_id")
    if top is not None and alias is not None and top != alias:
        raise InvalidInput(
            f"event #{n} names different connections: connection_id {shown(top)} and "
            f"connector_instance_id {shown(alias)} (the same field under two names)"
        )
    return top if top is not None else alias


SAFE_INTEGER = 2**53  # 0017's rule: a whole number below this in magnitude reads as its digits


def _id_text(value: Any) -> str | None:
    """A connection id location as the run projection reads it (R51, 0017's `text_of`): a
    non-empty string as itself; a whole number of magnitude below 2**53 as its integer
    text (7 and 7.0 read '7'); anything else (null, "", true/false, 1.5, 1e20, an object,
    an array) absent, as both backends read it."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None  # also NaN and infinity
    return str(int(value)) if abs(value) < SAFE_INTEGER else None


def _connection_locations(top: Any, data: Mapping[str, Any] | None) -> dict[str, Any]:
    """The three places an event names its connection (R3 rule 3), by name, as given."""
    data = data or {}
    return {
        "connection_id": top,
        "data.connection_id": data.get("connection_id"),
        "data.connector_instance_id": data.get("connector_instance_id"),
    }


def _same_connection(n: int, top: str | None, data: Mapping[str, Any] | None) -> None:
    """SPEC-SEMANTICS §4 (S4.2): an event whose connection ids (top-level
    `connection_id`, `data.connection_id`, `data.connector_instance_id`) disagree raises
    `InvalidInput`, so nothing of its batch is written. They are compared as the run
    projection reads them (R3 rule 3, `_id_text`): `data.connection_id: 7` beside
    `connection_id: "c1"` disagrees, and is refused rather than leaving the run
    unattributed; `true` or `1.5` is no id, so it disagrees with nothing."""
    named = _connection_locations(top, data)
    present = {where: t for where, v in named.items() if (t := _id_text(v)) is not None}
    if len(set(present.values())) > 1:
        names = ", ".join(f"{where} {shown(named[where])}" for where in present)
        raise InvalidInput(f"event #{n} names different connections: {names}")


def _derived_connector(event: Mapping[str, Any], data: Mapping[str, Any] | None) -> str | None:
    """SPEC-SEMANTICS §4 (S4.1), R51: a missing `connector_id` is the first of `source_id`
    when `source_kind` is `connector`, `data.source.id` when `data.source.kind` is
    `connector`, and `data.connector_id` (non-empty strings only); None when none is."""
    data = data or {}
    source = data.get("source")
    source = source if isinstance(source, Mapping) else {}
    candidates = [
        event.get("source_id") if event.get("source_kind") == "connector" else None,
        source.get("id") if source.get("kind") == "connector" else None,
        data.get("connector_id"),
    ]
    return next((c for c in (_present(x) for x in candidates) if c), None)


# -- schedules, gaps, attention ---------------------------------------------
def set_schedule(
    ctx: Context,
    connection_id: str,
    *,
    interval_seconds: int,
    enabled: bool = True,
    consecutive_failures: int = 0,
    next_run_at: datetime | str | None = None,
) -> Plan[None]:
    """Create or replace a connection's schedule; raises `ConnectionNotFound`."""
    params = {
        "id": ident(connection_id, "connection_id"),
        "interval_seconds": bigint(interval_seconds, "interval_seconds", minimum=1),
        "enabled": flag(enabled, "enabled"),
        "consecutive_failures": bigint(consecutive_failures, "consecutive_failures", minimum=0),
        "next_run_at": optional_utc(next_run_at, "next_run_at"),
        "now": now_utc(),
    }
    yield Transaction(_one("upsert_schedule", params, connection_id, ctx.owner))


def add_detail_gap(
    ctx: Context,
    connection_id: str,
    stream: str,
    *,
    gap_id: str | None = None,
    status: str = "pending",
    reason: str | None = None,
    next_attempt_after: datetime | str | None = None,
) -> Plan[str]:
    """Record a detail gap of one stream; returns its id."""
    gap_id = ident(gap_id or f"gap_{uuid.uuid4().hex}", "gap_id")
    params = {
        "gap_id": gap_id,
        "id": ident(connection_id, "connection_id"),
        "stream": ident(stream, "stream"),
        "status": choice(status, GAP_STATUSES, "gap status"),
        "reason": optional_text(reason, "reason"),
        "next_attempt_after": optional_utc(next_attempt_after, "next_attempt_after"),
        "now": now_utc(),
    }
    yield Transaction(_one("insert_gap", params, connection_id, ctx.owner))
    return gap_id


def update_detail_gap(ctx: Context, gap_id: str, *, status: str) -> Plan[None]:
    """Change a detail gap's status; raises `InvalidInput` for an unknown gap and
    `ConnectionNotFound` for a gap of another owner's connection."""
    params = {
        "gap_id": ident(gap_id, "gap_id"),
        "status": choice(status, GAP_STATUSES, "gap status"),
        "now": now_utc(),
        "owner": ctx.owner,
    }
    what = f"detail gap {shown(gap_id)}"
    yield Transaction(_update_child("update_gap", "gap_connection", params, what))


def open_attention(
    ctx: Context,
    connection_id: str,
    *,
    reason_code: str,
    attention_id: str | None = None,
    owner_action: str | None = None,
    response_required: bool = False,
    expires_at: datetime | str | None = None,
    created_at: datetime | str | None = None,
) -> Plan[str]:
    """Open an attention record on a connection; returns its id.

    ``created_at`` defaults to now; R54 orders records by it after urgency."""
    attention_id = ident(attention_id or f"att_{uuid.uuid4().hex}", "attention_id")
    params = {
        "attention_id": attention_id,
        "id": ident(connection_id, "connection_id"),
        "reason_code": ident(reason_code, "reason_code"),
        "owner_action": optional_text(owner_action, "owner_action"),
        "response_required": flag(response_required, "response_required"),
        "expires_at": optional_utc(expires_at, "expires_at"),
        "now": optional_utc(created_at, "created_at") or now_utc(),
    }
    yield Transaction(_one("insert_attention", params, connection_id, ctx.owner))
    return attention_id


def update_attention(ctx: Context, attention_id: str, *, lifecycle: str) -> Plan[None]:
    """Move an attention record through its lifecycle; `InvalidInput` for an unknown one,
    `ConnectionNotFound` for one of another owner's connection."""
    params = {
        "attention_id": ident(attention_id, "attention_id"),
        "lifecycle": choice(lifecycle, LIFECYCLES, "attention lifecycle"),
        "now": now_utc(),
        "owner": ctx.owner,
    }
    what = f"attention record {shown(attention_id)}"
    yield Transaction(_update_child("update_attention", "attention_connection", params, what))


def _update_child(update: str, lookup: str, params: Mapping[str, Any], what: str) -> Plan[None]:
    """Update a gap or attention record of the owner's connections; say why when none was."""
    if (yield from _one(update, params)):
        return
    found = yield from execute(lookup, params)
    if found:  # it exists, on another owner's connection
        cid = found[0]["connector_instance_id"]
        raise ConnectionNotFound(f"no connection {shown(cid)} for owner {shown(params['owner'])}")
    raise InvalidInput(f"no {what}")


def event_seq(value: Any, what: str) -> int:
    """An explicit event_seq: an integer from 1 to 2**53 (every writer, the TypeScript
    server included, can represent it, and the sequence can never be exhausted by it)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_EVENT_SEQ:
        raise InvalidInput(f"{what} must be an integer from 1 to 2**53")
    return value


def _same_event(stored: Mapping[str, Any], row: Mapping[str, Any], loads: Any) -> bool:
    """An identical repeat of a stored event (same type, time, ids and data)."""
    occurred = to_utc(str(stored["occurred_at"]))
    return (
        stored["event_type"] == row["event_type"]
        and occurred == to_utc(row["occurred_at"])
        and (row["event_seq"] is None or stored["event_seq"] == row["event_seq"])
        and stored["status"] == row["status"]
        and stored["run_id"] == row["run_id"]
        and stored["connector_id"] == row["connector_id"]
        and stored["connector_instance_id"] == row["connection_id"]
        and (loads(stored["data_json"]) if stored["data_json"] is not None else None) == row["data"]
    )
