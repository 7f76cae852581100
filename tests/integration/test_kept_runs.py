"""Rows marked by writes that leave their runs as they were (0029, issue #15): on Postgres
each mark says whether its write kept the runs (`pyref_dirty.keeps_runs`: records updated
or deleted, schedules, gaps, attention), and a read of a row whose marks all kept them,
with no stale run or run mark naming it, takes its latest runs, failures since success
and stream facts from its stored row instead of recomputing them from its runs. Every read
here is compared with a reconciled read, on both backends; the Postgres-only tests show
which rows keep their stored runs by altering a stored run by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from pyreference.demo import build_demo_fleet
from pyreference.store import Store
from tests.integration.test_record_deltas import mail, summaries, two_mailboxes
from tests.integration.test_run_marks import edit_stored, run_events
from tests.integration.test_runs_trust import q
from tests.support.scenario import NOW, moved_back, records
from tests.support.upgrades import apply_upto, rollback_after

__all__ = ["mail"]  # the fixture, shared with test_record_deltas

# Each write that keeps the runs, as the library or another writer makes it.
KEEPING_WRITES = ["update_record", "delete_record", "gap", "attention", "schedule"]


def other_write(store: Store, cid: str, write: str) -> None:
    if write == "update_record":  # moved back in time: a mark, not a delta (0031)
        store.ingest_records(cid, "messages", [moved_back(records(1)[0])])
    elif write == "delete_record":
        store.delete_record(cid, "messages", records(1)[0]["key"])
    elif write == "gap":
        store.add_detail_gap(cid, "messages", reason="rate_limited")
    elif write == "attention":
        store.open_attention(cid, reason_code="reauth_required")
    else:
        store.set_schedule(cid, interval_seconds=3600)


def marks(store: Store) -> set[tuple[str, bool, bool]]:
    rows = q(
        store,
        "SELECT connector_instance_id AS c, runs_only AS r, keeps_runs AS k FROM pyref_dirty",
    )
    return {(r["c"], bool(r["r"]), bool(r["k"])) for r in rows}


def last_run_id(store: Store, cid: str) -> str:
    summary = store.get_connection_summary(cid, now=NOW)
    assert summary is not None
    page = store.list_connection_summaries(now=NOW).to_dict()["items"]
    listed = [i["last_run"]["run_id"] for i in page if i["connection_id"] == cid]
    assert listed == [summary.to_dict()["last_run"]["run_id"]], "list and scoped reads agree"
    return str(listed[0])


def alter_stored_run(store: Store, cid: str, run_id: str) -> None:
    """Rename a stored row's latest run (`edit_stored`): a read shows whether it took the
    stored runs or recomputed them."""
    edit_stored(store, cid, "latest_run", lambda run: run.update(run_id=run_id))


@pytest.mark.parametrize("write", KEEPING_WRITES)
@pytest.mark.parametrize("runs", ["none", "before", "after"])
def test_a_row_marked_by_a_write_that_keeps_its_runs_reads_as_a_recompute(
    mail: Store, write: str, runs: str
) -> None:
    """The write alone, or with run events before or after it (which change the runs):
    every read equals the reconciled one."""
    store = mail
    run_events(store, "r1", "cin_a", end="run.failed")
    store.reconcile()
    if runs == "before":
        run_events(store, "r2", "cin_a", started=10, finished=5)
    other_write(store, "cin_a", write)
    if runs == "after":
        run_events(store, "r2", "cin_a", started=10, finished=5)
    read = summaries(store)
    assert read[0]["last_run"]["run_id"] == ("r1" if runs == "none" else "r2")
    store.reconcile()
    assert summaries(store) == read
    assert store.verify() == []


@pytest.fixture
def pg_mail(pg_store: Store) -> Store:
    store = two_mailboxes(pg_store)
    run_events(store, "r1", "cin_a")
    store.reconcile()
    return store


def test_marks_say_whether_their_write_kept_the_runs(pg_mail: Store) -> None:
    """(connection, record counts kept, runs kept) of each write's mark."""
    store = pg_mail
    expected = {
        "update_record": {("cin_a", False, True)},
        "delete_record": {("cin_a", False, True)},
        "gap": {("cin_a", True, True)},
        "attention": {("cin_a", True, True)},
        "schedule": {("cin_a", True, True)},
    }
    for write, mark in expected.items():
        other_write(store, "cin_a", write)
        assert marks(store) == mark, write
        store.reconcile()
    run_events(store, "r2", "cin_a")
    assert marks(store) == {("cin_a", True, False)}, "a run event changes the runs"


@pytest.mark.parametrize("write", KEEPING_WRITES)
def test_a_row_whose_marks_kept_its_runs_reads_its_stored_runs(pg_mail: Store, write: str) -> None:
    """Postgres: the stored latest run (renamed by hand) is what a read of a row marked by
    a write that kept its runs shows; a run event, a bare mark or a run mark naming the
    row makes the read recompute the runs; a reconcile stores them again."""
    store = pg_mail
    alter_stored_run(store, "cin_a", "stored")
    other_write(store, "cin_a", write)
    assert last_run_id(store, "cin_a") == "stored"
    q(
        store,
        "INSERT INTO pyref_dirty_runs (run_ids) SELECT ARRAY[run_id] FROM pyref_runs"
        " WHERE connector_instance_id = 'cin_a'",
    )
    assert last_run_id(store, "cin_a") == "r1", "a run mark naming the row recomputes"
    store.reconcile()
    alter_stored_run(store, "cin_a", "stored")
    other_write(store, "cin_a", write)
    q(store, "INSERT INTO pyref_dirty (connector_instance_id) VALUES ('cin_a')")
    assert last_run_id(store, "cin_a") == "r1", "a bare mark recomputes everything"
    store.reconcile()
    alter_stored_run(store, "cin_a", "stored")
    other_write(store, "cin_a", write)
    run_events(store, "r2", "cin_a", started=10, finished=5)
    assert last_run_id(store, "cin_a") == "r2", "a run event recomputes the runs"
    store.reconcile()
    assert last_run_id(store, "cin_a") == "r2"


def test_a_row_never_reconciled_or_failed_recomputes_its_runs(pg_mail: Store) -> None:
    store = pg_mail
    alter_stored_run(store, "cin_a", "stored")
    q(store, "UPDATE pyref_evidence SET state = 'failed' WHERE connector_instance_id = 'cin_a'")
    other_write(store, "cin_a", "schedule")
    assert last_run_id(store, "cin_a") == "r1"


def test_0029_rolls_back_with_marks_pending_and_forward(blank: Store) -> None:
    """Rolled back with marks that kept the runs pending, then forward: every read in
    between equals the reconciled one, and reconcile leaves nothing to verify."""
    apply_upto(blank, None)
    build_demo_fleet(blank, NOW)
    blank.reconcile()
    ids = [s.connection_id for s in blank.iter_connection_summaries(NOW)][:3]
    for cid, write in zip(ids, ["schedule", "attention", "gap"], strict=True):
        other_write_any(blank, cid, write)
    run_events(blank, "pending", ids[0], started=3, finished=2)
    expected = summaries(blank)

    rollback_after(blank, "0028_page_plans")
    assert summaries(blank) == expected
    apply_upto(blank, None)
    assert summaries(blank) == expected
    other_write_any(blank, ids[1], "schedule")
    later = summaries(blank)
    blank.reconcile()
    assert blank.verify() == []
    assert summaries(blank) == later


def other_write_any(store: Store, cid: str, write: str) -> None:
    """`other_write` on a connection of any connector (the demo fleet's)."""
    if write == "gap":
        stream = store.get_connection_summary(cid, now=NOW)
        assert stream is not None
        name = stream.to_dict()["streams"][0]
        store.add_detail_gap(cid, name, reason="rate_limited")
    else:
        other_write(store, cid, write)


def test_stream_facts_recomputed_read_as_reconciled(mail: Store) -> None:
    """0029 builds a recomputed row's stream facts for the newest fact of each stream
    only: the same facts as a reconcile stores (a stream listed twice by one run,
    committed and not, and by runs settled at the same time; ties of one run's entries of
    the same kind: test_fact_ties.py)."""
    store = mail

    def facts(*streams: tuple[str, str, int]) -> dict[str, Any]:
        return {
            "collection_facts": {
                "streams": [
                    {"stream": s, "checkpoint": c, "collected": n, "considered": n}
                    for s, c, n in streams
                ]
            }
        }

    run_events(store, "r1", "cin_a", data=facts(("messages", "committed", 1), ("labels", "x", 2)))
    run_events(
        store,
        "r2",
        "cin_a",
        data=facts(("messages", "partial", 3), ("messages", "committed", 4), ("labels", "x", 5)),
    )
    run_events(store, "r3", "cin_a", data=facts(("labels", "committed", 6), ("labels", "x", 7)))
    run_events(store, "r4", "cin_a", started=10, finished=5, data=facts(("x", "disabled", 8)))
    run_events(store, "r5", "cin_a", started=10, finished=5, data=facts(("x", "disabled", 9)))
    read = summaries(store)
    assert read[0]["last_run"]["run_id"] in {"r4", "r5"}
    store.reconcile()
    assert summaries(store) == read
    assert store.verify() == []
