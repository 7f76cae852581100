-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0022_evidence_revisions
-- pyreference 0023: a connector's digest carries a revision, given anew by every write of
-- it (issue #15). A reading process memoizes page rows by their key columns, which held the
-- connector's manifest digest (its stream declarations and refresh policy, ~0.3-2.5 KB)
-- on every row: a warm page read them all again only to compare them. The key statement
-- now reads the digest's revision in their place, and whole rows (read only for rows a
-- reader lacks) still carry the digest. A revision is never given twice, whatever is rolled
-- back or created again: the same reasons as 0022's for evidence rows.
-- A sequence: not transactional (a rollback never gives a value back). It starts above every
-- revision already stored (a rollback of 0023 keeps the column), and every digest takes a
-- new one: a digest written while 0023 was rolled back kept its old revision.
CREATE SEQUENCE IF NOT EXISTS pyref_digest_revision;
REVOKE ALL ON SEQUENCE pyref_digest_revision FROM PUBLIC;
ALTER TABLE pyref_connector_digest ADD COLUMN IF NOT EXISTS revision bigint NOT NULL DEFAULT 0;
SELECT pg_catalog.setval('pyref_digest_revision', greatest(max(revision), 0) + 1, false)
  FROM pyref_connector_digest;
UPDATE pyref_connector_digest SET revision = pg_catalog.nextval('pyref_digest_revision');

-- Every new row and every update (digests change only when a manifest is registered).
CREATE OR REPLACE FUNCTION pyref_digest_revised_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := pg_catalog.nextval('pyref_digest_revision');
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS pyref_digest_revised ON pyref_connector_digest;
CREATE TRIGGER pyref_digest_revised BEFORE INSERT OR UPDATE ON pyref_connector_digest
    FOR EACH ROW EXECUTE FUNCTION pyref_digest_revised_v1();

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
