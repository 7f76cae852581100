-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0034: the readers' recompute returning json documents goes (the
-- library's reads fall back to pyref_recompute_evidence_v1, which 0034 left as it was).
DROP FUNCTION IF EXISTS pyref_recompute_evidence_v2(text[]);
