"""Write helpers: thin wrappers over plain SQL on the canonical tables.

They validate input and write; they never maintain the read model themselves
(the triggers do, whoever writes). Each call is one transaction: a batch is
written whole or not at all. Each helper is a plan (see `plan.py`): its
arguments are checked before any I/O, then it yields one `Transaction`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .db import Ids, Json, canonical_json
from .errors import ConnectionNotFound, InvalidInput
from .evidence import RUN_EVENT_TYPES
from .plan import Context, Plan, Transaction, execute
from .timeutil import iso, now_utc, optional_utc, to_utc

CONNECTION_STATUSES = ("active", "paused", "revoked", "draft")
SOURCE_KINDS = ("account", "local_device", "browser_collector", "manual")
GAP_STATUSES = ("pending", "recovered", "terminal")
LIFECYCLES = ("open", "acknowledged", "in_progress", "resolved", "expired")
MAX_ID = 512
BATCH = 2000


def _id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must be a non-empty string")
    if len(value) > MAX_ID:
        raise InvalidInput(f"{what} is longer than {MAX_ID} characters")
    if "\x00" in value:
        raise InvalidInput(f"{what} contains a NUL character")
    return value


def _optional_text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    if "\x00" in value:
        raise InvalidInput(f"{what} contains a NUL character")
    return value


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise InvalidInput(f"unknown {what} {value!r}: expected one of {', '.join(allowed)}")
    return str(value)


def _json_object(value: Any, what: str) -> dict[str, Any]:
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidInput(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    try:
        canonical_json(value)
        json.dumps(value, allow_nan=False)  # NaN and Infinity are not JSON
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} holds a value JSON cannot represent") from None
    if "\\u0000" in json.dumps(value):
        raise InvalidInput(f"{what} contains a NUL character")
    return value


def _one(name: str, params: Mapping[str, Any], require: str | None = None) -> Plan[int]:
    """One statement (after checking that connection `require` exists); rows it returned."""
    if require is not None:
        yield from _require_connections([require])
    return len((yield from execute(name, params)))


def _require_connections(ids: Iterable[str]) -> Plan[None]:
    wanted = sorted(set(ids))
    found = {
        r["connector_instance_id"]
        for r in (yield from execute("connection_exists", {"ids": Ids(wanted)}))
    }
    missing = [i for i in wanted if i not in found]
    if missing:
        raise ConnectionNotFound(f"no connection {missing[0]!r}")


# -- connectors and connections --------------------------------------------
def register_connector(ctx: Context, manifest: Mapping[str, Any] | str | bytes) -> Plan[str]:
    """Store a manifest; its id is `connector_key`, else `connector_id`. Returns the id."""
    data = _json_object(manifest, "manifest")
    connector_id = data.get("connector_key") or data.get("connector_id")
    connector_id = _id(connector_id, "manifest connector_key (or connector_id)")
    yield Transaction(
        _one("insert_connector", {"connector_id": connector_id, "manifest": Json(data)})
    )
    return connector_id


def create_connection(
    ctx: Context,
    connection_id: str,
    connector_id: str,
    *,
    display_name: str | None = None,
    source_kind: str = "account",
    status: str = "active",
    owner_subject_id: str = "owner_local",
    created_at: datetime | str | None = None,
) -> Plan[str]:
    """Create a connection of a registered connector; returns its id."""
    params = {
        "id": _id(connection_id, "connection_id"),
        "connector_id": _id(connector_id, "connector_id"),
        "display_name": _optional_text(display_name, "display_name"),
        "source_kind": _choice(source_kind, SOURCE_KINDS, "source_kind"),
        "status": _choice(status, CONNECTION_STATUSES, "status"),
        "owner": _id(owner_subject_id, "owner_subject_id"),
        "created_at": optional_utc(created_at, "created_at") or now_utc(),
    }
    try:
        yield Transaction(_one("insert_connection", params))
    except InvalidInput as exc:
        if "does not exist" in str(exc):
            raise InvalidInput(
                f"no connector {connector_id!r}: register its manifest first"
            ) from exc
        if "duplicate" in str(exc):
            raise InvalidInput(f"connection {connection_id!r} already exists") from exc
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
        "id": _id(connection_id, "connection_id"),
        "display_name": _optional_text(display_name, "display_name"),
        "status": None if status is None else _choice(status, CONNECTION_STATUSES, "status"),
        "now": now_utc(),
    }
    yield Transaction(_one("update_connection", params, require=connection_id))


# -- records ---------------------------------------------------------------
def ingest_records(
    ctx: Context, connection_id: str, stream: str, records: Iterable[Mapping[str, Any]]
) -> Plan[int]:
    """Upsert records of one stream; returns the number of rows inserted or changed."""
    cid = _id(connection_id, "connection_id")
    stream = _id(stream, "stream")
    rows: dict[str, dict[str, Any]] = {}
    for n, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InvalidInput(f"record #{n} must be a mapping with key, data, emitted_at")
        key = _id(record.get("key"), f"record #{n} key")
        data = _json_object(record.get("data"), f"record #{n} data")
        emitted = record.get("emitted_at")
        emitted_at = now_utc() if emitted is None else to_utc(emitted, f"record #{n} emitted_at")
        rows[key] = {"key": key, "data": data, "emitted_at": iso(emitted_at)}
    if not rows:
        return 0
    changed: int = yield Transaction(_ingest(cid, stream, list(rows.values())))
    return changed


def _ingest(cid: str, stream: str, batch: list[dict[str, Any]]) -> Plan[int]:
    try:
        yield from _require_connections([cid])
    except ConnectionNotFound:
        raise InvalidInput(f"records for a connection that does not exist: {cid!r}") from None
    changed = 0
    for start in range(0, len(batch), BATCH):
        chunk = batch[start : start + BATCH]
        params = {"id": cid, "stream": stream, "rows": Json(chunk)}
        changed += yield from _one("ingest_records", params)
    return changed


def delete_record(ctx: Context, connection_id: str, stream: str, key: str) -> Plan[bool]:
    """Soft-delete one live record; True if a live record was deleted."""
    params = {
        "id": _id(connection_id, "connection_id"),
        "stream": _id(stream, "stream"),
        "key": _id(key, "key"),
        "now": now_utc(),
    }
    return bool((yield Transaction(_one("delete_record", params))))


# -- the spine -------------------------------------------------------------
def append_events(ctx: Context, events: Iterable[Mapping[str, Any]]) -> Plan[list[str]]:
    """Append events in order; returns their event ids. An identical repeat is a no-op."""
    rows = [_event_row(n, e) for n, e in enumerate(events)]
    if not rows:
        return []
    ids = [r["event_id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise InvalidInput("the batch repeats an event_id")
    yield Transaction(_append(ctx, rows, ids))
    return ids


def _append(ctx: Context, rows: list[dict[str, Any]], ids: list[str]) -> Plan[None]:
    stored = yield from execute("events_by_id", {"ids": Ids(ids)})
    existing = {r["event_id"]: r for r in stored}
    fresh = []
    for row in rows:
        old = existing.get(row["event_id"])
        if old is None:
            fresh.append(row)
        elif not _same_event(old, row, ctx.loads):
            raise InvalidInput(f"event_id {row['event_id']!r} was already used for another event")
    if fresh:
        yield from execute("insert_events", {"events": Json(fresh)})


def _event_row(n: int, event: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        raise InvalidInput(f"event #{n} must be a mapping")
    event_type = _id(event.get("event_type"), f"event #{n} event_type")
    if event_type.startswith("run.") and event_type not in RUN_EVENT_TYPES:
        raise InvalidInput(f"event #{n} has unknown run event type {event_type!r}")
    if event.get("occurred_at") is None:
        raise InvalidInput(f"event #{n} needs occurred_at")
    occurred = to_utc(event["occurred_at"], f"event #{n} occurred_at")
    run_id = event.get("run_id")
    if event_type.startswith("run.") and run_id is None:
        raise InvalidInput(f"event #{n} ({event_type}) needs a run_id")
    data = event.get("data")
    connector_id = event.get("connector_id")
    return {
        "event_id": _id(event.get("event_id") or f"evt_{uuid.uuid4().hex}", f"event #{n} event_id"),
        "event_type": event_type,
        "occurred_at": iso(occurred),
        "recorded_at": iso(now_utc()),
        "status": _optional_text(event.get("status"), f"event #{n} status"),
        "run_id": None if run_id is None else _id(run_id, f"event #{n} run_id"),
        "connector_id": None
        if connector_id is None
        else _id(connector_id, f"event #{n} connector_id"),
        "connection_id": None
        if event.get("connection_id") is None
        else _id(event["connection_id"], f"event #{n} connection_id"),
        "source_kind": _optional_text(
            event.get("source_kind", "connector" if connector_id else None),
            f"event #{n} source_kind",
        ),
        "source_id": _optional_text(event.get("source_id", connector_id), f"event #{n} source_id"),
        "data": None if data is None else _json_object(data, f"event #{n} data"),
    }


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
    if (
        isinstance(interval_seconds, bool)
        or not isinstance(interval_seconds, int)
        or interval_seconds <= 0
    ):
        raise InvalidInput("interval_seconds must be a positive integer")
    if (
        isinstance(consecutive_failures, bool)
        or not isinstance(consecutive_failures, int)
        or consecutive_failures < 0
    ):
        raise InvalidInput("consecutive_failures must be a non-negative integer")
    params = {
        "id": _id(connection_id, "connection_id"),
        "interval_seconds": interval_seconds,
        "enabled": bool(enabled),
        "consecutive_failures": consecutive_failures,
        "next_run_at": optional_utc(next_run_at, "next_run_at"),
        "now": now_utc(),
    }
    yield Transaction(_one("upsert_schedule", params, require=connection_id))


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
    gap_id = _id(gap_id or f"gap_{uuid.uuid4().hex}", "gap_id")
    params = {
        "gap_id": gap_id,
        "id": _id(connection_id, "connection_id"),
        "stream": _id(stream, "stream"),
        "status": _choice(status, GAP_STATUSES, "gap status"),
        "reason": _optional_text(reason, "reason"),
        "next_attempt_after": optional_utc(next_attempt_after, "next_attempt_after"),
        "now": now_utc(),
    }
    yield Transaction(_one("insert_gap", params, require=connection_id))
    return gap_id


def update_detail_gap(ctx: Context, gap_id: str, *, status: str) -> Plan[None]:
    """Change a detail gap's status; raises `InvalidInput` for an unknown gap."""
    params = {
        "gap_id": _id(gap_id, "gap_id"),
        "status": _choice(status, GAP_STATUSES, "gap status"),
        "now": now_utc(),
    }
    if not (yield Transaction(_one("update_gap", params))):
        raise InvalidInput(f"no detail gap {gap_id!r}")


def open_attention(
    ctx: Context,
    connection_id: str,
    *,
    reason_code: str,
    attention_id: str | None = None,
    owner_action: str | None = None,
    response_required: bool = False,
    expires_at: datetime | str | None = None,
) -> Plan[str]:
    """Open an attention record on a connection; returns its id."""
    attention_id = _id(attention_id or f"att_{uuid.uuid4().hex}", "attention_id")
    params = {
        "attention_id": attention_id,
        "id": _id(connection_id, "connection_id"),
        "reason_code": _id(reason_code, "reason_code"),
        "owner_action": _optional_text(owner_action, "owner_action"),
        "response_required": bool(response_required),
        "expires_at": optional_utc(expires_at, "expires_at"),
        "now": now_utc(),
    }
    yield Transaction(_one("insert_attention", params, require=connection_id))
    return attention_id


def update_attention(ctx: Context, attention_id: str, *, lifecycle: str) -> Plan[None]:
    """Move an attention record through its lifecycle; `InvalidInput` for an unknown one."""
    params = {
        "attention_id": _id(attention_id, "attention_id"),
        "lifecycle": _choice(lifecycle, LIFECYCLES, "attention lifecycle"),
        "now": now_utc(),
    }
    if not (yield Transaction(_one("update_attention", params))):
        raise InvalidInput(f"no attention record {attention_id!r}")


def _same_event(stored: Mapping[str, Any], row: Mapping[str, Any], loads: Any) -> bool:
    """An identical repeat of a stored event (same type, time, ids and data)."""
    occurred = to_utc(str(stored["occurred_at"]))
    return (
        stored["event_type"] == row["event_type"]
        and occurred == to_utc(row["occurred_at"])
        and stored["status"] == row["status"]
        and stored["run_id"] == row["run_id"]
        and stored["connector_id"] == row["connector_id"]
        and stored["connector_instance_id"] == row["connection_id"]
        and (loads(stored["data_json"]) if stored["data_json"] is not None else None) == row["data"]
    )
