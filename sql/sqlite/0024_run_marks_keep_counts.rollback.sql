-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0024: marks no longer say whether only runs changed, and readers
-- recount every marked row's records again (0019's recompute, 0017's spine function,
-- 0016's run-mark expansion).
ALTER TABLE pyref_dirty DROP COLUMN runs_only;
