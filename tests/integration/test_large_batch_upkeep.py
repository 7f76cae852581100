"""One reconcile batch over more connections than a run-merge pass takes (migration 0018).

`pyref_refresh_runs_v2` merges stale runs 1,000 connections at a time (past ~100,000
claimed pairs its statements stopped hashing their stale lists and went quadratic: over
12 minutes to settle a 10,000-connection bulk load). Passes must write what one pass
would: every run and evidence row of a 2,100-connection fleet (three passes, sibling
browser collectors whose runs are attributed by profile key across passes included) is
what `verify()` recomputes from the canonical tables, and no stale pair is left behind.
The speed itself is measured in bench/ (`settle_s` of the pages experiment).
"""

from __future__ import annotations

import psycopg
import pytest

import pyreference
from bench import fleet

pytestmark = pytest.mark.postgres

N = 2100  # three passes of 1,000


def test_one_batch_over_many_passes_settles_every_connection(pg_dsn: str) -> None:
    spec = fleet.FleetSpec(events_per_connection=4, sibling_every=7)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        fleet.pg_register_connectors(conn)
        fleet.pg_grow_connections(conn, 0, N, spec, records=1)
        stale = conn.execute("SELECT count(*) FROM pyref_stale_runs").fetchone()
        assert stale is not None and stale[0] >= N  # the load left every connection stale
        settled = conn.execute("SELECT reconciled FROM pyref_reconcile_v3(NULL)").fetchone()
        assert settled == (N,)
        assert conn.execute("SELECT count(*) FROM pyref_stale_runs").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pyref_dirty").fetchone() == (0,)
        runs = conn.execute(
            "SELECT count(*), count(DISTINCT connector_instance_id) FROM pyref_runs"
        ).fetchone()
    assert runs == (N * 2, N)  # two runs each, every connection's attributed to it
    store = pyreference.connect(pg_dsn)
    try:
        assert store.verify() == []
    finally:
        store.close()
