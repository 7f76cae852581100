-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0029: marks no longer say whether their write kept the runs, and
-- readers recompute the runs of every marked row again (0024's recompute, 0025's records
-- UPDATE trigger, 0003's records DELETE and child-table triggers).
ALTER TABLE pyref_dirty DROP COLUMN keeps_runs;
