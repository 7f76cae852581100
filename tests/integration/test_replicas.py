"""Read routing to real streaming replicas, with read-your-writes by WAL position (R6).

Every test here runs against a real primary and two hot standbys started by the
`replica_cluster` fixture (initdb + pg_basebackup -R as the `postgres` user); replay is paused
with `pg_wal_replay_pause()` to make a replica lag, and servers are stopped to make them fail.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import pyreference
from pyreference.errors import InvalidInput, ReadOnlyDatabase
from pyreference.manifests import real_manifests
from pyreference.plan import Plan, execute
from pyreference.routing import format_position, parse_position
from pyreference.store import Store

NOW = "2026-01-01T00:00:00Z"


def _replay(replicas: list[str], paused: bool) -> None:
    """Pause (or resume) WAL replay on every replica: they fall (or catch up) behind."""
    for dsn in replicas:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"SELECT pg_wal_replay_{'pause' if paused else 'resume'}()")


def _fleet(store: Store, n: int = 5) -> str:
    manifest = next(iter(real_manifests().values()))
    connector = store.register_connector(manifest)
    for i in range(n):
        store.create_connection(f"c{i}", connector, created_at=f"2025-01-01T00:00:0{i}Z")
    return connector


@pytest.fixture
def routed(replicated: tuple[str, list[str]]) -> Iterator[tuple[Store, str, list[str]]]:
    primary, replicas = replicated
    store = pyreference.connect(primary, replicas=replicas, replica_retry_after=0.2)
    yield store, primary, replicas
    store.close()


def _settled(store: Store, cluster: Any) -> None:
    store.reconcile()
    cluster.wait_replayed()


def test_reads_go_to_replicas_round_robin_writes_and_maintenance_to_the_primary(
    routed: tuple[Store, str, list[str]], replica_cluster: Any
) -> None:
    store, _, replicas = routed
    _fleet(store)
    _settled(store, replica_cluster)
    servers = set()
    for _ in range(4):
        page = store.list_connection_summaries(limit=10, now=NOW)
        assert len(page.items) == 5
        assert page.source.role == "replica"
        servers.add(page.source.server)
        summary = store.get_connection_summary("c1", NOW)
        assert summary is not None and store.last_read_source is not None
        assert store.last_read_source.role == "replica"
        servers.add(store.last_read_source.server)
    assert servers == {pyreference.db.redact_dsn(dsn) for dsn in replicas}
    # Writes and maintenance run on the primary (a replica refuses both).
    assert store.migrate() == []
    store.ingest_records("c1", "orders", [{"key": "k", "data": {}}])
    assert store.reconcile() == 1
    assert store.rebuild() == 5
    assert store.verify() == []
    # The page is the same from a replica as from the primary.
    replica_cluster.wait_replayed()
    with pyreference.connect(routed[1]) as plain:
        expected = plain.list_connection_summaries(limit=10, now=NOW).to_dict()
    page = store.list_connection_summaries(limit=10, now=NOW)
    assert page.source.role == "replica" and page.to_dict() == expected


def test_a_read_after_a_write_never_misses_it_with_replay_paused_1000_times(
    routed: tuple[Store, str, list[str]], replica_cluster: Any
) -> None:
    store, primary, replicas = routed
    _fleet(store, 2)
    _settled(store, replica_cluster)
    _replay(replicas, paused=True)
    fast = pyreference.connect(primary, replicas=replicas, replica_wait=0)
    try:
        stale = 0
        roles = set()
        for i in range(1000):
            fast.ingest_records("c0", "orders", [{"key": f"k{i}", "data": {"n": i}}])
            if i % 2:
                summary = fast.get_connection_summary("c0", NOW)
            else:
                summary = fast.list_connection_summaries(limit=1, now=NOW).items[0]
            assert summary is not None and fast.last_read_source is not None
            roles.add(fast.last_read_source.role)
            stale += summary.total_records != i + 1
        assert stale == 0
        assert roles == {"primary"}  # both replicas are frozen behind every write
        # A read with no write position may use a lagging replica, and says how old it may be.
        with pyreference.connect(primary, replicas=replicas) as reader:
            time.sleep(0.05)
            page = reader.list_connection_summaries(limit=1, now=NOW)
            assert page.source.role == "replica"
            assert page.source.lag_seconds is not None and page.source.lag_seconds > 0
            assert page.items[0].total_records in (None, 0)  # the replica's evidence is old
            # …unless it is given the writer's position (another process would pass the token).
            token = fast.write_position
            assert token is not None
            fresh = reader.list_connection_summaries(limit=1, now=NOW, consistent_with=token)
            assert fresh.source.role == "primary" and fresh.items[0].total_records == 1000
            lagging = [s for s in reader.replica_status() if s["healthy"]]
            assert len(lagging) == 2 and all(s["lag_seconds"] > 0 for s in lagging)
    finally:
        fast.close()
        _replay(replicas, paused=False)
    replica_cluster.wait_replayed()
    page = store.list_connection_summaries(limit=1, now=NOW)
    assert page.source.role == "replica" and page.items[0].total_records == 1000
    assert page.source.lag_seconds == 0.0


def test_a_read_waits_for_a_replica_to_replay_its_write(
    routed: tuple[Store, str, list[str]], replica_cluster: Any
) -> None:
    store, primary, replicas = routed
    _fleet(store, 1)
    _settled(store, replica_cluster)
    _replay(replicas, paused=True)
    waiting = pyreference.connect(primary, replicas=replicas, replica_wait=10)
    try:
        waiting.update_connection("c0", display_name="after the write")
        resume = threading.Timer(0.3, _replay, (replicas, False))
        resume.start()
        started = time.monotonic()
        summary = waiting.get_connection_summary("c0", NOW)
        resume.join()
        source = waiting.last_read_source
        assert summary is not None and summary.display_name == "after the write"
        assert source is not None and source.role == "replica"
        assert 0.2 < source.waited_seconds < 10 and time.monotonic() - started < 10
    finally:
        waiting.close()


def test_strict_reads_observe_writes_of_other_writers(
    routed: tuple[Store, str, list[str]], replica_cluster: Any
) -> None:
    _, primary, replicas = routed
    with pyreference.connect(primary) as writer:
        _fleet(writer, 1)
        writer.reconcile()
    replica_cluster.wait_replayed()
    strict = pyreference.connect(primary, replicas=replicas, consistency="strict", replica_wait=0)
    try:
        summary = strict.get_connection_summary("c0", NOW)
        assert strict.last_read_source is not None
        assert strict.last_read_source.role == "replica"
        _replay(replicas, paused=True)
        with pyreference.connect(primary) as writer:  # another process, say psql or ETL
            writer.update_connection("c0", display_name="written elsewhere")
        summary = strict.get_connection_summary("c0", NOW)
        assert summary is not None and summary.display_name == "written elsewhere"
        assert strict.last_read_source is not None
        assert strict.last_read_source.role == "primary"
        with pyreference.connect(primary, replicas=replicas) as session:
            stale = session.get_connection_summary("c0", NOW)
            assert stale is not None and stale.display_name != "written elsewhere"
            assert session.last_read_source is not None
            assert session.last_read_source.role == "replica"
            token = session.current_position()
            fresh = session.get_connection_summary("c0", NOW, consistent_with=token)
            assert fresh is not None and fresh.display_name == "written elsewhere"
    finally:
        strict.close()


def test_reads_fail_over_to_the_primary_when_replicas_stop_and_come_back(
    routed: tuple[Store, str, list[str]], replica_cluster: Any
) -> None:
    store, _, _ = routed
    _fleet(store, 3)
    _settled(store, replica_cluster)
    assert store.list_connection_summaries(now=NOW).source.role == "replica"
    first = replica_cluster.standbys[0]
    replica_cluster.stop_server(first)
    for _ in range(4):  # the other replica serves; the stopped one is skipped
        page = store.list_connection_summaries(now=NOW)
        assert len(page.items) == 3 and page.source.role == "replica"
        assert str(first.port) not in page.source.server
    status = {s["server"]: s for s in store.replica_status()}
    assert [s["healthy"] for s in status.values()].count(False) == 1
    for standby in replica_cluster.standbys[1:]:
        replica_cluster.stop_server(standby)
    for _ in range(3):
        page = store.list_connection_summaries(now=NOW)
        assert len(page.items) == 3 and page.source.role == "primary"
    store.update_connection("c0", display_name="while replicas were down")
    summary = store.get_connection_summary("c0", NOW)
    assert summary is not None and summary.display_name == "while replicas were down"
    for standby in replica_cluster.standbys:
        replica_cluster.start_server(standby)
    replica_cluster.wait_replayed()
    deadline = time.monotonic() + 30
    while store.list_connection_summaries(now=NOW).source.role != "replica":
        assert time.monotonic() < deadline, "reads never returned to the replicas"
        time.sleep(0.1)


def test_cursors_continue_across_servers(
    routed: tuple[Store, str, list[str]], replica_cluster: Any
) -> None:
    store, primary, _ = routed
    _fleet(store, 5)
    _settled(store, replica_cluster)
    with pyreference.connect(primary) as plain:
        everything = [s.connection_id for s in plain.iter_connection_summaries(NOW, page_size=5)]
        first_on_primary = plain.list_connection_summaries(limit=2, now=NOW)
    # Page 1 from a replica, page 2 from the primary (the replicas stopped in between)…
    page1 = store.list_connection_summaries(limit=2, now=NOW)
    assert page1.source.role == "replica" and page1.next_cursor is not None
    for standby in replica_cluster.standbys:
        replica_cluster.stop_server(standby)
    page2 = store.list_connection_summaries(limit=2, cursor=page1.next_cursor, now=NOW)
    assert page2.source.role == "primary" and page2.next_cursor is not None
    for standby in replica_cluster.standbys:
        replica_cluster.start_server(standby)
    replica_cluster.wait_replayed()
    time.sleep(0.3)  # past replica_retry_after
    # …and a cursor the primary issued continues on a replica.
    page3 = store.list_connection_summaries(limit=2, cursor=page2.next_cursor, now=NOW)
    assert page3.source.role == "replica" and not page3.has_more
    walked = [s.connection_id for p in (page1, page2, page3) for s in p.items]
    assert walked == everything
    resumed = store.list_connection_summaries(limit=3, cursor=first_on_primary.next_cursor, now=NOW)
    assert resumed.source.role == "replica"
    assert [s.connection_id for s in resumed.items] == everything[2:]


def test_a_read_cancelled_by_a_recovery_conflict_is_served_elsewhere(
    routed: tuple[Store, str, list[str]], replica_cluster: Any
) -> None:
    store, primary, _ = routed
    _fleet(store, 1)
    _settled(store, replica_cluster)
    attempts: list[int] = []

    def read() -> Plan[int]:
        attempts.append((yield from execute("SELECT inet_server_port() AS port"))[0]["port"])
        if len(attempts) == 1:  # the first attempt holds a lock the primary's DDL conflicts with
            threading.Timer(0.2, _exclusive_lock, (primary,)).start()
            yield from execute("SELECT pg_sleep(3) FROM connector_instances LIMIT 1")
        return len((yield from execute("SELECT 1 FROM connector_instances")))

    count, source = store._router.read(read, None)
    assert count == 1 and len(attempts) == 2 and attempts[0] != attempts[1]
    assert source.server != "primary" or len(store.replica_status()) == 2
    # A conflict is not an outage: every replica stays in rotation.
    assert all(s["healthy"] for s in store.replica_status())


def _exclusive_lock(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("LOCK TABLE connector_instances IN ACCESS EXCLUSIVE MODE")


def test_writes_maintenance_and_migrations_on_a_replica_raise_a_typed_error(
    replicated: tuple[str, list[str]],
) -> None:
    primary, replicas = replicated
    with pyreference.connect(primary) as writer:
        connector = _fleet(writer, 1)
    with pyreference.connect(replicas[0]) as on_replica:
        attempts = {
            "reconcile": lambda: on_replica.reconcile(),
            "rebuild": lambda: on_replica.rebuild(),
            "migrate": lambda: on_replica.migrate(),
            "create_connection": lambda: on_replica.create_connection("x", connector),
            "ingest": lambda: on_replica.ingest_records("c0", "orders", [{"key": "k", "data": {}}]),
            "append_events": lambda: on_replica.append_events(
                [
                    {
                        "event_type": "run.started",
                        "run_id": "r",
                        "connector_id": connector,
                        "occurred_at": NOW,
                    }
                ]
            ),
        }
        for name, attempt in attempts.items():
            with pytest.raises(ReadOnlyDatabase) as caught:
                attempt()
            message = str(caught.value)
            assert "read-only" in message and "primary" in message, name
            for sql in ("SELECT", "INSERT", "pyref_reconcile", "pyref_rebuild", "cannot execute"):
                assert sql not in message, (name, message)


def test_a_replica_that_is_not_a_standby_is_never_used(
    replicated: tuple[str, list[str]],
) -> None:
    primary, _ = replicated
    # A misconfigured "replica" (here: the primary itself) has no replay position.
    with pyreference.connect(primary, replicas=[primary]) as store:
        _fleet(store, 1)
        page = store.list_connection_summaries(now=NOW)
        assert page.source.role == "primary" and len(page.items) == 1
        (status,) = store.replica_status()
        assert status["healthy"] is False and "not a standby" in status["reason"]


def test_a_replica_down_at_connect_time_is_not_an_error(
    replicated: tuple[str, list[str]],
) -> None:
    primary, _ = replicated
    from pyreference.devcluster import free_port

    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    with pyreference.connect(primary, replicas=[dead]) as store:
        _fleet(store, 1)
        page = store.list_connection_summaries(now=NOW)
        assert page.source.role == "primary" and len(page.items) == 1
        (status,) = store.replica_status()
        assert status["healthy"] is False and "password" not in status["reason"]


def test_statement_counts_with_replicas(
    routed: tuple[Store, str, list[str]], replica_cluster: Any
) -> None:
    store, _, _ = routed
    _fleet(store, 3)
    _settled(store, replica_cluster)
    with store.statement_counter() as counter:
        store.list_connection_summaries(now=NOW)
    # The replay check, then the page: still a fixed count whatever the fleet; a reread
    # reads the rows' key columns only (the memo holds them).
    assert counter.names == ["replica_state", "list_page"]
    with store.statement_counter() as counter:
        store.list_connection_summaries(now=NOW)
    assert counter.names == ["replica_state", "list_keys"]
    with store.statement_counter() as counter:
        store.update_connection("c0", display_name="x")
    assert counter.names[-1] == "write_position" and counter.writes == 1


def test_replica_options_are_validated(sqlite_conn: Any) -> None:
    memory = "sqlite:///:memory:"
    with pytest.raises(InvalidInput, match="PostgreSQL primary"):
        pyreference.connect(memory, replicas=["postgresql://h/db"])
    with pytest.raises(InvalidInput, match="consistency"):
        pyreference.connect(memory, consistency="eventual")
    with pytest.raises(InvalidInput, match="replica_wait"):
        pyreference.connect(memory, replica_wait=-1)
    for endless in (float("nan"), float("inf")):  # NaN: a deadline never reached
        with pytest.raises(InvalidInput, match="replica_wait must be a number of seconds"):
            pyreference.connect(memory, replica_wait=endless)
        with pytest.raises(InvalidInput, match="retry_after must be a number of seconds"):
            pyreference.connect(memory, replica_retry_after=endless)
    with pytest.raises(InvalidInput, match="list of PostgreSQL URLs"):
        pyreference.connect(memory, replicas="postgresql://h/db")  # type: ignore[arg-type]
    with pyreference.connect(sqlite_conn) as store:
        store.migrate()
        with pytest.raises(InvalidInput, match="WAL position"):
            store.list_connection_summaries(consistent_with="yesterday")
        with pytest.raises(InvalidInput, match="PostgreSQL only"):
            store.current_position()
        assert store.write_position is None
        assert store.list_connection_summaries().source.role == "primary"


def test_positions_round_trip() -> None:
    for text in ("0/0", "0/3000148", "16/B374D848", "FFFFFFFF/FFFFFFFF"):
        assert format_position(parse_position(text)) == text
    assert parse_position("1/0") > parse_position("0/FFFFFFFF")
    for bad in ("", "0", "x/1", "/1", "1/", None):
        with pytest.raises(InvalidInput):
            parse_position(bad)  # type: ignore[arg-type]


def test_the_async_store_routes_reads_with_the_same_guarantees(
    replicated: tuple[str, list[str]], replica_cluster: Any
) -> None:
    primary, replicas = replicated

    async def scenario() -> None:
        store = await pyreference.connect_async(primary, replicas=replicas, replica_wait=0)
        try:
            connector = next(iter(real_manifests()))
            await store.register_connector(real_manifests()[connector])
            await store.create_connection("c0", connector)
            await store.reconcile()
            await asyncio.to_thread(replica_cluster.wait_replayed)
            page = await store.list_connection_summaries(now=NOW)
            assert page.source.role == "replica" and len(page.items) == 1
            summary = await store.get_connection_summary("c0", NOW)
            assert summary is not None and store.last_read_source is not None
            assert store.last_read_source.role == "replica"
            await asyncio.to_thread(_replay, replicas, True)
            stale = 0
            for i in range(200):  # read-your-writes with both replicas frozen
                await store.ingest_records("c0", "orders", [{"key": f"k{i}", "data": {}}])
                if i % 2:
                    got = await store.get_connection_summary("c0", NOW)
                else:
                    got = (await store.list_connection_summaries(now=NOW)).items[0]
                assert got is not None
                stale += got.total_records != i + 1
            assert stale == 0 and store.last_read_source.role == "primary"
            position = store.write_position
            assert position is not None
            assert parse_position(position) <= parse_position(await store.current_position())
            status = await store.replica_status()
            assert [s["healthy"] for s in status] == [True, True]
            with pytest.raises(InvalidInput):
                await store.list_connection_summaries(consistent_with="nope")
            for standby in replica_cluster.standbys:  # an outage: the primary serves
                await asyncio.to_thread(replica_cluster.stop_server, standby)
            page = await store.list_connection_summaries(now=NOW)
            assert page.source.role == "primary" and page.items[0].total_records == 200
            assert not any(s["healthy"] for s in await store.replica_status())
        finally:  # the fixture resumes replay and restarts the replicas
            await store.aclose()

    asyncio.run(scenario())


def test_async_replicas_need_a_postgres_primary() -> None:
    async def scenario() -> None:
        with pytest.raises(InvalidInput, match="PostgreSQL primary"):
            await pyreference.connect_async("sqlite:///:memory:", replicas=["postgresql://h/d"])

    asyncio.run(scenario())


def _commit_elsewhere_and_freeze(primary: str, replicas: list[str], cluster: Any) -> None:
    """Another application commits (any busy primary does), the replicas replay it and
    everything before it — the store's write position inside the caller's open transaction
    included — and then stop replaying, before the caller's commit."""
    with psycopg.connect(primary, autocommit=True) as other:
        other.execute("CREATE TABLE IF NOT EXISTS app_noise (x int)")
        other.execute("INSERT INTO app_noise VALUES (1)")
    cluster.wait_replayed()
    _replay(replicas, paused=True)


def test_a_write_inside_the_callers_transaction_is_read_back_after_the_callers_commit(
    replicated: tuple[str, list[str]], replica_cluster: Any
) -> None:
    """Review of #17: the store took its write's WAL position right after the write, but
    inside the caller's transaction that is before the caller's commit; a replica replayed
    past it (not the commit) and served the store's next read, which missed the store's own
    committed write. Now the store keeps the caller's transaction and asks the primary,
    at its next read, whether it has ended: reads stay on the primary until it commits,
    then need the position taken after the commit; a rolled-back one is forgotten."""
    primary, replicas = replicated
    conn = psycopg.connect(primary)  # autocommit off: the application's transaction
    store = pyreference.connect(conn, replicas=replicas, replica_wait=0.3)
    try:
        connector = store.register_connector(next(iter(real_manifests().values())))
        registered = store.write_position  # committed: the connection was idle
        assert registered is not None
        replica_cluster.wait_replayed()
        conn.execute("SELECT 1")  # the application's transaction is open
        store.create_connection("mine", connector)  # a savepoint of it
        assert store.write_position == registered  # not committed: no position to give yet
        # Before the commit the store reads its own write where it is visible: the primary
        # (the caller's connection, inside the caller's transaction).
        assert store.get_connection_summary("mine") is not None
        assert store.last_read_source is not None
        assert store.last_read_source.role == "primary"
        _commit_elsewhere_and_freeze(primary, replicas, replica_cluster)
        conn.commit()  # the store is told nothing
        conn.execute("SELECT 1")  # and the caller is already in its next transaction
        summary = store.get_connection_summary("mine")
        assert summary is not None, "the store's own committed write is missing from its read"
        page = store.list_connection_summaries(limit=10)
        assert [item.connection_id for item in page.items] == ["mine"]
        assert page.source.role == "primary"  # the replicas are frozen before the commit
        token = store.write_position
        assert token is not None
        with psycopg.connect(primary, autocommit=True) as other:
            (committed,) = other.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()  # type: ignore[misc]
        assert parse_position(token) <= parse_position(committed)
        conn.commit()
        # Once the replicas replay the commit, reads go back to them.
        _replay(replicas, paused=False)
        replica_cluster.wait_replayed()
        assert store.get_connection_summary("mine") is not None
        assert store.last_read_source is not None and store.last_read_source.role == "replica"
        # A caller's rollback undoes the store's write; the store forgets that transaction.
        conn.execute("SELECT 1")
        store.create_connection("undone", connector)
        conn.rollback()
        assert store.get_connection_summary("undone") is None
        assert store.last_read_source is not None and store.last_read_source.role == "replica"
        assert store.write_position == token
    finally:
        _replay(replicas, paused=False)
        store.close()
        conn.close()


def test_async_a_write_inside_the_callers_transaction_is_read_back_after_the_commit(
    replicated: tuple[str, list[str]], replica_cluster: Any
) -> None:
    primary, replicas = replicated

    async def scenario() -> None:
        conn = await psycopg.AsyncConnection.connect(primary)
        store = await pyreference.connect_async(conn, replicas=replicas, replica_wait=0.3)
        try:
            connector = await store.register_connector(next(iter(real_manifests().values())))
            await asyncio.to_thread(replica_cluster.wait_replayed)
            await conn.execute("SELECT 1")
            await store.create_connection("mine", connector)
            assert await store.get_connection_summary("mine") is not None
            assert store.last_read_source is not None
            assert store.last_read_source.role == "primary"
            await asyncio.to_thread(
                _commit_elsewhere_and_freeze, primary, replicas, replica_cluster
            )
            await conn.commit()
            assert await store.get_connection_summary("mine") is not None
            page = await store.list_connection_summaries(limit=10)
            assert [item.connection_id for item in page.items] == ["mine"]
            assert store.write_position is not None
            await asyncio.to_thread(_replay, replicas, False)
            await asyncio.to_thread(replica_cluster.wait_replayed)
            assert await store.get_connection_summary("mine") is not None
            assert store.last_read_source is not None
            assert store.last_read_source.role == "replica"
        finally:
            await asyncio.to_thread(_replay, replicas, False)
            await store.aclose()
            await conn.close()

    asyncio.run(scenario())
