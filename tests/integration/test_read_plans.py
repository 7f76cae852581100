"""A read that meets dirty rows reuses its recompute plan (migration 0019, issue #15).

The functions a read calls for dirty rows were LANGUAGE sql with SET clauses: never
inlined, planned afresh on every call (~8 ms per read that met a dirty row on a
10,000-connection fleet, against ~2 ms of execution for one row; bench/README.md). They
are PL/pgSQL, whose session caches one generic plan. What they return is unchanged:
tests/integration/test_reads.py and the parity suites read dirty rows through them.
"""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.postgres

READERS = ("pyref_recompute_evidence_v1", "pyref_recent_runs_v1")


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
