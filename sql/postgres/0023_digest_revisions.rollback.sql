-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0023: connector digests lose their revision. Run the library of 0022
-- with it (this version's key statement reads the revision).
DROP TRIGGER IF EXISTS pyref_digest_revised ON pyref_connector_digest;
DROP FUNCTION IF EXISTS pyref_digest_revised_v1();
ALTER TABLE pyref_connector_digest DROP COLUMN IF EXISTS revision;
DROP SEQUENCE IF EXISTS pyref_digest_revision;
