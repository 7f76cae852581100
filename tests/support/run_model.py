"""A pure Python twin of the SQL run projection (sql/templates/_runs.sql.j2), for tests.

`facts(event, connections)` is what the spine trigger records when an event is written;
`project(events, facts, connections)` is the merge every maintenance path runs. The SQL
is the product; this twin states the same rules in a second language so a property test
can check the database against them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

TERMINAL = {
    "run.completed": "succeeded",
    "run.failed": "failed",
    "run.cancelled": "cancelled",
    "run.abandoned": "abandoned",
    "run.browser_surface_failed": "surface_failed",
}
# The terminal types whose own status, when non-empty, names the run status (R50).
STATUS_FROM_EVENT = {"run.completed", "run.browser_surface_failed"}


@dataclass(frozen=True)
class Connection:
    connection_id: str
    connector_id: str
    status: str
    created_at: str
    profile_base: str  # the connector's browser_surface.profile_key, else its id

    @property
    def expected_profile_key(self) -> str:
        if self.connection_id == self.connector_id:
            return self.profile_base
        return f"{self.profile_base}:{self.connection_id}"


@dataclass(frozen=True)
class Fact:
    carried: bool
    connection: tuple[str, str] | None  # (id, created_at)


SAFE_INTEGER = 2**53


def _text(value: Any) -> str | None:
    """A payload value as R51's text (0017, `text_of` v3 in the SQL): a non-empty string,
    or a number with an integer value below 2**53 in magnitude as its integer text (read
    as a double, as JSON.parse does: 7.0 is '7'); anything else (true/false, 1.5, 1e20, an
    object) is absent."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int):
        return str(value) if abs(value) < SAFE_INTEGER else None
    if abs(value) < SAFE_INTEGER and value == int(value):
        return str(int(value))
    return None


def _first(*values: Any) -> str | None:
    for value in values:
        text = _text(value)
        if text is not None:
            return text
    return None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _surface(data: dict[str, Any], name: str) -> str | None:
    nested = _obj(data.get("browser_surface"))
    return _first(
        nested.get(f"browser_surface_{name}"), nested.get(name), data.get(f"browser_surface_{name}")
    )


def facts(event: dict[str, Any], connections: list[Connection]) -> Fact:
    """R3 (amended) at write time, for one run-bearing event."""
    data = _obj(event.get("data"))
    key = _surface(data, "profile_key")
    ids = [
        _text(event.get("connection_id")),
        _text(data.get("connection_id")),
        _text(data.get("connector_instance_id")),
    ]
    source = _obj(data.get("source"))
    connector = _first(
        event.get("connector_id"),
        event.get("source_id") if event.get("source_kind") == "connector" else None,
        source.get("id") if source.get("kind") == "connector" else None,
        data.get("connector_id"),
    )
    by_id = {c.connection_id: c for c in connections}
    present = [i for i in ids if i is not None]
    carried = key is not None or bool(present)
    chosen: Connection | None = None
    if key is not None:
        matches = [c for c in connections if c.expected_profile_key == key]
        if len(matches) == 1:
            chosen = matches[0]
    if chosen is None:
        if key is not None and not present:
            suffix = by_id.get(key.rsplit(":", 1)[-1])
            if suffix and (connector is None or suffix.connector_id == connector):
                chosen = suffix
        elif present:
            if len(set(present)) == 1:
                chosen = by_id.get(present[0])
        elif connector is not None:
            active = [
                c for c in connections if c.connector_id == connector and c.status == "active"
            ]
            if len(active) == 1:
                chosen = active[0]
    return Fact(carried, (chosen.connection_id, chosen.created_at) if chosen else None)


def attribute(
    events: list[dict[str, Any]], recorded: dict[int, Fact], connections: list[Connection]
) -> dict[int, str | None]:
    """Each event's connection id by `event_seq` (None: unattributed): R3 as amended,
    the per-event half of the projection (`attributed_events` in the SQL)."""
    alive = {(c.connection_id, c.created_at) for c in connections}
    by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_run[event["run_id"]].append(event)
    out: dict[int, str | None] = {}
    for run_events in by_run.values():
        own = [recorded[e["event_seq"]] for e in run_events]
        identified = {f.connection for f in own if f.carried and f.connection}
        singles = {f.connection for f in own if not f.carried and f.connection}
        any_carried = any(f.carried for f in own)
        for event, fact in zip(run_events, own, strict=True):
            if fact.carried:
                home = fact.connection
            elif any_carried:
                home = next(iter(identified)) if len(identified) == 1 else None
            else:
                home = next(iter(singles)) if len(singles) == 1 else None
            out[event["event_seq"]] = home[0] if home is not None and home in alive else None
    return out


def project(
    events: list[dict[str, Any]], recorded: dict[int, Fact], connections: list[Connection]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The runs, by (run_id, connection id). Events carry `event_seq`."""
    homes = attribute(events, recorded, connections)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        home = homes[event["event_seq"]]
        if home is not None:
            groups[(event["run_id"], home)].append(event)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for (run_id, cid), group in groups.items():
        run = _merge(group)
        if run is not None:
            out[(run_id, cid)] = {"run_id": run_id, **run}
    return out


def _merge(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    starts = [e for e in events if e["event_type"] == "run.started"]
    terminals = sorted(
        (e for e in events if e["event_type"] in TERMINAL),
        key=lambda e: (e["occurred_at"], e["event_seq"]),
    )
    if not starts and not terminals:
        return None
    settle = terminals[0] if terminals else None
    if settle is None:
        status = "running"
    elif settle["event_type"] in STATUS_FROM_EVENT:
        status = _text(settle.get("status")) or TERMINAL[settle["event_type"]]
    else:
        status = TERMINAL[settle["event_type"]]
    data = _obj(settle.get("data")) if settle else {}
    newest = sorted(events, key=lambda e: (e["occurred_at"], e["event_seq"]), reverse=True)

    # R50: the newest event carrying a browser-surface object gives the whole object.
    names = ("profile_key", "status", "wait_reason")
    surface_object: tuple[str | None, ...] = (None, None, None)
    for event in newest:
        fields = tuple(_surface(_obj(event.get("data")), n) for n in names)
        if any(f is not None for f in fields):
            surface_object = fields
            break

    started = min((e["occurred_at"] for e in starts), default=None)
    return {
        "status": status,
        "started_at": started or (settle["occurred_at"] if settle else None),
        "finished_at": settle["occurred_at"] if settle else None,
        "failure_reason": _first(data.get("failure_reason")),
        "terminal_reason": _first(data.get("terminal_reason"), data.get("reason")),
        "surface": surface_object,
    }


def latest(
    runs: dict[tuple[str, str], dict[str, Any]], connection_id: str
) -> dict[str, Any] | None:
    """R15's last_run of one connection: by finish time, else start time, then run_id."""
    own = [r for (_, cid), r in runs.items() if cid == connection_id]
    if not own:
        return None
    return max(own, key=lambda r: (r["finished_at"] or r["started_at"], r["run_id"]))
