-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0029_marks_keep_runs
-- pyreference 0030: stream facts read alike whoever computes them, on both backends
-- (found by reviewers; both faults predate 0029). A connection's stream facts keep, per
-- stream, the newest settled run's entry, a committed or disabled entry before any other.
-- * Two entries of one run for the same stream, both committed or disabled or both
--   neither, tied, and the sort chose. A read's recompute (the stored runs merged with the
--   stale ones recomputed) and reconcile (the stored runs) ran other plans and saw them in
--   other orders: a marked row read one entry and the reconciled row the other, and
--   SQLite and Postgres could disagree. The entry the run lists last now wins. R61 says
--   nothing of a stream listed twice; this is how a run's own facts are read (in
--   `effective_facts` a later entry replaces an earlier one).
-- * A checkpoint that is no JSON string (`5`, `true`, an object) is absent, as in a run's
--   own facts. Postgres kept it as its JSON text, SQLite as its JSON value.
-- The evidence view (reconcile, rebuild, verify), the readers' recompute (Postgres) and
-- the library's recompute statement (SQLite) all decide so. Connections with such a run
-- are marked, so reads recompute them and reconcile stores them anew; no other row changes.
DROP VIEW IF EXISTS pyref_evidence_source;
CREATE VIEW pyref_evidence_source AS
SELECT
  ci.connector_instance_id,
  CASE WHEN ci.connector_instance_id = ci.connector_id THEN g.profile_base
     ELSE g.profile_base || ':' || ci.connector_instance_id END AS expected_profile_key,
  (SELECT coalesce(json_group_array(json(json_object('stream', s.stream, 'live', s.live, 'rows', s.n, 'bytes', s.bytes, 'last_record_at', s.last_at))), '[]')
     FROM (SELECT r.stream,
                  count(*) FILTER (WHERE NOT r.deleted) AS live,
                  count(*) AS n,
                  coalesce(sum(length(CAST(r.record_json AS BLOB))) FILTER (WHERE NOT r.deleted), 0) AS bytes,
                  max(r.emitted_at) FILTER (WHERE NOT r.deleted) AS last_at
             FROM records r
            WHERE r.connector_instance_id = ci.connector_instance_id
            GROUP BY r.stream ORDER BY r.stream) s) AS stream_stats,
  (SELECT json_object('run_id', r.run_id, 'status', r.status,
  'started_at', r.started_at, 'finished_at', r.completed_at,
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', json(r.collection_facts),
  'known_gaps', json(r.known_gaps)) FROM pyref_runs r
  WHERE r.connector_instance_id = ci.connector_instance_id
  ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_run,
  (SELECT json_object('run_id', r.run_id, 'status', r.status,
  'started_at', r.started_at, 'finished_at', r.completed_at,
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', json(r.collection_facts),
  'known_gaps', json(r.known_gaps)) FROM pyref_runs r
  WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'succeeded'
  ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_successful_run,
  (SELECT json_object('run_id', r.run_id, 'status', r.status,
  'started_at', r.started_at, 'finished_at', r.completed_at,
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', json(r.collection_facts),
  'known_gaps', json(r.known_gaps)) FROM pyref_runs r
  WHERE r.connector_instance_id = ci.connector_instance_id AND r.settled_seq IS NOT NULL AND r.status <> 'skipped'
  ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_settled_run,
  (SELECT count(*) FROM pyref_runs r
    WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'failed'
      AND NOT EXISTS (SELECT 1 FROM pyref_runs s
                       WHERE s.connector_instance_id = r.connector_instance_id
                         AND s.status = 'succeeded' AND s.order_at >= r.order_at)) AS failures_since_success,(SELECT coalesce(json_group_array(json(json_object('stream', x.value->>'stream', 'checkpoint', CASE WHEN json_type(x.value, '$.checkpoint') = 'text' THEN nullif(x.value->>'checkpoint', '') END, 'collected', json(x.value->'collected'), 'considered', json(x.value->'considered'), 'covered', json(x.value->'covered'), 'pending_detail_gaps', json(x.value->'pending_detail_gaps'), 'skipped', json(x.value->'skipped'), 'run_id', x.run_id, 'finished_at', x.completed_at))), '[]')
     FROM (SELECT * FROM (SELECT e.value->>'stream' AS stream, e.value, r.run_id, r.completed_at,
                  row_number() OVER (
                    PARTITION BY e.value->>'stream'
                    ORDER BY CASE WHEN e.value->>'checkpoint' IN ('committed', 'disabled') THEN 0 ELSE 1 END,
                             r.order_at DESC, r.run_id DESC, e.key DESC) AS rn
             FROM pyref_runs r, json_each(r.collection_facts) AS e
            WHERE r.connector_instance_id = ci.connector_instance_id
              AND r.collection_facts IS NOT NULL AND r.settled_seq IS NOT NULL
              -- (a CASE, so no JSON function ever reads an element that is no object)
              AND CASE WHEN e.type = 'object'
                       THEN CASE WHEN json_type(e.value, '$.stream') = 'text' THEN nullif(e.value->>'stream', '') END END IS NOT NULL) x
            WHERE x.rn = 1 ORDER BY x.stream) x) AS stream_facts,(SELECT coalesce(json_group_array(json(json_object('stream', gs.stream, 'pending', json(gs.pending), 'in_progress', gs.in_progress, 'terminal', gs.terminal))), '[]')
     FROM (SELECT dg.stream,
                  (SELECT coalesce(json_group_array(json(json_object('after', p.after, 'reason', p.reason, 'n', p.n))), '[]')
                     FROM (SELECT pg.next_attempt_after AS after, pg.reason, count(*) AS n
                             FROM connector_detail_gaps pg
                            WHERE pg.connector_instance_id = ci.connector_instance_id
                              AND pg.stream = dg.stream AND pg.status = 'pending'
                            GROUP BY pg.next_attempt_after, pg.reason
                            ORDER BY pg.next_attempt_after IS NOT NULL, pg.next_attempt_after,
                                     pg.reason IS NOT NULL, pg.reason) p) AS pending,
                  count(*) FILTER (WHERE dg.status = 'in_progress') AS in_progress,
                  count(*) FILTER (WHERE dg.status = 'terminal') AS terminal
             FROM connector_detail_gaps dg
            WHERE dg.connector_instance_id = ci.connector_instance_id
              AND dg.status IN ('pending', 'in_progress', 'terminal')
            GROUP BY dg.stream ORDER BY dg.stream) gs) AS gap_counts,
  (SELECT json_object('interval_seconds', cs.interval_seconds, 'enabled', cs.enabled,
                        'consecutive_failures', cs.consecutive_failures,
                        'next_run_at', cs.next_run_at)
     FROM connector_schedules cs
    WHERE cs.connector_instance_id = ci.connector_instance_id) AS schedule,
  (SELECT coalesce(json_group_array(json(json_object('attention_id', a.attention_id, 'reason_code', a.reason_code, 'owner_action', a.owner_action, 'lifecycle', a.lifecycle, 'response_required', a.response_required, 'expires_at', a.expires_at, 'created_at', a.created_at))), '[]')
     FROM (SELECT ar.attention_id, ar.reason_code, ar.owner_action, ar.lifecycle, ar.response_required,
                  ar.expires_at AS expires_at, ar.created_at AS created_at
             FROM connector_attention_records ar
            WHERE ar.connector_instance_id = ci.connector_instance_id
              AND ar.lifecycle IN ('open', 'acknowledged', 'in_progress')
            ORDER BY ar.created_at, ar.attention_id) a) AS open_attention
FROM connector_instances ci
JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id;

INSERT INTO pyref_dirty (connector_instance_id)
SELECT DISTINCT r.connector_instance_id FROM pyref_runs r
 WHERE r.collection_facts IS NOT NULL AND json_type(r.collection_facts) = 'array'
   AND (EXISTS (SELECT 1 FROM json_each(r.collection_facts) AS e
                 WHERE e.type = 'object'
                 GROUP BY CASE WHEN json_type(e.value, '$.stream') = 'text' THEN nullif(e.value->>'stream', '') END
                HAVING CASE WHEN json_type(e.value, '$.stream') = 'text' THEN nullif(e.value->>'stream', '') END IS NOT NULL AND count(*) > 1)
        OR EXISTS (SELECT 1 FROM json_each(r.collection_facts) AS e
                    WHERE CASE WHEN e.type = 'object'
                               THEN CASE WHEN json_type(e.value, '$.checkpoint') = 'text' THEN nullif(e.value->>'checkpoint', '') END IS NULL
                                    AND json_type(e.value->'checkpoint') <> 'null' END))
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = r.connector_instance_id);
