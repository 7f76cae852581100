-- Bench-only baseline (never a migration): one view aggregating the canonical
-- tables on every read, in the usual "GROUP BY then join" shape, and a
-- materialized copy of it refreshed after writes. Run attribution mirrors R3
-- well enough for a cost comparison: explicit id, else the id embedded in the
-- browser-surface profile key.

DROP MATERIALIZED VIEW IF EXISTS bench_summary_mv;
DROP VIEW IF EXISTS bench_summary_view;

CREATE VIEW bench_summary_view AS
WITH rec AS (
    SELECT s.connector_instance_id,
           jsonb_object_agg(s.stream, s.live) AS stream_counts,
           sum(s.live) AS total_records,
           max(s.last_at) AS last_record_at
      FROM (SELECT r.connector_instance_id, r.stream,
                   count(*) FILTER (WHERE NOT r.deleted) AS live,
                   max(r.emitted_at) FILTER (WHERE NOT r.deleted) AS last_at
              FROM records r
             GROUP BY r.connector_instance_id, r.stream) s
     GROUP BY s.connector_instance_id
),
ev AS (
    SELECT coalesce(e.connector_instance_id, e.data_json->>'connection_id',
                    e.data_json->>'connector_instance_id',
                    nullif(split_part(e.data_json->'browser_surface'->>'profile_key', ':', 2), '')
           ) AS cid,
           e.run_id, e.event_type, e.occurred_at, e.data_json->>'failure_reason' AS failure_reason
      FROM spine_events e
     WHERE e.event_type LIKE 'run.%' AND e.run_id IS NOT NULL
),
last_run AS (
    SELECT DISTINCT ON (ev.cid) ev.cid, ev.run_id, ev.event_type, ev.occurred_at, ev.failure_reason
      FROM ev WHERE ev.cid IS NOT NULL
     ORDER BY ev.cid, ev.occurred_at DESC, ev.run_id DESC
),
last_ok AS (
    SELECT ev.cid, max(ev.occurred_at) AS at FROM ev
     WHERE ev.event_type = 'run.completed' AND ev.cid IS NOT NULL GROUP BY ev.cid
),
gaps AS (
    SELECT g.connector_instance_id,
           count(*) FILTER (WHERE g.status = 'pending') AS pending,
           count(*) FILTER (WHERE g.status = 'terminal') AS terminal
      FROM connector_detail_gaps g GROUP BY g.connector_instance_id
),
att AS (
    SELECT a.connector_instance_id, count(*) AS open_attention
      FROM connector_attention_records a
     WHERE a.lifecycle IN ('open', 'acknowledged', 'in_progress')
     GROUP BY a.connector_instance_id
)
SELECT ci.connector_instance_id, ci.owner_subject_id, ci.connector_id, ci.display_name,
       ci.status, ci.source_kind, ci.created_at,
       coalesce(rec.stream_counts, '{}'::jsonb) AS stream_counts,
       coalesce(rec.total_records, 0) AS total_records,
       rec.last_record_at,
       lr.run_id AS last_run_id, lr.event_type AS last_run_type, lr.occurred_at AS last_run_at,
       lr.failure_reason AS last_failure_reason,
       lo.at AS last_success_at,
       coalesce(gaps.pending, 0) AS pending_gaps, coalesce(gaps.terminal, 0) AS terminal_gaps,
       coalesce(att.open_attention, 0) AS open_attention,
       cs.enabled AS schedule_enabled, cs.interval_seconds
  FROM connector_instances ci
  LEFT JOIN rec ON rec.connector_instance_id = ci.connector_instance_id
  LEFT JOIN last_run lr ON lr.cid = ci.connector_instance_id
  LEFT JOIN last_ok lo ON lo.cid = ci.connector_instance_id
  LEFT JOIN gaps ON gaps.connector_instance_id = ci.connector_instance_id
  LEFT JOIN att ON att.connector_instance_id = ci.connector_instance_id
  LEFT JOIN connector_schedules cs ON cs.connector_instance_id = ci.connector_instance_id;

CREATE MATERIALIZED VIEW bench_summary_mv AS SELECT * FROM bench_summary_view;
-- REFRESH ... CONCURRENTLY needs a unique index; the second serves the list order.
CREATE UNIQUE INDEX bench_summary_mv_id_idx ON bench_summary_mv (connector_instance_id);
CREATE INDEX bench_summary_mv_list_idx
    ON bench_summary_mv (owner_subject_id, connector_id COLLATE "C", created_at,
        connector_instance_id COLLATE "C");
