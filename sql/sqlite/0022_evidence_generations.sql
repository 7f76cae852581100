-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0021_single_record_deltas
-- pyreference 0022: an evidence row's revision never repeats for its connection id (issue
-- #15). Reading processes memoize a page row by its key columns, every column but the
-- evidence documents: the documents change only when the evidence refresh writes them, and
-- it bumps `revision` and stamps `computed_at`. A connection deleted and created again
-- under the same id got a new evidence row counting from revision 0 again, so within one
-- transaction (Postgres: one `now()`) or one millisecond (SQLite) its key could equal the
-- old row's while its documents differ. Each new evidence row (revision 0: created with
-- its connection) now starts at its own generation, a multiple of 2^32 that is never
-- reused; the refresh still adds 1, so no two incarnations of a connection share a
-- revision. Existing rows keep theirs. Only creating a connection pays (one counter step).
-- SQLite has no sequence: a counter in pyref_meta (one writer at a time).
INSERT OR IGNORE INTO pyref_meta (key, value) VALUES ('evidence_generation', '0');

CREATE TRIGGER IF NOT EXISTS pyref_evidence_generation AFTER INSERT ON pyref_evidence
WHEN NEW.revision = 0
BEGIN
    UPDATE pyref_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'evidence_generation';
    UPDATE pyref_evidence
       SET revision = (SELECT CAST(value AS INTEGER) FROM pyref_meta WHERE key = 'evidence_generation') * 4294967296
     WHERE connector_instance_id = NEW.connector_instance_id;
END;
