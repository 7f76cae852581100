-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0012_semantics
-- pyreference 0013: an append never moves a run event to or from another owner's
-- connection (review of issue #11). Events naming no connection are attributed by the
-- run projection (0011: a profile key, the run's identified connection, the connector's
-- single active connection), and a new event can move a run's earlier events too, so a
-- write helper of owner bob could put a run on alice's connection, or take hers away.
-- The helper asks this function after inserting, in the same transaction, and rolls the
-- append back (ConnectionNotFound) when it returns a run. A function (run as its owner)
-- because a least-privilege writer cannot read pyref_run_facts; it tells a writer run ids
-- it can read in spine_events anyway. Nothing is written.
CREATE OR REPLACE FUNCTION pyref_foreign_run_moves_v1(p_owner text, p_event_ids text[])
RETURNS TABLE (run_id text)
LANGUAGE sql STABLE AS $$
WITH fresh AS (
    SELECT ne.event_seq, ne.run_id FROM spine_events ne
     WHERE ne.event_id = ANY(p_event_ids) AND substr(ne.event_type, 1, 4) = 'run.' AND ne.run_id IS NOT NULL
), suspect AS (
    SELECT DISTINCT sf.run_id FROM pyref_run_facts sf
      JOIN connector_instances so ON so.connector_instance_id = sf.connector_instance_id
     WHERE sf.run_id IN (SELECT fr.run_id FROM fresh fr) AND so.owner_subject_id <> p_owner
), after_ AS (
    SELECT a.run_id, a.event_seq, a.connector_instance_id
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
                                           nullif(e.data_json->>'failure_reason', '') AS failure_reason,
                                           coalesce(nullif(e.data_json->>'terminal_reason', ''), nullif(e.data_json->>'reason', '')) AS terminal_reason,
                                           CASE WHEN jsonb_typeof(e.data_json->'collection_facts'->'streams') = 'array'
                                                THEN (e.data_json->'collection_facts'->'streams')::text END AS collection_facts,
                                           CASE WHEN jsonb_typeof(e.data_json->'known_gaps') = 'array'
                                                THEN (e.data_json->'known_gaps')::text END AS known_gaps,
                                           coalesce(nullif(e.data_json->'browser_surface'->>'browser_surface_profile_key', ''), nullif(e.data_json->'browser_surface'->>'profile_key', ''), nullif(e.data_json->>'browser_surface_profile_key', '')) AS surface_profile_key,
                                           coalesce(nullif(e.data_json->'browser_surface'->>'browser_surface_status', ''), nullif(e.data_json->'browser_surface'->>'status', ''), nullif(e.data_json->>'browser_surface_status', '')) AS surface_status,
                                           coalesce(nullif(e.data_json->'browser_surface'->>'browser_surface_wait_reason', ''), nullif(e.data_json->'browser_surface'->>'wait_reason', ''), nullif(e.data_json->>'browser_surface_wait_reason', '')) AS surface_wait_reason
                                      FROM pyref_run_facts f
                                     CROSS JOIN unnest(f.event_seqs) AS fs(value)
                                      JOIN spine_events e ON e.event_seq = fs.value
                                     WHERE f.run_id IN (SELECT sr.run_id FROM suspect sr)) u
                            WINDOW per_run AS (PARTITION BY u.run_id)) v) r
              JOIN connector_instances pci
                ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
             WHERE true) a
), before_ AS (
    SELECT b.run_id, b.event_seq, b.connector_instance_id
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
                                           nullif(e.data_json->>'failure_reason', '') AS failure_reason,
                                           coalesce(nullif(e.data_json->>'terminal_reason', ''), nullif(e.data_json->>'reason', '')) AS terminal_reason,
                                           CASE WHEN jsonb_typeof(e.data_json->'collection_facts'->'streams') = 'array'
                                                THEN (e.data_json->'collection_facts'->'streams')::text END AS collection_facts,
                                           CASE WHEN jsonb_typeof(e.data_json->'known_gaps') = 'array'
                                                THEN (e.data_json->'known_gaps')::text END AS known_gaps,
                                           coalesce(nullif(e.data_json->'browser_surface'->>'browser_surface_profile_key', ''), nullif(e.data_json->'browser_surface'->>'profile_key', ''), nullif(e.data_json->>'browser_surface_profile_key', '')) AS surface_profile_key,
                                           coalesce(nullif(e.data_json->'browser_surface'->>'browser_surface_status', ''), nullif(e.data_json->'browser_surface'->>'status', ''), nullif(e.data_json->>'browser_surface_status', '')) AS surface_status,
                                           coalesce(nullif(e.data_json->'browser_surface'->>'browser_surface_wait_reason', ''), nullif(e.data_json->'browser_surface'->>'wait_reason', ''), nullif(e.data_json->>'browser_surface_wait_reason', '')) AS surface_wait_reason
                                      FROM pyref_run_facts f
                                     CROSS JOIN unnest(f.event_seqs) AS fs(value)
                                      JOIN spine_events e ON e.event_seq = fs.value
                                     WHERE f.run_id IN (SELECT sr.run_id FROM suspect sr) AND f.event_seq NOT IN (SELECT fr.event_seq FROM fresh fr)) u
                            WINDOW per_run AS (PARTITION BY u.run_id)) v) r
              JOIN connector_instances pci
                ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
             WHERE true) b
)
SELECT m.run_id FROM after_ m JOIN connector_instances mo ON mo.connector_instance_id = m.connector_instance_id
 WHERE mo.owner_subject_id <> p_owner
   AND NOT EXISTS (SELECT 1 FROM before_ o WHERE o.event_seq = m.event_seq AND o.connector_instance_id = m.connector_instance_id)
UNION
SELECT o.run_id FROM before_ o JOIN connector_instances oo ON oo.connector_instance_id = o.connector_instance_id
 WHERE oo.owner_subject_id <> p_owner
   AND NOT EXISTS (SELECT 1 FROM after_ m WHERE m.event_seq = o.event_seq AND m.connector_instance_id = o.connector_instance_id)
$$;

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
