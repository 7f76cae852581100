-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0007_function_settings
-- pyreference 0008: one input rule on both backends, enforced for plain-SQL writers too
-- (issue 12; the rules are in docs/dba-guide.md "What a write accepts").
--
-- 1. Timestamps: every canonical timestamp is an instant in years 0001-9999 UTC. Postgres
--    refuses BC years, year 10000+ and infinity by CHECK constraints; SQLite refuses text
--    that has the canonical shape but is no date (2026-11-31, a leap second 23:59:60,
--    year 0000) by triggers. The constraints are NOT VALID: rows stored before stay (a
--    read degrades only their connection) and nothing is scanned under lock here; run
--    `ALTER TABLE ... VALIDATE CONSTRAINT ...` to prove old rows clean.
-- 2. pyref_iso() renders an instant outside the domain as text that is not canonical
--    (e.g. "infinity", "10000-01-01T00:00:00.000000Z AD"), so a read reports that
--    connection's evidence as unreadable instead of hiding the row or failing the page.
-- 3. The spine is append-only in every way: UPDATE (row by row, so an upsert that
--    would update is refused and one that inserts is not, as on SQLite), DELETE and
--    TRUNCATE are refused.
-- 4. List order is byte order whatever the database collation: the list index is
--    rebuilt with COLLATE "C" on its text columns (the page statements compare so).
-- 5. A manifest's streams entries that are not objects are skipped on SQLite too (they
--    raised "malformed JSON"), and so are collection facts that are not objects; a
--    stream's name counts only when it is a JSON string, on both backends.

ALTER TABLE connectors ADD CONSTRAINT connectors_created_at_in_domain
    CHECK (created_at IS NULL OR (created_at >= '0001-01-01 00:00:00+00' AND created_at < '10000-01-01 00:00:00+00')) NOT VALID;
ALTER TABLE connectors ADD CONSTRAINT connectors_updated_at_in_domain
    CHECK (updated_at IS NULL OR (updated_at >= '0001-01-01 00:00:00+00' AND updated_at < '10000-01-01 00:00:00+00')) NOT VALID;
ALTER TABLE connector_instances ADD CONSTRAINT connector_instances_created_at_in_domain
    CHECK (created_at IS NULL OR (created_at >= '0001-01-01 00:00:00+00' AND created_at < '10000-01-01 00:00:00+00')) NOT VALID;
ALTER TABLE connector_instances ADD CONSTRAINT connector_instances_updated_at_in_domain
    CHECK (updated_at IS NULL OR (updated_at >= '0001-01-01 00:00:00+00' AND updated_at < '10000-01-01 00:00:00+00')) NOT VALID;
ALTER TABLE connector_instances ADD CONSTRAINT connector_instances_revoked_at_in_domain
    CHECK (revoked_at IS NULL OR (revoked_at >= '0001-01-01 00:00:00+00' AND revoked_at < '10000-01-01 00:00:00+00')) NOT VALID;
ALTER TABLE records ADD CONSTRAINT records_emitted_at_in_domain
    CHECK (emitted_at IS NULL OR (emitted_at >= '0001-01-01 00:00:00+00' AND emitted_at < '10000-01-01 00:00:00+00')) NOT VALID;
ALTER TABLE records ADD CONSTRAINT records_deleted_at_in_domain
    CHECK (deleted_at IS NULL OR (deleted_at >= '0001-01-01 00:00:00+00' AND deleted_at < '10000-01-01 00:00:00+00')) NOT VALID;
ALTER TABLE spine_events ADD CONSTRAINT spine_events_occurred_at_in_domain
    CHECK (occurred_at IS NULL OR (occurred_at >= '0001-01-01 00:00:00+00' AND occurred_at < '10000-01-01 00:00:00+00')) NOT VALID;
ALTER TABLE spine_events ADD CONSTRAINT spine_events_recorded_at_in_domain
    CHECK (recorded_at IS NULL OR (recorded_at >= '0001-01-01 00:00:00+00' AND recorded_at < '10000-01-01 00:00:00+00')) NOT VALID;
ALTER TABLE connector_schedules ADD CONSTRAINT connector_schedules_next_run_at_in_domain
    CHECK (next_run_at IS NULL OR (next_run_at >= '0001-01-01 00:00:00+00' AND next_run_at < '10000-01-01 00:00:00+00')) NOT VALID;
ALTER TABLE connector_schedules ADD CONSTRAINT connector_schedules_updated_at_in_domain
    CHECK (updated_at IS NULL OR (updated_at >= '0001-01-01 00:00:00+00' AND updated_at < '10000-01-01 00:00:00+00')) NOT VALID;
ALTER TABLE connector_detail_gaps ADD CONSTRAINT connector_detail_gaps_next_attempt_after_in_domain
    CHECK (next_attempt_after IS NULL OR (next_attempt_after >= '0001-01-01 00:00:00+00' AND next_attempt_after < '10000-01-01 00:00:00+00')) NOT VALID;
ALTER TABLE connector_detail_gaps ADD CONSTRAINT connector_detail_gaps_updated_at_in_domain
    CHECK (updated_at IS NULL OR (updated_at >= '0001-01-01 00:00:00+00' AND updated_at < '10000-01-01 00:00:00+00')) NOT VALID;
ALTER TABLE connector_attention_records ADD CONSTRAINT connector_attention_records_expires_at_in_domain
    CHECK (expires_at IS NULL OR (expires_at >= '0001-01-01 00:00:00+00' AND expires_at < '10000-01-01 00:00:00+00')) NOT VALID;
ALTER TABLE connector_attention_records ADD CONSTRAINT connector_attention_records_created_at_in_domain
    CHECK (created_at IS NULL OR (created_at >= '0001-01-01 00:00:00+00' AND created_at < '10000-01-01 00:00:00+00')) NOT VALID;
ALTER TABLE connector_attention_records ADD CONSTRAINT connector_attention_records_updated_at_in_domain
    CHECK (updated_at IS NULL OR (updated_at >= '0001-01-01 00:00:00+00' AND updated_at < '10000-01-01 00:00:00+00')) NOT VALID;

-- The one pure helper stays inlinable (no SET clause) and names only pg_catalog functions.
CREATE OR REPLACE FUNCTION pyref_iso(ts timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN ts >= '0001-01-01 00:00:00+00' AND ts < '10000-01-01 00:00:00+00'
            THEN pg_catalog.to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        WHEN ts = 'infinity' THEN 'infinity'
        WHEN ts = '-infinity' THEN '-infinity'
        ELSE pg_catalog.to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z" BC')
    END
$$;

CREATE OR REPLACE FUNCTION pyref_spine_append_only_v2() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'spine_events is append-only: % refused (insert a new event instead)', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

DROP TRIGGER IF EXISTS pyref_100_spine_no_update ON spine_events;
DROP TRIGGER IF EXISTS pyref_100_spine_append_only ON spine_events;
CREATE TRIGGER pyref_100_spine_append_only BEFORE UPDATE OR DELETE ON spine_events
    FOR EACH ROW EXECUTE FUNCTION pyref_spine_append_only_v2();
DROP TRIGGER IF EXISTS pyref_100_spine_no_truncate ON spine_events;
CREATE TRIGGER pyref_100_spine_no_truncate BEFORE TRUNCATE ON spine_events
    FOR EACH STATEMENT EXECUTE FUNCTION pyref_spine_append_only_v2();

DROP INDEX IF EXISTS connector_instances_list_idx;
CREATE INDEX connector_instances_list_idx
    ON connector_instances (owner_subject_id, connector_id COLLATE "C", created_at,
                            connector_instance_id COLLATE "C");

CREATE OR REPLACE FUNCTION pyref_connector_changed_v2() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pyref_connector_digest (connector_id, display_name, streams, refresh_policy, profile_base)
    SELECT NEW.connector_id,
           NEW.manifest->>'display_name',
           CASE WHEN jsonb_typeof(NEW.manifest->'streams') = 'array' THEN (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                 'name', CASE WHEN jsonb_typeof(st.value->'name') = 'string' THEN st.value->>'name' END,
                                 'required', st.value->'required') ORDER BY st.ord), '[]'::jsonb)
       FROM jsonb_array_elements(NEW.manifest->'streams') WITH ORDINALITY AS st(value, ord)
      WHERE jsonb_typeof(st.value) = 'object') END,
           NEW.manifest->'capabilities'->'refresh_policy',
           coalesce(nullif(NEW.manifest->'capabilities'->'browser_surface'->>'profile_key', ''), NEW.connector_id)
    ON CONFLICT (connector_id) DO UPDATE SET display_name = excluded.display_name,
        streams = excluded.streams, refresh_policy = excluded.refresh_policy,
        profile_base = excluded.profile_base;
    UPDATE pyref_evidence e SET expected_profile_key = CASE WHEN ci.connector_instance_id = ci.connector_id THEN g.profile_base
     ELSE g.profile_base || ':' || ci.connector_instance_id END
      FROM connector_instances ci JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
     WHERE ci.connector_id = NEW.connector_id AND e.connector_instance_id = ci.connector_instance_id
       AND e.expected_profile_key IS DISTINCT FROM CASE WHEN ci.connector_instance_id = ci.connector_id THEN g.profile_base
     ELSE g.profile_base || ':' || ci.connector_instance_id END;
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS pyref_500_connectors_changed ON connectors;
CREATE TRIGGER pyref_500_connectors_changed AFTER INSERT OR UPDATE ON connectors
    FOR EACH ROW EXECUTE FUNCTION pyref_connector_changed_v2();

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
