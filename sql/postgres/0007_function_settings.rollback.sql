-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0007: functions run as their caller again, with the search_path
-- of the session rolling back pinned (as `SET search_path FROM CURRENT` did), and
-- EXECUTE for PUBLIC. This reopens the hijack 0007 closed; roll forward soon.
CREATE OR REPLACE FUNCTION pyref_iso(ts timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

DO $$
DECLARE
    v_routine regprocedure;
BEGIN
    FOR v_routine IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = pg_catalog.quote_ident(pg_catalog.current_schema())::regnamespace AND p.proname LIKE 'pyref\_%'
           AND p.prosecdef
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s SECURITY INVOKER', v_routine);
        IF v_routine = 'pyref_spine_append_only_v1()'::regprocedure THEN
            EXECUTE pg_catalog.format('ALTER ROUTINE %s RESET search_path', v_routine);
        ELSE
            EXECUTE pg_catalog.format('ALTER ROUTINE %s SET search_path FROM CURRENT', v_routine);
        END IF;
        EXECUTE pg_catalog.format('GRANT EXECUTE ON ROUTINE %s TO PUBLIC', v_routine);
    END LOOP;
END
$$;
