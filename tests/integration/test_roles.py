"""Least-privilege roles on Postgres (issue #11): each role, logged in for real, can do its
job and nothing more; readers can be confined to one owner by row-level security.

Roles are created per test with unique names (tests/support/pgroles.py) and given their
privileges by `pyreference.grants.apply`, exactly as `pyreference grants --apply` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

import pyreference
from pyreference import grants
from pyreference.cli import cli
from pyreference.store import Store
from tests.support.pgroles import Roles
from tests.support.scenario import NOW, at, records, register, small_fleet

pytestmark = pytest.mark.postgres

SQL_WORDS = ("SELECT", "INSERT", "UPDATE", "FROM", "WHERE", "pyref_evidence_source")


def _setup(pg_roles: Roles, *, confine: bool = False) -> tuple[Store, dict[str, str]]:
    """An owner store with the small fleet, and a writer, a reader and a maintainer."""
    admin = pyreference.connect(pg_roles.db_dsn)
    small_fleet(admin)
    admin.reconcile()
    names = {kind: pg_roles.create(kind) for kind in ("writer", "reader", "maintainer")}
    grants.apply(
        admin.database,
        grants.Roles(**names),
        confine_readers=confine,
    )
    return admin, names


def _denied(call: Callable[[], Any]) -> pyreference.InsufficientPrivilege:
    with pytest.raises(pyreference.InsufficientPrivilege) as caught:
        call()
    message = str(caught.value)
    assert "permission denied" in message and "pyreference grants" in message
    assert not any(word in message for word in SQL_WORDS), message
    assert caught.value.retryable is False
    return caught.value


def _plain_sql_denied(dsn: str, *statements: str) -> None:
    for statement in statements:
        with (
            psycopg.connect(dsn, autocommit=True) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute(statement)


def test_writer_writes_the_canonical_tables_and_nothing_else(pg_roles: Roles) -> None:
    admin, names = _setup(pg_roles)
    writer = pyreference.connect(pg_roles.dsn(names["writer"]))
    register(writer, "slack")
    writer.create_connection("cin_w", "slack", created_at=at(50))
    assert writer.ingest_records("cin_w", "messages", records(3)) == 3
    assert writer.delete_record("cin_w", "messages", "k0") is True
    writer.append_events(
        [
            {
                "event_type": "run.started",
                "occurred_at": at(9),
                "run_id": "rw",
                "connection_id": "cin_w",
            },
            {
                "event_type": "run.completed",
                "occurred_at": at(8),
                "run_id": "rw",
                "connection_id": "cin_w",
            },
        ]
    )
    # The append owner check (0013) runs as the writer: an event naming no connection is
    # accepted where it lands on the writer's owner's connection, refused (not denied)
    # where it would land on another owner's.
    writer.append_events(
        [{"event_type": "run.failed", "occurred_at": at(8), "run_id": "rw"}]
    )  # fmt: skip
    alice = pyreference.connect(pg_roles.db_dsn, owner="alice")
    alice.create_connection("cin_alice", "gmail", created_at=at(50))
    alice.append_events(
        [{"event_type": "run.started", "occurred_at": at(9), "run_id": "ra",
          "connection_id": "cin_alice"}]
    )  # fmt: skip
    alice.close()
    with pytest.raises(pyreference.ConnectionNotFound, match="ra"):
        writer.append_events([{"event_type": "run.failed", "occurred_at": at(8), "run_id": "ra"}])
    writer.set_schedule("cin_w", interval_seconds=600)
    gap = writer.add_detail_gap("cin_w", "messages")
    writer.update_detail_gap(gap, status="recovered")
    attention = writer.open_attention("cin_w", reason_code="reauth")
    writer.update_attention(attention, lifecycle="resolved")
    writer.update_connection("cin_w", display_name="Work Slack")
    # The triggers ran as their owner: the read model followed every write.
    summary = admin.get_connection_summary("cin_w", now=NOW)
    assert summary is not None
    assert (summary.display_name, summary.total_records) == ("Work Slack", 2)
    assert summary.last_run is not None and summary.last_run.status == "succeeded"
    assert admin.reconcile() >= 1 and admin.verify() == []
    # Nothing else: no internal table, no maintenance, no summaries.
    _plain_sql_denied(
        pg_roles.dsn(names["writer"]),
        "UPDATE pyref_evidence SET failures_since_success = 99",
        "INSERT INTO pyref_dirty (connector_instance_id) VALUES ('cin_w')",
        "DELETE FROM pyref_runs",
        "SELECT value FROM pyref_meta",
        "SELECT * FROM pyref_evidence_source",
    )
    _denied(writer.reconcile)
    _denied(lambda: writer.list_connection_summaries(now=NOW))
    writer.close()
    admin.close()


def test_reader_reads_its_summaries_and_nothing_else(pg_roles: Roles) -> None:
    admin, names = _setup(pg_roles)
    reader = pyreference.connect(pg_roles.dsn(names["reader"]))
    # A dirty row, recomputed by the reader through the definer function.
    admin.ingest_records("cin_slack", "messages", records(4, prefix="new"))
    pages, cursor = [], None
    while True:
        page = reader.list_connection_summaries(limit=2, cursor=cursor, now=NOW)
        pages.append(page.to_dict())
        if not page.has_more:
            break
        cursor = page.next_cursor
    mine = [item for p in pages for item in p["items"]]
    expected = admin.list_connection_summaries(limit=100, now=NOW).to_dict()["items"]
    assert mine == expected
    assert next(i for i in mine if i["connection_id"] == "cin_slack")["total_records"] == 4
    slack = reader.get_connection_summary("cin_slack", now=NOW)
    assert slack is not None and slack.evidence.dirty and slack.total_records == 4
    assert reader.connection_diagnostics("cin_chase", now=NOW).summary.connection_id == "cin_chase"
    # No secret, no canonical content beyond what reads need, no writes, no maintenance.
    _plain_sql_denied(
        pg_roles.dsn(names["reader"]),
        "SELECT value FROM pyref_meta",
        "SELECT * FROM records",
        "SELECT * FROM spine_events",
        "SELECT manifest FROM connectors",
        "SELECT * FROM pyref_evidence_source",
        "UPDATE pyref_evidence SET state = 'ok'",
        "SELECT pyref_reconcile_v1(10)",
    )
    with psycopg.connect(pg_roles.dsn(names["reader"]), autocommit=True) as conn:
        # Outside a read transaction no owner is named: the reader functions give nothing.
        assert conn.execute("SELECT pyref_cursor_key_v1()").fetchone() == (None,)
        for version in (1, 2):  # 0034's v2: the same owner rule
            got = conn.execute(
                f"SELECT * FROM pyref_recompute_evidence_v{version}(ARRAY['cin_slack'])"
            )
            assert got.fetchall() == [], version
    _denied(reader.reconcile)
    _denied(reader.verify)
    _denied(lambda: reader.create_connection("cin_x", "slack"))
    _denied(lambda: reader.ingest_records("cin_slack", "messages", records(1)))
    reader.close()
    admin.close()


def test_maintainer_maintains_and_nothing_else(pg_roles: Roles) -> None:
    admin, names = _setup(pg_roles)
    admin.ingest_records("cin_slack", "messages", records(2))
    maintainer = pyreference.connect(pg_roles.dsn(names["maintainer"]))
    assert maintainer.dirty_backlog()["dirty_connections"] == 1
    assert maintainer.reconcile() == 1
    assert maintainer.rebuild() == 6
    assert maintainer.verify() == []
    _plain_sql_denied(
        pg_roles.dsn(names["maintainer"]),
        "SELECT value FROM pyref_meta",
        "SELECT * FROM pyref_evidence",
        "SELECT * FROM records",
        "UPDATE pyref_evidence SET state = 'ok'",
        "INSERT INTO pyref_dirty (connector_instance_id) VALUES ('cin_slack')",
        "SELECT pyref_refresh_evidence_v1(ARRAY['cin_slack'])",
    )
    _denied(lambda: maintainer.list_connection_summaries(now=NOW))
    _denied(lambda: maintainer.create_connection("cin_x", "slack"))
    maintainer.close()
    admin.close()


def test_grants_converge_and_strip_earlier_over_grants(pg_roles: Roles) -> None:
    """Issue #11, 3: a writer once granted the internal tables (to make the triggers work)
    loses them; running the grants twice changes nothing."""
    admin, names = _setup(pg_roles)
    with pg_roles.admin() as conn:
        conn.execute(f'GRANT ALL ON pyref_evidence, pyref_dirty, pyref_meta TO "{names["writer"]}"')
    roles = grants.Roles(**names)
    grants.apply(admin.database, roles)
    grants.apply(admin.database, roles)
    _plain_sql_denied(
        pg_roles.dsn(names["writer"]),
        "UPDATE pyref_evidence SET failures_since_success = 99",
        "SELECT value FROM pyref_meta",
    )
    with pytest.raises(pyreference.InvalidInput, match="owns pyreference"):
        grants.apply(admin.database, grants.Roles(writer="postgres"))
    with pytest.raises(pyreference.InvalidInput, match="no role"):
        grants.apply(admin.database, grants.Roles(reader="pyref_no_such_role_3f9a"))
    admin.close()


def test_a_confined_reader_sees_only_the_owner_its_transaction_names(pg_roles: Roles) -> None:
    admin, names = _setup(pg_roles, confine=True)
    bob = pyreference.connect(pg_roles.db_dsn, owner="bob")
    register(bob, "gmail")
    bob.create_connection("cin_bob", "gmail", created_at=at(30))
    bob.ingest_records("cin_bob", "messages", records(5))
    bob.add_detail_gap("cin_bob", "messages", gap_id="gap_bob")
    # The writer keeps writing for any owner with row-level security on.
    writer = pyreference.connect(pg_roles.dsn(names["writer"]), owner="bob")
    writer.ingest_records("cin_bob", "messages", records(1, prefix="w"))
    writer.close()

    dsn = pg_roles.dsn(names["reader"])
    with psycopg.connect(dsn) as conn:  # plain SQL, as any console could send it
        conn.execute("SELECT set_config('pyref.owner', 'owner_local', true)")
        assert conn.execute(
            "SELECT count(*) FROM connector_instances WHERE owner_subject_id = 'bob'"
        ).fetchone() == (0,)
        for table in ("pyref_evidence", "pyref_runs", "pyref_dirty", "connector_detail_gaps"):
            assert conn.execute(
                f"SELECT count(*) FROM {table} WHERE connector_instance_id = 'cin_bob'"
            ).fetchone() == (0,), table
        assert conn.execute("SELECT count(*) FROM connector_instances").fetchone() == (6,)
        for version in (1, 2):  # 0034's v2: the same owner rule
            assert conn.execute(
                f"SELECT count(*) FROM pyref_recompute_evidence_v{version}"
                "(ARRAY['cin_bob', 'cin_mail'])"
            ).fetchone() == (1,), version
        conn.commit()
        # No owner named (the setting was transaction-local): nothing at all.
        assert conn.execute("SELECT count(*) FROM connector_instances").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pyref_evidence").fetchone() == (0,)
        # 0025's page functions serve any owner named in the call (they run as their owner):
        # a confined reader is not given them (found by a reviewer).
        for function in ("pyref_list_keys_v1", "pyref_list_page_v1"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT * FROM {function}('bob', 10, NULL, NULL, NULL, NULL)")
            conn.rollback()

    reader = pyreference.connect(dsn)  # owner_local
    reader.list_connection_summaries(now=NOW)  # the second read is no one-trip call either
    items = reader.list_connection_summaries(now=NOW).items
    assert {i.connection_id for i in items} == {
        "cin_mail",
        "cin_amz_a",
        "cin_amz_b",
        "cin_chase",
        "cin_slack",
    }
    assert reader.get_connection_summary("cin_bob", now=NOW) is None
    reader.close()
    bob_reader = pyreference.connect(dsn, owner="bob")
    (only,) = bob_reader.list_connection_summaries(now=NOW).items
    assert (only.connection_id, only.total_records) == ("cin_bob", 6)
    assert only.to_dict() == bob.list_connection_summaries(now=NOW).items[0].to_dict()
    bob_reader.close()
    bob.close()
    admin.close()


def test_grants_command_prints_and_applies(pg_roles: Roles) -> None:
    admin = pyreference.connect(pg_roles.db_dsn)
    reader = pg_roles.create("reader")
    runner = CliRunner()
    printed = runner.invoke(cli, ["grants", "--reader", reader, "--confine-readers"])
    assert printed.exit_code == 0, printed.output
    assert printed.output.startswith("BEGIN;\n") and printed.output.endswith("COMMIT;\n")
    assert 'GRANT EXECUTE ON FUNCTION "public".pyref_cursor_key_v1()' in printed.output
    assert "ENABLE ROW LEVEL SECURITY" in printed.output
    applied = runner.invoke(
        cli, ["grants", "--dsn", pg_roles.db_dsn, "--reader", reader, "--apply"]
    )
    assert applied.exit_code == 0, applied.output
    assert f"for {reader}" in applied.output
    with psycopg.connect(pg_roles.dsn(reader), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pyref_evidence").fetchone() == (0,)
    missing = runner.invoke(cli, ["grants", "--apply", "--dsn", pg_roles.db_dsn])
    assert missing.exit_code == 1 and "name at least one role" in missing.output
    admin.close()


def test_install_into_a_dedicated_schema_owned_by_a_nologin_role(
    pg_admin_dsn: str, pg_roles: Roles
) -> None:
    """The DBA guide's recipe: a NOLOGIN owner, a schema of its own, migrations run as it,
    clients pointed at the schema; every function sealed to that schema, every role working."""
    import uuid

    from tests.conftest import _with_db
    from tests.integration.test_function_settings import audit

    owner = pg_roles.create("owner", login=False)
    name = f"pyref_t_schema_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = _with_db(pg_admin_dsn, name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA pyref AUTHORIZATION "{owner}"')
            conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        as_owner = f"{dsn}?options=-c%20search_path%3Dpyref%20-c%20role%3D{owner}"
        admin = pyreference.connect(as_owner)
        assert admin.migrate()
        assert audit(dsn, schema="pyref") == []
        small_fleet(admin)
        admin.reconcile()
        names = {kind: pg_roles.create(kind) for kind in ("writer", "reader")}
        grants.apply(admin.database, grants.Roles(**names))

        def client(role: str) -> Store:
            return pyreference.connect(
                f"{_with_db(pg_admin_dsn, name).replace('postgres@', f'{role}@', 1)}"
                "?options=-c%20search_path%3Dpyref"
            )

        writer, reader = client(names["writer"]), client(names["reader"])
        writer.ingest_records("cin_slack", "messages", records(2))
        slack = reader.get_connection_summary("cin_slack", now=NOW)
        assert slack is not None and slack.total_records == 2
        assert len(reader.list_connection_summaries(now=NOW).items) == 5
        assert admin.reconcile() == 1 and admin.verify() == []
        for store in (writer, reader, admin):
            store.close()
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_0010_rolls_back_and_forward(pg_roles: Roles) -> None:
    """Rolling 0010 back drops the reader functions and every owner policy and turns
    row-level security off; rolling forward restores a working, audited schema."""
    from yoyo import read_migrations
    from yoyo.connections import get_backend

    from pyreference import sqlfiles
    from tests.integration.test_function_settings import audit

    admin, names = _setup(pg_roles, confine=True)
    backend = get_backend(pg_roles.db_dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    migrations = read_migrations(str(sqlfiles.migrations_dir("postgres")))
    with backend.lock():
        # 0010 and what depends on it, newest first (as `yoyo rollback --revision` does)
        backend.rollback_migrations(
            backend.to_rollback(migrations.filter(lambda m: m.id >= "0010_least_privilege"))
        )
    with pg_roles.admin() as conn:
        assert conn.execute("SELECT count(*) FROM pg_policies").fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM pg_class WHERE relrowsecurity"
            " AND relnamespace = 'public'::regnamespace"
        ).fetchone() == (0,)
        assert conn.execute("SELECT to_regproc('pyref_cursor_key_v1')").fetchone() == (None,)
    with backend.lock():
        backend.apply_migrations(backend.to_apply(migrations))
    backend.connection.close()
    assert audit(pg_roles.db_dsn) == []
    grants.apply(admin.database, grants.Roles(**names), confine_readers=True)
    reader = pyreference.connect(pg_roles.dsn(names["reader"]))
    assert len(reader.list_connection_summaries(now=NOW).items) == 5
    reader.close()
    admin.close()


def test_0034_gives_its_recompute_to_every_role_that_may_run_v1(pg_roles: Roles) -> None:
    """0034 creates `pyref_recompute_evidence_v2` beside v1 and grants it to every role
    that may execute v1 (with the grant option where that role has it; never PUBLIC). A
    least-privilege reader's store reads the same page of marked rows throughout, its
    statements prepared: before 0034 and after it (v1, until a store looks again), a
    store opened after it (v2), and that store after 0034's rollback or v2 revoked (its
    call meets v2 gone and is made again with v1)."""
    from tests.support.upgrades import apply_upto, rollback_after

    admin, names = _setup(pg_roles)
    delegate = pg_roles.create("delegate")
    rollback_after(admin, "0033_stored_facts")
    with pg_roles.admin() as conn:
        conn.execute(
            f"GRANT EXECUTE ON FUNCTION pyref_recompute_evidence_v1(text[]) TO {delegate}"
            " WITH GRANT OPTION"
        )
    admin.set_schedule("cin_slack", interval_seconds=60)  # a marked row: recomputed

    def page(store: Store) -> Any:
        return [store.list_connection_summaries(now=NOW).to_dict() for _ in range(7)][-1]

    def revoke_v2() -> None:
        with pg_roles.admin() as conn:
            conn.execute(f"REVOKE EXECUTE ON FUNCTION {v2} FROM {names['reader']}")

    reader = pyreference.connect(pg_roles.dsn(names["reader"]))
    before = page(reader)
    apply_upto(admin, None)
    v2 = "pyref_recompute_evidence_v2(text[])"
    with pg_roles.admin() as conn:
        acl = conn.execute(
            "SELECT a.grantee::regrole::text, a.is_grantable FROM pg_proc p,"
            " aclexplode(p.proacl) a WHERE p.oid = %s::regprocedure AND a.grantee <> p.proowner"
            " ORDER BY 1",
            (v2,),
        ).fetchall()
    assert sorted(acl) == sorted([(names["reader"], False), (delegate, True)])
    assert page(reader) == before
    assert not reader.database._one_trip._recompute_v2  # type: ignore[attr-defined]
    stores = [reader]
    for take_away in (lambda: rollback_after(admin, "0033_stored_facts"), revoke_v2):
        fresh = pyreference.connect(pg_roles.dsn(names["reader"]))
        stores.append(fresh)
        assert page(fresh) == before
        assert fresh.database._one_trip._recompute_v2  # type: ignore[attr-defined]
        take_away()  # v2 gone, or revoked (found by a reviewer: every read then failed)
        assert page(fresh) == before
        assert not fresh.database._one_trip._recompute_v2  # type: ignore[attr-defined]
        apply_upto(admin, None)
    for store in (*stores, admin):
        store.close()
