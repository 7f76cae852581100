-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0025: list pages are read in their owner's transaction again (three
-- round trips). The library falls back to that by itself when the functions are gone.
DROP FUNCTION IF EXISTS pyref_list_keys_v1(text, integer, text, text, timestamptz, text);
DROP FUNCTION IF EXISTS pyref_list_page_v1(text, integer, text, text, timestamptz, text);
