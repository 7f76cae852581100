-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0010_least_privilege
-- pyreference 0011: runs you can trust (SPEC R2, R3; SPEC-SEMANTICS R50, R51).
-- Runs become a pure function of the spine plus write-time facts, so they no longer
-- depend on commit order, statement order or backend, rebuild() recomputes them and
-- verify() sees their drift:
-- * pyref_run_facts: for every run-bearing event, what attribution needs and only the
--   moment of writing knows (the connection its identity named, with that connection's
--   created_at; for a keyless event, its connector's single active connection).
--   Durable: this migration's rollback keeps it.
-- * pyref_runs: recomputed per connection by reconcile (with the evidence) from the
--   spine and those facts; no longer folded by the trigger, no foreign key (a connection
--   rewritten with its id and created_at keeps its runs; a new one does not inherit).
-- * the spine trigger only appends (facts, one dirty mark per connection per statement,
--   and on Postgres one run mark per statement), so writers never wait on each other.
-- * any run.* event type is stored (the CHECK is dropped).
-- Existing events get their facts here, in log order; attribution already decided by
-- the old pyref_runs is kept as the keyless events' fact.

-- One row per run and facts per writing statement; event_seqs lists the events (spine
-- event_seq) it holds the facts of, event_seq is the first of them.
CREATE TABLE IF NOT EXISTS pyref_run_facts (
    run_id text NOT NULL,
    event_seq INTEGER NOT NULL,
    event_seqs TEXT NOT NULL,
    carried INTEGER NOT NULL,            -- the events carried identity (profile key or explicit id)
    connector_instance_id text,                  -- the connection that identity named, or the single active one
    connection_created_at TEXT,          -- its created_at then: a re-created connection is another one
    PRIMARY KEY (run_id, event_seq)              -- a run's facts together (the projection reads them by run)
);

CREATE INDEX IF NOT EXISTS pyref_run_facts_connection_idx
    ON pyref_run_facts (connector_instance_id, run_id) WHERE connector_instance_id IS NOT NULL;

-- Postgres: one row per spine statement naming its runs, so that a run's other
-- connections, which a writer cannot see while they are uncommitted, are reconciled
-- (reconcile expands these into pyref_dirty). SQLite has one writer at a time and marks
-- every connection of the run directly.
CREATE TABLE IF NOT EXISTS pyref_dirty_runs (
    dirty_seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_ids TEXT NOT NULL,
    marked_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

-- R50: every run.* type is stored. SQLite cannot drop a CHECK: the table is rebuilt
-- (its triggers go with it and are created again below).
CREATE TABLE IF NOT EXISTS pyref_spine_events_new (
    event_seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id text NOT NULL UNIQUE,
    event_type text NOT NULL,
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
INSERT INTO pyref_spine_events_new SELECT * FROM spine_events;
UPDATE sqlite_sequence SET seq = (SELECT s.seq FROM sqlite_sequence s WHERE s.name = 'spine_events')
 WHERE name = 'pyref_spine_events_new' AND EXISTS (SELECT 1 FROM sqlite_sequence s WHERE s.name = 'spine_events');
INSERT INTO sqlite_sequence (name, seq)
SELECT 'pyref_spine_events_new', s.seq FROM sqlite_sequence s
 WHERE s.name = 'spine_events'
   AND NOT EXISTS (SELECT 1 FROM sqlite_sequence n WHERE n.name = 'pyref_spine_events_new');
DROP TABLE spine_events;
ALTER TABLE pyref_spine_events_new RENAME TO spine_events;
CREATE INDEX IF NOT EXISTS spine_events_source_run_idx
    ON spine_events (source_kind, source_id, run_id, occurred_at DESC)
    WHERE run_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS spine_events_instance_seq_idx
    ON spine_events (connector_instance_id, event_seq)
    WHERE event_type LIKE 'run.%';
CREATE INDEX IF NOT EXISTS spine_events_run_idx
    ON spine_events (run_id, event_seq)
    WHERE run_id IS NOT NULL;

-- The table's guards, as 0003 and 0008 made them.
CREATE TRIGGER IF NOT EXISTS pyref_100_spine_no_update BEFORE UPDATE ON spine_events
BEGIN
    SELECT RAISE(ABORT, 'spine_events is append-only: insert a new event instead of updating one');
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
CREATE TRIGGER IF NOT EXISTS pyref_100_spine_no_delete BEFORE DELETE ON spine_events
BEGIN
    SELECT RAISE(ABORT, 'spine_events is append-only: DELETE refused (insert a new event instead)');
END;

-- Facts of the events already in the spine (re-runnable: only events without facts).
-- A keyless event of a run the old pyref_runs attributed to one connection keeps that.
INSERT INTO pyref_run_facts (run_id, event_seq, event_seqs, carried, connector_instance_id, connection_created_at)
SELECT a.run_id, min(a.event_seq), json_group_array(a.event_seq), a.carried, ci.connector_instance_id, ci.created_at
  FROM (SELECT k.event_seq, k.run_id,
               (k.profile_key IS NOT NULL OR coalesce(k.id1, k.id2, k.id3) IS NOT NULL) AS carried,
               coalesce(
                 CASE WHEN k.profile_key IS NOT NULL THEN
                   (SELECT CASE WHEN count(*) = 1 THEN max(pi.connector_instance_id) END
                      FROM pyref_connector_digest pg
                      JOIN connector_instances pi ON pi.connector_id = pg.connector_id
                       AND pi.connector_instance_id = CASE
                             WHEN k.profile_key = pg.profile_base THEN pg.connector_id
                             WHEN substr(k.profile_key, 1, length(pg.profile_base) + 1) = pg.profile_base || ':'
                               THEN substr(k.profile_key, length(pg.profile_base) + 2) END
                     WHERE (pi.connector_instance_id = pi.connector_id) = (k.profile_key = pg.profile_base))
                 END,
                 CASE
                   WHEN k.profile_key IS NOT NULL AND coalesce(k.id1, k.id2, k.id3) IS NULL THEN
                     (SELECT si.connector_instance_id FROM connector_instances si
                       WHERE si.connector_instance_id = substr(k.profile_key, length(rtrim(k.profile_key, replace(k.profile_key, ':', ''))) + 1)
                         AND (k.connector IS NULL OR si.connector_id = k.connector))
                   WHEN coalesce(k.id1, k.id2, k.id3) IS NOT NULL THEN
                     CASE WHEN k.id1 <> coalesce(k.id2, k.id1) OR k.id1 <> coalesce(k.id3, k.id1)
                               OR k.id2 <> coalesce(k.id3, k.id2) THEN NULL
                          ELSE (SELECT xi.connector_instance_id FROM connector_instances xi WHERE xi.connector_instance_id = coalesce(k.id1, k.id2, k.id3)) END
                   ELSE coalesce((SELECT CASE WHEN count(*) = 1 THEN max(o.connector_instance_id) END FROM pyref_runs o WHERE o.run_id = k.run_id), CASE WHEN k.connector IS NOT NULL THEN (SELECT CASE WHEN count(*) = 1 THEN max(si.connector_instance_id) END
                        FROM (SELECT sa.connector_instance_id FROM connector_instances sa
                               WHERE sa.connector_id = k.connector AND sa.status = 'active' LIMIT 2) si) END)
                 END) AS cid
          FROM (SELECT ev.event_seq, ev.run_id, coalesce(nullif(ev.data_json->'browser_surface'->>'browser_surface_profile_key', ''), nullif(ev.data_json->'browser_surface'->>'profile_key', ''), nullif(ev.data_json->>'browser_surface_profile_key', '')) AS profile_key,
                       nullif(ev.connector_instance_id, '') AS id1,
                       nullif(ev.data_json->>'connection_id', '') AS id2,
                       nullif(ev.data_json->>'connector_instance_id', '') AS id3,
                       coalesce(nullif(ev.connector_id, ''), nullif(CASE WHEN ev.source_kind = 'connector' THEN ev.source_id END, ''), nullif(CASE WHEN ev.data_json->'source'->>'kind' = 'connector' THEN ev.data_json->'source'->>'id' END, ''), nullif(ev.data_json->>'connector_id', '')) AS connector
                  FROM spine_events AS ev WHERE substr(ev.event_type, 1, 4) = 'run.' AND ev.run_id IS NOT NULL
                                   AND NOT EXISTS (SELECT 1 FROM pyref_run_facts xf CROSS JOIN json_each(xf.event_seqs) AS xs
                                                    WHERE xf.run_id = ev.run_id AND xs.value = ev.event_seq)) k) a
  LEFT JOIN connector_instances ci ON ci.connector_instance_id = a.cid
 WHERE true
 GROUP BY a.run_id, a.carried, ci.connector_instance_id, ci.created_at
ON CONFLICT (run_id, event_seq) DO NOTHING;

-- The new run table, filled from the spine.
DROP VIEW IF EXISTS pyref_evidence_source;
DROP TABLE IF EXISTS pyref_runs;
CREATE TABLE IF NOT EXISTS pyref_runs (
    run_id text NOT NULL,
    connector_instance_id text NOT NULL,   -- no foreign key: rows follow the projection, not a cascade
    status text NOT NULL,
    started_at TEXT NOT NULL,
    completed_at TEXT,
    -- R15 order: finish time, else start time
    order_at TEXT GENERATED ALWAYS AS (coalesce(completed_at, started_at)) STORED,
    failure_reason text,
    terminal_reason text,
    surface_profile_key text,
    surface_status text,
    surface_wait_reason text,
    collection_facts TEXT,
    known_gaps TEXT,
    settled_seq INTEGER,     -- event_seq of the settling (earliest terminal) event
    PRIMARY KEY (run_id, connector_instance_id)
);

CREATE INDEX IF NOT EXISTS pyref_runs_instance_order_idx
    ON pyref_runs (connector_instance_id, order_at DESC, run_id DESC);

INSERT INTO pyref_runs (run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq)
SELECT run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq
  FROM (SELECT m.run_id, m.connector_instance_id,
               CASE m.settle_type
                 WHEN 'run.completed' THEN coalesce(nullif(m.settle_status, ''), 'succeeded')
                 WHEN 'run.failed' THEN 'failed'
                 WHEN 'run.cancelled' THEN 'cancelled'
                 WHEN 'run.abandoned' THEN 'abandoned'
                 WHEN 'run.browser_surface_failed' THEN coalesce(nullif(m.settle_status, ''), 'surface_failed')
                 ELSE 'running' END AS status,
               coalesce(m.started_min, m.settled_at) AS started_at,
               m.settled_at AS completed_at,
               m.failure_reason, m.terminal_reason,
               m.surface_profile_key, m.surface_status, m.surface_wait_reason,
               m.collection_facts AS collection_facts, m.known_gaps AS known_gaps,
               m.settled_seq,
               coalesce(m.settled_at, m.started_min) AS order_at
          FROM (SELECT w.run_id, w.connector_instance_id,
                       min(CASE WHEN w.event_type = 'run.started' THEN w.occurred_at END) AS started_min,
                       max(CASE WHEN w.settle_rank = 1 THEN w.event_type END) AS settle_type,
                       max(CASE WHEN w.settle_rank = 1 THEN w.status END) AS settle_status,
                       max(CASE WHEN w.settle_rank = 1 THEN w.occurred_at END) AS settled_at,
                       max(CASE WHEN w.settle_rank = 1 THEN w.event_seq END) AS settled_seq,
                       max(CASE WHEN w.settle_rank = 1 THEN w.failure_reason END) AS failure_reason,
                       max(CASE WHEN w.settle_rank = 1 THEN w.terminal_reason END) AS terminal_reason,
                       max(CASE WHEN w.settle_rank = 1 THEN w.collection_facts END) AS collection_facts,
                       max(CASE WHEN w.settle_rank = 1 THEN w.known_gaps END) AS known_gaps,
                       max(CASE WHEN w.key_rank = 1 THEN w.surface_profile_key END) AS surface_profile_key,
                       max(CASE WHEN w.status_rank = 1 THEN w.surface_status END) AS surface_status,
                       max(CASE WHEN w.wait_rank = 1 THEN w.surface_wait_reason END) AS surface_wait_reason,
                       max(CASE WHEN w.event_type = 'run.started' OR w.terminal = 1 THEN 1 ELSE 0 END) AS exists_
                  FROM (SELECT x.*,
                               CASE WHEN x.terminal = 1 THEN row_number() OVER (
                                 PARTITION BY x.run_id, x.connector_instance_id, x.terminal
                                 ORDER BY x.occurred_at, x.event_seq) END AS settle_rank,
                               CASE WHEN x.surface_profile_key IS NOT NULL THEN row_number() OVER (
                                 PARTITION BY x.run_id, x.connector_instance_id, x.surface_profile_key IS NULL
                                 ORDER BY x.occurred_at DESC, x.event_seq DESC) END AS key_rank,
                               CASE WHEN x.surface_status IS NOT NULL THEN row_number() OVER (
                                 PARTITION BY x.run_id, x.connector_instance_id, x.surface_status IS NULL
                                 ORDER BY x.occurred_at DESC, x.event_seq DESC) END AS status_rank,
                               CASE WHEN x.surface_wait_reason IS NOT NULL THEN row_number() OVER (
                                 PARTITION BY x.run_id, x.connector_instance_id, x.surface_wait_reason IS NULL
                                 ORDER BY x.occurred_at DESC, x.event_seq DESC) END AS wait_rank
                          FROM (SELECT r.run_id, pci.connector_instance_id, r.event_seq, r.event_type, r.status,
                                       r.occurred_at, r.terminal, r.failure_reason, r.terminal_reason,
                                       r.collection_facts, r.known_gaps,
                                       r.surface_profile_key, r.surface_status, r.surface_wait_reason
                                  FROM (SELECT v.*,
                                               CASE WHEN v.carried = 1 THEN v.cid
                                                    WHEN v.any_carried = 1 THEN CASE WHEN v.ik_min = v.ik_max THEN v.ik_cid END
                                                    ELSE CASE WHEN v.sk_min = v.sk_max THEN v.sk_cid END END AS conn,
                                               CASE WHEN v.carried = 1 THEN v.born
                                                    WHEN v.any_carried = 1 THEN CASE WHEN v.ik_min = v.ik_max THEN v.ik_born END
                                                    ELSE CASE WHEN v.sk_min = v.sk_max THEN v.sk_born END END AS conn_born
                                          FROM (SELECT u.*,
                                                       max(u.carried) OVER per_run AS any_carried,
                                                       min(CASE WHEN u.carried = 1 THEN u.key_ END) OVER per_run AS ik_min,
                                                       max(CASE WHEN u.carried = 1 THEN u.key_ END) OVER per_run AS ik_max,
                                                       min(CASE WHEN u.carried = 1 THEN u.cid END) OVER per_run AS ik_cid,
                                                       min(CASE WHEN u.carried = 1 THEN u.born END) OVER per_run AS ik_born,
                                                       min(CASE WHEN u.carried = 0 THEN u.key_ END) OVER per_run AS sk_min,
                                                       max(CASE WHEN u.carried = 0 THEN u.key_ END) OVER per_run AS sk_max,
                                                       min(CASE WHEN u.carried = 0 THEN u.cid END) OVER per_run AS sk_cid,
                                                       min(CASE WHEN u.carried = 0 THEN u.born END) OVER per_run AS sk_born
                                                  FROM (SELECT f.run_id, fs.value AS event_seq,
                                                               CASE WHEN f.carried THEN 1 ELSE 0 END AS carried,
                                                               f.connector_instance_id AS cid, f.connection_created_at AS born,
                                                               f.connector_instance_id || '|' || f.connection_created_at AS key_,
                                                               e.event_type, e.status, e.occurred_at,
                                                               CASE WHEN e.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.abandoned', 'run.browser_surface_failed') THEN 1 ELSE 0 END AS terminal,
                                                               nullif(e.data_json->>'failure_reason', '') AS failure_reason,
                                                               coalesce(nullif(e.data_json->>'terminal_reason', ''), nullif(e.data_json->>'reason', '')) AS terminal_reason,
                                                               CASE WHEN json_type(e.data_json->'collection_facts'->'streams') = 'array'
                                                                    THEN json(e.data_json->'collection_facts'->'streams') END AS collection_facts,
                                                               CASE WHEN json_type(e.data_json->'known_gaps') = 'array'
                                                                    THEN json(e.data_json->'known_gaps') END AS known_gaps,
                                                               coalesce(nullif(e.data_json->'browser_surface'->>'browser_surface_profile_key', ''), nullif(e.data_json->'browser_surface'->>'profile_key', ''), nullif(e.data_json->>'browser_surface_profile_key', '')) AS surface_profile_key,
                                                               coalesce(nullif(e.data_json->'browser_surface'->>'browser_surface_status', ''), nullif(e.data_json->'browser_surface'->>'status', ''), nullif(e.data_json->>'browser_surface_status', '')) AS surface_status,
                                                               coalesce(nullif(e.data_json->'browser_surface'->>'browser_surface_wait_reason', ''), nullif(e.data_json->'browser_surface'->>'wait_reason', ''), nullif(e.data_json->>'browser_surface_wait_reason', '')) AS surface_wait_reason
                                                          FROM pyref_run_facts f
                                                         CROSS JOIN json_each(f.event_seqs) AS fs
                                                          JOIN spine_events e ON e.event_seq = fs.value
                                                         WHERE true) u
                                                WINDOW per_run AS (PARTITION BY u.run_id)) v) r
                                  JOIN connector_instances pci
                                    ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
                                 WHERE true) x) w
                 GROUP BY w.run_id, w.connector_instance_id) m
         WHERE m.exists_ = 1) p;

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

-- Evidence now carries each run's known gaps: recompute every row (dirty marks stay).
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

-- The spine trigger: record the facts and mark every connection the run's facts name
-- (SQLite has one writer at a time, so it sees them all).
CREATE TRIGGER IF NOT EXISTS pyref_500_spine_insert AFTER INSERT ON spine_events
WHEN substr(NEW.event_type, 1, 4) = 'run.' AND NEW.run_id IS NOT NULL
BEGIN
    INSERT INTO pyref_run_facts (run_id, event_seq, event_seqs, carried, connector_instance_id, connection_created_at)
    SELECT a.run_id, min(a.event_seq), json_group_array(a.event_seq), a.carried, ci.connector_instance_id, ci.created_at
      FROM (SELECT k.event_seq, k.run_id,
                   (k.profile_key IS NOT NULL OR coalesce(k.id1, k.id2, k.id3) IS NOT NULL) AS carried,
                   coalesce(
                     CASE WHEN k.profile_key IS NOT NULL THEN
                       (SELECT CASE WHEN count(*) = 1 THEN max(pi.connector_instance_id) END
                          FROM pyref_connector_digest pg
                          JOIN connector_instances pi ON pi.connector_id = pg.connector_id
                           AND pi.connector_instance_id = CASE
                                 WHEN k.profile_key = pg.profile_base THEN pg.connector_id
                                 WHEN substr(k.profile_key, 1, length(pg.profile_base) + 1) = pg.profile_base || ':'
                                   THEN substr(k.profile_key, length(pg.profile_base) + 2) END
                         WHERE (pi.connector_instance_id = pi.connector_id) = (k.profile_key = pg.profile_base))
                     END,
                     CASE
                       WHEN k.profile_key IS NOT NULL AND coalesce(k.id1, k.id2, k.id3) IS NULL THEN
                         (SELECT si.connector_instance_id FROM connector_instances si
                           WHERE si.connector_instance_id = substr(k.profile_key, length(rtrim(k.profile_key, replace(k.profile_key, ':', ''))) + 1)
                             AND (k.connector IS NULL OR si.connector_id = k.connector))
                       WHEN coalesce(k.id1, k.id2, k.id3) IS NOT NULL THEN
                         CASE WHEN k.id1 <> coalesce(k.id2, k.id1) OR k.id1 <> coalesce(k.id3, k.id1)
                                   OR k.id2 <> coalesce(k.id3, k.id2) THEN NULL
                              ELSE (SELECT xi.connector_instance_id FROM connector_instances xi WHERE xi.connector_instance_id = coalesce(k.id1, k.id2, k.id3)) END
                       WHEN k.connector IS NOT NULL THEN (SELECT CASE WHEN count(*) = 1 THEN max(si.connector_instance_id) END
                            FROM (SELECT sa.connector_instance_id FROM connector_instances sa
                                   WHERE sa.connector_id = k.connector AND sa.status = 'active' LIMIT 2) si)
                     END) AS cid
              FROM (SELECT ev.event_seq, ev.run_id, coalesce(nullif(ev.data_json->'browser_surface'->>'browser_surface_profile_key', ''), nullif(ev.data_json->'browser_surface'->>'profile_key', ''), nullif(ev.data_json->>'browser_surface_profile_key', '')) AS profile_key,
                           nullif(ev.connector_instance_id, '') AS id1,
                           nullif(ev.data_json->>'connection_id', '') AS id2,
                           nullif(ev.data_json->>'connector_instance_id', '') AS id3,
                           coalesce(nullif(ev.connector_id, ''), nullif(CASE WHEN ev.source_kind = 'connector' THEN ev.source_id END, ''), nullif(CASE WHEN ev.data_json->'source'->>'kind' = 'connector' THEN ev.data_json->'source'->>'id' END, ''), nullif(ev.data_json->>'connector_id', '')) AS connector
                      FROM spine_events AS ev WHERE ev.event_seq = NEW.event_seq) k) a
      LEFT JOIN connector_instances ci ON ci.connector_instance_id = a.cid
     WHERE true
     GROUP BY a.run_id, a.carried, ci.connector_instance_id, ci.created_at
    ON CONFLICT (run_id, event_seq) DO NOTHING;
    INSERT INTO pyref_dirty (connector_instance_id)
    SELECT DISTINCT f.connector_instance_id FROM pyref_run_facts f
     WHERE f.run_id = NEW.run_id AND f.connector_instance_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = f.connector_instance_id);
END;

-- A deleted connection's runs go with it (the projection shows none for it).
CREATE TRIGGER IF NOT EXISTS pyref_510_instances_delete_runs AFTER DELETE ON connector_instances
BEGIN
    DELETE FROM pyref_runs WHERE connector_instance_id = OLD.connector_instance_id;
END;
