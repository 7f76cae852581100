-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0009: pyref_reconcile_v2 is dropped (pyref_reconcile_v1 was never
-- changed). pyreference versions that call v2 then report SchemaNotReady for reconcile.
DROP FUNCTION IF EXISTS pyref_reconcile_v2(integer, text[]);
