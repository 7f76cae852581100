"""R4/R6/R7/R8: a stateful property test against an independent Python oracle.

Random interleavings of every write helper, with reconciles and rebuilds at
random points, on both backends. After every step: verify() is empty, and the
record counts of every summary equal the counts the oracle derives from what
was written. Reconcile and rebuild never change what a read shows.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from rel_support import NOW, reset, seed_connectors, snapshot

from pyreference.errors import ConnectionNotFound, InvalidInput
from pyreference.evidence import RUN_EVENT_TYPES
from pyreference.store import Store

CONNECTIONS = ["c0", "c1", "c2", "beta", "c4"]
CONNECTORS = ["alpha", "beta", "gamma"]
STREAMS = ["s1", "s2", "s9"]  # s9 is outside every manifest (dormant)
KEYS = [f"k{i}" for i in range(5)]
RUNS = [f"r{i}" for i in range(6)]
TIMES = [f"2024-05-{d:02d}T{h:02d}:00:00Z" for d in (1, 2, 30) for h in (0, 12)]
RUN_TYPES = list(RUN_EVENT_TYPES)
ATTRIBUTION = [
    "by_column",
    "by_data",
    "by_profile",
    "singleton",
    "bare",
    "unknown_connection",
    "foreign_profile",
]

EXAMPLES = int(os.environ.get("PYREF_RELIABILITY_EXAMPLES", "30"))
STEPS = int(os.environ.get("PYREF_RELIABILITY_STEPS", "30"))


class OracleMachine(RuleBasedStateMachine):
    store: Store

    def __init__(self) -> None:
        super().__init__()
        reset(self.store)
        seed_connectors(self.store)
        self.connector_of: dict[str, str] = {}
        # (connection, stream, key) -> [data, deleted]
        self.records: dict[tuple[str, str, str], list[Any]] = {}
        self.gaps: list[str] = []
        self.attention: list[str] = []
        self.event_n = 0

    # -- connections ------------------------------------------------------------
    @rule(
        cid=st.sampled_from(CONNECTIONS),
        connector=st.sampled_from(CONNECTORS),
        status=st.sampled_from(["active", "active", "paused", "draft"]),
        day=st.integers(1, 28),
    )
    def create_connection(self, cid: str, connector: str, status: str, day: int) -> None:
        if cid in self.connector_of:
            with pytest.raises(InvalidInput):
                self.store.create_connection(cid, connector, status=status)
            return
        self.store.create_connection(
            cid,
            connector,
            status=status,
            display_name=f"{cid} of {connector}",
            created_at=f"2024-01-{day:02d}T00:00:00Z",
        )
        self.connector_of[cid] = connector

    def _known(self) -> bool:
        return bool(self.connector_of)

    @precondition(_known)
    @rule(
        data=st.data(),
        name=st.sampled_from(["Renamed", "connexión-ñ", "🚀 x'; DROP TABLE records; --"]),
    )
    def rename(self, data: st.DataObject, name: str) -> None:
        cid = data.draw(st.sampled_from(sorted(self.connector_of)))
        self.store.update_connection(cid, display_name=name)

    @precondition(_known)
    @rule(data=st.data(), status=st.sampled_from(["active", "paused", "revoked", "draft"]))
    def set_status(self, data: st.DataObject, status: str) -> None:
        cid = data.draw(st.sampled_from(sorted(self.connector_of)))
        self.store.update_connection(cid, status=status)

    # -- records ----------------------------------------------------------------
    @precondition(_known)
    @rule(
        data=st.data(),
        stream=st.sampled_from(STREAMS),
        batch=st.lists(
            st.tuples(st.sampled_from(KEYS), st.integers(0, 2), st.sampled_from(TIMES)),
            min_size=1,
            max_size=4,
        ),
    )
    def ingest(self, data: st.DataObject, stream: str, batch: list[tuple[str, int, str]]) -> None:
        cid = data.draw(st.sampled_from(sorted(self.connector_of)))
        records = [{"key": k, "data": {"v": v}, "emitted_at": t} for k, v, t in batch]
        expected: dict[str, Any] = {}
        for k, v, _ in batch:  # a later duplicate key in the batch wins
            expected[k] = {"v": v}
        changed_expected = sum(
            1
            for k, d in expected.items()
            if (cid, stream, k) not in self.records
            or self.records[(cid, stream, k)][1]
            or self.records[(cid, stream, k)][0] != d
        )
        changed = self.store.ingest_records(cid, stream, records)
        assert changed == changed_expected
        for k, d in expected.items():
            self.records[(cid, stream, k)] = [d, False]

    @precondition(_known)
    @rule(data=st.data(), stream=st.sampled_from(STREAMS), key=st.sampled_from(KEYS))
    def delete(self, data: st.DataObject, stream: str, key: str) -> None:
        cid = data.draw(st.sampled_from(sorted(self.connector_of)))
        entry = self.records.get((cid, stream, key))
        live = entry is not None and not entry[1]
        assert self.store.delete_record(cid, stream, key) is live
        if live:
            entry[1] = True  # type: ignore[index]

    @precondition(lambda self: any(not e[1] for e in self.records.values()))
    @rule(data=st.data())
    def reingest_identical(self, data: st.DataObject) -> None:
        live = sorted(k for k, e in self.records.items() if not e[1])
        cid, stream, key = data.draw(st.sampled_from(live))
        with self.store.statement_counter():
            changed = self.store.ingest_records(
                cid,
                stream,
                [
                    {
                        "key": key,
                        "data": self.records[(cid, stream, key)][0],
                        "emitted_at": "2030-01-01T00:00:00Z",
                    }
                ],
            )
        assert changed == 0  # R4: identical re-ingest is a no-op (emitted_at alone is no change)

    # -- the spine --------------------------------------------------------------
    @rule(
        data=st.data(),
        etype=st.sampled_from(RUN_TYPES),
        run=st.sampled_from(RUNS),
        how=st.sampled_from(ATTRIBUTION),
        at=st.sampled_from(TIMES),
        status=st.sampled_from([None, None, None, "skipped"]),
        facts=st.booleans(),
        reason=st.sampled_from([None, "auth_expired", "owner_cancelled"]),
    )
    def run_event(
        self,
        data: st.DataObject,
        etype: str,
        run: str,
        how: str,
        at: str,
        status: str | None,
        facts: bool,
        reason: str | None,
    ) -> None:
        cid = data.draw(st.sampled_from(sorted(self.connector_of) or ["nobody"]))
        connector = self.connector_of.get(cid, "alpha")
        event: dict[str, Any] = {
            "event_type": etype,
            "occurred_at": at,
            "run_id": run,
            "status": status,
        }
        payload: dict[str, Any] = {}
        if how == "by_column":
            event["connection_id"] = cid
        elif how == "by_data":
            payload["connection_id"] = cid
        elif how == "by_profile":
            base = "bp" if connector == "beta" else connector
            key = base if cid == connector else f"{base}:{cid}"
            payload["browser_surface"] = {
                "profile_key": key,
                "status": "waiting",
                "wait_reason": "login",
            }
            event["connection_id"] = "c0" if cid != "c0" else "c1"  # profile key wins (R3.1)
        elif how == "singleton":
            event["connector_id"] = connector
        elif how == "unknown_connection":
            event["connection_id"] = "ghost"
        elif how == "foreign_profile":
            payload["browser_surface"] = {"profile_key": "nobody:xyz"}
        if facts:
            # A stream may be listed twice, with checkpoints of one kind (0030: the entry
            # listed last wins) or no string at all (absent).
            checkpoints = st.sampled_from(["committed", "disabled", "attempted", 5, ""])
            payload["collection_facts"] = {
                "streams": [
                    {
                        "stream": data.draw(st.sampled_from(["s1", "s2"])),
                        "checkpoint": data.draw(checkpoints),
                        "collected": data.draw(st.integers(0, 3)),
                        "considered": data.draw(st.sampled_from([3, 5])),
                    }
                    for _ in range(data.draw(st.integers(1, 3)))
                ]
            }
        if etype in ("run.failed", "run.cancelled") and reason:
            payload["failure_reason" if etype == "run.failed" else "terminal_reason"] = reason
        if payload:
            event["data"] = payload
        self.event_n += 1
        event["event_id"] = f"ev{self.event_n}"
        self.store.append_events([event])
        # An identical repeat is a no-op; the same id with other content is refused.
        self.store.append_events([event])
        with pytest.raises(InvalidInput):
            self.store.append_events([{**event, "occurred_at": "2024-05-03T00:00:00Z"}])

    @rule(at=st.sampled_from(TIMES))
    def other_event(self, at: str) -> None:
        self.event_n += 1
        self.store.append_events(
            [
                {
                    "event_id": f"ev{self.event_n}",
                    "event_type": "grant.created",
                    "occurred_at": at,
                    "connection_id": "c0",
                }
            ]
        )

    # -- schedules, gaps, attention ---------------------------------------------
    @precondition(_known)
    @rule(data=st.data(), enabled=st.booleans(), failures=st.integers(0, 8), later=st.booleans())
    def schedule(self, data: st.DataObject, enabled: bool, failures: int, later: bool) -> None:
        cid = data.draw(st.sampled_from(sorted(self.connector_of)))
        self.store.set_schedule(
            cid,
            interval_seconds=3600,
            enabled=enabled,
            consecutive_failures=failures,
            next_run_at="2024-06-02T00:00:00Z" if later else None,
        )

    @precondition(_known)
    @rule(
        data=st.data(),
        stream=st.sampled_from(STREAMS),
        status=st.sampled_from(["pending", "terminal"]),
    )
    def add_gap(self, data: st.DataObject, stream: str, status: str) -> None:
        cid = data.draw(st.sampled_from(sorted(self.connector_of)))
        self.gaps.append(
            self.store.add_detail_gap(cid, stream, status=status, reason="detail_missing")
        )

    @precondition(lambda self: bool(self.gaps))
    @rule(data=st.data(), status=st.sampled_from(["pending", "recovered", "terminal"]))
    def drain_gap(self, data: st.DataObject, status: str) -> None:
        self.store.update_detail_gap(data.draw(st.sampled_from(self.gaps)), status=status)

    @precondition(_known)
    @rule(data=st.data(), required=st.booleans())
    def open_attention(self, data: st.DataObject, required: bool) -> None:
        cid = data.draw(st.sampled_from(sorted(self.connector_of)))
        self.attention.append(
            self.store.open_attention(
                cid, reason_code="reauth", owner_action="add_info", response_required=required
            )
        )

    @precondition(lambda self: bool(self.attention))
    @rule(
        data=st.data(),
        lifecycle=st.sampled_from(["acknowledged", "in_progress", "resolved", "expired", "open"]),
    )
    def move_attention(self, data: st.DataObject, lifecycle: str) -> None:
        self.store.update_attention(data.draw(st.sampled_from(self.attention)), lifecycle=lifecycle)

    @rule()
    def write_to_missing_connection(self) -> None:
        with pytest.raises(InvalidInput):
            self.store.ingest_records("missing", "s1", [{"key": "k", "data": {}}])
        with pytest.raises(ConnectionNotFound):
            self.store.update_connection("missing", display_name="x")

    # -- maintenance --------------------------------------------------------------
    @rule(limit=st.sampled_from([None, 1, 2]))
    def reconcile(self, limit: int | None) -> None:
        before = snapshot(self.store)
        self.store.reconcile(limit)
        assert self.store.verify() == []
        assert snapshot(self.store) == before  # R6: a reconcile never changes what a read shows

    @rule()
    def rebuild(self) -> None:
        before = snapshot(self.store)
        self.store.rebuild()
        assert self.store.verify() == []
        assert self.store.dirty_backlog()["dirty_marks"] == 0
        assert snapshot(self.store) == before  # R7: rebuild agrees with maintained + on-the-fly

    # -- invariants ------------------------------------------------------------------
    @invariant()
    def verify_is_empty(self) -> None:
        assert self.store.verify() == []

    @invariant()
    def counts_match_oracle(self) -> None:
        live: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for (cid, stream, _), (_, deleted) in self.records.items():
            live[cid][stream] += 0 if deleted else 1
        for cid in self.connector_of:
            summary = self.store.get_connection_summary(cid, now=NOW)
            assert summary is not None
            shown = {r.stream: r for r in summary.stream_records}
            for stream, n in live[cid].items():
                if n:
                    assert stream in shown, (cid, stream)
                    assert shown[stream].record_count == n, (cid, stream, shown[stream])
                    assert shown[stream].count_state == "known"
            for stream, row in shown.items():
                if not live[cid].get(stream):
                    assert row.record_count in (0, None), (cid, stream, row)
            declared = [
                r.record_count
                for r in summary.stream_records
                if r.declaration_state == "declared" and r.record_count is not None
            ]
            if summary.total_records is not None:
                assert summary.total_records == sum(declared)
            # Drafts are never listed; everything else is.
        listed = {s.connection_id for s in self.store.iter_connection_summaries(now=NOW)}
        drafts = {r["connector_instance_id"] for r in _drafts(self.store)}
        assert listed == set(self.connector_of) - drafts


def _drafts(store: Store) -> list[dict[str, Any]]:
    from rel_support import sql

    return sql(
        store, "SELECT connector_instance_id FROM connector_instances WHERE status = 'draft'"
    )


def test_oracle_state_machine(store: Store) -> None:
    class Machine(OracleMachine):
        pass

    Machine.store = store
    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=EXAMPLES * (4 if store.dialect == "sqlite" else 1),  # SQLite is cheap
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            # CI replays the same examples every run; developers' runs explore new ones.
            derandomize=os.environ.get("CI") == "true",
            suppress_health_check=list(HealthCheck),
        ),
    )
