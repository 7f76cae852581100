-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0031: every changed record marks its connection again (0029's
-- records UPDATE trigger; on SQLite 0003's). Pending deltas stay: both versions read them.
DROP TRIGGER IF EXISTS pyref_490_records_update_replace;
DROP TRIGGER IF EXISTS pyref_500_records_update_delta;
DROP TRIGGER IF EXISTS pyref_500_records_update;
CREATE TRIGGER IF NOT EXISTS pyref_500_records_update AFTER UPDATE ON records
WHEN (OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id OR OLD.stream IS DISTINCT FROM NEW.stream OR OLD.record_key IS DISTINCT FROM NEW.record_key OR OLD.record_json IS DISTINCT FROM NEW.record_json OR OLD.deleted IS DISTINCT FROM NEW.deleted OR OLD.emitted_at IS DISTINCT FROM NEW.emitted_at)
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT NEW.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT OLD.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;
