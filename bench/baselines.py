"""Baselines measured beside pyreference: fan-out, a plain view, a materialized view.

Each page function returns (rows, statements sent), counting its own statements the
way `store.statement_counter()` counts the store's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SQL_DIR = Path(__file__).parent / "sql"
OWNER = "owner_local"
OPEN_LIFECYCLES = ("open", "acknowledged", "in_progress")

PG_PAGE = """SELECT connector_instance_id, connector_id, display_name, status, source_kind,
       created_at
  FROM connector_instances
 WHERE owner_subject_id = %s AND status <> 'draft'
 ORDER BY connector_id, created_at, connector_instance_id LIMIT %s"""

# Per connection, as the original reference did: one query per kind of evidence.
PG_FANOUT = {
    "streams": """SELECT stream, count(*) FILTER (WHERE NOT deleted) AS live,
       max(emitted_at) FILTER (WHERE NOT deleted) AS last_at
  FROM records WHERE connector_instance_id = %(id)s GROUP BY stream""",
    "runs": """SELECT run_id, event_type, occurred_at, status, data_json
  FROM spine_events
 WHERE source_kind = 'connector' AND source_id = %(connector)s AND run_id IS NOT NULL
   AND (connector_instance_id = %(id)s OR data_json->>'connection_id' = %(id)s
        OR data_json->'browser_surface'->>'profile_key' = %(profile)s)
 ORDER BY occurred_at DESC LIMIT 50""",
    "gaps": """SELECT status, count(*) AS n FROM connector_detail_gaps
 WHERE connector_instance_id = %(id)s GROUP BY status""",
    "attention": """SELECT attention_id, reason_code, owner_action, lifecycle
  FROM connector_attention_records
 WHERE connector_instance_id = %(id)s AND lifecycle IN ('open', 'acknowledged', 'in_progress')""",
    "schedule": """SELECT interval_seconds, enabled, consecutive_failures, next_run_at
  FROM connector_schedules WHERE connector_instance_id = %(id)s""",
}

SQLITE_PAGE = PG_PAGE.replace("%s", "?")
SQLITE_FANOUT = {
    "streams": """SELECT stream, sum(NOT deleted) AS live,
       max(CASE WHEN NOT deleted THEN emitted_at END) AS last_at
  FROM records WHERE connector_instance_id = :id GROUP BY stream""",
    "runs": """SELECT run_id, event_type, occurred_at, status, data_json
  FROM spine_events
 WHERE source_kind = 'connector' AND source_id = :connector AND run_id IS NOT NULL
   AND (connector_instance_id = :id OR json_extract(data_json, '$.connection_id') = :id
        OR json_extract(data_json, '$.browser_surface.profile_key') = :profile)
 ORDER BY occurred_at DESC LIMIT 50""",
    "gaps": """SELECT status, count(*) AS n FROM connector_detail_gaps
 WHERE connector_instance_id = :id GROUP BY status""",
    "attention": """SELECT attention_id, reason_code, owner_action, lifecycle
  FROM connector_attention_records
 WHERE connector_instance_id = :id AND lifecycle IN ('open', 'acknowledged', 'in_progress')""",
    "schedule": """SELECT interval_seconds, enabled, consecutive_failures, next_run_at
  FROM connector_schedules WHERE connector_instance_id = :id""",
}


def summaries(page: list[tuple[Any, ...]], run_one: Any) -> list[dict[str, Any]]:
    out = []
    for cid, connector, name, status, kind, _created in page:
        params = {"id": cid, "connector": connector, "profile": f"{connector}:{cid}"}
        item: dict[str, Any] = {
            "connection_id": cid,
            "display_name": name,
            "status": status,
            "source_kind": kind,
        }
        for part, rows in run_one(params):
            item[part] = rows
        streams = item["streams"]
        item["total_records"] = sum(int(r[1] or 0) for r in streams)
        item["last_record_at"] = max((r[2] for r in streams if r[2] is not None), default=None)
        out.append(item)
    return out


def pg_fanout_page(conn: Any, limit: int = 100) -> tuple[list[dict[str, Any]], int]:
    """The reference's fan-out: one page query, then five queries per connection."""
    statements = 0
    with conn.cursor() as cur:
        cur.execute(PG_PAGE, (OWNER, limit))
        statements += 1
        page = cur.fetchall()

        def run_one(params: dict[str, Any]) -> list[tuple[str, list[Any]]]:
            nonlocal statements
            parts = []
            for part, sql in PG_FANOUT.items():
                cur.execute(sql, params)
                statements += 1
                parts.append((part, cur.fetchall()))
            return parts

        return summaries(page, run_one), statements


def sqlite_fanout_page(conn: Any, limit: int = 100) -> tuple[list[dict[str, Any]], int]:
    statements = 1
    page = conn.execute(SQLITE_PAGE, (OWNER, limit)).fetchall()

    def run_one(params: dict[str, Any]) -> list[tuple[str, list[Any]]]:
        nonlocal statements
        parts = []
        for part, sql in SQLITE_FANOUT.items():
            parts.append((part, conn.execute(sql, params).fetchall()))
            statements += 1
        return parts

    return summaries(page, run_one), statements


VIEW_PAGE = """SELECT * FROM {relation}
 WHERE owner_subject_id = %s AND status <> 'draft'
 ORDER BY connector_id, created_at, connector_instance_id LIMIT %s"""


def pg_install_views(conn: Any) -> None:
    """Create the plain view and its materialized copy (bench/sql, never a migration)."""
    conn.execute((SQL_DIR / "postgres_summary_view.sql").read_text())


def pg_view_page(conn: Any, limit: int = 100, materialized: bool = False) -> tuple[list[Any], int]:
    relation = "bench_summary_mv" if materialized else "bench_summary_view"
    with conn.cursor() as cur:
        cur.execute(VIEW_PAGE.format(relation=relation), (OWNER, limit))
        return cur.fetchall(), 1


def pg_refresh_matview(conn: Any) -> None:
    conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY bench_summary_mv")


def pg_explain(conn: Any, sql: str, params: Any = None) -> str:
    rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()
    return "\n".join(r[0] for r in rows)
