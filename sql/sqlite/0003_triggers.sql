-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0002_read_model
-- pyreference 0003: triggers that keep the read model right whoever writes (R4, R5).
-- Writes to records and the spine only append to pyref_dirty (and fold run
-- events into pyref_runs); evidence rows are recomputed lazily by reconcile,
-- and on the fly by reads of dirty rows. Trigger names carry a numeric prefix
-- because Postgres fires same-event triggers in name order.

-- SQLite has row triggers only: WHEN guards keep no-op writes from firing,
-- and a connection already marked is not marked again (one writer at a time).
CREATE TRIGGER IF NOT EXISTS pyref_500_records_insert AFTER INSERT ON records
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT NEW.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

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

CREATE TRIGGER IF NOT EXISTS pyref_500_records_delete AFTER DELETE ON records
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT OLD.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

CREATE TRIGGER IF NOT EXISTS pyref_500_spine_insert AFTER INSERT ON spine_events
WHEN NEW.event_type LIKE 'run.%' AND NEW.run_id IS NOT NULL
BEGIN
    INSERT INTO pyref_runs (
      run_id, connector_instance_id, connector_id, status, started_at, completed_at, first_event_at,
      failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason,
      collection_facts, settled_seq, surface_seq, facts_seq, last_event_seq)
    SELECT NEW.run_id, (CASE
      WHEN nullif(NEW.data_json->'browser_surface'->>'profile_key', '') IS NOT NULL THEN
        (SELECT CASE WHEN count(*) = 1 THEN max(pe.connector_instance_id) END
           FROM pyref_evidence pe
          WHERE pe.expected_profile_key = NEW.data_json->'browser_surface'->>'profile_key')
      WHEN coalesce(NEW.connector_instance_id, NEW.data_json->>'connection_id',
                    NEW.data_json->>'connector_instance_id') IS NOT NULL THEN
        (SELECT xi.connector_instance_id FROM connector_instances xi
          WHERE xi.connector_instance_id = coalesce(NEW.connector_instance_id,
                                                    NEW.data_json->>'connection_id',
                                                    NEW.data_json->>'connector_instance_id'))
      ELSE coalesce(
        (SELECT CASE WHEN count(*) = 1 THEN max(ar.connector_instance_id) END
           FROM pyref_runs ar WHERE ar.run_id = NEW.run_id),
        (SELECT CASE WHEN count(*) = 1 THEN max(si.connector_instance_id) END
           FROM connector_instances si
          WHERE si.connector_id = coalesce(NEW.connector_id,
                                           CASE WHEN NEW.source_kind = 'connector' THEN NEW.source_id END)
            AND si.status = 'active'))
    END), NEW.connector_id,
      CASE NEW.event_type
        WHEN 'run.started' THEN coalesce(NEW.status, 'running')
        WHEN 'run.completed' THEN coalesce(NEW.status, 'succeeded')
        WHEN 'run.failed' THEN coalesce(NEW.status, 'failed')
        WHEN 'run.cancelled' THEN coalesce(NEW.status, 'cancelled')
        WHEN 'run.browser_surface_failed' THEN coalesce(NEW.status, 'surface_failed')
        ELSE 'running' END,
      CASE WHEN NEW.event_type = 'run.started' THEN NEW.occurred_at END,
      CASE WHEN NEW.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN NEW.occurred_at END,
      NEW.occurred_at,
      CASE WHEN NEW.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN NEW.data_json->>'failure_reason' END,
      CASE WHEN NEW.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN NEW.data_json->>'terminal_reason' END,
      NEW.data_json->'browser_surface'->>'profile_key',
      NEW.data_json->'browser_surface'->>'status',
      NEW.data_json->'browser_surface'->>'wait_reason',
      CASE WHEN json_type(NEW.data_json->'collection_facts'->'streams') = 'array'
           THEN json(NEW.data_json->'collection_facts'->'streams') END,
      CASE WHEN NEW.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN NEW.event_seq END,
      CASE WHEN json_type(NEW.data_json->'browser_surface') = 'object' THEN NEW.event_seq END,
      CASE WHEN json_type(NEW.data_json->'collection_facts'->'streams') = 'array' THEN NEW.event_seq END,
      NEW.event_seq
    WHERE (CASE
      WHEN nullif(NEW.data_json->'browser_surface'->>'profile_key', '') IS NOT NULL THEN
        (SELECT CASE WHEN count(*) = 1 THEN max(pe.connector_instance_id) END
           FROM pyref_evidence pe
          WHERE pe.expected_profile_key = NEW.data_json->'browser_surface'->>'profile_key')
      WHEN coalesce(NEW.connector_instance_id, NEW.data_json->>'connection_id',
                    NEW.data_json->>'connector_instance_id') IS NOT NULL THEN
        (SELECT xi.connector_instance_id FROM connector_instances xi
          WHERE xi.connector_instance_id = coalesce(NEW.connector_instance_id,
                                                    NEW.data_json->>'connection_id',
                                                    NEW.data_json->>'connector_instance_id'))
      ELSE coalesce(
        (SELECT CASE WHEN count(*) = 1 THEN max(ar.connector_instance_id) END
           FROM pyref_runs ar WHERE ar.run_id = NEW.run_id),
        (SELECT CASE WHEN count(*) = 1 THEN max(si.connector_instance_id) END
           FROM connector_instances si
          WHERE si.connector_id = coalesce(NEW.connector_id,
                                           CASE WHEN NEW.source_kind = 'connector' THEN NEW.source_id END)
            AND si.status = 'active'))
    END) IS NOT NULL
    ON CONFLICT (run_id, connector_instance_id) DO UPDATE SET
      connector_id = coalesce(pyref_runs.connector_id, excluded.connector_id),
      status = CASE
        WHEN excluded.settled_seq IS NOT NULL
          THEN CASE WHEN pyref_runs.settled_seq IS NULL OR excluded.settled_seq > pyref_runs.settled_seq
                    THEN excluded.status ELSE pyref_runs.status END
        WHEN pyref_runs.settled_seq IS NULL AND excluded.started_at IS NOT NULL THEN excluded.status
        ELSE pyref_runs.status END,
      started_at = CASE WHEN excluded.started_at IS NOT NULL
                         AND (pyref_runs.started_at IS NULL OR excluded.started_at < pyref_runs.started_at)
                        THEN excluded.started_at ELSE pyref_runs.started_at END,
      completed_at = CASE WHEN excluded.settled_seq > coalesce(pyref_runs.settled_seq, -1)
                  THEN excluded.completed_at ELSE pyref_runs.completed_at END,
      failure_reason = CASE WHEN excluded.settled_seq > coalesce(pyref_runs.settled_seq, -1)
                  THEN excluded.failure_reason ELSE pyref_runs.failure_reason END,
      terminal_reason = CASE WHEN excluded.settled_seq > coalesce(pyref_runs.settled_seq, -1)
                  THEN excluded.terminal_reason ELSE pyref_runs.terminal_reason END,
      settled_seq = CASE WHEN excluded.settled_seq > coalesce(pyref_runs.settled_seq, -1)
                         THEN excluded.settled_seq ELSE pyref_runs.settled_seq END,
      first_event_at = CASE WHEN excluded.first_event_at < pyref_runs.first_event_at
                            THEN excluded.first_event_at ELSE pyref_runs.first_event_at END,
      surface_profile_key = CASE WHEN excluded.surface_seq > coalesce(pyref_runs.surface_seq, -1)
                  THEN coalesce(excluded.surface_profile_key, pyref_runs.surface_profile_key) ELSE coalesce(pyref_runs.surface_profile_key, excluded.surface_profile_key) END,
      surface_status = CASE WHEN excluded.surface_seq > coalesce(pyref_runs.surface_seq, -1)
                  THEN coalesce(excluded.surface_status, pyref_runs.surface_status) ELSE coalesce(pyref_runs.surface_status, excluded.surface_status) END,
      surface_wait_reason = CASE WHEN excluded.surface_seq > coalesce(pyref_runs.surface_seq, -1)
                  THEN coalesce(excluded.surface_wait_reason, pyref_runs.surface_wait_reason) ELSE coalesce(pyref_runs.surface_wait_reason, excluded.surface_wait_reason) END,
      surface_seq = CASE WHEN excluded.surface_seq > coalesce(pyref_runs.surface_seq, -1)
                         THEN excluded.surface_seq ELSE pyref_runs.surface_seq END,
      collection_facts = CASE WHEN excluded.facts_seq > coalesce(pyref_runs.facts_seq, -1)
                              THEN excluded.collection_facts ELSE pyref_runs.collection_facts END,
      facts_seq = CASE WHEN excluded.facts_seq > coalesce(pyref_runs.facts_seq, -1)
                       THEN excluded.facts_seq ELSE pyref_runs.facts_seq END,
      last_event_seq = CASE WHEN excluded.last_event_seq > pyref_runs.last_event_seq
                            THEN excluded.last_event_seq ELSE pyref_runs.last_event_seq END;
    INSERT INTO pyref_dirty (connector_instance_id)
    SELECT m.id FROM (SELECT (SELECT pr.connector_instance_id FROM pyref_runs pr WHERE pr.run_id = NEW.run_id AND pr.last_event_seq = NEW.event_seq) AS id) m
     WHERE m.id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

CREATE TRIGGER IF NOT EXISTS pyref_100_spine_no_update BEFORE UPDATE ON spine_events
BEGIN
    SELECT RAISE(ABORT, 'spine_events is append-only: insert a new event instead of updating one');
END;

CREATE TRIGGER IF NOT EXISTS pyref_500_connectors_insert AFTER INSERT ON connectors
BEGIN
    INSERT INTO pyref_connector_digest (connector_id, display_name, streams, refresh_policy, profile_base)
    SELECT NEW.connector_id,
       NEW.manifest->>'display_name',
       CASE WHEN json_type(NEW.manifest->'streams') = 'array' THEN (SELECT coalesce(json_group_array(json_object('name', st.value->>'name', 'required', json(st.value->'required'))), '[]')
   FROM (SELECT value FROM json_each(NEW.manifest->'streams') ORDER BY key) AS st
  WHERE json_type(st.value) = 'object') END,
       json(NEW.manifest->'capabilities'->'refresh_policy'),
       coalesce(nullif(NEW.manifest->'capabilities'->'browser_surface'->>'profile_key', ''), NEW.connector_id)
    WHERE true
    ON CONFLICT (connector_id) DO UPDATE SET display_name = excluded.display_name,
        streams = excluded.streams, refresh_policy = excluded.refresh_policy,
        profile_base = excluded.profile_base;
END;

CREATE TRIGGER IF NOT EXISTS pyref_500_connectors_update AFTER UPDATE ON connectors
BEGIN
    INSERT INTO pyref_connector_digest (connector_id, display_name, streams, refresh_policy, profile_base)
    SELECT NEW.connector_id,
       NEW.manifest->>'display_name',
       CASE WHEN json_type(NEW.manifest->'streams') = 'array' THEN (SELECT coalesce(json_group_array(json_object('name', st.value->>'name', 'required', json(st.value->'required'))), '[]')
   FROM (SELECT value FROM json_each(NEW.manifest->'streams') ORDER BY key) AS st
  WHERE json_type(st.value) = 'object') END,
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

CREATE TRIGGER IF NOT EXISTS pyref_500_instances_insert AFTER INSERT ON connector_instances
BEGIN
    INSERT INTO pyref_evidence (connector_instance_id, expected_profile_key)
    SELECT ci.connector_instance_id, CASE WHEN ci.connector_instance_id = ci.connector_id THEN g.profile_base
     ELSE g.profile_base || ':' || ci.connector_instance_id END
      FROM connector_instances ci JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
     WHERE ci.connector_instance_id = NEW.connector_instance_id
    ON CONFLICT (connector_instance_id) DO UPDATE SET expected_profile_key = excluded.expected_profile_key;
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT NEW.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

CREATE TRIGGER IF NOT EXISTS pyref_500_instances_update AFTER UPDATE ON connector_instances
WHEN (OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id OR OLD.connector_id IS DISTINCT FROM NEW.connector_id OR OLD.status IS DISTINCT FROM NEW.status)
BEGIN
    UPDATE pyref_evidence SET expected_profile_key = (
        SELECT CASE WHEN ci.connector_instance_id = ci.connector_id THEN g.profile_base
     ELSE g.profile_base || ':' || ci.connector_instance_id END
          FROM connector_instances ci JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
         WHERE ci.connector_instance_id = NEW.connector_instance_id)
     WHERE connector_instance_id = NEW.connector_instance_id;
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT NEW.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

CREATE TRIGGER IF NOT EXISTS pyref_500_instances_delete AFTER DELETE ON connector_instances
BEGIN
    DELETE FROM pyref_dirty WHERE connector_instance_id = OLD.connector_instance_id;
END;

CREATE TRIGGER IF NOT EXISTS pyref_500_connector_schedules_insert AFTER INSERT ON connector_schedules
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT NEW.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

CREATE TRIGGER IF NOT EXISTS pyref_500_connector_schedules_update AFTER UPDATE ON connector_schedules
WHEN (OLD.interval_seconds IS DISTINCT FROM NEW.interval_seconds OR OLD.enabled IS DISTINCT FROM NEW.enabled OR OLD.consecutive_failures IS DISTINCT FROM NEW.consecutive_failures OR OLD.next_run_at IS DISTINCT FROM NEW.next_run_at OR OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id)
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

CREATE TRIGGER IF NOT EXISTS pyref_500_connector_schedules_delete AFTER DELETE ON connector_schedules
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT OLD.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

CREATE TRIGGER IF NOT EXISTS pyref_500_connector_detail_gaps_insert AFTER INSERT ON connector_detail_gaps
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT NEW.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

CREATE TRIGGER IF NOT EXISTS pyref_500_connector_detail_gaps_update AFTER UPDATE ON connector_detail_gaps
WHEN (OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id OR OLD.stream IS DISTINCT FROM NEW.stream OR OLD.status IS DISTINCT FROM NEW.status OR OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id)
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

CREATE TRIGGER IF NOT EXISTS pyref_500_connector_detail_gaps_delete AFTER DELETE ON connector_detail_gaps
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT OLD.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

CREATE TRIGGER IF NOT EXISTS pyref_500_connector_attention_records_insert AFTER INSERT ON connector_attention_records
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT NEW.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

CREATE TRIGGER IF NOT EXISTS pyref_500_connector_attention_records_update AFTER UPDATE ON connector_attention_records
WHEN (OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id OR OLD.reason_code IS DISTINCT FROM NEW.reason_code OR OLD.owner_action IS DISTINCT FROM NEW.owner_action OR OLD.lifecycle IS DISTINCT FROM NEW.lifecycle OR OLD.response_required IS DISTINCT FROM NEW.response_required OR OLD.expires_at IS DISTINCT FROM NEW.expires_at OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id)
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

CREATE TRIGGER IF NOT EXISTS pyref_500_connector_attention_records_delete AFTER DELETE ON connector_attention_records
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT OLD.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

-- Backfill: canonical rows written before this migration (re-runnable).
INSERT INTO pyref_connector_digest (connector_id, display_name, streams, refresh_policy, profile_base)
SELECT c.connector_id,
       c.manifest->>'display_name',
       CASE WHEN json_type(c.manifest->'streams') = 'array' THEN (SELECT coalesce(json_group_array(json_object('name', st.value->>'name', 'required', json(st.value->'required'))), '[]')
   FROM (SELECT value FROM json_each(c.manifest->'streams') ORDER BY key) AS st
  WHERE json_type(st.value) = 'object') END,
       json(c.manifest->'capabilities'->'refresh_policy'),
       coalesce(nullif(c.manifest->'capabilities'->'browser_surface'->>'profile_key', ''), c.connector_id) FROM connectors c
WHERE true
ON CONFLICT (connector_id) DO NOTHING;
INSERT INTO pyref_evidence (connector_instance_id, expected_profile_key)
SELECT ci.connector_instance_id, CASE WHEN ci.connector_instance_id = ci.connector_id THEN g.profile_base
     ELSE g.profile_base || ':' || ci.connector_instance_id END
  FROM connector_instances ci JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
 WHERE true
ON CONFLICT (connector_instance_id) DO NOTHING;
INSERT INTO pyref_dirty (connector_instance_id)
SELECT e.connector_instance_id FROM pyref_evidence e WHERE e.state = 'pending'
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = e.connector_instance_id);
