-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0021_single_record_deltas
-- pyreference 0022: an evidence row's revision never repeats for its connection id (issue
-- #15). Reading processes memoize a page row by its key columns, every column but the
-- evidence documents: the documents change only when the evidence refresh writes them, and
-- it bumps `revision` and stamps `computed_at`. A connection deleted and created again
-- under the same id got a new evidence row counting from revision 0 again, so within one
-- transaction (Postgres: one `now()`) or one millisecond (SQLite) its key could equal the
-- old row's while its documents differ. Each new evidence row (revision 0: created with
-- its connection) now starts at its own generation, a multiple of 2^32 that is never
-- reused; the refresh still adds 1, so no two incarnations of a connection share a
-- revision. Existing rows keep theirs. Only creating a connection pays (one counter step).
-- A sequence: not transactional, so concurrent creators never wait on each other.
CREATE SEQUENCE IF NOT EXISTS pyref_evidence_generation
    START WITH 4294967296 INCREMENT BY 4294967296 MAXVALUE 9223372032559808512;
REVOKE ALL ON SEQUENCE pyref_evidence_generation FROM PUBLIC;

CREATE OR REPLACE FUNCTION pyref_evidence_generation_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := pg_catalog.nextval('pyref_evidence_generation') + NEW.revision;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS pyref_evidence_generation ON pyref_evidence;
-- Only a new row (revision 0): the refresh's INSERT … ON CONFLICT proposes revision 1 for
-- rows that exist, and must not use up a generation each time.
CREATE TRIGGER pyref_evidence_generation BEFORE INSERT ON pyref_evidence
    FOR EACH ROW WHEN (NEW.revision = 0) EXECUTE FUNCTION pyref_evidence_generation_v1();

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
