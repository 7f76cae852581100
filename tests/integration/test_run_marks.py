"""Rows marked by run events only (0024, issue #15): on Postgres a mark says whether only
runs changed (`pyref_dirty.runs_only`), and a read recomputes such a row's runs, gaps,
schedule and attention but takes its stream statistics from its stored row plus its
pending record deltas, instead of recounting its records. Every read here is compared
with a recount (a reconciled read), on both backends; the Postgres-only tests show which
rows skip the recount by altering a stored count by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from pyreference.demo import build_demo_fleet
from pyreference.store import Store
from tests.integration.test_record_deltas import insert_record, mail, summaries, two_mailboxes
from tests.integration.test_runs_trust import p, q
from tests.support.faults import install_fault, remove_fault
from tests.support.scenario import NOW, at, moved_back, records, run
from tests.support.upgrades import apply_upto, rollback_after

__all__ = ["mail"]  # the fixture, shared with test_record_deltas


def run_events(store: Store, run_id: str, cid: str, **kw: Any) -> None:
    store.append_events(run(run_id, connection_id=cid, **kw))


def marks(store: Store) -> list[tuple[str, bool]]:
    rows = q(store, "SELECT connector_instance_id AS c, runs_only AS r FROM pyref_dirty")
    return sorted((r["c"], bool(r["r"])) for r in rows)


def total(store: Store, cid: str) -> int:
    summary = store.get_connection_summary(cid, now=NOW)
    assert summary is not None
    return int(summary.to_dict()["total_records"])


def edit_stored(store: Store, cid: str, column: str, edit: Callable[[Any], None]) -> None:
    """Edit a stored evidence document in place, by hand (no mark: the evidence table has
    none of the canonical tables' triggers), so that a read shows whether it took the
    stored document or recomputed it."""
    sql = (
        f"SELECT {column} AS doc FROM pyref_evidence WHERE connector_instance_id = {p(store, 'c')}"
    )
    doc = q(store, sql, {"c": cid})[0]["doc"]
    doc = json.loads(doc) if isinstance(doc, str) else doc
    edit(doc)
    q(
        store,
        f"UPDATE pyref_evidence SET {column} = {p(store, 'd')}"
        f" WHERE connector_instance_id = {p(store, 'c')}",
        {"d": json.dumps(doc), "c": cid},
    )


def alter_stored_count(store: Store, cid: str, rows: int) -> None:
    """Give a stored row's one stream another count (`edit_stored`): a read shows whether
    it took the stored statistics or recounted the records."""

    def edit(stats: Any) -> None:
        assert len(stats) == 1
        stats[0]["live"] = stats[0]["rows"] = rows

    edit_stored(store, cid, "stream_stats", edit)


def test_a_run_marked_row_reads_as_a_recount(mail: Store) -> None:
    """Run events, with record inserts before and after them: the read (recomputed runs,
    stored counts plus deltas) is what a reconcile gives."""
    store = mail
    store.ingest_records("cin_a", "messages", records(2, prefix="before", minutes_ago=5))
    run_events(store, "r1", "cin_a")
    run_events(store, "r2", "cin_b", end="run.failed")
    store.ingest_records("cin_a", "labels", records(1, prefix="after"))  # a new stream
    insert_record(store, "cin_b", "messages", "tomb", deleted=True)
    read = summaries(store)
    assert {s["last_run"]["run_id"] for s in read} == {"r1", "r2"}
    store.reconcile()
    assert summaries(store) == read
    assert store.verify() == []


@pytest.mark.parametrize(
    "other_write",
    ["update_record", "delete_record", "gap", "attention", "schedule"],
)
def test_any_other_write_with_run_events_reads_as_a_recount(mail: Store, other_write: str) -> None:
    store = mail
    run_events(store, "r1", "cin_a")
    store.ingest_records("cin_a", "messages", records(1, prefix="new"))
    if other_write == "update_record":
        store.ingest_records("cin_a", "messages", [moved_back(records(1)[0])])
    elif other_write == "delete_record":
        store.delete_record("cin_a", "messages", records(1)[0]["key"])
    elif other_write == "gap":
        store.add_detail_gap("cin_a", "messages", reason="rate_limited")
    elif other_write == "attention":
        store.open_attention("cin_a", reason_code="reauth_required")
    else:
        store.set_schedule("cin_a", interval_seconds=3600)
    run_events(store, "r2", "cin_a", started=10, finished=5)
    read = summaries(store)
    store.reconcile()
    assert summaries(store) == read


def test_a_run_marked_row_never_reconciled_or_failed_is_recounted(mail: Store) -> None:
    store = mail
    store.create_connection("cin_new", "gmail")
    store.ingest_records("cin_new", "messages", records(2))
    run_events(store, "r0", "cin_new")
    install_fault(store, "cin_a")
    store.ingest_records("cin_a", "messages", records(1, prefix="new"))
    assert store.reconcile_report().failed == 1
    run_events(store, "r1", "cin_a")
    read = summaries(store)
    assert [s["total_records"] for s in read if s["connection_id"] != "cin_b"] == [4, 2]
    remove_fault(store)
    store.reconcile()
    assert summaries(store) == read


def test_run_events_leave_marks_that_say_so(pg_mail: Store) -> None:
    store = pg_mail
    run_events(store, "r1", "cin_a")
    assert marks(store) == [("cin_a", True)]
    store.ingest_records("cin_a", "messages", [moved_back(records(1)[0])])
    assert marks(store) == [("cin_a", False), ("cin_a", True)]


def test_a_run_marked_row_keeps_its_stored_counts(pg_mail: Store) -> None:
    """Postgres: the read of a row marked by run events only adds its deltas to its stored
    counts (altered here by hand to tell them from a recount); any other mark, or a
    reconcile, recounts."""
    store = pg_mail
    alter_stored_count(store, "cin_a", 100)
    store.ingest_records("cin_a", "messages", records(2, prefix="new"))
    assert total(store, "cin_a") == 102  # clean with deltas: stored counts, as ever
    run_events(store, "r1", "cin_a")
    assert total(store, "cin_a") == 102  # run-marked: recomputed, without a recount
    page = store.list_connection_summaries(now=NOW).to_dict()["items"]
    assert [i["total_records"] for i in page if i["connection_id"] == "cin_a"] == [102]
    store.ingest_records("cin_a", "messages", [moved_back(records(1)[0])])
    assert total(store, "cin_a") == 5  # a record moved back in time marks: recounted
    store.reconcile()
    assert total(store, "cin_a") == 5


def recomputed(store: Store, cid: str, column: str) -> Any:
    """A document of `cid` as the readers' recompute returns it (Postgres), decoded."""
    sql = f"SELECT {column} AS doc FROM pyref_recompute_evidence_v2(ARRAY[%(c)s])"
    with store.database.session(transaction=True) as s:
        s.execute("SELECT set_config('pyref.owner', 'owner_local', true)")
        doc = s.execute(sql, {"c": cid})[0]["doc"]
    return json.loads(doc) if isinstance(doc, str) else doc


def test_a_run_marked_row_without_deltas_takes_its_stored_statistics_whole(
    pg_mail: Store,
) -> None:
    """Postgres (0032): with no pending deltas the readers' recompute returns the stored
    stream_stats document itself, not one built again from its entries (the same
    statistics; an entry's key that statistics do not read, added here by hand, shows
    which it was). With deltas it sums them as before."""
    store = pg_mail
    alter_stored_count(store, "cin_a", 100)
    edit_stored(store, "cin_a", "stream_stats", lambda stats: stats[0].update(note="stored"))
    run_events(store, "r1", "cin_a")
    stats = recomputed(store, "cin_a", "stream_stats")
    assert [(e["rows"], e.get("note")) for e in stats] == [(100, "stored")]
    assert total(store, "cin_a") == 100
    store.ingest_records("cin_a", "messages", records(2, prefix="new"))
    stats = recomputed(store, "cin_a", "stream_stats")
    assert [(e["rows"], e.get("note")) for e in stats] == [(102, None)]
    assert total(store, "cin_a") == 102


def test_a_run_marked_row_keeps_its_stored_stream_facts_until_a_run_brings_facts(
    pg_mail: Store,
) -> None:
    """Postgres (0033): a row whose stale runs bear no collection facts of a settled run
    (a run started, or settled without facts) is recomputed with its stored stream facts
    (a key added here by hand shows it); a run settling with facts rebuilds them. Reads
    equal the reconciled ones throughout."""
    store = pg_mail
    facts = {"streams": [{"stream": "messages", "checkpoint": "committed", "collected": 3}]}
    run_events(store, "r1", "cin_a", data={"collection_facts": facts})
    store.reconcile()
    edit_stored(store, "cin_a", "stream_facts", lambda docs: docs[0].update(note="stored"))

    def facts_now() -> list[tuple[str, str | None]]:
        return [(f["run_id"], f.get("note")) for f in recomputed(store, "cin_a", "stream_facts")]

    started = {"event_type": "run.started", "occurred_at": at(10), "connection_id": "cin_a"}
    store.append_events([{**started, "run_id": "r2"}])
    assert facts_now() == [("r1", "stored")]
    store.append_events(run("r3", started=9, finished=8, connection_id="cin_a"))
    assert facts_now() == [("r1", "stored")]  # settled, but without facts
    read = summaries(store)
    newer = {"streams": [{"stream": "messages", "checkpoint": "committed", "collected": 5}]}
    store.append_events(
        run("r4", started=7, finished=6, connection_id="cin_a", data={"collection_facts": newer})
    )
    assert facts_now() == [("r4", None)]
    fresh = summaries(store)
    assert fresh != read
    store.reconcile()
    assert summaries(store) == fresh


def test_the_readers_recompute_returns_the_documents_it_keeps_as_stored(pg_mail: Store) -> None:
    """Postgres (0034): the readers' recompute v2 returns the documents it keeps from a
    stored row as their stored text (spacing put there by hand, which no jsonb prints,
    comes back byte for byte: v1 parses and prints them again), and the ones it computes
    as the evidence refresh then stores them; as values its rows are v1's and what
    reconcile stores, for rows marked by a schedule (everything kept but the schedule),
    and by a run event and a bare mark (nothing kept). Reads equal the reconciled ones."""
    store = pg_mail
    run_events(store, "r1", "cin_a", finished=5)
    run_events(store, "r1", "cin_b", finished=5)
    store.reconcile()
    spaced = "UPDATE pyref_evidence SET {c} = (' ' || {c}::text || ' ')::json"
    for column in ("stream_stats", "latest_run", "stream_facts"):
        q(store, spaced.format(c=column) + " WHERE connector_instance_id = 'cin_a'")
    texts = "connector_instance_id AS c, stream_stats::text AS s, latest_run::text AS r"
    stored = q(store, f"SELECT {texts} FROM pyref_evidence WHERE connector_instance_id = 'cin_a'")
    store.set_schedule("cin_a", interval_seconds=3600)
    run_events(store, "r2", "cin_b", started=3)
    q(store, "INSERT INTO pyref_dirty (connector_instance_id) VALUES ('cin_b')")
    documents = ("stream_stats", "latest_run", "latest_successful_run", "latest_settled_run")
    documents += ("stream_facts", "gap_counts", "schedule", "open_attention")
    values = ", ".join(f"{c}::jsonb AS {c}" for c in documents)
    values = f"connector_instance_id, expected_profile_key, failures_since_success, {values}"
    with store.database.session(transaction=True) as s:
        s.execute("SELECT set_config('pyref.owner', 'owner_local', true)")
        recompute = "FROM pyref_recompute_evidence_v{}(ARRAY['cin_a', 'cin_b']) ORDER BY 1"
        got = s.execute(f"SELECT {texts} {recompute.format(2)}")
        got_values = s.execute(f"SELECT {values} {recompute.format(2)}")
        assert s.execute(f"SELECT {values} {recompute.format(1)}") == got_values
    assert got[0] == stored[0] and got[0]["s"].startswith(" ")  # kept: as stored
    read = summaries(store)
    store.reconcile()
    assert summaries(store) == read
    ids = "WHERE connector_instance_id IN ('cin_a', 'cin_b') ORDER BY 1"
    assert got[1] == q(store, f"SELECT {texts} FROM pyref_evidence {ids}")[1]  # computed
    assert got_values == q(store, f"SELECT {values} FROM pyref_evidence {ids}")


@pytest.fixture
def pg_mail(pg_store: Store) -> Store:
    return two_mailboxes(pg_store)


def test_0024_rolls_back_with_run_marks_pending_and_forward(blank: Store) -> None:
    """Rolled back with run marks and deltas pending, then forward: every read in between
    equals the reconciled one (the marks stay marks; those written before 0024 is applied
    again are recounted), and reconcile leaves nothing to verify."""
    apply_upto(blank, None)
    build_demo_fleet(blank, NOW)
    blank.reconcile()
    ids = [s.connection_id for s in blank.iter_connection_summaries(NOW)][:3]
    for n, cid in enumerate(ids):
        run_events(blank, f"pending_{n}", cid)
    blank.ingest_records(ids[0], "messages", records(2, prefix="pending"))
    expected = summaries(blank)

    rollback_after(blank, "0023_digest_revisions")
    assert summaries(blank) == expected
    apply_upto(blank, None)
    assert {r for _, r in marks(blank)} == {False}, "marks written before 0024 are recounted"
    assert summaries(blank) == expected
    run_events(blank, "later", ids[1], started=3, finished=2)
    later = summaries(blank)
    blank.reconcile()
    assert blank.verify() == []
    assert summaries(blank) == later
