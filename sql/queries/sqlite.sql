-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- name: cursor_key
SELECT (SELECT value FROM pyref_meta WHERE key = 'cursor_secret') AS value;

-- name: list_page
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, ci.created_at AS created_at, ci.revoked_at AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, e.computed_at AS computed_at, e.last_error,
       EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN (SELECT json_group_array(json_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', y.last_at))
               FROM pyref_record_deltas y
              WHERE y.connector_instance_id = ci.connector_instance_id)
       END AS record_deltas,
       g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
       g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
       e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
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
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, e.computed_at AS computed_at, e.last_error,
       EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN (SELECT json_group_array(json_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', y.last_at))
               FROM pyref_record_deltas y
              WHERE y.connector_instance_id = ci.connector_instance_id)
       END AS record_deltas,
       g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
       g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
       e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
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
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, e.computed_at AS computed_at, e.last_error,
       EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN (SELECT json_group_array(json_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', y.last_at))
               FROM pyref_record_deltas y
              WHERE y.connector_instance_id = ci.connector_instance_id)
       END AS record_deltas,
       g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
       g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
       e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
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
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, e.computed_at AS computed_at, e.last_error,
       EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN (SELECT json_group_array(json_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', y.last_at))
               FROM pyref_record_deltas y
              WHERE y.connector_instance_id = ci.connector_instance_id)
       END AS record_deltas,
       g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
       g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
       e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
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

-- name: list_keys
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, ci.created_at AS created_at, ci.revoked_at AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, e.computed_at AS computed_at, e.last_error,
       EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN (SELECT json_group_array(json_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', y.last_at))
               FROM pyref_record_deltas y
              WHERE y.connector_instance_id = ci.connector_instance_id)
       END AS record_deltas,
       (SELECT (SELECT value FROM pyref_meta WHERE key = 'cursor_secret')) AS cursor_key
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = :owner
   AND ci.status <> 'draft'
 ORDER BY ci.connector_id, ci.created_at, ci.connector_instance_id
 LIMIT :fetch;

-- name: list_keys_after
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, ci.created_at AS created_at, ci.revoked_at AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, e.computed_at AS computed_at, e.last_error,
       EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN (SELECT json_group_array(json_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', y.last_at))
               FROM pyref_record_deltas y
              WHERE y.connector_instance_id = ci.connector_instance_id)
       END AS record_deltas,
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

-- name: list_keys_connector
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, ci.created_at AS created_at, ci.revoked_at AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, e.computed_at AS computed_at, e.last_error,
       EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN (SELECT json_group_array(json_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', y.last_at))
               FROM pyref_record_deltas y
              WHERE y.connector_instance_id = ci.connector_instance_id)
       END AS record_deltas,
       (SELECT (SELECT value FROM pyref_meta WHERE key = 'cursor_secret')) AS cursor_key
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = :owner
   AND ci.status <> 'draft'
   AND ci.connector_id = :connector_id
 ORDER BY ci.connector_id, ci.created_at, ci.connector_instance_id
 LIMIT :fetch;

-- name: list_keys_connector_after
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, ci.created_at AS created_at, ci.revoked_at AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, e.computed_at AS computed_at, e.last_error,
       EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN (SELECT json_group_array(json_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', y.last_at))
               FROM pyref_record_deltas y
              WHERE y.connector_instance_id = ci.connector_instance_id)
       END AS record_deltas,
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

-- name: page_rows
-- R10: whole rows (key columns and evidence documents) of the page rows a store's memo
-- lacks, this owner's only, in one statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, ci.created_at AS created_at, ci.revoked_at AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, e.computed_at AS computed_at, e.last_error,
       EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN (SELECT json_group_array(json_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', y.last_at))
               FROM pyref_record_deltas y
              WHERE y.connector_instance_id = ci.connector_instance_id)
       END AS record_deltas,
       g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
       g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
       e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = :owner
   AND ci.connector_instance_id IN (SELECT value FROM json_each(:ids));

-- name: scoped_summary
-- R11/R62: one connection by id (any status), or by connector id when exactly one
-- non-draft connection has it, with the deep evidence the overview never hydrates.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, ci.created_at AS created_at, ci.revoked_at AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, e.computed_at AS computed_at, e.last_error,
       EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN (SELECT json_group_array(json_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', y.last_at))
               FROM pyref_record_deltas y
              WHERE y.connector_instance_id = ci.connector_instance_id)
       END AS record_deltas,
       g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
       g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
       e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
       (SELECT coalesce(json_group_array(json(json_object('run_id', r.run_id, 'status', r.status,
  'started_at', r.started_at, 'finished_at', r.completed_at,
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', json(r.collection_facts),
  'known_gaps', json(r.known_gaps)))), '[]')
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
           WHERE x.connector_id = :id AND x.owner_subject_id = :owner
             AND x.status <> 'draft'));

-- name: resolve_connection
-- R62: an exact connection id of this owner (any status) first; else this owner's
-- non-draft connections of that connector id, in list order (byte order, as R12's), named
-- as R53 says.
SELECT ci.connector_instance_id,
       coalesce(nullif(ci.display_name, ''), g.connector_display_name, ci.connector_id) AS display_name,
       ci.status, ci.connector_instance_id = :ref AS exact
  FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
 WHERE ci.owner_subject_id = :owner
   AND (ci.connector_instance_id = :ref
        OR (ci.connector_id = :ref AND ci.status <> 'draft'))
 ORDER BY ci.connector_instance_id = :ref DESC, ci.connector_id, ci.created_at, ci.connector_instance_id
 LIMIT :fetch;

-- name: recompute_evidence
-- Only the stale runs are recomputed (0016; by 0017's projection); the other stored runs are kept.
WITH stale AS MATERIALIZED (
  SELECT ss.connector_instance_id, ss.run_id FROM pyref_stale_runs ss
   WHERE ss.connector_instance_id IN (SELECT value FROM json_each(:ids))
), delta AS MATERIALIZED (
  SELECT m.run_id, m.connector_instance_id,
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
                 max(CASE WHEN w.surface_rank = 1 THEN w.surface_profile_key END) AS surface_profile_key,
                 max(CASE WHEN w.surface_rank = 1 THEN w.surface_status END) AS surface_status,
                 max(CASE WHEN w.surface_rank = 1 THEN w.surface_wait_reason END) AS surface_wait_reason,
                 max(CASE WHEN w.event_type = 'run.started' OR w.terminal = 1 THEN 1 ELSE 0 END) AS exists_
            FROM (SELECT x.*,
                         CASE WHEN x.terminal = 1 THEN row_number() OVER (
                           PARTITION BY x.run_id, x.connector_instance_id, x.terminal
                           ORDER BY x.occurred_at, x.event_seq) END AS settle_rank,
                         CASE WHEN coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NOT NULL
                              THEN row_number() OVER (
                           PARTITION BY x.run_id, x.connector_instance_id,
                                        coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NULL
                           ORDER BY x.occurred_at DESC, x.event_seq DESC) END AS surface_rank
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
                                                         nullif((CASE json_type(e.data_json->'failure_reason') WHEN 'text' THEN e.data_json->>'failure_reason'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'failure_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'failure_reason' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->>'failure_reason') < 9007199254740992 AND e.data_json->>'failure_reason' = CAST(e.data_json->>'failure_reason' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->>'failure_reason' AS INTEGER) AS TEXT) END END), '') AS failure_reason,
                                                         coalesce(nullif((CASE json_type(e.data_json->'terminal_reason') WHEN 'text' THEN e.data_json->>'terminal_reason'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'terminal_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'terminal_reason' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->>'terminal_reason') < 9007199254740992 AND e.data_json->>'terminal_reason' = CAST(e.data_json->>'terminal_reason' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->>'terminal_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'reason') WHEN 'text' THEN e.data_json->>'reason'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'reason' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->>'reason') < 9007199254740992 AND e.data_json->>'reason' = CAST(e.data_json->>'reason' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->>'reason' AS INTEGER) AS TEXT) END END), '')) AS terminal_reason,
                                                         CASE WHEN json_type(e.data_json->'collection_facts'->'streams') = 'array'
                                                              THEN json(e.data_json->'collection_facts'->'streams') END AS collection_facts,
                                                         CASE WHEN json_type(e.data_json->'known_gaps') = 'array'
                                                              THEN json(e.data_json->'known_gaps') END AS known_gaps,
                                                         coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_profile_key') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_profile_key'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_profile_key' = CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'profile_key') WHEN 'text' THEN e.data_json->'browser_surface'->>'profile_key'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'profile_key') < 9007199254740992 AND e.data_json->'browser_surface'->>'profile_key' = CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_profile_key') WHEN 'text' THEN e.data_json->>'browser_surface_profile_key'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_profile_key') < 9007199254740992 AND e.data_json->>'browser_surface_profile_key' = CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), '')) AS surface_profile_key,
                                                         coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_status') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_status'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_status') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_status') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_status' = CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'status') WHEN 'text' THEN e.data_json->'browser_surface'->>'status'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'status') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'status' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'status') < 9007199254740992 AND e.data_json->'browser_surface'->>'status' = CAST(e.data_json->'browser_surface'->>'status' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->'browser_surface'->>'status' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_status') WHEN 'text' THEN e.data_json->>'browser_surface_status'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_status') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_status' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_status') < 9007199254740992 AND e.data_json->>'browser_surface_status' = CAST(e.data_json->>'browser_surface_status' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->>'browser_surface_status' AS INTEGER) AS TEXT) END END), '')) AS surface_status,
                                                         coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_wait_reason') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_wait_reason'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_wait_reason') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_wait_reason' = CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'wait_reason') WHEN 'text' THEN e.data_json->'browser_surface'->>'wait_reason'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'wait_reason') < 9007199254740992 AND e.data_json->'browser_surface'->>'wait_reason' = CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_wait_reason') WHEN 'text' THEN e.data_json->>'browser_surface_wait_reason'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_wait_reason') < 9007199254740992 AND e.data_json->>'browser_surface_wait_reason' = CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END END), '')) AS surface_wait_reason
                                                    FROM pyref_run_facts f
                                                   CROSS JOIN json_each(f.event_seqs) AS fs
                                                    JOIN spine_events e ON e.event_seq = fs.value
                                                   WHERE f.run_id IN (SELECT sr.run_id FROM stale sr WHERE sr.run_id IS NOT NULL
                                       UNION
                                       SELECT nf.run_id FROM pyref_run_facts nf
                                         JOIN stale sa ON sa.run_id IS NULL AND nf.connector_instance_id = sa.connector_instance_id)) u
                                          WINDOW per_run AS (PARTITION BY u.run_id)) v) r
                            JOIN connector_instances pci
                              ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
                           WHERE (pci.connector_instance_id IN (SELECT value FROM json_each(:ids))) AND ((pci.connector_instance_id, r.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
                           OR pci.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))) x) w
           GROUP BY w.run_id, w.connector_instance_id) m
   WHERE m.exists_ = 1
)
SELECT s.connector_instance_id, s.expected_profile_key, s.stream_stats, s.latest_run, s.latest_successful_run, s.latest_settled_run, s.failures_since_success, s.stream_facts, s.gap_counts, s.schedule, s.open_attention
  FROM (SELECT
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
          'known_gaps', json(r.known_gaps)) FROM (SELECT kr.run_id, kr.connector_instance_id, kr.status, kr.started_at, kr.completed_at, kr.failure_reason, kr.terminal_reason, kr.surface_profile_key, kr.surface_status, kr.surface_wait_reason, kr.collection_facts, kr.known_gaps, kr.settled_seq, kr.order_at
           FROM pyref_runs kr
          WHERE kr.connector_instance_id = ci.connector_instance_id AND NOT ((kr.connector_instance_id, kr.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
         OR kr.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))
         UNION ALL
         SELECT dl.run_id, dl.connector_instance_id, dl.status, dl.started_at, dl.completed_at, dl.failure_reason, dl.terminal_reason, dl.surface_profile_key, dl.surface_status, dl.surface_wait_reason, dl.collection_facts, dl.known_gaps, dl.settled_seq, dl.order_at FROM delta dl
          WHERE dl.connector_instance_id = ci.connector_instance_id) r
          WHERE r.connector_instance_id = ci.connector_instance_id
          ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_run,
          (SELECT json_object('run_id', r.run_id, 'status', r.status,
          'started_at', r.started_at, 'finished_at', r.completed_at,
          'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
          'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
          'surface_wait_reason', r.surface_wait_reason,
          'collection_facts', json(r.collection_facts),
          'known_gaps', json(r.known_gaps)) FROM (SELECT kr.run_id, kr.connector_instance_id, kr.status, kr.started_at, kr.completed_at, kr.failure_reason, kr.terminal_reason, kr.surface_profile_key, kr.surface_status, kr.surface_wait_reason, kr.collection_facts, kr.known_gaps, kr.settled_seq, kr.order_at
           FROM pyref_runs kr
          WHERE kr.connector_instance_id = ci.connector_instance_id AND NOT ((kr.connector_instance_id, kr.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
         OR kr.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))
         UNION ALL
         SELECT dl.run_id, dl.connector_instance_id, dl.status, dl.started_at, dl.completed_at, dl.failure_reason, dl.terminal_reason, dl.surface_profile_key, dl.surface_status, dl.surface_wait_reason, dl.collection_facts, dl.known_gaps, dl.settled_seq, dl.order_at FROM delta dl
          WHERE dl.connector_instance_id = ci.connector_instance_id) r
          WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'succeeded'
          ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_successful_run,
          (SELECT json_object('run_id', r.run_id, 'status', r.status,
          'started_at', r.started_at, 'finished_at', r.completed_at,
          'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
          'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
          'surface_wait_reason', r.surface_wait_reason,
          'collection_facts', json(r.collection_facts),
          'known_gaps', json(r.known_gaps)) FROM (SELECT kr.run_id, kr.connector_instance_id, kr.status, kr.started_at, kr.completed_at, kr.failure_reason, kr.terminal_reason, kr.surface_profile_key, kr.surface_status, kr.surface_wait_reason, kr.collection_facts, kr.known_gaps, kr.settled_seq, kr.order_at
           FROM pyref_runs kr
          WHERE kr.connector_instance_id = ci.connector_instance_id AND NOT ((kr.connector_instance_id, kr.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
         OR kr.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))
         UNION ALL
         SELECT dl.run_id, dl.connector_instance_id, dl.status, dl.started_at, dl.completed_at, dl.failure_reason, dl.terminal_reason, dl.surface_profile_key, dl.surface_status, dl.surface_wait_reason, dl.collection_facts, dl.known_gaps, dl.settled_seq, dl.order_at FROM delta dl
          WHERE dl.connector_instance_id = ci.connector_instance_id) r
          WHERE r.connector_instance_id = ci.connector_instance_id AND r.settled_seq IS NOT NULL AND r.status <> 'skipped'
          ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_settled_run,
          (SELECT count(*) FROM (SELECT kr.run_id, kr.connector_instance_id, kr.status, kr.started_at, kr.completed_at, kr.failure_reason, kr.terminal_reason, kr.surface_profile_key, kr.surface_status, kr.surface_wait_reason, kr.collection_facts, kr.known_gaps, kr.settled_seq, kr.order_at
           FROM pyref_runs kr
          WHERE kr.connector_instance_id = ci.connector_instance_id AND NOT ((kr.connector_instance_id, kr.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
         OR kr.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))
         UNION ALL
         SELECT dl.run_id, dl.connector_instance_id, dl.status, dl.started_at, dl.completed_at, dl.failure_reason, dl.terminal_reason, dl.surface_profile_key, dl.surface_status, dl.surface_wait_reason, dl.collection_facts, dl.known_gaps, dl.settled_seq, dl.order_at FROM delta dl
          WHERE dl.connector_instance_id = ci.connector_instance_id) r
            WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'failed'
              AND NOT EXISTS (SELECT 1 FROM (SELECT kr.run_id, kr.connector_instance_id, kr.status, kr.started_at, kr.completed_at, kr.failure_reason, kr.terminal_reason, kr.surface_profile_key, kr.surface_status, kr.surface_wait_reason, kr.collection_facts, kr.known_gaps, kr.settled_seq, kr.order_at
           FROM pyref_runs kr
          WHERE kr.connector_instance_id = ci.connector_instance_id AND NOT ((kr.connector_instance_id, kr.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
         OR kr.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))
         UNION ALL
         SELECT dl.run_id, dl.connector_instance_id, dl.status, dl.started_at, dl.completed_at, dl.failure_reason, dl.terminal_reason, dl.surface_profile_key, dl.surface_status, dl.surface_wait_reason, dl.collection_facts, dl.known_gaps, dl.settled_seq, dl.order_at FROM delta dl
          WHERE dl.connector_instance_id = ci.connector_instance_id) s
                               WHERE s.connector_instance_id = r.connector_instance_id
                                 AND s.status = 'succeeded' AND s.order_at >= r.order_at)) AS failures_since_success,(SELECT coalesce(json_group_array(json(json_object('stream', x.value->>'stream', 'checkpoint', CASE WHEN json_type(x.value, '$.checkpoint') = 'text' THEN nullif(x.value->>'checkpoint', '') END, 'collected', json(x.value->'collected'), 'considered', json(x.value->'considered'), 'covered', json(x.value->'covered'), 'pending_detail_gaps', json(x.value->'pending_detail_gaps'), 'skipped', json(x.value->'skipped'), 'run_id', x.run_id, 'finished_at', x.completed_at))), '[]')
             FROM (SELECT * FROM (SELECT e.value->>'stream' AS stream, e.value, r.run_id, r.completed_at,
                          row_number() OVER (
                            PARTITION BY e.value->>'stream'
                            ORDER BY CASE WHEN e.value->>'checkpoint' IN ('committed', 'disabled') THEN 0 ELSE 1 END,
                                     r.order_at DESC, r.run_id DESC, e.key DESC) AS rn
                     FROM (SELECT kr.run_id, kr.connector_instance_id, kr.status, kr.started_at, kr.completed_at, kr.failure_reason, kr.terminal_reason, kr.surface_profile_key, kr.surface_status, kr.surface_wait_reason, kr.collection_facts, kr.known_gaps, kr.settled_seq, kr.order_at
           FROM pyref_runs kr
          WHERE kr.connector_instance_id = ci.connector_instance_id AND NOT ((kr.connector_instance_id, kr.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
         OR kr.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))
         UNION ALL
         SELECT dl.run_id, dl.connector_instance_id, dl.status, dl.started_at, dl.completed_at, dl.failure_reason, dl.terminal_reason, dl.surface_profile_key, dl.surface_status, dl.surface_wait_reason, dl.collection_facts, dl.known_gaps, dl.settled_seq, dl.order_at FROM delta dl
          WHERE dl.connector_instance_id = ci.connector_instance_id) r, json_each(r.collection_facts) AS e
                    WHERE r.connector_instance_id = ci.connector_instance_id
                      AND r.collection_facts IS NOT NULL AND r.settled_seq IS NOT NULL
                      -- (a CASE, so no JSON function ever reads an element that is no object)
                      AND CASE WHEN e.type = 'object'
                               THEN CASE WHEN json_type(e.value, '$.stream') = 'text' THEN nullif(e.value->>'stream', '') END END IS NOT NULL) x
                    WHERE x.rn = 1 ORDER BY x.stream) x) AS stream_facts,(SELECT coalesce(json_group_array(json(json_object('stream', gs.stream, 'pending', json(gs.pending), 'in_progress', gs.in_progress, 'terminal', gs.terminal))), '[]')
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
        JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id) s
 WHERE s.connector_instance_id IN (SELECT value FROM json_each(:ids));

-- name: recompute_evidence_deep
-- Only the stale runs are recomputed (0016; by 0017's projection); the other stored runs are kept.
WITH stale AS MATERIALIZED (
  SELECT ss.connector_instance_id, ss.run_id FROM pyref_stale_runs ss
   WHERE ss.connector_instance_id IN (SELECT value FROM json_each(:ids))
), delta AS MATERIALIZED (
  SELECT m.run_id, m.connector_instance_id,
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
                 max(CASE WHEN w.surface_rank = 1 THEN w.surface_profile_key END) AS surface_profile_key,
                 max(CASE WHEN w.surface_rank = 1 THEN w.surface_status END) AS surface_status,
                 max(CASE WHEN w.surface_rank = 1 THEN w.surface_wait_reason END) AS surface_wait_reason,
                 max(CASE WHEN w.event_type = 'run.started' OR w.terminal = 1 THEN 1 ELSE 0 END) AS exists_
            FROM (SELECT x.*,
                         CASE WHEN x.terminal = 1 THEN row_number() OVER (
                           PARTITION BY x.run_id, x.connector_instance_id, x.terminal
                           ORDER BY x.occurred_at, x.event_seq) END AS settle_rank,
                         CASE WHEN coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NOT NULL
                              THEN row_number() OVER (
                           PARTITION BY x.run_id, x.connector_instance_id,
                                        coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NULL
                           ORDER BY x.occurred_at DESC, x.event_seq DESC) END AS surface_rank
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
                                                         nullif((CASE json_type(e.data_json->'failure_reason') WHEN 'text' THEN e.data_json->>'failure_reason'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'failure_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'failure_reason' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->>'failure_reason') < 9007199254740992 AND e.data_json->>'failure_reason' = CAST(e.data_json->>'failure_reason' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->>'failure_reason' AS INTEGER) AS TEXT) END END), '') AS failure_reason,
                                                         coalesce(nullif((CASE json_type(e.data_json->'terminal_reason') WHEN 'text' THEN e.data_json->>'terminal_reason'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'terminal_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'terminal_reason' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->>'terminal_reason') < 9007199254740992 AND e.data_json->>'terminal_reason' = CAST(e.data_json->>'terminal_reason' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->>'terminal_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'reason') WHEN 'text' THEN e.data_json->>'reason'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'reason' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->>'reason') < 9007199254740992 AND e.data_json->>'reason' = CAST(e.data_json->>'reason' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->>'reason' AS INTEGER) AS TEXT) END END), '')) AS terminal_reason,
                                                         CASE WHEN json_type(e.data_json->'collection_facts'->'streams') = 'array'
                                                              THEN json(e.data_json->'collection_facts'->'streams') END AS collection_facts,
                                                         CASE WHEN json_type(e.data_json->'known_gaps') = 'array'
                                                              THEN json(e.data_json->'known_gaps') END AS known_gaps,
                                                         coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_profile_key') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_profile_key'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_profile_key' = CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'profile_key') WHEN 'text' THEN e.data_json->'browser_surface'->>'profile_key'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'profile_key') < 9007199254740992 AND e.data_json->'browser_surface'->>'profile_key' = CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_profile_key') WHEN 'text' THEN e.data_json->>'browser_surface_profile_key'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_profile_key') < 9007199254740992 AND e.data_json->>'browser_surface_profile_key' = CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), '')) AS surface_profile_key,
                                                         coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_status') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_status'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_status') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_status') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_status' = CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'status') WHEN 'text' THEN e.data_json->'browser_surface'->>'status'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'status') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'status' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'status') < 9007199254740992 AND e.data_json->'browser_surface'->>'status' = CAST(e.data_json->'browser_surface'->>'status' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->'browser_surface'->>'status' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_status') WHEN 'text' THEN e.data_json->>'browser_surface_status'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_status') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_status' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_status') < 9007199254740992 AND e.data_json->>'browser_surface_status' = CAST(e.data_json->>'browser_surface_status' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->>'browser_surface_status' AS INTEGER) AS TEXT) END END), '')) AS surface_status,
                                                         coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_wait_reason') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_wait_reason'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_wait_reason') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_wait_reason' = CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'wait_reason') WHEN 'text' THEN e.data_json->'browser_surface'->>'wait_reason'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'wait_reason') < 9007199254740992 AND e.data_json->'browser_surface'->>'wait_reason' = CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_wait_reason') WHEN 'text' THEN e.data_json->>'browser_surface_wait_reason'
                             WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END
                             WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_wait_reason') < 9007199254740992 AND e.data_json->>'browser_surface_wait_reason' = CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER)
                                                   THEN CAST(CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END END), '')) AS surface_wait_reason
                                                    FROM pyref_run_facts f
                                                   CROSS JOIN json_each(f.event_seqs) AS fs
                                                    JOIN spine_events e ON e.event_seq = fs.value
                                                   WHERE f.run_id IN (SELECT sr.run_id FROM stale sr WHERE sr.run_id IS NOT NULL
                                       UNION
                                       SELECT nf.run_id FROM pyref_run_facts nf
                                         JOIN stale sa ON sa.run_id IS NULL AND nf.connector_instance_id = sa.connector_instance_id)) u
                                          WINDOW per_run AS (PARTITION BY u.run_id)) v) r
                            JOIN connector_instances pci
                              ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
                           WHERE (pci.connector_instance_id IN (SELECT value FROM json_each(:ids))) AND ((pci.connector_instance_id, r.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
                           OR pci.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))) x) w
           GROUP BY w.run_id, w.connector_instance_id) m
   WHERE m.exists_ = 1
)
SELECT s.connector_instance_id, s.expected_profile_key, s.stream_stats, s.latest_run, s.latest_successful_run, s.latest_settled_run, s.failures_since_success, s.stream_facts, s.gap_counts, s.schedule, s.open_attention,
       (SELECT coalesce(json_group_array(json(json_object('run_id', r.run_id, 'status', r.status,
  'started_at', r.started_at, 'finished_at', r.completed_at,
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', json(r.collection_facts),
  'known_gaps', json(r.known_gaps)))), '[]')
          FROM (SELECT * FROM (SELECT kr.run_id, kr.connector_instance_id, kr.status, kr.started_at, kr.completed_at, kr.failure_reason, kr.terminal_reason, kr.surface_profile_key, kr.surface_status, kr.surface_wait_reason, kr.collection_facts, kr.known_gaps, kr.settled_seq, kr.order_at
                                 FROM pyref_runs kr
                                WHERE kr.connector_instance_id = s.connector_instance_id AND NOT ((kr.connector_instance_id, kr.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
                               OR kr.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))
                               UNION ALL
                               SELECT dl.run_id, dl.connector_instance_id, dl.status, dl.started_at, dl.completed_at, dl.failure_reason, dl.terminal_reason, dl.surface_profile_key, dl.surface_status, dl.surface_wait_reason, dl.collection_facts, dl.known_gaps, dl.settled_seq, dl.order_at FROM delta dl
                                WHERE dl.connector_instance_id = s.connector_instance_id) x
                 ORDER BY x.order_at DESC, x.run_id DESC LIMIT 20) r) AS recent_runs
  FROM (SELECT
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
          'known_gaps', json(r.known_gaps)) FROM (SELECT kr.run_id, kr.connector_instance_id, kr.status, kr.started_at, kr.completed_at, kr.failure_reason, kr.terminal_reason, kr.surface_profile_key, kr.surface_status, kr.surface_wait_reason, kr.collection_facts, kr.known_gaps, kr.settled_seq, kr.order_at
           FROM pyref_runs kr
          WHERE kr.connector_instance_id = ci.connector_instance_id AND NOT ((kr.connector_instance_id, kr.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
         OR kr.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))
         UNION ALL
         SELECT dl.run_id, dl.connector_instance_id, dl.status, dl.started_at, dl.completed_at, dl.failure_reason, dl.terminal_reason, dl.surface_profile_key, dl.surface_status, dl.surface_wait_reason, dl.collection_facts, dl.known_gaps, dl.settled_seq, dl.order_at FROM delta dl
          WHERE dl.connector_instance_id = ci.connector_instance_id) r
          WHERE r.connector_instance_id = ci.connector_instance_id
          ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_run,
          (SELECT json_object('run_id', r.run_id, 'status', r.status,
          'started_at', r.started_at, 'finished_at', r.completed_at,
          'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
          'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
          'surface_wait_reason', r.surface_wait_reason,
          'collection_facts', json(r.collection_facts),
          'known_gaps', json(r.known_gaps)) FROM (SELECT kr.run_id, kr.connector_instance_id, kr.status, kr.started_at, kr.completed_at, kr.failure_reason, kr.terminal_reason, kr.surface_profile_key, kr.surface_status, kr.surface_wait_reason, kr.collection_facts, kr.known_gaps, kr.settled_seq, kr.order_at
           FROM pyref_runs kr
          WHERE kr.connector_instance_id = ci.connector_instance_id AND NOT ((kr.connector_instance_id, kr.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
         OR kr.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))
         UNION ALL
         SELECT dl.run_id, dl.connector_instance_id, dl.status, dl.started_at, dl.completed_at, dl.failure_reason, dl.terminal_reason, dl.surface_profile_key, dl.surface_status, dl.surface_wait_reason, dl.collection_facts, dl.known_gaps, dl.settled_seq, dl.order_at FROM delta dl
          WHERE dl.connector_instance_id = ci.connector_instance_id) r
          WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'succeeded'
          ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_successful_run,
          (SELECT json_object('run_id', r.run_id, 'status', r.status,
          'started_at', r.started_at, 'finished_at', r.completed_at,
          'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
          'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
          'surface_wait_reason', r.surface_wait_reason,
          'collection_facts', json(r.collection_facts),
          'known_gaps', json(r.known_gaps)) FROM (SELECT kr.run_id, kr.connector_instance_id, kr.status, kr.started_at, kr.completed_at, kr.failure_reason, kr.terminal_reason, kr.surface_profile_key, kr.surface_status, kr.surface_wait_reason, kr.collection_facts, kr.known_gaps, kr.settled_seq, kr.order_at
           FROM pyref_runs kr
          WHERE kr.connector_instance_id = ci.connector_instance_id AND NOT ((kr.connector_instance_id, kr.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
         OR kr.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))
         UNION ALL
         SELECT dl.run_id, dl.connector_instance_id, dl.status, dl.started_at, dl.completed_at, dl.failure_reason, dl.terminal_reason, dl.surface_profile_key, dl.surface_status, dl.surface_wait_reason, dl.collection_facts, dl.known_gaps, dl.settled_seq, dl.order_at FROM delta dl
          WHERE dl.connector_instance_id = ci.connector_instance_id) r
          WHERE r.connector_instance_id = ci.connector_instance_id AND r.settled_seq IS NOT NULL AND r.status <> 'skipped'
          ORDER BY r.order_at DESC, r.run_id DESC LIMIT 1) AS latest_settled_run,
          (SELECT count(*) FROM (SELECT kr.run_id, kr.connector_instance_id, kr.status, kr.started_at, kr.completed_at, kr.failure_reason, kr.terminal_reason, kr.surface_profile_key, kr.surface_status, kr.surface_wait_reason, kr.collection_facts, kr.known_gaps, kr.settled_seq, kr.order_at
           FROM pyref_runs kr
          WHERE kr.connector_instance_id = ci.connector_instance_id AND NOT ((kr.connector_instance_id, kr.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
         OR kr.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))
         UNION ALL
         SELECT dl.run_id, dl.connector_instance_id, dl.status, dl.started_at, dl.completed_at, dl.failure_reason, dl.terminal_reason, dl.surface_profile_key, dl.surface_status, dl.surface_wait_reason, dl.collection_facts, dl.known_gaps, dl.settled_seq, dl.order_at FROM delta dl
          WHERE dl.connector_instance_id = ci.connector_instance_id) r
            WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'failed'
              AND NOT EXISTS (SELECT 1 FROM (SELECT kr.run_id, kr.connector_instance_id, kr.status, kr.started_at, kr.completed_at, kr.failure_reason, kr.terminal_reason, kr.surface_profile_key, kr.surface_status, kr.surface_wait_reason, kr.collection_facts, kr.known_gaps, kr.settled_seq, kr.order_at
           FROM pyref_runs kr
          WHERE kr.connector_instance_id = ci.connector_instance_id AND NOT ((kr.connector_instance_id, kr.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
         OR kr.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))
         UNION ALL
         SELECT dl.run_id, dl.connector_instance_id, dl.status, dl.started_at, dl.completed_at, dl.failure_reason, dl.terminal_reason, dl.surface_profile_key, dl.surface_status, dl.surface_wait_reason, dl.collection_facts, dl.known_gaps, dl.settled_seq, dl.order_at FROM delta dl
          WHERE dl.connector_instance_id = ci.connector_instance_id) s
                               WHERE s.connector_instance_id = r.connector_instance_id
                                 AND s.status = 'succeeded' AND s.order_at >= r.order_at)) AS failures_since_success,(SELECT coalesce(json_group_array(json(json_object('stream', x.value->>'stream', 'checkpoint', CASE WHEN json_type(x.value, '$.checkpoint') = 'text' THEN nullif(x.value->>'checkpoint', '') END, 'collected', json(x.value->'collected'), 'considered', json(x.value->'considered'), 'covered', json(x.value->'covered'), 'pending_detail_gaps', json(x.value->'pending_detail_gaps'), 'skipped', json(x.value->'skipped'), 'run_id', x.run_id, 'finished_at', x.completed_at))), '[]')
             FROM (SELECT * FROM (SELECT e.value->>'stream' AS stream, e.value, r.run_id, r.completed_at,
                          row_number() OVER (
                            PARTITION BY e.value->>'stream'
                            ORDER BY CASE WHEN e.value->>'checkpoint' IN ('committed', 'disabled') THEN 0 ELSE 1 END,
                                     r.order_at DESC, r.run_id DESC, e.key DESC) AS rn
                     FROM (SELECT kr.run_id, kr.connector_instance_id, kr.status, kr.started_at, kr.completed_at, kr.failure_reason, kr.terminal_reason, kr.surface_profile_key, kr.surface_status, kr.surface_wait_reason, kr.collection_facts, kr.known_gaps, kr.settled_seq, kr.order_at
           FROM pyref_runs kr
          WHERE kr.connector_instance_id = ci.connector_instance_id AND NOT ((kr.connector_instance_id, kr.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
         OR kr.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))
         UNION ALL
         SELECT dl.run_id, dl.connector_instance_id, dl.status, dl.started_at, dl.completed_at, dl.failure_reason, dl.terminal_reason, dl.surface_profile_key, dl.surface_status, dl.surface_wait_reason, dl.collection_facts, dl.known_gaps, dl.settled_seq, dl.order_at FROM delta dl
          WHERE dl.connector_instance_id = ci.connector_instance_id) r, json_each(r.collection_facts) AS e
                    WHERE r.connector_instance_id = ci.connector_instance_id
                      AND r.collection_facts IS NOT NULL AND r.settled_seq IS NOT NULL
                      -- (a CASE, so no JSON function ever reads an element that is no object)
                      AND CASE WHEN e.type = 'object'
                               THEN CASE WHEN json_type(e.value, '$.stream') = 'text' THEN nullif(e.value->>'stream', '') END END IS NOT NULL) x
                    WHERE x.rn = 1 ORDER BY x.stream) x) AS stream_facts,(SELECT coalesce(json_group_array(json(json_object('stream', gs.stream, 'pending', json(gs.pending), 'in_progress', gs.in_progress, 'terminal', gs.terminal))), '[]')
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
        JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id) s
 WHERE s.connector_instance_id IN (SELECT value FROM json_each(:ids));

-- name: reconcile_claim
SELECT q.connector_instance_id
  FROM (SELECT connector_instance_id, marked_at, dirty_seq AS first_seq FROM pyref_dirty
        UNION ALL
        SELECT connector_instance_id, marked_at, delta_seq FROM pyref_record_deltas) q
  JOIN pyref_evidence ev ON ev.connector_instance_id = q.connector_instance_id
 WHERE NOT (q.connector_instance_id IN (SELECT value FROM json_each(:skip)))
 GROUP BY q.connector_instance_id, ev.state
 ORDER BY CASE WHEN ev.state = 'failed' THEN 1 ELSE 0 END, min(q.marked_at), min(q.first_seq)
 LIMIT :limit;

-- name: dirty_seqs
SELECT dirty_seq FROM pyref_dirty WHERE connector_instance_id IN (SELECT value FROM json_each(:ids));
-- name: refresh_runs_delete
-- The stale runs of the given connections (0016), recomputed: the stored rows go ...
DELETE FROM pyref_runs
 WHERE ((pyref_runs.connector_instance_id, pyref_runs.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM (SELECT st.connector_instance_id, st.run_id FROM pyref_stale_runs st WHERE st.connector_instance_id IN (SELECT value FROM json_each(:ids))) sh WHERE sh.run_id IS NOT NULL)
 OR pyref_runs.connector_instance_id IN (SELECT sw.connector_instance_id FROM (SELECT st.connector_instance_id, st.run_id FROM pyref_stale_runs st WHERE st.connector_instance_id IN (SELECT value FROM json_each(:ids))) sw WHERE sw.run_id IS NULL));

-- name: refresh_runs_insert
-- ... and their recomputation comes in; then the stale pairs are consumed.
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
                       max(CASE WHEN w.surface_rank = 1 THEN w.surface_profile_key END) AS surface_profile_key,
                       max(CASE WHEN w.surface_rank = 1 THEN w.surface_status END) AS surface_status,
                       max(CASE WHEN w.surface_rank = 1 THEN w.surface_wait_reason END) AS surface_wait_reason,
                       max(CASE WHEN w.event_type = 'run.started' OR w.terminal = 1 THEN 1 ELSE 0 END) AS exists_
                  FROM (SELECT x.*,
                               CASE WHEN x.terminal = 1 THEN row_number() OVER (
                                 PARTITION BY x.run_id, x.connector_instance_id, x.terminal
                                 ORDER BY x.occurred_at, x.event_seq) END AS settle_rank,
                               CASE WHEN coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NOT NULL
                                    THEN row_number() OVER (
                                 PARTITION BY x.run_id, x.connector_instance_id,
                                              coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NULL
                                 ORDER BY x.occurred_at DESC, x.event_seq DESC) END AS surface_rank
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
                                                               nullif((CASE json_type(e.data_json->'failure_reason') WHEN 'text' THEN e.data_json->>'failure_reason'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'failure_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'failure_reason' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->>'failure_reason') < 9007199254740992 AND e.data_json->>'failure_reason' = CAST(e.data_json->>'failure_reason' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->>'failure_reason' AS INTEGER) AS TEXT) END END), '') AS failure_reason,
                                                               coalesce(nullif((CASE json_type(e.data_json->'terminal_reason') WHEN 'text' THEN e.data_json->>'terminal_reason'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'terminal_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'terminal_reason' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->>'terminal_reason') < 9007199254740992 AND e.data_json->>'terminal_reason' = CAST(e.data_json->>'terminal_reason' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->>'terminal_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'reason') WHEN 'text' THEN e.data_json->>'reason'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'reason' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->>'reason') < 9007199254740992 AND e.data_json->>'reason' = CAST(e.data_json->>'reason' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->>'reason' AS INTEGER) AS TEXT) END END), '')) AS terminal_reason,
                                                               CASE WHEN json_type(e.data_json->'collection_facts'->'streams') = 'array'
                                                                    THEN json(e.data_json->'collection_facts'->'streams') END AS collection_facts,
                                                               CASE WHEN json_type(e.data_json->'known_gaps') = 'array'
                                                                    THEN json(e.data_json->'known_gaps') END AS known_gaps,
                                                               coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_profile_key') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_profile_key'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_profile_key' = CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'profile_key') WHEN 'text' THEN e.data_json->'browser_surface'->>'profile_key'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'profile_key') < 9007199254740992 AND e.data_json->'browser_surface'->>'profile_key' = CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_profile_key') WHEN 'text' THEN e.data_json->>'browser_surface_profile_key'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_profile_key') < 9007199254740992 AND e.data_json->>'browser_surface_profile_key' = CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), '')) AS surface_profile_key,
                                                               coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_status') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_status'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_status') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_status') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_status' = CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'status') WHEN 'text' THEN e.data_json->'browser_surface'->>'status'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'status') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'status' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'status') < 9007199254740992 AND e.data_json->'browser_surface'->>'status' = CAST(e.data_json->'browser_surface'->>'status' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->'browser_surface'->>'status' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_status') WHEN 'text' THEN e.data_json->>'browser_surface_status'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_status') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_status' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_status') < 9007199254740992 AND e.data_json->>'browser_surface_status' = CAST(e.data_json->>'browser_surface_status' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->>'browser_surface_status' AS INTEGER) AS TEXT) END END), '')) AS surface_status,
                                                               coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_wait_reason') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_wait_reason'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_wait_reason') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_wait_reason' = CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'wait_reason') WHEN 'text' THEN e.data_json->'browser_surface'->>'wait_reason'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'wait_reason') < 9007199254740992 AND e.data_json->'browser_surface'->>'wait_reason' = CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_wait_reason') WHEN 'text' THEN e.data_json->>'browser_surface_wait_reason'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_wait_reason') < 9007199254740992 AND e.data_json->>'browser_surface_wait_reason' = CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END END), '')) AS surface_wait_reason
                                                          FROM pyref_run_facts f
                                                         CROSS JOIN json_each(f.event_seqs) AS fs
                                                          JOIN spine_events e ON e.event_seq = fs.value
                                                         WHERE f.run_id IN (SELECT sr.run_id FROM (SELECT st.connector_instance_id, st.run_id FROM pyref_stale_runs st WHERE st.connector_instance_id IN (SELECT value FROM json_each(:ids))) sr WHERE sr.run_id IS NOT NULL
                                             UNION
                                             SELECT nf.run_id FROM pyref_run_facts nf
                                               JOIN (SELECT st.connector_instance_id, st.run_id FROM pyref_stale_runs st WHERE st.connector_instance_id IN (SELECT value FROM json_each(:ids))) sa ON sa.run_id IS NULL AND nf.connector_instance_id = sa.connector_instance_id)) u
                                                WINDOW per_run AS (PARTITION BY u.run_id)) v) r
                                  JOIN connector_instances pci
                                    ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
                                 WHERE (true) AND ((pci.connector_instance_id, r.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM (SELECT st.connector_instance_id, st.run_id FROM pyref_stale_runs st WHERE st.connector_instance_id IN (SELECT value FROM json_each(:ids))) sh WHERE sh.run_id IS NOT NULL)
                                 OR pci.connector_instance_id IN (SELECT sw.connector_instance_id FROM (SELECT st.connector_instance_id, st.run_id FROM pyref_stale_runs st WHERE st.connector_instance_id IN (SELECT value FROM json_each(:ids))) sw WHERE sw.run_id IS NULL))) x) w
                 GROUP BY w.run_id, w.connector_instance_id) m
         WHERE m.exists_ = 1) p;

-- name: release_stale
DELETE FROM pyref_stale_runs WHERE connector_instance_id IN (SELECT value FROM json_each(:ids));

-- name: rebuild_runs_delete
DELETE FROM pyref_runs;

-- name: rebuild_missing_facts
-- Run events written while the spine trigger was off get their facts, as if written now.
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
          FROM (SELECT ev.event_seq, ev.run_id, coalesce(nullif((CASE json_type(ev.data_json->'browser_surface'->'browser_surface_profile_key') WHEN 'text' THEN ev.data_json->'browser_surface'->>'browser_surface_profile_key'
                   WHEN 'integer' THEN CASE WHEN abs(ev.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(ev.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                   WHEN 'real' THEN CASE WHEN abs(ev.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 AND ev.data_json->'browser_surface'->>'browser_surface_profile_key' = CAST(ev.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER)
                                         THEN CAST(CAST(ev.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(ev.data_json->'browser_surface'->'profile_key') WHEN 'text' THEN ev.data_json->'browser_surface'->>'profile_key'
                   WHEN 'integer' THEN CASE WHEN abs(ev.data_json->'browser_surface'->>'profile_key') < 9007199254740992 THEN CAST(CAST(ev.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END
                   WHEN 'real' THEN CASE WHEN abs(ev.data_json->'browser_surface'->>'profile_key') < 9007199254740992 AND ev.data_json->'browser_surface'->>'profile_key' = CAST(ev.data_json->'browser_surface'->>'profile_key' AS INTEGER)
                                         THEN CAST(CAST(ev.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(ev.data_json->'browser_surface_profile_key') WHEN 'text' THEN ev.data_json->>'browser_surface_profile_key'
                   WHEN 'integer' THEN CASE WHEN abs(ev.data_json->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(ev.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                   WHEN 'real' THEN CASE WHEN abs(ev.data_json->>'browser_surface_profile_key') < 9007199254740992 AND ev.data_json->>'browser_surface_profile_key' = CAST(ev.data_json->>'browser_surface_profile_key' AS INTEGER)
                                         THEN CAST(CAST(ev.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), '')) AS profile_key,
                       nullif(ev.connector_instance_id, '') AS id1,
                       nullif((CASE json_type(ev.data_json->'connection_id') WHEN 'text' THEN ev.data_json->>'connection_id'
                   WHEN 'integer' THEN CASE WHEN abs(ev.data_json->>'connection_id') < 9007199254740992 THEN CAST(CAST(ev.data_json->>'connection_id' AS INTEGER) AS TEXT) END
                   WHEN 'real' THEN CASE WHEN abs(ev.data_json->>'connection_id') < 9007199254740992 AND ev.data_json->>'connection_id' = CAST(ev.data_json->>'connection_id' AS INTEGER)
                                         THEN CAST(CAST(ev.data_json->>'connection_id' AS INTEGER) AS TEXT) END END), '') AS id2,
                       nullif((CASE json_type(ev.data_json->'connector_instance_id') WHEN 'text' THEN ev.data_json->>'connector_instance_id'
                   WHEN 'integer' THEN CASE WHEN abs(ev.data_json->>'connector_instance_id') < 9007199254740992 THEN CAST(CAST(ev.data_json->>'connector_instance_id' AS INTEGER) AS TEXT) END
                   WHEN 'real' THEN CASE WHEN abs(ev.data_json->>'connector_instance_id') < 9007199254740992 AND ev.data_json->>'connector_instance_id' = CAST(ev.data_json->>'connector_instance_id' AS INTEGER)
                                         THEN CAST(CAST(ev.data_json->>'connector_instance_id' AS INTEGER) AS TEXT) END END), '') AS id3,
                       coalesce(nullif(ev.connector_id, ''), nullif(CASE WHEN ev.source_kind = 'connector' THEN ev.source_id END, ''), nullif(CASE WHEN typeof(CASE WHEN ev.data_json->'source'->>'kind' = 'connector' THEN (CASE json_type(ev.data_json->'source'->'id') WHEN 'text' THEN ev.data_json->'source'->>'id'
                   WHEN 'integer' THEN CASE WHEN abs(ev.data_json->'source'->>'id') < 9007199254740992 THEN CAST(CAST(ev.data_json->'source'->>'id' AS INTEGER) AS TEXT) END
                   WHEN 'real' THEN CASE WHEN abs(ev.data_json->'source'->>'id') < 9007199254740992 AND ev.data_json->'source'->>'id' = CAST(ev.data_json->'source'->>'id' AS INTEGER)
                                         THEN CAST(CAST(ev.data_json->'source'->>'id' AS INTEGER) AS TEXT) END END) END) IN ('integer', 'real') THEN CAST(CASE WHEN ev.data_json->'source'->>'kind' = 'connector' THEN (CASE json_type(ev.data_json->'source'->'id') WHEN 'text' THEN ev.data_json->'source'->>'id'
                   WHEN 'integer' THEN CASE WHEN abs(ev.data_json->'source'->>'id') < 9007199254740992 THEN CAST(CAST(ev.data_json->'source'->>'id' AS INTEGER) AS TEXT) END
                   WHEN 'real' THEN CASE WHEN abs(ev.data_json->'source'->>'id') < 9007199254740992 AND ev.data_json->'source'->>'id' = CAST(ev.data_json->'source'->>'id' AS INTEGER)
                                         THEN CAST(CAST(ev.data_json->'source'->>'id' AS INTEGER) AS TEXT) END END) END AS TEXT) ELSE CASE WHEN ev.data_json->'source'->>'kind' = 'connector' THEN (CASE json_type(ev.data_json->'source'->'id') WHEN 'text' THEN ev.data_json->'source'->>'id'
                   WHEN 'integer' THEN CASE WHEN abs(ev.data_json->'source'->>'id') < 9007199254740992 THEN CAST(CAST(ev.data_json->'source'->>'id' AS INTEGER) AS TEXT) END
                   WHEN 'real' THEN CASE WHEN abs(ev.data_json->'source'->>'id') < 9007199254740992 AND ev.data_json->'source'->>'id' = CAST(ev.data_json->'source'->>'id' AS INTEGER)
                                         THEN CAST(CAST(ev.data_json->'source'->>'id' AS INTEGER) AS TEXT) END END) END END, ''), nullif((CASE json_type(ev.data_json->'connector_id') WHEN 'text' THEN ev.data_json->>'connector_id'
                   WHEN 'integer' THEN CASE WHEN abs(ev.data_json->>'connector_id') < 9007199254740992 THEN CAST(CAST(ev.data_json->>'connector_id' AS INTEGER) AS TEXT) END
                   WHEN 'real' THEN CASE WHEN abs(ev.data_json->>'connector_id') < 9007199254740992 AND ev.data_json->>'connector_id' = CAST(ev.data_json->>'connector_id' AS INTEGER)
                                         THEN CAST(CAST(ev.data_json->>'connector_id' AS INTEGER) AS TEXT) END END), '')) AS connector
                  FROM spine_events AS ev WHERE substr(ev.event_type, 1, 4) = 'run.' AND ev.run_id IS NOT NULL
                                   AND NOT EXISTS (SELECT 1 FROM pyref_run_facts xf CROSS JOIN json_each(xf.event_seqs) AS xs
                                                    WHERE xf.run_id = ev.run_id AND xs.value = ev.event_seq)) k) a
  LEFT JOIN connector_instances ci ON ci.connector_instance_id = a.cid
 WHERE true
 GROUP BY a.run_id, a.carried, ci.connector_instance_id, ci.created_at
ON CONFLICT (run_id, event_seq) DO NOTHING;

-- name: rebuild_runs_insert
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
                       max(CASE WHEN w.surface_rank = 1 THEN w.surface_profile_key END) AS surface_profile_key,
                       max(CASE WHEN w.surface_rank = 1 THEN w.surface_status END) AS surface_status,
                       max(CASE WHEN w.surface_rank = 1 THEN w.surface_wait_reason END) AS surface_wait_reason,
                       max(CASE WHEN w.event_type = 'run.started' OR w.terminal = 1 THEN 1 ELSE 0 END) AS exists_
                  FROM (SELECT x.*,
                               CASE WHEN x.terminal = 1 THEN row_number() OVER (
                                 PARTITION BY x.run_id, x.connector_instance_id, x.terminal
                                 ORDER BY x.occurred_at, x.event_seq) END AS settle_rank,
                               CASE WHEN coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NOT NULL
                                    THEN row_number() OVER (
                                 PARTITION BY x.run_id, x.connector_instance_id,
                                              coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NULL
                                 ORDER BY x.occurred_at DESC, x.event_seq DESC) END AS surface_rank
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
                                                               nullif((CASE json_type(e.data_json->'failure_reason') WHEN 'text' THEN e.data_json->>'failure_reason'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'failure_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'failure_reason' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->>'failure_reason') < 9007199254740992 AND e.data_json->>'failure_reason' = CAST(e.data_json->>'failure_reason' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->>'failure_reason' AS INTEGER) AS TEXT) END END), '') AS failure_reason,
                                                               coalesce(nullif((CASE json_type(e.data_json->'terminal_reason') WHEN 'text' THEN e.data_json->>'terminal_reason'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'terminal_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'terminal_reason' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->>'terminal_reason') < 9007199254740992 AND e.data_json->>'terminal_reason' = CAST(e.data_json->>'terminal_reason' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->>'terminal_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'reason') WHEN 'text' THEN e.data_json->>'reason'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'reason' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->>'reason') < 9007199254740992 AND e.data_json->>'reason' = CAST(e.data_json->>'reason' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->>'reason' AS INTEGER) AS TEXT) END END), '')) AS terminal_reason,
                                                               CASE WHEN json_type(e.data_json->'collection_facts'->'streams') = 'array'
                                                                    THEN json(e.data_json->'collection_facts'->'streams') END AS collection_facts,
                                                               CASE WHEN json_type(e.data_json->'known_gaps') = 'array'
                                                                    THEN json(e.data_json->'known_gaps') END AS known_gaps,
                                                               coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_profile_key') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_profile_key'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_profile_key' = CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'profile_key') WHEN 'text' THEN e.data_json->'browser_surface'->>'profile_key'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'profile_key') < 9007199254740992 AND e.data_json->'browser_surface'->>'profile_key' = CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_profile_key') WHEN 'text' THEN e.data_json->>'browser_surface_profile_key'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_profile_key') < 9007199254740992 AND e.data_json->>'browser_surface_profile_key' = CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), '')) AS surface_profile_key,
                                                               coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_status') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_status'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_status') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_status') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_status' = CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'status') WHEN 'text' THEN e.data_json->'browser_surface'->>'status'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'status') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'status' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'status') < 9007199254740992 AND e.data_json->'browser_surface'->>'status' = CAST(e.data_json->'browser_surface'->>'status' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->'browser_surface'->>'status' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_status') WHEN 'text' THEN e.data_json->>'browser_surface_status'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_status') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_status' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_status') < 9007199254740992 AND e.data_json->>'browser_surface_status' = CAST(e.data_json->>'browser_surface_status' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->>'browser_surface_status' AS INTEGER) AS TEXT) END END), '')) AS surface_status,
                                                               coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_wait_reason') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_wait_reason'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_wait_reason') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_wait_reason' = CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'wait_reason') WHEN 'text' THEN e.data_json->'browser_surface'->>'wait_reason'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'wait_reason') < 9007199254740992 AND e.data_json->'browser_surface'->>'wait_reason' = CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_wait_reason') WHEN 'text' THEN e.data_json->>'browser_surface_wait_reason'
                                   WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END
                                   WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_wait_reason') < 9007199254740992 AND e.data_json->>'browser_surface_wait_reason' = CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER)
                                                         THEN CAST(CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END END), '')) AS surface_wait_reason
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

-- name: rebuild_release_stale
DELETE FROM pyref_stale_runs;

-- name: refresh_evidence
INSERT INTO pyref_evidence AS e (connector_instance_id, expected_profile_key, stream_stats, latest_run, latest_successful_run, latest_settled_run, failures_since_success, stream_facts, gap_counts, schedule, open_attention,
                                 state, computed_at, revision, last_error)
SELECT s.connector_instance_id, s.expected_profile_key, s.stream_stats, s.latest_run, s.latest_successful_run, s.latest_settled_run, s.failures_since_success, s.stream_facts, s.gap_counts, s.schedule, s.open_attention, 'ok', strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'), random(), NULL
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
  state = 'ok', computed_at = excluded.computed_at, revision = random(), last_error = NULL;

-- name: release_dirty
DELETE FROM pyref_dirty WHERE dirty_seq IN (SELECT value FROM json_each(:seqs));

-- name: release_deltas
-- After refresh_evidence, in its transaction (one writer at a time): its recount counted them.
DELETE FROM pyref_record_deltas WHERE connector_instance_id IN (SELECT value FROM json_each(:ids));

-- name: release_all_deltas
DELETE FROM pyref_record_deltas;

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

-- name: refresh_profiles
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

-- name: verify
WITH verify_run_drift (connector_instance_id) AS (
  SELECT dr.connector_instance_id FROM (
    SELECT * FROM (SELECT run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq FROM (SELECT m.run_id, m.connector_instance_id,
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
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_profile_key END) AS surface_profile_key,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_status END) AS surface_status,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_wait_reason END) AS surface_wait_reason,
                     max(CASE WHEN w.event_type = 'run.started' OR w.terminal = 1 THEN 1 ELSE 0 END) AS exists_
                FROM (SELECT x.*,
                             CASE WHEN x.terminal = 1 THEN row_number() OVER (
                               PARTITION BY x.run_id, x.connector_instance_id, x.terminal
                               ORDER BY x.occurred_at, x.event_seq) END AS settle_rank,
                             CASE WHEN coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NOT NULL
                                  THEN row_number() OVER (
                               PARTITION BY x.run_id, x.connector_instance_id,
                                            coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NULL
                               ORDER BY x.occurred_at DESC, x.event_seq DESC) END AS surface_rank
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
                                                             nullif((CASE json_type(e.data_json->'failure_reason') WHEN 'text' THEN e.data_json->>'failure_reason'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'failure_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'failure_reason' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->>'failure_reason') < 9007199254740992 AND e.data_json->>'failure_reason' = CAST(e.data_json->>'failure_reason' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->>'failure_reason' AS INTEGER) AS TEXT) END END), '') AS failure_reason,
                                                             coalesce(nullif((CASE json_type(e.data_json->'terminal_reason') WHEN 'text' THEN e.data_json->>'terminal_reason'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'terminal_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'terminal_reason' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->>'terminal_reason') < 9007199254740992 AND e.data_json->>'terminal_reason' = CAST(e.data_json->>'terminal_reason' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->>'terminal_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'reason') WHEN 'text' THEN e.data_json->>'reason'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'reason' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->>'reason') < 9007199254740992 AND e.data_json->>'reason' = CAST(e.data_json->>'reason' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->>'reason' AS INTEGER) AS TEXT) END END), '')) AS terminal_reason,
                                                             CASE WHEN json_type(e.data_json->'collection_facts'->'streams') = 'array'
                                                                  THEN json(e.data_json->'collection_facts'->'streams') END AS collection_facts,
                                                             CASE WHEN json_type(e.data_json->'known_gaps') = 'array'
                                                                  THEN json(e.data_json->'known_gaps') END AS known_gaps,
                                                             coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_profile_key') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_profile_key'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_profile_key' = CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'profile_key') WHEN 'text' THEN e.data_json->'browser_surface'->>'profile_key'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'profile_key') < 9007199254740992 AND e.data_json->'browser_surface'->>'profile_key' = CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_profile_key') WHEN 'text' THEN e.data_json->>'browser_surface_profile_key'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_profile_key') < 9007199254740992 AND e.data_json->>'browser_surface_profile_key' = CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), '')) AS surface_profile_key,
                                                             coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_status') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_status'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_status') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_status') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_status' = CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'status') WHEN 'text' THEN e.data_json->'browser_surface'->>'status'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'status') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'status' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'status') < 9007199254740992 AND e.data_json->'browser_surface'->>'status' = CAST(e.data_json->'browser_surface'->>'status' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->'browser_surface'->>'status' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_status') WHEN 'text' THEN e.data_json->>'browser_surface_status'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_status') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_status' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_status') < 9007199254740992 AND e.data_json->>'browser_surface_status' = CAST(e.data_json->>'browser_surface_status' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->>'browser_surface_status' AS INTEGER) AS TEXT) END END), '')) AS surface_status,
                                                             coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_wait_reason') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_wait_reason'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_wait_reason') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_wait_reason' = CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'wait_reason') WHEN 'text' THEN e.data_json->'browser_surface'->>'wait_reason'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'wait_reason') < 9007199254740992 AND e.data_json->'browser_surface'->>'wait_reason' = CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_wait_reason') WHEN 'text' THEN e.data_json->>'browser_surface_wait_reason'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_wait_reason') < 9007199254740992 AND e.data_json->>'browser_surface_wait_reason' = CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END END), '')) AS surface_wait_reason
                                                        FROM pyref_run_facts f
                                                       CROSS JOIN json_each(f.event_seqs) AS fs
                                                        JOIN spine_events e ON e.event_seq = fs.value
                                                       WHERE true) u
                                              WINDOW per_run AS (PARTITION BY u.run_id)) v) r
                                JOIN connector_instances pci
                                  ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
                               WHERE true) x) w
               GROUP BY w.run_id, w.connector_instance_id) m
       WHERE m.exists_ = 1) p
                   EXCEPT SELECT run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq FROM pyref_runs) a
    UNION ALL
    SELECT * FROM (SELECT run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq FROM pyref_runs
                   EXCEPT SELECT run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq FROM (SELECT m.run_id, m.connector_instance_id,
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
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_profile_key END) AS surface_profile_key,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_status END) AS surface_status,
                     max(CASE WHEN w.surface_rank = 1 THEN w.surface_wait_reason END) AS surface_wait_reason,
                     max(CASE WHEN w.event_type = 'run.started' OR w.terminal = 1 THEN 1 ELSE 0 END) AS exists_
                FROM (SELECT x.*,
                             CASE WHEN x.terminal = 1 THEN row_number() OVER (
                               PARTITION BY x.run_id, x.connector_instance_id, x.terminal
                               ORDER BY x.occurred_at, x.event_seq) END AS settle_rank,
                             CASE WHEN coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NOT NULL
                                  THEN row_number() OVER (
                               PARTITION BY x.run_id, x.connector_instance_id,
                                            coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NULL
                               ORDER BY x.occurred_at DESC, x.event_seq DESC) END AS surface_rank
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
                                                             nullif((CASE json_type(e.data_json->'failure_reason') WHEN 'text' THEN e.data_json->>'failure_reason'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'failure_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'failure_reason' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->>'failure_reason') < 9007199254740992 AND e.data_json->>'failure_reason' = CAST(e.data_json->>'failure_reason' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->>'failure_reason' AS INTEGER) AS TEXT) END END), '') AS failure_reason,
                                                             coalesce(nullif((CASE json_type(e.data_json->'terminal_reason') WHEN 'text' THEN e.data_json->>'terminal_reason'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'terminal_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'terminal_reason' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->>'terminal_reason') < 9007199254740992 AND e.data_json->>'terminal_reason' = CAST(e.data_json->>'terminal_reason' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->>'terminal_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'reason') WHEN 'text' THEN e.data_json->>'reason'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'reason' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->>'reason') < 9007199254740992 AND e.data_json->>'reason' = CAST(e.data_json->>'reason' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->>'reason' AS INTEGER) AS TEXT) END END), '')) AS terminal_reason,
                                                             CASE WHEN json_type(e.data_json->'collection_facts'->'streams') = 'array'
                                                                  THEN json(e.data_json->'collection_facts'->'streams') END AS collection_facts,
                                                             CASE WHEN json_type(e.data_json->'known_gaps') = 'array'
                                                                  THEN json(e.data_json->'known_gaps') END AS known_gaps,
                                                             coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_profile_key') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_profile_key'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_profile_key' = CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'profile_key') WHEN 'text' THEN e.data_json->'browser_surface'->>'profile_key'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'profile_key') < 9007199254740992 AND e.data_json->'browser_surface'->>'profile_key' = CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_profile_key') WHEN 'text' THEN e.data_json->>'browser_surface_profile_key'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_profile_key') < 9007199254740992 AND e.data_json->>'browser_surface_profile_key' = CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), '')) AS surface_profile_key,
                                                             coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_status') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_status'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_status') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_status') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_status' = CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'status') WHEN 'text' THEN e.data_json->'browser_surface'->>'status'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'status') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'status' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'status') < 9007199254740992 AND e.data_json->'browser_surface'->>'status' = CAST(e.data_json->'browser_surface'->>'status' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->'browser_surface'->>'status' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_status') WHEN 'text' THEN e.data_json->>'browser_surface_status'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_status') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_status' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_status') < 9007199254740992 AND e.data_json->>'browser_surface_status' = CAST(e.data_json->>'browser_surface_status' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->>'browser_surface_status' AS INTEGER) AS TEXT) END END), '')) AS surface_status,
                                                             coalesce(nullif((CASE json_type(e.data_json->'browser_surface'->'browser_surface_wait_reason') WHEN 'text' THEN e.data_json->'browser_surface'->>'browser_surface_wait_reason'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'browser_surface_wait_reason') < 9007199254740992 AND e.data_json->'browser_surface'->>'browser_surface_wait_reason' = CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface'->'wait_reason') WHEN 'text' THEN e.data_json->'browser_surface'->>'wait_reason'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->'browser_surface'->>'wait_reason') < 9007199254740992 AND e.data_json->'browser_surface'->>'wait_reason' = CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->'browser_surface'->>'wait_reason' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(e.data_json->'browser_surface_wait_reason') WHEN 'text' THEN e.data_json->>'browser_surface_wait_reason'
                                 WHEN 'integer' THEN CASE WHEN abs(e.data_json->>'browser_surface_wait_reason') < 9007199254740992 THEN CAST(CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(e.data_json->>'browser_surface_wait_reason') < 9007199254740992 AND e.data_json->>'browser_surface_wait_reason' = CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER)
                                                       THEN CAST(CAST(e.data_json->>'browser_surface_wait_reason' AS INTEGER) AS TEXT) END END), '')) AS surface_wait_reason
                                                        FROM pyref_run_facts f
                                                       CROSS JOIN json_each(f.event_seqs) AS fs
                                                        JOIN spine_events e ON e.event_seq = fs.value
                                                       WHERE true) u
                                              WINDOW per_run AS (PARTITION BY u.run_id)) v) r
                                JOIN connector_instances pci
                                  ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
                               WHERE true) x) w
               GROUP BY w.run_id, w.connector_instance_id) m
       WHERE m.exists_ = 1) p) b
  ) dr
), verify_missing_facts (connector_instance_id) AS (
  SELECT mk.cid FROM (SELECT coalesce(
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
                             ELSE coalesce(NULL, CASE WHEN k.connector IS NOT NULL THEN (SELECT CASE WHEN count(*) = 1 THEN max(si.connector_instance_id) END
                                  FROM (SELECT sa.connector_instance_id FROM connector_instances sa
                                         WHERE sa.connector_id = k.connector AND sa.status = 'active' LIMIT 2) si) END)
                           END) AS cid
                        FROM (SELECT ev.event_seq, ev.run_id, coalesce(nullif((CASE json_type(ev.data_json->'browser_surface'->'browser_surface_profile_key') WHEN 'text' THEN ev.data_json->'browser_surface'->>'browser_surface_profile_key'
                                 WHEN 'integer' THEN CASE WHEN abs(ev.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(ev.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(ev.data_json->'browser_surface'->>'browser_surface_profile_key') < 9007199254740992 AND ev.data_json->'browser_surface'->>'browser_surface_profile_key' = CAST(ev.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER)
                                                       THEN CAST(CAST(ev.data_json->'browser_surface'->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(ev.data_json->'browser_surface'->'profile_key') WHEN 'text' THEN ev.data_json->'browser_surface'->>'profile_key'
                                 WHEN 'integer' THEN CASE WHEN abs(ev.data_json->'browser_surface'->>'profile_key') < 9007199254740992 THEN CAST(CAST(ev.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(ev.data_json->'browser_surface'->>'profile_key') < 9007199254740992 AND ev.data_json->'browser_surface'->>'profile_key' = CAST(ev.data_json->'browser_surface'->>'profile_key' AS INTEGER)
                                                       THEN CAST(CAST(ev.data_json->'browser_surface'->>'profile_key' AS INTEGER) AS TEXT) END END), ''), nullif((CASE json_type(ev.data_json->'browser_surface_profile_key') WHEN 'text' THEN ev.data_json->>'browser_surface_profile_key'
                                 WHEN 'integer' THEN CASE WHEN abs(ev.data_json->>'browser_surface_profile_key') < 9007199254740992 THEN CAST(CAST(ev.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(ev.data_json->>'browser_surface_profile_key') < 9007199254740992 AND ev.data_json->>'browser_surface_profile_key' = CAST(ev.data_json->>'browser_surface_profile_key' AS INTEGER)
                                                       THEN CAST(CAST(ev.data_json->>'browser_surface_profile_key' AS INTEGER) AS TEXT) END END), '')) AS profile_key,
                                     nullif(ev.connector_instance_id, '') AS id1,
                                     nullif((CASE json_type(ev.data_json->'connection_id') WHEN 'text' THEN ev.data_json->>'connection_id'
                                 WHEN 'integer' THEN CASE WHEN abs(ev.data_json->>'connection_id') < 9007199254740992 THEN CAST(CAST(ev.data_json->>'connection_id' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(ev.data_json->>'connection_id') < 9007199254740992 AND ev.data_json->>'connection_id' = CAST(ev.data_json->>'connection_id' AS INTEGER)
                                                       THEN CAST(CAST(ev.data_json->>'connection_id' AS INTEGER) AS TEXT) END END), '') AS id2,
                                     nullif((CASE json_type(ev.data_json->'connector_instance_id') WHEN 'text' THEN ev.data_json->>'connector_instance_id'
                                 WHEN 'integer' THEN CASE WHEN abs(ev.data_json->>'connector_instance_id') < 9007199254740992 THEN CAST(CAST(ev.data_json->>'connector_instance_id' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(ev.data_json->>'connector_instance_id') < 9007199254740992 AND ev.data_json->>'connector_instance_id' = CAST(ev.data_json->>'connector_instance_id' AS INTEGER)
                                                       THEN CAST(CAST(ev.data_json->>'connector_instance_id' AS INTEGER) AS TEXT) END END), '') AS id3,
                                     coalesce(nullif(ev.connector_id, ''), nullif(CASE WHEN ev.source_kind = 'connector' THEN ev.source_id END, ''), nullif(CASE WHEN typeof(CASE WHEN ev.data_json->'source'->>'kind' = 'connector' THEN (CASE json_type(ev.data_json->'source'->'id') WHEN 'text' THEN ev.data_json->'source'->>'id'
                                 WHEN 'integer' THEN CASE WHEN abs(ev.data_json->'source'->>'id') < 9007199254740992 THEN CAST(CAST(ev.data_json->'source'->>'id' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(ev.data_json->'source'->>'id') < 9007199254740992 AND ev.data_json->'source'->>'id' = CAST(ev.data_json->'source'->>'id' AS INTEGER)
                                                       THEN CAST(CAST(ev.data_json->'source'->>'id' AS INTEGER) AS TEXT) END END) END) IN ('integer', 'real') THEN CAST(CASE WHEN ev.data_json->'source'->>'kind' = 'connector' THEN (CASE json_type(ev.data_json->'source'->'id') WHEN 'text' THEN ev.data_json->'source'->>'id'
                                 WHEN 'integer' THEN CASE WHEN abs(ev.data_json->'source'->>'id') < 9007199254740992 THEN CAST(CAST(ev.data_json->'source'->>'id' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(ev.data_json->'source'->>'id') < 9007199254740992 AND ev.data_json->'source'->>'id' = CAST(ev.data_json->'source'->>'id' AS INTEGER)
                                                       THEN CAST(CAST(ev.data_json->'source'->>'id' AS INTEGER) AS TEXT) END END) END AS TEXT) ELSE CASE WHEN ev.data_json->'source'->>'kind' = 'connector' THEN (CASE json_type(ev.data_json->'source'->'id') WHEN 'text' THEN ev.data_json->'source'->>'id'
                                 WHEN 'integer' THEN CASE WHEN abs(ev.data_json->'source'->>'id') < 9007199254740992 THEN CAST(CAST(ev.data_json->'source'->>'id' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(ev.data_json->'source'->>'id') < 9007199254740992 AND ev.data_json->'source'->>'id' = CAST(ev.data_json->'source'->>'id' AS INTEGER)
                                                       THEN CAST(CAST(ev.data_json->'source'->>'id' AS INTEGER) AS TEXT) END END) END END, ''), nullif((CASE json_type(ev.data_json->'connector_id') WHEN 'text' THEN ev.data_json->>'connector_id'
                                 WHEN 'integer' THEN CASE WHEN abs(ev.data_json->>'connector_id') < 9007199254740992 THEN CAST(CAST(ev.data_json->>'connector_id' AS INTEGER) AS TEXT) END
                                 WHEN 'real' THEN CASE WHEN abs(ev.data_json->>'connector_id') < 9007199254740992 AND ev.data_json->>'connector_id' = CAST(ev.data_json->>'connector_id' AS INTEGER)
                                                       THEN CAST(CAST(ev.data_json->>'connector_id' AS INTEGER) AS TEXT) END END), '')) AS connector
                                FROM spine_events AS ev WHERE substr(ev.event_type, 1, 4) = 'run.' AND ev.run_id IS NOT NULL
                                                 AND NOT EXISTS (SELECT 1 FROM pyref_run_facts xf CROSS JOIN json_each(xf.event_seqs) AS xs
                                                                  WHERE xf.run_id = ev.run_id AND xs.value = ev.event_seq)) k) mk
   WHERE mk.cid IS NOT NULL
  UNION
  SELECT mr.connector_instance_id FROM pyref_run_facts mr
   WHERE mr.connector_instance_id IS NOT NULL
     AND mr.run_id IN (SELECT ev.run_id FROM spine_events AS ev WHERE substr(ev.event_type, 1, 4) = 'run.' AND ev.run_id IS NOT NULL
                                                                   AND NOT EXISTS (SELECT 1 FROM pyref_run_facts xf CROSS JOIN json_each(xf.event_seqs) AS xs
                                                                                    WHERE xf.run_id = ev.run_id AND xs.value = ev.event_seq))
), vs AS (
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
           || CASE WHEN s.connector_instance_id IN (SELECT rd.connector_instance_id FROM verify_run_drift rd) THEN 'runs,' ELSE '' END
           || CASE WHEN s.connector_instance_id IN (SELECT mf.connector_instance_id FROM verify_missing_facts mf) THEN 'run_facts,' ELSE '' END
           AS differing
      FROM pyref_evidence_source s
      LEFT JOIN pyref_evidence e ON e.connector_instance_id = s.connector_instance_id
     WHERE NOT (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = s.connector_instance_id)
   OR EXISTS (SELECT 1 FROM pyref_record_deltas x WHERE x.connector_instance_id = s.connector_instance_id))
  ) v
  WHERE v.differing <> ''
  ORDER BY v.connector_instance_id
), dd AS (
  SELECT dv.connector_id, dv.differing FROM (
    SELECT r.connector_id,
           CASE WHEN g.connector_id IS NULL THEN 'digest,' ELSE ''
           || CASE WHEN g.display_name IS DISTINCT FROM r.display_name THEN 'digest.display_name,' ELSE '' END
           || CASE WHEN g.refresh_policy IS DISTINCT FROM r.refresh_policy THEN 'digest.refresh_policy,' ELSE '' END
           || CASE WHEN g.profile_base IS DISTINCT FROM r.profile_base THEN 'digest.profile_base,' ELSE '' END
           || CASE WHEN g.connector_display_name IS DISTINCT FROM r.connector_display_name THEN 'digest.connector_display_name,' ELSE '' END
           || CASE WHEN g.manifest_version IS DISTINCT FROM r.manifest_version THEN 'digest.manifest_version,' ELSE '' END
           || CASE WHEN g.browser_required IS DISTINCT FROM r.browser_required THEN 'digest.browser_required,' ELSE '' END
           || CASE WHEN g.declarations IS DISTINCT FROM r.declarations THEN 'digest.declarations,' ELSE '' END
           END AS differing
      FROM (SELECT c.connector_id,
                   c.manifest->>'display_name' AS display_name,
                   json(c.manifest->'capabilities'->'refresh_policy') AS refresh_policy,
                   coalesce(nullif(c.manifest->'capabilities'->'browser_surface'->>'profile_key', ''), c.connector_id) AS profile_base,
                   CASE WHEN json_type(c.manifest, '$.display_name') = 'text' THEN nullif(c.manifest->>'display_name', '') END AS connector_display_name,
                   CASE WHEN json_type(c.manifest, '$.version') = 'text' THEN nullif(c.manifest->>'version', '') END AS manifest_version,
                   coalesce(json_type(c.manifest, '$.runtime_requirements.bindings.browser.required') = 'true', 0) AS browser_required,
                   CASE WHEN json_type(c.manifest->'streams') = 'array' THEN (SELECT coalesce(json_group_array(json_object('name', CASE WHEN json_type(st.value, '$.name') = 'text' THEN st.value->>'name' END, 'required', json(st.value->'required'), 'coverage_strategy', json(st.value->'coverage_strategy'), 'freshness_strategy', json(st.value->'freshness_strategy'), 'coverage_policy', json(st.value->'coverage_policy'))), '[]')
               FROM (SELECT type, value FROM json_each(c.manifest->'streams') ORDER BY key) AS st
              WHERE st.type = 'object') END AS declarations
              FROM connectors c) r
      LEFT JOIN pyref_connector_digest g ON g.connector_id = r.connector_id
  ) dv
  WHERE dv.differing <> ''
)
SELECT ci.connector_instance_id, coalesce(vs.differing, '') || coalesce(dd.differing, '') AS differing
  FROM connector_instances ci
  LEFT JOIN vs ON vs.connector_instance_id = ci.connector_instance_id
  LEFT JOIN dd ON dd.connector_id = ci.connector_id
 WHERE vs.connector_instance_id IS NOT NULL OR dd.connector_id IS NOT NULL
 ORDER BY ci.connector_instance_id;

-- name: dirty_backlog
SELECT count(DISTINCT b.connector_instance_id) AS connections, count(*) AS marks,
       min(b.marked_at) AS oldest_mark,
       (SELECT count(*) FROM pyref_dirty_runs) AS run_marks
  FROM (SELECT connector_instance_id, marked_at FROM pyref_dirty UNION ALL SELECT connector_instance_id, marked_at FROM pyref_record_deltas) b;

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
  FROM (SELECT count(DISTINCT b.connector_instance_id) AS connections, count(*) AS marks,
               min(b.marked_at) AS oldest_mark
          FROM (SELECT connector_instance_id, marked_at FROM pyref_dirty UNION ALL SELECT connector_instance_id, marked_at FROM pyref_record_deltas) b) b;

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

-- name: run_owner_check_ready
-- Whether the schema has the owner check of appended run events (0013 on Postgres; the run
-- facts of 0011 on SQLite). A schema rolled back below it takes run events unchecked, as
-- it did before (docs/dba-guide.md, "Rolling back").
SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pyref_run_facts') AS ready;

-- name: foreign_run_moves
-- Runs of the just-appended events (ids) in which an event moved to or from a connection
-- of an owner other than `owner` (sql/templates/_runs.sql.j2, `foreign_moves`).
WITH fresh AS (
    SELECT ne.event_seq, ne.run_id FROM spine_events ne
     WHERE ne.event_id IN (SELECT value FROM json_each(:ids)) AND substr(ne.event_type, 1, 4) = 'run.' AND ne.run_id IS NOT NULL
), suspect AS (
    SELECT DISTINCT sf.run_id FROM pyref_run_facts sf
      JOIN connector_instances so ON so.connector_instance_id = sf.connector_instance_id
     WHERE sf.run_id IN (SELECT fr.run_id FROM fresh fr) AND so.owner_subject_id <> :owner
), after_ AS (
    SELECT a.run_id, a.event_seq, a.connector_instance_id
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
                                     WHERE f.run_id IN (SELECT sr.run_id FROM suspect sr)) u
                            WINDOW per_run AS (PARTITION BY u.run_id)) v) r
              JOIN connector_instances pci
                ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
             WHERE true) a
), before_ AS (
    SELECT b.run_id, b.event_seq, b.connector_instance_id
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
                                     WHERE f.run_id IN (SELECT sr.run_id FROM suspect sr) AND f.event_seq NOT IN (SELECT fr.event_seq FROM fresh fr)) u
                            WINDOW per_run AS (PARTITION BY u.run_id)) v) r
              JOIN connector_instances pci
                ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
             WHERE true) b
)
SELECT m.run_id FROM after_ m JOIN connector_instances mo ON mo.connector_instance_id = m.connector_instance_id
 WHERE mo.owner_subject_id <> :owner
   AND NOT EXISTS (SELECT 1 FROM before_ o WHERE o.event_seq = m.event_seq AND o.connector_instance_id = m.connector_instance_id)
UNION
SELECT o.run_id FROM before_ o JOIN connector_instances oo ON oo.connector_instance_id = o.connector_instance_id
 WHERE oo.owner_subject_id <> :owner
   AND NOT EXISTS (SELECT 1 FROM after_ m WHERE m.event_seq = o.event_seq AND m.connector_instance_id = o.connector_instance_id);

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

-- name: ingest_records_changed
-- SQLite, before `ingest_records`: the batch's records seen before, changed in place (an
-- UPDATE leaves a delta, 0031), so that the INSERT meets no existing key (an INSERT that
-- meets one marks its connection on SQLite, 0020's guard against INSERT OR REPLACE). A
-- live record with the same JSON is a no-op (emitted_at alone is no change); a deleted one
-- is revived. (The library gives each key once per batch.)
UPDATE records SET record_json = x.value->>'$.data', emitted_at = x.value->>'emitted_at',
       deleted = 0, deleted_at = NULL
  FROM json_each(:rows) AS x
 WHERE records.connector_instance_id = :id AND records.stream = :stream
   AND records.record_key = x.value->>'key'
   AND (records.deleted OR records.record_json IS NOT x.value->>'$.data')
RETURNING 1 AS changed;

-- name: ingest_records
-- One statement per batch, so a statement-level trigger fires once per batch.
-- A live record with the same JSON is a no-op (emitted_at alone is no change);
-- a deleted one is revived.
INSERT INTO records (connector_instance_id, stream, record_key, record_json, emitted_at)
SELECT :id, :stream, x.value->>'key', x.value->>'$.data', x.value->>'emitted_at'
  FROM json_each(:rows) AS x
 -- (records seen before were changed by `ingest_records_changed`: only new keys remain)
 WHERE NOT EXISTS (SELECT 1 FROM records r
                    WHERE r.connector_instance_id = :id AND r.stream = :stream
                      AND r.record_key = x.value->>'key')
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
