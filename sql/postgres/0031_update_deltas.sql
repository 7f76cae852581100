-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0030_fact_ties
-- pyreference 0031: records changed in place leave deltas, not marks (issue #15). An
-- UPDATE of records (ingest of a record seen before with new content, a writer's own
-- UPDATE) marked its connection, and every read recomputed the row, its records recounted
-- (a page of 100 rows with one record updated each cost 14 times a clean page), until
-- reconcile came. Now a change that keeps the record's key and can be added leaves what it
-- changes in pyref_record_deltas, as an INSERT does (0020): live records and bytes, the new
-- part less the old, and the record's time, which can only raise the latest. That is a
-- change that leaves the record live at the same time or later (new content: the common
-- case), or revives a deleted one. Any other change (a live record deleted or moved back
-- in time, a key changed) marks the connection as before. A change between two deleted
-- records changes nothing counted and leaves neither. Reads, reconcile and verify take
-- these deltas as they take an INSERT's (their `n`, records, is 0). No data changes.
CREATE OR REPLACE FUNCTION pyref_records_updated_v1() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO pyref_record_deltas (connector_instance_id, stream, live, n, bytes, last_at)
    SELECT n.connector_instance_id, n.stream, sum(CASE WHEN NOT n.deleted THEN 1 ELSE 0 END - CASE WHEN NOT o.deleted THEN 1 ELSE 0 END), 0,
           sum(CASE WHEN NOT n.deleted THEN octet_length(n.record_json::text) ELSE 0 END - CASE WHEN NOT o.deleted THEN octet_length(o.record_json::text) ELSE 0 END),
           max(n.emitted_at) FILTER (WHERE NOT n.deleted)
      FROM new_rows n
      JOIN old_rows o ON o.connector_instance_id = n.connector_instance_id AND o.stream = n.stream AND o.record_key = n.record_key
     WHERE (o.record_json::text IS DISTINCT FROM n.record_json::text OR o.deleted IS DISTINCT FROM n.deleted OR o.emitted_at IS DISTINCT FROM n.emitted_at)
       AND (o.deleted OR (NOT n.deleted AND n.emitted_at >= o.emitted_at)) AND NOT (o.deleted AND n.deleted)
     GROUP BY n.connector_instance_id, n.stream;
    INSERT INTO pyref_dirty (connector_instance_id, keeps_runs)
    SELECT DISTINCT c.connector_instance_id, true FROM (
        SELECT n.connector_instance_id
          FROM new_rows n
          LEFT JOIN old_rows o ON o.connector_instance_id = n.connector_instance_id AND o.stream = n.stream AND o.record_key = n.record_key
         WHERE o.connector_instance_id IS NULL
            OR ((o.record_json::text IS DISTINCT FROM n.record_json::text OR o.deleted IS DISTINCT FROM n.deleted OR o.emitted_at IS DISTINCT FROM n.emitted_at) AND NOT (o.deleted OR (NOT n.deleted AND n.emitted_at >= o.emitted_at)))
        UNION ALL
        SELECT o.connector_instance_id
          FROM old_rows o
          LEFT JOIN new_rows n ON o.connector_instance_id = n.connector_instance_id AND o.stream = n.stream AND o.record_key = n.record_key
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
