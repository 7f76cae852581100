-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0034_json_recompute
-- pyreference 0035: a connection's runs indexed in the order every reader takes them
-- (issue #15). Since 0014 the latest run, latest successful and latest settled run are
-- the first in `order_at DESC, run_id COLLATE "C" DESC` (run ids in byte order, whatever
-- the database collation); pyref_runs_instance_order_idx held run ids in the database's
-- collation, so unless that is "C" each look-up sorted the connection's runs at one
-- instant (an incremental sort reads 32 rows before it returns one) instead of stopping at
-- the first. The readers' recompute of 100 rows that each got a run event makes three such
-- look-ups a row: ~29 -> ~25 ms measured on 10,000 connections of 20 runs each. The new
-- index replaces the old one (the same columns, so every other look-up by connection and
-- time uses it the same way, and writes pay for one index as before).
-- It is built first (writes to pyref_runs, which only reconcile and rebuild make, wait
-- meanwhile; reads do not) and the old one dropped last, which holds pyref_runs' lock only
-- until the commit.
CREATE INDEX IF NOT EXISTS pyref_runs_instance_byte_order_idx
    ON pyref_runs (connector_instance_id, order_at DESC, run_id COLLATE "C" DESC);
DROP INDEX IF EXISTS pyref_runs_instance_order_idx;
