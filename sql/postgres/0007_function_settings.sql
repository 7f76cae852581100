-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0006_iso_inline
-- pyreference 0007: no role can turn maintenance against the database (issue #11).
-- Until now every function pinned `SET search_path FROM CURRENT`, i.e. the migrating
-- session's `"$user", public`: any role allowed to create a schema named like the role
-- that runs maintenance could plant a pyref_ function there and have it run by that role,
-- and a writer's temp table named pyref_dirty swallowed the trigger's marks. Every
-- function is now sealed (see the convention in sql/templates/_dialect.sql.j2):
-- search_path = pg_catalog, <install schema>, pg_temp; SECURITY DEFINER; no EXECUTE for PUBLIC.
-- The one pure helper stays inlinable (no SET clause) and names only pg_catalog functions.
CREATE OR REPLACE FUNCTION pyref_iso(ts timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
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
