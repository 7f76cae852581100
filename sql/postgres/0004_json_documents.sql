-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0003_triggers
-- pyreference 0004: evidence and digest documents are stored as json, not jsonb.
-- Every list page sends these documents to the client as text. jsonb turns its
-- binary form back into text on every read (most of a page's server time at
-- scale); json keeps the text, so a read copies it. Nothing queries inside these
-- documents (they are written whole by reconcile and read whole by pages), so
-- jsonb's searchable form bought nothing. Recomputation still builds jsonb: it
-- is cast once when stored, not on every read.
-- Rewrites pyref_evidence and pyref_connector_digest under an exclusive lock:
-- reads and run-event writes wait for it (about a minute per million connections).
ALTER TABLE pyref_evidence
    ALTER COLUMN stream_stats TYPE json USING stream_stats::json,
    ALTER COLUMN latest_run TYPE json USING latest_run::json,
    ALTER COLUMN latest_successful_run TYPE json USING latest_successful_run::json,
    ALTER COLUMN latest_settled_run TYPE json USING latest_settled_run::json,
    ALTER COLUMN stream_facts TYPE json USING stream_facts::json,
    ALTER COLUMN gap_counts TYPE json USING gap_counts::json,
    ALTER COLUMN schedule TYPE json USING schedule::json,
    ALTER COLUMN open_attention TYPE json USING open_attention::json;

ALTER TABLE pyref_connector_digest
    ALTER COLUMN streams TYPE json USING streams::json,
    ALTER COLUMN refresh_policy TYPE json USING refresh_policy::json;

-- json has no equality operator: verify compares the stored documents as jsonb.
CREATE OR REPLACE FUNCTION pyref_verify_v1()
RETURNS TABLE (connector_instance_id text, differing text)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
SELECT v.connector_instance_id, v.differing FROM (
  SELECT s.connector_instance_id,
         CASE WHEN e.connector_instance_id IS NULL THEN 'missing,' ELSE '' END
         || CASE WHEN e.expected_profile_key IS DISTINCT FROM s.expected_profile_key THEN 'expected_profile_key,' ELSE '' END
         || CASE WHEN e.stream_stats::jsonb IS DISTINCT FROM s.stream_stats THEN 'stream_stats,' ELSE '' END
         || CASE WHEN e.latest_run::jsonb IS DISTINCT FROM s.latest_run THEN 'latest_run,' ELSE '' END
         || CASE WHEN e.latest_successful_run::jsonb IS DISTINCT FROM s.latest_successful_run THEN 'latest_successful_run,' ELSE '' END
         || CASE WHEN e.latest_settled_run::jsonb IS DISTINCT FROM s.latest_settled_run THEN 'latest_settled_run,' ELSE '' END
         || CASE WHEN e.failures_since_success IS DISTINCT FROM s.failures_since_success THEN 'failures_since_success,' ELSE '' END
         || CASE WHEN e.stream_facts::jsonb IS DISTINCT FROM s.stream_facts THEN 'stream_facts,' ELSE '' END
         || CASE WHEN e.gap_counts::jsonb IS DISTINCT FROM s.gap_counts THEN 'gap_counts,' ELSE '' END
         || CASE WHEN e.schedule::jsonb IS DISTINCT FROM s.schedule THEN 'schedule,' ELSE '' END
         || CASE WHEN e.open_attention::jsonb IS DISTINCT FROM s.open_attention THEN 'open_attention,' ELSE '' END
         AS differing
    FROM pyref_evidence_source s
    LEFT JOIN pyref_evidence e ON e.connector_instance_id = s.connector_instance_id
   WHERE NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = s.connector_instance_id)
) v
WHERE v.differing <> ''
ORDER BY v.connector_instance_id
$$;
