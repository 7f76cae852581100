"""The function-settings convention (issue #11): an audit of every pyreference function.

Every routine named pyref_* (and every function a trigger on a pyreference table calls)
must run with `search_path = pg_catalog, <install schema>, pg_temp` and (0018) `jit = off`,
as SECURITY DEFINER, with no EXECUTE for PUBLIC, unless it is a pure helper (PURE_HELPERS
in the macro file: LANGUAGE sql, invoker, no SET, only pg_catalog-qualified calls) that the
planner inlines.
The convention and the `seal_functions()` macro that applies it live in
sql/templates/_dialect.sql.j2.
"""

from __future__ import annotations

import re

import psycopg
import pytest
from yoyo import read_migrations
from yoyo.connections import get_backend

from pyreference import sqlfiles

pytestmark = pytest.mark.postgres

SEAL_MARK = "-- Seal every pyref_ function"
JIT_OFF_MARK = "_dialect.sql.j2), JIT off."  # the seal of 0018 and later (seal_functions(2))
FIRST_JIT_OFF = "0018"
JIT_ON_ROLLBACK = "0018_large_fleet_upkeep.rollback.sql"  # undoes it on purpose
# Released before the convention, or the rollback that deliberately undoes it.
UNSEALED_FILES = {
    "0002_read_model.sql",
    "0002_read_model.rollback.sql",
    "0003_triggers.sql",
    "0004_json_documents.sql",
    "0004_json_documents.rollback.sql",
    "0007_function_settings.rollback.sql",
}
_CREATE = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\s+([\w.]+)", re.I)
_CALL = re.compile(r"([A-Za-z_][\w.]*)\s*\(")
PURE_HELPERS = set(
    sqlfiles._environment(sqlfiles.sql_dir())
    .get_template("_dialect.sql.j2")
    .make_module({"dialect": "postgres"})
    .PURE_HELPERS
)
_GRAMMAR = {"select", "in", "exists", "and", "or", "not", "coalesce", "nullif", "cast", "values"}


def audit(dsn: str, schema: str = "public") -> list[str]:
    """Every breach of the convention in the database at `dsn` (empty when it holds)."""
    expected = f"search_path=pg_catalog, {schema}, pg_temp"
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT p.oid::regprocedure::text, p.proname, p.prosecdef, p.proconfig,
                   l.lanname, p.prosrc,
                   has_function_privilege('public', p.oid, 'EXECUTE'),
                   n.nspname = %(schema)s
              FROM pg_proc p
              JOIN pg_language l ON l.oid = p.prolang
              JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE p.proname LIKE 'pyref\\_%%'
                OR p.oid IN (SELECT t.tgfoid FROM pg_trigger t
                              JOIN pg_class c ON c.oid = t.tgrelid
                             WHERE NOT t.tgisinternal
                               AND c.relnamespace = %(schema)s::regnamespace)
                OR (n.nspname = %(schema)s AND NOT EXISTS (
                      SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e'))
            """,
            {"schema": schema},
        ).fetchall()
    assert rows, "no pyreference functions found"
    breaches = []
    for sig, name, definer, config, language, body, public, in_schema in rows:
        config = config or []
        if not in_schema or not name.startswith("pyref_"):
            breaches.append(f"{sig}: pyreference functions are named pyref_* in {schema}")
        if name in PURE_HELPERS:
            if language != "sql" or definer or config:
                breaches.append(f"{sig}: a pure helper keeps no SET and is not a definer")
            text = re.sub(r"'[^']*'", "''", body)
            if re.search(r"\b(FROM|JOIN)\b", text, re.I):
                breaches.append(f"{sig}: a pure helper reads no table")
            for call in _CALL.findall(text):
                if not call.startswith("pg_catalog.") and call.lower() not in _GRAMMAR:
                    breaches.append(f"{sig}: pure helper calls unqualified {call}()")
            continue
        if expected not in config:
            breaches.append(f"{sig}: search_path is {config}, not {expected}")
        if "jit=off" not in config:
            breaches.append(f"{sig}: JIT is not off ({config})")
        if not definer:
            breaches.append(f"{sig}: not SECURITY DEFINER")
        if public:
            breaches.append(f"{sig}: PUBLIC may EXECUTE it")
    return breaches


def test_every_function_follows_the_convention(pg_dsn: str) -> None:
    assert audit(pg_dsn) == []


def test_audit_catches_an_unsealed_function(pg_dsn: str) -> None:
    """The audit is not vacuous: a function created the old way is reported."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION pyref_late_v1() RETURNS integer LANGUAGE sql STABLE"
            " SET search_path FROM CURRENT AS $$ SELECT count(*)::integer FROM pyref_dirty $$"
        )
        conn.execute(
            "CREATE FUNCTION helper_without_prefix() RETURNS integer LANGUAGE sql STABLE"
            " AS $$ SELECT 1 $$"
        )
    breaches = audit(pg_dsn)
    assert any(b.startswith("pyref_late_v1(): search_path") for b in breaches)
    assert any(b.startswith("pyref_late_v1(): not SECURITY DEFINER") for b in breaches)
    assert any(b.startswith("pyref_late_v1(): JIT is not off") for b in breaches)
    assert any(b.startswith("pyref_late_v1(): PUBLIC") for b in breaches)
    assert any(b.startswith("helper_without_prefix(): pyreference functions") for b in breaches)


def test_every_later_migration_seals_after_its_last_function() -> None:
    """Each rendered Postgres migration or rollback that (re)creates a non-pure function
    seals afterwards: CREATE OR REPLACE resets SET clauses and SECURITY DEFINER."""
    offenders = []
    for path in sorted(sqlfiles.migrations_dir("postgres").glob("*.sql")):
        if path.name.startswith(("0001", "0005", "0006_iso")) or path.name in UNSEALED_FILES:
            continue
        text = path.read_text()
        creates = [m for m in _CREATE.finditer(text) if m.group(1).strip() not in PURE_HELPERS]
        if creates and text.rfind(SEAL_MARK) < creates[-1].start():
            offenders.append(path.name)
        # From 0018 on a seal turns JIT off too: an older one leaves a re-created function
        # with JIT on.
        jit_off = path.name >= FIRST_JIT_OFF and path.name != JIT_ON_ROLLBACK
        if jit_off and SEAL_MARK in text and JIT_OFF_MARK not in text:
            offenders.append(f"{path.name} (seal_functions(2))")
    assert offenders == []


def test_rolling_0007_back_and_forth_keeps_the_convention(pg_dsn: str) -> None:
    backend = get_backend(pg_dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    migrations = read_migrations(str(sqlfiles.migrations_dir("postgres")))
    with backend.lock():
        backend.rollback_migrations(
            backend.to_rollback(migrations.filter(lambda m: m.id >= "0007_function_settings"))
        )
    assert any("not SECURITY DEFINER" in b for b in audit(pg_dsn))
    with backend.lock():
        backend.apply_migrations(backend.to_apply(migrations))
    backend.connection.close()
    assert audit(pg_dsn) == []
