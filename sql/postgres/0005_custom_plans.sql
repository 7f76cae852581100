-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0004_json_documents
-- pyreference 0005: maintenance functions plan every statement for the batch at hand.
-- PL/pgSQL caches a statement's plan per session and, after a few calls, may keep a
-- generic one made while the queue was small. A long-lived session (a reconcile
-- worker, `pyreference reconcile --watch`, a pooled connection) then meets a large
-- backlog with that plan: in the bench's E-series, settling 80,000 queue entries on
-- 1,000 connections took 21.3 s with it and 0.85 s with a plan made for the call.
-- Planning per call costs a fraction of a millisecond.
ALTER FUNCTION pyref_refresh_evidence_v1(text[]) SET plan_cache_mode = force_custom_plan;
ALTER FUNCTION pyref_reconcile_v1(integer) SET plan_cache_mode = force_custom_plan;
ALTER FUNCTION pyref_rebuild_v1() SET plan_cache_mode = force_custom_plan;
