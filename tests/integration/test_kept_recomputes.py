"""A store keeps the recomputation of a dirty row with its version (0025, Postgres).

A page row marked dirty is recomputed from the canonical tables by the read (R6). Its
version (`recompute_versions` in sql/templates/_runs.sql.j2: revisions, and the marks,
record deltas and run marks waiting for it) is the same while a recompute would read the
same rows, so the recompute statement takes the version of the recomputation the store
kept and recomputes only rows whose version changed. These tests
hold that to "never stale": after every kind of write, in random sequences with
reconciles between, and with writers committing out of order, a memoizing store's page
equals the page of a store that keeps nothing (`memo_rows=0`), which recomputes every
dirty row on every read. SQLite keeps one mark a connection and never keeps a
recomputation; the same sequences run there too.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pyreference.store import Store
from tests.support.scenario import NOW, at, moved_back, records, run, small_fleet


def _same(warm: Store, cold: Store) -> int:
    """Both stores' pages equal; how many dirty rows the memoizing store's read recomputed
    (the others it served from recomputations it kept)."""
    made = warm._memo.recomputes_made
    got = warm.list_connection_summaries(now=NOW).to_dict()
    assert got == cold.list_connection_summaries(now=NOW).to_dict()
    return warm._memo.recomputes_made - made


def _sql(store: Store, statement: str, params: Any = None) -> None:
    with store.database.session(transaction=True) as s:
        s.execute(statement, params)


def _writes(store: Store, rnd: random.Random) -> list[tuple[str, Callable[[], Any]]]:
    """Every kind of write that changes what a recompute of a page row reads."""
    n = rnd.randrange(10**9)
    when = "%(t)s" if store.dialect == "postgres" else ":t"
    profile = rnd.choice(["amazon:cin_amz_a", "amazon:cin_amz_b"])
    browser = {"browser_surface": {"profile_key": profile}}
    end = rnd.choice(["run.completed", "run.failed", "run.cancelled"])
    return [
        (
            "new record",
            lambda: store.ingest_records("cin_mail", "messages", records(1, prefix=f"n{n}_")),
        ),
        (
            "changed record",
            lambda: store.ingest_records(
                "cin_mail", "messages", [{**records(1)[0], "data": {"v": n}}]
            ),
        ),
        ("deleted record", lambda: store.delete_record("cin_mail", "messages", f"k{n % 7}")),
        (
            "record edited by hand",
            lambda: _sql(
                store,
                f"UPDATE records SET emitted_at = {when} WHERE connector_instance_id = 'cin_amz_a'",
                {"t": at(n % 50)},
            ),
        ),
        (
            "a run of the connection",
            lambda: store.append_events(
                run(f"r_mail_{n % 3}", end=end, connector_id="gmail", connection_id="cin_mail")
            ),
        ),
        (
            # A browser run named by profile key only: a later event of the same run may
            # name the sibling, moving the run (the run marks' path, 0011).
            "a browser run",
            lambda: store.append_events(
                run(f"r_amz_{n % 2}", end=end, connector_id="amazon", data=browser)
            ),
        ),
        ("a gap", lambda: store.add_detail_gap("cin_chase", "transactions", gap_id=f"g{n}")),
        (
            "a gap resolved",
            lambda: store.update_detail_gap(
                "gap_1", status=rnd.choice(["in_progress", "terminal", "pending"])
            ),
        ),
        (
            "attention",
            lambda: store.open_attention("cin_slack", reason_code="reauth", attention_id=f"a{n}"),
        ),
        (
            "a schedule",
            lambda: store.set_schedule(
                "cin_slack", interval_seconds=600 + n % 600, enabled=bool(n % 2)
            ),
        ),
        ("renamed", lambda: store.update_connection("cin_mail", display_name=f"Mail {n % 3}")),
    ]


def test_a_kept_recomputation_is_never_stale_after_any_write(store: Store) -> None:
    """Each kind of write to a row that waits for reconcile, read twice after it: the
    first read recomputes, the reread keeps (Postgres), and both equal a store that
    keeps nothing."""
    small_fleet(store)
    store.reconcile()
    cold = Store(store.database, memo_rows=0)
    rnd = random.Random(7)
    _same(store, cold)
    for name, write in _writes(store, rnd):
        write()
        first = _same(store, cold)
        again = _same(store, cold)
        if first and store.dialect == "postgres":
            assert again == 0, name  # kept: the same marks wait
    store.reconcile()
    _same(store, cold)


@pytest.mark.parametrize("seed", range(6))
def test_random_writes_reads_and_reconciles_never_serve_a_stale_row(
    store: Store, seed: int
) -> None:
    """Random sequences of every kind of write, reads and partial reconciles."""
    small_fleet(store)
    cold = Store(store.database, memo_rows=0)
    rnd = random.Random(seed)
    kept = 0
    for _ in range(60):
        step = rnd.random()
        if step < 0.5:
            rnd.choice(_writes(store, rnd))[1]()
        elif step < 0.6:
            store.reconcile(limit=rnd.choice([1, 2, None]))
        elif _same(store, cold) and store.dialect == "postgres":
            # Nothing written since: the same marks wait, the recomputations are kept.
            assert _same(store, cold) == 0
            kept += 1
    assert kept > 0 or store.dialect == "sqlite"


@pytest.mark.postgres
def test_a_write_committed_out_of_order_is_never_hidden(pg_store: Store, pg_dsn: str) -> None:
    """Writer A marks a row and commits after writer B, whose mark the reader saw with a
    later sequence number: A's commit adds a mark the reader has not counted, so the row
    is recomputed and shows A's write."""
    store = pg_store
    small_fleet(store)
    store.reconcile()
    cold = Store(store.database, memo_rows=0)
    _same(store, cold)
    with psycopg.connect(pg_dsn) as a, psycopg.connect(pg_dsn, autocommit=True) as b:
        a.execute(
            'UPDATE records SET record_json = \'{"by": "a"}\''
            " WHERE connector_instance_id = 'cin_mail' AND record_key = 'k1'"
        )
        b.execute(
            "UPDATE records SET deleted = true"
            " WHERE connector_instance_id = 'cin_mail' AND record_key = 'k2'"
        )
        assert _same(store, cold) == 1
        assert _same(store, cold) == 0  # kept
        a.commit()
    assert _same(store, cold) == 1  # A's mark: another version
    store.reconcile()
    _same(store, cold)


def test_a_run_event_naming_no_connection_is_recomputed_for_the_runs_owner(
    store: Store,
) -> None:
    """An event of a browser run that names no connection (its connector has two): the
    trigger marks nobody, but the run's earlier facts name its owner, whose run now
    failed first. The run mark naming it through those facts is in its version
    (Postgres): a kept recomputation would show the run as succeeded."""
    small_fleet(store)
    store.reconcile()
    cold = Store(store.database, memo_rows=0)
    store.ingest_records("cin_amz_a", "orders", [moved_back(records(1)[0])])
    assert _same(store, cold) == 1
    assert _same(store, cold) == (store.dialect == "sqlite")  # kept on Postgres
    event = {"event_type": "run.failed", "occurred_at": at(25), "run_id": "r_amz_a"}
    store.append_events([{**event, "connector_id": "amazon"}])
    assert _same(store, cold) >= 1
    summary = store.get_connection_summary("cin_amz_a", now=NOW).to_dict()
    assert summary["last_run"]["status"] == "failed"
    store.reconcile()
    _same(store, cold)


def test_a_record_whose_json_changes_only_in_its_text_is_marked(store: Store) -> None:
    """1 and 1.000 are equal JSON values but not equal text, and a stream's bytes count
    each record's JSON text: an UPDATE that changes only the text marks the connection
    (0025; found by a reviewer: on Postgres it marked nothing, so the stored bytes stayed
    old, and a kept recomputation with them)."""
    small_fleet(store)
    store.reconcile()
    cold = Store(store.database, memo_rows=0)
    before = store.get_connection_summary("cin_mail", now=NOW).to_dict()["retained_bytes"]
    store.delete_record("cin_mail", "threads", "k0")  # dirty: recomputed, then kept
    _same(store, cold)
    _same(store, cold)
    _sql(
        store,
        "UPDATE records SET record_json = '{\"n\": 1.000}'"
        " WHERE connector_instance_id = 'cin_mail' AND stream = 'messages' AND record_key = 'k1'",
    )
    assert _same(store, cold) == 1
    store.reconcile()
    _same(store, cold)
    after = store.get_connection_summary("cin_mail", now=NOW).to_dict()["retained_bytes"]
    assert after != before
    assert store.verify() == []


@pytest.mark.postgres
def test_a_replaced_recompute_function_recomputes_every_row(pg_store: Store) -> None:
    """The version starts with the recompute function's catalog row: a migration that
    replaces (or alters) the function makes a running store recompute, not serve what the
    old function returned (found by a reviewer)."""
    store = pg_store
    small_fleet(store)
    store.reconcile()
    cold = Store(store.database, memo_rows=0)
    store.delete_record("cin_mail", "threads", "k0")
    assert _same(store, cold) == 1
    assert _same(store, cold) == 0
    _sql(store, "ALTER FUNCTION pyref_recompute_evidence_v2(text[]) SET work_mem = '8MB'")
    assert _same(store, cold) == 1
