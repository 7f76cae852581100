-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0005_custom_plans
-- pyreference 0006: pyref_iso() is declared STABLE, as the to_char() it calls is.
-- Declared IMMUTABLE over a STABLE body, Postgres never inlined it: every timestamp a
-- page or a recomputation renders paid a SQL-function call (4-6 us, ~300 per page).
-- STABLE lets the planner inline the to_char() expression. The text is unchanged:
-- zero-padded ISO-8601 UTC with microseconds, as before.
CREATE OR REPLACE FUNCTION pyref_iso(ts timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;
