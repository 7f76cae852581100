-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0013: drops pyref_foreign_run_moves_v1; the write helpers then
-- append run events without the owner check (as before 0013).
DROP FUNCTION IF EXISTS pyref_foreign_run_moves_v1(text, text[]);
