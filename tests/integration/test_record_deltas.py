"""Record deltas (0020, issue #15): an INSERT into `records` leaves, per connection and
stream, what it adds; a page reads a row's pending deltas with it and adds them, in its
one statement, instead of recomputing the connection; reconcile consumes exactly the
deltas its recount counted. Every assertion compares with a recount: a reconciled read,
or a read forced to recompute (a mark), on both backends.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

import pyreference
from pyreference.store import Store, page_statement
from tests.integration.test_runs_trust import p, q
from tests.support.faults import install_fault, remove_fault
from tests.support.scenario import NOW, at, moved_back, records, register


def page_statements(store: Store) -> int:
    """Statements of a page read whole (a store that memoizes nothing reads whole rows in
    its one page statement), so the count says whether the read recomputed any row."""
    whole = Store(store.database, store.owner, memo_rows=0)
    with whole.statement_counter() as counter:
        whole.list_connection_summaries(now=NOW)
    return int(counter.statements)


def counts(store: Store) -> list[dict[str, Any]]:
    """Every summary's record evidence: totals, bytes, last record time, per-stream counts."""
    out = []
    for s in store.iter_connection_summaries(NOW):
        d = s.to_dict()
        out.append(
            {
                "id": d["connection_id"],
                "total": (d["total_records"], d["total_records_state"]),
                "bytes": d["retained_bytes"],
                "captured_at": d["freshness"]["captured_at"],
                "streams": d["stream_records"],
            }
        )
    return out


def summaries(store: Store) -> list[dict[str, Any]]:
    """Every summary, without what says how the read was made (`evidence`)."""
    rows = [s.to_dict() for s in store.iter_connection_summaries(NOW)]
    for row in rows:
        row.pop("evidence")
    return rows


def pending(store: Store) -> tuple[int, int]:
    """(record deltas, marks) waiting for reconcile."""
    deltas = q(store, "SELECT count(*) AS n FROM pyref_record_deltas")[0]["n"]
    marks = q(store, "SELECT count(*) AS n FROM pyref_dirty")[0]["n"]
    return int(deltas), int(marks)


def insert_record(store: Store, cid: str, stream: str, key: str, *, deleted: bool = False) -> None:
    """A plain-SQL INSERT, as another writer would make it."""
    q(
        store,
        "INSERT INTO records (connector_instance_id, stream, record_key, record_json,"
        f" emitted_at, deleted) VALUES ({p(store, 'c')}, {p(store, 's')}, {p(store, 'k')},"
        f" {p(store, 'j')}, {p(store, 'at')}, {p(store, 'd')})",
        {
            "c": cid,
            "s": stream,
            "k": key,
            "j": '{"text": "h\\u00e9llo \\ud83d\\ude00"}',
            "at": at(1),
            "d": deleted,
        },
    )


def mark(store: Store, *cids: str) -> None:
    """Mark connections dirty by hand: every read then recomputes them from the canonical
    tables (a recount to compare the deltas with)."""
    for cid in cids:
        q(
            store,
            f"INSERT INTO pyref_dirty (connector_instance_id) VALUES ({p(store, 'c')})",
            {"c": cid},
        )


def two_mailboxes(store: Store) -> Store:
    """Two Gmail connections of 3 messages each, reconciled: nothing pending."""
    register(store, "gmail")
    for cid in ("cin_a", "cin_b"):
        store.create_connection(cid, "gmail")
        store.ingest_records(cid, "messages", records(3, minutes_ago=30))
    store.reconcile()
    assert pending(store) == (0, 0)
    return store


@pytest.fixture
def mail(store: Store) -> Store:
    return two_mailboxes(store)


def test_inserts_are_added_by_the_page_statement_alone(mail: Store) -> None:
    store = mail
    before = counts(store)
    store.ingest_records("cin_a", "messages", records(2, prefix="new", minutes_ago=2))
    store.ingest_records("cin_a", "labels", records(1, prefix="lab"))  # a stream not stored yet
    insert_record(store, "cin_b", "messages", "tomb", deleted=True)  # a row, not a live one
    assert pending(store)[1] == 0, "an INSERT leaves deltas, not marks"
    assert page_statements(store) == 1
    read = counts(store)
    assert read != before
    page = store.list_connection_summaries(now=NOW).to_dict()["items"]
    assert all(item["evidence"]["dirty"] for item in page)
    assert store.verify() == []  # rows with deltas are dirty: not compared yet

    store.reconcile()
    assert pending(store) == (0, 0)
    assert counts(store) == read
    assert store.verify() == []


def test_deltas_give_what_a_recompute_gives(mail: Store) -> None:
    store = mail
    store.ingest_records("cin_a", "messages", records(4, prefix="x", minutes_ago=1))
    insert_record(store, "cin_b", "sent", "s1")
    folded = summaries(store)
    # A mark makes the reads recompute both connections from the canonical tables.
    mark(store, "cin_a", "cin_b")
    assert page_statements(store) == 2
    assert summaries(store) == folded
    store.reconcile()
    assert summaries(store) == folded


def test_a_marked_row_takes_no_deltas(mail: Store) -> None:
    """An UPDATE that moves a record back in time marks; the recompute counts the inserts
    too, once."""
    store = mail
    store.ingest_records("cin_a", "messages", records(2, prefix="new"))
    store.ingest_records("cin_a", "messages", [moved_back(records(1)[0])])
    assert pending(store)[0] > 0 and pending(store)[1] > 0
    read = counts(store)
    total = next(r["total"] for r in read if r["id"] == "cin_a")
    assert total == (5, "known")
    store.reconcile()
    assert counts(store) == read and pending(store) == (0, 0)


def test_scoped_reads_add_deltas_too(mail: Store) -> None:
    store = mail
    store.ingest_records("cin_b", "messages", records(5, prefix="n", minutes_ago=1))
    with store.statement_counter() as counter:
        summary = store.get_connection_summary("cin_b", now=NOW)
    assert counter.statements == 1
    assert summary is not None and summary.total_records == 8
    diagnostics = store.connection_diagnostics("cin_b", now=NOW)
    assert diagnostics.summary.total_records == 8
    read = counts(store)
    store.reconcile()
    assert counts(store) == read


def test_a_failed_reconcile_keeps_the_deltas_and_a_later_one_folds_them(mail: Store) -> None:
    store = mail
    store.ingest_records("cin_a", "messages", records(2, prefix="new"))
    expected = counts(store)
    install_fault(store, "cin_a")
    report = store.reconcile_report()
    assert report.failed == 1
    assert pending(store)[0] > 0, "the failed connection's deltas stay"
    # A failed row cannot take deltas: the read recomputes it, and counts right.
    assert page_statements(store) == 2
    assert counts(store) == expected
    remove_fault(store)
    store.reconcile()
    assert pending(store) == (0, 0)
    assert counts(store) == expected
    assert store.verify() == []


def test_rebuild_consumes_every_delta(mail: Store) -> None:
    store = mail
    store.ingest_records("cin_a", "messages", records(2, prefix="new"))
    read = counts(store)
    store.rebuild()
    assert pending(store) == (0, 0)
    assert counts(store) == read and store.verify() == []


def test_deltas_follow_a_renamed_connection_and_go_with_a_deleted_one(mail: Store) -> None:
    store = mail
    of = "SELECT count(*) AS n FROM pyref_record_deltas WHERE connector_instance_id = "
    store.ingest_records("cin_b", "messages", records(2, prefix="new"))
    q(store, "DELETE FROM records WHERE connector_instance_id = 'cin_b'")  # (records pin the id)
    pending_b = q(store, of + "'cin_b'")[0]["n"]
    assert pending_b > 0
    q(
        store,
        "UPDATE connector_instances SET connector_instance_id = 'cin_c'"
        " WHERE connector_instance_id = 'cin_b'",
    )
    assert q(store, of + "'cin_b'")[0]["n"] == 0
    assert q(store, of + "'cin_c'")[0]["n"] == pending_b
    q(store, "DELETE FROM connector_instances WHERE connector_instance_id = 'cin_c'")
    assert q(store, of + "'cin_c'")[0]["n"] == 0
    store.reconcile()
    assert pending(store)[0] == 0 and store.verify() == []


def test_an_unchanged_reingest_leaves_nothing_pending(mail: Store) -> None:
    """Re-sending the same records (a sync that repeats its window) changes no row: no
    delta, no mark, and the page stays one statement."""
    store = mail
    assert store.ingest_records("cin_a", "messages", records(3, minutes_ago=30)) == 0
    assert pending(store) == (0, 0)
    assert page_statements(store) == 1


def test_a_records_batch_adds_one_delta_per_stream(mail: Store) -> None:
    """Postgres appends one delta per statement, connection and stream; SQLite, one writer
    at a time, adds every record into one row per connection and stream."""
    store = mail
    store.ingest_records("cin_a", "messages", records(50, prefix="batch"))
    assert pending(store) == (1, 0)
    store.ingest_records("cin_a", "messages", records(5, prefix="more"))
    assert pending(store) == (2 if store.dialect == "postgres" else 1, 0)


def test_reconcile_takes_the_oldest_pending_write_first(mail: Store) -> None:
    """A connection with only record deltas is not passed over by newer marks: bounded
    reconciles take the oldest pending write first, mark or delta."""
    store = mail
    store.ingest_records("cin_b", "messages", records(1, prefix="old"))  # a delta, first
    time.sleep(0.01)  # SQLite stamps writes to the millisecond: one tick apart at least
    store.add_detail_gap("cin_a", "messages", gap_id="g1")  # a mark, later
    assert store.reconcile(limit=1) == 1
    left = q(store, "SELECT connector_instance_id AS c FROM pyref_record_deltas")
    assert left == [], "the older delta-only connection went first"
    assert pending(store)[1] > 0


def test_single_record_and_batch_inserts_add_alike(mail: Store) -> None:
    """A statement of one record (0021: its delta as it is) and a statement of several
    (grouped) add the same: live records, rows, bytes and the latest live record time,
    tombstones counted as rows only; the page's sum equals a recount."""
    store = mail
    insert_record(store, "cin_a", "messages", "one")
    insert_record(store, "cin_a", "messages", "gone", deleted=True)
    insert_record(store, "cin_b", "labels", "lone", deleted=True)  # a stream with no live record
    values = ", ".join(
        f"({p(store, f'c{i}')}, {p(store, f's{i}')}, {p(store, f'k{i}')},"
        f" '{{\"n\": {i}}}', {p(store, 'at')}, {p(store, f'd{i}')})"
        for i in range(4)
    )
    rows = [("cin_a", "messages", False), ("cin_a", "messages", True), ("cin_b", "sent", False)]
    rows.append(("cin_b", "labels", False))
    params: dict[str, Any] = {"at": at(0.5)}
    for i, (cid, stream, deleted) in enumerate(rows):
        params.update({f"c{i}": cid, f"s{i}": stream, f"k{i}": f"b{i}", f"d{i}": deleted})
    q(
        store,
        "INSERT INTO records (connector_instance_id, stream, record_key, record_json,"
        f" emitted_at, deleted) VALUES {values}",
        params,
    )
    tomb = q(
        store,
        "SELECT sum(live) AS live, sum(n) AS n, sum(bytes) AS bytes, max(last_at) AS last_at"
        " FROM pyref_record_deltas WHERE connector_instance_id = 'cin_b' AND stream = 'labels'",
    )[0]
    assert (tomb["live"], tomb["n"]) == (1, 2) and tomb["bytes"] > 0 and tomb["last_at"]
    assert pending(store)[1] == 0
    folded = summaries(store)
    mark(store, "cin_a", "cin_b")  # the reads recount both connections
    assert summaries(store) == folded
    store.reconcile()
    assert summaries(store) == folded and store.verify() == []


def test_a_single_record_insert_sets_up_no_aggregate(pg_store: Store, pg_dsn: str) -> None:
    """0021: the records trigger gives a one-record statement its delta without a GROUP BY
    (whose set-up cost each row-at-a-time INSERT ~20 us, R40); a statement of several
    records is grouped. auto_explain shows the trigger's own statements."""
    register(pg_store, "gmail")
    pg_store.create_connection("cin_a", "gmail")
    insert = (
        "INSERT INTO records (connector_instance_id, stream, record_key, record_json, emitted_at)"
        " SELECT 'cin_a', 'messages', 'k' || g, '{}', now() FROM generate_series(1, %s) g"
    )

    def delta_plans(n: int) -> list[str]:
        notices: list[str] = []
        with psycopg.connect(pg_dsn) as conn:
            conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
            conn.execute("LOAD 'auto_explain'")
            conn.execute(
                "SET auto_explain.log_min_duration = 0; SET auto_explain.log_level = notice;"
                " SET auto_explain.log_nested_statements = on"
            )
            conn.execute(insert.replace("'k'", f"'k{n}_'"), (n,))
        return [m for m in notices if "pyref_record_deltas" in m]

    one, several = delta_plans(1), delta_plans(2)
    assert len(one) == len(several) == 1, (one, several)
    assert "Aggregate" not in one[0], one[0]
    assert "Aggregate" in several[0], several[0]


def test_the_page_sums_deltas_only_for_rows_that_have_them(mail: Store) -> None:
    """A row without deltas is answered by an index probe; only a row with deltas builds
    their array (an aggregate whose set-up was a quarter of the page statement's execution
    on Postgres when every row paid it). Plans are exact: read with EXPLAIN ANALYZE."""
    store = mail
    store.ingest_records("cin_a", "messages", records(2, prefix="new"))  # cin_b: none
    name, params = page_statement(store.owner, 101, None, None)
    sql = store.database.queries[name]
    if store.dialect == "postgres":
        explain = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql
        with store.database.session(owner=store.owner) as s:
            plan = "\n".join(r["QUERY PLAN"] for r in s.execute(explain, params))
        # Both rows probed; the deltas' array (the subplan's Aggregate) built for cin_a alone.
        assert re.search(r"on pyref_record_deltas z \(actual rows=\d+ loops=2\)", plan), plan
        assert re.search(r"->  Aggregate \(actual rows=1 loops=1\)", plan), plan
        assert not re.search(r"->  Aggregate \(actual rows=1 loops=2\)", plan), plan
    else:
        explain = "EXPLAIN QUERY PLAN " + sql
        with store.database.session(owner=store.owner) as s:
            plan = "\n".join(str(r["detail"]) for r in s.execute(explain, params))
        # The probe is a covering-index search; the deltas' search is a subquery of its own.
        assert "SEARCH z USING COVERING INDEX pyref_record_deltas_instance_idx" in plan, plan
        assert "SEARCH y USING INDEX pyref_record_deltas_instance_idx" in plan, plan
    assert [r["id"] for r in counts(store)] == ["cin_a", "cin_b"]


@pytest.mark.parametrize("writes", [3, 20])
def test_a_page_row_carries_its_many_deltas_summed_per_stream(mail: Store, writes: int) -> None:
    """0036: a connection written in many small statements while reconcile lags carries
    its deltas to the page summed per stream once it has 8 or more (Postgres appends one
    a statement, so the array grew with every write); fewer are listed as they are.
    SQLite keeps one a stream anyway. Reads give what a recount and a reconcile give."""
    store = mail
    for i in range(writes):  # one statement each, over two streams
        insert_record(store, "cin_a", ("messages", "threads")[i % 2], f"many{i}", deleted=i == 4)
    name, params = page_statement(store.owner, 101, None, None)
    pages = [store.database.queries[name]]  # the named statement, and 0036's functions
    if store.dialect == "postgres":
        pages += [
            f"SELECT * FROM pyref_list_{f}_v1(%(owner)s, 101, NULL, NULL, NULL, NULL)"
            for f in ("keys", "page")
        ]
    listed = writes if store.dialect == "postgres" and writes < 8 else 2
    for sql in pages:
        with store.database.session(owner=store.owner) as s:
            rows = s.execute(sql, params)
        deltas = next(r["record_deltas"] for r in rows if r["connector_instance_id"] == "cin_a")
        deltas = json.loads(deltas) if isinstance(deltas, str) else deltas
        assert len(deltas) == listed, (sql, deltas)
        assert sum(d["rows"] for d in deltas) == writes
        assert sum(d["live"] for d in deltas) == writes - (writes > 4)
    read = summaries(store)
    mark(store, "cin_a")
    assert summaries(store) == read  # a recount
    store.reconcile()
    assert summaries(store) == read


def test_sqlite_replace_without_recursive_triggers_counts_right(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """INSERT OR REPLACE from a connection without `recursive_triggers` deletes the old row
    without firing a trigger: the insert marks the connection, so it is recounted."""
    path = tmp_path / "replace.db"
    shutil.copy(sqlite_template, path)
    store = pyreference.connect(f"sqlite:///{path}")
    try:
        register(store, "gmail")
        store.create_connection("cin_a", "gmail")
        store.ingest_records("cin_a", "messages", records(3, minutes_ago=30))
        store.reconcile()
        other = sqlite3.connect(path)  # recursive_triggers is off by default
        with other:
            other.execute(
                "INSERT OR REPLACE INTO records (connector_instance_id, stream, record_key,"
                " record_json, emitted_at) VALUES ('cin_a', 'messages', 'k0', '{\"n\": 99}', ?)",
                (at(1),),
            )
        other.close()
        read = counts(store)
        assert read[0]["total"] == (3, "known")
        store.reconcile()
        assert counts(store) == read and store.verify() == []
        # A REPLACE that takes over another record's rowid, in another stream.
        with sqlite3.connect(path) as other:
            other.execute(
                "INSERT OR REPLACE INTO records (rowid, connector_instance_id, stream, record_key,"
                " record_json, emitted_at) SELECT rowid, 'cin_a', 'labels', 'l1', '{}', ?"
                " FROM records WHERE record_key = 'k1'",
                (at(1),),
            )
        other.close()
        read = counts(store)
        assert read[0]["total"][0] == 3  # k1 is gone, l1 came
        store.reconcile()
        assert counts(store) == read and store.verify() == []
    finally:
        store.close()


@pytest.mark.parametrize("content", [True, False], ids=["new_content", "rowid_only"])
@pytest.mark.parametrize("owner", ["cin_a", "cin_b"], ids=["same_connection", "other_connection"])
def test_sqlite_update_or_replace_onto_another_rowid_counts_right(
    sqlite_template: Path, tmp_path: Path, content: bool, owner: str
) -> None:
    """SQLite: an UPDATE OR REPLACE that moves a record onto another record's rowid deletes
    that record without firing a trigger (no recursive_triggers): both connections are
    marked and recounted, never given a delta (found by a reviewer: the change in place
    left a delta, and the deleted record stayed counted until reconcile; a rowid-only move
    went unmarked before 0031 too)."""
    path = tmp_path / "replace.db"
    shutil.copy(sqlite_template, path)
    store = pyreference.connect(f"sqlite:///{path}")
    try:
        two_mailboxes(store)
        before = {r["id"]: r["total"][0] for r in counts(store)}
        json_set = ", record_json = '{\"rr\": 1}'" if content else ""
        with sqlite3.connect(path) as other:  # recursive_triggers is off by default
            other.execute(
                "UPDATE OR REPLACE records SET rowid = (SELECT rowid FROM records"
                f" WHERE connector_instance_id = '{owner}' AND record_key = 'k1'){json_set}"
                " WHERE connector_instance_id = 'cin_a' AND record_key = 'k0'"
            )
        other.close()
        read = {r["id"]: r["total"][0] for r in counts(store)}
        assert read == {**before, owner: before[owner] - 1}
        store.reconcile()
        assert {r["id"]: r["total"][0] for r in counts(store)} == read
        assert store.verify() == []
    finally:
        store.close()


def race_reconciles(
    store: Store,
    dsn: str,
    write: Callable[[psycopg.Connection], None],
    check: Callable[[], None],
) -> int:
    """`write` (on a connection of its own, autocommit) in one thread while another
    reconciles in a loop and this one runs `check` (a read and its assertions) until the
    writer is done; returns how many checks ran. Any thread's error fails the test."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                write(conn)
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    def reconciler() -> None:
        try:
            while not stop.is_set():
                store.reconcile()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=reconciler)]
    for t in threads:
        t.start()
    seen = 0
    try:
        while not stop.is_set():
            check()
            seen += 1
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    return seen


def test_deltas_committed_during_reconciles_are_neither_lost_nor_counted_twice(
    pg_store: Store, pg_dsn: str
) -> None:
    """One writer commits batches of 3 records to one connection while a reconciler loops
    and a reader reads: every read shows a count some commit made (a multiple of 3,
    between what was committed before the read and after it), and the end is exact."""
    store = pg_store
    register(store, "gmail")
    store.create_connection("cin_a", "gmail")
    store.reconcile()
    started, done = [0], [0]  # records of batches begun, and of batches committed

    def write(conn: psycopg.Connection) -> None:
        for i in range(150):
            started[0] += 3
            with conn.transaction():
                for j in range(3):
                    conn.execute(
                        "INSERT INTO records (connector_instance_id, stream, record_key,"
                        " record_json, emitted_at) VALUES ('cin_a', 'messages', %s,"
                        " '{}', now())",
                        (f"w{i}_{j}",),
                    )
            done[0] += 3

    def check() -> None:
        low = done[0]
        summary = store.get_connection_summary("cin_a", now=NOW)
        high = started[0]
        total = summary.total_records or 0
        assert low <= total <= high and total % 3 == 0, (low, total, high)

    assert race_reconciles(store, pg_dsn, write, check) > 10
    store.reconcile()
    assert store.get_connection_summary("cin_a", now=NOW).total_records == 450
    assert pending(store) == (0, 0)
    assert store.verify() == []


def update(store: Store, assignments: str, where: str) -> None:
    """A plain-SQL UPDATE of records, as another writer would make it."""
    true = "true" if store.dialect == "postgres" else "1"
    q(store, f"UPDATE records SET {assignments.format(true=true)} WHERE {where}")


def recounted(store: Store) -> list[dict[str, Any]]:
    """The summaries as a recount gives them: every connection marked, so every read
    recomputes it from the canonical tables (then the marks are reconciled away)."""
    mark(store, "cin_a", "cin_b")
    assert page_statements(store) == 2
    out = summaries(store)
    store.reconcile()
    assert pending(store) == (0, 0)
    return out


# Changes in place that leave deltas (0031): new content at the same time or later, a
# deleted record revived or (as content) changed, several records of several connections
# and streams in one statement.
ADDABLE = {
    "new_content": ('record_json = \'{{"v": "longer content"}}\'', "record_key = 'k0'"),
    "later": (f"emitted_at = '{at(1)}'", "record_key = 'k1'"),
    "content_and_later": (
        "record_json = '{{\"v\": 2}}', emitted_at = '" + at(2) + "'",
        "connector_instance_id = 'cin_b'",
    ),
    "two_connections": ("record_json = '{{\"w\": 1}}'", "stream = 'messages'"),
}


@pytest.mark.parametrize("case", sorted(ADDABLE))
def test_a_record_changed_in_place_leaves_a_delta(mail: Store, case: str) -> None:
    store = mail
    insert_record(store, "cin_a", "labels", "l0")
    store.reconcile()
    update(store, *ADDABLE[case])
    deltas, marks = pending(store)
    assert deltas > 0 and marks == 0, "a change in place leaves deltas, not marks"
    assert page_statements(store) == 1, "the page statement adds them: nothing recomputed"
    folded = summaries(store)
    assert folded == recounted(store)
    assert summaries(store) == folded  # reconciled


def test_a_revived_record_and_a_deleted_one_changed(mail: Store) -> None:
    store = mail
    store.delete_record("cin_a", "messages", "k0")  # a live record deleted: a mark
    assert pending(store)[1] > 0
    store.reconcile()
    update(store, "record_json = '{{\"gone\": 1}}'", "record_key = 'k0' AND deleted")
    assert pending(store) == (0, 0), "a deleted record changed changes nothing counted"
    update(store, "deleted = NOT deleted, deleted_at = NULL", "record_key = 'k0' AND deleted")
    assert pending(store)[0] > 0 and pending(store)[1] == 0
    folded = summaries(store)
    assert next(r for r in counts(store) if r["id"] == "cin_a")["total"] == (3, "known")
    assert folded == recounted(store)


# Changes a delta cannot express: they mark the connection (as before 0031).
MARKING = {
    "earlier": (f"emitted_at = '{at(600)}'", "record_key = 'k0'"),
    "deleted": ("deleted = {true}", "record_key = 'k1' AND connector_instance_id = 'cin_a'"),
    "new_stream": ("stream = 'threads'", "record_key = 'k2' AND connector_instance_id = 'cin_b'"),
    "new_key": ("record_key = 'k9'", "record_key = 'k2' AND connector_instance_id = 'cin_a'"),
}


@pytest.mark.parametrize("case", sorted(MARKING))
def test_a_change_a_delta_cannot_express_marks(mail: Store, case: str) -> None:
    store = mail
    update(store, "record_json = '{{\"v\": 1}}'", "record_key = 'k0'")  # deltas pending too
    update(store, *MARKING[case])
    assert pending(store)[1] > 0
    folded = summaries(store)
    assert folded == recounted(store)


def test_update_deltas_committed_during_reconciles_are_neither_lost_nor_counted_twice(
    pg_store: Store, pg_dsn: str
) -> None:
    """One writer rewrites one record, a little longer each commit (a delta of its bytes,
    0031), while a reconciler loops and a reader reads: every read shows the size some
    commit made, and the end is exact."""
    store = pg_store
    register(store, "gmail")
    store.create_connection("cin_a", "gmail")
    insert_record(store, "cin_a", "messages", "k")
    store.reconcile()
    base = store.get_connection_summary("cin_a", now=NOW).retained_bytes or 0
    started, done = [0], [0]  # the longest content begun, and committed
    size = '{"p": ""}'  # jsonb's text of the content with no x: its bytes are this plus i

    def write(conn: psycopg.Connection) -> None:
        for i in range(1, 201):
            started[0] = i
            conn.execute(
                "UPDATE records SET record_json = jsonb_build_object('p', repeat('x', %s))"
                " WHERE connector_instance_id = 'cin_a' AND record_key = 'k'",
                (i,),
            )
            done[0] = i

    def check() -> None:
        low = done[0]
        summary = store.get_connection_summary("cin_a", now=NOW)
        high = started[0]
        grown = (summary.retained_bytes or 0) - len(size)
        assert summary.total_records == 1
        assert low <= grown <= high or (low == 0 and summary.retained_bytes == base), (
            low,
            grown,
            high,
        )

    assert race_reconciles(store, pg_dsn, write, check) > 10
    assert pending(store)[1] == 0, "no change of the writer's marked the connection"
    store.reconcile()
    assert store.get_connection_summary("cin_a", now=NOW).retained_bytes == len(size) + 200
    assert pending(store) == (0, 0)
    assert store.verify() == []


def test_the_librarys_ingest_of_records_seen_before_leaves_deltas(mail: Store) -> None:
    """The library's ingest of records it holds, with new content or revived, changes them
    in place on both backends (SQLite: an UPDATE before the INSERT of new keys, which would
    otherwise meet their keys and mark): deltas, no marks, read as a recount."""
    store = mail
    store.delete_record("cin_b", "messages", "k1")
    store.reconcile()
    changed = [{**r, "data": {"new": True}, "emitted_at": at(1)} for r in records(2)]
    assert store.ingest_records("cin_a", "messages", changed + records(1, prefix="n")) == 3
    assert store.ingest_records("cin_b", "messages", records(2)) == 1  # k1 revived, k0 as is
    deltas, marks = pending(store)
    assert deltas > 0 and marks == 0
    assert page_statements(store) == 1
    folded = summaries(store)
    assert next(r for r in counts(store) if r["id"] == "cin_a")["total"] == (4, "known")
    assert folded == recounted(store)
