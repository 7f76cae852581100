-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0021: every records INSERT groups its deltas again (0020). Pending
-- deltas stay as they are: both versions write the same kind.
CREATE OR REPLACE FUNCTION pyref_records_inserted_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pyref_record_deltas (connector_instance_id, stream, live, n, bytes, last_at)
    SELECT r.connector_instance_id, r.stream,
           count(*) FILTER (WHERE NOT r.deleted), count(*),
           coalesce(sum(octet_length(r.record_json::text)) FILTER (WHERE NOT r.deleted), 0),
           max(r.emitted_at) FILTER (WHERE NOT r.deleted)
      FROM new_rows r
     GROUP BY r.connector_instance_id, r.stream;
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
