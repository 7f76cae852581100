-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0002_read_model
-- pyreference 0003: triggers that keep the read model right whoever writes (R4, R5).
-- Writes to records and the spine only append to pyref_dirty (and fold run
-- events into pyref_runs); evidence rows are recomputed lazily by reconcile,
-- and on the fly by reads of dirty rows. Trigger names carry a numeric prefix
-- because Postgres fires same-event triggers in name order.

-- records: statement-level, one append per touched connection per statement.
CREATE OR REPLACE FUNCTION pyref_records_inserted_v1() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
    SELECT DISTINCT connector_instance_id FROM new_rows;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION pyref_records_updated_v1() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    -- Only rows whose evidence-relevant columns changed mark their connection.
    INSERT INTO pyref_dirty (connector_instance_id)
    SELECT DISTINCT c.connector_instance_id FROM (
        SELECT n.connector_instance_id
          FROM new_rows n
          LEFT JOIN old_rows o ON o.connector_instance_id = n.connector_instance_id
                              AND o.stream = n.stream AND o.record_key = n.record_key
         WHERE o.connector_instance_id IS NULL
            OR o.record_json IS DISTINCT FROM n.record_json
            OR o.deleted IS DISTINCT FROM n.deleted
            OR o.emitted_at IS DISTINCT FROM n.emitted_at
        UNION ALL
        SELECT o.connector_instance_id
          FROM old_rows o
          LEFT JOIN new_rows n ON o.connector_instance_id = n.connector_instance_id
                              AND o.stream = n.stream AND o.record_key = n.record_key
         WHERE n.connector_instance_id IS NULL
    ) c;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION pyref_records_deleted_v1() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
    SELECT DISTINCT connector_instance_id FROM old_rows;
    RETURN NULL;
END
$$;

-- Row triggers never see TRUNCATE: mark every connection.
CREATE OR REPLACE FUNCTION pyref_mark_all_dirty_v1() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
    SELECT connector_instance_id FROM connector_instances;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS pyref_500_records_insert ON records;
CREATE TRIGGER pyref_500_records_insert AFTER INSERT ON records
    REFERENCING NEW TABLE new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pyref_records_inserted_v1();
DROP TRIGGER IF EXISTS pyref_500_records_update ON records;
CREATE TRIGGER pyref_500_records_update AFTER UPDATE ON records
    REFERENCING OLD TABLE old_rows NEW TABLE new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pyref_records_updated_v1();
DROP TRIGGER IF EXISTS pyref_500_records_delete ON records;
CREATE TRIGGER pyref_500_records_delete AFTER DELETE ON records
    REFERENCING OLD TABLE old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pyref_records_deleted_v1();
DROP TRIGGER IF EXISTS pyref_500_records_truncate ON records;
CREATE TRIGGER pyref_500_records_truncate AFTER TRUNCATE ON records
    FOR EACH STATEMENT EXECUTE FUNCTION pyref_mark_all_dirty_v1();

-- spine_events: fold run-bearing events into pyref_runs, in log order within
-- the statement (a later event of a run inherits the attribution of an earlier
-- one in the same batch), each event attributed once, here.
CREATE OR REPLACE FUNCTION pyref_project_run_event_v1(ev spine_events) RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_cid text;
BEGIN
    v_cid := (CASE
      WHEN nullif(ev.data_json->'browser_surface'->>'profile_key', '') IS NOT NULL THEN
        (SELECT CASE WHEN count(*) = 1 THEN max(pe.connector_instance_id) END
           FROM pyref_evidence pe
          WHERE pe.expected_profile_key = ev.data_json->'browser_surface'->>'profile_key')
      WHEN coalesce(ev.connector_instance_id, ev.data_json->>'connection_id',
                    ev.data_json->>'connector_instance_id') IS NOT NULL THEN
        (SELECT xi.connector_instance_id FROM connector_instances xi
          WHERE xi.connector_instance_id = coalesce(ev.connector_instance_id,
                                                    ev.data_json->>'connection_id',
                                                    ev.data_json->>'connector_instance_id'))
      ELSE coalesce(
        (SELECT CASE WHEN count(*) = 1 THEN max(ar.connector_instance_id) END
           FROM pyref_runs ar WHERE ar.run_id = ev.run_id),
        (SELECT CASE WHEN count(*) = 1 THEN max(si.connector_instance_id) END
           FROM connector_instances si
          WHERE si.connector_id = coalesce(ev.connector_id,
                                           CASE WHEN ev.source_kind = 'connector' THEN ev.source_id END)
            AND si.status = 'active'))
    END);
    IF v_cid IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO pyref_runs (
      run_id, connector_instance_id, connector_id, status, started_at, completed_at, first_event_at,
      failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason,
      collection_facts, settled_seq, surface_seq, facts_seq, last_event_seq)
    SELECT ev.run_id, v_cid, ev.connector_id,
      CASE ev.event_type
        WHEN 'run.started' THEN coalesce(ev.status, 'running')
        WHEN 'run.completed' THEN coalesce(ev.status, 'succeeded')
        WHEN 'run.failed' THEN coalesce(ev.status, 'failed')
        WHEN 'run.cancelled' THEN coalesce(ev.status, 'cancelled')
        WHEN 'run.browser_surface_failed' THEN coalesce(ev.status, 'surface_failed')
        ELSE 'running' END,
      CASE WHEN ev.event_type = 'run.started' THEN ev.occurred_at END,
      CASE WHEN ev.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN ev.occurred_at END,
      ev.occurred_at,
      CASE WHEN ev.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN ev.data_json->>'failure_reason' END,
      CASE WHEN ev.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN ev.data_json->>'terminal_reason' END,
      ev.data_json->'browser_surface'->>'profile_key',
      ev.data_json->'browser_surface'->>'status',
      ev.data_json->'browser_surface'->>'wait_reason',
      CASE WHEN jsonb_typeof(ev.data_json->'collection_facts'->'streams') = 'array'
           THEN ev.data_json->'collection_facts'->'streams' END,
      CASE WHEN ev.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN ev.event_seq END,
      CASE WHEN jsonb_typeof(ev.data_json->'browser_surface') = 'object' THEN ev.event_seq END,
      CASE WHEN jsonb_typeof(ev.data_json->'collection_facts'->'streams') = 'array' THEN ev.event_seq END,
      ev.event_seq
    WHERE v_cid IS NOT NULL
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
    INSERT INTO pyref_dirty (connector_instance_id) VALUES (v_cid);
    RETURN v_cid;
END
$$;

CREATE OR REPLACE FUNCTION pyref_spine_inserted_v1() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    ev spine_events;
BEGIN
    FOR ev IN
        SELECT * FROM new_rows
         WHERE event_type LIKE 'run.%' AND run_id IS NOT NULL
         ORDER BY event_seq
    LOOP
        PERFORM pyref_project_run_event_v1(ev);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION pyref_spine_append_only_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'spine_events is append-only: insert a new event instead of updating one'
        USING ERRCODE = 'restrict_violation';
END
$$;

DROP TRIGGER IF EXISTS pyref_500_spine_insert ON spine_events;
CREATE TRIGGER pyref_500_spine_insert AFTER INSERT ON spine_events
    REFERENCING NEW TABLE new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pyref_spine_inserted_v1();
DROP TRIGGER IF EXISTS pyref_100_spine_no_update ON spine_events;
CREATE TRIGGER pyref_100_spine_no_update BEFORE UPDATE ON spine_events
    FOR EACH STATEMENT EXECUTE FUNCTION pyref_spine_append_only_v1();

-- connectors: keep the digest and the expected profile keys current.
CREATE OR REPLACE FUNCTION pyref_connector_changed_v1() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO pyref_connector_digest (connector_id, display_name, streams, refresh_policy, profile_base)
    SELECT NEW.connector_id,
       NEW.manifest->>'display_name',
       CASE WHEN jsonb_typeof(NEW.manifest->'streams') = 'array' THEN (SELECT coalesce(jsonb_agg(jsonb_build_object('name', st.value->>'name', 'required', st.value->'required')
                           ORDER BY st.ord), '[]'::jsonb)
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
    FOR EACH ROW EXECUTE FUNCTION pyref_connector_changed_v1();

-- connections: an evidence row from birth, so attribution by profile key
-- works at once; a change of connector or status marks the row.
CREATE OR REPLACE FUNCTION pyref_instance_changed_v1() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM pyref_dirty WHERE connector_instance_id = OLD.connector_instance_id;
        RETURN NULL;
    END IF;
    INSERT INTO pyref_evidence AS e (connector_instance_id, expected_profile_key)
    SELECT ci.connector_instance_id, CASE WHEN ci.connector_instance_id = ci.connector_id THEN g.profile_base
     ELSE g.profile_base || ':' || ci.connector_instance_id END
      FROM connector_instances ci JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
     WHERE ci.connector_instance_id = NEW.connector_instance_id
    ON CONFLICT (connector_instance_id) DO UPDATE SET expected_profile_key = excluded.expected_profile_key
     WHERE e.expected_profile_key IS DISTINCT FROM excluded.expected_profile_key;  -- no needless row lock
    INSERT INTO pyref_dirty (connector_instance_id) VALUES (NEW.connector_instance_id);
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS pyref_500_instances_insert ON connector_instances;
CREATE TRIGGER pyref_500_instances_insert AFTER INSERT ON connector_instances
    FOR EACH ROW EXECUTE FUNCTION pyref_instance_changed_v1();
DROP TRIGGER IF EXISTS pyref_500_instances_update ON connector_instances;
CREATE TRIGGER pyref_500_instances_update AFTER UPDATE ON connector_instances
    FOR EACH ROW WHEN (OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id OR OLD.connector_id IS DISTINCT FROM NEW.connector_id OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION pyref_instance_changed_v1();
DROP TRIGGER IF EXISTS pyref_500_instances_delete ON connector_instances;
CREATE TRIGGER pyref_500_instances_delete AFTER DELETE ON connector_instances
    FOR EACH ROW EXECUTE FUNCTION pyref_instance_changed_v1();

-- schedules, detail gaps, attention: low-volume row triggers.
CREATE OR REPLACE FUNCTION pyref_child_changed_v1() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO pyref_dirty (connector_instance_id) VALUES (OLD.connector_instance_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id) THEN
        INSERT INTO pyref_dirty (connector_instance_id) VALUES (NEW.connector_instance_id);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS pyref_500_connector_schedules_insert_delete ON connector_schedules;
CREATE TRIGGER pyref_500_connector_schedules_insert_delete AFTER INSERT OR DELETE ON connector_schedules
    FOR EACH ROW EXECUTE FUNCTION pyref_child_changed_v1();
DROP TRIGGER IF EXISTS pyref_500_connector_schedules_update ON connector_schedules;
CREATE TRIGGER pyref_500_connector_schedules_update AFTER UPDATE ON connector_schedules
    FOR EACH ROW WHEN (OLD.interval_seconds IS DISTINCT FROM NEW.interval_seconds OR OLD.enabled IS DISTINCT FROM NEW.enabled OR OLD.consecutive_failures IS DISTINCT FROM NEW.consecutive_failures OR OLD.next_run_at IS DISTINCT FROM NEW.next_run_at OR OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id)
    EXECUTE FUNCTION pyref_child_changed_v1();
DROP TRIGGER IF EXISTS pyref_500_connector_schedules_truncate ON connector_schedules;
CREATE TRIGGER pyref_500_connector_schedules_truncate AFTER TRUNCATE ON connector_schedules
    FOR EACH STATEMENT EXECUTE FUNCTION pyref_mark_all_dirty_v1();

DROP TRIGGER IF EXISTS pyref_500_connector_detail_gaps_insert_delete ON connector_detail_gaps;
CREATE TRIGGER pyref_500_connector_detail_gaps_insert_delete AFTER INSERT OR DELETE ON connector_detail_gaps
    FOR EACH ROW EXECUTE FUNCTION pyref_child_changed_v1();
DROP TRIGGER IF EXISTS pyref_500_connector_detail_gaps_update ON connector_detail_gaps;
CREATE TRIGGER pyref_500_connector_detail_gaps_update AFTER UPDATE ON connector_detail_gaps
    FOR EACH ROW WHEN (OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id OR OLD.stream IS DISTINCT FROM NEW.stream OR OLD.status IS DISTINCT FROM NEW.status OR OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id)
    EXECUTE FUNCTION pyref_child_changed_v1();
DROP TRIGGER IF EXISTS pyref_500_connector_detail_gaps_truncate ON connector_detail_gaps;
CREATE TRIGGER pyref_500_connector_detail_gaps_truncate AFTER TRUNCATE ON connector_detail_gaps
    FOR EACH STATEMENT EXECUTE FUNCTION pyref_mark_all_dirty_v1();

DROP TRIGGER IF EXISTS pyref_500_connector_attention_records_insert_delete ON connector_attention_records;
CREATE TRIGGER pyref_500_connector_attention_records_insert_delete AFTER INSERT OR DELETE ON connector_attention_records
    FOR EACH ROW EXECUTE FUNCTION pyref_child_changed_v1();
DROP TRIGGER IF EXISTS pyref_500_connector_attention_records_update ON connector_attention_records;
CREATE TRIGGER pyref_500_connector_attention_records_update AFTER UPDATE ON connector_attention_records
    FOR EACH ROW WHEN (OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id OR OLD.reason_code IS DISTINCT FROM NEW.reason_code OR OLD.owner_action IS DISTINCT FROM NEW.owner_action OR OLD.lifecycle IS DISTINCT FROM NEW.lifecycle OR OLD.response_required IS DISTINCT FROM NEW.response_required OR OLD.expires_at IS DISTINCT FROM NEW.expires_at OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id)
    EXECUTE FUNCTION pyref_child_changed_v1();
DROP TRIGGER IF EXISTS pyref_500_connector_attention_records_truncate ON connector_attention_records;
CREATE TRIGGER pyref_500_connector_attention_records_truncate AFTER TRUNCATE ON connector_attention_records
    FOR EACH STATEMENT EXECUTE FUNCTION pyref_mark_all_dirty_v1();

-- Backfill: canonical rows written before this migration (re-runnable).
INSERT INTO pyref_connector_digest (connector_id, display_name, streams, refresh_policy, profile_base)
SELECT c.connector_id,
       c.manifest->>'display_name',
       CASE WHEN jsonb_typeof(c.manifest->'streams') = 'array' THEN (SELECT coalesce(jsonb_agg(jsonb_build_object('name', st.value->>'name', 'required', st.value->'required')
                           ORDER BY st.ord), '[]'::jsonb)
   FROM jsonb_array_elements(c.manifest->'streams') WITH ORDINALITY AS st(value, ord)
  WHERE jsonb_typeof(st.value) = 'object') END,
       c.manifest->'capabilities'->'refresh_policy',
       coalesce(nullif(c.manifest->'capabilities'->'browser_surface'->>'profile_key', ''), c.connector_id) FROM connectors c
ON CONFLICT (connector_id) DO NOTHING;
INSERT INTO pyref_evidence (connector_instance_id, expected_profile_key)
SELECT ci.connector_instance_id, CASE WHEN ci.connector_instance_id = ci.connector_id THEN g.profile_base
     ELSE g.profile_base || ':' || ci.connector_instance_id END
  FROM connector_instances ci JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
ON CONFLICT (connector_instance_id) DO NOTHING;
DO $$
DECLARE
    ev spine_events;
BEGIN
    FOR ev IN
        SELECT * FROM spine_events e
         WHERE e.event_type LIKE 'run.%' AND e.run_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM pyref_runs r WHERE r.run_id = e.run_id)
         ORDER BY e.event_seq
    LOOP
        PERFORM pyref_project_run_event_v1(ev);
    END LOOP;
END
$$;
INSERT INTO pyref_dirty (connector_instance_id)
SELECT e.connector_instance_id FROM pyref_evidence e WHERE e.state = 'pending'
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = e.connector_instance_id);
