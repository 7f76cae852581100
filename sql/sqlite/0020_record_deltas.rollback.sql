-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0020: record inserts mark their connection again. The connections
-- with deltas not yet folded are marked first, so that reconcile recounts them; then the
-- functions are 0019's again and the deltas table goes.
INSERT INTO pyref_dirty (connector_instance_id)
SELECT DISTINCT x.connector_instance_id FROM pyref_record_deltas x
 WHERE NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = x.connector_instance_id);

DROP TRIGGER IF EXISTS pyref_490_records_replace;
DROP TRIGGER IF EXISTS pyref_530_instances_delete_deltas;
DROP TRIGGER IF EXISTS pyref_530_instances_rename_deltas;
DROP TRIGGER IF EXISTS pyref_500_records_insert;
CREATE TRIGGER IF NOT EXISTS pyref_500_records_insert AFTER INSERT ON records
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT NEW.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

DROP TABLE IF EXISTS pyref_record_deltas;
