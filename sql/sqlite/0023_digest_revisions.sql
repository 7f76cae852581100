-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0022_evidence_revisions
-- pyreference 0023: a connector's digest carries a revision, given anew by every write of
-- it (issue #15). A reading process memoizes page rows by their key columns, which held the
-- connector's manifest digest (its stream declarations and refresh policy, ~0.3-2.5 KB)
-- on every row: a warm page read them all again only to compare them. The key statement
-- now reads the digest's revision in their place, and whole rows (read only for rows a
-- reader lacks) still carry the digest. A revision is never given twice, whatever is rolled
-- back or created again: the same reasons as 0022's for evidence rows.
-- SQLite has nothing a rollback does not rewind: revisions are random 64-bit numbers, drawn
-- for every new row and every update that leaves the revision as it was.
ALTER TABLE pyref_connector_digest ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
UPDATE pyref_connector_digest SET revision = random();

CREATE TRIGGER IF NOT EXISTS pyref_digest_created AFTER INSERT ON pyref_connector_digest
BEGIN
    UPDATE pyref_connector_digest SET revision = random() WHERE connector_id = NEW.connector_id;
END;

CREATE TRIGGER IF NOT EXISTS pyref_digest_revised AFTER UPDATE ON pyref_connector_digest
WHEN NEW.revision IS OLD.revision
BEGIN
    UPDATE pyref_connector_digest SET revision = random() WHERE connector_id = NEW.connector_id;
END;
