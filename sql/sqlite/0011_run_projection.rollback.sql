-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0011: the spine trigger folds runs into 0002's pyref_runs again.
-- Kept: pyref_run_facts (durable write-time facts; re-applying 0011 adds facts only for
-- the events written meanwhile, attributed as the old fold attributed their runs), and
-- the spine keeps accepting every run.* type (a CHECK could not be restored without
-- refusing rows already stored).
DROP TRIGGER IF EXISTS pyref_500_spine_insert;
DROP TRIGGER IF EXISTS pyref_510_instances_delete_runs;
DROP TABLE IF EXISTS pyref_dirty_runs;

-- 0002's run table, from 0011's runs.
DROP VIEW IF EXISTS pyref_evidence_source;
CREATE TABLE pyref_runs_rollback AS SELECT * FROM pyref_runs;
DROP TABLE pyref_runs;
CREATE TABLE IF NOT EXISTS pyref_runs (
    run_id text NOT NULL,
    connector_instance_id text NOT NULL
        REFERENCES connector_instances (connector_instance_id) ON DELETE CASCADE ON UPDATE CASCADE,
    connector_id text,
    status text NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    first_event_at TEXT NOT NULL,
    -- R15 order: finish time, else start time (else first sighting)
    order_at TEXT GENERATED ALWAYS AS (coalesce(completed_at, started_at, first_event_at)) STORED,
    failure_reason text,
    terminal_reason text,
    surface_profile_key text,
    surface_status text,
    surface_wait_reason text,
    collection_facts TEXT,
    settled_seq INTEGER,     -- event_seq of the terminal event applied
    surface_seq INTEGER,
    facts_seq INTEGER,
    last_event_seq INTEGER NOT NULL,
    PRIMARY KEY (run_id, connector_instance_id)
);

CREATE INDEX IF NOT EXISTS pyref_runs_instance_order_idx
    ON pyref_runs (connector_instance_id, order_at DESC, run_id DESC);
INSERT INTO pyref_runs (run_id, connector_instance_id, connector_id, status, started_at, completed_at,
                        first_event_at, failure_reason, terminal_reason, surface_profile_key, surface_status,
                        surface_wait_reason, collection_facts, settled_seq, surface_seq, facts_seq, last_event_seq)
SELECT b.run_id, b.connector_instance_id, ci.connector_id, b.status, b.started_at, b.completed_at,
       b.started_at, b.failure_reason, b.terminal_reason, b.surface_profile_key, b.surface_status,
       b.surface_wait_reason, b.collection_facts, b.settled_seq, NULL,
       CASE WHEN b.collection_facts IS NOT NULL THEN b.settled_seq END,
       coalesce((SELECT max(e.event_seq) FROM spine_events e WHERE e.run_id = b.run_id), b.settled_seq, 0)
  FROM pyref_runs_rollback b
  JOIN connector_instances ci ON ci.connector_instance_id = b.connector_instance_id;
DROP TABLE pyref_runs_rollback;

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
  'collection_facts', json(r.collection_facts)) FROM pyref_runs r
  WHERE r.connector_instance_id = ci.connector_instance_id
  ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_run,
  (SELECT json_object('run_id', r.run_id, 'status', r.status,
  'started_at', r.started_at, 'finished_at', r.completed_at,
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', json(r.collection_facts)) FROM pyref_runs r
  WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'succeeded'
  ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_successful_run,
  (SELECT json_object('run_id', r.run_id, 'status', r.status,
  'started_at', r.started_at, 'finished_at', r.completed_at,
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', json(r.collection_facts)) FROM pyref_runs r
  WHERE r.connector_instance_id = ci.connector_instance_id AND r.settled_seq IS NOT NULL AND r.status <> 'skipped'
  ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_settled_run,
  (SELECT count(*) FROM pyref_runs r
    WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'failed'
      AND NOT EXISTS (SELECT 1 FROM pyref_runs s
                       WHERE s.connector_instance_id = r.connector_instance_id
                         AND s.status = 'succeeded' AND s.order_at >= r.order_at)) AS failures_since_success,(SELECT coalesce(json_group_array(json(f.fact)), '[]')
     FROM (SELECT x.stream, x.fact
             FROM (SELECT e.value->>'stream' AS stream,
                          json_object('stream', e.value->>'stream', 'checkpoint', e.value->>'checkpoint',
                                        'collected', json(e.value->'collected'),
                                        'considered', json(e.value->'considered'),
                                        'pending_detail_gaps', json(e.value->'pending_detail_gaps'),
                                        'run_id', r.run_id) AS fact,
                          row_number() OVER (
                            PARTITION BY e.value->>'stream'
                            ORDER BY CASE WHEN e.value->>'checkpoint' = 'committed' THEN 0 ELSE 1 END,
                                     r.order_at DESC, r.run_id DESC) AS rn
                     FROM pyref_runs r, json_each(r.collection_facts) AS e
                    WHERE r.connector_instance_id = ci.connector_instance_id
                      AND r.collection_facts IS NOT NULL
                      AND e.type = 'object'
                      AND e.value->>'stream' IS NOT NULL) x
            WHERE x.rn = 1 ORDER BY x.stream) f) AS stream_facts,
  (SELECT coalesce(json_group_array(json(json_object('stream', gc.stream, 'pending', gc.pending, 'terminal', gc.terminal))), '[]')
     FROM (SELECT dg.stream,
                  count(*) FILTER (WHERE dg.status = 'pending') AS pending,
                  count(*) FILTER (WHERE dg.status = 'terminal') AS terminal
             FROM connector_detail_gaps dg
            WHERE dg.connector_instance_id = ci.connector_instance_id
              AND dg.status IN ('pending', 'terminal')
            GROUP BY dg.stream ORDER BY dg.stream) gc) AS gap_counts,
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

CREATE TRIGGER IF NOT EXISTS pyref_500_spine_insert AFTER INSERT ON spine_events
WHEN NEW.event_type LIKE 'run.%' AND NEW.run_id IS NOT NULL
BEGIN
    INSERT INTO pyref_runs (
      run_id, connector_instance_id, connector_id, status, started_at, completed_at, first_event_at,
      failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason,
      collection_facts, settled_seq, surface_seq, facts_seq, last_event_seq)
    SELECT NEW.run_id, (CASE
      WHEN nullif(NEW.data_json->'browser_surface'->>'profile_key', '') IS NOT NULL THEN
        (SELECT CASE WHEN count(*) = 1 THEN max(pe.connector_instance_id) END
           FROM pyref_evidence pe
          WHERE pe.expected_profile_key = NEW.data_json->'browser_surface'->>'profile_key')
      WHEN coalesce(NEW.connector_instance_id, NEW.data_json->>'connection_id',
                    NEW.data_json->>'connector_instance_id') IS NOT NULL THEN
        (SELECT xi.connector_instance_id FROM connector_instances xi
          WHERE xi.connector_instance_id = coalesce(NEW.connector_instance_id,
                                                    NEW.data_json->>'connection_id',
                                                    NEW.data_json->>'connector_instance_id'))
      ELSE coalesce(
        (SELECT CASE WHEN count(*) = 1 THEN max(ar.connector_instance_id) END
           FROM pyref_runs ar WHERE ar.run_id = NEW.run_id),
        (SELECT CASE WHEN count(*) = 1 THEN max(si.connector_instance_id) END
           FROM connector_instances si
          WHERE si.connector_id = coalesce(NEW.connector_id,
                                           CASE WHEN NEW.source_kind = 'connector' THEN NEW.source_id END)
            AND si.status = 'active'))
    END), NEW.connector_id,
      CASE NEW.event_type
        WHEN 'run.started' THEN coalesce(NEW.status, 'running')
        WHEN 'run.completed' THEN coalesce(NEW.status, 'succeeded')
        WHEN 'run.failed' THEN coalesce(NEW.status, 'failed')
        WHEN 'run.cancelled' THEN coalesce(NEW.status, 'cancelled')
        WHEN 'run.browser_surface_failed' THEN coalesce(NEW.status, 'surface_failed')
        ELSE 'running' END,
      CASE WHEN NEW.event_type = 'run.started' THEN NEW.occurred_at END,
      CASE WHEN NEW.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN NEW.occurred_at END,
      NEW.occurred_at,
      CASE WHEN NEW.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN NEW.data_json->>'failure_reason' END,
      CASE WHEN NEW.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN NEW.data_json->>'terminal_reason' END,
      NEW.data_json->'browser_surface'->>'profile_key',
      NEW.data_json->'browser_surface'->>'status',
      NEW.data_json->'browser_surface'->>'wait_reason',
      CASE WHEN json_type(NEW.data_json->'collection_facts'->'streams') = 'array'
           THEN json(NEW.data_json->'collection_facts'->'streams') END,
      CASE WHEN NEW.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN NEW.event_seq END,
      CASE WHEN json_type(NEW.data_json->'browser_surface') = 'object' THEN NEW.event_seq END,
      CASE WHEN json_type(NEW.data_json->'collection_facts'->'streams') = 'array' THEN NEW.event_seq END,
      NEW.event_seq
    WHERE (CASE
      WHEN nullif(NEW.data_json->'browser_surface'->>'profile_key', '') IS NOT NULL THEN
        (SELECT CASE WHEN count(*) = 1 THEN max(pe.connector_instance_id) END
           FROM pyref_evidence pe
          WHERE pe.expected_profile_key = NEW.data_json->'browser_surface'->>'profile_key')
      WHEN coalesce(NEW.connector_instance_id, NEW.data_json->>'connection_id',
                    NEW.data_json->>'connector_instance_id') IS NOT NULL THEN
        (SELECT xi.connector_instance_id FROM connector_instances xi
          WHERE xi.connector_instance_id = coalesce(NEW.connector_instance_id,
                                                    NEW.data_json->>'connection_id',
                                                    NEW.data_json->>'connector_instance_id'))
      ELSE coalesce(
        (SELECT CASE WHEN count(*) = 1 THEN max(ar.connector_instance_id) END
           FROM pyref_runs ar WHERE ar.run_id = NEW.run_id),
        (SELECT CASE WHEN count(*) = 1 THEN max(si.connector_instance_id) END
           FROM connector_instances si
          WHERE si.connector_id = coalesce(NEW.connector_id,
                                           CASE WHEN NEW.source_kind = 'connector' THEN NEW.source_id END)
            AND si.status = 'active'))
    END) IS NOT NULL
    ON CONFLICT (run_id, connector_instance_id) DO UPDATE SET
      connector_id = coalesce(pyref_runs.connector_id, excluded.connector_id),
      status = CASE
        WHEN excluded.settled_seq IS NOT NULL
          THEN CASE WHEN pyref_runs.settled_seq IS NULL OR excluded.settled_seq > pyref_runs.settled_seq
                    THEN excluded.status ELSE pyref_runs.status END
        WHEN pyref_runs.settled_seq IS NULL AND excluded.started_at IS NOT NULL THEN excluded.status
        ELSE pyref_runs.status END,
      started_at = CASE WHEN excluded.started_at IS NOT NULL
                         AND (pyref_runs.started_at IS NULL OR excluded.started_at < pyref_runs.started_at)
                        THEN excluded.started_at ELSE pyref_runs.started_at END,
      completed_at = CASE WHEN excluded.settled_seq > coalesce(pyref_runs.settled_seq, -1)
                  THEN excluded.completed_at ELSE pyref_runs.completed_at END,
      failure_reason = CASE WHEN excluded.settled_seq > coalesce(pyref_runs.settled_seq, -1)
                  THEN excluded.failure_reason ELSE pyref_runs.failure_reason END,
      terminal_reason = CASE WHEN excluded.settled_seq > coalesce(pyref_runs.settled_seq, -1)
                  THEN excluded.terminal_reason ELSE pyref_runs.terminal_reason END,
      settled_seq = CASE WHEN excluded.settled_seq > coalesce(pyref_runs.settled_seq, -1)
                         THEN excluded.settled_seq ELSE pyref_runs.settled_seq END,
      first_event_at = CASE WHEN excluded.first_event_at < pyref_runs.first_event_at
                            THEN excluded.first_event_at ELSE pyref_runs.first_event_at END,
      surface_profile_key = CASE WHEN excluded.surface_seq > coalesce(pyref_runs.surface_seq, -1)
                  THEN coalesce(excluded.surface_profile_key, pyref_runs.surface_profile_key) ELSE coalesce(pyref_runs.surface_profile_key, excluded.surface_profile_key) END,
      surface_status = CASE WHEN excluded.surface_seq > coalesce(pyref_runs.surface_seq, -1)
                  THEN coalesce(excluded.surface_status, pyref_runs.surface_status) ELSE coalesce(pyref_runs.surface_status, excluded.surface_status) END,
      surface_wait_reason = CASE WHEN excluded.surface_seq > coalesce(pyref_runs.surface_seq, -1)
                  THEN coalesce(excluded.surface_wait_reason, pyref_runs.surface_wait_reason) ELSE coalesce(pyref_runs.surface_wait_reason, excluded.surface_wait_reason) END,
      surface_seq = CASE WHEN excluded.surface_seq > coalesce(pyref_runs.surface_seq, -1)
                         THEN excluded.surface_seq ELSE pyref_runs.surface_seq END,
      collection_facts = CASE WHEN excluded.facts_seq > coalesce(pyref_runs.facts_seq, -1)
                              THEN excluded.collection_facts ELSE pyref_runs.collection_facts END,
      facts_seq = CASE WHEN excluded.facts_seq > coalesce(pyref_runs.facts_seq, -1)
                       THEN excluded.facts_seq ELSE pyref_runs.facts_seq END,
      last_event_seq = CASE WHEN excluded.last_event_seq > pyref_runs.last_event_seq
                            THEN excluded.last_event_seq ELSE pyref_runs.last_event_seq END;
    INSERT INTO pyref_dirty (connector_instance_id)
    SELECT m.id FROM (SELECT (SELECT pr.connector_instance_id FROM pyref_runs pr WHERE pr.run_id = NEW.run_id AND pr.last_event_seq = NEW.event_seq) AS id) m
     WHERE m.id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

CREATE TRIGGER IF NOT EXISTS pyref_100_spine_no_update BEFORE UPDATE ON spine_events
BEGIN
    SELECT RAISE(ABORT, 'spine_events is append-only: insert a new event instead of updating one');
END;

-- Evidence back in 0002's shape (runs without known gaps).
INSERT INTO pyref_evidence AS e (connector_instance_id, expected_profile_key, stream_stats, latest_run, latest_successful_run, latest_settled_run, failures_since_success, stream_facts, gap_counts, schedule, open_attention,
                                 state, computed_at, revision, last_error)
SELECT s.connector_instance_id, s.expected_profile_key, s.stream_stats, s.latest_run, s.latest_successful_run, s.latest_settled_run, s.failures_since_success, s.stream_facts, s.gap_counts, s.schedule, s.open_attention, 'ok', strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'), 1, NULL
  FROM pyref_evidence_source s
 WHERE true
ON CONFLICT (connector_instance_id) DO UPDATE SET
  expected_profile_key = excluded.expected_profile_key,
  stream_stats = excluded.stream_stats,
  latest_run = excluded.latest_run,
  latest_successful_run = excluded.latest_successful_run,
  latest_settled_run = excluded.latest_settled_run,
  failures_since_success = excluded.failures_since_success,
  stream_facts = excluded.stream_facts,
  gap_counts = excluded.gap_counts,
  schedule = excluded.schedule,
  open_attention = excluded.open_attention,
  state = 'ok', computed_at = excluded.computed_at, revision = e.revision + 1, last_error = NULL;
