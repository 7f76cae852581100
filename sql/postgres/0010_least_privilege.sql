-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0009_reconcile_skip_locked
-- pyreference 0010: what least-privilege roles need (issue #11; `pyreference grants`).
-- * Readers never see the cursor secret: a page reads a key derived from it for the
--   owner its transaction names (`pyref.owner`, set with set_config(..., true)).
-- * Readers recompute dirty rows through a function, never through the view (which
--   reads canonical tables with its owner's rights): only the named owner's rows.
-- * The pyref_* tables, view and sequence accept writes from their owner alone.
-- * Row-level security by owner is prepared but OFF: `pyreference grants --confine-readers`
--   turns it on. Until then these policies change nothing; afterwards every role keeps
--   what its grants allow (the permissive policy) except readers, whose restrictive
--   policies show only the owner named by `pyref.owner` (none when unset: fail closed).
REVOKE ALL ON TABLE pyref_meta, pyref_connector_digest, pyref_evidence, pyref_runs, pyref_dirty,
    pyref_evidence_source FROM PUBLIC;
REVOKE ALL ON SEQUENCE pyref_dirty_dirty_seq_seq FROM PUBLIC;

-- The key that signs one owner's page cursors; NULL unless the transaction names an owner.
CREATE OR REPLACE FUNCTION pyref_cursor_key_v1() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(m.value || ':' || o.owner, 'UTF8')), 'hex')
      FROM pyref_meta m, (SELECT pg_catalog.current_setting('pyref.owner', true) AS owner) o
     WHERE m.key = 'cursor_secret' AND o.owner <> ''
$$;

-- R6 for readers: the given connections' evidence recomputed from the canonical tables,
-- for the owner the transaction names only. Nothing is written.
CREATE OR REPLACE FUNCTION pyref_recompute_evidence_v1(p_ids text[])
RETURNS SETOF pyref_evidence_source
LANGUAGE sql STABLE AS $$
    SELECT s.* FROM pyref_evidence_source s
     WHERE s.connector_instance_id = ANY (p_ids)
       AND s.connector_instance_id IN (
           SELECT ci.connector_instance_id FROM connector_instances ci
            WHERE ci.connector_instance_id = ANY (p_ids)
              AND ci.owner_subject_id = pg_catalog.current_setting('pyref.owner', true))
$$;

DROP POLICY IF EXISTS pyref_grants ON connector_instances;
CREATE POLICY pyref_grants ON connector_instances AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS pyref_grants ON connector_detail_gaps;
CREATE POLICY pyref_grants ON connector_detail_gaps AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS pyref_grants ON connector_attention_records;
CREATE POLICY pyref_grants ON connector_attention_records AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS pyref_grants ON pyref_evidence;
CREATE POLICY pyref_grants ON pyref_evidence AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS pyref_grants ON pyref_runs;
CREATE POLICY pyref_grants ON pyref_runs AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS pyref_grants ON pyref_dirty;
CREATE POLICY pyref_grants ON pyref_dirty AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true);

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
