-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0003: removes the maintenance triggers. Writes after
-- this are not tracked; re-apply 0003 and run `pyreference rebuild`.

DROP TRIGGER IF EXISTS pyref_500_records_insert;
DROP TRIGGER IF EXISTS pyref_500_records_update;
DROP TRIGGER IF EXISTS pyref_500_records_delete;
DROP TRIGGER IF EXISTS pyref_500_records_truncate;
DROP TRIGGER IF EXISTS pyref_500_spine_insert;
DROP TRIGGER IF EXISTS pyref_100_spine_no_update;
DROP TRIGGER IF EXISTS pyref_500_connectors_changed;
DROP TRIGGER IF EXISTS pyref_500_connectors_insert;
DROP TRIGGER IF EXISTS pyref_500_connectors_update;
DROP TRIGGER IF EXISTS pyref_500_instances_insert;
DROP TRIGGER IF EXISTS pyref_500_instances_update;
DROP TRIGGER IF EXISTS pyref_500_instances_delete;

DROP TRIGGER IF EXISTS pyref_500_connector_schedules_insert_delete;
DROP TRIGGER IF EXISTS pyref_500_connector_schedules_insert;
DROP TRIGGER IF EXISTS pyref_500_connector_schedules_update;
DROP TRIGGER IF EXISTS pyref_500_connector_schedules_delete;
DROP TRIGGER IF EXISTS pyref_500_connector_schedules_truncate;
DROP TRIGGER IF EXISTS pyref_500_connector_detail_gaps_insert_delete;
DROP TRIGGER IF EXISTS pyref_500_connector_detail_gaps_insert;
DROP TRIGGER IF EXISTS pyref_500_connector_detail_gaps_update;
DROP TRIGGER IF EXISTS pyref_500_connector_detail_gaps_delete;
DROP TRIGGER IF EXISTS pyref_500_connector_detail_gaps_truncate;
DROP TRIGGER IF EXISTS pyref_500_connector_attention_records_insert_delete;
DROP TRIGGER IF EXISTS pyref_500_connector_attention_records_insert;
DROP TRIGGER IF EXISTS pyref_500_connector_attention_records_update;
DROP TRIGGER IF EXISTS pyref_500_connector_attention_records_delete;
DROP TRIGGER IF EXISTS pyref_500_connector_attention_records_truncate;
