"""A list page in one round trip (issue #15, migration 0025).

A read framed in its owner's transaction (`BEGIN` with the owner and the safe search_path,
the statement, `COMMIT`) was three round trips; 0025's functions name the owner
themselves, so a page read on a connection of its own is one call. These tests count the
round trips on the wire (libpq's trace: one `ReadyForQuery` each), compare every page
with the framed read's, and check the fallbacks: functions rolled back or revoked, and a
reader whose grants predate them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import pq

import pyreference
from pyreference import grants
from pyreference.store import Store
from tests.support.pgroles import Roles
from tests.support.scenario import NOW, records, register
from tests.support.upgrades import apply_upto, rollback_after

pytestmark = pytest.mark.postgres


@contextmanager
def round_trips(conn: Any) -> Iterator[Callable[[], int]]:
    """Count the round trips `conn` makes in the block (the server's ReadyForQuery), once
    the block has ended (libpq buffers its trace). Connections here prepare a statement
    at its first run (`prepare_threshold=0`), so that preparing (a round trip of its own)
    happens in the warm-up reads."""
    counted: list[int] = []
    with tempfile.TemporaryFile("w+") as trace:

        def count() -> int:
            assert counted, "counted when the block has ended"
            return counted[0]

        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield count
        finally:
            conn.pgconn.untrace()
            trace.seek(0)
            counted.append(sum("\tReadyForQuery\t" in line for line in trace))


def _fleet(store: Store) -> None:
    """Seven connections of two connectors, reconciled: clean rows (no recompute)."""
    register(store, "gmail", "amazon")
    for i in range(7):
        cid = f"cin_{i}"
        store.create_connection(cid, "gmail" if i % 2 else "amazon")
        store.ingest_records(cid, "messages" if i % 2 else "orders", records(i + 1))
    store.reconcile()


def _walk(store: Store, connector_id: str | None) -> list[dict[str, Any]]:
    """Every page of two rows, in order, as `to_dict()`."""
    pages, cursor = [], None
    while True:
        page = store.list_connection_summaries(
            now=NOW, limit=2, cursor=cursor, connector_id=connector_id
        )
        pages.append(page.to_dict())
        if not page.has_more:
            return pages
        cursor = page.next_cursor


def test_a_page_is_one_round_trip_and_reads_what_the_framed_read_does(pg_dsn: str) -> None:
    """Every page statement (first and next pages, with and without a connector filter;
    key columns with the memo on, whole rows with it off) as a one-trip call gives the
    page the framed read gives (a caller's open transaction is always framed)."""
    _fleet(pyreference.connect(pg_dsn))
    conn = psycopg.connect(pg_dsn, autocommit=True, prepare_threshold=0)
    caller = psycopg.connect(pg_dsn)  # autocommit off: the store frames its reads
    for memo_rows in (1000, 0):
        one_trip = Store(pyreference.connect(conn).database, memo_rows=memo_rows)
        framed = Store(pyreference.connect(caller).database, memo_rows=memo_rows)
        for connector_id in (None, "gmail"):
            _walk(one_trip, connector_id)  # the functions found; the memo filled
            with round_trips(conn) as count:
                pages = _walk(one_trip, connector_id)
            assert count() == len(pages) >= 2  # one round trip a page
            assert pages == _walk(framed, connector_id)
            with round_trips(caller) as count:
                _walk(framed, connector_id)
            assert count() >= 3 * len(pages)  # framed: settings, statement, then more
    caller.rollback()
    caller.close()
    conn.close()


def test_an_async_page_is_one_round_trip(pg_dsn: str) -> None:
    """The async store takes the same path."""
    import asyncio

    _fleet(pyreference.connect(pg_dsn))
    expected = _walk(pyreference.connect(pg_dsn), None)

    async def main() -> tuple[int, list[dict[str, Any]]]:
        conn = await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True, prepare_threshold=0)
        store = await pyreference.connect_async(conn)
        for _ in range(2):  # whole rows (the memo is empty), then key columns
            await store.list_connection_summaries(now=NOW, limit=2)
        with round_trips(conn) as count:
            page = await store.list_connection_summaries(now=NOW, limit=2)
        await conn.close()
        trips = count()
        return trips, [page.to_dict()]

    trips, pages = asyncio.run(main())
    assert trips == 1
    assert pages == expected[:1]


def test_pages_read_framed_when_0025_is_rolled_back_and_one_trip_again_after(
    pg_dsn: str,
) -> None:
    """A process that lives through 0025's rollback keeps reading right pages (framed),
    and a store opened after 0025 is applied again reads in one round trip."""
    admin = pyreference.connect(pg_dsn)
    _fleet(admin)
    expected = _walk(admin, None)
    conn = psycopg.connect(pg_dsn, autocommit=True, prepare_threshold=0)
    store = pyreference.connect(conn)
    assert _walk(store, None) == expected
    rollback_after(admin, "0024_run_marks_keep_counts")
    with round_trips(conn) as count:
        assert _walk(store, None) == expected  # the call failed; read framed instead
    assert count() > len(expected)
    apply_upto(admin, None)
    fresh_conn = psycopg.connect(pg_dsn, autocommit=True, prepare_threshold=0)
    fresh = pyreference.connect(fresh_conn)
    _walk(fresh, None)
    with round_trips(fresh_conn) as count:
        assert _walk(fresh, None) == expected
    assert count() == len(expected)
    conn.close()
    fresh_conn.close()


def test_a_reader_reads_in_one_trip_once_granted_and_framed_when_revoked(
    pg_roles: Roles,
) -> None:
    """`pyreference grants` gives readers the functions; a reader whose grants predate
    0025 (or were revoked while it reads) reads framed, with the same pages."""
    admin = pyreference.connect(pg_roles.db_dsn)
    _fleet(admin)
    expected = _walk(admin, None)
    reader = pg_roles.create("reader")
    grants.apply(admin.database, grants.Roles(reader=reader))
    conn = psycopg.connect(pg_roles.dsn(reader), autocommit=True, prepare_threshold=0)
    store = pyreference.connect(conn)
    _walk(store, None)
    with round_trips(conn) as count:
        assert _walk(store, None) == expected
    assert count() == len(expected)
    with pg_roles.admin() as a:
        for function in ("pyref_list_keys_v1", "pyref_list_page_v1"):
            a.execute(
                f"REVOKE EXECUTE ON FUNCTION {function}"
                f'(text, integer, text, text, timestamptz, text) FROM "{reader}"'
            )
    with round_trips(conn) as count:
        assert _walk(store, None) == expected
    assert count() >= 3 * len(expected)  # BEGIN + settings, statement, COMMIT (and more)
    conn.close()


def test_the_function_gives_a_callers_transaction_its_owner_back(pg_dsn: str) -> None:
    """Called inside a transaction that names another owner, the function serves the
    owner it is given and leaves the transaction's own setting as it was."""
    store = pyreference.connect(pg_dsn, owner="alice")
    _fleet(store)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("SELECT set_config('pyref.owner', 'bob', true)")
        rows = conn.execute(
            "SELECT count(*), count(cursor_key) FROM pyref_list_keys_v1"
            "('alice', 10, NULL, NULL, NULL, NULL)"
        ).fetchone()
        assert rows == (7, 7)
        setting = conn.execute("SELECT current_setting('pyref.owner')").fetchone()
        assert setting == ("bob",)


@pytest.mark.parametrize("where", ["pg_temp", "user schema before pg_catalog"])
def test_no_name_in_the_call_resolves_through_the_connections_search_path(
    pg_roles: Roles, where: str
) -> None:
    """The call runs outside the safe search_path: types named like its casts' in pg_temp
    (which any role with TEMP can create on a shared connection) or in a schema named like
    the store's role that another role created, searched before pg_catalog, must not be
    used (found by a reviewer: a domain's CHECK ran as the store's role). Here the CHECK
    raises."""
    dsn = pg_roles.db_dsn
    _fleet(pyreference.connect(dsn))
    expected = _walk(pyreference.connect(dsn), None)
    conn = psycopg.connect(dsn, autocommit=True, prepare_threshold=0)
    victim = conn.execute("SELECT current_user").fetchone()[0]
    attacker = pg_roles.create("attacker")
    with pg_roles.admin() as admin:
        admin.execute(f'GRANT CREATE, TEMP ON DATABASE "{admin.info.dbname}" TO "{attacker}"')
    plant = conn
    if where != "pg_temp":
        plant = psycopg.connect(pg_roles.dsn(attacker), autocommit=True)
        plant.execute(f'CREATE SCHEMA "{victim}"')
        plant.execute(f'GRANT USAGE ON SCHEMA "{victim}" TO PUBLIC')
        conn.execute('SET search_path = "$user", pg_catalog, public')
    schema = "pg_temp" if where == "pg_temp" else f'"{victim}"'
    plant.execute(
        f"CREATE FUNCTION {schema}.hijack(v pg_catalog.text) RETURNS boolean"
        " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked'; END $$"
    )
    for name, base in (("text", "pg_catalog.text"), ("timestamptz", "pg_catalog.timestamptz")):
        plant.execute(
            f"CREATE DOMAIN {schema}.{name} AS {base}"
            f" CHECK ({schema}.hijack(VALUE::pg_catalog.text))"
        )
    if where != "pg_temp":
        plant.execute(f'GRANT ALL ON ALL ROUTINES IN SCHEMA "{victim}" TO PUBLIC')
    store = pyreference.connect(conn)
    for _ in range(3):  # framed, then one-trip calls
        assert _walk(store, None) == expected
        _walk(store, "gmail")  # every branch, with a connector and a position
    conn.close()
    if plant is not conn:
        plant.close()


def test_a_schema_name_with_a_percent_sign_is_no_placeholder(pg_dsn: str) -> None:
    """The call's SQL carries psycopg placeholders; a % in the install schema's quoted
    name must reach the server as written (found by a reviewer: every page after the
    first failed in a schema named "pyref%data")."""
    from psycopg import ClientCursor

    from pyreference.db import OneTripReads

    reads = OneTripReads(psycopg)
    reads.found([('pyref%data"x', False)])
    call = reads.call("list_keys_after", {"owner": "o%s", "fetch": 3, "after_id": "%(x)s"})
    assert call is not None
    with psycopg.connect(pg_dsn) as conn:
        sent = ClientCursor(conn).mogrify(*call)
    assert sent.startswith('SELECT * FROM "pyref%data""x"."pyref_list_keys_v1"(\'o%s\', 3'), sent
    assert "'%(x)s'::pg_catalog.text)" in sent, sent


def test_a_read_in_the_callers_transaction_meeting_v2_gone_fails_once(pg_dsn: str) -> None:
    """0034: a store on a caller's connection that looked up `pyref_recompute_evidence_v2`
    (a read outside the caller's transactions) and then meets it gone (0034 rolled back)
    inside the caller's transaction cannot make the statement again there: that read
    raises `SchemaNotReady`, and the next one calls v1 (found by a reviewer: every read in
    the caller's transactions failed until one ran outside them)."""
    admin = pyreference.connect(pg_dsn)
    _fleet(admin)
    admin.set_schedule("cin_0", interval_seconds=60)  # a marked row: recomputed
    expected = admin.list_connection_summaries(now=NOW).to_dict()
    conn = psycopg.connect(pg_dsn, autocommit=True)
    store = pyreference.connect(conn)
    assert store.list_connection_summaries(now=NOW).to_dict() == expected  # looked: v2
    rollback_after(admin, "0033_stored_facts")
    with pytest.raises(pyreference.SchemaNotReady), conn.transaction():
        store.list_connection_summaries(now=NOW)
    with conn.transaction():
        assert store.list_connection_summaries(now=NOW).to_dict() == expected
    apply_upto(admin, None)
    conn.close()
    admin.close()
