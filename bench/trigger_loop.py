"""What the records INSERT trigger costs a single-row INSERT, measured in the server.

`python bench/trigger_loop.py [--dsn ADMIN_DSN] [--rounds 21] [--rows 2000]`

A PL/pgSQL loop of single-row INSERTs into `records` (no client round trips, so only the
server's work is timed), once per variant of the trigger function, each variant swapped
in inside a transaction that is rolled back: every round starts from the same tables.
Variants, in a new order each round, medians printed per INSERT:

- `untriggered`: `DISABLE TRIGGER USER` (the foreign key still checked);
- `empty`: a trigger function that only returns, sealed as pyreference seals its own
  (`SECURITY DEFINER`, pinned `search_path`, JIT off): the call's own cost;
- `0020`: the function 0020 installed (every statement's records grouped), as
  0021's rollback file restores it;
- `0021`: the function as migrations install it now (a lone record without a GROUP BY).

A scratch database `pyref_bench_trigger_*` with 200 connections is created and dropped.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import fleet
from bench.run import DEFAULT_DSN, Scratch, open_pg
from pyreference import sqlfiles

EMPTY = """CREATE OR REPLACE FUNCTION pyref_records_inserted_v1() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp SET jit = off
AS $$ BEGIN RETURN NULL; END $$"""

LOOP = """DO $$
DECLARE t0 timestamptz; ids text[] := {ids};
BEGIN
    t0 := clock_timestamp();
    FOR i IN 1..{rows} LOOP
        INSERT INTO records (connector_instance_id, stream, record_key, record_json, emitted_at)
        VALUES (ids[1 + i % array_length(ids, 1)], 'loop', 'k' || i, '{{"n": 1}}', now());
    END LOOP;
    PERFORM set_config('bench.loop_s', extract(epoch FROM clock_timestamp() - t0)::text, true);
END $$"""


def variants() -> dict[str, str]:
    """Each variant's SQL, run first in the round's transaction."""
    rollback = sqlfiles.sql_dir() / "postgres" / "0021_single_record_deltas.rollback.sql"
    return {
        "untriggered": "ALTER TABLE records DISABLE TRIGGER USER",
        "empty": EMPTY,
        "0020": rollback.read_text(),
        "0021": "SELECT 1",  # as installed
    }


def measure(conn: Any, rows: int, rounds: int) -> dict[str, list[float]]:
    """Microseconds per single-row INSERT, per variant, one sample a round."""
    from psycopg import sql

    ids = [r[0] for r in conn.execute("SELECT connector_instance_id FROM connector_instances")]
    loop = sql.SQL(LOOP).format(ids=sql.Literal(ids), rows=sql.Literal(rows))
    sqls = variants()
    samples: dict[str, list[float]] = {name: [] for name in sqls}
    for rnd in range(-1, rounds):  # round -1 warms every variant and is not kept
        order = list(sqls)
        random.shuffle(order)
        for name in order:
            with conn.transaction(force_rollback=True):
                conn.execute(sqls[name])
                conn.execute(loop)
                took = conn.execute("SELECT current_setting('bench.loop_s')::float8")
                seconds = took.fetchone()[0]
            if rnd >= 0:
                samples[name].append(seconds / rows * 1e6)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="admin DSN (a scratch database is made)")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--rows", type=int, default=2000, help="single-row INSERTs per sample")
    args = parser.parse_args(argv)
    with Scratch(args.dsn, "trigger") as db:
        store, conn = open_pg(db.dsn)
        try:
            fleet.pg_grow_connections(conn, 0, 200, fleet.FleetSpec(), 5)
            fleet.pg_settle(conn)
            conn.execute("VACUUM ANALYZE")
            samples = measure(conn, args.rows, args.rounds)
        finally:
            conn.close()
            store.close()
    base = statistics.median(samples["untriggered"])
    print(f"{args.rounds} rounds of {args.rows} single-row INSERTs, medians per INSERT:")
    for name, xs in samples.items():
        mid = statistics.median(xs)
        print(f"  {name:12s} {mid:7.1f} us  (+{mid - base:5.1f} us, {mid / base:.2f}x untriggered)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
