-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0005: the maintenance functions use PL/pgSQL's default plan caching.
ALTER FUNCTION pyref_refresh_evidence_v1(text[]) RESET plan_cache_mode;
ALTER FUNCTION pyref_reconcile_v1(integer) RESET plan_cache_mode;
ALTER FUNCTION pyref_rebuild_v1() RESET plan_cache_mode;
