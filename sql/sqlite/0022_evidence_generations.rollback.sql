-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0022: new evidence rows count from revision 0 again. Revisions
-- already given stay (they only ever grow).
DROP TRIGGER IF EXISTS pyref_evidence_generation;
DELETE FROM pyref_meta WHERE key = 'evidence_generation';
