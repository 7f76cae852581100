-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0001_canonical
-- pyreference 0002: the read model (derived, never authoritative).
-- Evidence per connection, the run projection of the spine, a digest of each
-- connector's manifest, and an append-only dirty queue. Everything here can be
-- rebuilt from the canonical tables except pyref_runs, which stores each run's
-- write-time attribution (R3). Rollback drops only these derived objects.

CREATE TABLE IF NOT EXISTS pyref_meta (
    key text PRIMARY KEY,
    value text NOT NULL
);

-- Signs page cursors, so any process sharing the database can continue a page.
INSERT INTO pyref_meta (key, value)
VALUES ('cursor_secret', lower(hex(randomblob(32))))
ON CONFLICT (key) DO NOTHING;

CREATE TABLE IF NOT EXISTS pyref_connector_digest (
    connector_id text PRIMARY KEY REFERENCES connectors (connector_id) ON DELETE CASCADE ON UPDATE CASCADE,
    display_name text,
    streams TEXT,          -- the manifest's `streams` array, NULL when unusable
    refresh_policy TEXT,   -- capabilities.refresh_policy as declared
    profile_base text NOT NULL       -- browser_surface.profile_key, else the connector id
);

CREATE TABLE IF NOT EXISTS pyref_evidence (
    connector_instance_id text PRIMARY KEY
        REFERENCES connector_instances (connector_instance_id) ON DELETE CASCADE ON UPDATE CASCADE,
    expected_profile_key text,
    stream_stats TEXT NOT NULL DEFAULT '[]',
    latest_run TEXT,
    latest_successful_run TEXT,
    latest_settled_run TEXT,
    failures_since_success INTEGER NOT NULL DEFAULT 0,
    stream_facts TEXT NOT NULL DEFAULT '[]',
    gap_counts TEXT NOT NULL DEFAULT '[]',
    schedule TEXT,
    open_attention TEXT NOT NULL DEFAULT '[]',
    -- maintenance
    revision INTEGER NOT NULL DEFAULT 0,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'ok', 'failed')),
    computed_at TEXT CHECK (computed_at IS NULL OR computed_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    last_error text CHECK (last_error IS NULL OR length(last_error) <= 240)
);

-- R3 rule 1: attribution looks connections up by expected profile key.
CREATE INDEX IF NOT EXISTS pyref_evidence_profile_key_idx ON pyref_evidence (expected_profile_key);

CREATE TABLE IF NOT EXISTS pyref_runs (
    run_id text NOT NULL,
    connector_instance_id text NOT NULL
        REFERENCES connector_instances (connector_instance_id) ON DELETE CASCADE ON UPDATE CASCADE,
    connector_id text,
    status text NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    first_event_at TEXT NOT NULL,
    -- R15 order: finish time, else start time (else first sighting)
    order_at TEXT GENERATED ALWAYS AS (coalesce(completed_at, started_at, first_event_at)) STORED,
    failure_reason text,
    terminal_reason text,
    surface_profile_key text,
    surface_status text,
    surface_wait_reason text,
    collection_facts TEXT,
    settled_seq INTEGER,     -- event_seq of the terminal event applied
    surface_seq INTEGER,
    facts_seq INTEGER,
    last_event_seq INTEGER NOT NULL,
    PRIMARY KEY (run_id, connector_instance_id)
);

CREATE INDEX IF NOT EXISTS pyref_runs_instance_order_idx
    ON pyref_runs (connector_instance_id, order_at DESC, run_id DESC);

-- Append-only: writers add a row per touched connection and never update one,
-- so they never wait on each other or on a reconcile. Reconcile deletes exactly
-- the entries it consumed (no "processed up to" checkpoint to skip past).
CREATE TABLE IF NOT EXISTS pyref_dirty (
    dirty_seq INTEGER PRIMARY KEY AUTOINCREMENT,
    connector_instance_id text NOT NULL,
    marked_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE INDEX IF NOT EXISTS pyref_dirty_instance_idx ON pyref_dirty (connector_instance_id, dirty_seq);

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
                      AND json_type(e.value) = 'object'
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
