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

CREATE TRIGGER IF NOT EXISTS pyref_050_connectors_timestamps_insert BEFORE INSERT ON connectors
WHEN NOT ((NEW.created_at IS NULL OR (substr(NEW.created_at, 1, 4) >= '0001'
   AND date(substr(NEW.created_at, 1, 10), '+0 days') IS substr(NEW.created_at, 1, 10)
   AND substr(NEW.created_at, 12, 2) <= '23' AND substr(NEW.created_at, 15, 2) <= '59'
   AND substr(NEW.created_at, 18, 2) <= '59')) AND (NEW.updated_at IS NULL OR (substr(NEW.updated_at, 1, 4) >= '0001'
   AND date(substr(NEW.updated_at, 1, 10), '+0 days') IS substr(NEW.updated_at, 1, 10)
   AND substr(NEW.updated_at, 12, 2) <= '23' AND substr(NEW.updated_at, 15, 2) <= '59'
   AND substr(NEW.updated_at, 18, 2) <= '59')))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: connectors timestamp outside years 0001-9999 or not a date');
END;
CREATE TRIGGER IF NOT EXISTS pyref_050_connectors_timestamps_update BEFORE UPDATE OF created_at, updated_at ON connectors
WHEN NOT ((NEW.created_at IS NULL OR (substr(NEW.created_at, 1, 4) >= '0001'
   AND date(substr(NEW.created_at, 1, 10), '+0 days') IS substr(NEW.created_at, 1, 10)
   AND substr(NEW.created_at, 12, 2) <= '23' AND substr(NEW.created_at, 15, 2) <= '59'
   AND substr(NEW.created_at, 18, 2) <= '59')) AND (NEW.updated_at IS NULL OR (substr(NEW.updated_at, 1, 4) >= '0001'
   AND date(substr(NEW.updated_at, 1, 10), '+0 days') IS substr(NEW.updated_at, 1, 10)
   AND substr(NEW.updated_at, 12, 2) <= '23' AND substr(NEW.updated_at, 15, 2) <= '59'
   AND substr(NEW.updated_at, 18, 2) <= '59')))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: connectors timestamp outside years 0001-9999 or not a date');
END;

CREATE TRIGGER IF NOT EXISTS pyref_050_connector_instances_timestamps_insert BEFORE INSERT ON connector_instances
WHEN NOT ((NEW.created_at IS NULL OR (substr(NEW.created_at, 1, 4) >= '0001'
   AND date(substr(NEW.created_at, 1, 10), '+0 days') IS substr(NEW.created_at, 1, 10)
   AND substr(NEW.created_at, 12, 2) <= '23' AND substr(NEW.created_at, 15, 2) <= '59'
   AND substr(NEW.created_at, 18, 2) <= '59')) AND (NEW.updated_at IS NULL OR (substr(NEW.updated_at, 1, 4) >= '0001'
   AND date(substr(NEW.updated_at, 1, 10), '+0 days') IS substr(NEW.updated_at, 1, 10)
   AND substr(NEW.updated_at, 12, 2) <= '23' AND substr(NEW.updated_at, 15, 2) <= '59'
   AND substr(NEW.updated_at, 18, 2) <= '59')) AND (NEW.revoked_at IS NULL OR (substr(NEW.revoked_at, 1, 4) >= '0001'
   AND date(substr(NEW.revoked_at, 1, 10), '+0 days') IS substr(NEW.revoked_at, 1, 10)
   AND substr(NEW.revoked_at, 12, 2) <= '23' AND substr(NEW.revoked_at, 15, 2) <= '59'
   AND substr(NEW.revoked_at, 18, 2) <= '59')))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: connector_instances timestamp outside years 0001-9999 or not a date');
END;
CREATE TRIGGER IF NOT EXISTS pyref_050_connector_instances_timestamps_update BEFORE UPDATE OF created_at, updated_at, revoked_at ON connector_instances
WHEN NOT ((NEW.created_at IS NULL OR (substr(NEW.created_at, 1, 4) >= '0001'
   AND date(substr(NEW.created_at, 1, 10), '+0 days') IS substr(NEW.created_at, 1, 10)
   AND substr(NEW.created_at, 12, 2) <= '23' AND substr(NEW.created_at, 15, 2) <= '59'
   AND substr(NEW.created_at, 18, 2) <= '59')) AND (NEW.updated_at IS NULL OR (substr(NEW.updated_at, 1, 4) >= '0001'
   AND date(substr(NEW.updated_at, 1, 10), '+0 days') IS substr(NEW.updated_at, 1, 10)
   AND substr(NEW.updated_at, 12, 2) <= '23' AND substr(NEW.updated_at, 15, 2) <= '59'
   AND substr(NEW.updated_at, 18, 2) <= '59')) AND (NEW.revoked_at IS NULL OR (substr(NEW.revoked_at, 1, 4) >= '0001'
   AND date(substr(NEW.revoked_at, 1, 10), '+0 days') IS substr(NEW.revoked_at, 1, 10)
   AND substr(NEW.revoked_at, 12, 2) <= '23' AND substr(NEW.revoked_at, 15, 2) <= '59'
   AND substr(NEW.revoked_at, 18, 2) <= '59')))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: connector_instances timestamp outside years 0001-9999 or not a date');
END;

CREATE TRIGGER IF NOT EXISTS pyref_050_records_timestamps_insert BEFORE INSERT ON records
WHEN NOT ((NEW.emitted_at IS NULL OR (substr(NEW.emitted_at, 1, 4) >= '0001'
   AND date(substr(NEW.emitted_at, 1, 10), '+0 days') IS substr(NEW.emitted_at, 1, 10)
   AND substr(NEW.emitted_at, 12, 2) <= '23' AND substr(NEW.emitted_at, 15, 2) <= '59'
   AND substr(NEW.emitted_at, 18, 2) <= '59')) AND (NEW.deleted_at IS NULL OR (substr(NEW.deleted_at, 1, 4) >= '0001'
   AND date(substr(NEW.deleted_at, 1, 10), '+0 days') IS substr(NEW.deleted_at, 1, 10)
   AND substr(NEW.deleted_at, 12, 2) <= '23' AND substr(NEW.deleted_at, 15, 2) <= '59'
   AND substr(NEW.deleted_at, 18, 2) <= '59')))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: records timestamp outside years 0001-9999 or not a date');
END;
CREATE TRIGGER IF NOT EXISTS pyref_050_records_timestamps_update BEFORE UPDATE OF emitted_at, deleted_at ON records
WHEN NOT ((NEW.emitted_at IS NULL OR (substr(NEW.emitted_at, 1, 4) >= '0001'
   AND date(substr(NEW.emitted_at, 1, 10), '+0 days') IS substr(NEW.emitted_at, 1, 10)
   AND substr(NEW.emitted_at, 12, 2) <= '23' AND substr(NEW.emitted_at, 15, 2) <= '59'
   AND substr(NEW.emitted_at, 18, 2) <= '59')) AND (NEW.deleted_at IS NULL OR (substr(NEW.deleted_at, 1, 4) >= '0001'
   AND date(substr(NEW.deleted_at, 1, 10), '+0 days') IS substr(NEW.deleted_at, 1, 10)
   AND substr(NEW.deleted_at, 12, 2) <= '23' AND substr(NEW.deleted_at, 15, 2) <= '59'
   AND substr(NEW.deleted_at, 18, 2) <= '59')))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: records timestamp outside years 0001-9999 or not a date');
END;

CREATE TRIGGER IF NOT EXISTS pyref_050_spine_events_timestamps_insert BEFORE INSERT ON spine_events
WHEN NOT ((NEW.occurred_at IS NULL OR (substr(NEW.occurred_at, 1, 4) >= '0001'
   AND date(substr(NEW.occurred_at, 1, 10), '+0 days') IS substr(NEW.occurred_at, 1, 10)
   AND substr(NEW.occurred_at, 12, 2) <= '23' AND substr(NEW.occurred_at, 15, 2) <= '59'
   AND substr(NEW.occurred_at, 18, 2) <= '59')) AND (NEW.recorded_at IS NULL OR (substr(NEW.recorded_at, 1, 4) >= '0001'
   AND date(substr(NEW.recorded_at, 1, 10), '+0 days') IS substr(NEW.recorded_at, 1, 10)
   AND substr(NEW.recorded_at, 12, 2) <= '23' AND substr(NEW.recorded_at, 15, 2) <= '59'
   AND substr(NEW.recorded_at, 18, 2) <= '59')))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: spine_events timestamp outside years 0001-9999 or not a date');
END;
CREATE TRIGGER IF NOT EXISTS pyref_050_spine_events_timestamps_update BEFORE UPDATE OF occurred_at, recorded_at ON spine_events
WHEN NOT ((NEW.occurred_at IS NULL OR (substr(NEW.occurred_at, 1, 4) >= '0001'
   AND date(substr(NEW.occurred_at, 1, 10), '+0 days') IS substr(NEW.occurred_at, 1, 10)
   AND substr(NEW.occurred_at, 12, 2) <= '23' AND substr(NEW.occurred_at, 15, 2) <= '59'
   AND substr(NEW.occurred_at, 18, 2) <= '59')) AND (NEW.recorded_at IS NULL OR (substr(NEW.recorded_at, 1, 4) >= '0001'
   AND date(substr(NEW.recorded_at, 1, 10), '+0 days') IS substr(NEW.recorded_at, 1, 10)
   AND substr(NEW.recorded_at, 12, 2) <= '23' AND substr(NEW.recorded_at, 15, 2) <= '59'
   AND substr(NEW.recorded_at, 18, 2) <= '59')))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: spine_events timestamp outside years 0001-9999 or not a date');
END;

CREATE TRIGGER IF NOT EXISTS pyref_050_connector_schedules_timestamps_insert BEFORE INSERT ON connector_schedules
WHEN NOT ((NEW.next_run_at IS NULL OR (substr(NEW.next_run_at, 1, 4) >= '0001'
   AND date(substr(NEW.next_run_at, 1, 10), '+0 days') IS substr(NEW.next_run_at, 1, 10)
   AND substr(NEW.next_run_at, 12, 2) <= '23' AND substr(NEW.next_run_at, 15, 2) <= '59'
   AND substr(NEW.next_run_at, 18, 2) <= '59')) AND (NEW.updated_at IS NULL OR (substr(NEW.updated_at, 1, 4) >= '0001'
   AND date(substr(NEW.updated_at, 1, 10), '+0 days') IS substr(NEW.updated_at, 1, 10)
   AND substr(NEW.updated_at, 12, 2) <= '23' AND substr(NEW.updated_at, 15, 2) <= '59'
   AND substr(NEW.updated_at, 18, 2) <= '59')))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: connector_schedules timestamp outside years 0001-9999 or not a date');
END;
CREATE TRIGGER IF NOT EXISTS pyref_050_connector_schedules_timestamps_update BEFORE UPDATE OF next_run_at, updated_at ON connector_schedules
WHEN NOT ((NEW.next_run_at IS NULL OR (substr(NEW.next_run_at, 1, 4) >= '0001'
   AND date(substr(NEW.next_run_at, 1, 10), '+0 days') IS substr(NEW.next_run_at, 1, 10)
   AND substr(NEW.next_run_at, 12, 2) <= '23' AND substr(NEW.next_run_at, 15, 2) <= '59'
   AND substr(NEW.next_run_at, 18, 2) <= '59')) AND (NEW.updated_at IS NULL OR (substr(NEW.updated_at, 1, 4) >= '0001'
   AND date(substr(NEW.updated_at, 1, 10), '+0 days') IS substr(NEW.updated_at, 1, 10)
   AND substr(NEW.updated_at, 12, 2) <= '23' AND substr(NEW.updated_at, 15, 2) <= '59'
   AND substr(NEW.updated_at, 18, 2) <= '59')))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: connector_schedules timestamp outside years 0001-9999 or not a date');
END;

CREATE TRIGGER IF NOT EXISTS pyref_050_connector_detail_gaps_timestamps_insert BEFORE INSERT ON connector_detail_gaps
WHEN NOT ((NEW.next_attempt_after IS NULL OR (substr(NEW.next_attempt_after, 1, 4) >= '0001'
   AND date(substr(NEW.next_attempt_after, 1, 10), '+0 days') IS substr(NEW.next_attempt_after, 1, 10)
   AND substr(NEW.next_attempt_after, 12, 2) <= '23' AND substr(NEW.next_attempt_after, 15, 2) <= '59'
   AND substr(NEW.next_attempt_after, 18, 2) <= '59')) AND (NEW.updated_at IS NULL OR (substr(NEW.updated_at, 1, 4) >= '0001'
   AND date(substr(NEW.updated_at, 1, 10), '+0 days') IS substr(NEW.updated_at, 1, 10)
   AND substr(NEW.updated_at, 12, 2) <= '23' AND substr(NEW.updated_at, 15, 2) <= '59'
   AND substr(NEW.updated_at, 18, 2) <= '59')))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: connector_detail_gaps timestamp outside years 0001-9999 or not a date');
END;
CREATE TRIGGER IF NOT EXISTS pyref_050_connector_detail_gaps_timestamps_update BEFORE UPDATE OF next_attempt_after, updated_at ON connector_detail_gaps
WHEN NOT ((NEW.next_attempt_after IS NULL OR (substr(NEW.next_attempt_after, 1, 4) >= '0001'
   AND date(substr(NEW.next_attempt_after, 1, 10), '+0 days') IS substr(NEW.next_attempt_after, 1, 10)
   AND substr(NEW.next_attempt_after, 12, 2) <= '23' AND substr(NEW.next_attempt_after, 15, 2) <= '59'
   AND substr(NEW.next_attempt_after, 18, 2) <= '59')) AND (NEW.updated_at IS NULL OR (substr(NEW.updated_at, 1, 4) >= '0001'
   AND date(substr(NEW.updated_at, 1, 10), '+0 days') IS substr(NEW.updated_at, 1, 10)
   AND substr(NEW.updated_at, 12, 2) <= '23' AND substr(NEW.updated_at, 15, 2) <= '59'
   AND substr(NEW.updated_at, 18, 2) <= '59')))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: connector_detail_gaps timestamp outside years 0001-9999 or not a date');
END;

CREATE TRIGGER IF NOT EXISTS pyref_050_connector_attention_records_timestamps_insert BEFORE INSERT ON connector_attention_records
WHEN NOT ((NEW.expires_at IS NULL OR (substr(NEW.expires_at, 1, 4) >= '0001'
   AND date(substr(NEW.expires_at, 1, 10), '+0 days') IS substr(NEW.expires_at, 1, 10)
   AND substr(NEW.expires_at, 12, 2) <= '23' AND substr(NEW.expires_at, 15, 2) <= '59'
   AND substr(NEW.expires_at, 18, 2) <= '59')) AND (NEW.created_at IS NULL OR (substr(NEW.created_at, 1, 4) >= '0001'
   AND date(substr(NEW.created_at, 1, 10), '+0 days') IS substr(NEW.created_at, 1, 10)
   AND substr(NEW.created_at, 12, 2) <= '23' AND substr(NEW.created_at, 15, 2) <= '59'
   AND substr(NEW.created_at, 18, 2) <= '59')) AND (NEW.updated_at IS NULL OR (substr(NEW.updated_at, 1, 4) >= '0001'
   AND date(substr(NEW.updated_at, 1, 10), '+0 days') IS substr(NEW.updated_at, 1, 10)
   AND substr(NEW.updated_at, 12, 2) <= '23' AND substr(NEW.updated_at, 15, 2) <= '59'
   AND substr(NEW.updated_at, 18, 2) <= '59')))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: connector_attention_records timestamp outside years 0001-9999 or not a date');
END;
CREATE TRIGGER IF NOT EXISTS pyref_050_connector_attention_records_timestamps_update BEFORE UPDATE OF expires_at, created_at, updated_at ON connector_attention_records
WHEN NOT ((NEW.expires_at IS NULL OR (substr(NEW.expires_at, 1, 4) >= '0001'
   AND date(substr(NEW.expires_at, 1, 10), '+0 days') IS substr(NEW.expires_at, 1, 10)
   AND substr(NEW.expires_at, 12, 2) <= '23' AND substr(NEW.expires_at, 15, 2) <= '59'
   AND substr(NEW.expires_at, 18, 2) <= '59')) AND (NEW.created_at IS NULL OR (substr(NEW.created_at, 1, 4) >= '0001'
   AND date(substr(NEW.created_at, 1, 10), '+0 days') IS substr(NEW.created_at, 1, 10)
   AND substr(NEW.created_at, 12, 2) <= '23' AND substr(NEW.created_at, 15, 2) <= '59'
   AND substr(NEW.created_at, 18, 2) <= '59')) AND (NEW.updated_at IS NULL OR (substr(NEW.updated_at, 1, 4) >= '0001'
   AND date(substr(NEW.updated_at, 1, 10), '+0 days') IS substr(NEW.updated_at, 1, 10)
   AND substr(NEW.updated_at, 12, 2) <= '23' AND substr(NEW.updated_at, 15, 2) <= '59'
   AND substr(NEW.updated_at, 18, 2) <= '59')))
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: connector_attention_records timestamp outside years 0001-9999 or not a date');
END;

-- DELETE (the UPDATE guard is 0003's). SQLite has no TRUNCATE: a DELETE without WHERE
-- fires this trigger too. INSERT OR REPLACE deletes only through delete triggers when
-- recursive_triggers is on, which pyreference's own connections set.
CREATE TRIGGER IF NOT EXISTS pyref_100_spine_no_delete BEFORE DELETE ON spine_events
BEGIN
    SELECT RAISE(ABORT, 'spine_events is append-only: DELETE refused (insert a new event instead)');
END;

DROP TRIGGER IF EXISTS pyref_500_connectors_insert;
CREATE TRIGGER pyref_500_connectors_insert AFTER INSERT ON connectors
BEGIN
    INSERT INTO pyref_connector_digest (connector_id, display_name, streams, refresh_policy, profile_base)
    SELECT NEW.connector_id,
           NEW.manifest->>'display_name',
           CASE WHEN json_type(NEW.manifest->'streams') = 'array' THEN (SELECT coalesce(json_group_array(json_object(
                       'name', CASE WHEN json_type(st.value, '$.name') = 'text' THEN st.value->>'name' END,
                       'required', json(st.value->'required'))), '[]')
       FROM (SELECT type, value FROM json_each(NEW.manifest->'streams') ORDER BY key) AS st
      WHERE st.type = 'object') END,
           json(NEW.manifest->'capabilities'->'refresh_policy'),
           coalesce(nullif(NEW.manifest->'capabilities'->'browser_surface'->>'profile_key', ''), NEW.connector_id)
    WHERE true
    ON CONFLICT (connector_id) DO UPDATE SET display_name = excluded.display_name,
        streams = excluded.streams, refresh_policy = excluded.refresh_policy,
        profile_base = excluded.profile_base;
END;

DROP TRIGGER IF EXISTS pyref_500_connectors_update;
CREATE TRIGGER pyref_500_connectors_update AFTER UPDATE ON connectors
BEGIN
    INSERT INTO pyref_connector_digest (connector_id, display_name, streams, refresh_policy, profile_base)
    SELECT NEW.connector_id,
           NEW.manifest->>'display_name',
           CASE WHEN json_type(NEW.manifest->'streams') = 'array' THEN (SELECT coalesce(json_group_array(json_object(
                       'name', CASE WHEN json_type(st.value, '$.name') = 'text' THEN st.value->>'name' END,
                       'required', json(st.value->'required'))), '[]')
       FROM (SELECT type, value FROM json_each(NEW.manifest->'streams') ORDER BY key) AS st
      WHERE st.type = 'object') END,
           json(NEW.manifest->'capabilities'->'refresh_policy'),
           coalesce(nullif(NEW.manifest->'capabilities'->'browser_surface'->>'profile_key', ''), NEW.connector_id)
    WHERE true
    ON CONFLICT (connector_id) DO UPDATE SET display_name = excluded.display_name,
        streams = excluded.streams, refresh_policy = excluded.refresh_policy,
        profile_base = excluded.profile_base;
    UPDATE pyref_evidence SET expected_profile_key = (
        SELECT CASE WHEN ci.connector_instance_id = ci.connector_id THEN g.profile_base
     ELSE g.profile_base || ':' || ci.connector_instance_id END
          FROM connector_instances ci JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
         WHERE ci.connector_instance_id = pyref_evidence.connector_instance_id)
     WHERE connector_instance_id IN (SELECT connector_instance_id FROM connector_instances
                                      WHERE connector_id = NEW.connector_id);
END;

DROP VIEW IF EXISTS pyref_evidence_source;
CREATE VIEW pyref_evidence_source AS
SELECT
  ci.connector_instance_id,
  CASE WHEN ci.connector_instance_id = ci.connector_id THEN g.profile_base
     ELSE g.profile_base || ':' || ci.connector_instance_id END AS expected_profile_key,
  (SELECT coalesce(json_group_array(json(json_object('stream', s.stream, 'live', s.live, 'rows', s.n, 'bytes', s.bytes, 'last_record_at', s.last_at))), '[]')
     FROM (SELECT r.stream,
                  count(*) FILTER (WHERE NOT r.deleted) AS live,
                  count(*) AS n,
                  coalesce(sum(length(CAST(r.record_json AS BLOB))) FILTER (WHERE NOT r.deleted), 0) AS bytes,
                  max(r.emitted_at) FILTER (WHERE NOT r.deleted) AS last_at
             FROM records r
            WHERE r.connector_instance_id = ci.connector_instance_id
            GROUP BY r.stream ORDER BY r.stream) s) AS stream_stats,
  (SELECT json_object('run_id', r.run_id, 'status', r.status,
  'started_at', r.started_at, 'finished_at', r.completed_at,
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', json(r.collection_facts)) FROM pyref_runs r
  WHERE r.connector_instance_id = ci.connector_instance_id
  ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_run,
  (SELECT json_object('run_id', r.run_id, 'status', r.status,
  'started_at', r.started_at, 'finished_at', r.completed_at,
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', json(r.collection_facts)) FROM pyref_runs r
  WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'succeeded'
  ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_successful_run,
  (SELECT json_object('run_id', r.run_id, 'status', r.status,
  'started_at', r.started_at, 'finished_at', r.completed_at,
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', json(r.collection_facts)) FROM pyref_runs r
  WHERE r.connector_instance_id = ci.connector_instance_id AND r.settled_seq IS NOT NULL AND r.status <> 'skipped'
  ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_settled_run,
  (SELECT count(*) FROM pyref_runs r
    WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'failed'
      AND NOT EXISTS (SELECT 1 FROM pyref_runs s
                       WHERE s.connector_instance_id = r.connector_instance_id
                         AND s.status = 'succeeded' AND s.order_at >= r.order_at)) AS failures_since_success,(SELECT coalesce(json_group_array(json(f.fact)), '[]')
     FROM (SELECT x.stream, x.fact
             FROM (SELECT e.value->>'stream' AS stream,
                          json_object('stream', e.value->>'stream', 'checkpoint', e.value->>'checkpoint',
                                        'collected', json(e.value->'collected'),
                                        'considered', json(e.value->'considered'),
                                        'pending_detail_gaps', json(e.value->'pending_detail_gaps'),
                                        'run_id', r.run_id) AS fact,
                          row_number() OVER (
                            PARTITION BY e.value->>'stream'
                            ORDER BY CASE WHEN e.value->>'checkpoint' = 'committed' THEN 0 ELSE 1 END,
                                     r.order_at DESC, r.run_id DESC) AS rn
                     FROM pyref_runs r, json_each(r.collection_facts) AS e
                    WHERE r.connector_instance_id = ci.connector_instance_id
                      AND r.collection_facts IS NOT NULL
                      AND e.type = 'object'
                      AND e.value->>'stream' IS NOT NULL) x
            WHERE x.rn = 1 ORDER BY x.stream) f) AS stream_facts,
  (SELECT coalesce(json_group_array(json(json_object('stream', gc.stream, 'pending', gc.pending, 'terminal', gc.terminal))), '[]')
     FROM (SELECT dg.stream,
                  count(*) FILTER (WHERE dg.status = 'pending') AS pending,
                  count(*) FILTER (WHERE dg.status = 'terminal') AS terminal
             FROM connector_detail_gaps dg
            WHERE dg.connector_instance_id = ci.connector_instance_id
              AND dg.status IN ('pending', 'terminal')
            GROUP BY dg.stream ORDER BY dg.stream) gc) AS gap_counts,
  (SELECT json_object('interval_seconds', cs.interval_seconds, 'enabled', cs.enabled,
                        'consecutive_failures', cs.consecutive_failures,
                        'next_run_at', cs.next_run_at)
     FROM connector_schedules cs
    WHERE cs.connector_instance_id = ci.connector_instance_id) AS schedule,
  (SELECT coalesce(json_group_array(json(json_object('attention_id', a.attention_id, 'reason_code', a.reason_code, 'owner_action', a.owner_action, 'lifecycle', a.lifecycle, 'response_required', a.response_required, 'expires_at', a.expires_at, 'created_at', a.created_at))), '[]')
     FROM (SELECT ar.attention_id, ar.reason_code, ar.owner_action, ar.lifecycle, ar.response_required,
                  ar.expires_at AS expires_at, ar.created_at AS created_at
             FROM connector_attention_records ar
            WHERE ar.connector_instance_id = ci.connector_instance_id
              AND ar.lifecycle IN ('open', 'acknowledged', 'in_progress')
            ORDER BY ar.created_at, ar.attention_id) a) AS open_attention
FROM connector_instances ci
JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id;
