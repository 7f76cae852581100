-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0023: writes of a connector digest no longer give it a revision.
-- Run the library of 0022 with it (this version's key statement reads the revision).
-- The column and the revisions already given stay (as 0022's rollback keeps evidence
-- revisions): 0023 applied again starts its sequence above them, so a reading process
-- that lives through the rollback never sees a revision it holds given to other digests.
DROP TRIGGER IF EXISTS pyref_digest_revised ON pyref_connector_digest;
DROP FUNCTION IF EXISTS pyref_digest_revised_v1();
DROP SEQUENCE IF EXISTS pyref_digest_revision;
