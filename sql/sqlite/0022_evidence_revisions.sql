-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0021_single_record_deltas
-- pyreference 0022: an evidence row's revision is never given twice, whatever is rolled
-- back or created again (issue #15). Reading processes memoize a page row by its key
-- columns, every column but the evidence documents: the documents change only when the
-- evidence refresh writes them, which gave `revision` the stored one plus 1 and stamped
-- `computed_at`. Two ways made a key repeat with other documents: a connection deleted
-- and created again under the same id (its new evidence row counted from 0 again), and a
-- refresh undone by a rollback to a savepoint (its revision undone too), each followed by
-- another refresh in the same transaction (one `now()`) or, on SQLite, the same
-- millisecond. Now every new evidence row and every write of the documents (the refresh,
-- or anyone's UPDATE of them) takes a revision nothing rewinds. Existing rows keep theirs.
-- SQLite has nothing a rollback does not rewind: revisions are random 64-bit numbers. The
-- library's refresh draws them itself (its `refresh_evidence` query); these triggers give
-- one to a new row created with its connection, and to documents anyone else updates,
-- keeping the revision or adding 1 to it (as an older library's refresh does).
CREATE TRIGGER IF NOT EXISTS pyref_evidence_created AFTER INSERT ON pyref_evidence
WHEN NEW.revision = 0
BEGIN
    UPDATE pyref_evidence SET revision = random() WHERE connector_instance_id = NEW.connector_instance_id;
END;

CREATE TRIGGER IF NOT EXISTS pyref_evidence_revised
AFTER UPDATE OF stream_stats, latest_run, latest_successful_run, latest_settled_run, stream_facts, gap_counts, schedule, open_attention ON pyref_evidence
WHEN NEW.revision = OLD.revision OR NEW.revision = OLD.revision + 1
BEGIN
    UPDATE pyref_evidence SET revision = random() WHERE connector_instance_id = NEW.connector_instance_id;
END;
