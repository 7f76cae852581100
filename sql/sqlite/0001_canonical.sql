-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- pyreference 0001: canonical tables (the inputs every writer touches).
-- Plain tables that accept INSERT/UPDATE/DELETE from any client; the read
-- model is maintained by triggers added in later steps. No rollback file:
-- rolling back would drop canonical data.

CREATE TABLE IF NOT EXISTS connectors (
    connector_id text PRIMARY KEY,
    manifest TEXT NOT NULL CHECK (manifest IS NULL OR (json_valid(manifest) AND json_type(manifest) = 'object')),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at IS NULL OR created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at IS NULL OR updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
);

CREATE TABLE IF NOT EXISTS connector_instances (
    connector_instance_id text PRIMARY KEY,
    owner_subject_id text NOT NULL DEFAULT 'owner_local',
    connector_id text NOT NULL REFERENCES connectors (connector_id),
    display_name text,
    status text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'paused', 'revoked', 'draft')),
    source_kind text NOT NULL DEFAULT 'account'
        CHECK (source_kind IN ('account', 'local_device', 'browser_collector', 'manual')),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at IS NULL OR created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at IS NULL OR updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    revoked_at TEXT CHECK (revoked_at IS NULL OR revoked_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
);

-- The list order (R12): owner, then (connector_id, created_at, id) keyset.
CREATE INDEX IF NOT EXISTS connector_instances_list_idx
    ON connector_instances (owner_subject_id, connector_id, created_at, connector_instance_id);
-- Singleton attribution (R3 rule 3) looks up a connector's active connections.
CREATE INDEX IF NOT EXISTS connector_instances_connector_status_idx
    ON connector_instances (connector_id, status);

CREATE TABLE IF NOT EXISTS records (
    connector_instance_id text NOT NULL REFERENCES connector_instances (connector_instance_id),
    stream text NOT NULL,
    record_key text NOT NULL,
    record_json TEXT NOT NULL CHECK (record_json IS NULL OR (json_valid(record_json) AND json_type(record_json) = 'object')),
    emitted_at TEXT NOT NULL CHECK (emitted_at IS NULL OR emitted_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    deleted INTEGER NOT NULL DEFAULT 0,
    deleted_at TEXT CHECK (deleted_at IS NULL OR deleted_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (connector_instance_id, stream, record_key)
);

CREATE TABLE IF NOT EXISTS spine_events (
    event_seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id text NOT NULL UNIQUE,
    event_type text NOT NULL CHECK (
        event_type NOT LIKE 'run.%' OR event_type IN (
            'run.started', 'run.completed', 'run.failed', 'run.cancelled',
            'run.browser_surface_failed', 'run.browser_surface_waiting', 'run.progress_reported'
        )
    ),
    occurred_at TEXT NOT NULL CHECK (occurred_at IS NULL OR occurred_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (recorded_at IS NULL OR recorded_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    status text,
    run_id text,
    connector_id text,
    connector_instance_id text,
    source_kind text,
    source_id text,
    data_json TEXT CHECK (data_json IS NULL OR (json_valid(data_json) AND json_type(data_json) = 'object'))
);

-- R14: the run lookups by source.
CREATE INDEX IF NOT EXISTS spine_events_source_run_idx
    ON spine_events (source_kind, source_id, run_id, occurred_at DESC)
    WHERE run_id IS NOT NULL;
-- R14: run-bearing events of one connection in log order.
CREATE INDEX IF NOT EXISTS spine_events_instance_seq_idx
    ON spine_events (connector_instance_id, event_seq)
    WHERE event_type LIKE 'run.%';
-- A run's events (browser-surface history, re-reads of one run).
CREATE INDEX IF NOT EXISTS spine_events_run_idx
    ON spine_events (run_id, event_seq)
    WHERE run_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS connector_schedules (
    connector_instance_id text PRIMARY KEY REFERENCES connector_instances (connector_instance_id),
    interval_seconds INTEGER CHECK (interval_seconds IS NULL OR interval_seconds > 0),
    enabled INTEGER NOT NULL DEFAULT 1,
    consecutive_failures INTEGER NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    next_run_at TEXT CHECK (next_run_at IS NULL OR next_run_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at IS NULL OR updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
);

CREATE TABLE IF NOT EXISTS connector_detail_gaps (
    gap_id text PRIMARY KEY,
    connector_instance_id text NOT NULL REFERENCES connector_instances (connector_instance_id),
    stream text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'recovered', 'terminal')),
    reason text,
    next_attempt_after TEXT CHECK (next_attempt_after IS NULL OR next_attempt_after GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at IS NULL OR updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
);

CREATE INDEX IF NOT EXISTS connector_detail_gaps_instance_idx
    ON connector_detail_gaps (connector_instance_id, status, stream);

CREATE TABLE IF NOT EXISTS connector_attention_records (
    attention_id text PRIMARY KEY,
    connector_instance_id text NOT NULL REFERENCES connector_instances (connector_instance_id),
    reason_code text NOT NULL,
    owner_action text,
    lifecycle text NOT NULL DEFAULT 'open'
        CHECK (lifecycle IN ('open', 'acknowledged', 'in_progress', 'resolved', 'expired')),
    response_required INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT CHECK (expires_at IS NULL OR expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at IS NULL OR created_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at IS NULL OR updated_at GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
);

CREATE INDEX IF NOT EXISTS connector_attention_records_instance_idx
    ON connector_attention_records (connector_instance_id, lifecycle);
