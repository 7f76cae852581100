-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0031: every changed record marks its connection again (0029's
-- records UPDATE trigger; on SQLite 0003's). Pending deltas stay: both versions read them.
CREATE OR REPLACE FUNCTION pyref_records_updated_v1() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    -- Only rows whose evidence-relevant columns changed mark their connection.
    INSERT INTO pyref_dirty (connector_instance_id, keeps_runs)
    SELECT DISTINCT c.connector_instance_id, true FROM (
        SELECT n.connector_instance_id
          FROM new_rows n
          LEFT JOIN old_rows o ON o.connector_instance_id = n.connector_instance_id
                              AND o.stream = n.stream AND o.record_key = n.record_key
         WHERE o.connector_instance_id IS NULL
            OR o.record_json::text IS DISTINCT FROM n.record_json::text
            OR o.deleted IS DISTINCT FROM n.deleted
            OR o.emitted_at IS DISTINCT FROM n.emitted_at
        UNION ALL
        SELECT o.connector_instance_id
          FROM old_rows o
          LEFT JOIN new_rows n ON o.connector_instance_id = n.connector_instance_id
                              AND o.stream = n.stream AND o.record_key = n.record_key
         WHERE n.connector_instance_id IS NULL
    ) c;
    RETURN NULL;
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
