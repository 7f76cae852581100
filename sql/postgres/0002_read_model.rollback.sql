-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0002: drops only derived read-model objects.
-- Canonical tables are untouched. Note: pyref_runs holds each run's
-- write-time attribution; re-applying 0003 re-derives it from the spine
-- on Postgres under today's connections.
DROP FUNCTION IF EXISTS pyref_verify_v1();
DROP FUNCTION IF EXISTS pyref_rebuild_v1();
DROP FUNCTION IF EXISTS pyref_reconcile_v1(integer);
DROP FUNCTION IF EXISTS pyref_refresh_evidence_v1(text[]);
DROP VIEW IF EXISTS pyref_evidence_source;
DROP FUNCTION IF EXISTS pyref_iso(timestamptz);
DROP TABLE IF EXISTS pyref_dirty;
DROP TABLE IF EXISTS pyref_runs;
DROP TABLE IF EXISTS pyref_evidence;
DROP TABLE IF EXISTS pyref_connector_digest;
DROP TABLE IF EXISTS pyref_meta;
