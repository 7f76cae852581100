-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0008_input_rules
-- pyreference 0009: reconcile skips locked rows before it counts its batch (issue #13).
-- pyref_reconcile_v1 took the LIMIT oldest dirty connections first and only then skipped
-- those another transaction held: one locked row made a batch short, and two concurrent
-- reconcilers picked the same candidates, one locking them all and the other getting
-- none. pyref_reconcile_v2 locks with SKIP LOCKED *under* the LIMIT (so a batch fills up
-- with rows nobody holds and concurrent reconcilers take disjoint batches), settles only
-- connections that are still dirty once locked (a row a concurrent reconcile just settled
-- is not done twice), leaves out `p_skip` (the connections that already failed in the
-- caller's run) and returns the ids that failed. pyref_reconcile_v1 stays as it was.
-- Rows are claimed oldest mark first, not in id order: with SKIP LOCKED a claim never
-- waits, so it cannot deadlock with another claim or with rebuild's ordered lock.
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
