"""Reads: bounded list pages, keyset cursors, single-flight, deep scoped reads (R6, R10–R13)."""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

import pyreference
from pyreference.db import Ids
from pyreference.errors import ConnectionNotFound, InvalidCursor, InvalidInput
from pyreference.manifests import real_manifests
from pyreference.store import Store
from tests.support.scenario import (
    NOW,
    at,
    comparable,
    moved_back,
    records,
    register,
    run,
    small_fleet,
)

MAX_PAGE_STATEMENTS = 4


def seed_fleet(store, n: int, records_each: int = 0) -> None:
    register(store, "gmail")
    for i in range(n):
        cid = f"cin_{i:05d}"
        store.create_connection(cid, "gmail", created_at=at(10_000 - i))
        if records_each:
            store.ingest_records(cid, "messages", records(records_each))


_WHOLE: weakref.WeakKeyDictionary[Store, Store] = weakref.WeakKeyDictionary()


def page_cost(store, **kwargs) -> tuple[int, int]:
    """Statements and writes of a page read whole (by a store that memoizes nothing, on the
    same database): the page statement, and one more when it recomputes rows."""
    if store not in _WHOLE:  # one per store, so it reads the cursor secret once, as it would
        _WHOLE[store] = Store(store.database, store.owner, memo_rows=0)
    with _WHOLE[store].statement_counter() as counter:
        _WHOLE[store].list_connection_summaries(now=NOW, **kwargs)
    return counter.statements, counter.writes


def page_names(store, **kwargs) -> list[str]:
    with store.statement_counter() as counter:
        store.list_connection_summaries(now=NOW, **kwargs)
    return counter.names


@pytest.mark.parametrize("dirty", [False, True])
def test_page_cost_is_constant_in_fleet_size(store, dirty) -> None:
    seed_fleet(store, 10)
    if not dirty:
        store.reconcile()
    small = page_cost(store, limit=100)
    seed_fleet_more = [f"cin_x{i:04d}" for i in range(490)]
    for cid in seed_fleet_more:
        store.create_connection(cid, "gmail", created_at=at(5))
    if not dirty:
        store.reconcile()
    large = page_cost(store, limit=100)
    assert small == large
    assert large[1] == 0  # R6: reads never write
    assert large[0] <= (2 if dirty else 1) <= MAX_PAGE_STATEMENTS


def test_page_cost_is_constant_in_records_per_connection(store) -> None:
    register(store, "gmail")
    for cid, n in (("cin_few", 10), ("cin_many", 10_000)):
        store.create_connection(cid, "gmail")
        store.ingest_records(cid, "messages", records(n))
    store.reconcile()
    clean = page_cost(store, limit=1)
    assert clean == page_cost(
        store, limit=1, cursor=store.list_connection_summaries(limit=1).next_cursor
    )
    store.ingest_records("cin_many", "messages", records(1, prefix="new"))
    store.ingest_records("cin_few", "messages", records(1, prefix="new"))
    # New records leave deltas that the page statement reads with the rows (0020).
    assert page_cost(store, limit=100) == (1, 0)
    totals = {
        s.connection_id: s.total_records for s in store.list_connection_summaries(now=NOW).items
    }
    assert totals == {"cin_few": 11, "cin_many": 10_001}
    # A record moved back in time marks its connection: one more statement recomputes it.
    store.ingest_records("cin_many", "messages", [moved_back(records(1)[0])])
    assert page_cost(store, limit=100) == (2, 0)


def test_a_memoizing_store_reads_documents_only_for_rows_it_lacks(store) -> None:
    """R10, issue #15: a store that memoizes rows reads a page's key columns, then whole
    rows only for those its memo lacks; a reread of unchanged rows reads no evidence
    documents, and a row whose documents changed is read whole again."""
    small_fleet(store)
    store.reconcile()
    plain = Store(store.database, memo_rows=0)

    def page() -> tuple[list[str], dict]:
        names = page_names(store)
        got = store.list_connection_summaries(now=NOW).to_dict()
        assert got == plain.list_connection_summaries(now=NOW).to_dict()
        return names, got

    assert page()[0] == ["list_page"]  # the memo holds nothing yet: whole rows at once
    assert page()[0] == ["list_keys"]
    # A reconcile that rewrites only the documents (a record's content changed; counts,
    # failures and profile key unchanged) changes the row's key: read whole again.
    mail = store.get_connection_summary("cin_mail", now=NOW).to_dict()
    store.ingest_records("cin_mail", "messages", records(1, prefix="m"))
    store.reconcile()
    names, got = page()
    assert names == ["list_keys", "page_rows"]
    after = next(i for i in got["items"] if i["connection_id"] == "cin_mail")
    assert after["total_records"] == mail["total_records"] + 1
    # New records are added to the memoized row: the key statement alone.
    store.ingest_records("cin_mail", "messages", records(1, prefix="n"))
    names, got = page()
    assert names == ["list_keys"]
    after = next(i for i in got["items"] if i["connection_id"] == "cin_mail")
    assert after["total_records"] == mail["total_records"] + 2
    # A new display name is in the key too: the row is read whole again (nothing marked).
    store.update_connection("cin_mail", display_name="Inbox")
    assert page()[0] == ["list_keys", "page_rows"]
    # A marked row is recomputed: its key columns and its recomputation make it, with no
    # documents of its own, on the first read as on a reread.
    changed = moved_back(records(1, prefix="n")[0])
    store.ingest_records("cin_mail", "messages", [changed])
    assert page()[0] == ["list_keys", "recompute_evidence"]
    made = store._memo.recomputes_made
    assert page()[0] == ["list_keys", "recompute_evidence"]
    # On Postgres the reread's statement recomputed nothing: the row's version (what its
    # recompute reads, 0025) is the one its kept recomputation was made at.
    recomputed = store._memo.recomputes_made - made
    assert recomputed == 0 if store.dialect == "postgres" else recomputed > 0


def test_reads_issue_no_writes(store) -> None:
    small_fleet(store)
    with store.statement_counter() as counter:
        store.list_connection_summaries(now=NOW)
        store.get_connection_summary("cin_mail", now=NOW)
        store.connection_diagnostics("cin_chase", now=NOW)
        list(store.iter_connection_summaries(now=NOW))
    assert counter.writes == 0
    assert counter.statements > 0


def test_keyset_pages_walk_the_fleet_in_order(store) -> None:
    small_fleet(store)
    seen, cursor = [], None
    while True:
        page = store.list_connection_summaries(limit=2, cursor=cursor, now=NOW)
        seen += [s.connection_id for s in page.items]
        if not page.has_more:
            assert page.next_cursor is None
            break
        cursor = page.next_cursor
    # order (connector_id, created_at, id); drafts never listed
    assert seen == ["cin_amz_a", "cin_amz_b", "cin_chase", "cin_mail", "cin_slack"]
    assert [s.connection_id for s in store.iter_connection_summaries(now=NOW)] == seen


def test_connector_filter_and_revoked_connections(store) -> None:
    small_fleet(store)
    store.update_connection("cin_amz_b", status="revoked")
    page = store.list_connection_summaries(connector_id="amazon", now=NOW)
    assert [(s.connection_id, s.status) for s in page.items] == [
        ("cin_amz_a", "active"),
        ("cin_amz_b", "revoked"),
    ]
    assert page.items[1].to_dict()["revoked_at"] is not None


def test_cursor_is_bound_to_owner_and_filter_and_tamper_evident(store) -> None:
    small_fleet(store)
    cursor = store.list_connection_summaries(limit=1).next_cursor
    assert cursor
    with pytest.raises(InvalidCursor):
        store.list_connection_summaries(limit=1, cursor=cursor, connector_id="amazon")
    body, mac = cursor.split(".")
    tampered = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac
    for bad in (tampered, cursor[:-3], "garbage", cursor + "x"):
        with pytest.raises(InvalidCursor):
            store.list_connection_summaries(limit=1, cursor=bad)
    other = pyreference.store.Store(store.database, owner="someone_else")
    with pytest.raises(InvalidCursor):
        other.list_connection_summaries(limit=1, cursor=cursor)


@pytest.mark.parametrize("limit", [0, 1001, -1, "10", 10.0, True, None])
def test_bad_limits_are_refused(store, limit) -> None:
    with pytest.raises(InvalidInput):
        store.list_connection_summaries(limit=limit)


def test_other_owners_see_nothing(store) -> None:
    small_fleet(store)
    other = pyreference.store.Store(store.database, owner="someone_else")
    assert other.list_connection_summaries().items == ()
    assert other.get_connection_summary("cin_mail") is None


def test_single_flight_shares_one_computation_and_caches_nothing(store) -> None:
    small_fleet(store)
    store.reconcile()
    entered = threading.Event()
    release = threading.Event()
    original = store._list_page
    calls = []

    def slow_list_page(*args, **kwargs):
        calls.append(1)
        entered.set()
        release.wait(5)
        return original(*args, **kwargs)

    store._list_page = slow_list_page  # type: ignore[method-assign]
    results: list = []

    def read() -> None:
        results.append(store.list_connection_summaries(limit=10, now=NOW))

    with store.statement_counter(all_threads=True) as counter:
        threads = [threading.Thread(target=read) for _ in range(6)]
        threads[0].start()
        assert entered.wait(5)
        for t in threads[1:]:
            t.start()
        while len(store._inflight) != 1 or sum(t.is_alive() for t in threads) < 6:
            pass
        release.set()
        for t in threads:
            t.join(5)
    assert len(calls) == 1
    assert counter.names.count("list_page") + counter.names.count("list_keys") == 1
    assert len(results) == 6 and all(r == results[0] for r in results)
    assert store._inflight == {}
    store.list_connection_summaries(limit=10, now=NOW)  # settled: computed again, not cached
    assert len(calls) == 2


class TestScoped:
    def test_scoped_summary_equals_its_list_row(self, store) -> None:
        small_fleet(store)
        for dirty in (True, False):
            rows = {
                s.connection_id: s.to_dict() for s in store.list_connection_summaries(now=NOW).items
            }
            for cid, row in rows.items():
                assert store.get_connection_summary(cid, now=NOW).to_dict() == row
                assert store.connection_diagnostics(cid, now=NOW).to_dict()["summary"] == row
            if dirty:
                store.reconcile()

    def test_resolution_by_connector_id_only_when_unique(self, store) -> None:
        small_fleet(store)
        assert store.get_connection_summary("gmail", now=NOW).connection_id == "cin_mail"
        assert store.get_connection_summary("amazon", now=NOW) is None
        with pytest.raises(ConnectionNotFound):
            store.connection_diagnostics("nobody", now=NOW)

    def test_drafts_are_readable_when_scoped(self, store) -> None:
        small_fleet(store)
        assert store.get_connection_summary("cin_draft", now=NOW).status == "draft"

    def test_scoped_cost_is_constant_in_fleet_size(self, store) -> None:
        small_fleet(store)
        store.reconcile()
        with store.statement_counter() as small:
            store.connection_diagnostics("cin_mail", now=NOW)
        seed_fleet(store, 300)
        store.reconcile()
        with store.statement_counter() as large:
            store.connection_diagnostics("cin_mail", now=NOW)
        assert small.statements == large.statements == 1
        assert large.writes == 0

    def test_diagnostics_carry_deep_evidence(self, store) -> None:
        small_fleet(store)
        diag = store.connection_diagnostics("cin_chase", now=NOW).to_dict()
        assert [r["run_id"] for r in diag["recent_runs"]] == ["r_chase"]
        assert diag["browser_surface_history"][0]["wait_reason"] == "login_required"
        assert [g["gap_id"] for g in diag["pending_gaps"]] == ["gap_1"]


class TestReferenceScenarios:
    """End-to-end scenarios from the original reference's bug reports."""

    def test_sibling_browser_connections_show_only_their_own_runs(self, store) -> None:
        small_fleet(store)
        a = store.get_connection_summary("cin_amz_a", now=NOW).to_dict()
        b = store.get_connection_summary("cin_amz_b", now=NOW).to_dict()
        assert a["last_run"]["run_id"] == "r_amz_a" and a["last_run"]["status"] == "succeeded"
        assert b["last_run"]["run_id"] == "r_amz_b" and b["last_run"]["failure_reason"] == "captcha"
        assert b["last_successful_run"] is None

    def test_browser_surface_failure_shows_its_wait_reason(self, store) -> None:
        small_fleet(store)
        last = store.get_connection_summary("cin_chase", now=NOW).to_dict()["last_run"]
        assert last["status"] == "surface_failed"
        assert last["failure_reason"] == "login_required"

    def test_crossing_the_freshness_threshold_needs_no_write(self, store) -> None:
        register(store, "gmail")  # maximum_staleness_seconds 3600
        store.create_connection("cin_mail", "gmail")
        store.append_events(run("r1", connection_id="cin_mail", started=40, finished=30))
        store.reconcile()
        with store.statement_counter() as counter:
            before = store.get_connection_summary("cin_mail", now=NOW).to_dict()
            later = NOW + timedelta(minutes=31)
            after = store.get_connection_summary("cin_mail", now=later).to_dict()
        assert counter.writes == 0
        assert before["freshness"]["status"] == "current"
        assert after["freshness"]["status"] == "stale"
        assert before["rendered_verdict"] != after["rendered_verdict"]

    def test_ingest_on_one_connection_changes_only_its_summary(self, store) -> None:
        small_fleet(store)
        store.reconcile()
        before = {
            s.connection_id: s.to_dict() for s in store.list_connection_summaries(now=NOW).items
        }
        store.ingest_records("cin_slack", "messages", records(4))
        after = {
            s.connection_id: s.to_dict() for s in store.list_connection_summaries(now=NOW).items
        }
        changed = {cid for cid in before if before[cid] != after[cid]}
        assert changed == {"cin_slack"}
        assert after["cin_slack"]["stream_records"] != before["cin_slack"]["stream_records"]

    def test_a_connection_read_right_after_its_first_write_is_not_unknown(self, store) -> None:
        register(store, "gmail")
        store.create_connection("cin_new", "gmail")
        store.ingest_records("cin_new", "messages", records(1, minutes_ago=1))
        got = store.get_connection_summary("cin_new", now=NOW).to_dict()
        assert got["evidence"]["dirty"] is True
        # Recomputed, so not "evidence_not_current": records without a run read
        # unknown for want of a collection outcome (SPEC-SEMANTICS S17.3).
        assert got["connection_health"]["unknown_reasons"] == ["collection"]
        assert got["freshness"]["status"] == "current"
        assert got["total_records"] == 1


@pytest.mark.postgres
def test_memo_reuses_clean_rows_and_never_serves_a_stale_one(store) -> None:
    """Prepared evidence is memoized by the row's whole content: a changed row misses."""
    small_fleet(store)
    store.reconcile()
    plain = Store(store.database, memo_rows=0)  # same database, nothing memoized

    def both(now=NOW) -> dict:
        page = store.list_connection_summaries(limit=100, now=now).to_dict()
        assert page == plain.list_connection_summaries(limit=100, now=now).to_dict()
        return page

    first = both()
    assert (store._memo.hits, store._memo.misses, len(store._memo)) == (0, 5, 5)
    with store.statement_counter() as counter:
        assert both() == first
    assert counter.statements == 2  # one per store: a hit still reads the row
    assert store._memo.hits == 5

    # `now` is never memoized: ten days on, the same rows age.
    later = both(NOW + timedelta(days=10))
    mail = next(i for i in later["items"] if i["connection_id"] == "cin_mail")
    assert mail["freshness"]["status"] == "stale"

    # A write changes the row: reconciled, then dirty (recomputed by the read).
    store.ingest_records("cin_mail", "messages", records(2, prefix="more"))
    store.reconcile()
    mail = next(i for i in both()["items"] if i["connection_id"] == "cin_mail")
    assert mail["total_records"] == 12
    store.ingest_records("cin_mail", "messages", records(1, prefix="late"))
    mail = next(i for i in both()["items"] if i["connection_id"] == "cin_mail")
    assert (mail["total_records"], mail["evidence"]["dirty"]) == (13, True)


def test_dirty_rows_are_memoized_by_their_recomputed_evidence(store) -> None:
    """A dirty row waiting for a reconcile is keyed by its recomputation too: rereading it
    unchanged is a hit (issue #15: a console refreshes while writers write), and a write in
    between is another key, so the read is never staler than a cold one."""
    small_fleet(store)
    store.reconcile()
    plain = Store(store.database, memo_rows=0)

    def mail() -> dict:
        page = store.list_connection_summaries(limit=100, now=NOW).to_dict()
        assert page == plain.list_connection_summaries(limit=100, now=NOW).to_dict()
        return next(i for i in page["items"] if i["connection_id"] == "cin_mail")

    before = mail()["total_records"]
    store.ingest_records("cin_mail", "messages", records(1, prefix="late"))
    hits = store._memo.hits
    got = mail()
    assert (got["total_records"], got["evidence"]["dirty"]) == (before + 1, True)
    assert store._memo.hits == hits + 4  # the four clean rows; the dirty one is new
    assert mail() == got
    assert store._memo.hits == hits + 4 + 5  # all five, the dirty row included
    store.ingest_records("cin_mail", "messages", records(1, prefix="later"))
    got = mail()
    assert (got["total_records"], got["evidence"]["dirty"]) == (before + 2, True)
    assert store._memo.hits == hits + 4 + 5 + 4  # its recomputation changed: a miss


def test_live_run_facts_apply_to_memoized_rows(store) -> None:
    """R15 liveness is the caller's, per read: a memoized row still honours it."""
    register(store, "gmail")
    store.create_connection("cin_mail", "gmail")
    store.append_events(run("r_live", connection_id="cin_mail")[:1])  # started, never settled
    store.reconcile()

    def last_status(**kwargs) -> str:
        page = store.list_connection_summaries(limit=10, now=NOW, **kwargs)
        return page.items[0].to_dict()["last_run"]["status"]

    assert last_status() == "running"
    assert last_status(live_run_ids=frozenset()) == "failed"  # its process is gone
    assert last_status(live_run_ids=frozenset({"r_live"})) == "running"
    assert last_status() == "running"
    assert store._memo.hits == 3


def test_connector_profiles_are_cached_by_digest_revision(store) -> None:
    """A store decodes each connector digest once (its ProfileCache), keyed by the digest's
    revision (0023): a manifest changed between reads is read afresh, cold and warm alike."""
    manifest = real_manifests()["gmail"]
    store.register_connector(manifest)
    store.create_connection("cin_mail", "gmail")
    store.reconcile()
    cold = Store(store.database, memo_rows=0)
    for reader in (store, cold):
        item = reader.list_connection_summaries(now=NOW).items[0]
        assert (item.connector_display_name, item.streams[0]) == ("Gmail", "messages")
    assert len(cold._ctx.profiles) == 1
    streams = [
        {**s, "required": False} if s["name"] == "threads" else s for s in manifest["streams"]
    ]
    store.register_connector({**manifest, "display_name": "Mail", "streams": streams[::-1]})
    store.reconcile()
    for reader in (store, cold):
        item = reader.list_connection_summaries(now=NOW).items[0]
        assert (item.connector_display_name, item.streams[0]) == ("Mail", "attachments")
        report = {e.stream: e.required for e in item.collection_report}
        assert (report["threads"], report["labels"]) == (False, True)
    assert len(cold._ctx.profiles) == 2  # the old digest's entry is simply never hit again


def test_a_changed_row_is_prepared_from_its_unchanged_documents(store) -> None:
    """Issue #15: a row read again after a write that changed one of its documents (a
    schedule here) is a new memo key and is prepared again, but its other documents are
    the objects built for its earlier read (the memo's `documents`), not built anew; a
    store that memoizes nothing shares none."""
    register(store, "gmail")
    store.create_connection("cin_mail", "gmail")
    store.ingest_records("cin_mail", "messages", records(2))
    store.append_events(run("r1", connection_id="cin_mail"))
    store.reconcile()

    def prepared() -> Any:
        before = len(store._memo)
        item = store.list_connection_summaries(now=NOW).items[0]
        assert len(store._memo) == before + 1, "a new memo key: prepared again"
        return item, next(reversed(store._memo._entries.values())).evidence

    first, was = prepared()
    store.set_schedule("cin_mail", interval_seconds=3600)
    second, now = prepared()
    assert second.to_dict()["evidence"]["dirty"] and not first.to_dict()["evidence"]["dirty"]
    assert now.schedule != was.schedule
    assert now.latest_run is was.latest_run and now.latest_run is not None
    assert now.streams is was.streams and now.stream_facts is was.stream_facts
    assert Store(store.database, memo_rows=0)._memo.documents is None


def test_the_document_cache_is_bounded() -> None:
    from pyreference.reads import DocumentCache, PageDecoder

    calls: list[str] = []

    def loads(text: Any) -> Any:
        calls.append(text)
        return json.loads(text)

    documents = DocumentCache(2)
    for _ in range(2):  # two reads build each text once
        decoder = PageDecoder(loads, documents=documents)
        assert decoder.build("[1]", tuple) == (1,) and decoder.build("[2]", tuple) == (2,)
    assert calls == ["[1]", "[2]"] and len(documents) == 2
    PageDecoder(loads, documents=documents).build("[3]", tuple)
    assert len(documents) == 1, "a full table is emptied, then kept to its size"


def test_a_key_row_of_a_digest_never_decoded_is_read_whole(store) -> None:
    """Issue #15, 0023: the key statement names a connector's digest by revision only. A
    marked row is made from its key columns and its recomputation, and its profile from a
    digest decoded before; a manifest changed since (no reconcile: the rows are marked)
    has a revision the store never decoded, so those rows are read whole once."""
    manifest = real_manifests()["gmail"]
    store.register_connector(manifest)
    store.create_connection("cin_mail", "gmail")
    store.create_connection("cin_work", "gmail")
    for cid in ("cin_mail", "cin_work"):
        store.ingest_records(cid, "messages", records(1))
    store.reconcile()
    plain = Store(store.database, memo_rows=0)
    assert page_names(store) == ["list_page"]
    assert page_names(store) == ["list_keys"]
    store.register_connector({**manifest, "display_name": "Mail"})
    for cid in ("cin_mail", "cin_work"):  # a record moved back in time marks its connection
        store.ingest_records(cid, "messages", [moved_back(records(1)[0])])
    assert page_names(store) == ["list_keys", "recompute_evidence", "page_rows"]
    assert page_names(store) == ["list_keys", "recompute_evidence"]  # decoded now
    got = store.list_connection_summaries(now=NOW).to_dict()
    assert got == plain.list_connection_summaries(now=NOW).to_dict()
    assert {i["connector_display_name"] for i in got["items"]} == {"Mail"}
    store.reconcile()
    assert page_names(store) == ["list_keys", "page_rows"]  # new documents: read whole
    assert page_names(store) == ["list_keys"]


def test_a_digest_revision_is_never_given_twice(store) -> None:
    """0023: every write of a connector's digest takes a revision nothing rewinds: not a
    rollback to a savepoint, not the connector registered again."""
    manifest = real_manifests()["gmail"]
    store.register_connector(manifest)
    read = "SELECT revision FROM pyref_connector_digest WHERE connector_id = 'gmail'"
    seen = []
    with store.database.session(transaction=True) as s:
        seen.append(s.execute(read)[0]["revision"])
        s.execute("SAVEPOINT a")
        s.execute("UPDATE pyref_connector_digest SET manifest_version = 'x'")
        seen.append(s.execute(read)[0]["revision"])
        s.execute("ROLLBACK TO SAVEPOINT a")
        s.execute("UPDATE pyref_connector_digest SET manifest_version = 'y'")
        seen.append(s.execute(read)[0]["revision"])
        s.execute("UPDATE pyref_connector_digest SET manifest_version = 'z', revision = revision")
        seen.append(s.execute(read)[0]["revision"])
    store.register_connector({**manifest, "display_name": "Mail"})
    with store.database.session() as s:
        seen.append(s.execute(read)[0]["revision"])
    assert len(set(seen)) == len(seen), seen


def test_a_digest_revision_outlives_a_rollback_of_0023(store) -> None:
    """0023 rolled back and applied again gives every digest a revision it never had: a
    reading process that lived through it holds profiles by the old revisions."""
    from tests.support.upgrades import apply_upto, rollback_after

    manifests = real_manifests()
    for cid in ("gmail", "chase"):
        store.register_connector(manifests[cid])
    read = "SELECT connector_id, revision FROM pyref_connector_digest ORDER BY connector_id"
    with store.database.session() as s:
        before = {r["connector_id"]: r["revision"] for r in s.execute(read)}
    rollback_after(store, "0022_evidence_revisions")
    store.register_connector({**manifests["gmail"], "display_name": "Mail"})  # 0022's library
    apply_upto(store, None)
    with store.database.session() as s:
        after = {r["connector_id"]: r["revision"] for r in s.execute(read)}
    assert after.keys() == before.keys()
    assert len(set(after.values())) == len(after)
    if store.dialect == "postgres":  # above every revision given before (SQLite's are random)
        assert min(after.values()) > max(before.values()), (before, after)
    else:
        assert not set(after.values()) & set(before.values()), (before, after)


def test_stored_timestamps_are_checked_on_every_decode() -> None:
    """Checked timestamps are cached by text (a page repeats them); refusals never are."""
    from pyreference.reads import _ts

    for _ in range(2):
        assert _ts("2026-02-28T00:00:00.000000Z") == "2026-02-28T00:00:00.000000Z"
        with pytest.raises(InvalidInput):
            _ts("2026-02-30T00:00:00.000000Z")
        with pytest.raises(InvalidInput):
            _ts("2026-02-28 00:00:00")


def test_memo_is_bounded(store) -> None:
    small_fleet(store)
    store.reconcile()
    small = Store(store.database, memo_rows=2)
    small.list_connection_summaries(limit=100, now=NOW)
    small.list_connection_summaries(limit=100, now=NOW)
    assert len(small._memo) == 2
    with pytest.raises(InvalidInput):
        Store(store.database, memo_rows=-1)


def test_parity_between_sqlite_and_postgres(request) -> None:
    """R31: one scenario, both backends, identical summaries, verify and statement counts."""
    stores = {
        "sqlite": pyreference.connect(request.getfixturevalue("sqlite_conn")),
        "postgres": pyreference.connect(request.getfixturevalue("pg_dsn")),
    }
    outputs = {}
    for name, store in stores.items():
        small_fleet(store)
        with store.statement_counter() as dirty_counter:
            dirty = [
                comparable(s.to_dict()) for s in store.list_connection_summaries(now=NOW).items
            ]
        diag = store.connection_diagnostics("cin_chase", now=NOW).to_dict()
        diag["summary"] = comparable(diag["summary"])
        diag["evidence"].pop("computed_at", None)
        for gap in diag["pending_gaps"]:
            gap.pop("updated_at")  # a clock reading of the write, like computed_at
        reconciled = store.reconcile()
        with store.statement_counter() as clean_counter:
            clean = [
                comparable(s.to_dict()) for s in store.list_connection_summaries(now=NOW).items
            ]
        outputs[name] = (
            dirty,
            diag,
            reconciled,
            clean,
            store.verify(),
            dirty_counter.statements,
            clean_counter.statements,
        )
        store.close()
    assert outputs["sqlite"] == outputs["postgres"]


@pytest.mark.postgres
def test_hot_paths_use_indexes(pg_store) -> None:
    """R14: no sequential scan of records or spine_events on the hot paths."""
    store = pg_store
    seed_fleet(store, 200, records_each=20)
    register(store, "amazon")
    events = []
    for i in range(200):
        for j in range(5):  # 40 sources, so one source is a small slice of the spine
            source = "gmail" if i % 40 == 0 else f"src{i % 40}"
            events += run(f"r{i}_{j}", connector_id=source, connection_id=f"cin_{i:05d}")
    store.append_events(events)
    store.reconcile()
    store.ingest_records("cin_00007", "messages", records(1, prefix="z"))
    plans = {}
    with store.database.session() as s:
        s.execute("ANALYZE")
        q = dict(store.database.queries)
        # Postgres recomputes inside a SECURITY DEFINER function: plan its body's query (a
        # PL/pgSQL RETURN QUERY since 0019) as it runs.
        body = s.execute("SELECT prosrc FROM pg_proc WHERE proname = 'pyref_recompute_evidence_v2'")
        query = body[0]["prosrc"].split("RETURN QUERY", 1)[1].rsplit(";", 1)[0]
        q["recompute_evidence"] = query.replace("p_ids", "%(ids)s")
        params = {
            "list_page": {"owner": "owner_local", "fetch": 101},
            "list_keys": {"owner": "owner_local", "fetch": 101},
            "page_rows": {"owner": "owner_local", "ids": ["cin_00007", "cin_00008"]},
            "scoped_summary": {"owner": "owner_local", "id": "cin_00007"},
            "recompute_evidence": {"ids": ["cin_00007"]},
        }
        for name, p in params.items():
            rows = s.execute("EXPLAIN " + q[name], p)
            plans[name] = "\n".join(next(iter(r.values())) for r in rows)
        # ... and as the function runs it: one generic plan for any ids (0019).
        s.execute("SET plan_cache_mode = force_generic_plan")
        s.execute("PREPARE pyref_generic_recompute(text[]) AS " + query.replace("p_ids", "$1"))
        rows = s.execute("EXPLAIN EXECUTE pyref_generic_recompute('{cin_00007}')")
        plans["recompute_evidence_generic"] = "\n".join(next(iter(r.values())) for r in rows)
        s.execute("DEALLOCATE pyref_generic_recompute")
        s.execute("RESET plan_cache_mode")
        for name, sql in {
            # the latest event of each run of one source (the original reference's lookup)
            "runs_by_source": "EXPLAIN SELECT DISTINCT ON (run_id) * FROM spine_events"
            " WHERE source_kind = 'connector' AND source_id = 'gmail' AND run_id IS NOT NULL"
            " ORDER BY run_id, occurred_at DESC",
            "runs_by_connection": "EXPLAIN SELECT * FROM spine_events"
            " WHERE connector_instance_id = 'cin_00007' AND event_type LIKE 'run.%'"
            " ORDER BY event_seq",
        }.items():
            plans[name] = "\n".join(next(iter(r.values())) for r in s.execute(sql))
    for name, plan in plans.items():
        assert "Seq Scan on records" not in plan, (name, plan)
        assert "Seq Scan on spine_events" not in plan, (name, plan)
    assert "spine_events_source_run_idx" in plans["runs_by_source"]
    assert "spine_events_instance_seq_idx" in plans["runs_by_connection"]
    assert "records_pkey" in plans["recompute_evidence"]
    assert "records_pkey" in plans["recompute_evidence_generic"]


def _keyed_page_with_a_write_before_page_rows(store: Store, write: Any) -> Any:
    """A page read by a store whose memo holds one row (so it reads key columns, then
    `page_rows`), `write()` committing just before `page_rows` runs."""
    from pyreference import plan, read_path

    store.list_connection_summaries(limit=1, now=NOW)  # the memo holds one row: keyed reads
    req = read_path.list_request(100, None, None, NOW, None)

    def perform(step: plan.Step) -> object:
        assert isinstance(step, plan.Query)
        if step.name == "page_rows":
            write()
        with store.database.session(owner=store.owner) as s:
            return s.rows(step.name, step.params)

    return plan.drive(read_path.list_page(store._ctx, req), perform)


def test_a_row_gone_between_the_page_statements_leaves_the_page(store) -> None:
    """R10: the key statement and `page_rows` are two statements; a connection gone from
    the owner between them (another writer's commit: deleted, or here given to another
    owner) leaves the page instead of failing it or showing another owner's row, and the
    rest are served from their whole rows."""
    small_fleet(store)
    store.reconcile()

    def give_away() -> None:
        with store.database.session(transaction=True) as s:
            s.execute(
                "UPDATE connector_instances SET owner_subject_id = 'owner_other'"
                " WHERE connector_instance_id = 'cin_chase'"
            )

    page = _keyed_page_with_a_write_before_page_rows(store, give_away)
    ids = [i.connection_id for i in page.items]
    assert "cin_chase" not in ids and len(ids) == 4
    assert page.to_dict()["items"] == store.list_connection_summaries(now=NOW).to_dict()["items"]


def test_a_row_marked_between_the_page_statements_is_served_as_the_first_saw_it(store) -> None:
    """A row clean in the key statement and marked (with new records too) before
    `page_rows` reads it whole is served as the key statement saw it: its documents with
    that moment's mark and deltas, never its old documents flagged with a later mark."""
    small_fleet(store)
    store.reconcile()
    plain = Store(store.database, store.owner, memo_rows=0)
    before = plain.list_connection_summaries(now=NOW).to_dict()["items"]
    changed = moved_back(records(1)[0])

    def mark_and_add() -> None:
        store.ingest_records("cin_mail", "messages", [changed])  # marks
        store.ingest_records("cin_mail", "messages", records(2, prefix="z"))  # deltas

    page = _keyed_page_with_a_write_before_page_rows(store, mark_and_add)
    assert page.to_dict()["items"] == before
    after = store.list_connection_summaries(now=NOW).to_dict()["items"]
    assert after == plain.list_connection_summaries(now=NOW).to_dict()["items"] != before


def test_a_connection_created_again_never_meets_its_old_memoized_row(store) -> None:
    """0022: a connection deleted and created again under the same id (and the same
    created_at) gets a revision never given before, so the memo, keyed by it, never serves
    the old row's documents (before 0022 both reached revision 1, and one `now()` or one
    millisecond made the keys equal)."""
    from tests.reliability.rel_support import sql

    register(store, "gmail")
    store.create_connection("cin_x", "gmail", created_at=at(100))
    store.ingest_records("cin_x", "messages", records(1))
    store.reconcile()
    plain = Store(store.database, store.owner, memo_rows=0)
    assert store.list_connection_summaries(now=NOW).items[0].total_records == 1

    def revision() -> int:
        found = sql(
            store, "SELECT revision FROM pyref_evidence WHERE connector_instance_id = 'cin_x'"
        )
        return int(found[0]["revision"])

    old = revision()
    for table in ("records", "connector_instances"):
        sql(store, f"DELETE FROM {table} WHERE connector_instance_id = 'cin_x'")
    store.create_connection("cin_x", "gmail", created_at=at(100))
    store.ingest_records("cin_x", "messages", records(5))
    store.reconcile()
    assert revision() != old
    page = store.list_connection_summaries(now=NOW).to_dict()
    assert page == plain.list_connection_summaries(now=NOW).to_dict()
    assert page["items"][0]["total_records"] == 5


@contextmanager
def caller_store(backend: str, request: pytest.FixtureRequest) -> Iterator[tuple[Store, Any]]:
    """A store on the caller's own connection, in a transaction the caller holds open
    (rolled back and closed afterwards)."""
    import sqlite3

    if backend == "sqlite":
        path = request.getfixturevalue("tmp_path") / "caller.db"
        pyreference.connect(sqlite3.connect(path)).migrate()
        conn: Any = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN")
    else:
        import psycopg

        conn = psycopg.connect(request.getfixturevalue("pg_dsn"))
        conn.execute("SELECT 1")  # opens the caller's transaction: the store works inside it
    try:
        yield pyreference.connect(conn), conn
    finally:
        conn.rollback() if backend == "postgres" else conn.execute("ROLLBACK")
        conn.close()


@pytest.mark.postgres
def test_a_connection_created_again_in_one_transaction_is_read_anew(
    request: pytest.FixtureRequest,
) -> None:
    """A case 0022 closes, exactly: in one transaction of the caller's (one `now()`, so
    one `computed_at`), a connection read, deleted, created again and reconciled."""
    with caller_store("postgres", request) as (store, conn):
        plain = Store(store.database, store.owner, memo_rows=0)
        register(store, "gmail")
        store.create_connection("cin_x", "gmail", created_at=at(100))
        store.ingest_records("cin_x", "messages", records(1))
        store.reconcile()
        store.list_connection_summaries(now=NOW)
        assert store.list_connection_summaries(now=NOW).items[0].total_records == 1
        for table in ("records", "connector_instances"):
            conn.execute(f"DELETE FROM {table} WHERE connector_instance_id = 'cin_x'")
        store.create_connection("cin_x", "gmail", created_at=at(100))
        store.ingest_records("cin_x", "messages", records(5))
        store.reconcile()
        page = store.list_connection_summaries(now=NOW).to_dict()
        assert page == plain.list_connection_summaries(now=NOW).to_dict()
        assert page["items"][0]["total_records"] == 5


def test_key_columns_are_the_page_columns_but_the_documents(store) -> None:
    """`memo.UNKEYED` (the evidence documents and the connector's digest) names what
    `list_keys` leaves out of `list_page` and `page_rows`: a key read and a whole read of
    one row give one memo key."""
    from pyreference.memo import UNKEYED as DOCUMENTS

    small_fleet(store)
    with store.database.session(owner=store.owner) as s:
        page = {"owner": store.owner, "fetch": 10}
        whole = list(s.rows("list_page", page)[0])
        keys = list(s.rows("list_keys", page)[0])
        rows = list(s.rows("page_rows", {"owner": store.owner, "ids": Ids(["cin_mail"])})[0])
    assert [c for c in whole if c not in DOCUMENTS] == keys
    assert set(whole) - set(keys) == DOCUMENTS
    assert rows == [c for c in whole if c != "cursor_key"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_reconcile_rolled_back_to_a_savepoint_never_leaves_its_revision(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """0022: a refresh undone by a rollback to a savepoint gives its revision back on
    neither backend (a Postgres sequence, SQLite's random revisions), so the next refresh
    in the same transaction, even in the same `now()`, never repeats the revision a
    memoizing reader saw with the undone documents."""
    with caller_store(backend, request) as (store, conn):
        plain = Store(store.database, store.owner, memo_rows=0)
        register(store, "gmail")
        store.create_connection("cin_x", "gmail", created_at=at(100))
        store.reconcile()
        store.list_connection_summaries(now=NOW)

        def key() -> tuple[Any, ...]:
            return tuple(
                conn.execute(
                    "SELECT revision, computed_at FROM pyref_evidence"
                    " WHERE connector_instance_id = 'cin_x'"
                ).fetchone()
            )

        conn.execute("SAVEPOINT a")
        store.ingest_records("cin_x", "messages", records(1))
        store.reconcile()
        assert store.list_connection_summaries(now=NOW).items[0].total_records == 1
        seen = key()
        conn.execute("ROLLBACK TO SAVEPOINT a")
        store.ingest_records("cin_x", "messages", records(5, prefix="z"))
        store.reconcile()
        assert key()[0] != seen[0]
        page = store.list_connection_summaries(now=NOW).to_dict()
        assert page == plain.list_connection_summaries(now=NOW).to_dict()
        assert page["items"][0]["total_records"] == 5


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_documents_written_by_hand_under_a_savepoint_get_a_new_revision(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """0022: an UPDATE of the documents that also adds 1 to the revision (as an older
    library's refresh does), rolled back to a savepoint and done again with other
    documents, never repeats the revision a memoizing reader saw."""
    with caller_store(backend, request) as (store, conn):
        plain = Store(store.database, store.owner, memo_rows=0)
        register(store, "gmail")
        store.create_connection("cin_x", "gmail", created_at=at(100))
        store.ingest_records("cin_x", "messages", records(2))
        store.reconcile()
        whole = plain.list_connection_summaries(now=NOW).to_dict()
        store.list_connection_summaries(now=NOW)
        stats = conn.execute("SELECT stream_stats FROM pyref_evidence").fetchone()[0]
        stats = stats if isinstance(stats, str) else json.dumps(stats)
        edit = "UPDATE pyref_evidence SET stream_stats = {}, revision = revision + 1"
        conn.execute("SAVEPOINT a")
        conn.execute(edit.format("'[]'"))
        emptied = store.list_connection_summaries(now=NOW).to_dict()
        assert emptied == plain.list_connection_summaries(now=NOW).to_dict() != whole
        conn.execute("ROLLBACK TO SAVEPOINT a")
        conn.execute(edit.format("'" + stats.replace("'", "''") + "'"))
        assert store.list_connection_summaries(now=NOW).to_dict() == whole
