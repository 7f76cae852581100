"""Stream facts read alike whoever computes them, on both backends (0030, found by
reviewers). Per stream the newest settled run's entry counts, a committed or disabled one
before any other, and among one run's entries of the same kind the one it lists last (as
a run's own facts are read). Before 0030 the sort chose, and a read's recompute and a
reconcile saw the entries in different orders: a marked row read one entry and the
reconciled row the other, and the backends could disagree. A checkpoint that is no JSON
string is absent, as in a run's own facts (Postgres kept it as text, SQLite as a value).
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

# Checkpoints that are no JSON string, in a run older than the newest (so they are the
# stored facts, not the newest run's own): each reads as absent.
ODD = [
    {"stream": "n", "collected": 1, "checkpoint": 5},
    {"stream": "t", "collected": 1, "checkpoint": True},
    {"stream": "o", "collected": 1, "checkpoint": {"a": 1, "b": [1, 2]}},
    {"stream": "e", "collected": 1, "checkpoint": ""},
]


def write_odd(store: Store, cid: str) -> None:
    data = {"collection_facts": {"streams": ODD}}
    run_events(store, "r_odd", cid, started=12, finished=11, data=data)
    run_events(store, "r_new", cid, started=2, finished=1)


def test_a_checkpoint_that_is_no_string_reads_as_absent(store: Store) -> None:
    two_mailboxes(store)
    write_odd(store, "cin_b")
    read = summaries(store)
    odd = {e["stream"]: e["checkpoint"] for e in read[1]["collection_report"]}
    assert {odd[k] for k in "ntoe"} == {"unknown"}
    store.reconcile()
    assert summaries(store) == read
    assert store.verify() == []


def test_a_stream_listed_twice_reads_alike_marked_and_reconciled(store: Store) -> None:
    two_mailboxes(store)
    write_runs(store)
    read = summaries(store)
    assert {k: v for k, v in facts(store).items() if k in EXPECTED} == EXPECTED
    store.reconcile()
    assert summaries(store) == read
    assert store.verify() == []


def test_0030_marks_the_rows_it_decides_anew_and_rolls_back(blank: Store) -> None:
    """Stored by 0029, rows with a stream listed twice (the sort's choice), a checkpoint
    that is no string, or an empty one (stored as '', now null) are marked by 0030, not one
    whose checkpoints are strings; they read by the new rules and are stored by them at the
    next reconcile; rolled back and forward, they read alike."""
    apply_upto(blank, "0029_marks_keep_runs")
    two_mailboxes(blank)
    blank.create_connection("cin_c", "gmail")
    write_runs(blank)
    write_odd(blank, "cin_b")
    run_events(blank, "r_empty", "cin_c", data={"collection_facts": {"streams": ODD[-1:]}})
    blank.create_connection("cin_d", "gmail")  # its checkpoints are strings: no mark
    plain = [{"stream": s, "checkpoint": "committed", "collected": 1} for s in ("a", "b")]
    run_events(blank, "r_plain", "cin_d", data={"collection_facts": {"streams": plain}})
    blank.reconcile()
    apply_upto(blank, None)
    marked = q(blank, "SELECT DISTINCT connector_instance_id AS c FROM pyref_dirty")
    assert sorted(r["c"] for r in marked) == ["cin_a", "cin_b", "cin_c"]
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
