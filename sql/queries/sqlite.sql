-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- name: cursor_key
SELECT (SELECT value FROM pyref_meta WHERE key = 'cursor_secret') AS value;

-- name: list_page
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, ci.created_at AS created_at, ci.revoked_at AS revoked_at,
       g.connector_id IS NOT NULL AS has_digest, g.display_name AS connector_display_name,
       g.streams AS declared_streams, g.refresh_policy,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.failures_since_success, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
       e.state, e.computed_at AS computed_at, e.last_error,
       EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id) AS dirty,
       (SELECT (SELECT value FROM pyref_meta WHERE key = 'cursor_secret')) AS cursor_key
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = :owner
   AND ci.status <> 'draft'
 ORDER BY ci.connector_id, ci.created_at, ci.connector_instance_id
 LIMIT :fetch;

-- name: list_page_after
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, ci.created_at AS created_at, ci.revoked_at AS revoked_at,
       g.connector_id IS NOT NULL AS has_digest, g.display_name AS connector_display_name,
       g.streams AS declared_streams, g.refresh_policy,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.failures_since_success, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
       e.state, e.computed_at AS computed_at, e.last_error,
       EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id) AS dirty,
       (SELECT (SELECT value FROM pyref_meta WHERE key = 'cursor_secret')) AS cursor_key
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = :owner
   AND ci.status <> 'draft'
   AND (ci.connector_id, ci.created_at, ci.connector_instance_id)
       > (:after_connector, :after_created, :after_id)
 ORDER BY ci.connector_id, ci.created_at, ci.connector_instance_id
 LIMIT :fetch;

-- name: list_page_connector
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, ci.created_at AS created_at, ci.revoked_at AS revoked_at,
       g.connector_id IS NOT NULL AS has_digest, g.display_name AS connector_display_name,
       g.streams AS declared_streams, g.refresh_policy,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.failures_since_success, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
       e.state, e.computed_at AS computed_at, e.last_error,
       EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id) AS dirty,
       (SELECT (SELECT value FROM pyref_meta WHERE key = 'cursor_secret')) AS cursor_key
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = :owner
   AND ci.status <> 'draft'
   AND ci.connector_id = :connector_id
 ORDER BY ci.connector_id, ci.created_at, ci.connector_instance_id
 LIMIT :fetch;

-- name: list_page_connector_after
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, ci.created_at AS created_at, ci.revoked_at AS revoked_at,
       g.connector_id IS NOT NULL AS has_digest, g.display_name AS connector_display_name,
       g.streams AS declared_streams, g.refresh_policy,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.failures_since_success, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
       e.state, e.computed_at AS computed_at, e.last_error,
       EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id) AS dirty,
       (SELECT (SELECT value FROM pyref_meta WHERE key = 'cursor_secret')) AS cursor_key
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = :owner
   AND ci.status <> 'draft'
   AND ci.connector_id = :connector_id
   AND (ci.created_at, ci.connector_instance_id) > (:after_created, :after_id)
 ORDER BY ci.connector_id, ci.created_at, ci.connector_instance_id
 LIMIT :fetch;

-- name: scoped_summary
-- R11: one connection by id, or by connector id when exactly one connection has
-- it, with the deep evidence the overview never hydrates.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, ci.created_at AS created_at, ci.revoked_at AS revoked_at,
       g.connector_id IS NOT NULL AS has_digest, g.display_name AS connector_display_name,
       g.streams AS declared_streams, g.refresh_policy,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.failures_since_success, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
       e.state, e.computed_at AS computed_at, e.last_error,
       EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id) AS dirty,
       (SELECT coalesce(json_group_array(json(json_object('run_id', r.run_id, 'status', r.status,
  'started_at', r.started_at, 'finished_at', r.completed_at,
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', json(r.collection_facts)))), '[]')
          FROM (SELECT * FROM pyref_runs x
                 WHERE x.connector_instance_id = ci.connector_instance_id
                 ORDER BY x.order_at DESC, x.run_id DESC LIMIT 20) r) AS recent_runs,
       (SELECT coalesce(json_group_array(json(json_object('gap_id', gp.gap_id, 'stream', gp.stream, 'status', gp.status, 'reason', gp.reason, 'next_attempt_after', gp.next_attempt_after, 'updated_at', gp.updated_at))), '[]')
          FROM (SELECT x.gap_id, x.stream, x.status, x.reason,
                       x.next_attempt_after AS next_attempt_after, x.updated_at AS updated_at
                  FROM connector_detail_gaps x
                 WHERE x.connector_instance_id = ci.connector_instance_id AND x.status IN ('pending', 'terminal')
                 ORDER BY x.updated_at DESC, x.gap_id LIMIT 50) gp) AS open_gaps,
       (SELECT coalesce(json_group_array(json(json_object('attention_id', a.attention_id, 'reason_code', a.reason_code, 'owner_action', a.owner_action, 'lifecycle', a.lifecycle, 'response_required', a.response_required, 'expires_at', a.expires_at, 'created_at', a.created_at))), '[]')
          FROM (SELECT x.attention_id, x.reason_code, x.owner_action, x.lifecycle, x.response_required,
                       x.expires_at AS expires_at, x.created_at AS created_at
                  FROM connector_attention_records x
                 WHERE x.connector_instance_id = ci.connector_instance_id
                 ORDER BY x.created_at DESC, x.attention_id LIMIT 20) a) AS attention_history
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = :owner
   AND ci.connector_instance_id = coalesce(
         (SELECT x.connector_instance_id FROM connector_instances x
           WHERE x.connector_instance_id = :id AND x.owner_subject_id = :owner),
         (SELECT CASE WHEN count(*) = 1 THEN max(x.connector_instance_id) END FROM connector_instances x
           WHERE x.connector_id = :id AND x.owner_subject_id = :owner));

-- name: recompute_evidence
-- R6: dirty rows of a page, recomputed from canonical tables without a write (on
-- Postgres through a function that serves the owner the read transaction names only).
SELECT s.connector_instance_id, s.expected_profile_key, s.stream_stats, s.latest_run, s.latest_successful_run, s.latest_settled_run, s.failures_since_success, s.stream_facts, s.gap_counts, s.schedule, s.open_attention
  FROM pyref_evidence_source s
 WHERE s.connector_instance_id IN (SELECT value FROM json_each(:ids));

-- name: reconcile_claim
SELECT q.connector_instance_id
  FROM pyref_dirty q
  JOIN pyref_evidence ev ON ev.connector_instance_id = q.connector_instance_id
 WHERE NOT (q.connector_instance_id IN (SELECT value FROM json_each(:skip)))
 GROUP BY q.connector_instance_id, ev.state
 ORDER BY CASE WHEN ev.state = 'failed' THEN 1 ELSE 0 END, min(q.dirty_seq)
 LIMIT :limit;

-- name: dirty_seqs
SELECT dirty_seq FROM pyref_dirty WHERE connector_instance_id IN (SELECT value FROM json_each(:ids));

-- name: refresh_evidence
INSERT INTO pyref_evidence AS e (connector_instance_id, expected_profile_key, stream_stats, latest_run, latest_successful_run, latest_settled_run, failures_since_success, stream_facts, gap_counts, schedule, open_attention,
                                 state, computed_at, revision, last_error)
SELECT s.connector_instance_id, s.expected_profile_key, s.stream_stats, s.latest_run, s.latest_successful_run, s.latest_settled_run, s.failures_since_success, s.stream_facts, s.gap_counts, s.schedule, s.open_attention, 'ok', strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'), 1, NULL
  FROM pyref_evidence_source s
 WHERE s.connector_instance_id IN (SELECT value FROM json_each(:ids))
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

-- name: release_dirty
DELETE FROM pyref_dirty WHERE dirty_seq IN (SELECT value FROM json_each(:seqs));

-- name: mark_failed
UPDATE pyref_evidence SET state = 'failed', last_error = substr(:error, 1, 240)
 WHERE connector_instance_id IN (SELECT value FROM json_each(:ids));

-- name: all_dirty_seqs
SELECT dirty_seq FROM pyref_dirty;

-- name: all_connection_ids
SELECT connector_instance_id FROM connector_instances ORDER BY connector_instance_id;

-- name: refresh_digests
INSERT INTO pyref_connector_digest (connector_id, display_name, streams, refresh_policy, profile_base)
SELECT c.connector_id,
       c.manifest->>'display_name',
       CASE WHEN json_type(c.manifest->'streams') = 'array' THEN (SELECT coalesce(json_group_array(json_object(
                   'name', CASE WHEN json_type(st.value, '$.name') = 'text' THEN st.value->>'name' END,
                   'required', json(st.value->'required'))), '[]')
   FROM (SELECT type, value FROM json_each(c.manifest->'streams') ORDER BY key) AS st
  WHERE st.type = 'object') END,
       json(c.manifest->'capabilities'->'refresh_policy'),
       coalesce(nullif(c.manifest->'capabilities'->'browser_surface'->>'profile_key', ''), c.connector_id) FROM connectors c
WHERE true
ON CONFLICT (connector_id) DO UPDATE SET display_name = excluded.display_name,
    streams = excluded.streams, refresh_policy = excluded.refresh_policy,
    profile_base = excluded.profile_base;

-- name: verify
SELECT v.connector_instance_id, v.differing FROM (
  SELECT s.connector_instance_id,
         CASE WHEN e.connector_instance_id IS NULL THEN 'missing,' ELSE '' END
         || CASE WHEN e.expected_profile_key IS DISTINCT FROM s.expected_profile_key THEN 'expected_profile_key,' ELSE '' END
         || CASE WHEN e.stream_stats IS DISTINCT FROM s.stream_stats THEN 'stream_stats,' ELSE '' END
         || CASE WHEN e.latest_run IS DISTINCT FROM s.latest_run THEN 'latest_run,' ELSE '' END
         || CASE WHEN e.latest_successful_run IS DISTINCT FROM s.latest_successful_run THEN 'latest_successful_run,' ELSE '' END
         || CASE WHEN e.latest_settled_run IS DISTINCT FROM s.latest_settled_run THEN 'latest_settled_run,' ELSE '' END
         || CASE WHEN e.failures_since_success IS DISTINCT FROM s.failures_since_success THEN 'failures_since_success,' ELSE '' END
         || CASE WHEN e.stream_facts IS DISTINCT FROM s.stream_facts THEN 'stream_facts,' ELSE '' END
         || CASE WHEN e.gap_counts IS DISTINCT FROM s.gap_counts THEN 'gap_counts,' ELSE '' END
         || CASE WHEN e.schedule IS DISTINCT FROM s.schedule THEN 'schedule,' ELSE '' END
         || CASE WHEN e.open_attention IS DISTINCT FROM s.open_attention THEN 'open_attention,' ELSE '' END
         AS differing
    FROM pyref_evidence_source s
    LEFT JOIN pyref_evidence e ON e.connector_instance_id = s.connector_instance_id
   WHERE NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = s.connector_instance_id)
) v
WHERE v.differing <> ''
ORDER BY v.connector_instance_id;

-- name: unprojected_run_events
-- Run events written before the spine trigger existed (the Postgres migration
-- folds these itself), in log order.
SELECT e.event_seq FROM spine_events e
 WHERE e.event_type LIKE 'run.%' AND e.run_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_runs r WHERE r.run_id = e.run_id)
 ORDER BY e.event_seq;

-- name: project_run_event
-- The spine trigger's own statement, for one stored event.
INSERT INTO pyref_runs (
  run_id, connector_instance_id, connector_id, status, started_at, completed_at, first_event_at,
  failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason,
  collection_facts, settled_seq, surface_seq, facts_seq, last_event_seq)
SELECT ev.run_id, (CASE
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
END), ev.connector_id,
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
  CASE WHEN json_type(ev.data_json->'collection_facts'->'streams') = 'array'
       THEN json(ev.data_json->'collection_facts'->'streams') END,
  CASE WHEN ev.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.browser_surface_failed') THEN ev.event_seq END,
  CASE WHEN json_type(ev.data_json->'browser_surface') = 'object' THEN ev.event_seq END,
  CASE WHEN json_type(ev.data_json->'collection_facts'->'streams') = 'array' THEN ev.event_seq END,
  ev.event_seq
FROM spine_events AS ev WHERE ev.event_seq = :seq
   AND (CASE
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

-- name: mark_run_event_dirty
INSERT INTO pyref_dirty (connector_instance_id)
SELECT pr.connector_instance_id
  FROM spine_events ev
  JOIN pyref_runs pr ON pr.run_id = ev.run_id AND pr.last_event_seq = ev.event_seq
 WHERE ev.event_seq = :seq;

-- name: dirty_backlog
SELECT count(DISTINCT connector_instance_id) AS connections, count(*) AS marks,
       min(marked_at) AS oldest_mark
  FROM pyref_dirty;

-- name: owner_connectors
-- The console's connector filter: the owner's connectors (drafts aside), one index probe
-- per registered connector, whatever the number of connections.
SELECT c.connector_id, g.display_name
  FROM connectors c
  LEFT JOIN pyref_connector_digest g ON g.connector_id = c.connector_id
 WHERE EXISTS (SELECT 1 FROM connector_instances ci
                WHERE ci.owner_subject_id = :owner
                  AND ci.connector_id = c.connector_id AND ci.status <> 'draft')
 ORDER BY c.connector_id;

-- name: read_model_health
SELECT b.connections, b.marks, b.oldest_mark,
       (SELECT count(*) FROM pyref_evidence WHERE state = 'failed') AS failed_rows,
       (SELECT max(computed_at) FROM pyref_evidence WHERE state = 'ok')
           AS last_reconciled_at
  FROM (SELECT count(DISTINCT connector_instance_id) AS connections, count(*) AS marks,
               min(marked_at) AS oldest_mark
          FROM pyref_dirty) b;

-- name: insert_connector
INSERT INTO connectors (connector_id, manifest) VALUES (:connector_id, :manifest)
ON CONFLICT (connector_id) DO UPDATE SET manifest = excluded.manifest, updated_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
 WHERE connectors.manifest IS DISTINCT FROM excluded.manifest;

-- name: insert_connector_if_absent
-- A connector already registered keeps its manifest (the demo never overwrites one).
INSERT INTO connectors (connector_id, manifest) VALUES (:connector_id, :manifest)
ON CONFLICT (connector_id) DO NOTHING;

-- name: connection_count
SELECT count(*) AS connections FROM connector_instances;

-- name: insert_connection
INSERT INTO connector_instances (connector_instance_id, owner_subject_id, connector_id, display_name,
                                 status, source_kind, created_at, updated_at, revoked_at)
VALUES (:id, :owner, :connector_id, :display_name, :status,
        :source_kind, :created_at, :created_at,
        CASE WHEN :status = 'revoked' THEN :created_at END);

-- name: update_connection
UPDATE connector_instances
   SET display_name = coalesce(:display_name, display_name),
       status = coalesce(:status, status),
       revoked_at = CASE WHEN :status = 'revoked' AND status <> 'revoked' THEN :now
                         WHEN :status IS NOT NULL AND :status <> 'revoked' THEN NULL
                         ELSE revoked_at END,
       updated_at = :now
 WHERE connector_instance_id = :id;

-- name: connection_owners
SELECT connector_instance_id, owner_subject_id FROM connector_instances
 WHERE connector_instance_id IN (SELECT value FROM json_each(:ids));

-- name: delete_record
UPDATE records SET deleted = 1, deleted_at = :now
 WHERE connector_instance_id = :id AND stream = :stream AND record_key = :key
   AND NOT deleted
RETURNING 1 AS changed;

-- name: events_by_seq
SELECT event_seq FROM spine_events WHERE event_seq IN (SELECT value FROM json_each(:seqs)) ORDER BY event_seq LIMIT 1;

-- name: advance_event_seq
SELECT 1 AS unchanged;  -- AUTOINCREMENT already continues after the largest event_seq

-- name: events_by_id
SELECT event_seq, event_id, event_type, occurred_at AS occurred_at, status, run_id, connector_id,
       connector_instance_id, source_kind, source_id, data_json
  FROM spine_events WHERE event_id IN (SELECT value FROM json_each(:ids));

-- name: upsert_schedule
INSERT INTO connector_schedules (connector_instance_id, interval_seconds, enabled, consecutive_failures,
                                 next_run_at, updated_at)
VALUES (:id, :interval_seconds, :enabled, :consecutive_failures,
        :next_run_at, :now)
ON CONFLICT (connector_instance_id) DO UPDATE
   SET interval_seconds = excluded.interval_seconds, enabled = excluded.enabled,
       consecutive_failures = excluded.consecutive_failures, next_run_at = excluded.next_run_at,
       updated_at = excluded.updated_at;

-- name: insert_gap
INSERT INTO connector_detail_gaps (gap_id, connector_instance_id, stream, status, reason, next_attempt_after, updated_at)
VALUES (:gap_id, :id, :stream, :status, :reason,
        :next_attempt_after, :now);

-- name: update_gap
UPDATE connector_detail_gaps SET status = :status, updated_at = :now
 WHERE gap_id = :gap_id AND connector_instance_id IN (SELECT ci.connector_instance_id FROM connector_instances ci
                           WHERE ci.owner_subject_id = :owner)
RETURNING 1 AS changed;

-- name: gap_connection
SELECT connector_instance_id FROM connector_detail_gaps WHERE gap_id = :gap_id;

-- name: insert_attention
INSERT INTO connector_attention_records (attention_id, connector_instance_id, reason_code, owner_action,
                                         response_required, expires_at, created_at, updated_at)
VALUES (:attention_id, :id, :reason_code, :owner_action,
        :response_required, :expires_at, :now, :now);

-- name: update_attention
UPDATE connector_attention_records SET lifecycle = :lifecycle, updated_at = :now
 WHERE attention_id = :attention_id AND connector_instance_id IN (SELECT ci.connector_instance_id FROM connector_instances ci
                           WHERE ci.owner_subject_id = :owner)
RETURNING 1 AS changed;

-- name: attention_connection
SELECT connector_instance_id FROM connector_attention_records WHERE attention_id = :attention_id;

-- name: ingest_records
-- One statement per batch, so a statement-level trigger fires once per batch.
-- A live record with the same JSON is a no-op (emitted_at alone is no change);
-- a deleted one is revived.
INSERT INTO records (connector_instance_id, stream, record_key, record_json, emitted_at)
SELECT :id, :stream, x.value->>'key', x.value->>'$.data', x.value->>'emitted_at'
  FROM json_each(:rows) AS x
 WHERE true
ON CONFLICT (connector_instance_id, stream, record_key) DO UPDATE
   SET record_json = excluded.record_json, emitted_at = excluded.emitted_at,
       deleted = 0, deleted_at = NULL
 WHERE records.deleted OR records.record_json IS DISTINCT FROM excluded.record_json
RETURNING 1 AS changed;

-- name: insert_events
-- In the given order, so event_seq follows it; run events fold into pyref_runs
-- by trigger. Events that carry their own event_seq are the next statement.
INSERT INTO spine_events (event_id, event_type, occurred_at, recorded_at, status, run_id, connector_id,
                          connector_instance_id, source_kind, source_id, data_json)
SELECT x.value->>'event_id', x.value->>'event_type', x.value->>'occurred_at', x.value->>'recorded_at',
       x.value->>'status', x.value->>'run_id', x.value->>'connector_id', x.value->>'connection_id',
       x.value->>'source_kind', x.value->>'source_id',
       CASE WHEN json_type(x.value, '$.data') = 'object' THEN x.value->>'$.data' END
  FROM json_each(:events) AS x
 WHERE json_type(x.value, '$.event_seq') IS NOT 'integer'
 ORDER BY x.key
ON CONFLICT (event_id) DO NOTHING;

-- name: insert_events_with_seq
-- Events whose writer gave event_seq: stored with exactly that number.
INSERT INTO spine_events (event_seq, event_id, event_type, occurred_at, recorded_at, status, run_id, connector_id,
                          connector_instance_id, source_kind, source_id, data_json)
SELECT x.value->>'event_seq', x.value->>'event_id', x.value->>'event_type', x.value->>'occurred_at', x.value->>'recorded_at',
       x.value->>'status', x.value->>'run_id', x.value->>'connector_id', x.value->>'connection_id',
       x.value->>'source_kind', x.value->>'source_id',
       CASE WHEN json_type(x.value, '$.data') = 'object' THEN x.value->>'$.data' END
  FROM json_each(:events) AS x
 WHERE json_type(x.value, '$.event_seq') = 'integer'
 ORDER BY x.key
ON CONFLICT (event_id) DO NOTHING;
