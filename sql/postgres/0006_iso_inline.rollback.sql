-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0006: pyref_iso() declared IMMUTABLE again (as 0002 made it).
CREATE OR REPLACE FUNCTION pyref_iso(ts timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;
