-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0035: the runs' order index compares run ids in the database's
-- collation again (SQLite: its name as before).
CREATE INDEX IF NOT EXISTS pyref_runs_instance_order_idx
    ON pyref_runs (connector_instance_id, order_at DESC, run_id DESC);
DROP INDEX IF EXISTS pyref_runs_instance_byte_order_idx;
