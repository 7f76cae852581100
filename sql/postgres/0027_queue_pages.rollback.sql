-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0027: vacuum truncates the queues again.
ALTER TABLE pyref_dirty RESET (vacuum_truncate);
ALTER TABLE pyref_record_deltas RESET (vacuum_truncate);
