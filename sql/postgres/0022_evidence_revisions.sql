-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0021_single_record_deltas
-- pyreference 0022: an evidence row's revision is never given twice, whatever is rolled
-- back or created again (issue #15). Reading processes memoize a page row by its key
-- columns, every column but the evidence documents: the documents change only when the
-- evidence refresh writes them, which gave `revision` the stored one plus 1 and stamped
-- `computed_at`. Two ways made a key repeat with other documents: a connection deleted
-- and created again under the same id (its new evidence row counted from 0 again), and a
-- refresh undone by a rollback to a savepoint (its revision undone too), each followed by
-- another refresh in the same transaction (one `now()`) or, on SQLite, the same
-- millisecond. Now every new evidence row and every write of the documents (the refresh,
-- or anyone's UPDATE of them) takes a revision nothing rewinds. Existing rows keep theirs.
-- A sequence: not transactional (a rollback never gives a value back), and concurrent
-- writers never wait on each other. It starts above every revision already stored.
CREATE SEQUENCE IF NOT EXISTS pyref_evidence_revision;
REVOKE ALL ON SEQUENCE pyref_evidence_revision FROM PUBLIC;
SELECT pg_catalog.setval('pyref_evidence_revision', greatest(max(revision), 0) + 1, false)
  FROM pyref_evidence;

-- A new row created with its connection (revision 0), and an update that writes other
-- documents or another revision (the refresh's, or anyone's). Not an update of only the
-- key columns (a profile key, a failed reconcile's state), nor the refresh's INSERT … ON
-- CONFLICT proposals, which carry revision 1 and update the rows that exist.
CREATE OR REPLACE FUNCTION pyref_evidence_revised_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.revision IS DISTINCT FROM OLD.revision
       OR (NEW.stream_stats::text, NEW.latest_run::text, NEW.latest_successful_run::text, NEW.latest_settled_run::text, NEW.stream_facts::text, NEW.gap_counts::text, NEW.schedule::text, NEW.open_attention::text)
          IS DISTINCT FROM (OLD.stream_stats::text, OLD.latest_run::text, OLD.latest_successful_run::text, OLD.latest_settled_run::text, OLD.stream_facts::text, OLD.gap_counts::text, OLD.schedule::text, OLD.open_attention::text) THEN
        NEW.revision := pg_catalog.nextval('pyref_evidence_revision');
    END IF;
    RETURN NEW;
END
$$;

-- No column list: a trigger naming the documents would keep their types from changing.
DROP TRIGGER IF EXISTS pyref_evidence_revised ON pyref_evidence;
CREATE TRIGGER pyref_evidence_revised BEFORE UPDATE ON pyref_evidence
    FOR EACH ROW EXECUTE FUNCTION pyref_evidence_revised_v1();
DROP TRIGGER IF EXISTS pyref_evidence_created ON pyref_evidence;
CREATE TRIGGER pyref_evidence_created BEFORE INSERT ON pyref_evidence
    FOR EACH ROW WHEN (NEW.revision = 0) EXECUTE FUNCTION pyref_evidence_revised_v1();

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
