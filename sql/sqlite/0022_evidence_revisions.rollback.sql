-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0022: new evidence rows count from revision 0 again and the refresh
-- adds 1. Revisions already given stay. Run the library of 0021 with it (a memoizing reader
-- of this version relies on 0022).
DROP TRIGGER IF EXISTS pyref_evidence_created;
DROP TRIGGER IF EXISTS pyref_evidence_revised;
