"""SPEC-SEMANTICS §0 fixtures: the ACME/MANU/ASSI/BROW manifests, c1–c3, and the
event shorthands (start, ok, fail), written through the public write helpers.

Every read goes through `World.row`, which also checks R11/S11.1 on the way: a
listed connection's list row equals its scoped read at the same `now`.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from pyreference.store import Store
from pyreference.timeutil import iso

T = datetime(2026, 6, 17, 12, 0, 0, tzinfo=UTC)
CREATED = datetime(2026, 6, 1, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)
D = timedelta(days=1)

ACME: dict[str, Any] = {
    "connector_key": "acme",
    "display_name": "Acme",
    "version": "1.2.0",
    "streams": [
        {"name": "items", "coverage_strategy": "full_inventory"},
        {"name": "extras", "required": False, "coverage_strategy": "full_inventory"},
    ],
    "capabilities": {
        "refresh_policy": {
            "recommended_mode": "automatic",
            "background_safe": True,
            "maximum_staleness_seconds": 86400,
        }
    },
}


def variant(key: str, **policy: Any) -> dict[str, Any]:
    """ACME under another key, with refresh-policy fields replaced."""
    manifest = copy.deepcopy(ACME)
    manifest["connector_key"] = key
    manifest["capabilities"]["refresh_policy"].update(policy)
    return manifest


MANU = variant("manu", recommended_mode="manual", background_safe=False)
ASSI = variant("assi", interaction_posture="otp_likely")
BROW = variant("brow")
BROW["runtime_requirements"] = {"bindings": {"browser": {"required": True}}}

DEFAULT_FACTS = [{"stream": "items", "checkpoint": "committed", "collected": 3, "considered": 3}]


def ts(at: datetime | timedelta) -> str:
    """A time as ISO text; a timedelta is relative to T (``-H`` is T minus an hour)."""
    return iso(T + at if isinstance(at, timedelta) else at)


class World:
    """One store seeded per SPEC-SEMANTICS §0, read at T unless told otherwise."""

    def __init__(
        self, store: Store, manifest: dict[str, Any] = ACME, *cids: str, **connection: Any
    ) -> None:
        self.store = store
        self.connector = store.register_connector(manifest)
        for cid in cids or ("c1",):
            self.connection(cid, **connection)

    def connection(self, cid: str, **kw: Any) -> None:
        kw.setdefault("created_at", CREATED)
        self.store.create_connection(cid, self.connector, **kw)

    def event(
        self, event_type: str, run_id: str, at: timedelta, cid: str | None = "c1", **kw: Any
    ) -> None:
        data = dict(kw.pop("data", None) or {})
        if cid is not None:
            data.setdefault("connection_id", cid)
        event = {"event_type": event_type, "run_id": run_id, "occurred_at": ts(at), **kw}
        if data:
            event["data"] = data
        self.store.append_events([event])

    def start(self, run_id: str, at: timedelta, cid: str | None = "c1", **kw: Any) -> None:
        self.event("run.started", run_id, at, cid, **kw)

    def ok(
        self,
        run_id: str,
        at: timedelta,
        facts: list[dict[str, Any]] | None = None,
        cid: str = "c1",
        **data: Any,
    ) -> None:
        """start(r, t-10m) + run.completed `succeeded` at t with collection facts."""
        self.start(run_id, at - 10 * M, cid)
        streams = DEFAULT_FACTS if facts is None else facts
        data = {"collection_facts": {"streams": streams}, **data}
        self.event("run.completed", run_id, at, cid, status="succeeded", data=data)

    def fail(self, run_id: str, at: timedelta, cid: str = "c1", **data: Any) -> None:
        """start(r, t-10m) + run.failed at t with data D."""
        self.start(run_id, at - 10 * M, cid)
        self.event("run.failed", run_id, at, cid, data=data)

    def row(self, cid: str = "c1", now: datetime | timedelta = T, **kw: Any) -> dict[str, Any]:
        """The connection's summary as a dict; a listed row must equal its scoped read."""
        at = T + now if isinstance(now, timedelta) else now
        scoped = self.store.get_connection_summary(cid, now=at, **kw)
        assert scoped is not None, cid
        page = self.store.list_connection_summaries(limit=1000, now=at, **kw)
        listed = [s.to_dict() for s in page.items if s.connection_id == cid]
        if listed:
            assert listed[0] == scoped.to_dict(), "R11: list row = scoped read"
        return scoped.to_dict()

    def verdict(self, cid: str = "c1", now: datetime | timedelta = T) -> dict[str, Any]:
        return self.row(cid, now)["rendered_verdict"]


def state(row: dict[str, Any]) -> str:
    return str(row["connection_health"]["state"])


def conditions(row: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["type"], c["reason_code"]) for c in row["connection_health"]["conditions"]]


def entry(row: dict[str, Any], stream: str) -> dict[str, Any]:
    (found,) = [e for e in row["collection_report"] if e["stream"] == stream]
    return found
