-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0019_cached_read_plans
-- pyreference 0020: record inserts leave deltas that reads add to the stored row (issue #15).
-- A write to `records` marked its connection dirty, and every read of a dirty row
-- recomputed the whole connection from the canonical tables until reconcile came: its
-- records recounted, its runs and stream facts rebuilt (~0.65 ms a row on a 10,000-
-- connection fleet; a page of 100 freshly written rows paid ~65 ms for it).
-- * An INSERT into records now appends, per connection and stream, what it adds
--   (pyref_record_deltas: live records, records, bytes, latest record time) instead of a
--   mark. UPDATE, DELETE and TRUNCATE of records, and every other write, still mark.
-- * A page reads each row's summed deltas with it (one snapshot) and adds them to the
--   stored stream statistics; a row that is also marked is recomputed as before.
-- * Reconcile also claims connections that only have deltas, and its evidence refresh
--   consumes exactly the deltas its snapshot counted, in the same statement
--   (pyref_refresh_evidence_v1 and pyref_reconcile_v2, replaced in place); rebuild
--   consumes them all. verify treats a row with deltas as dirty (pyref_verify_v2/_v3).
-- * A trigger on connector_instances (pyref_instance_deltas_v1) drops a deleted
--   connection's deltas and moves a renamed one's (no foreign key: its check would cost
--   every records INSERT a lookup).
-- * Readers need SELECT on the new table (re-run `pyreference grants`).
-- Same names, signatures and results for every function; the records trigger is kept.
-- Postgres appends only, like pyref_dirty: concurrent writers never update one row, so
-- they never wait on each other or on a reconcile. (SQLite, one writer at a time, adds
-- into one row per connection and stream.)
CREATE TABLE IF NOT EXISTS pyref_record_deltas (
    delta_seq INTEGER PRIMARY KEY AUTOINCREMENT,
    -- (No foreign key: its check would cost every INSERT into records a lookup; a trigger
    -- on connector_instances takes a deleted or renamed connection's deltas along.)
    connector_instance_id text NOT NULL,
    stream text NOT NULL,
    live INTEGER NOT NULL,  -- live (not deleted) records inserted
    n INTEGER NOT NULL,  -- records inserted
    bytes INTEGER NOT NULL,  -- the live ones' JSON size in this backend's form
    last_at TEXT,  -- the live ones' latest emitted_at
    marked_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

-- A page sums a connection's deltas per stream: in index order, no sort.
CREATE UNIQUE INDEX IF NOT EXISTS pyref_record_deltas_instance_idx ON pyref_record_deltas (connector_instance_id, stream);

-- records: each inserted record is added into its connection and stream's delta. An INSERT
-- that meets an existing row (INSERT OR REPLACE of the same key or of a given rowid, whose
-- delete fires no trigger unless recursive_triggers is on; an upsert) may take a record
-- away: it marks the connections of both, which are then recounted. (The library's own
-- ingest leaves unchanged records out before inserting, so a re-ingest marks nothing.)
DROP TRIGGER IF EXISTS pyref_500_records_insert;
CREATE TRIGGER IF NOT EXISTS pyref_500_records_insert AFTER INSERT ON records
BEGIN
    INSERT INTO pyref_record_deltas (connector_instance_id, stream, live, n, bytes, last_at)
    VALUES (NEW.connector_instance_id, NEW.stream,
            CASE WHEN NOT NEW.deleted THEN 1 ELSE 0 END, 1,
            CASE WHEN NOT NEW.deleted THEN length(CAST(NEW.record_json AS BLOB)) ELSE 0 END,
            CASE WHEN NOT NEW.deleted THEN NEW.emitted_at END)
    ON CONFLICT (connector_instance_id, stream) DO UPDATE
       SET live = live + excluded.live, n = n + excluded.n, bytes = bytes + excluded.bytes,
           last_at = CASE WHEN excluded.last_at IS NULL OR last_at >= excluded.last_at THEN last_at
                          ELSE excluded.last_at END;
END;

-- connections: a deleted connection's deltas go, a renamed one's follow it.
CREATE TRIGGER IF NOT EXISTS pyref_530_instances_delete_deltas AFTER DELETE ON connector_instances
BEGIN
    DELETE FROM pyref_record_deltas WHERE connector_instance_id = OLD.connector_instance_id;
END;

CREATE TRIGGER IF NOT EXISTS pyref_530_instances_rename_deltas AFTER UPDATE OF connector_instance_id ON connector_instances
WHEN OLD.connector_instance_id IS NOT NEW.connector_instance_id
BEGIN
    UPDATE pyref_record_deltas SET connector_instance_id = NEW.connector_instance_id
     WHERE connector_instance_id = OLD.connector_instance_id;
END;

CREATE TRIGGER IF NOT EXISTS pyref_490_records_replace BEFORE INSERT ON records
WHEN EXISTS (SELECT 1 FROM records r WHERE r.connector_instance_id = NEW.connector_instance_id
                                      AND r.stream = NEW.stream AND r.record_key = NEW.record_key)
  OR EXISTS (SELECT 1 FROM records r WHERE r.rowid = NEW.rowid)
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT NEW.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT (SELECT r.connector_instance_id FROM records r WHERE r.rowid = NEW.rowid) AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;
