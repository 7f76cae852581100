"""verify() compares the connector digest too (issue #14: digest fields are "maintained by
triggers, recomputed by reconcile/rebuild and compared by verify()"; migration
0015_verify_digest), on both backends. Review of #14, F5: a hand-edited digest changed the
summaries while verify() returned []."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from pyreference.store import Store
from tests.support.semantics import ACME, ASSI, BROW, D, T, World

# A hand edit of each digest column that changes what summaries (or attribution) say.
EDITS = {
    "connector_display_name": "SET connector_display_name = 'Bogus'",
    "manifest_version": "SET manifest_version = '9.9.9'",
    "refresh_policy": "SET refresh_policy = NULL",
    "declarations": "SET declarations = NULL",
    "browser_required": "SET browser_required = {true}",
    "profile_base": "SET profile_base = 'elsewhere'",
    "display_name": "SET display_name = 'Bogus'",
}


def _sql(store: Store, text: str) -> list[dict[str, Any]]:
    with store.database.session(transaction=True) as session:
        return list(session.execute(text))


def _read(store: Store, cid: str = "c1") -> dict[str, Any]:
    summary = store.get_connection_summary(cid, now=T)
    assert summary is not None
    row = summary.to_dict()
    row.pop("evidence")
    return row


@pytest.mark.parametrize("column", sorted(EDITS))
def test_a_hand_edited_digest_is_reported_and_rebuild_repairs_it(store: Store, column: str) -> None:
    w = World(store, ASSI, "c1", "c2")  # assisted and stale: idle with refresh_now (S59.1)
    w.ok("r1", -2 * D)
    store.reconcile()
    assert store.verify() == []
    good = _read(store)
    true = "true" if store.dialect == "postgres" else "1"
    _sql(store, f"UPDATE pyref_connector_digest {EDITS[column].format(true=true)}")
    # the evidence's expected profile key is recomputed from the digest too
    also = ["expected_profile_key"] if column == "profile_base" else []
    assert store.verify() == [
        {"connection_id": cid, "differing": [*also, f"digest.{column}"]} for cid in ("c1", "c2")
    ]
    store.rebuild()
    assert store.verify() == []
    assert _read(store) == good


def test_a_missing_digest_row_is_reported_for_dirty_connections_too(store: Store) -> None:
    w = World(store)
    w.ok("r1", -D)
    _sql(store, "DELETE FROM pyref_connector_digest")
    w.ok("r2", -1 * D / 2)  # c1 is dirty now
    assert store.verify() == [{"connection_id": "c1", "differing": ["digest"]}]
    store.rebuild()
    assert store.verify() == []


def test_evidence_and_digest_drift_are_listed_together(store: Store) -> None:
    w = World(store)
    w.ok("r1", -D)
    store.reconcile()
    _sql(store, "UPDATE pyref_evidence SET failures_since_success = 7")
    _sql(store, "UPDATE pyref_connector_digest SET manifest_version = 'x'")
    assert store.verify() == [
        {"connection_id": "c1", "differing": ["failures_since_success", "digest.manifest_version"]}
    ]


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m,
        lambda m: m.pop("display_name") and m,
        lambda m: m.update(display_name=5, version=["1"]) or m,
        lambda m: m.update(display_name="", version="") or m,
        lambda m: m.pop("streams") and m,
        lambda m: m.update(streams={"not": "a list"}) or m,
        lambda m: m.update(streams=[{"name": 5}, "x", {"name": "a", "required": "no"}]) or m,
        lambda m: m["capabilities"].pop("refresh_policy") and m,
        lambda m: m["capabilities"].update(browser_surface={"profile_key": "p"}) or m,
    ],
)
def test_any_manifest_verifies_clean_after_writes_and_after_rebuild(
    store: Store, edit: Any
) -> None:
    """The recomputation is the triggers' own: whatever the manifest (plain SQL may store
    any JSON object), a freshly maintained digest verifies clean, before and after rebuild."""
    for base in (ACME, BROW):
        cid = f"{base['connector_key']}_sql"
        text = json.dumps(edit(copy.deepcopy(base)) | {"connector_key": cid}).replace("'", "''")
        first = json.dumps(base | {"connector_key": cid})
        _sql(
            store,
            f"INSERT INTO connectors (connector_id, manifest) VALUES ('{cid}', '{first}')",
        )
        store.create_connection(f"{cid}_1", cid)
        World(store, base, f"{base['connector_key']}_1").ok(
            "r1", -D, cid=f"{base['connector_key']}_1"
        )
        _sql(store, f"UPDATE connectors SET manifest = '{text}' WHERE connector_id = '{cid}'")
    assert store.verify() == []
    store.reconcile()
    assert store.verify() == []
    store.rebuild()
    assert store.verify() == []
