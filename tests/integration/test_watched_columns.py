"""Every column of every canonical table: a plain-SQL UPDATE of that column alone is
reflected at once and by reconcile, on both backends (R1, R4: "whoever writes").

Issue #14's review (F1): a plain-SQL change of a detail gap's `next_attempt_after` or
`reason` marked nothing dirty, because the update trigger watched a hand-picked list of
columns while the evidence had come to read more. So this test does not trust a list of
the columns the evidence reads: it takes every column of every canonical table from the
database catalog (`test_every_column_has_a_mutation` fails when a column is added and not
listed here) and, for each, changes only that column through plain SQL on a populated
connection, then requires

- a read right after the write (dirty or not) to equal the read after `reconcile()`, and
- `verify()` to be empty after `reconcile()` (no stored evidence, run or digest left
  stale by a write no trigger saw).

A column the evidence does not read passes trivially; one it reads passes only if its
change marks the connection dirty (migration 0017 for the gaps' retry time and reason and
the attention records' id). The spine is append-only: every UPDATE of it must be refused.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pyreference.store import Store
from tests.integration.test_runs_trust import ACME, CREATED, ev, q
from tests.support.scenario import NOW, at

BETA = {**ACME, "connector_key": "beta", "display_name": "Beta"}
GAMMA = {**ACME, "connector_key": "gamma", "display_name": "Gamma"}
ACME_V2 = {
    **ACME,
    "display_name": "Acme 2",
    "version": "2.0.0",
    "streams": [{"name": "items"}, {"name": "extras", "required": True}],
    "capabilities": {
        "refresh_policy": {"maximum_staleness_seconds": 600},
        "browser_surface": {"profile_key": "acme2"},
    },
    "runtime_requirements": {"bindings": {"browser": {"required": True}}},
}
T = "'2026-11-23T11:58:00.000000Z'"  # a timestamp literal both backends accept

# (table, column) -> (SET expression, WHERE clause): an UPDATE of that column alone, to a
# value that differs from the scenario's, of one row of the scenario below.
MUTATIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("records", "connector_instance_id"): ("'c2'", "record_key = 'k0'"),
    ("records", "stream"): ("'extras'", "record_key = 'k0'"),
    ("records", "record_key"): ("'k9'", "record_key = 'k0'"),
    ("records", "record_json"): ("'{\"n\": 123456789}'", "record_key = 'k0'"),
    ("records", "emitted_at"): (T, "record_key = 'k0'"),
    ("records", "deleted"): ("NOT deleted", "record_key = 'k0'"),
    ("records", "deleted_at"): (T, "record_key = 'k1'"),
    ("connector_instances", "connector_instance_id"): ("'c4'", "connector_instance_id = 'c3'"),
    ("connector_instances", "owner_subject_id"): ("'someone_else'", "connector_instance_id = 'c1'"),
    ("connector_instances", "connector_id"): ("'beta'", "connector_instance_id = 'c1'"),
    ("connector_instances", "display_name"): ("'Renamed'", "connector_instance_id = 'c1'"),
    ("connector_instances", "status"): ("'paused'", "connector_instance_id = 'c1'"),
    ("connector_instances", "source_kind"): ("'manual'", "connector_instance_id = 'c1'"),
    ("connector_instances", "created_at"): (T, "connector_instance_id = 'c1'"),
    ("connector_instances", "updated_at"): (T, "connector_instance_id = 'c1'"),
    ("connector_instances", "revoked_at"): (T, "connector_instance_id = 'c1'"),
    ("connectors", "connector_id"): ("'gamma2'", "connector_id = 'gamma'"),
    ("connectors", "manifest"): (f"'{json.dumps(ACME_V2)}'", "connector_id = 'acme'"),
    ("connectors", "created_at"): (T, "connector_id = 'acme'"),
    ("connectors", "updated_at"): (T, "connector_id = 'acme'"),
    ("connector_schedules", "connector_instance_id"): ("'c2'", "connector_instance_id = 'c1'"),
    ("connector_schedules", "interval_seconds"): ("7200", "connector_instance_id = 'c1'"),
    ("connector_schedules", "enabled"): ("NOT enabled", "connector_instance_id = 'c1'"),
    ("connector_schedules", "consecutive_failures"): ("3", "connector_instance_id = 'c1'"),
    ("connector_schedules", "next_run_at"): (T, "connector_instance_id = 'c1'"),
    ("connector_schedules", "updated_at"): (T, "connector_instance_id = 'c1'"),
    ("connector_detail_gaps", "gap_id"): ("'g9'", "gap_id = 'g1'"),
    ("connector_detail_gaps", "connector_instance_id"): ("'c2'", "gap_id = 'g1'"),
    ("connector_detail_gaps", "stream"): ("'extras'", "gap_id = 'g1'"),
    ("connector_detail_gaps", "status"): ("'terminal'", "gap_id = 'g1'"),
    ("connector_detail_gaps", "reason"): ("'session_expired'", "gap_id = 'g1'"),
    ("connector_detail_gaps", "next_attempt_after"): (T, "gap_id = 'g1'"),
    ("connector_detail_gaps", "updated_at"): (T, "gap_id = 'g1'"),
    ("connector_attention_records", "attention_id"): ("'a9'", "attention_id = 'a1'"),
    ("connector_attention_records", "connector_instance_id"): ("'c2'", "attention_id = 'a1'"),
    ("connector_attention_records", "reason_code"): ("'other_code'", "attention_id = 'a1'"),
    ("connector_attention_records", "owner_action"): ("'reauth'", "attention_id = 'a1'"),
    ("connector_attention_records", "lifecycle"): ("'resolved'", "attention_id = 'a1'"),
    ("connector_attention_records", "response_required"): (
        "NOT response_required",
        "attention_id = 'a1'",
    ),
    ("connector_attention_records", "expires_at"): (T, "attention_id = 'a1'"),
    ("connector_attention_records", "created_at"): (T, "attention_id = 'a1'"),
    ("connector_attention_records", "updated_at"): (T, "attention_id = 'a1'"),
}
APPEND_ONLY = ("spine_events",)
CANONICAL = sorted({t for t, _ in MUTATIONS} | set(APPEND_ONLY))


def _columns(store: Store, table: str) -> set[str]:
    if store.dialect == "postgres":
        rows = q(
            store,
            "SELECT column_name AS name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = %(t)s",
            {"t": table},
        )
    else:
        rows = q(store, f"SELECT name FROM pragma_table_info('{table}')")
    return {r["name"] for r in rows}


def _scenario(store: Store) -> None:
    """c1 with something in every table (and a run, so facts and runs exist), a sibling c2,
    c3 of another connector with nothing, and a connector no connection uses."""
    for manifest in (ACME, BETA, GAMMA):
        store.register_connector(manifest)
    store.create_connection("c1", "acme", created_at=CREATED)
    store.create_connection("c2", "acme", created_at=CREATED)
    store.create_connection("c3", "beta", created_at=CREATED)
    store.ingest_records(
        "c1",
        "items",
        [{"key": f"k{i}", "data": {"n": i}, "emitted_at": at(60 - i)} for i in range(3)],
    )
    store.append_events(
        [
            ev("run.started", 50, "r1", connection_id="c1"),
            ev(
                "run.completed",
                40,
                "r1",
                connection_id="c1",
                data={
                    "collection_facts": {
                        "streams": [{"stream": "items", "checkpoint": "committed"}]
                    }
                },
            ),
            ev("run.started", 30, "r3", connection_id="c3"),
        ]
    )
    store.set_schedule("c1", interval_seconds=3600, next_run_at=at(-30))
    store.add_detail_gap(
        "c1", "items", gap_id="g1", reason="rate_limited", next_attempt_after=at(-30)
    )
    store.add_detail_gap("c1", "items", gap_id="g2", status="terminal", reason="gone")
    store.open_attention(
        "c1", reason_code="needs_login", attention_id="a1", created_at=at(45), expires_at=at(-60)
    )
    store.reconcile()
    assert store.verify() == []


def _reads(store: Store) -> dict[str, Any]:
    ids = [
        r["connector_instance_id"]
        for r in q(store, "SELECT connector_instance_id FROM connector_instances ORDER BY 1")
    ]
    out: dict[str, Any] = {}
    for cid in ids:
        summary = store.get_connection_summary(cid, now=NOW)
        if summary is None:  # another owner's, after the owner column changed
            out[cid] = None
            continue
        row = summary.to_dict()
        row.pop("evidence")  # (when and how it was computed)
        out[cid] = row
    return out


@pytest.mark.parametrize(
    ("table", "column"), sorted(MUTATIONS), ids=[f"{t}.{c}" for t, c in sorted(MUTATIONS)]
)
def test_an_update_of_one_column_is_reflected(store: Store, table: str, column: str) -> None:
    _scenario(store)
    value, where = MUTATIONS[(table, column)]
    changed = q(store, f"UPDATE {table} SET {column} = {value} WHERE {where} RETURNING 1 AS x")
    assert len(changed) == 1, "the mutation must change one row"
    read_at_once = _reads(store)
    store.reconcile()
    assert store.verify() == [], f"{table}.{column}: a change no trigger marked"
    assert read_at_once == _reads(store), f"{table}.{column}: the read right after the write"


def test_every_column_has_a_mutation(store: Store) -> None:
    """The table above covers every column the catalog lists, so a new column is tested."""
    for table in CANONICAL:
        listed = {c for t, c in MUTATIONS if t == table}
        columns = _columns(store, table)
        assert columns, table
        if table in APPEND_ONLY:
            assert not listed
        else:
            assert listed == columns, table


@pytest.mark.parametrize("column", ["event_type", "run_id", "data_json", "occurred_at"])
def test_the_spine_refuses_every_update(store: Store, column: str) -> None:
    _scenario(store)
    with pytest.raises(Exception, match="append-only"):
        q(store, f"UPDATE spine_events SET {column} = {column}")
