-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0023: writes of a connector digest no longer give it a revision.
-- Run the library of 0022 with it (this version's key statement reads the revision).
DROP TRIGGER IF EXISTS pyref_digest_created;
DROP TRIGGER IF EXISTS pyref_digest_revised;
ALTER TABLE pyref_connector_digest DROP COLUMN revision;
