-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0010: drops the reader functions and the owner policies and
-- turns row-level security off again. Grants made by `pyreference grants` stay.
DO $$
DECLARE
    v_table text;
    v_policy text;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['connector_instances', 'connector_detail_gaps', 'connector_attention_records', 'pyref_evidence', 'pyref_runs', 'pyref_dirty'] LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', v_table);
        FOR v_policy IN SELECT p.policyname FROM pg_catalog.pg_policies p
                         WHERE p.schemaname = pg_catalog.current_schema() AND p.tablename = v_table
                           AND p.policyname LIKE 'pyref\_%'
        LOOP
            EXECUTE pg_catalog.format('DROP POLICY %I ON %I', v_policy, v_table);
        END LOOP;
    END LOOP;
END
$$;
DROP FUNCTION IF EXISTS pyref_recompute_evidence_v1(text[]);
DROP FUNCTION IF EXISTS pyref_cursor_key_v1();
