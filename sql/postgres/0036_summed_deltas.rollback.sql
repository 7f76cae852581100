-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0036: the page functions list every pending delta again (0028's).
CREATE OR REPLACE FUNCTION pyref_list_keys_v1(p_owner text, p_fetch integer, p_connector_id text, p_after_connector text, p_after_created timestamptz, p_after_id text)
RETURNS TABLE (connector_instance_id text, connector_id text, display_name text, status text, source_kind text,
    owner_subject_id text, created_at text, revoked_at text, digest_revision bigint, has_evidence boolean,
    expected_profile_key text, failures_since_success bigint, revision bigint, state text, computed_at text,
    last_error text, dirty boolean, record_deltas json,
    cursor_key text)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    v_caller_owner text := pg_catalog.current_setting('pyref.owner', true);
BEGIN
    -- The cursor key is derived for the owner the transaction names (0010).
    PERFORM pg_catalog.set_config('pyref.owner', p_owner, true);
    IF p_connector_id IS NULL AND p_after_id IS NULL THEN
        RETURN QUERY
        -- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
        -- the position an index condition. The cursor key rides along (evaluated once), so
        -- signing costs no statement.
        SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
               ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
               g.revision AS digest_revision,
               e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
               e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
               (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id OFFSET 0)
                OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
                  FROM pyref_dirty_runs rm
                 CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
                  JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
                 WHERE mf.connector_instance_id IS NOT NULL
                   AND rm.dirty_seq >= -9223372036854775808)) AS dirty,
               CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 0)
               THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                       FROM pyref_record_deltas y
                      WHERE y.connector_instance_id = ci.connector_instance_id)
               END AS record_deltas,
               (SELECT pyref_cursor_key_v1()) AS cursor_key
        FROM connector_instances ci
          LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
          LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
         WHERE ci.owner_subject_id = p_owner
           AND ci.status <> 'draft'
         ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
         LIMIT p_fetch;
    ELSIF p_connector_id IS NULL THEN
        RETURN QUERY
        -- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
        -- the position an index condition. The cursor key rides along (evaluated once), so
        -- signing costs no statement.
        SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
               ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
               g.revision AS digest_revision,
               e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
               e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
               (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id OFFSET 0)
                OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
                  FROM pyref_dirty_runs rm
                 CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
                  JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
                 WHERE mf.connector_instance_id IS NOT NULL
                   AND rm.dirty_seq >= -9223372036854775808)) AS dirty,
               CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 0)
               THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                       FROM pyref_record_deltas y
                      WHERE y.connector_instance_id = ci.connector_instance_id)
               END AS record_deltas,
               (SELECT pyref_cursor_key_v1()) AS cursor_key
        FROM connector_instances ci
          LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
          LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
         WHERE ci.owner_subject_id = p_owner
           AND ci.status <> 'draft'
           AND (ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C")
               > (p_after_connector, p_after_created, p_after_id)
         ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
         LIMIT p_fetch;
    ELSIF p_after_id IS NULL THEN
        RETURN QUERY
        -- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
        -- the position an index condition. The cursor key rides along (evaluated once), so
        -- signing costs no statement.
        SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
               ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
               g.revision AS digest_revision,
               e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
               e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
               (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id OFFSET 0)
                OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
                  FROM pyref_dirty_runs rm
                 CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
                  JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
                 WHERE mf.connector_instance_id IS NOT NULL
                   AND rm.dirty_seq >= -9223372036854775808)) AS dirty,
               CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 0)
               THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                       FROM pyref_record_deltas y
                      WHERE y.connector_instance_id = ci.connector_instance_id)
               END AS record_deltas,
               (SELECT pyref_cursor_key_v1()) AS cursor_key
        FROM connector_instances ci
          LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
          LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
         WHERE ci.owner_subject_id = p_owner
           AND ci.status <> 'draft'
           AND ci.connector_id COLLATE "C" = p_connector_id
         ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
         LIMIT p_fetch;
    ELSE
        RETURN QUERY
        -- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
        -- the position an index condition. The cursor key rides along (evaluated once), so
        -- signing costs no statement.
        SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
               ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
               g.revision AS digest_revision,
               e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
               e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
               (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id OFFSET 0)
                OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
                  FROM pyref_dirty_runs rm
                 CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
                  JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
                 WHERE mf.connector_instance_id IS NOT NULL
                   AND rm.dirty_seq >= -9223372036854775808)) AS dirty,
               CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 0)
               THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                       FROM pyref_record_deltas y
                      WHERE y.connector_instance_id = ci.connector_instance_id)
               END AS record_deltas,
               (SELECT pyref_cursor_key_v1()) AS cursor_key
        FROM connector_instances ci
          LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
          LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
         WHERE ci.owner_subject_id = p_owner
           AND ci.status <> 'draft'
           AND ci.connector_id COLLATE "C" = p_connector_id
           AND (ci.created_at, ci.connector_instance_id COLLATE "C") > (p_after_created, p_after_id)
         ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
         LIMIT p_fetch;
    END IF;
    -- The rows are computed; a caller's own transaction gets its setting back.
    PERFORM pg_catalog.set_config('pyref.owner', coalesce(v_caller_owner, ''), true);
END
$$;

CREATE OR REPLACE FUNCTION pyref_list_page_v1(p_owner text, p_fetch integer, p_connector_id text, p_after_connector text, p_after_created timestamptz, p_after_id text)
RETURNS TABLE (connector_instance_id text, connector_id text, display_name text, status text, source_kind text,
    owner_subject_id text, created_at text, revoked_at text, digest_revision bigint, has_evidence boolean,
    expected_profile_key text, failures_since_success bigint, revision bigint, state text, computed_at text,
    last_error text, dirty boolean, record_deltas json, has_digest boolean, connector_display_name text, manifest_version text,
    browser_required boolean, declared_streams json, refresh_policy json, stream_stats json, latest_run json,
    latest_successful_run json, latest_settled_run json, stream_facts json, gap_counts json, schedule json,
    open_attention json,
    cursor_key text)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    v_caller_owner text := pg_catalog.current_setting('pyref.owner', true);
BEGIN
    -- The cursor key is derived for the owner the transaction names (0010).
    PERFORM pg_catalog.set_config('pyref.owner', p_owner, true);
    IF p_connector_id IS NULL AND p_after_id IS NULL THEN
        RETURN QUERY
        -- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
        -- the position an index condition. The cursor key rides along (evaluated once), so
        -- signing costs no statement.
        SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
               ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
               g.revision AS digest_revision,
               e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
               e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
               (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id OFFSET 0)
                OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
                  FROM pyref_dirty_runs rm
                 CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
                  JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
                 WHERE mf.connector_instance_id IS NOT NULL
                   AND rm.dirty_seq >= -9223372036854775808)) AS dirty,
               CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 0)
               THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                       FROM pyref_record_deltas y
                      WHERE y.connector_instance_id = ci.connector_instance_id)
               END AS record_deltas,
               g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
               g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
               e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
               (SELECT pyref_cursor_key_v1()) AS cursor_key
        FROM connector_instances ci
          LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
          LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
         WHERE ci.owner_subject_id = p_owner
           AND ci.status <> 'draft'
         ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
         LIMIT p_fetch;
    ELSIF p_connector_id IS NULL THEN
        RETURN QUERY
        -- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
        -- the position an index condition. The cursor key rides along (evaluated once), so
        -- signing costs no statement.
        SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
               ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
               g.revision AS digest_revision,
               e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
               e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
               (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id OFFSET 0)
                OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
                  FROM pyref_dirty_runs rm
                 CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
                  JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
                 WHERE mf.connector_instance_id IS NOT NULL
                   AND rm.dirty_seq >= -9223372036854775808)) AS dirty,
               CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 0)
               THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                       FROM pyref_record_deltas y
                      WHERE y.connector_instance_id = ci.connector_instance_id)
               END AS record_deltas,
               g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
               g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
               e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
               (SELECT pyref_cursor_key_v1()) AS cursor_key
        FROM connector_instances ci
          LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
          LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
         WHERE ci.owner_subject_id = p_owner
           AND ci.status <> 'draft'
           AND (ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C")
               > (p_after_connector, p_after_created, p_after_id)
         ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
         LIMIT p_fetch;
    ELSIF p_after_id IS NULL THEN
        RETURN QUERY
        -- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
        -- the position an index condition. The cursor key rides along (evaluated once), so
        -- signing costs no statement.
        SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
               ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
               g.revision AS digest_revision,
               e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
               e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
               (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id OFFSET 0)
                OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
                  FROM pyref_dirty_runs rm
                 CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
                  JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
                 WHERE mf.connector_instance_id IS NOT NULL
                   AND rm.dirty_seq >= -9223372036854775808)) AS dirty,
               CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 0)
               THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                       FROM pyref_record_deltas y
                      WHERE y.connector_instance_id = ci.connector_instance_id)
               END AS record_deltas,
               g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
               g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
               e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
               (SELECT pyref_cursor_key_v1()) AS cursor_key
        FROM connector_instances ci
          LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
          LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
         WHERE ci.owner_subject_id = p_owner
           AND ci.status <> 'draft'
           AND ci.connector_id COLLATE "C" = p_connector_id
         ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
         LIMIT p_fetch;
    ELSE
        RETURN QUERY
        -- R10/R12: one page in keyset order; one statement whatever the fleet size or position,
        -- the position an index condition. The cursor key rides along (evaluated once), so
        -- signing costs no statement.
        SELECT ci.connector_instance_id, ci.connector_id, ci.display_name, ci.status, ci.source_kind,
               ci.owner_subject_id, pyref_iso(ci.created_at) AS created_at, pyref_iso(ci.revoked_at) AS revoked_at,
               g.revision AS digest_revision,
               e.connector_instance_id IS NOT NULL AS has_evidence, e.expected_profile_key, e.failures_since_success,
               e.revision, e.state, pyref_iso(e.computed_at) AS computed_at, e.last_error,
               (EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = ci.connector_instance_id OFFSET 0)
                OR ci.connector_instance_id IN (SELECT mf.connector_instance_id
                  FROM pyref_dirty_runs rm
                 CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
                  JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
                 WHERE mf.connector_instance_id IS NOT NULL
                   AND rm.dirty_seq >= -9223372036854775808)) AS dirty,
               CASE WHEN EXISTS (SELECT 1 FROM pyref_record_deltas z WHERE z.connector_instance_id = ci.connector_instance_id OFFSET 0)
               THEN (SELECT json_agg(json_build_object('stream', y.stream, 'live', y.live, 'rows', y.n, 'bytes', y.bytes, 'last_record_at', pyref_iso(y.last_at)))
                       FROM pyref_record_deltas y
                      WHERE y.connector_instance_id = ci.connector_instance_id)
               END AS record_deltas,
               g.connector_id IS NOT NULL AS has_digest, g.connector_display_name, g.manifest_version,
               g.browser_required, g.declarations AS declared_streams, g.refresh_policy,
               e.stream_stats, e.latest_run, e.latest_successful_run, e.latest_settled_run, e.stream_facts, e.gap_counts, e.schedule, e.open_attention,
               (SELECT pyref_cursor_key_v1()) AS cursor_key
        FROM connector_instances ci
          LEFT JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
          LEFT JOIN pyref_evidence e ON e.connector_instance_id = ci.connector_instance_id
         WHERE ci.owner_subject_id = p_owner
           AND ci.status <> 'draft'
           AND ci.connector_id COLLATE "C" = p_connector_id
           AND (ci.created_at, ci.connector_instance_id COLLATE "C") > (p_after_created, p_after_id)
         ORDER BY ci.connector_id COLLATE "C", ci.created_at, ci.connector_instance_id COLLATE "C"
         LIMIT p_fetch;
    END IF;
    -- The rows are computed; a caller's own transaction gets its setting back.
    PERFORM pg_catalog.set_config('pyref.owner', coalesce(v_caller_owner, ''), true);
END
$$;

-- Seal every pyref_ function (the convention in sql/templates/_dialect.sql.j2), JIT off.
DO $$
DECLARE
    v_schema text := pg_catalog.current_schema();
    v_routine regprocedure;
BEGIN
    IF pg_catalog.to_regclass(pg_catalog.format('%I.pyref_evidence', v_schema)) IS NULL THEN
        RAISE EXCEPTION 'pyreference is not installed in schema "%" (the first schema on search_path)', v_schema
            USING HINT = 'migrate with the search_path pyreference was installed with';
    END IF;
    FOR v_routine IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = pg_catalog.quote_ident(v_schema)::regnamespace AND p.proname LIKE 'pyref\_%' AND p.prokind IN ('f', 'p')
           AND p.proname <> ALL (ARRAY['pyref_iso'])
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s SECURITY DEFINER SET search_path = pg_catalog, %I, pg_temp SET jit = off',
                                  v_routine, v_schema);
        EXECUTE pg_catalog.format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', v_routine);
    END LOOP;
END
$$;
