-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0003: removes the maintenance triggers. Writes after
-- this are not tracked; re-apply 0003 and run `pyreference rebuild`.

DROP TRIGGER IF EXISTS pyref_500_records_insert ON records;
DROP TRIGGER IF EXISTS pyref_500_records_update ON records;
DROP TRIGGER IF EXISTS pyref_500_records_delete ON records;
DROP TRIGGER IF EXISTS pyref_500_records_truncate ON records;
DROP TRIGGER IF EXISTS pyref_500_spine_insert ON spine_events;
DROP TRIGGER IF EXISTS pyref_100_spine_no_update ON spine_events;
DROP TRIGGER IF EXISTS pyref_500_connectors_changed ON connectors;
DROP TRIGGER IF EXISTS pyref_500_connectors_insert ON connectors;
DROP TRIGGER IF EXISTS pyref_500_connectors_update ON connectors;
DROP TRIGGER IF EXISTS pyref_500_instances_insert ON connector_instances;
DROP TRIGGER IF EXISTS pyref_500_instances_update ON connector_instances;
DROP TRIGGER IF EXISTS pyref_500_instances_delete ON connector_instances;

DROP TRIGGER IF EXISTS pyref_500_connector_schedules_insert_delete ON connector_schedules;
DROP TRIGGER IF EXISTS pyref_500_connector_schedules_insert ON connector_schedules;
DROP TRIGGER IF EXISTS pyref_500_connector_schedules_update ON connector_schedules;
DROP TRIGGER IF EXISTS pyref_500_connector_schedules_delete ON connector_schedules;
DROP TRIGGER IF EXISTS pyref_500_connector_schedules_truncate ON connector_schedules;
DROP TRIGGER IF EXISTS pyref_500_connector_detail_gaps_insert_delete ON connector_detail_gaps;
DROP TRIGGER IF EXISTS pyref_500_connector_detail_gaps_insert ON connector_detail_gaps;
DROP TRIGGER IF EXISTS pyref_500_connector_detail_gaps_update ON connector_detail_gaps;
DROP TRIGGER IF EXISTS pyref_500_connector_detail_gaps_delete ON connector_detail_gaps;
DROP TRIGGER IF EXISTS pyref_500_connector_detail_gaps_truncate ON connector_detail_gaps;
DROP TRIGGER IF EXISTS pyref_500_connector_attention_records_insert_delete ON connector_attention_records;
DROP TRIGGER IF EXISTS pyref_500_connector_attention_records_insert ON connector_attention_records;
DROP TRIGGER IF EXISTS pyref_500_connector_attention_records_update ON connector_attention_records;
DROP TRIGGER IF EXISTS pyref_500_connector_attention_records_delete ON connector_attention_records;
DROP TRIGGER IF EXISTS pyref_500_connector_attention_records_truncate ON connector_attention_records;
DROP FUNCTION IF EXISTS pyref_records_inserted_v1();
DROP FUNCTION IF EXISTS pyref_records_updated_v1();
DROP FUNCTION IF EXISTS pyref_records_deleted_v1();
DROP FUNCTION IF EXISTS pyref_mark_all_dirty_v1();
DROP FUNCTION IF EXISTS pyref_spine_inserted_v1();
DROP FUNCTION IF EXISTS pyref_project_run_event_v1(spine_events);
DROP FUNCTION IF EXISTS pyref_spine_append_only_v1();
DROP FUNCTION IF EXISTS pyref_connector_changed_v1();
DROP FUNCTION IF EXISTS pyref_instance_changed_v1();
DROP FUNCTION IF EXISTS pyref_child_changed_v1();
