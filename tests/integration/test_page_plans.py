"""List pages are flat in position: the keyset is an index condition under every plan (R10, R12).

A page statement with `(after IS NULL OR (a, b, c) > (…))` read deep pages by filtering
every row before them: always on SQLite, and on Postgres once a prepared statement went
generic. These tests read the plans of every page statement at a deep position.
"""

from __future__ import annotations

import re

import pytest

from pyreference.cursors import encode_cursor
from pyreference.store import Store, page_statement
from tests.support.scenario import register

FLEET = 3000


def _seed(store: Store) -> None:
    """FLEET connections over two connectors, by one INSERT (plans need a sizeable table)."""
    register(store, "gmail", "amazon")
    if store.dialect == "postgres":
        sql = (
            "INSERT INTO connector_instances (connector_instance_id, connector_id, created_at)"
            " SELECT 'cin_' || lpad(i::text, 5, '0'), CASE WHEN i % 2 = 0 THEN 'gmail'"
            " ELSE 'amazon' END, now() - i * interval '1 minute'"
            f" FROM generate_series(1, {FLEET}) AS i"
        )
    else:
        sql = (
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {FLEET})"
            " INSERT INTO connector_instances (connector_instance_id, connector_id, created_at)"
            " SELECT printf('cin_%05d', i), CASE WHEN i % 2 = 0 THEN 'gmail' ELSE 'amazon' END,"
            " strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', '-' || i || ' minutes') FROM n"
        )
    with store.database.session() as s:
        s.execute(sql)
        s.execute("ANALYZE")


def _deep_cursor(store: Store, connector_id: str | None) -> str:
    """A signed cursor before the last 100 rows of the list (the deepest full page)."""
    iso = "pyref_iso(created_at)" if store.dialect == "postgres" else "created_at"
    where = "" if connector_id is None else f" WHERE connector_id = '{connector_id}'"
    with store.database.session(owner=store.owner) as s:
        rows = s.execute(
            f"SELECT connector_id, {iso} AS created_at, connector_instance_id"
            f" FROM connector_instances{where}"
            " ORDER BY connector_id, created_at, connector_instance_id"
        )
        secret = store.database.cursor_key(s.execute("cursor_key")[0]["value"], store.owner)
    last = rows[-101]
    position = [last["connector_id"], last["created_at"], last["connector_instance_id"]]
    return encode_cursor(secret, store.owner, connector_id, position)


STATEMENTS = [(None, False), (None, True), ("gmail", False), ("gmail", True)]


def _positional(sql: str) -> str:
    """psycopg's %(name)s placeholders as $1, $2, … in order of first use."""
    numbers: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        return f"${numbers.setdefault(match.group(1), len(numbers) + 1)}"

    return re.sub(r"%\((\w+)\)s", number, sql)


def _order(sql: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))


@pytest.mark.postgres
@pytest.mark.parametrize("keys", [False, True], ids=["list_page", "list_keys"])
@pytest.mark.parametrize("plan_mode", ["force_generic_plan", "force_custom_plan"])
@pytest.mark.parametrize(("connector_id", "deep"), STATEMENTS)
def test_postgres_page_position_is_an_index_condition(
    pg_store: Store, plan_mode: str, connector_id: str | None, deep: bool, keys: bool
) -> None:
    from psycopg.sql import SQL, Literal

    store = pg_store
    _seed(store)
    cursor = _deep_cursor(store, connector_id) if deep else None
    name, params = page_statement(store.owner, 101, connector_id, cursor, keys)
    sql = store.database.queries[name]
    with store.database.session() as s:
        raw = s.raw
        raw.execute("SELECT set_config('plan_cache_mode', %s, false)", (plan_mode,))
        raw.execute(f"PREPARE page AS {_positional(sql)}")
        try:
            args = SQL(", ").join(Literal(params[k]) for k in _order(sql))
            explain = SQL("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE page({})")
            plan = "\n".join(r[0] for r in raw.execute(explain.format(args)))
        finally:
            raw.execute("DEALLOCATE page")
            raw.execute("RESET plan_cache_mode")
    _assert_flat(plan, connector_id, deep)


def _assert_flat(plan: str, connector_id: str | None, deep: bool) -> None:
    """The page's position (and its connector filter) is an index condition of `plan`."""
    assert re.search(r"Index Scan (using|on) connector_instances_list_idx", plan), plan
    # The index scan reads the page (and the one row telling whether more follow), no more.
    read = re.search(r"on connector_instances ci \(actual rows=(\d+) ", plan)
    assert read and int(read.group(1)) <= 101, plan
    assert "Rows Removed by Filter" not in plan, plan
    conditions = "\n".join(line for line in plan.splitlines() if "Index Cond" in line)
    if connector_id is not None:
        assert re.search(r"\(?connector_id\)?(::text)? = ", conditions), plan
    if deep and connector_id is None:
        # The text columns compare in byte order (COLLATE "C", shown as a ::text cast).
        assert re.search(_row("connector_id", "created_at", "connector_instance_id"), conditions)
    if deep and connector_id is not None:
        assert re.search(_row("created_at", "connector_instance_id"), conditions), plan


def _row(*columns: str) -> str:
    """A regex for `ROW(columns) > ROW(` in a plan, a column possibly shown as `(c)::text`."""
    return r"ROW\(" + ", ".join(rf"(\({c}\)::text|{c})" for c in columns) + r"\) > ROW\("


@pytest.mark.postgres
@pytest.mark.parametrize("keys", [False, True], ids=["list_page", "list_keys"])
@pytest.mark.parametrize(("connector_id", "deep"), STATEMENTS)
def test_postgres_page_function_position_is_an_index_condition(
    pg_store: Store, connector_id: str | None, deep: bool, keys: bool
) -> None:
    """0025's one-round-trip functions run the same four statements, each branch under
    its cached generic plan (the functions force it): auto_explain shows the nested plan."""
    import psycopg

    from pyreference.db import OneTripReads

    store = pg_store
    _seed(store)
    cursor = _deep_cursor(store, connector_id) if deep else None
    name, params = page_statement(store.owner, 101, connector_id, cursor, keys)
    args = [params.get(k) for k in ("owner", "fetch", *OneTripReads.ARGS)]
    call = (
        f"SELECT count(*) FROM {OneTripReads.FUNCTIONS[name]}"
        "(%s, %s::integer, %s::text, %s::text, %s::timestamptz, %s::text)"
    )
    notices: list[str] = []
    dsn = store.database.direct_conninfo()[0]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        conn.execute("LOAD 'auto_explain'")
        conn.execute(
            "SET auto_explain.log_min_duration = 0; SET auto_explain.log_level = notice;"
            " SET auto_explain.log_nested_statements = on; SET auto_explain.log_analyze = on;"
            " SET auto_explain.log_timing = off"
        )
        for _ in range(2):  # the second call runs the branch's cached plan
            notices.clear()
            assert conn.execute(call, args).fetchone() == (101 if not deep else 100,)
    plans = [m for m in notices if "connector_instances_list_idx" in m]
    assert len(plans) == 1, notices
    assert re.search(r"owner_subject_id = \$\d", plans[0]), plans[0]  # the generic plan
    _assert_flat(re.sub(r"\s+\(cost=[^)]*\)", "", plans[0]), connector_id, deep)


@pytest.mark.parametrize("keys", [False, True], ids=["list_page", "list_keys"])
@pytest.mark.parametrize(("connector_id", "deep"), STATEMENTS)
def test_sqlite_page_position_is_an_index_condition(
    sqlite_conn, connector_id: str | None, deep: bool, keys: bool
) -> None:
    import pyreference

    store = pyreference.connect(sqlite_conn)
    _seed(store)
    cursor = _deep_cursor(store, connector_id) if deep else None
    name, params = page_statement(store.owner, 101, connector_id, cursor, keys)
    sql = store.database.queries[name]
    plan = "\n".join(row[3] for row in sqlite_conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    search = re.search(r"SEARCH ci USING INDEX connector_instances_list_idx \((.*)\)", plan)
    assert search, plan
    if connector_id is not None:
        assert "connector_id=?" in search.group(1), plan
    if deep and connector_id is None:
        assert "(connector_id,created_at,connector_instance_id)>(?,?,?)" in search.group(1), plan
    if deep and connector_id is not None:
        assert "(created_at,connector_instance_id)>(?,?)" in search.group(1), plan
    assert "TEMP B-TREE" not in plan, plan
