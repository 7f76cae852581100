-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0017_watch_every_column
-- pyreference 0018: maintenance stays linear on large fleets (issue #15).
-- * No pyreference function is JIT-compiled. Postgres JIT-compiles a plan on every
--   execution whose estimated cost passes jit_above_cost (100,000 by default; it optimizes
--   and inlines past 500,000). The evidence and run projections are hundreds of
--   expressions whose estimates pass those thresholds on large fleets while they run in
--   milliseconds: at 10,000 connections (100 records, 10 runs each) each reconcile batch
--   spent ~2 s compiling its evidence statement. 0016 had turned JIT off for three read
--   and run functions; every sealed function now runs with `SET jit = off` (the
--   convention in sql/templates/_dialect.sql.j2: later migrations seal with
--   `seal_functions(2)`).
-- * pyref_refresh_runs_v2 merges stale runs 1000 connections at a time. Its statements
--   test "this pair is stale, or this whole connection is" as two IN lists joined by OR,
--   which Postgres evaluates by hashing each list only while the list fits in hash memory
--   (work_mem x hash_mem_multiplier): past ~100,000 claimed pairs (one batch over 10,000
--   connections after a bulk load, e.g. `pyref_reconcile_v3(NULL)`) it scanned the list for
--   every run row, and settling such a load took over 12 minutes instead of ~15 s.
-- Recompute the given connections' stale runs and keep their other stored runs, 1000
-- connections at a time: a run's recomputation reads all of the run's facts whichever
-- pairs are claimed with it, so the passes write what one pass would. Each pass claims
-- its pairs first: a pair committed after that stays for the next reconcile (its
-- connection's dirty mark does too).
CREATE OR REPLACE FUNCTION pyref_refresh_runs_v2(p_ids text[]) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    v_ids text[] := ARRAY(SELECT DISTINCT i FROM unnest(p_ids) AS u(i));
    v_chunk text[];
    v_cids text[];
    v_runs text[];
    v_from integer;
BEGIN
    FOR v_from IN 1 .. coalesce(cardinality(v_ids), 0) BY 1000 LOOP
        v_chunk := v_ids[v_from : v_from + 999];
        WITH claimed AS (
            DELETE FROM pyref_stale_runs s WHERE s.connector_instance_id = ANY (v_chunk)
            RETURNING s.connector_instance_id, s.run_id
        )
        SELECT array_agg(c.connector_instance_id), array_agg(c.run_id) INTO v_cids, v_runs FROM claimed c;
        CONTINUE WHEN v_cids IS NULL;
        DELETE FROM pyref_runs
         WHERE ((pyref_runs.connector_instance_id, pyref_runs.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM (SELECT * FROM unnest(v_cids, v_runs) AS cu(connector_instance_id, run_id)) sh WHERE sh.run_id IS NOT NULL)
         OR pyref_runs.connector_instance_id IN (SELECT sw.connector_instance_id FROM (SELECT * FROM unnest(v_cids, v_runs) AS cu(connector_instance_id, run_id)) sw WHERE sw.run_id IS NULL));
        INSERT INTO pyref_runs (run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq)
        SELECT run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq
          FROM (SELECT m.run_id, m.connector_instance_id,
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
                                                                 WHERE f.run_id IN (SELECT sr.run_id FROM (SELECT * FROM unnest(v_cids, v_runs) AS cu(connector_instance_id, run_id)) sr WHERE sr.run_id IS NOT NULL
                                                     UNION
                                                     SELECT nf.run_id FROM pyref_run_facts nf
                                                       JOIN (SELECT * FROM unnest(v_cids, v_runs) AS cu(connector_instance_id, run_id)) sa ON sa.run_id IS NULL AND nf.connector_instance_id = sa.connector_instance_id)) u
                                                        WINDOW per_run AS (PARTITION BY u.run_id)) v) r
                                          JOIN connector_instances pci
                                            ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
                                         WHERE (true) AND ((pci.connector_instance_id, r.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM (SELECT * FROM unnest(v_cids, v_runs) AS cu(connector_instance_id, run_id)) sh WHERE sh.run_id IS NOT NULL)
                                         OR pci.connector_instance_id IN (SELECT sw.connector_instance_id FROM (SELECT * FROM unnest(v_cids, v_runs) AS cu(connector_instance_id, run_id)) sw WHERE sw.run_id IS NULL))) x) w
                         GROUP BY w.run_id, w.connector_instance_id) m
                 WHERE m.exists_ = 1) p;
    END LOOP;
END
$$;

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
