-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0002: drops only derived read-model objects.
-- Canonical tables are untouched. Note: pyref_runs holds each run's
-- write-time attribution; re-applying 0003 re-derives it from the spine
-- on Postgres under today's connections.
DROP VIEW IF EXISTS pyref_evidence_source;
DROP TABLE IF EXISTS pyref_dirty;
DROP TABLE IF EXISTS pyref_runs;
DROP TABLE IF EXISTS pyref_evidence;
DROP TABLE IF EXISTS pyref_connector_digest;
DROP TABLE IF EXISTS pyref_meta;
