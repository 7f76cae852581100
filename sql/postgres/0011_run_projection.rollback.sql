-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0011: the spine trigger folds runs into 0002's pyref_runs again.
-- Kept: pyref_run_facts (durable write-time facts; re-applying 0011 adds facts only for
-- the events written meanwhile, attributed as the old fold attributed their runs), and
-- the spine keeps accepting every run.* type (a CHECK could not be restored without
-- refusing rows already stored).
DROP TRIGGER IF EXISTS pyref_500_spine_insert ON spine_events;
DROP TRIGGER IF EXISTS pyref_510_instances_delete_runs ON connector_instances;
DROP FUNCTION IF EXISTS pyref_spine_inserted_v2();
DROP FUNCTION IF EXISTS pyref_instance_deleted_v2();
DROP FUNCTION IF EXISTS pyref_refresh_runs_v2(text[]);
DROP FUNCTION IF EXISTS pyref_expand_run_marks_v2();
DROP FUNCTION IF EXISTS pyref_reconcile_v3(integer, text[]);
DROP FUNCTION IF EXISTS pyref_rebuild_v2();
DROP FUNCTION IF EXISTS pyref_verify_v2();
DROP FUNCTION IF EXISTS pyref_recent_runs_v1(text);

-- pyref_refresh_evidence_v1 as 0002 and 0005 left it.
CREATE OR REPLACE FUNCTION pyref_refresh_evidence_v1(p_ids text[]) RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_n integer;
BEGIN
    INSERT INTO pyref_evidence AS e (connector_instance_id, expected_profile_key, stream_stats, latest_run, latest_successful_run, latest_settled_run, failures_since_success, stream_facts, gap_counts, schedule, open_attention,
                                 state, computed_at, revision, last_error)
SELECT s.connector_instance_id, s.expected_profile_key, s.stream_stats, s.latest_run, s.latest_successful_run, s.latest_settled_run, s.failures_since_success, s.stream_facts, s.gap_counts, s.schedule, s.open_attention, 'ok', now(), 1, NULL
  FROM pyref_evidence_source s
 WHERE s.connector_instance_id = ANY(p_ids)
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
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END
$$;
ALTER FUNCTION pyref_refresh_evidence_v1(text[]) SET plan_cache_mode = force_custom_plan;
DROP TABLE IF EXISTS pyref_dirty_runs;

-- 0002's run table, from 0011's runs.
DROP FUNCTION IF EXISTS pyref_recompute_evidence_v1(text[]);  -- returns the view's rows
DROP VIEW IF EXISTS pyref_evidence_source;
CREATE TABLE pyref_runs_rollback AS SELECT * FROM pyref_runs;
DROP TABLE pyref_runs;
CREATE TABLE IF NOT EXISTS pyref_runs (
    run_id text NOT NULL,
    connector_instance_id text NOT NULL
        REFERENCES connector_instances (connector_instance_id) ON DELETE CASCADE ON UPDATE CASCADE,
    connector_id text,
    status text NOT NULL,
    started_at timestamptz,
    completed_at timestamptz,
    first_event_at timestamptz NOT NULL,
    -- R15 order: finish time, else start time (else first sighting)
    order_at timestamptz GENERATED ALWAYS AS (coalesce(completed_at, started_at, first_event_at)) STORED,
    failure_reason text,
    terminal_reason text,
    surface_profile_key text,
    surface_status text,
    surface_wait_reason text,
    collection_facts jsonb,
    settled_seq bigint,     -- event_seq of the terminal event applied
    surface_seq bigint,
    facts_seq bigint,
    last_event_seq bigint NOT NULL,
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
  (SELECT coalesce(jsonb_agg(jsonb_build_object('stream', s.stream, 'live', s.live, 'rows', s.n, 'bytes', s.bytes, 'last_record_at', s.last_at) ORDER BY s.stream), '[]'::jsonb)
     FROM (SELECT r.stream,
                  count(*) FILTER (WHERE NOT r.deleted) AS live,
                  count(*) AS n,
                  coalesce(sum(octet_length(r.record_json::text)) FILTER (WHERE NOT r.deleted), 0) AS bytes,
                  pyref_iso(max(r.emitted_at) FILTER (WHERE NOT r.deleted)) AS last_at
             FROM records r
            WHERE r.connector_instance_id = ci.connector_instance_id
            GROUP BY r.stream ORDER BY r.stream) s) AS stream_stats,
  (SELECT jsonb_build_object('run_id', r.run_id, 'status', r.status,
  'started_at', pyref_iso(r.started_at), 'finished_at', pyref_iso(r.completed_at),
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', r.collection_facts) FROM pyref_runs r
  WHERE r.connector_instance_id = ci.connector_instance_id
  ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_run,
  (SELECT jsonb_build_object('run_id', r.run_id, 'status', r.status,
  'started_at', pyref_iso(r.started_at), 'finished_at', pyref_iso(r.completed_at),
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', r.collection_facts) FROM pyref_runs r
  WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'succeeded'
  ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_successful_run,
  (SELECT jsonb_build_object('run_id', r.run_id, 'status', r.status,
  'started_at', pyref_iso(r.started_at), 'finished_at', pyref_iso(r.completed_at),
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', r.collection_facts) FROM pyref_runs r
  WHERE r.connector_instance_id = ci.connector_instance_id AND r.settled_seq IS NOT NULL AND r.status <> 'skipped'
  ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_settled_run,
  (SELECT count(*) FROM pyref_runs r
    WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'failed'
      AND NOT EXISTS (SELECT 1 FROM pyref_runs s
                       WHERE s.connector_instance_id = r.connector_instance_id
                         AND s.status = 'succeeded' AND s.order_at >= r.order_at)) AS failures_since_success,(SELECT coalesce(jsonb_agg(f.fact ORDER BY f.stream), '[]'::jsonb)
     FROM (SELECT x.stream, x.fact
             FROM (SELECT e.value->>'stream' AS stream,
                          jsonb_build_object('stream', e.value->>'stream', 'checkpoint', e.value->>'checkpoint',
                                        'collected', e.value->'collected',
                                        'considered', e.value->'considered',
                                        'pending_detail_gaps', e.value->'pending_detail_gaps',
                                        'run_id', r.run_id) AS fact,
                          row_number() OVER (
                            PARTITION BY e.value->>'stream'
                            ORDER BY CASE WHEN e.value->>'checkpoint' = 'committed' THEN 0 ELSE 1 END,
                                     r.order_at DESC, r.run_id DESC) AS rn
                     FROM pyref_runs r, jsonb_array_elements(r.collection_facts) AS e(value)
                    WHERE r.connector_instance_id = ci.connector_instance_id
                      AND r.collection_facts IS NOT NULL
                      AND jsonb_typeof(e.value) = 'object'
                      AND e.value->>'stream' IS NOT NULL) x
            WHERE x.rn = 1 ORDER BY x.stream) f) AS stream_facts,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('stream', gc.stream, 'pending', gc.pending, 'terminal', gc.terminal) ORDER BY gc.stream), '[]'::jsonb)
     FROM (SELECT dg.stream,
                  count(*) FILTER (WHERE dg.status = 'pending') AS pending,
                  count(*) FILTER (WHERE dg.status = 'terminal') AS terminal
             FROM connector_detail_gaps dg
            WHERE dg.connector_instance_id = ci.connector_instance_id
              AND dg.status IN ('pending', 'terminal')
            GROUP BY dg.stream ORDER BY dg.stream) gc) AS gap_counts,
  (SELECT jsonb_build_object('interval_seconds', cs.interval_seconds, 'enabled', cs.enabled,
                        'consecutive_failures', cs.consecutive_failures,
                        'next_run_at', pyref_iso(cs.next_run_at))
     FROM connector_schedules cs
    WHERE cs.connector_instance_id = ci.connector_instance_id) AS schedule,
  (SELECT coalesce(jsonb_agg(jsonb_build_object('attention_id', a.attention_id, 'reason_code', a.reason_code, 'owner_action', a.owner_action, 'lifecycle', a.lifecycle, 'response_required', a.response_required, 'expires_at', a.expires_at, 'created_at', a.created_at) ORDER BY a.created_at, a.attention_id), '[]'::jsonb)
     FROM (SELECT ar.attention_id, ar.reason_code, ar.owner_action, ar.lifecycle, ar.response_required,
                  pyref_iso(ar.expires_at) AS expires_at, pyref_iso(ar.created_at) AS created_at
             FROM connector_attention_records ar
            WHERE ar.connector_instance_id = ci.connector_instance_id
              AND ar.lifecycle IN ('open', 'acknowledged', 'in_progress')
            ORDER BY ar.created_at, ar.attention_id) a) AS open_attention
FROM connector_instances ci
JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id;

CREATE OR REPLACE FUNCTION pyref_recompute_evidence_v1(p_ids text[])
RETURNS SETOF pyref_evidence_source
LANGUAGE sql STABLE AS $$
    SELECT s.* FROM pyref_evidence_source s
     WHERE s.connector_instance_id = ANY (p_ids)
       AND s.connector_instance_id IN (
           SELECT ci.connector_instance_id FROM connector_instances ci
            WHERE ci.connector_instance_id = ANY (p_ids)
              AND ci.owner_subject_id = pg_catalog.current_setting('pyref.owner', true))
$$;

-- spine_events: fold run-bearing events into pyref_runs, in log order within
-- the statement (a later event of a run inherits the attribution of an earlier
-- one in the same batch), each event attributed once, here.
CREATE OR REPLACE FUNCTION pyref_project_run_event_v1(ev spine_events) RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_cid text;
BEGIN
    v_cid := (CASE
      WHEN nullif(ev.data_json->'browser_surface'->>'profile_key', '') IS NOT NULL THEN
        (SELECT CASE WHEN count(*) = 1 THEN max(pe.connector_instance_id) END
           FROM pyref_evidence pe
          WHERE pe.expected_profile_key = ev.data_json->'browser_surface'->>'profile_key')
      WHEN coalesce(ev.connector_instance_id, ev.data_json->>'connection_id',
                    ev.data_json->>'connector_instance_id') IS NOT NULL THEN
        (SELECT xi.connector_instance_id FROM connector_instances xi
          WHERE xi.connector_instance_id = coalesce(ev.connector_instance_id,
                                                    ev.data_json->>'connection_id',
                                                    ev.data_json->>'connector_instance_id'))
      ELSE coalesce(
        (SELECT CASE WHEN count(*) = 1 THEN max(ar.connector_instance_id) END
           FROM pyref_runs ar WHERE ar.run_id = ev.run_id),
        (SELECT CASE WHEN count(*) = 1 THEN max(si.connector_instance_id) END
           FROM connector_instances si
          WHERE si.connector_id = coalesce(ev.connector_id,
                                           CASE WHEN ev.source_kind = 'connector' THEN ev.source_id END)
            AND si.status = 'active'))
    END);
    IF v_cid IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO pyref_runs (
      run_id, connector_instance_id, connector_id, status, started_at, completed_at, first_event_at,
      failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason,
      collection_facts, settled_seq, surface_seq, facts_seq, last_event_seq)
    SELECT ev.run_id, v_cid, ev.connector_id,
      CASE ev.event_type
        WHEN 'run.started' THEN coalesce(ev.status, 'running')
        WHEN 'run.completed' THEN coalesce(ev.status, 'succeeded')
        WHEN 'run.failed' THEN coalesce(ev.status, 'failed')
        WHEN 'run.cancelled' THEN coalesce(ev.status, 'cancelled')
        WHEN 'run.browser_surface_failed' THEN coalesce(ev.status, 'surface_failed')
        ELSE 'running' END,
      CASE WHEN ev.event_type = 'run.started' THEN ev.occurred_at END,
      CASE WHEN ev.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN ev.occurred_at END,
      ev.occurred_at,
      CASE WHEN ev.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN ev.data_json->>'failure_reason' END,
      CASE WHEN ev.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN ev.data_json->>'terminal_reason' END,
      ev.data_json->'browser_surface'->>'profile_key',
      ev.data_json->'browser_surface'->>'status',
      ev.data_json->'browser_surface'->>'wait_reason',
      CASE WHEN jsonb_typeof(ev.data_json->'collection_facts'->'streams') = 'array'
           THEN ev.data_json->'collection_facts'->'streams' END,
      CASE WHEN ev.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN ev.event_seq END,
      CASE WHEN jsonb_typeof(ev.data_json->'browser_surface') = 'object' THEN ev.event_seq END,
      CASE WHEN jsonb_typeof(ev.data_json->'collection_facts'->'streams') = 'array' THEN ev.event_seq END,
      ev.event_seq
    WHERE v_cid IS NOT NULL
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
    INSERT INTO pyref_dirty (connector_instance_id) VALUES (v_cid);
    RETURN v_cid;
END
$$;

CREATE OR REPLACE FUNCTION pyref_spine_inserted_v1() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    ev spine_events;
BEGIN
    FOR ev IN
        SELECT * FROM new_rows
         WHERE event_type LIKE 'run.%' AND run_id IS NOT NULL
         ORDER BY event_seq
    LOOP
        PERFORM pyref_project_run_event_v1(ev);
    END LOOP;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS pyref_500_spine_insert ON spine_events;
CREATE TRIGGER pyref_500_spine_insert AFTER INSERT ON spine_events
    REFERENCING NEW TABLE new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pyref_spine_inserted_v1();

-- Evidence back in 0002's shape (runs without known gaps).
INSERT INTO pyref_evidence AS e (connector_instance_id, expected_profile_key, stream_stats, latest_run, latest_successful_run, latest_settled_run, failures_since_success, stream_facts, gap_counts, schedule, open_attention,
                                 state, computed_at, revision, last_error)
SELECT s.connector_instance_id, s.expected_profile_key, s.stream_stats, s.latest_run, s.latest_successful_run, s.latest_settled_run, s.failures_since_success, s.stream_facts, s.gap_counts, s.schedule, s.open_attention, 'ok', now(), 1, NULL
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

-- Seal every pyref_ function (the convention in sql/templates/_dialect.sql.j2).
DO $$
DECLARE
    v_schema text := pg_catalog.current_schema();
    v_routine regprocedure;
BEGIN
    IF pg_catalog.to_regclass(pg_catalog.format('%I.pyref_evidence', v_schema)) IS NULL THEN
        RAISE EXCEPTION 'pyreference is not installed in schema "%" (the first schema on search_path)', v_schema
            USING HINT = 'migrate with the search_path pyreference was installed with';
    END IF;
    FOR v_routine IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = pg_catalog.quote_ident(v_schema)::regnamespace AND p.proname LIKE 'pyref\_%' AND p.prokind IN ('f', 'p')
           AND p.proname <> ALL (ARRAY['pyref_iso'])
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s SECURITY DEFINER SET search_path = pg_catalog, %I, pg_temp',
                                  v_routine, v_schema);
        EXECUTE pg_catalog.format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', v_routine);
    END LOOP;
END
$$;
