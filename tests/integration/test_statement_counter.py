"""Statement counters nest and count per thread (issue 13, item 7; R10)."""

from __future__ import annotations

import threading

from tests.support.scenario import NOW, small_fleet


def test_counters_nest(store) -> None:
    small_fleet(store)
    with store.statement_counter() as outer:
        store.list_connection_summaries(now=NOW)
        with store.statement_counter() as inner:
            store.get_connection_summary("cin_mail", NOW)
            with store.statement_counter() as innermost:
                pass
        store.list_connection_summaries(now=NOW)
    assert innermost.statements == 0
    assert 1 <= inner.statements < outer.statements
    # The first page reads whole rows, the second its key columns (the memo holds rows).
    assert outer.names.count("list_page") == outer.names.count("list_keys") == 1
    assert not {"list_page", "list_keys"} & set(inner.names)
    with store.statement_counter() as again:  # closed counters stopped counting
        store.get_connection_summary("cin_mail", NOW)
    assert inner.statements == again.statements


def test_concurrent_counters_count_their_own_thread(store) -> None:
    small_fleet(store)
    results: dict[int, tuple[int, int]] = {}
    barrier = threading.Barrier(4)

    def count(i: int) -> None:
        barrier.wait()
        with store.statement_counter() as counter:  # equal counts: equal, not the same
            for _ in range(i + 1):
                store.get_connection_summary("cin_mail", NOW)
            barrier.wait()  # every counter is open at once
        results[i] = (counter.statements, counter.names.count("scoped_summary"))

    with store.statement_counter() as here:
        workers = [threading.Thread(target=count, args=(i,)) for i in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(30)
    assert here.statements == 0  # the other threads' statements are theirs
    assert [results[i][1] for i in range(4)] == [1, 2, 3, 4]
    with store.statement_counter(all_threads=True) as everywhere:
        worker = threading.Thread(target=store.get_connection_summary, args=("cin_mail", NOW))
        worker.start()
        worker.join(30)
    assert everywhere.names.count("scoped_summary") == 1
