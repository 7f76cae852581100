-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0011_run_projection
-- pyreference 0012: the original system's semantics (SPEC-SEMANTICS).
-- * Detail gaps may be `in_progress`; attention may be `cancelled` or `superseded`
--   (CHECKs only widen; no row changes).
-- * The connector digest gains what summaries now read from a manifest: the display
--   name (a non-empty string only), the version, whether a browser binding is
--   required, and each stream's coverage and freshness declarations.
-- * The evidence view adds, per connection: pending gaps grouped by retry time and
--   reason, in-progress gap counts, facts' `covered`/`skipped` with their run's finish
--   time (settled runs only; a `disabled` checkpoint proves coverage like `committed`).
--   Runs keep 0011's shape (with the settling event's `known_gaps`).
-- * Readers' recompute function follows the new view; rebuild is pyref_rebuild_v3
--   (the digest's new fields, then 0011's pyref_rebuild_v2).
-- Every evidence row is recomputed here, so `verify()` is clean right after.
-- SQLite widens a CHECK by rebuilding the table: the view that reads it goes first,
-- and the table's index, dirty-marking (0003) and timestamp (0008) triggers are made again.
DROP VIEW IF EXISTS pyref_evidence_source;

CREATE TABLE IF NOT EXISTS pyref_0012_detail_gaps (
    gap_id text PRIMARY KEY,
    connector_instance_id text NOT NULL REFERENCES connector_instances (connector_instance_id),
    stream text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'in_progress', 'recovered', 'terminal')),
    reason text,
    next_attempt_after TEXT CHECK (next_attempt_after IS NULL OR next_attempt_after GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at IS NULL OR updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
);
INSERT INTO pyref_0012_detail_gaps (gap_id, connector_instance_id, stream, status, reason, next_attempt_after, updated_at)
SELECT gap_id, connector_instance_id, stream, status, reason, next_attempt_after, updated_at FROM connector_detail_gaps;
DROP TABLE connector_detail_gaps;
ALTER TABLE pyref_0012_detail_gaps RENAME TO connector_detail_gaps;
CREATE INDEX IF NOT EXISTS connector_detail_gaps_instance_idx
    ON connector_detail_gaps (connector_instance_id, status, stream);
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

CREATE TABLE IF NOT EXISTS pyref_0012_attention_records (
    attention_id text PRIMARY KEY,
    connector_instance_id text NOT NULL REFERENCES connector_instances (connector_instance_id),
    reason_code text NOT NULL,
    owner_action text,
    lifecycle text NOT NULL DEFAULT 'open'
        CHECK (lifecycle IN ('open', 'acknowledged', 'in_progress', 'resolved', 'expired', 'cancelled', 'superseded')),
    response_required INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT CHECK (expires_at IS NULL OR expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at IS NULL OR created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at IS NULL OR updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
);
INSERT INTO pyref_0012_attention_records (attention_id, connector_instance_id, reason_code, owner_action, lifecycle,
                                          response_required, expires_at, created_at, updated_at)
SELECT attention_id, connector_instance_id, reason_code, owner_action, lifecycle,
       response_required, expires_at, created_at, updated_at FROM connector_attention_records;
DROP TABLE connector_attention_records;
ALTER TABLE pyref_0012_attention_records RENAME TO connector_attention_records;
CREATE INDEX IF NOT EXISTS connector_attention_records_instance_idx
    ON connector_attention_records (connector_instance_id, lifecycle);
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

ALTER TABLE pyref_connector_digest ADD COLUMN connector_display_name text;
ALTER TABLE pyref_connector_digest ADD COLUMN manifest_version text;
ALTER TABLE pyref_connector_digest ADD COLUMN browser_required INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pyref_connector_digest ADD COLUMN declarations TEXT;

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
  'collection_facts', json(r.collection_facts),
  'known_gaps', json(r.known_gaps)) FROM pyref_runs r
  WHERE r.connector_instance_id = ci.connector_instance_id
  ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_run,
  (SELECT json_object('run_id', r.run_id, 'status', r.status,
  'started_at', r.started_at, 'finished_at', r.completed_at,
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', json(r.collection_facts),
  'known_gaps', json(r.known_gaps)) FROM pyref_runs r
  WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'succeeded'
  ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_successful_run,
  (SELECT json_object('run_id', r.run_id, 'status', r.status,
  'started_at', r.started_at, 'finished_at', r.completed_at,
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', json(r.collection_facts),
  'known_gaps', json(r.known_gaps)) FROM pyref_runs r
  WHERE r.connector_instance_id = ci.connector_instance_id AND r.settled_seq IS NOT NULL AND r.status <> 'skipped'
  ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_settled_run,
  (SELECT count(*) FROM pyref_runs r
    WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'failed'
      AND NOT EXISTS (SELECT 1 FROM pyref_runs s
                       WHERE s.connector_instance_id = r.connector_instance_id
                         AND s.status = 'succeeded' AND s.order_at >= r.order_at)) AS failures_since_success,(SELECT coalesce(json_group_array(json(f.fact)), '[]')
     FROM (SELECT x.stream, x.fact
             FROM (SELECT e.value->>'stream' AS stream,
                          json_object('stream', e.value->>'stream', 'checkpoint', e.value->>'checkpoint', 'collected', json(e.value->'collected'), 'considered', json(e.value->'considered'), 'covered', json(e.value->'covered'), 'pending_detail_gaps', json(e.value->'pending_detail_gaps'), 'skipped', json(e.value->'skipped'),
                                        'run_id', r.run_id, 'finished_at', r.completed_at) AS fact,
                          row_number() OVER (
                            PARTITION BY e.value->>'stream'
                            ORDER BY CASE WHEN e.value->>'checkpoint' IN ('committed', 'disabled') THEN 0 ELSE 1 END,
                                     r.order_at DESC, r.run_id DESC) AS rn
                     FROM pyref_runs r, json_each(r.collection_facts) AS e
                    WHERE r.connector_instance_id = ci.connector_instance_id
                      AND r.collection_facts IS NOT NULL AND r.settled_seq IS NOT NULL
                      -- (a CASE, so no JSON function ever reads an element that is no object)
                      AND CASE WHEN e.type = 'object'
                               THEN CASE WHEN json_type(e.value, '$.stream') = 'text' THEN nullif(e.value->>'stream', '') END END IS NOT NULL) x
            WHERE x.rn = 1 ORDER BY x.stream) f) AS stream_facts,(SELECT coalesce(json_group_array(json(json_object('stream', gs.stream, 'pending', json(gs.pending), 'in_progress', gs.in_progress, 'terminal', gs.terminal))), '[]')
     FROM (SELECT dg.stream,
                  (SELECT coalesce(json_group_array(json(json_object('after', p.after, 'reason', p.reason, 'n', p.n))), '[]')
                     FROM (SELECT pg.next_attempt_after AS after, pg.reason, count(*) AS n
                             FROM connector_detail_gaps pg
                            WHERE pg.connector_instance_id = ci.connector_instance_id
                              AND pg.stream = dg.stream AND pg.status = 'pending'
                            GROUP BY pg.next_attempt_after, pg.reason
                            ORDER BY pg.next_attempt_after IS NOT NULL, pg.next_attempt_after,
                                     pg.reason IS NOT NULL, pg.reason) p) AS pending,
                  count(*) FILTER (WHERE dg.status = 'in_progress') AS in_progress,
                  count(*) FILTER (WHERE dg.status = 'terminal') AS terminal
             FROM connector_detail_gaps dg
            WHERE dg.connector_instance_id = ci.connector_instance_id
              AND dg.status IN ('pending', 'in_progress', 'terminal')
            GROUP BY dg.stream ORDER BY dg.stream) gs) AS gap_counts,
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

CREATE TRIGGER IF NOT EXISTS pyref_510_connectors_profile_insert AFTER INSERT ON connectors
BEGIN
    INSERT INTO pyref_connector_digest (connector_id, profile_base, connector_display_name, manifest_version,
                                        browser_required, declarations)
    SELECT c.connector_id,
           coalesce(nullif(c.manifest->'capabilities'->'browser_surface'->>'profile_key', ''), c.connector_id),
           CASE WHEN json_type(c.manifest, '$.display_name') = 'text' THEN nullif(c.manifest->>'display_name', '') END,
           CASE WHEN json_type(c.manifest, '$.version') = 'text' THEN nullif(c.manifest->>'version', '') END,
           coalesce(json_type(c.manifest, '$.runtime_requirements.bindings.browser.required') = 'true', 0),
           CASE WHEN json_type(c.manifest->'streams') = 'array' THEN (SELECT coalesce(json_group_array(json_object('name', CASE WHEN json_type(st.value, '$.name') = 'text' THEN st.value->>'name' END, 'required', json(st.value->'required'), 'coverage_strategy', json(st.value->'coverage_strategy'), 'freshness_strategy', json(st.value->'freshness_strategy'), 'coverage_policy', json(st.value->'coverage_policy'))), '[]')
       FROM (SELECT type, value FROM json_each(c.manifest->'streams') ORDER BY key) AS st
      WHERE st.type = 'object') END
      FROM (SELECT NEW.connector_id AS connector_id, NEW.manifest AS manifest) c WHERE true
    ON CONFLICT (connector_id) DO UPDATE SET connector_display_name = excluded.connector_display_name,
        manifest_version = excluded.manifest_version, browser_required = excluded.browser_required,
        declarations = excluded.declarations;
END;

CREATE TRIGGER IF NOT EXISTS pyref_510_connectors_profile_update AFTER UPDATE ON connectors
BEGIN
    INSERT INTO pyref_connector_digest (connector_id, profile_base, connector_display_name, manifest_version,
                                        browser_required, declarations)
    SELECT c.connector_id,
           coalesce(nullif(c.manifest->'capabilities'->'browser_surface'->>'profile_key', ''), c.connector_id),
           CASE WHEN json_type(c.manifest, '$.display_name') = 'text' THEN nullif(c.manifest->>'display_name', '') END,
           CASE WHEN json_type(c.manifest, '$.version') = 'text' THEN nullif(c.manifest->>'version', '') END,
           coalesce(json_type(c.manifest, '$.runtime_requirements.bindings.browser.required') = 'true', 0),
           CASE WHEN json_type(c.manifest->'streams') = 'array' THEN (SELECT coalesce(json_group_array(json_object('name', CASE WHEN json_type(st.value, '$.name') = 'text' THEN st.value->>'name' END, 'required', json(st.value->'required'), 'coverage_strategy', json(st.value->'coverage_strategy'), 'freshness_strategy', json(st.value->'freshness_strategy'), 'coverage_policy', json(st.value->'coverage_policy'))), '[]')
       FROM (SELECT type, value FROM json_each(c.manifest->'streams') ORDER BY key) AS st
      WHERE st.type = 'object') END
      FROM (SELECT NEW.connector_id AS connector_id, NEW.manifest AS manifest) c WHERE true
    ON CONFLICT (connector_id) DO UPDATE SET connector_display_name = excluded.connector_display_name,
        manifest_version = excluded.manifest_version, browser_required = excluded.browser_required,
        declarations = excluded.declarations;
END;

INSERT INTO pyref_connector_digest (connector_id, profile_base, connector_display_name, manifest_version,
                                    browser_required, declarations)
SELECT c.connector_id,
       coalesce(nullif(c.manifest->'capabilities'->'browser_surface'->>'profile_key', ''), c.connector_id),
       CASE WHEN json_type(c.manifest, '$.display_name') = 'text' THEN nullif(c.manifest->>'display_name', '') END,
       CASE WHEN json_type(c.manifest, '$.version') = 'text' THEN nullif(c.manifest->>'version', '') END,
       coalesce(json_type(c.manifest, '$.runtime_requirements.bindings.browser.required') = 'true', 0),
       CASE WHEN json_type(c.manifest->'streams') = 'array' THEN (SELECT coalesce(json_group_array(json_object('name', CASE WHEN json_type(st.value, '$.name') = 'text' THEN st.value->>'name' END, 'required', json(st.value->'required'), 'coverage_strategy', json(st.value->'coverage_strategy'), 'freshness_strategy', json(st.value->'freshness_strategy'), 'coverage_policy', json(st.value->'coverage_policy'))), '[]')
   FROM (SELECT type, value FROM json_each(c.manifest->'streams') ORDER BY key) AS st
  WHERE st.type = 'object') END
  FROM connectors c WHERE true
ON CONFLICT (connector_id) DO UPDATE SET connector_display_name = excluded.connector_display_name,
    manifest_version = excluded.manifest_version, browser_required = excluded.browser_required,
    declarations = excluded.declarations;
INSERT INTO pyref_evidence AS e (connector_instance_id, expected_profile_key, stream_stats, latest_run, latest_successful_run, latest_settled_run, failures_since_success, stream_facts, gap_counts, schedule, open_attention,
                                 state, computed_at, revision, last_error)
SELECT s.connector_instance_id, s.expected_profile_key, s.stream_stats, s.latest_run, s.latest_successful_run, s.latest_settled_run, s.failures_since_success, s.stream_facts, s.gap_counts, s.schedule, s.open_attention, 'ok', strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'), 1, NULL
  FROM pyref_evidence_source s
 WHERE true
ON CONFLICT (connector_instance_id) DO UPDATE SET
  expected_profile_key = excluded.expected_profile_key,
  stream_stats = excluded.stream_stats,
  latest_run = excluded.latest_run,
  latest_successful_run = excluded.latest_successful_run,
  latest_settled_run = excluded.latest_settled_run,
  failures_since_success = excluded.failures_since_success,
  stream_facts = excluded.stream_facts,
  gap_counts = excluded.gap_counts,
  schedule = excluded.schedule,
  open_attention = excluded.open_attention,
  state = 'ok', computed_at = excluded.computed_at, revision = e.revision + 1, last_error = NULL;
