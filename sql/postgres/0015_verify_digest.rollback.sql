-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0015: drop pyref_verify_v3 (pyref_verify_v2 is unchanged; a
-- pyreference that calls v3 needs 0015 again).
DROP FUNCTION IF EXISTS pyref_verify_v3();
