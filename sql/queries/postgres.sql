-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- name: cursor_key
SELECT pyref_cursor_key_v1() AS value;

-- name: list_page
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
       (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id)
        OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
          FROM pyref_dirty_runs rm
         CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
          JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
         WHERE mf.connector_instance_id IS NOT NULL)) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 7)
            THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)) ORDER BY y.stream COLLATE "C")
                    FROM (SELECT x.stream, sum(x.live) AS live, sum(x.n) AS n, sum(x.bytes) AS bytes,
                                 max(x.last_at) AS last_at
                            FROM pyref_record_deltas x
                           WHERE x.connector_instance_id = ci.connector_instance_id
                           GROUP BY x.stream) y)
            ELSE (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                    FROM pyref_record_deltas y
                   WHERE y.connector_instance_id = ci.connector_instance_id)
            END
       END AS record_deltas,
       g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
       g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
       e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
       (SELECT pyref_cursor_key_v1()) AS cursor_key
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = %(owner)s
   AND ci.status <> 'draft'
 ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
 LIMIT %(fetch)s;

-- name: list_page_after
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
       (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id)
        OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
          FROM pyref_dirty_runs rm
         CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
          JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
         WHERE mf.connector_instance_id IS NOT NULL)) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 7)
            THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)) ORDER BY y.stream COLLATE "C")
                    FROM (SELECT x.stream, sum(x.live) AS live, sum(x.n) AS n, sum(x.bytes) AS bytes,
                                 max(x.last_at) AS last_at
                            FROM pyref_record_deltas x
                           WHERE x.connector_instance_id = ci.connector_instance_id
                           GROUP BY x.stream) y)
            ELSE (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                    FROM pyref_record_deltas y
                   WHERE y.connector_instance_id = ci.connector_instance_id)
            END
       END AS record_deltas,
       g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
       g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
       e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
       (SELECT pyref_cursor_key_v1()) AS cursor_key
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = %(owner)s
   AND ci.status <> 'draft'
   AND (ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C")
       > (%(after_connector)s, %(after_created)s::timestamptz, %(after_id)s)
 ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
 LIMIT %(fetch)s;

-- name: list_page_connector
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
       (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id)
        OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
          FROM pyref_dirty_runs rm
         CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
          JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
         WHERE mf.connector_instance_id IS NOT NULL)) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 7)
            THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)) ORDER BY y.stream COLLATE "C")
                    FROM (SELECT x.stream, sum(x.live) AS live, sum(x.n) AS n, sum(x.bytes) AS bytes,
                                 max(x.last_at) AS last_at
                            FROM pyref_record_deltas x
                           WHERE x.connector_instance_id = ci.connector_instance_id
                           GROUP BY x.stream) y)
            ELSE (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                    FROM pyref_record_deltas y
                   WHERE y.connector_instance_id = ci.connector_instance_id)
            END
       END AS record_deltas,
       g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
       g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
       e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
       (SELECT pyref_cursor_key_v1()) AS cursor_key
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = %(owner)s
   AND ci.status <> 'draft'
   AND ci.connector_id COLLATE "C" = %(connector_id)s
 ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
 LIMIT %(fetch)s;

-- name: list_page_connector_after
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
       (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id)
        OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
          FROM pyref_dirty_runs rm
         CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
          JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
         WHERE mf.connector_instance_id IS NOT NULL)) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 7)
            THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)) ORDER BY y.stream COLLATE "C")
                    FROM (SELECT x.stream, sum(x.live) AS live, sum(x.n) AS n, sum(x.bytes) AS bytes,
                                 max(x.last_at) AS last_at
                            FROM pyref_record_deltas x
                           WHERE x.connector_instance_id = ci.connector_instance_id
                           GROUP BY x.stream) y)
            ELSE (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                    FROM pyref_record_deltas y
                   WHERE y.connector_instance_id = ci.connector_instance_id)
            END
       END AS record_deltas,
       g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
       g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
       e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
       (SELECT pyref_cursor_key_v1()) AS cursor_key
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = %(owner)s
   AND ci.status <> 'draft'
   AND ci.connector_id COLLATE "C" = %(connector_id)s
   AND (ci.created_at, ci.connector_instance_id COLLATE "C") > (%(after_created)s::timestamptz, %(after_id)s)
 ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
 LIMIT %(fetch)s;

-- name: list_keys
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
       (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id)
        OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
          FROM pyref_dirty_runs rm
         CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
          JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
         WHERE mf.connector_instance_id IS NOT NULL)) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 7)
            THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)) ORDER BY y.stream COLLATE "C")
                    FROM (SELECT x.stream, sum(x.live) AS live, sum(x.n) AS n, sum(x.bytes) AS bytes,
                                 max(x.last_at) AS last_at
                            FROM pyref_record_deltas x
                           WHERE x.connector_instance_id = ci.connector_instance_id
                           GROUP BY x.stream) y)
            ELSE (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                    FROM pyref_record_deltas y
                   WHERE y.connector_instance_id = ci.connector_instance_id)
            END
       END AS record_deltas,
       (SELECT pyref_cursor_key_v1()) AS cursor_key
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = %(owner)s
   AND ci.status <> 'draft'
 ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
 LIMIT %(fetch)s;

-- name: list_keys_after
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
       (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id)
        OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
          FROM pyref_dirty_runs rm
         CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
          JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
         WHERE mf.connector_instance_id IS NOT NULL)) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 7)
            THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)) ORDER BY y.stream COLLATE "C")
                    FROM (SELECT x.stream, sum(x.live) AS live, sum(x.n) AS n, sum(x.bytes) AS bytes,
                                 max(x.last_at) AS last_at
                            FROM pyref_record_deltas x
                           WHERE x.connector_instance_id = ci.connector_instance_id
                           GROUP BY x.stream) y)
            ELSE (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                    FROM pyref_record_deltas y
                   WHERE y.connector_instance_id = ci.connector_instance_id)
            END
       END AS record_deltas,
       (SELECT pyref_cursor_key_v1()) AS cursor_key
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = %(owner)s
   AND ci.status <> 'draft'
   AND (ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C")
       > (%(after_connector)s, %(after_created)s::timestamptz, %(after_id)s)
 ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
 LIMIT %(fetch)s;

-- name: list_keys_connector
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
       (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id)
        OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
          FROM pyref_dirty_runs rm
         CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
          JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
         WHERE mf.connector_instance_id IS NOT NULL)) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 7)
            THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)) ORDER BY y.stream COLLATE "C")
                    FROM (SELECT x.stream, sum(x.live) AS live, sum(x.n) AS n, sum(x.bytes) AS bytes,
                                 max(x.last_at) AS last_at
                            FROM pyref_record_deltas x
                           WHERE x.connector_instance_id = ci.connector_instance_id
                           GROUP BY x.stream) y)
            ELSE (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                    FROM pyref_record_deltas y
                   WHERE y.connector_instance_id = ci.connector_instance_id)
            END
       END AS record_deltas,
       (SELECT pyref_cursor_key_v1()) AS cursor_key
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = %(owner)s
   AND ci.status <> 'draft'
   AND ci.connector_id COLLATE "C" = %(connector_id)s
 ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
 LIMIT %(fetch)s;

-- name: list_keys_connector_after
-- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
-- the position an index condition. The cursor key rides along (evaluated once), so
-- signing costs no statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
       (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id)
        OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
          FROM pyref_dirty_runs rm
         CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
          JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
         WHERE mf.connector_instance_id IS NOT NULL)) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 7)
            THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)) ORDER BY y.stream COLLATE "C")
                    FROM (SELECT x.stream, sum(x.live) AS live, sum(x.n) AS n, sum(x.bytes) AS bytes,
                                 max(x.last_at) AS last_at
                            FROM pyref_record_deltas x
                           WHERE x.connector_instance_id = ci.connector_instance_id
                           GROUP BY x.stream) y)
            ELSE (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                    FROM pyref_record_deltas y
                   WHERE y.connector_instance_id = ci.connector_instance_id)
            END
       END AS record_deltas,
       (SELECT pyref_cursor_key_v1()) AS cursor_key
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = %(owner)s
   AND ci.status <> 'draft'
   AND ci.connector_id COLLATE "C" = %(connector_id)s
   AND (ci.created_at, ci.connector_instance_id COLLATE "C") > (%(after_created)s::timestamptz, %(after_id)s)
 ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
 LIMIT %(fetch)s;

-- name: page_rows
-- R10: whole rows (key columns and evidence documents) of the page rows a store's memo
-- lacks, this owner's only, in one statement.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
       (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id)
        OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
          FROM pyref_dirty_runs rm
         CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
          JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
         WHERE mf.connector_instance_id IS NOT NULL)) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 7)
            THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)) ORDER BY y.stream COLLATE "C")
                    FROM (SELECT x.stream, sum(x.live) AS live, sum(x.n) AS n, sum(x.bytes) AS bytes,
                                 max(x.last_at) AS last_at
                            FROM pyref_record_deltas x
                           WHERE x.connector_instance_id = ci.connector_instance_id
                           GROUP BY x.stream) y)
            ELSE (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                    FROM pyref_record_deltas y
                   WHERE y.connector_instance_id = ci.connector_instance_id)
            END
       END AS record_deltas,
       g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
       g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
       e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = %(owner)s
   AND ci.connector_instance_id = ANY(%(ids)s);

-- name: scoped_summary
-- R11/R62: one connection by id (any status), or by connector id when exactly one
-- non-draft connection has it, with the deep evidence the overview never hydrates.
SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
       ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
       g.revision AS digest_revision,
       e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
       e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
       (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id)
        OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
          FROM pyref_dirty_runs rm
         CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
          JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
         WHERE mf.connector_instance_id IS NOT NULL)) AS dirty,
       CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id)
       THEN CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 7)
            THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)) ORDER BY y.stream COLLATE "C")
                    FROM (SELECT x.stream, sum(x.live) AS live, sum(x.n) AS n, sum(x.bytes) AS bytes,
                                 max(x.last_at) AS last_at
                            FROM pyref_record_deltas x
                           WHERE x.connector_instance_id = ci.connector_instance_id
                           GROUP BY x.stream) y)
            ELSE (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                    FROM pyref_record_deltas y
                   WHERE y.connector_instance_id = ci.connector_instance_id)
            END
       END AS record_deltas,
       g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
       g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
       e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('run_id', r.run_id, 'status', r.status,
  'started_at', pyref_iso(r.started_at), 'finished_at', pyref_iso(r.completed_at),
  'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
  'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
  'surface_wait_reason', r.surface_wait_reason,
  'collection_facts', r.collection_facts,
  'known_gaps', r.known_gaps) ORDER BY r.order_at DESC, r.run_id COLLATE "C" DESC), '[]'::jsonb)
          FROM (SELECT * FROM pyref_runs x
                 WHERE x.connector_instance_id = ci.connector_instance_id
                 ORDER BY x.order_at DESC, x.run_id COLLATE "C" DESC LIMIT 20) r) AS recent_runs,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('gap_id', gp.gap_id, 'stream', gp.stream, 'status', gp.status, 'reason', gp.reason, 'next_attempt_after', gp.next_attempt_after, 'updated_at', gp.updated_at) ORDER BY gp.updated_at DESC, gp.gap_id COLLATE "C"), '[]'::jsonb)
          FROM (SELECT x.gap_id, x.stream, x.status, x.reason,
                       pyref_iso(x.next_attempt_after) AS next_attempt_after, pyref_iso(x.updated_at) AS updated_at
                  FROM connector_detail_gaps x
                 WHERE x.connector_instance_id = ci.connector_instance_id AND x.status IN ('pending', 'terminal')
                 ORDER BY x.updated_at DESC, x.gap_id COLLATE "C" LIMIT 50) gp) AS open_gaps,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('attention_id', a.attention_id, 'reason_code', a.reason_code, 'owner_action', a.owner_action, 'lifecycle', a.lifecycle, 'response_required', a.response_required, 'expires_at', a.expires_at, 'created_at', a.created_at) ORDER BY a.created_at DESC, a.attention_id COLLATE "C"), '[]'::jsonb)
          FROM (SELECT x.attention_id, x.reason_code, x.owner_action, x.lifecycle, x.response_required,
                       pyref_iso(x.expires_at) AS expires_at, pyref_iso(x.created_at) AS created_at
                  FROM connector_attention_records x
                 WHERE x.connector_instance_id = ci.connector_instance_id
                 ORDER BY x.created_at DESC, x.attention_id COLLATE "C" LIMIT 20) a) AS attention_history
FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
  LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
 WHERE ci.owner_subject_id = %(owner)s
   AND ci.connector_instance_id = coalesce(
         (SELECT x.connector_instance_id FROM connector_instances x
           WHERE x.connector_instance_id = %(id)s AND x.owner_subject_id = %(owner)s),
         (SELECT CASE WHEN count(*) = 1 THEN max(x.connector_instance_id) END FROM connector_instances x
           WHERE x.connector_id = %(id)s AND x.owner_subject_id = %(owner)s
             AND x.status <> 'draft'));

-- name: resolve_connection
-- R62: an exact connection id of this owner (any status) first; else this owner's
-- non-draft connections of that connector id, in list order (byte order, as R12's), named
-- as R53 says.
SELECT ci.connector_instance_id,
       coalesce(nullif(ci.display_name, ''), g.connector_display_name, ci.connector_id) AS display_name,
       ci.status, ci.connector_instance_id = %(ref)s AS exact
  FROM connector_instances ci
  LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
 WHERE ci.owner_subject_id = %(owner)s
   AND (ci.connector_instance_id = %(ref)s
        OR (ci.connector_id = %(ref)s AND ci.status <> 'draft'))
 ORDER BY ci.connector_instance_id = %(ref)s DESC, ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
 LIMIT %(fetch)s;

-- name: recompute_evidence
-- Through functions that serve the owner the read transaction names only (0010, 0011,
-- 0012; v2, 0034: the documents as json, the stored ones as stored).
-- Each row comes with its version (what its recompute reads, 0025); a row whose version is
-- the one the store holds a recomputation for (`held`, by position) is not recomputed: its
-- evidence is NULL.
WITH held AS MATERIALIZED (
  SELECT u.id, u.held FROM unnest(%(ids)s::text[], %(held)s::text[]) AS u(id, held)
), v AS MATERIALIZED (
  SELECT i.*,
         'v2:' || (SELECT p.xmin::text FROM pg_catalog.pg_proc p
           WHERE p.oid = 'pyref_recompute_evidence_v2(text[])'::pg_catalog.regprocedure)
         || ':' || coalesce((SELECT e.revision FROM pyref_evidence e WHERE e.connector_instance_id = i.id)::text, '-')
         || ':' || coalesce((SELECT g.revision FROM connector_instances ci
                               JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
                              WHERE ci.connector_instance_id = i.id)::text, '-')
         || ':' || coalesce(q.n || ':' || q.seq, '0:0') || ':' || coalesce(x.n || ':' || x.seq, '0:0')
         || ':' || coalesce(r.n || ':' || r.seq, '0:0') AS version
    FROM held i
    LEFT JOIN LATERAL (SELECT count(*) AS n, max(q.dirty_seq) AS seq
                         FROM pyref_dirty q WHERE q.connector_instance_id = i.id) q ON q.n > 0
    LEFT JOIN LATERAL (SELECT count(*) AS n, max(x.delta_seq) AS seq
                         FROM pyref_record_deltas x WHERE x.connector_instance_id = i.id) x ON x.n > 0
    LEFT JOIN (SELECT mf.connector_instance_id AS id, count(*) AS n, max(rm.dirty_seq) AS seq
                 FROM pyref_dirty_runs rm
                CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
                 JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
                WHERE mf.connector_instance_id IN (SELECT id FROM held)
                GROUP BY mf.connector_instance_id) r ON r.id = i.id
)
SELECT v.id AS connector_instance_id, v.version, s.connector_instance_id IS NOT NULL AS recomputed,
       s.expected_profile_key, s.stream_stats, s.latest_run, s.latest_successful_run, s.latest_settled_run, s.failures_since_success, s.stream_facts, s.gap_counts, s.schedule, s.open_attention
  FROM v
  LEFT JOIN (SELECT r.* FROM (SELECT ARRAY(SELECT w.id FROM v w WHERE w.version IS DISTINCT FROM w.held) AS ids) c,
                    pyref_recompute_evidence_v2(c.ids) r
              WHERE cardinality(c.ids) > 0) s  -- (no call at all when every row is held)
    ON s.connector_instance_id = v.id;

-- name: recompute_evidence_deep
-- Through functions that serve the owner the read transaction names only (0010, 0011,
-- 0012; v2, 0034: the documents as json, the stored ones as stored).
SELECT s.connector_instance_id, s.expected_profile_key, s.stream_stats, s.latest_run, s.latest_successful_run, s.latest_settled_run, s.failures_since_success, s.stream_facts, s.gap_counts, s.schedule, s.open_attention,
       pyref_recent_runs_v1(s.connector_instance_id) AS recent_runs
  FROM pyref_recompute_evidence_v2(%(ids)s) s;

-- name: recompute_evidence_v1
-- Through functions that serve the owner the read transaction names only (0010, 0011,
-- 0012; v2, 0034: the documents as json, the stored ones as stored).
-- Each row comes with its version (what its recompute reads, 0025); a row whose version is
-- the one the store holds a recomputation for (`held`, by position) is not recomputed: its
-- evidence is NULL.
WITH held AS MATERIALIZED (
  SELECT u.id, u.held FROM unnest(%(ids)s::text[], %(held)s::text[]) AS u(id, held)
), v AS MATERIALIZED (
  SELECT i.*,
         'v1:' || (SELECT p.xmin::text FROM pg_catalog.pg_proc p
           WHERE p.oid = 'pyref_recompute_evidence_v1(text[])'::pg_catalog.regprocedure)
         || ':' || coalesce((SELECT e.revision FROM pyref_evidence e WHERE e.connector_instance_id = i.id)::text, '-')
         || ':' || coalesce((SELECT g.revision FROM connector_instances ci
                               JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
                              WHERE ci.connector_instance_id = i.id)::text, '-')
         || ':' || coalesce(q.n || ':' || q.seq, '0:0') || ':' || coalesce(x.n || ':' || x.seq, '0:0')
         || ':' || coalesce(r.n || ':' || r.seq, '0:0') AS version
    FROM held i
    LEFT JOIN LATERAL (SELECT count(*) AS n, max(q.dirty_seq) AS seq
                         FROM pyref_dirty q WHERE q.connector_instance_id = i.id) q ON q.n > 0
    LEFT JOIN LATERAL (SELECT count(*) AS n, max(x.delta_seq) AS seq
                         FROM pyref_record_deltas x WHERE x.connector_instance_id = i.id) x ON x.n > 0
    LEFT JOIN (SELECT mf.connector_instance_id AS id, count(*) AS n, max(rm.dirty_seq) AS seq
                 FROM pyref_dirty_runs rm
                CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
                 JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
                WHERE mf.connector_instance_id IN (SELECT id FROM held)
                GROUP BY mf.connector_instance_id) r ON r.id = i.id
)
SELECT v.id AS connector_instance_id, v.version, s.connector_instance_id IS NOT NULL AS recomputed,
       s.expected_profile_key, s.stream_stats, s.latest_run, s.latest_successful_run, s.latest_settled_run, s.failures_since_success, s.stream_facts, s.gap_counts, s.schedule, s.open_attention
  FROM v
  LEFT JOIN (SELECT r.* FROM (SELECT ARRAY(SELECT w.id FROM v w WHERE w.version IS DISTINCT FROM w.held) AS ids) c,
                    pyref_recompute_evidence_v1(c.ids) r
              WHERE cardinality(c.ids) > 0) s  -- (no call at all when every row is held)
    ON s.connector_instance_id = v.id;

-- name: recompute_evidence_deep_v1
-- Through functions that serve the owner the read transaction names only (0010, 0011,
-- 0012; v2, 0034: the documents as json, the stored ones as stored).
SELECT s.connector_instance_id, s.expected_profile_key, s.stream_stats, s.latest_run, s.latest_successful_run, s.latest_settled_run, s.failures_since_success, s.stream_facts, s.gap_counts, s.schedule, s.open_attention,
       pyref_recent_runs_v1(s.connector_instance_id) AS recent_runs
  FROM pyref_recompute_evidence_v1(%(ids)s) s;

-- name: reconcile
SELECT reconciled, failed, failed_ids
  FROM pyref_reconcile_v3(%(limit)s::integer, %(skip)s::text[]);

-- name: rebuild
SELECT pyref_rebuild_v3();

-- name: verify
SELECT connector_instance_id, differing FROM pyref_verify_v3();

-- name: write_position
-- Read-your-writes (docs/scaling.md): the primary's WAL insert position, taken after a
-- commit, is at or past that commit's record (pg_current_wal_lsn() may trail it).
-- open_xact: the id of the transaction this runs in if it has written, i.e. a caller's
-- transaction holding the store's write uncommitted (NULL after the store's own commit).
SELECT pg_current_wal_insert_lsn()::text AS position,
       pg_current_xact_id_if_assigned()::text AS open_xact;

-- name: commit_status
-- Whether caller transactions holding the store's writes have ended (docs/scaling.md):
-- 'committed', 'aborted', 'in progress', or NULL when too old to know (ended long ago).
-- The insert position is read after the status (the CTE's rows exist before the outer
-- list is computed), so a committed transaction's commit record lies at or before it.
WITH checked AS MATERIALIZED (
  SELECT x AS xact, pg_xact_status(x::xid8) AS status FROM unnest(%(xacts)s::text[]) AS x
)
SELECT xact, status, pg_current_wal_insert_lsn()::text AS position FROM checked;

-- name: read_only
-- A hot standby (or default_transaction_read_only) refuses writes: migrations check first,
-- as yoyo's lock would otherwise retry its refused INSERT until it times out.
SELECT current_setting('transaction_read_only') = 'on' AS read_only;

-- name: replica_state
-- Run on a replica BEFORE the read's snapshot: a replay position read inside the
-- snapshot could be newer than what the snapshot shows. lag_seconds bounds how far
-- behind the primary the replica's data may be (0 when all received WAL is replayed
-- and WAL is streaming in; NULL when unknown).
SELECT pg_is_in_recovery() AS in_recovery,
       pg_last_wal_replay_lsn()::text AS replayed,
       CASE WHEN NOT pg_is_in_recovery() THEN NULL
            WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()
                 AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN 0.0
            ELSE greatest(0.0, extract(epoch FROM clock_timestamp()
                                       - pg_last_xact_replay_timestamp()))::float8
       END AS lag_seconds;

-- name: dirty_backlog
SELECT count(DISTINCT b.connector_instance_id) AS connections, count(*) AS marks,
       pyref_iso(min(b.marked_at)) AS oldest_mark,
       (SELECT count(*) FROM pyref_dirty_runs) AS run_marks
  FROM (SELECT connector_instance_id, marked_at FROM pyref_dirty UNION ALL SELECT connector_instance_id, marked_at FROM pyref_record_deltas) b;

-- name: owner_connectors
-- The console's connector filter: the owner's connectors (drafts aside), one index probe
-- per registered connector, whatever the number of connections.
SELECT c.connector_id, g.display_name
  FROM connectors c
  LEFT JOIN pyref_connector_digest g ON g.connector_id = c.connector_id
 WHERE EXISTS (SELECT 1 FROM connector_instances ci
                WHERE ci.owner_subject_id = %(owner)s
                  AND ci.connector_id = c.connector_id AND ci.status <> 'draft')
 ORDER BY c.connector_id COLLATE "C";

-- name: read_model_health
SELECT b.connections, b.marks, b.oldest_mark,
       (SELECT count(*) FROM pyref_evidence WHERE state = 'failed') AS failed_rows,
       (SELECT pyref_iso(max(computed_at)) FROM pyref_evidence WHERE state = 'ok')
           AS last_reconciled_at
  FROM (SELECT count(DISTINCT b.connector_instance_id) AS connections, count(*) AS marks,
               pyref_iso(min(b.marked_at)) AS oldest_mark
          FROM (SELECT connector_instance_id, marked_at FROM pyref_dirty UNION ALL SELECT connector_instance_id, marked_at FROM pyref_record_deltas) b) b;

-- name: insert_connector
INSERT INTO connectors (connector_id, manifest) VALUES (%(connector_id)s, %(manifest)s)
ON CONFLICT (connector_id) DO UPDATE SET manifest = excluded.manifest, updated_at = now()
 WHERE connectors.manifest IS DISTINCT FROM excluded.manifest;

-- name: insert_connector_if_absent
-- A connector already registered keeps its manifest (the demo never overwrites one).
INSERT INTO connectors (connector_id, manifest) VALUES (%(connector_id)s, %(manifest)s)
ON CONFLICT (connector_id) DO NOTHING;

-- name: connection_count
SELECT count(*) AS connections FROM connector_instances;

-- name: insert_connection
INSERT INTO connector_instances (connector_instance_id, owner_subject_id, connector_id, display_name,
                                 status, source_kind, created_at, updated_at, revoked_at)
VALUES (%(id)s, %(owner)s, %(connector_id)s, %(display_name)s, %(status)s,
        %(source_kind)s, %(created_at)s, %(created_at)s,
        CASE WHEN %(status)s::text = 'revoked' THEN %(created_at)s::timestamptz END);

-- name: update_connection
UPDATE connector_instances
   SET display_name = coalesce(%(display_name)s::text, display_name),
       status = coalesce(%(status)s::text, status),
       revoked_at = CASE WHEN %(status)s::text = 'revoked' AND status <> 'revoked' THEN %(now)s::timestamptz
                         WHEN %(status)s::text IS NOT NULL AND %(status)s::text <> 'revoked' THEN NULL
                         ELSE revoked_at END,
       updated_at = %(now)s
 WHERE connector_instance_id = %(id)s;

-- name: connection_owners
SELECT connector_instance_id, owner_subject_id FROM connector_instances
 WHERE connector_instance_id = ANY(%(ids)s);

-- name: delete_record
UPDATE records SET deleted = true, deleted_at = %(now)s
 WHERE connector_instance_id = %(id)s AND stream = %(stream)s AND record_key = %(key)s
   AND NOT deleted
RETURNING 1 AS changed;

-- name: events_by_seq
SELECT event_seq FROM spine_events WHERE event_seq = ANY(%(seqs)s) ORDER BY event_seq LIMIT 1;

-- name: advance_event_seq
SELECT setval(pg_get_serial_sequence('spine_events', 'event_seq'), m.top)
  FROM (SELECT max(event_seq) AS top FROM spine_events) m
 WHERE m.top > pg_sequence_last_value(pg_get_serial_sequence('spine_events', 'event_seq')::regclass)
    OR pg_sequence_last_value(pg_get_serial_sequence('spine_events', 'event_seq')::regclass) IS NULL;

-- name: events_by_id
SELECT event_seq, event_id, event_type, pyref_iso(occurred_at) AS occurred_at, status, run_id, connector_id,
       connector_instance_id, source_kind, source_id, data_json
  FROM spine_events WHERE event_id = ANY(%(ids)s);

-- name: run_owner_check_ready
-- Whether the schema has the owner check of appended run events (0013 on Postgres; the run
-- facts of 0011 on SQLite). A schema rolled back below it takes run events unchecked, as
-- it did before (docs/dba-guide.md, "Rolling back").
SELECT pg_catalog.to_regprocedure('pyref_foreign_run_moves_v1(text, text[])') IS NOT NULL AS ready;

-- name: foreign_run_moves
-- Runs of the just-appended events (ids) in which an event moved to or from a connection
-- of an owner other than `owner` (sql/templates/_runs.sql.j2, `foreign_moves`).
SELECT run_id FROM pyref_foreign_run_moves_v1(%(owner)s, %(ids)s::text[]);

-- name: upsert_schedule
INSERT INTO connector_schedules (connector_instance_id, interval_seconds, enabled, consecutive_failures,
                                 next_run_at, updated_at)
VALUES (%(id)s, %(interval_seconds)s, %(enabled)s, %(consecutive_failures)s,
        %(next_run_at)s, %(now)s)
ON CONFLICT (connector_instance_id) DO UPDATE
   SET interval_seconds = excluded.interval_seconds, enabled = excluded.enabled,
       consecutive_failures = excluded.consecutive_failures, next_run_at = excluded.next_run_at,
       updated_at = excluded.updated_at;

-- name: insert_gap
INSERT INTO connector_detail_gaps (gap_id, connector_instance_id, stream, status, reason, next_attempt_after, updated_at)
VALUES (%(gap_id)s, %(id)s, %(stream)s, %(status)s, %(reason)s,
        %(next_attempt_after)s, %(now)s);

-- name: update_gap
UPDATE connector_detail_gaps SET status = %(status)s, updated_at = %(now)s
 WHERE gap_id = %(gap_id)s AND connector_instance_id IN (SELECT ci.connector_instance_id FROM connector_instances ci
                           WHERE ci.owner_subject_id = %(owner)s)
RETURNING 1 AS changed;

-- name: gap_connection
SELECT connector_instance_id FROM connector_detail_gaps WHERE gap_id = %(gap_id)s;

-- name: insert_attention
INSERT INTO connector_attention_records (attention_id, connector_instance_id, reason_code, owner_action,
                                         response_required, expires_at, created_at, updated_at)
VALUES (%(attention_id)s, %(id)s, %(reason_code)s, %(owner_action)s,
        %(response_required)s, %(expires_at)s, %(now)s, %(now)s);

-- name: update_attention
UPDATE connector_attention_records SET lifecycle = %(lifecycle)s, updated_at = %(now)s
 WHERE attention_id = %(attention_id)s AND connector_instance_id IN (SELECT ci.connector_instance_id FROM connector_instances ci
                           WHERE ci.owner_subject_id = %(owner)s)
RETURNING 1 AS changed;

-- name: attention_connection
SELECT connector_instance_id FROM connector_attention_records WHERE attention_id = %(attention_id)s;

-- name: ingest_records
-- One statement per batch, so a statement-level trigger fires once per batch.
-- A live record with the same JSON is a no-op (emitted_at alone is no change);
-- a deleted one is revived.
INSERT INTO records (connector_instance_id, stream, record_key, record_json, emitted_at)
SELECT %(id)s, %(stream)s, x.key, x.data, x.emitted_at
  FROM jsonb_to_recordset(%(rows)s) AS x(key text, data jsonb, emitted_at timestamptz)
 WHERE true
ON CONFLICT (connector_instance_id, stream, record_key) DO UPDATE
   SET record_json = excluded.record_json, emitted_at = excluded.emitted_at,
       deleted = false, deleted_at = NULL
 WHERE records.deleted OR records.record_json IS DISTINCT FROM excluded.record_json
RETURNING 1 AS changed;

-- name: insert_events
-- In the given order, so event_seq follows it; run events fold into pyref_runs
-- by trigger. Events that carry their own event_seq are the next statement.
INSERT INTO spine_events (event_id, event_type, occurred_at, recorded_at, status, run_id, connector_id,
                          connector_instance_id, source_kind, source_id, data_json)
SELECT x.v->>'event_id', x.v->>'event_type', (x.v->>'occurred_at')::timestamptz,
       (x.v->>'recorded_at')::timestamptz, x.v->>'status', x.v->>'run_id', x.v->>'connector_id',
       x.v->>'connection_id', x.v->>'source_kind', x.v->>'source_id',
       CASE WHEN jsonb_typeof(x.v->'data') = 'object' THEN x.v->'data' END
  FROM jsonb_array_elements(%(events)s) WITH ORDINALITY AS x(v, ord)
 WHERE jsonb_typeof(x.v->'event_seq') IS DISTINCT FROM 'number'
 ORDER BY x.ord
ON CONFLICT (event_id) DO NOTHING;

-- name: insert_events_with_seq
-- Events whose writer gave event_seq: stored with exactly that number.
INSERT INTO spine_events (event_seq, event_id, event_type, occurred_at, recorded_at, status, run_id, connector_id,
                          connector_instance_id, source_kind, source_id, data_json)
SELECT (x.v->>'event_seq')::bigint, x.v->>'event_id', x.v->>'event_type', (x.v->>'occurred_at')::timestamptz,
       (x.v->>'recorded_at')::timestamptz, x.v->>'status', x.v->>'run_id', x.v->>'connector_id',
       x.v->>'connection_id', x.v->>'source_kind', x.v->>'source_id',
       CASE WHEN jsonb_typeof(x.v->'data') = 'object' THEN x.v->'data' END
  FROM jsonb_array_elements(%(events)s) WITH ORDINALITY AS x(v, ord)
 WHERE jsonb_typeof(x.v->'event_seq') = 'number'
 ORDER BY x.ord
ON CONFLICT (event_id) DO NOTHING;
