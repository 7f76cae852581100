-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0008: the timestamp guards, the spine's DELETE/TRUNCATE guards
-- and the byte-order list index go; pyref_iso(), the connectors triggers and (SQLite)
-- the evidence view return to their 0007 form. Canonical data is untouched.

ALTER TABLE connectors DROP CONSTRAINT IF EXISTS connectors_created_at_in_domain;
ALTER TABLE connectors DROP CONSTRAINT IF EXISTS connectors_updated_at_in_domain;
ALTER TABLE connector_instances DROP CONSTRAINT IF EXISTS connector_instances_created_at_in_domain;
ALTER TABLE connector_instances DROP CONSTRAINT IF EXISTS connector_instances_updated_at_in_domain;
ALTER TABLE connector_instances DROP CONSTRAINT IF EXISTS connector_instances_revoked_at_in_domain;
ALTER TABLE records DROP CONSTRAINT IF EXISTS records_emitted_at_in_domain;
ALTER TABLE records DROP CONSTRAINT IF EXISTS records_deleted_at_in_domain;
ALTER TABLE spine_events DROP CONSTRAINT IF EXISTS spine_events_occurred_at_in_domain;
ALTER TABLE spine_events DROP CONSTRAINT IF EXISTS spine_events_recorded_at_in_domain;
ALTER TABLE connector_schedules DROP CONSTRAINT IF EXISTS connector_schedules_next_run_at_in_domain;
ALTER TABLE connector_schedules DROP CONSTRAINT IF EXISTS connector_schedules_updated_at_in_domain;
ALTER TABLE connector_detail_gaps DROP CONSTRAINT IF EXISTS connector_detail_gaps_next_attempt_after_in_domain;
ALTER TABLE connector_detail_gaps DROP CONSTRAINT IF EXISTS connector_detail_gaps_updated_at_in_domain;
ALTER TABLE connector_attention_records DROP CONSTRAINT IF EXISTS connector_attention_records_expires_at_in_domain;
ALTER TABLE connector_attention_records DROP CONSTRAINT IF EXISTS connector_attention_records_created_at_in_domain;
ALTER TABLE connector_attention_records DROP CONSTRAINT IF EXISTS connector_attention_records_updated_at_in_domain;

CREATE OR REPLACE FUNCTION pyref_iso(ts timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

DROP TRIGGER IF EXISTS pyref_100_spine_append_only ON spine_events;
DROP TRIGGER IF EXISTS pyref_100_spine_no_truncate ON spine_events;
DROP FUNCTION IF EXISTS pyref_spine_append_only_v2();
CREATE TRIGGER pyref_100_spine_no_update BEFORE UPDATE ON spine_events
    FOR EACH STATEMENT EXECUTE FUNCTION pyref_spine_append_only_v1();

DROP INDEX IF EXISTS connector_instances_list_idx;
CREATE INDEX connector_instances_list_idx
    ON connector_instances (owner_subject_id, connector_id, created_at, connector_instance_id);

DROP TRIGGER IF EXISTS pyref_500_connectors_changed ON connectors;
CREATE TRIGGER pyref_500_connectors_changed AFTER INSERT OR UPDATE ON connectors
    FOR EACH ROW EXECUTE FUNCTION pyref_connector_changed_v1();
DROP FUNCTION IF EXISTS pyref_connector_changed_v2();
