-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0004: documents go back to jsonb (a table rewrite, as
-- in 0004) and verify back to comparing them directly.
ALTER TABLE pyref_evidence
    ALTER COLUMN stream_stats TYPE jsonb USING stream_stats::jsonb,
    ALTER COLUMN latest_run TYPE jsonb USING latest_run::jsonb,
    ALTER COLUMN latest_successful_run TYPE jsonb USING latest_successful_run::jsonb,
    ALTER COLUMN latest_settled_run TYPE jsonb USING latest_settled_run::jsonb,
    ALTER COLUMN stream_facts TYPE jsonb USING stream_facts::jsonb,
    ALTER COLUMN gap_counts TYPE jsonb USING gap_counts::jsonb,
    ALTER COLUMN schedule TYPE jsonb USING schedule::jsonb,
    ALTER COLUMN open_attention TYPE jsonb USING open_attention::jsonb;

ALTER TABLE pyref_connector_digest
    ALTER COLUMN streams TYPE jsonb USING streams::jsonb,
    ALTER COLUMN refresh_policy TYPE jsonb USING refresh_policy::jsonb;

CREATE OR REPLACE FUNCTION pyref_verify_v1()
RETURNS TABLE (connector_instance_id text, differing text)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
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
ORDER BY v.connector_instance_id
$$;
