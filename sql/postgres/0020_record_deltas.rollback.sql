-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0020: record inserts mark their connection again. The connections
-- with deltas not yet folded are marked first, so that reconcile recounts them; then the
-- functions are 0019's again and the deltas table goes.
INSERT INTO pyref_dirty (connector_instance_id)
SELECT DISTINCT connector_instance_id FROM pyref_record_deltas;

CREATE OR REPLACE FUNCTION pyref_records_inserted_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
    SELECT DISTINCT connector_instance_id FROM new_rows;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION pyref_refresh_evidence_v1(p_ids text[]) RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    v_n integer;
BEGIN
    PERFORM pyref_refresh_runs_v2(p_ids);
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

CREATE OR REPLACE FUNCTION pyref_reconcile_v2(p_limit integer, p_skip text[] DEFAULT '{}')
RETURNS TABLE (reconciled integer, failed integer, failed_ids text[])
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    v_ids text[];
    v_seqs bigint[];
    v_id text;
BEGIN
    reconciled := 0;
    failed := 0;
    failed_ids := '{}';
    -- LockRows runs below the LIMIT: a row another transaction holds is passed over
    -- before it could take a place in the batch.
    SELECT array_agg(c.connector_instance_id) INTO v_ids
      FROM (SELECT ev.connector_instance_id
              FROM (SELECT q.connector_instance_id, min(q.dirty_seq) AS first_seq
                      FROM pyref_dirty q
                     WHERE q.connector_instance_id <> ALL (coalesce(p_skip, '{}'))
                     GROUP BY q.connector_instance_id) m
              JOIN pyref_evidence ev ON ev.connector_instance_id = m.connector_instance_id
             ORDER BY CASE WHEN ev.state = 'failed' THEN 1 ELSE 0 END, m.first_seq
             LIMIT p_limit
               FOR UPDATE OF ev SKIP LOCKED) c;
    -- Read the queue again now that the rows are ours: a connection a concurrent
    -- reconcile settled after our snapshot has no mark left and is left alone.
    SELECT array_agg(DISTINCT q.connector_instance_id), array_agg(q.dirty_seq)
      INTO v_ids, v_seqs
      FROM pyref_dirty q WHERE q.connector_instance_id = ANY (v_ids);
    IF v_ids IS NULL THEN
        RETURN NEXT;
        RETURN;
    END IF;
    BEGIN
        reconciled := pyref_refresh_evidence_v1(v_ids);
        DELETE FROM pyref_dirty WHERE dirty_seq = ANY (v_seqs);
    EXCEPTION WHEN OTHERS THEN
        FOREACH v_id IN ARRAY v_ids LOOP
            BEGIN
                reconciled := reconciled + pyref_refresh_evidence_v1(ARRAY[v_id]);
                DELETE FROM pyref_dirty WHERE dirty_seq = ANY (v_seqs) AND connector_instance_id = v_id;
            EXCEPTION WHEN OTHERS THEN
                failed := failed + 1;
                failed_ids := failed_ids || v_id;
                UPDATE pyref_evidence SET state = 'failed', last_error = substr('reconcile failed (SQLSTATE ' || SQLSTATE || ')', 1, 240)
 WHERE connector_instance_id = ANY(ARRAY[v_id]);
            END;
        END LOOP;
    END;
    RETURN NEXT;
END
$$;

CREATE OR REPLACE FUNCTION pyref_verify_v2()
RETURNS TABLE (connector_instance_id text, differing text)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
WITH verify_run_drift (connector_instance_id) AS (
  SELECT dr.connector_instance_id FROM (
    SELECT * FROM (SELECT run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq FROM (SELECT m.run_id, m.connector_instance_id,
             CASE m.settle_type
               WHEN 'run.completed' THEN coalesce(nullif(m.settle_status, ''), 'succeeded')
               WHEN 'run.failed' THEN 'failed'
               WHEN 'run.cancelled' THEN 'cancelled'
               WHEN 'run.abandoned' THEN 'abandoned'
               WHEN 'run.browser_surface_failed' THEN coalesce(nullif(m.settle_status, ''), 'surface_failed')
               ELSE 'running' END AS status,
             coalesce(m.started_min, m.settled_at) AS started_at,
             m.settled_at AS completed_at,
             m.failure_reason, m.terminal_reason,
             m.surface_profile_key, m.surface_status, m.surface_wait_reason,
             (m.collection_facts)::jsonb AS collection_facts, (m.known_gaps)::jsonb AS known_gaps,
             m.settled_seq,
             coalesce(m.settled_at, m.started_min) AS order_at
        FROM (SELECT w.run_id, w.connector_instance_id,
                     min(CASE WHEN w.event_type = 'run.started' THEN w.occurred_at END) AS started_min,
                     max(CASE WHEN w.settle_rank = 1 THEN w.event_type END) AS settle_type,
                     max(CASE WHEN w.settle_rank = 1 THEN w.status END) AS settle_status,
                     max(CASE WHEN w.settle_rank = 1 THEN w.occurred_at END) AS settled_at,
                     max(CASE WHEN w.settle_rank = 1 THEN w.event_seq END) AS settled_seq,
                     max(CASE WHEN w.settle_rank = 1 THEN w.failure_reason END) AS failure_reason,
                     max(CASE WHEN w.settle_rank = 1 THEN w.terminal_reason END) AS terminal_reason,
                     max(CASE WHEN w.settle_rank = 1 THEN w.collection_facts END) AS collection_facts,
                     max(CASE WHEN w.settle_rank = 1 THEN w.known_gaps END) AS known_gaps,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_profile_key END) AS surface_profile_key,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_status END) AS surface_status,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_wait_reason END) AS surface_wait_reason,
                     max(CASE WHEN w.event_type = 'run.started' OR w.terminal = 1 THEN 1 ELSE 0 END) AS exists_
                FROM (SELECT x.*,
                             CASE WHEN x.terminal = 1 THEN row_number() OVER (
                               PARTITION BY x.run_id, x.connector_instance_id, x.terminal
                               ORDER BY x.occurred_at, x.event_seq) END AS settle_rank,
                             CASE WHEN coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NOT NULL
                                  THEN row_number() OVER (
                               PARTITION BY x.run_id, x.connector_instance_id,
                                            coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NULL
                               ORDER BY x.occurred_at DESC, x.event_seq DESC) END AS surface_rank
                        FROM (SELECT r.run_id, pci.connector_instance_id, r.event_seq, r.event_type, r.status,
                                     r.occurred_at, r.terminal, r.failure_reason, r.terminal_reason,
                                     r.collection_facts, r.known_gaps,
                                     r.surface_profile_key, r.surface_status, r.surface_wait_reason
                                FROM (SELECT v.*,
                                             CASE WHEN v.carried = 1 THEN v.cid
                                                  WHEN v.any_carried = 1 THEN CASE WHEN v.ik_min = v.ik_max THEN v.ik_cid END
                                                  ELSE CASE WHEN v.sk_min = v.sk_max THEN v.sk_cid END END AS conn,
                                             CASE WHEN v.carried = 1 THEN v.born
                                                  WHEN v.any_carried = 1 THEN CASE WHEN v.ik_min = v.ik_max THEN v.ik_born END
                                                  ELSE CASE WHEN v.sk_min = v.sk_max THEN v.sk_born END END AS conn_born
                                        FROM (SELECT u.*,
                                                     max(u.carried) OVER per_run AS any_carried,
                                                     min(CASE WHEN u.carried = 1 THEN u.key_ END) OVER per_run AS ik_min,
                                                     max(CASE WHEN u.carried = 1 THEN u.key_ END) OVER per_run AS ik_max,
                                                     min(CASE WHEN u.carried = 1 THEN u.cid END) OVER per_run AS ik_cid,
                                                     min(CASE WHEN u.carried = 1 THEN u.born END) OVER per_run AS ik_born,
                                                     min(CASE WHEN u.carried = 0 THEN u.key_ END) OVER per_run AS sk_min,
                                                     max(CASE WHEN u.carried = 0 THEN u.key_ END) OVER per_run AS sk_max,
                                                     min(CASE WHEN u.carried = 0 THEN u.cid END) OVER per_run AS sk_cid,
                                                     min(CASE WHEN u.carried = 0 THEN u.born END) OVER per_run AS sk_born
                                                FROM (SELECT f.run_id, fs.value AS event_seq,
                                                             CASE WHEN f.carried THEN 1 ELSE 0 END AS carried,
                                                             f.connector_instance_id AS cid, f.connection_created_at AS born,
                                                             f.connector_instance_id || '|' || f.connection_created_at::text AS key_,
                                                             e.event_type, e.status, e.occurred_at,
                                                             CASE WHEN e.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.abandoned', 'run.browser_surface_failed') THEN 1 ELSE 0 END AS terminal,
                                                             nullif((CASE jsonb_typeof(e.data_json->'failure_reason') WHEN 'string' THEN e.data_json->>'failure_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'failure_reason')::float8) < 9007199254740992 AND (e.data_json->'failure_reason')::float8 = trunc((e.data_json->'failure_reason')::float8)
                                                         THEN ((e.data_json->'failure_reason')::float8)::bigint::text END END), '') AS failure_reason,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'terminal_reason') WHEN 'string' THEN e.data_json->>'terminal_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'terminal_reason')::float8) < 9007199254740992 AND (e.data_json->'terminal_reason')::float8 = trunc((e.data_json->'terminal_reason')::float8)
                                                         THEN ((e.data_json->'terminal_reason')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'reason') WHEN 'string' THEN e.data_json->>'reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'reason')::float8) < 9007199254740992 AND (e.data_json->'reason')::float8 = trunc((e.data_json->'reason')::float8)
                                                         THEN ((e.data_json->'reason')::float8)::bigint::text END END), '')) AS terminal_reason,
                                                             CASE WHEN jsonb_typeof(e.data_json->'collection_facts'->'streams') = 'array'
                                                                  THEN (e.data_json->'collection_facts'->'streams')::text END AS collection_facts,
                                                             CASE WHEN jsonb_typeof(e.data_json->'known_gaps') = 'array'
                                                                  THEN (e.data_json->'known_gaps')::text END AS known_gaps,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'browser_surface_profile_key') WHEN 'string' THEN e.data_json->'browser_surface'->>'browser_surface_profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'browser_surface_profile_key')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'browser_surface_profile_key')::float8 = trunc((e.data_json->'browser_surface'->'browser_surface_profile_key')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'browser_surface_profile_key')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'profile_key') WHEN 'string' THEN e.data_json->'browser_surface'->>'profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'profile_key')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'profile_key')::float8 = trunc((e.data_json->'browser_surface'->'profile_key')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'profile_key')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface_profile_key') WHEN 'string' THEN e.data_json->>'browser_surface_profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface_profile_key')::float8) < 9007199254740992 AND (e.data_json->'browser_surface_profile_key')::float8 = trunc((e.data_json->'browser_surface_profile_key')::float8)
                                                         THEN ((e.data_json->'browser_surface_profile_key')::float8)::bigint::text END END), '')) AS surface_profile_key,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'browser_surface_status') WHEN 'string' THEN e.data_json->'browser_surface'->>'browser_surface_status'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'browser_surface_status')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'browser_surface_status')::float8 = trunc((e.data_json->'browser_surface'->'browser_surface_status')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'browser_surface_status')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'status') WHEN 'string' THEN e.data_json->'browser_surface'->>'status'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'status')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'status')::float8 = trunc((e.data_json->'browser_surface'->'status')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'status')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface_status') WHEN 'string' THEN e.data_json->>'browser_surface_status'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface_status')::float8) < 9007199254740992 AND (e.data_json->'browser_surface_status')::float8 = trunc((e.data_json->'browser_surface_status')::float8)
                                                         THEN ((e.data_json->'browser_surface_status')::float8)::bigint::text END END), '')) AS surface_status,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'browser_surface_wait_reason') WHEN 'string' THEN e.data_json->'browser_surface'->>'browser_surface_wait_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8 = trunc((e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'wait_reason') WHEN 'string' THEN e.data_json->'browser_surface'->>'wait_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'wait_reason')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'wait_reason')::float8 = trunc((e.data_json->'browser_surface'->'wait_reason')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'wait_reason')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface_wait_reason') WHEN 'string' THEN e.data_json->>'browser_surface_wait_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface_wait_reason')::float8) < 9007199254740992 AND (e.data_json->'browser_surface_wait_reason')::float8 = trunc((e.data_json->'browser_surface_wait_reason')::float8)
                                                         THEN ((e.data_json->'browser_surface_wait_reason')::float8)::bigint::text END END), '')) AS surface_wait_reason
                                                        FROM pyref_run_facts f
                                                       CROSS JOIN unnest(f.event_seqs) AS fs(value)
                                                        JOIN spine_events e ON e.event_seq = fs.value
                                                       WHERE true) u
                                              WINDOW per_run AS (PARTITION BY u.run_id)) v) r
                                JOIN connector_instances pci
                                  ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
                               WHERE true) x) w
               GROUP BY w.run_id, w.connector_instance_id) m
       WHERE m.exists_ = 1) p
                   EXCEPT SELECT run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq FROM pyref_runs) a
    UNION ALL
    SELECT * FROM (SELECT run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq FROM pyref_runs
                   EXCEPT SELECT run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq FROM (SELECT m.run_id, m.connector_instance_id,
             CASE m.settle_type
               WHEN 'run.completed' THEN coalesce(nullif(m.settle_status, ''), 'succeeded')
               WHEN 'run.failed' THEN 'failed'
               WHEN 'run.cancelled' THEN 'cancelled'
               WHEN 'run.abandoned' THEN 'abandoned'
               WHEN 'run.browser_surface_failed' THEN coalesce(nullif(m.settle_status, ''), 'surface_failed')
               ELSE 'running' END AS status,
             coalesce(m.started_min, m.settled_at) AS started_at,
             m.settled_at AS completed_at,
             m.failure_reason, m.terminal_reason,
             m.surface_profile_key, m.surface_status, m.surface_wait_reason,
             (m.collection_facts)::jsonb AS collection_facts, (m.known_gaps)::jsonb AS known_gaps,
             m.settled_seq,
             coalesce(m.settled_at, m.started_min) AS order_at
        FROM (SELECT w.run_id, w.connector_instance_id,
                     min(CASE WHEN w.event_type = 'run.started' THEN w.occurred_at END) AS started_min,
                     max(CASE WHEN w.settle_rank = 1 THEN w.event_type END) AS settle_type,
                     max(CASE WHEN w.settle_rank = 1 THEN w.status END) AS settle_status,
                     max(CASE WHEN w.settle_rank = 1 THEN w.occurred_at END) AS settled_at,
                     max(CASE WHEN w.settle_rank = 1 THEN w.event_seq END) AS settled_seq,
                     max(CASE WHEN w.settle_rank = 1 THEN w.failure_reason END) AS failure_reason,
                     max(CASE WHEN w.settle_rank = 1 THEN w.terminal_reason END) AS terminal_reason,
                     max(CASE WHEN w.settle_rank = 1 THEN w.collection_facts END) AS collection_facts,
                     max(CASE WHEN w.settle_rank = 1 THEN w.known_gaps END) AS known_gaps,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_profile_key END) AS surface_profile_key,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_status END) AS surface_status,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_wait_reason END) AS surface_wait_reason,
                     max(CASE WHEN w.event_type = 'run.started' OR w.terminal = 1 THEN 1 ELSE 0 END) AS exists_
                FROM (SELECT x.*,
                             CASE WHEN x.terminal = 1 THEN row_number() OVER (
                               PARTITION BY x.run_id, x.connector_instance_id, x.terminal
                               ORDER BY x.occurred_at, x.event_seq) END AS settle_rank,
                             CASE WHEN coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NOT NULL
                                  THEN row_number() OVER (
                               PARTITION BY x.run_id, x.connector_instance_id,
                                            coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NULL
                               ORDER BY x.occurred_at DESC, x.event_seq DESC) END AS surface_rank
                        FROM (SELECT r.run_id, pci.connector_instance_id, r.event_seq, r.event_type, r.status,
                                     r.occurred_at, r.terminal, r.failure_reason, r.terminal_reason,
                                     r.collection_facts, r.known_gaps,
                                     r.surface_profile_key, r.surface_status, r.surface_wait_reason
                                FROM (SELECT v.*,
                                             CASE WHEN v.carried = 1 THEN v.cid
                                                  WHEN v.any_carried = 1 THEN CASE WHEN v.ik_min = v.ik_max THEN v.ik_cid END
                                                  ELSE CASE WHEN v.sk_min = v.sk_max THEN v.sk_cid END END AS conn,
                                             CASE WHEN v.carried = 1 THEN v.born
                                                  WHEN v.any_carried = 1 THEN CASE WHEN v.ik_min = v.ik_max THEN v.ik_born END
                                                  ELSE CASE WHEN v.sk_min = v.sk_max THEN v.sk_born END END AS conn_born
                                        FROM (SELECT u.*,
                                                     max(u.carried) OVER per_run AS any_carried,
                                                     min(CASE WHEN u.carried = 1 THEN u.key_ END) OVER per_run AS ik_min,
                                                     max(CASE WHEN u.carried = 1 THEN u.key_ END) OVER per_run AS ik_max,
                                                     min(CASE WHEN u.carried = 1 THEN u.cid END) OVER per_run AS ik_cid,
                                                     min(CASE WHEN u.carried = 1 THEN u.born END) OVER per_run AS ik_born,
                                                     min(CASE WHEN u.carried = 0 THEN u.key_ END) OVER per_run AS sk_min,
                                                     max(CASE WHEN u.carried = 0 THEN u.key_ END) OVER per_run AS sk_max,
                                                     min(CASE WHEN u.carried = 0 THEN u.cid END) OVER per_run AS sk_cid,
                                                     min(CASE WHEN u.carried = 0 THEN u.born END) OVER per_run AS sk_born
                                                FROM (SELECT f.run_id, fs.value AS event_seq,
                                                             CASE WHEN f.carried THEN 1 ELSE 0 END AS carried,
                                                             f.connector_instance_id AS cid, f.connection_created_at AS born,
                                                             f.connector_instance_id || '|' || f.connection_created_at::text AS key_,
                                                             e.event_type, e.status, e.occurred_at,
                                                             CASE WHEN e.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.abandoned', 'run.browser_surface_failed') THEN 1 ELSE 0 END AS terminal,
                                                             nullif((CASE jsonb_typeof(e.data_json->'failure_reason') WHEN 'string' THEN e.data_json->>'failure_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'failure_reason')::float8) < 9007199254740992 AND (e.data_json->'failure_reason')::float8 = trunc((e.data_json->'failure_reason')::float8)
                                                         THEN ((e.data_json->'failure_reason')::float8)::bigint::text END END), '') AS failure_reason,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'terminal_reason') WHEN 'string' THEN e.data_json->>'terminal_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'terminal_reason')::float8) < 9007199254740992 AND (e.data_json->'terminal_reason')::float8 = trunc((e.data_json->'terminal_reason')::float8)
                                                         THEN ((e.data_json->'terminal_reason')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'reason') WHEN 'string' THEN e.data_json->>'reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'reason')::float8) < 9007199254740992 AND (e.data_json->'reason')::float8 = trunc((e.data_json->'reason')::float8)
                                                         THEN ((e.data_json->'reason')::float8)::bigint::text END END), '')) AS terminal_reason,
                                                             CASE WHEN jsonb_typeof(e.data_json->'collection_facts'->'streams') = 'array'
                                                                  THEN (e.data_json->'collection_facts'->'streams')::text END AS collection_facts,
                                                             CASE WHEN jsonb_typeof(e.data_json->'known_gaps') = 'array'
                                                                  THEN (e.data_json->'known_gaps')::text END AS known_gaps,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'browser_surface_profile_key') WHEN 'string' THEN e.data_json->'browser_surface'->>'browser_surface_profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'browser_surface_profile_key')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'browser_surface_profile_key')::float8 = trunc((e.data_json->'browser_surface'->'browser_surface_profile_key')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'browser_surface_profile_key')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'profile_key') WHEN 'string' THEN e.data_json->'browser_surface'->>'profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'profile_key')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'profile_key')::float8 = trunc((e.data_json->'browser_surface'->'profile_key')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'profile_key')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface_profile_key') WHEN 'string' THEN e.data_json->>'browser_surface_profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface_profile_key')::float8) < 9007199254740992 AND (e.data_json->'browser_surface_profile_key')::float8 = trunc((e.data_json->'browser_surface_profile_key')::float8)
                                                         THEN ((e.data_json->'browser_surface_profile_key')::float8)::bigint::text END END), '')) AS surface_profile_key,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'browser_surface_status') WHEN 'string' THEN e.data_json->'browser_surface'->>'browser_surface_status'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'browser_surface_status')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'browser_surface_status')::float8 = trunc((e.data_json->'browser_surface'->'browser_surface_status')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'browser_surface_status')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'status') WHEN 'string' THEN e.data_json->'browser_surface'->>'status'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'status')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'status')::float8 = trunc((e.data_json->'browser_surface'->'status')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'status')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface_status') WHEN 'string' THEN e.data_json->>'browser_surface_status'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface_status')::float8) < 9007199254740992 AND (e.data_json->'browser_surface_status')::float8 = trunc((e.data_json->'browser_surface_status')::float8)
                                                         THEN ((e.data_json->'browser_surface_status')::float8)::bigint::text END END), '')) AS surface_status,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'browser_surface_wait_reason') WHEN 'string' THEN e.data_json->'browser_surface'->>'browser_surface_wait_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8 = trunc((e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'wait_reason') WHEN 'string' THEN e.data_json->'browser_surface'->>'wait_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'wait_reason')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'wait_reason')::float8 = trunc((e.data_json->'browser_surface'->'wait_reason')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'wait_reason')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface_wait_reason') WHEN 'string' THEN e.data_json->>'browser_surface_wait_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface_wait_reason')::float8) < 9007199254740992 AND (e.data_json->'browser_surface_wait_reason')::float8 = trunc((e.data_json->'browser_surface_wait_reason')::float8)
                                                         THEN ((e.data_json->'browser_surface_wait_reason')::float8)::bigint::text END END), '')) AS surface_wait_reason
                                                        FROM pyref_run_facts f
                                                       CROSS JOIN unnest(f.event_seqs) AS fs(value)
                                                        JOIN spine_events e ON e.event_seq = fs.value
                                                       WHERE true) u
                                              WINDOW per_run AS (PARTITION BY u.run_id)) v) r
                                JOIN connector_instances pci
                                  ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
                               WHERE true) x) w
               GROUP BY w.run_id, w.connector_instance_id) m
       WHERE m.exists_ = 1) p) b
  ) dr
), verify_missing_facts (connector_instance_id) AS (
  SELECT mk.cid FROM (SELECT coalesce(
                           CASE WHEN k.profile_key IS NOT NULL THEN
                             (SELECT CASE WHEN count(*) = 1 THEN max(pi.connector_instance_id) END
                                FROM pyref_connector_digest pg
                                JOIN connector_instances pi ON pi.connector_id = pg.connector_id
                                 AND pi.connector_instance_id = CASE
                                       WHEN k.profile_key = pg.profile_base THEN pg.connector_id
                                       WHEN substr(k.profile_key, 1, length(pg.profile_base) + 1) = pg.profile_base || ':'
                                         THEN substr(k.profile_key, length(pg.profile_base) + 2) END
                               WHERE (pi.connector_instance_id = pi.connector_id) = (k.profile_key = pg.profile_base))
                           END,
                           CASE
                             WHEN k.profile_key IS NOT NULL AND coalesce(k.id1, k.id2, k.id3) IS NULL THEN
                               (SELECT si.connector_instance_id FROM connector_instances si
                                 WHERE si.connector_instance_id = substr(k.profile_key, length(rtrim(k.profile_key, replace(k.profile_key, ':', ''))) + 1)
                                   AND (k.connector IS NULL OR si.connector_id = k.connector))
                             WHEN coalesce(k.id1, k.id2, k.id3) IS NOT NULL THEN
                               CASE WHEN k.id1 <> coalesce(k.id2, k.id1) OR k.id1 <> coalesce(k.id3, k.id1)
                                         OR k.id2 <> coalesce(k.id3, k.id2) THEN NULL
                                    ELSE (SELECT xi.connector_instance_id FROM connector_instances xi WHERE xi.connector_instance_id = coalesce(k.id1, k.id2, k.id3)) END
                             ELSE coalesce(NULL, CASE WHEN k.connector IS NOT NULL THEN (SELECT CASE WHEN count(*) = 1 THEN max(si.connector_instance_id) END
                                  FROM (SELECT sa.connector_instance_id FROM connector_instances sa
                                         WHERE sa.connector_id = k.connector AND sa.status = 'active' LIMIT 2) si) END)
                           END) AS cid
                        FROM (SELECT ev.event_seq, ev.run_id, coalesce(nullif((CASE jsonb_typeof(ev.data_json->'browser_surface'->'browser_surface_profile_key') WHEN 'string' THEN ev.data_json->'browser_surface'->>'browser_surface_profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((ev.data_json->'browser_surface'->'browser_surface_profile_key')::float8) < 9007199254740992 AND (ev.data_json->'browser_surface'->'browser_surface_profile_key')::float8 = trunc((ev.data_json->'browser_surface'->'browser_surface_profile_key')::float8)
                                                         THEN ((ev.data_json->'browser_surface'->'browser_surface_profile_key')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(ev.data_json->'browser_surface'->'profile_key') WHEN 'string' THEN ev.data_json->'browser_surface'->>'profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((ev.data_json->'browser_surface'->'profile_key')::float8) < 9007199254740992 AND (ev.data_json->'browser_surface'->'profile_key')::float8 = trunc((ev.data_json->'browser_surface'->'profile_key')::float8)
                                                         THEN ((ev.data_json->'browser_surface'->'profile_key')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(ev.data_json->'browser_surface_profile_key') WHEN 'string' THEN ev.data_json->>'browser_surface_profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((ev.data_json->'browser_surface_profile_key')::float8) < 9007199254740992 AND (ev.data_json->'browser_surface_profile_key')::float8 = trunc((ev.data_json->'browser_surface_profile_key')::float8)
                                                         THEN ((ev.data_json->'browser_surface_profile_key')::float8)::bigint::text END END), '')) AS profile_key,
                                     nullif(ev.connector_instance_id, '') AS id1,
                                     nullif((CASE jsonb_typeof(ev.data_json->'connection_id') WHEN 'string' THEN ev.data_json->>'connection_id'
                                 WHEN 'number' THEN CASE WHEN abs((ev.data_json->'connection_id')::float8) < 9007199254740992 AND (ev.data_json->'connection_id')::float8 = trunc((ev.data_json->'connection_id')::float8)
                                                         THEN ((ev.data_json->'connection_id')::float8)::bigint::text END END), '') AS id2,
                                     nullif((CASE jsonb_typeof(ev.data_json->'connector_instance_id') WHEN 'string' THEN ev.data_json->>'connector_instance_id'
                                 WHEN 'number' THEN CASE WHEN abs((ev.data_json->'connector_instance_id')::float8) < 9007199254740992 AND (ev.data_json->'connector_instance_id')::float8 = trunc((ev.data_json->'connector_instance_id')::float8)
                                                         THEN ((ev.data_json->'connector_instance_id')::float8)::bigint::text END END), '') AS id3,
                                     coalesce(nullif(ev.connector_id, ''), nullif(CASE WHEN ev.source_kind = 'connector' THEN ev.source_id END, ''), nullif(CASE WHEN ev.data_json->'source'->>'kind' = 'connector' THEN (CASE jsonb_typeof(ev.data_json->'source'->'id') WHEN 'string' THEN ev.data_json->'source'->>'id'
                                 WHEN 'number' THEN CASE WHEN abs((ev.data_json->'source'->'id')::float8) < 9007199254740992 AND (ev.data_json->'source'->'id')::float8 = trunc((ev.data_json->'source'->'id')::float8)
                                                         THEN ((ev.data_json->'source'->'id')::float8)::bigint::text END END) END, ''), nullif((CASE jsonb_typeof(ev.data_json->'connector_id') WHEN 'string' THEN ev.data_json->>'connector_id'
                                 WHEN 'number' THEN CASE WHEN abs((ev.data_json->'connector_id')::float8) < 9007199254740992 AND (ev.data_json->'connector_id')::float8 = trunc((ev.data_json->'connector_id')::float8)
                                                         THEN ((ev.data_json->'connector_id')::float8)::bigint::text END END), '')) AS connector
                                FROM spine_events AS ev WHERE substr(ev.event_type, 1, 4) = 'run.' AND ev.run_id IS NOT NULL
                                                 AND NOT EXISTS (SELECT 1 FROM pyref_run_facts xf CROSS JOIN unnest(xf.event_seqs) AS xs(value)
                                                                  WHERE xf.run_id = ev.run_id AND xs.value = ev.event_seq)) k) mk
   WHERE mk.cid IS NOT NULL
  UNION
  SELECT mr.connector_instance_id FROM pyref_run_facts mr
   WHERE mr.connector_instance_id IS NOT NULL
     AND mr.run_id IN (SELECT ev.run_id FROM spine_events AS ev WHERE substr(ev.event_type, 1, 4) = 'run.' AND ev.run_id IS NOT NULL
                                                                   AND NOT EXISTS (SELECT 1 FROM pyref_run_facts xf CROSS JOIN unnest(xf.event_seqs) AS xs(value)
                                                                                    WHERE xf.run_id = ev.run_id AND xs.value = ev.event_seq))
)
SELECT v.connector_instance_id, v.differing FROM (
  SELECT s.connector_instance_id,
         CASE WHEN e.connector_instance_id IS NULL THEN 'missing,' ELSE '' END
         || CASE WHEN e.expected_profile_key IS DISTINCT FROM s.expected_profile_key THEN 'expected_profile_key,' ELSE '' END
         || CASE WHEN e.stream_stats::jsonb IS DISTINCT FROM s.stream_stats THEN 'stream_stats,' ELSE '' END
         || CASE WHEN e.latest_run::jsonb IS DISTINCT FROM s.latest_run THEN 'latest_run,' ELSE '' END
         || CASE WHEN e.latest_successful_run::jsonb IS DISTINCT FROM s.latest_successful_run THEN 'latest_successful_run,' ELSE '' END
         || CASE WHEN e.latest_settled_run::jsonb IS DISTINCT FROM s.latest_settled_run THEN 'latest_settled_run,' ELSE '' END
         || CASE WHEN e.failures_since_success IS DISTINCT FROM s.failures_since_success THEN 'failures_since_success,' ELSE '' END
         || CASE WHEN e.stream_facts::jsonb IS DISTINCT FROM s.stream_facts THEN 'stream_facts,' ELSE '' END
         || CASE WHEN e.gap_counts::jsonb IS DISTINCT FROM s.gap_counts THEN 'gap_counts,' ELSE '' END
         || CASE WHEN e.schedule::jsonb IS DISTINCT FROM s.schedule THEN 'schedule,' ELSE '' END
         || CASE WHEN e.open_attention::jsonb IS DISTINCT FROM s.open_attention THEN 'open_attention,' ELSE '' END
         || CASE WHEN s.connector_instance_id IN (SELECT rd.connector_instance_id FROM verify_run_drift rd) THEN 'runs,' ELSE '' END
         || CASE WHEN s.connector_instance_id IN (SELECT mf.connector_instance_id FROM verify_missing_facts mf) THEN 'run_facts,' ELSE '' END
         AS differing
    FROM pyref_evidence_source s
    LEFT JOIN pyref_evidence e ON e.connector_instance_id = s.connector_instance_id
   WHERE NOT (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = s.connector_instance_id)
 OR s.connector_instance_id IN (SELECT mf.connector_instance_id
   FROM pyref_dirty_runs rm
  CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
   JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
  WHERE mf.connector_instance_id IS NOT NULL))
) v
WHERE v.differing <> ''
ORDER BY v.connector_instance_id
$$;

CREATE OR REPLACE FUNCTION pyref_verify_v3()
RETURNS TABLE (connector_instance_id text, differing text)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
WITH verify_run_drift (connector_instance_id) AS (
  SELECT dr.connector_instance_id FROM (
    SELECT * FROM (SELECT run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq FROM (SELECT m.run_id, m.connector_instance_id,
             CASE m.settle_type
               WHEN 'run.completed' THEN coalesce(nullif(m.settle_status, ''), 'succeeded')
               WHEN 'run.failed' THEN 'failed'
               WHEN 'run.cancelled' THEN 'cancelled'
               WHEN 'run.abandoned' THEN 'abandoned'
               WHEN 'run.browser_surface_failed' THEN coalesce(nullif(m.settle_status, ''), 'surface_failed')
               ELSE 'running' END AS status,
             coalesce(m.started_min, m.settled_at) AS started_at,
             m.settled_at AS completed_at,
             m.failure_reason, m.terminal_reason,
             m.surface_profile_key, m.surface_status, m.surface_wait_reason,
             (m.collection_facts)::jsonb AS collection_facts, (m.known_gaps)::jsonb AS known_gaps,
             m.settled_seq,
             coalesce(m.settled_at, m.started_min) AS order_at
        FROM (SELECT w.run_id, w.connector_instance_id,
                     min(CASE WHEN w.event_type = 'run.started' THEN w.occurred_at END) AS started_min,
                     max(CASE WHEN w.settle_rank = 1 THEN w.event_type END) AS settle_type,
                     max(CASE WHEN w.settle_rank = 1 THEN w.status END) AS settle_status,
                     max(CASE WHEN w.settle_rank = 1 THEN w.occurred_at END) AS settled_at,
                     max(CASE WHEN w.settle_rank = 1 THEN w.event_seq END) AS settled_seq,
                     max(CASE WHEN w.settle_rank = 1 THEN w.failure_reason END) AS failure_reason,
                     max(CASE WHEN w.settle_rank = 1 THEN w.terminal_reason END) AS terminal_reason,
                     max(CASE WHEN w.settle_rank = 1 THEN w.collection_facts END) AS collection_facts,
                     max(CASE WHEN w.settle_rank = 1 THEN w.known_gaps END) AS known_gaps,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_profile_key END) AS surface_profile_key,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_status END) AS surface_status,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_wait_reason END) AS surface_wait_reason,
                     max(CASE WHEN w.event_type = 'run.started' OR w.terminal = 1 THEN 1 ELSE 0 END) AS exists_
                FROM (SELECT x.*,
                             CASE WHEN x.terminal = 1 THEN row_number() OVER (
                               PARTITION BY x.run_id, x.connector_instance_id, x.terminal
                               ORDER BY x.occurred_at, x.event_seq) END AS settle_rank,
                             CASE WHEN coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NOT NULL
                                  THEN row_number() OVER (
                               PARTITION BY x.run_id, x.connector_instance_id,
                                            coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NULL
                               ORDER BY x.occurred_at DESC, x.event_seq DESC) END AS surface_rank
                        FROM (SELECT r.run_id, pci.connector_instance_id, r.event_seq, r.event_type, r.status,
                                     r.occurred_at, r.terminal, r.failure_reason, r.terminal_reason,
                                     r.collection_facts, r.known_gaps,
                                     r.surface_profile_key, r.surface_status, r.surface_wait_reason
                                FROM (SELECT v.*,
                                             CASE WHEN v.carried = 1 THEN v.cid
                                                  WHEN v.any_carried = 1 THEN CASE WHEN v.ik_min = v.ik_max THEN v.ik_cid END
                                                  ELSE CASE WHEN v.sk_min = v.sk_max THEN v.sk_cid END END AS conn,
                                             CASE WHEN v.carried = 1 THEN v.born
                                                  WHEN v.any_carried = 1 THEN CASE WHEN v.ik_min = v.ik_max THEN v.ik_born END
                                                  ELSE CASE WHEN v.sk_min = v.sk_max THEN v.sk_born END END AS conn_born
                                        FROM (SELECT u.*,
                                                     max(u.carried) OVER per_run AS any_carried,
                                                     min(CASE WHEN u.carried = 1 THEN u.key_ END) OVER per_run AS ik_min,
                                                     max(CASE WHEN u.carried = 1 THEN u.key_ END) OVER per_run AS ik_max,
                                                     min(CASE WHEN u.carried = 1 THEN u.cid END) OVER per_run AS ik_cid,
                                                     min(CASE WHEN u.carried = 1 THEN u.born END) OVER per_run AS ik_born,
                                                     min(CASE WHEN u.carried = 0 THEN u.key_ END) OVER per_run AS sk_min,
                                                     max(CASE WHEN u.carried = 0 THEN u.key_ END) OVER per_run AS sk_max,
                                                     min(CASE WHEN u.carried = 0 THEN u.cid END) OVER per_run AS sk_cid,
                                                     min(CASE WHEN u.carried = 0 THEN u.born END) OVER per_run AS sk_born
                                                FROM (SELECT f.run_id, fs.value AS event_seq,
                                                             CASE WHEN f.carried THEN 1 ELSE 0 END AS carried,
                                                             f.connector_instance_id AS cid, f.connection_created_at AS born,
                                                             f.connector_instance_id || '|' || f.connection_created_at::text AS key_,
                                                             e.event_type, e.status, e.occurred_at,
                                                             CASE WHEN e.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.abandoned', 'run.browser_surface_failed') THEN 1 ELSE 0 END AS terminal,
                                                             nullif((CASE jsonb_typeof(e.data_json->'failure_reason') WHEN 'string' THEN e.data_json->>'failure_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'failure_reason')::float8) < 9007199254740992 AND (e.data_json->'failure_reason')::float8 = trunc((e.data_json->'failure_reason')::float8)
                                                         THEN ((e.data_json->'failure_reason')::float8)::bigint::text END END), '') AS failure_reason,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'terminal_reason') WHEN 'string' THEN e.data_json->>'terminal_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'terminal_reason')::float8) < 9007199254740992 AND (e.data_json->'terminal_reason')::float8 = trunc((e.data_json->'terminal_reason')::float8)
                                                         THEN ((e.data_json->'terminal_reason')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'reason') WHEN 'string' THEN e.data_json->>'reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'reason')::float8) < 9007199254740992 AND (e.data_json->'reason')::float8 = trunc((e.data_json->'reason')::float8)
                                                         THEN ((e.data_json->'reason')::float8)::bigint::text END END), '')) AS terminal_reason,
                                                             CASE WHEN jsonb_typeof(e.data_json->'collection_facts'->'streams') = 'array'
                                                                  THEN (e.data_json->'collection_facts'->'streams')::text END AS collection_facts,
                                                             CASE WHEN jsonb_typeof(e.data_json->'known_gaps') = 'array'
                                                                  THEN (e.data_json->'known_gaps')::text END AS known_gaps,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'browser_surface_profile_key') WHEN 'string' THEN e.data_json->'browser_surface'->>'browser_surface_profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'browser_surface_profile_key')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'browser_surface_profile_key')::float8 = trunc((e.data_json->'browser_surface'->'browser_surface_profile_key')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'browser_surface_profile_key')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'profile_key') WHEN 'string' THEN e.data_json->'browser_surface'->>'profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'profile_key')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'profile_key')::float8 = trunc((e.data_json->'browser_surface'->'profile_key')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'profile_key')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface_profile_key') WHEN 'string' THEN e.data_json->>'browser_surface_profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface_profile_key')::float8) < 9007199254740992 AND (e.data_json->'browser_surface_profile_key')::float8 = trunc((e.data_json->'browser_surface_profile_key')::float8)
                                                         THEN ((e.data_json->'browser_surface_profile_key')::float8)::bigint::text END END), '')) AS surface_profile_key,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'browser_surface_status') WHEN 'string' THEN e.data_json->'browser_surface'->>'browser_surface_status'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'browser_surface_status')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'browser_surface_status')::float8 = trunc((e.data_json->'browser_surface'->'browser_surface_status')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'browser_surface_status')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'status') WHEN 'string' THEN e.data_json->'browser_surface'->>'status'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'status')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'status')::float8 = trunc((e.data_json->'browser_surface'->'status')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'status')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface_status') WHEN 'string' THEN e.data_json->>'browser_surface_status'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface_status')::float8) < 9007199254740992 AND (e.data_json->'browser_surface_status')::float8 = trunc((e.data_json->'browser_surface_status')::float8)
                                                         THEN ((e.data_json->'browser_surface_status')::float8)::bigint::text END END), '')) AS surface_status,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'browser_surface_wait_reason') WHEN 'string' THEN e.data_json->'browser_surface'->>'browser_surface_wait_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8 = trunc((e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'wait_reason') WHEN 'string' THEN e.data_json->'browser_surface'->>'wait_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'wait_reason')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'wait_reason')::float8 = trunc((e.data_json->'browser_surface'->'wait_reason')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'wait_reason')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface_wait_reason') WHEN 'string' THEN e.data_json->>'browser_surface_wait_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface_wait_reason')::float8) < 9007199254740992 AND (e.data_json->'browser_surface_wait_reason')::float8 = trunc((e.data_json->'browser_surface_wait_reason')::float8)
                                                         THEN ((e.data_json->'browser_surface_wait_reason')::float8)::bigint::text END END), '')) AS surface_wait_reason
                                                        FROM pyref_run_facts f
                                                       CROSS JOIN unnest(f.event_seqs) AS fs(value)
                                                        JOIN spine_events e ON e.event_seq = fs.value
                                                       WHERE true) u
                                              WINDOW per_run AS (PARTITION BY u.run_id)) v) r
                                JOIN connector_instances pci
                                  ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
                               WHERE true) x) w
               GROUP BY w.run_id, w.connector_instance_id) m
       WHERE m.exists_ = 1) p
                   EXCEPT SELECT run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq FROM pyref_runs) a
    UNION ALL
    SELECT * FROM (SELECT run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq FROM pyref_runs
                   EXCEPT SELECT run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq FROM (SELECT m.run_id, m.connector_instance_id,
             CASE m.settle_type
               WHEN 'run.completed' THEN coalesce(nullif(m.settle_status, ''), 'succeeded')
               WHEN 'run.failed' THEN 'failed'
               WHEN 'run.cancelled' THEN 'cancelled'
               WHEN 'run.abandoned' THEN 'abandoned'
               WHEN 'run.browser_surface_failed' THEN coalesce(nullif(m.settle_status, ''), 'surface_failed')
               ELSE 'running' END AS status,
             coalesce(m.started_min, m.settled_at) AS started_at,
             m.settled_at AS completed_at,
             m.failure_reason, m.terminal_reason,
             m.surface_profile_key, m.surface_status, m.surface_wait_reason,
             (m.collection_facts)::jsonb AS collection_facts, (m.known_gaps)::jsonb AS known_gaps,
             m.settled_seq,
             coalesce(m.settled_at, m.started_min) AS order_at
        FROM (SELECT w.run_id, w.connector_instance_id,
                     min(CASE WHEN w.event_type = 'run.started' THEN w.occurred_at END) AS started_min,
                     max(CASE WHEN w.settle_rank = 1 THEN w.event_type END) AS settle_type,
                     max(CASE WHEN w.settle_rank = 1 THEN w.status END) AS settle_status,
                     max(CASE WHEN w.settle_rank = 1 THEN w.occurred_at END) AS settled_at,
                     max(CASE WHEN w.settle_rank = 1 THEN w.event_seq END) AS settled_seq,
                     max(CASE WHEN w.settle_rank = 1 THEN w.failure_reason END) AS failure_reason,
                     max(CASE WHEN w.settle_rank = 1 THEN w.terminal_reason END) AS terminal_reason,
                     max(CASE WHEN w.settle_rank = 1 THEN w.collection_facts END) AS collection_facts,
                     max(CASE WHEN w.settle_rank = 1 THEN w.known_gaps END) AS known_gaps,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_profile_key END) AS surface_profile_key,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_status END) AS surface_status,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_wait_reason END) AS surface_wait_reason,
                     max(CASE WHEN w.event_type = 'run.started' OR w.terminal = 1 THEN 1 ELSE 0 END) AS exists_
                FROM (SELECT x.*,
                             CASE WHEN x.terminal = 1 THEN row_number() OVER (
                               PARTITION BY x.run_id, x.connector_instance_id, x.terminal
                               ORDER BY x.occurred_at, x.event_seq) END AS settle_rank,
                             CASE WHEN coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NOT NULL
                                  THEN row_number() OVER (
                               PARTITION BY x.run_id, x.connector_instance_id,
                                            coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NULL
                               ORDER BY x.occurred_at DESC, x.event_seq DESC) END AS surface_rank
                        FROM (SELECT r.run_id, pci.connector_instance_id, r.event_seq, r.event_type, r.status,
                                     r.occurred_at, r.terminal, r.failure_reason, r.terminal_reason,
                                     r.collection_facts, r.known_gaps,
                                     r.surface_profile_key, r.surface_status, r.surface_wait_reason
                                FROM (SELECT v.*,
                                             CASE WHEN v.carried = 1 THEN v.cid
                                                  WHEN v.any_carried = 1 THEN CASE WHEN v.ik_min = v.ik_max THEN v.ik_cid END
                                                  ELSE CASE WHEN v.sk_min = v.sk_max THEN v.sk_cid END END AS conn,
                                             CASE WHEN v.carried = 1 THEN v.born
                                                  WHEN v.any_carried = 1 THEN CASE WHEN v.ik_min = v.ik_max THEN v.ik_born END
                                                  ELSE CASE WHEN v.sk_min = v.sk_max THEN v.sk_born END END AS conn_born
                                        FROM (SELECT u.*,
                                                     max(u.carried) OVER per_run AS any_carried,
                                                     min(CASE WHEN u.carried = 1 THEN u.key_ END) OVER per_run AS ik_min,
                                                     max(CASE WHEN u.carried = 1 THEN u.key_ END) OVER per_run AS ik_max,
                                                     min(CASE WHEN u.carried = 1 THEN u.cid END) OVER per_run AS ik_cid,
                                                     min(CASE WHEN u.carried = 1 THEN u.born END) OVER per_run AS ik_born,
                                                     min(CASE WHEN u.carried = 0 THEN u.key_ END) OVER per_run AS sk_min,
                                                     max(CASE WHEN u.carried = 0 THEN u.key_ END) OVER per_run AS sk_max,
                                                     min(CASE WHEN u.carried = 0 THEN u.cid END) OVER per_run AS sk_cid,
                                                     min(CASE WHEN u.carried = 0 THEN u.born END) OVER per_run AS sk_born
                                                FROM (SELECT f.run_id, fs.value AS event_seq,
                                                             CASE WHEN f.carried THEN 1 ELSE 0 END AS carried,
                                                             f.connector_instance_id AS cid, f.connection_created_at AS born,
                                                             f.connector_instance_id || '|' || f.connection_created_at::text AS key_,
                                                             e.event_type, e.status, e.occurred_at,
                                                             CASE WHEN e.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.abandoned', 'run.browser_surface_failed') THEN 1 ELSE 0 END AS terminal,
                                                             nullif((CASE jsonb_typeof(e.data_json->'failure_reason') WHEN 'string' THEN e.data_json->>'failure_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'failure_reason')::float8) < 9007199254740992 AND (e.data_json->'failure_reason')::float8 = trunc((e.data_json->'failure_reason')::float8)
                                                         THEN ((e.data_json->'failure_reason')::float8)::bigint::text END END), '') AS failure_reason,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'terminal_reason') WHEN 'string' THEN e.data_json->>'terminal_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'terminal_reason')::float8) < 9007199254740992 AND (e.data_json->'terminal_reason')::float8 = trunc((e.data_json->'terminal_reason')::float8)
                                                         THEN ((e.data_json->'terminal_reason')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'reason') WHEN 'string' THEN e.data_json->>'reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'reason')::float8) < 9007199254740992 AND (e.data_json->'reason')::float8 = trunc((e.data_json->'reason')::float8)
                                                         THEN ((e.data_json->'reason')::float8)::bigint::text END END), '')) AS terminal_reason,
                                                             CASE WHEN jsonb_typeof(e.data_json->'collection_facts'->'streams') = 'array'
                                                                  THEN (e.data_json->'collection_facts'->'streams')::text END AS collection_facts,
                                                             CASE WHEN jsonb_typeof(e.data_json->'known_gaps') = 'array'
                                                                  THEN (e.data_json->'known_gaps')::text END AS known_gaps,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'browser_surface_profile_key') WHEN 'string' THEN e.data_json->'browser_surface'->>'browser_surface_profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'browser_surface_profile_key')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'browser_surface_profile_key')::float8 = trunc((e.data_json->'browser_surface'->'browser_surface_profile_key')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'browser_surface_profile_key')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'profile_key') WHEN 'string' THEN e.data_json->'browser_surface'->>'profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'profile_key')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'profile_key')::float8 = trunc((e.data_json->'browser_surface'->'profile_key')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'profile_key')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface_profile_key') WHEN 'string' THEN e.data_json->>'browser_surface_profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface_profile_key')::float8) < 9007199254740992 AND (e.data_json->'browser_surface_profile_key')::float8 = trunc((e.data_json->'browser_surface_profile_key')::float8)
                                                         THEN ((e.data_json->'browser_surface_profile_key')::float8)::bigint::text END END), '')) AS surface_profile_key,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'browser_surface_status') WHEN 'string' THEN e.data_json->'browser_surface'->>'browser_surface_status'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'browser_surface_status')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'browser_surface_status')::float8 = trunc((e.data_json->'browser_surface'->'browser_surface_status')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'browser_surface_status')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'status') WHEN 'string' THEN e.data_json->'browser_surface'->>'status'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'status')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'status')::float8 = trunc((e.data_json->'browser_surface'->'status')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'status')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface_status') WHEN 'string' THEN e.data_json->>'browser_surface_status'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface_status')::float8) < 9007199254740992 AND (e.data_json->'browser_surface_status')::float8 = trunc((e.data_json->'browser_surface_status')::float8)
                                                         THEN ((e.data_json->'browser_surface_status')::float8)::bigint::text END END), '')) AS surface_status,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'browser_surface_wait_reason') WHEN 'string' THEN e.data_json->'browser_surface'->>'browser_surface_wait_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8 = trunc((e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'wait_reason') WHEN 'string' THEN e.data_json->'browser_surface'->>'wait_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'wait_reason')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'wait_reason')::float8 = trunc((e.data_json->'browser_surface'->'wait_reason')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'wait_reason')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface_wait_reason') WHEN 'string' THEN e.data_json->>'browser_surface_wait_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface_wait_reason')::float8) < 9007199254740992 AND (e.data_json->'browser_surface_wait_reason')::float8 = trunc((e.data_json->'browser_surface_wait_reason')::float8)
                                                         THEN ((e.data_json->'browser_surface_wait_reason')::float8)::bigint::text END END), '')) AS surface_wait_reason
                                                        FROM pyref_run_facts f
                                                       CROSS JOIN unnest(f.event_seqs) AS fs(value)
                                                        JOIN spine_events e ON e.event_seq = fs.value
                                                       WHERE true) u
                                              WINDOW per_run AS (PARTITION BY u.run_id)) v) r
                                JOIN connector_instances pci
                                  ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
                               WHERE true) x) w
               GROUP BY w.run_id, w.connector_instance_id) m
       WHERE m.exists_ = 1) p) b
  ) dr
), verify_missing_facts (connector_instance_id) AS (
  SELECT mk.cid FROM (SELECT coalesce(
                           CASE WHEN k.profile_key IS NOT NULL THEN
                             (SELECT CASE WHEN count(*) = 1 THEN max(pi.connector_instance_id) END
                                FROM pyref_connector_digest pg
                                JOIN connector_instances pi ON pi.connector_id = pg.connector_id
                                 AND pi.connector_instance_id = CASE
                                       WHEN k.profile_key = pg.profile_base THEN pg.connector_id
                                       WHEN substr(k.profile_key, 1, length(pg.profile_base) + 1) = pg.profile_base || ':'
                                         THEN substr(k.profile_key, length(pg.profile_base) + 2) END
                               WHERE (pi.connector_instance_id = pi.connector_id) = (k.profile_key = pg.profile_base))
                           END,
                           CASE
                             WHEN k.profile_key IS NOT NULL AND coalesce(k.id1, k.id2, k.id3) IS NULL THEN
                               (SELECT si.connector_instance_id FROM connector_instances si
                                 WHERE si.connector_instance_id = substr(k.profile_key, length(rtrim(k.profile_key, replace(k.profile_key, ':', ''))) + 1)
                                   AND (k.connector IS NULL OR si.connector_id = k.connector))
                             WHEN coalesce(k.id1, k.id2, k.id3) IS NOT NULL THEN
                               CASE WHEN k.id1 <> coalesce(k.id2, k.id1) OR k.id1 <> coalesce(k.id3, k.id1)
                                         OR k.id2 <> coalesce(k.id3, k.id2) THEN NULL
                                    ELSE (SELECT xi.connector_instance_id FROM connector_instances xi WHERE xi.connector_instance_id = coalesce(k.id1, k.id2, k.id3)) END
                             ELSE coalesce(NULL, CASE WHEN k.connector IS NOT NULL THEN (SELECT CASE WHEN count(*) = 1 THEN max(si.connector_instance_id) END
                                  FROM (SELECT sa.connector_instance_id FROM connector_instances sa
                                         WHERE sa.connector_id = k.connector AND sa.status = 'active' LIMIT 2) si) END)
                           END) AS cid
                        FROM (SELECT ev.event_seq, ev.run_id, coalesce(nullif((CASE jsonb_typeof(ev.data_json->'browser_surface'->'browser_surface_profile_key') WHEN 'string' THEN ev.data_json->'browser_surface'->>'browser_surface_profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((ev.data_json->'browser_surface'->'browser_surface_profile_key')::float8) < 9007199254740992 AND (ev.data_json->'browser_surface'->'browser_surface_profile_key')::float8 = trunc((ev.data_json->'browser_surface'->'browser_surface_profile_key')::float8)
                                                         THEN ((ev.data_json->'browser_surface'->'browser_surface_profile_key')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(ev.data_json->'browser_surface'->'profile_key') WHEN 'string' THEN ev.data_json->'browser_surface'->>'profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((ev.data_json->'browser_surface'->'profile_key')::float8) < 9007199254740992 AND (ev.data_json->'browser_surface'->'profile_key')::float8 = trunc((ev.data_json->'browser_surface'->'profile_key')::float8)
                                                         THEN ((ev.data_json->'browser_surface'->'profile_key')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(ev.data_json->'browser_surface_profile_key') WHEN 'string' THEN ev.data_json->>'browser_surface_profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((ev.data_json->'browser_surface_profile_key')::float8) < 9007199254740992 AND (ev.data_json->'browser_surface_profile_key')::float8 = trunc((ev.data_json->'browser_surface_profile_key')::float8)
                                                         THEN ((ev.data_json->'browser_surface_profile_key')::float8)::bigint::text END END), '')) AS profile_key,
                                     nullif(ev.connector_instance_id, '') AS id1,
                                     nullif((CASE jsonb_typeof(ev.data_json->'connection_id') WHEN 'string' THEN ev.data_json->>'connection_id'
                                 WHEN 'number' THEN CASE WHEN abs((ev.data_json->'connection_id')::float8) < 9007199254740992 AND (ev.data_json->'connection_id')::float8 = trunc((ev.data_json->'connection_id')::float8)
                                                         THEN ((ev.data_json->'connection_id')::float8)::bigint::text END END), '') AS id2,
                                     nullif((CASE jsonb_typeof(ev.data_json->'connector_instance_id') WHEN 'string' THEN ev.data_json->>'connector_instance_id'
                                 WHEN 'number' THEN CASE WHEN abs((ev.data_json->'connector_instance_id')::float8) < 9007199254740992 AND (ev.data_json->'connector_instance_id')::float8 = trunc((ev.data_json->'connector_instance_id')::float8)
                                                         THEN ((ev.data_json->'connector_instance_id')::float8)::bigint::text END END), '') AS id3,
                                     coalesce(nullif(ev.connector_id, ''), nullif(CASE WHEN ev.source_kind = 'connector' THEN ev.source_id END, ''), nullif(CASE WHEN ev.data_json->'source'->>'kind' = 'connector' THEN (CASE jsonb_typeof(ev.data_json->'source'->'id') WHEN 'string' THEN ev.data_json->'source'->>'id'
                                 WHEN 'number' THEN CASE WHEN abs((ev.data_json->'source'->'id')::float8) < 9007199254740992 AND (ev.data_json->'source'->'id')::float8 = trunc((ev.data_json->'source'->'id')::float8)
                                                         THEN ((ev.data_json->'source'->'id')::float8)::bigint::text END END) END, ''), nullif((CASE jsonb_typeof(ev.data_json->'connector_id') WHEN 'string' THEN ev.data_json->>'connector_id'
                                 WHEN 'number' THEN CASE WHEN abs((ev.data_json->'connector_id')::float8) < 9007199254740992 AND (ev.data_json->'connector_id')::float8 = trunc((ev.data_json->'connector_id')::float8)
                                                         THEN ((ev.data_json->'connector_id')::float8)::bigint::text END END), '')) AS connector
                                FROM spine_events AS ev WHERE substr(ev.event_type, 1, 4) = 'run.' AND ev.run_id IS NOT NULL
                                                 AND NOT EXISTS (SELECT 1 FROM pyref_run_facts xf CROSS JOIN unnest(xf.event_seqs) AS xs(value)
                                                                  WHERE xf.run_id = ev.run_id AND xs.value = ev.event_seq)) k) mk
   WHERE mk.cid IS NOT NULL
  UNION
  SELECT mr.connector_instance_id FROM pyref_run_facts mr
   WHERE mr.connector_instance_id IS NOT NULL
     AND mr.run_id IN (SELECT ev.run_id FROM spine_events AS ev WHERE substr(ev.event_type, 1, 4) = 'run.' AND ev.run_id IS NOT NULL
                                                                   AND NOT EXISTS (SELECT 1 FROM pyref_run_facts xf CROSS JOIN unnest(xf.event_seqs) AS xs(value)
                                                                                    WHERE xf.run_id = ev.run_id AND xs.value = ev.event_seq))
), vs AS (
  SELECT v.connector_instance_id, v.differing FROM (
    SELECT s.connector_instance_id,
           CASE WHEN e.connector_instance_id IS NULL THEN 'missing,' ELSE '' END
           || CASE WHEN e.expected_profile_key IS DISTINCT FROM s.expected_profile_key THEN 'expected_profile_key,' ELSE '' END
           || CASE WHEN e.stream_stats::jsonb IS DISTINCT FROM s.stream_stats THEN 'stream_stats,' ELSE '' END
           || CASE WHEN e.latest_run::jsonb IS DISTINCT FROM s.latest_run THEN 'latest_run,' ELSE '' END
           || CASE WHEN e.latest_successful_run::jsonb IS DISTINCT FROM s.latest_successful_run THEN 'latest_successful_run,' ELSE '' END
           || CASE WHEN e.latest_settled_run::jsonb IS DISTINCT FROM s.latest_settled_run THEN 'latest_settled_run,' ELSE '' END
           || CASE WHEN e.failures_since_success IS DISTINCT FROM s.failures_since_success THEN 'failures_since_success,' ELSE '' END
           || CASE WHEN e.stream_facts::jsonb IS DISTINCT FROM s.stream_facts THEN 'stream_facts,' ELSE '' END
           || CASE WHEN e.gap_counts::jsonb IS DISTINCT FROM s.gap_counts THEN 'gap_counts,' ELSE '' END
           || CASE WHEN e.schedule::jsonb IS DISTINCT FROM s.schedule THEN 'schedule,' ELSE '' END
           || CASE WHEN e.open_attention::jsonb IS DISTINCT FROM s.open_attention THEN 'open_attention,' ELSE '' END
           || CASE WHEN s.connector_instance_id IN (SELECT rd.connector_instance_id FROM verify_run_drift rd) THEN 'runs,' ELSE '' END
           || CASE WHEN s.connector_instance_id IN (SELECT mf.connector_instance_id FROM verify_missing_facts mf) THEN 'run_facts,' ELSE '' END
           AS differing
      FROM pyref_evidence_source s
      LEFT JOIN pyref_evidence e ON e.connector_instance_id = s.connector_instance_id
     WHERE NOT (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = s.connector_instance_id)
   OR s.connector_instance_id IN (SELECT mf.connector_instance_id
     FROM pyref_dirty_runs rm
    CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
     JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
    WHERE mf.connector_instance_id IS NOT NULL))
  ) v
  WHERE v.differing <> ''
  ORDER BY v.connector_instance_id
), dd AS (
  SELECT dv.connector_id, dv.differing FROM (
    SELECT r.connector_id,
           CASE WHEN g.connector_id IS NULL THEN 'digest,' ELSE ''
           || CASE WHEN g.display_name IS DISTINCT FROM r.display_name THEN 'digest.display_name,' ELSE '' END
           || CASE WHEN g.refresh_policy::jsonb IS DISTINCT FROM r.refresh_policy THEN 'digest.refresh_policy,' ELSE '' END
           || CASE WHEN g.profile_base IS DISTINCT FROM r.profile_base THEN 'digest.profile_base,' ELSE '' END
           || CASE WHEN g.connector_display_name IS DISTINCT FROM r.connector_display_name THEN 'digest.connector_display_name,' ELSE '' END
           || CASE WHEN g.manifest_version IS DISTINCT FROM r.manifest_version THEN 'digest.manifest_version,' ELSE '' END
           || CASE WHEN g.browser_required IS DISTINCT FROM r.browser_required THEN 'digest.browser_required,' ELSE '' END
           || CASE WHEN g.declarations::jsonb IS DISTINCT FROM r.declarations THEN 'digest.declarations,' ELSE '' END
           END AS differing
      FROM (SELECT c.connector_id,
                   c.manifest->>'display_name' AS display_name,
                   c.manifest->'capabilities'->'refresh_policy' AS refresh_policy,
                   coalesce(nullif(c.manifest->'capabilities'->'browser_surface'->>'profile_key', ''), c.connector_id) AS profile_base,
                   CASE WHEN jsonb_typeof(c.manifest->'display_name') = 'string' THEN nullif(c.manifest->>'display_name', '') END AS connector_display_name,
                   CASE WHEN jsonb_typeof(c.manifest->'version') = 'string' THEN nullif(c.manifest->>'version', '') END AS manifest_version,
                   coalesce(c.manifest #> '{runtime_requirements,bindings,browser,required}' = 'true'::jsonb, false) AS browser_required,
                   CASE WHEN jsonb_typeof(c.manifest->'streams') = 'array' THEN (SELECT coalesce(jsonb_agg(jsonb_build_object('name', CASE WHEN jsonb_typeof(st.value->'name') = 'string' THEN st.value->>'name' END, 'required', st.value->'required', 'coverage_strategy', st.value->'coverage_strategy', 'freshness_strategy', st.value->'freshness_strategy', 'coverage_policy', st.value->'coverage_policy')
                                       ORDER BY st.ord), '[]'::jsonb)
               FROM jsonb_array_elements(c.manifest->'streams') WITH ORDINALITY AS st(value, ord)
              WHERE jsonb_typeof(st.value) = 'object') END AS declarations
              FROM connectors c) r
      LEFT JOIN pyref_connector_digest g ON g.connector_id = r.connector_id
  ) dv
  WHERE dv.differing <> ''
)
SELECT ci.connector_instance_id, coalesce(vs.differing, '') || coalesce(dd.differing, '') AS differing
  FROM connector_instances ci
  LEFT JOIN vs ON vs.connector_instance_id = ci.connector_instance_id
  LEFT JOIN dd ON dd.connector_id = ci.connector_id
 WHERE vs.connector_instance_id IS NOT NULL OR dd.connector_id IS NOT NULL
 ORDER BY ci.connector_instance_id
$$;

DROP TRIGGER IF EXISTS pyref_530_instances_deltas ON connector_instances;
DROP FUNCTION IF EXISTS pyref_instance_deltas_v1();
DROP TABLE IF EXISTS pyref_record_deltas;

-- Seal every pyref_ function (the convention in sql/templates/_dialect.sql.j2), JIT off.
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
        EXECUTE pg_catalog.format('ALTER ROUTINE %s SECURITY DEFINER SET search_path = pg_catalog, %I, pg_temp SET jit = off',
                                  v_routine, v_schema);
        EXECUTE pg_catalog.format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', v_routine);
    END LOOP;
END
$$;
