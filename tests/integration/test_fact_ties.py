"""A stream one run lists more than once (0030, found by a reviewer): per stream the
newest settled run's entry counts, a committed or disabled one before any other, and
among one run's entries of the same kind the one it lists last, as R61 takes a run's own
facts. Before 0030 the sort chose, and a read's recompute (runs fresh from the spine)
and a reconcile (stored runs) saw the entries in different orders: a marked row read one
entry and the reconciled row the other, and the backends could disagree.
"""

from __future__ import annotations

from typing import Any

from pyreference.store import Store
from tests.integration.test_record_deltas import summaries, two_mailboxes
from tests.integration.test_run_marks import run_events
from tests.integration.test_runs_trust import q
from tests.support.upgrades import apply_upto, rollback_after

# (run, finished minutes ago, its collection facts): stream "c" listed three times by r25
# (disabled, then committed: the same kind; then an unresolved attempt), "messages" twice
# by r27 and once by r29, settled at the same instant.
RUNS = [
    (
        "r25",
        5,
        [
            {"stream": "c", "collected": 1, "checkpoint": "disabled"},
            {"stream": "c", "collected": 2, "checkpoint": "committed"},
            {"stream": "c", "collected": 7},
        ],
    ),
    (
        "r27",
        7,
        [
            {"stream": "messages", "collected": 0},
            {"stream": "c", "collected": 1},
            {"stream": "messages", "collected": 5, "checkpoint": "committed"},
            {"stream": "b", "collected": 2},
        ],
    ),
    ("r29", 7, [{"stream": "messages", "collected": 6, "checkpoint": "partial"}]),
]


def write_runs(store: Store) -> None:
    for run_id, ago, items in RUNS:
        data = {"collection_facts": {"streams": items}}
        run_events(store, run_id, "cin_a", started=ago + 1, finished=ago, data=data)


def facts(store: Store) -> dict[str, tuple[Any, Any]]:
    """cin_a's collection report: stream -> (checkpoint, collected)."""
    report = summaries(store)[0]["collection_report"]
    return {e["stream"]: (e["checkpoint"], e["collected"]) for e in report}


EXPECTED = {"c": ("committed", 2), "messages": ("committed", 5), "b": ("unknown", 2)}


def test_a_stream_listed_twice_reads_alike_marked_and_reconciled(store: Store) -> None:
    two_mailboxes(store)
    write_runs(store)
    read = summaries(store)
    assert {k: v for k, v in facts(store).items() if k in EXPECTED} == EXPECTED
    store.reconcile()
    assert summaries(store) == read
    assert store.verify() == []


def test_0030_marks_the_rows_it_decides_anew_and_rolls_back(blank: Store) -> None:
    """Stored by 0029 (the sort's choice), a row with a stream listed twice is marked by
    0030, read by the new rule and stored by it at the next reconcile; rolled back and
    forward, it reads alike."""
    apply_upto(blank, "0029_marks_keep_runs")
    two_mailboxes(blank)
    write_runs(blank)
    blank.reconcile()
    apply_upto(blank, None)
    marked = q(blank, "SELECT DISTINCT connector_instance_id AS c FROM pyref_dirty")
    assert [r["c"] for r in marked] == ["cin_a"], "only the row with a stream listed twice"
    read = summaries(blank)
    assert {k: v for k, v in facts(blank).items() if k in EXPECTED} == EXPECTED
    blank.reconcile()
    assert summaries(blank) == read
    assert blank.verify() == []
    rollback_after(blank, "0029_marks_keep_runs")
    apply_upto(blank, None)
    assert summaries(blank) == read
    blank.reconcile()
    assert blank.verify() == []
