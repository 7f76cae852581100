"""A read that meets dirty rows reuses its recompute plan (migration 0019, issue #15).

The functions a read calls for dirty rows were LANGUAGE sql with SET clauses: never
inlined, planned afresh on every call (~8 ms per read that met a dirty row on a
10,000-connection fleet, against ~2 ms of execution for one row; bench/README.md). They
are PL/pgSQL, whose session caches one generic plan. What they return is unchanged:
tests/integration/test_reads.py and the parity suites read dirty rows through them.
"""

from __future__ import annotations

import re

import psycopg
import pytest

from pyreference import sqlfiles
from pyreference.db import OneTripReads

pytestmark = pytest.mark.postgres

READERS = ("pyref_recompute_evidence_v1", "pyref_recompute_evidence_v2", "pyref_recent_runs_v1")
# The named statements a read runs (list and scoped reads, their recomputes, the cursor key).
READ_STATEMENTS = re.compile(
    r"list_|page_rows|scoped_summary|recompute_evidence|cursor_key|resolve_"
)


def test_the_readers_recompute_functions_keep_one_plan_per_session(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            "SELECT p.proname, l.lanname, p.proconfig FROM pg_proc p"
            " JOIN pg_language l ON l.oid = p.prolang WHERE p.proname = ANY(%s)"
            " ORDER BY p.proname",
            (list(READERS),),
        ).fetchall()
    assert [r[0] for r in rows] == sorted(READERS)
    for name, language, config in rows:
        assert language == "plpgsql", name
        assert "plan_cache_mode=force_generic_plan" in config, name


def test_a_rows_run_subqueries_never_test_the_whole_id_list(pg_dsn: str) -> None:
    """0024: under the recompute's generic plan, each row's run subqueries find its runs by
    its connection alone. They also tested `connector_instance_id = ANY (p_ids)`, which the
    generic plan made an index condition: one index descent per id asked for, for every run
    subquery of every row, so a page's recompute grew with the square of its rows (1,000
    clean rows: 2.8 s; bench/README.md)."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        source = conn.execute(
            "SELECT prosrc FROM pg_proc WHERE proname = 'pyref_recompute_evidence_v2'"
        ).fetchone()
        assert source is not None
        query = source[0].split("RETURN QUERY", 1)[1].rsplit(";", 1)[0]
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE recompute(text[]) AS {query.replace('p_ids', '$1')}")
        plan = [r[0] for r in conn.execute("EXPLAIN EXECUTE recompute('{a,b}')")]
    per_row = [line for line in plan if "ci.connector_instance_id" in line]
    assert per_row, "the plan correlates run subqueries with the row"
    assert not [line for line in per_row if "ANY ($1)" in line], "\n".join(plan)


def test_every_function_a_read_calls_keeps_its_plan(pg_dsn: str) -> None:
    """0026: a LANGUAGE sql function with SET clauses (every sealed pyreference function has
    them) is never inlined and is planned afresh in every statement that calls it. The
    cursor key was one, called by every list page: ~0.2 ms of a warm page's ~2.6 ms
    (bench/README.md). Every pyreference function a read calls (its statements and the
    one-trip page functions), and the functions those call, is PL/pgSQL (the session
    caches its plans) or an inlined helper (LANGUAGE sql, no SET clause, not SECURITY
    DEFINER: `pyref_iso`)."""
    queries = sqlfiles.queries("postgres")
    texts = [sql for name, sql in queries.items() if READ_STATEMENTS.match(name)]
    assert len(texts) >= 10, sorted(queries)
    called = {m for text in texts for m in re.findall(r"\b(pyref_\w+)\s*\(", text)}
    called |= set(OneTripReads.FUNCTIONS.values())  # the one-trip page functions (0025)
    seen: dict[str, tuple[str, bool, object]] = {}
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        while called - seen.keys():
            rows = conn.execute(
                "SELECT p.proname, l.lanname, p.prosecdef, p.proconfig, p.prosrc FROM pg_proc p"
                " JOIN pg_language l ON l.oid = p.prolang WHERE p.proname = ANY(%s)",
                (sorted(called - seen.keys()),),
            ).fetchall()
            assert {r[0] for r in rows} == called - seen.keys()
            for name, language, definer, config, source in rows:
                seen[name] = (language, definer, config)
                called |= set(re.findall(r"\b(pyref_\w+)\s*\(", source)) - {name}
    assert "pyref_cursor_key_v1" in seen and "pyref_list_keys_v1" in seen, sorted(seen)
    planned_per_call = {
        name
        for name, (language, definer, config) in seen.items()
        if language != "plpgsql" and (language != "sql" or definer or config)
    }
    assert not planned_per_call, planned_per_call


QUEUES = ("pyref_dirty", "pyref_record_deltas")


ARGS = (
    "p_owner",
    "p_fetch",
    "p_connector_id",
    "p_after_connector",
    "p_after_created",
    "p_after_id",
)


def _branch_plans(
    conn: psycopg.Connection, function: str, own_settings: bool = True
) -> list[list[str]]:
    """The plan of each of a page function's four statements, made now under the
    function's own settings (`own_settings`; else the session's), as a reader's session
    caches them."""
    found = conn.execute(
        "SELECT prosrc, proconfig FROM pg_proc WHERE proname = %s", (function,)
    ).fetchone()
    assert found is not None
    source, config = found
    for setting in config if own_settings else ():
        name, value = setting.split("=", 1)
        conn.execute(f"SELECT set_config('{name}', %s, false)", (value,))
    plans = []
    for n, part in enumerate(source.split("RETURN QUERY")[1:]):
        # (the statement's own CASE … ELSE … END has no `;` before its ELSE)
        query = re.split(r";\s*(?:ELSIF\b|ELSE\b|END IF\b)", part)[0].strip().rstrip(";")
        for i, arg in enumerate(ARGS, 1):
            query = re.sub(rf"\b{arg}\b", f"${i}", query)
        conn.execute(f"PREPARE branch{n}(text, int, text, text, timestamptz, text) AS {query}")
        plan = conn.execute(
            f"EXPLAIN EXECUTE branch{n}('owner_local', 101, 'gmail', 'gmail', now(), 'x')"
        )
        plans.append([r[0] for r in plan])
    return plans


def test_a_page_planned_on_drained_queues_looks_its_rows_up_by_index(pg_dsn: str) -> None:
    """0027: a queue that filled, drained and was vacuumed (what a reconciler under a write
    load leaves again and again) kept no pages, so a page planned then scanned the whole
    queue for every row, and went on doing so when the queue filled again (37 ms instead of
    4.5 ms a first page on 10,000 connections; bench/README.md). Vacuum leaves a queue its
    pages now, and the plan looks each row up in the queue's index."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO pyref_record_deltas (connector_instance_id, stream, live, n, bytes)"
            " SELECT 'cin_' || g, 's', 1, 1, 1 FROM generate_series(1, 2000) g"
        )
        conn.execute(
            "INSERT INTO pyref_dirty (connector_instance_id)"
            " SELECT 'cin_' || g FROM generate_series(1, 2000) g"
        )
        for queue in QUEUES:
            conn.execute(f"DELETE FROM {queue}")
            conn.execute(f"VACUUM {queue}")
        # Generic, as a reader caches it, but not under 0028's settings: what 0027 does.
        conn.execute("SET plan_cache_mode = force_generic_plan")
        plan = _branch_plans(conn, "pyref_list_keys_v1", own_settings=False)[0]
        kept = conn.execute(
            "SELECT relname, relpages FROM pg_class WHERE relname = ANY(%s) ORDER BY 1",
            (list(QUEUES),),
        ).fetchall()
    scans = [line for line in plan if any(f" on {q} " in line for q in QUEUES)]
    assert scans, "\n".join(plan)
    assert not [line for line in scans if "Seq Scan" in line], "\n".join(plan)
    assert all(n > 0 for _, n in kept), kept  # what vacuum left: the queues' pages


PROBES = (" on pyref_dirty q", " on pyref_record_deltas z", " on pyref_record_deltas y")
FILL = (
    "INSERT INTO pyref_dirty (connector_instance_id)"
    " SELECT 'elsewhere_' || g FROM generate_series(1, 20000) g",
    "INSERT INTO pyref_record_deltas (connector_instance_id, stream, live, n, bytes)"
    " SELECT 'elsewhere_' || g, 's', 1, 1, 1 FROM generate_series(1, 10000) g",
    "ANALYZE pyref_dirty, pyref_record_deltas",
)


@pytest.mark.parametrize("queues", ["truncated", "full"])
@pytest.mark.parametrize("function", sorted(set(OneTripReads.FUNCTIONS.values())))
def test_a_page_plan_looks_each_row_up_whatever_the_queues_hold(
    pg_dsn: str, function: str, queues: str
) -> None:
    """0028: a page's plan must not read a whole queue, whatever the queues held when the
    plan was made. A queue with no pages (`VACUUM (TRUNCATE)`, `TRUNCATE`, a fresh install
    vacuumed before any write; 0027 keeps pages only through plain vacuums) looked free
    to scan, and a page planned then scanned it for every row (36-205 ms a page against
    3-11 ms; found by a reviewer). A queue the planner believes full (or a page planned
    while it was empty) was read whole, hashed, once per page (29 ms with 20,000 marks
    and 10,000 deltas on other connections; found by a second reviewer). The page
    functions refuse sequential scans, and each probe of `pyref_dirty` and
    `pyref_record_deltas` is a lookup of its row in the queue's index (`OFFSET 0` keeps
    the planner from hashing it). Each of the four statements reads the list in index
    order, with no sort."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE pyref_dirty, pyref_dirty_runs, pyref_record_deltas")
        conn.execute("VACUUM pyref_dirty, pyref_dirty_runs, pyref_record_deltas")
        if queues == "full":
            for sql in FILL:
                conn.execute(sql)
        plans = _branch_plans(conn, function)
    assert len(plans) == 4
    for plan in plans:
        text = "\n".join(plan)
        assert "Seq Scan" not in text, text
        assert plan[0].startswith("Limit"), text
        assert "connector_instances_list_idx" in text, text
        assert not any(line.lstrip("-> ").startswith("Sort") for line in plan[:3]), text
        probes = [i for i, line in enumerate(plan) if any(p in line for p in PROBES)]
        assert len(probes) >= 3, text
        for i in probes:  # the probe's own condition names the row
            conds = [line.strip() for line in plan[i + 1 : i + 4]]
            assert any(
                c.startswith(("Index Cond:", "Recheck Cond:"))
                and "connector_instance_id = ci.connector_instance_id" in c
                for c in conds
            ), text


def test_a_connections_latest_run_is_the_first_entry_of_its_index(pg_dsn: str) -> None:
    """0035: readers take a connection's latest runs in `order_at DESC, run_id COLLATE "C"
    DESC` order (byte order whatever the database collation, 0014); the runs' index holds
    that order, so the look-up stops at the first entry instead of sorting the runs of an
    instant (an incremental sort reads 32 before it returns one)."""
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("SET enable_seqscan = off")  # (the table is empty)
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT r.run_id FROM pyref_runs r WHERE r.connector_instance_id = 'c'"
                ' ORDER BY r.order_at DESC, r.run_id COLLATE "C" DESC LIMIT 1'
            )
        )
    assert "pyref_runs_instance_byte_order_idx" in plan, plan
    assert "Sort" not in plan, plan
