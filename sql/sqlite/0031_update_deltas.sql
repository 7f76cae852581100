-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0030_fact_ties
-- pyreference 0031: records changed in place leave deltas, not marks (issue #15). An
-- UPDATE of records (ingest of a record seen before with new content, a writer's own
-- UPDATE) marked its connection, and every read recomputed the row, its records recounted
-- (a page of 100 rows with one record updated each cost 14 times a clean page), until
-- reconcile came. Now a change that keeps the record's key and can be added leaves what it
-- changes in pyref_record_deltas, as an INSERT does (0020): live records and bytes, the new
-- part less the old, and the record's time, which can only raise the latest. That is a
-- change that leaves the record live at the same time or later (new content: the common
-- case), or revives a deleted one. Any other change (a live record deleted or moved back
-- in time, a key changed) marks the connection as before. A change between two deleted
-- records changes nothing counted and leaves neither. Reads, reconcile and verify take
-- these deltas as they take an INSERT's (their `n`, records, is 0). No data changes.
DROP TRIGGER IF EXISTS pyref_500_records_update;

CREATE TRIGGER IF NOT EXISTS pyref_490_records_update_replace BEFORE UPDATE ON records
WHEN OLD.rowid IS NOT NEW.rowid AND EXISTS (SELECT 1 FROM records r WHERE r.rowid = NEW.rowid)
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT (SELECT r.connector_instance_id FROM records r WHERE r.rowid = NEW.rowid) AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

CREATE TRIGGER IF NOT EXISTS pyref_500_records_update_delta AFTER UPDATE ON records
WHEN OLD.connector_instance_id = NEW.connector_instance_id AND OLD.stream = NEW.stream AND OLD.record_key = NEW.record_key AND OLD.rowid = NEW.rowid
 AND (OLD.record_json IS DISTINCT FROM NEW.record_json OR OLD.deleted IS DISTINCT FROM NEW.deleted OR OLD.emitted_at IS DISTINCT FROM NEW.emitted_at)
 AND (OLD.deleted OR (NOT NEW.deleted AND NEW.emitted_at >= OLD.emitted_at)) AND NOT (OLD.deleted AND NEW.deleted)
BEGIN
    INSERT INTO pyref_record_deltas (connector_instance_id, stream, live, n, bytes, last_at)
    VALUES (NEW.connector_instance_id, NEW.stream, CASE WHEN NOT NEW.deleted THEN 1 ELSE 0 END - CASE WHEN NOT OLD.deleted THEN 1 ELSE 0 END, 0,
            CASE WHEN NOT NEW.deleted THEN length(CAST(NEW.record_json AS BLOB)) ELSE 0 END - CASE WHEN NOT OLD.deleted THEN length(CAST(OLD.record_json AS BLOB)) ELSE 0 END,
            CASE WHEN NOT NEW.deleted THEN NEW.emitted_at END)
    ON CONFLICT (connector_instance_id, stream) DO UPDATE
       SET live = live + excluded.live, n = n + excluded.n, bytes = bytes + excluded.bytes,
           last_at = CASE WHEN excluded.last_at IS NULL OR last_at >= excluded.last_at THEN last_at
                          ELSE excluded.last_at END;
END;

CREATE TRIGGER IF NOT EXISTS pyref_500_records_update AFTER UPDATE ON records
WHEN NOT (OLD.connector_instance_id = NEW.connector_instance_id AND OLD.stream = NEW.stream AND OLD.record_key = NEW.record_key)
  OR OLD.rowid IS NOT NEW.rowid
  OR ((OLD.record_json IS DISTINCT FROM NEW.record_json OR OLD.deleted IS DISTINCT FROM NEW.deleted OR OLD.emitted_at IS DISTINCT FROM NEW.emitted_at) AND NOT (OLD.deleted OR (NOT NEW.deleted AND NEW.emitted_at >= OLD.emitted_at)))
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT NEW.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT OLD.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;
