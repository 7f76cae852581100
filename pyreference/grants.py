"""Least-privilege roles on Postgres: the GRANTs `pyreference grants` prints or applies.

Three kinds of role (docs/dba-guide.md, "Roles and grants"):

- **writer**: plain INSERT/UPDATE/DELETE on the seven canonical tables. The triggers run
  as their owner (SECURITY DEFINER, migration 0007), so a writer needs nothing else and
  can write no `pyref_*` table; EXECUTE on `pyref_foreign_run_moves_v1` lets the write
  helpers check that an append moved no event of another owner's connection (0013).
- **reader**: SELECT on what a read touches (connections, their evidence, runs, gaps,
  attention, the dirty queue and the manifest digest) and EXECUTE on the reader
  functions (the cursor key for its owner, the recompute of its owner's dirty rows and
  their recent runs, a list page in one round trip, unless readers are confined to their
  owner). No access to the cursor secret, the records, the spine or the manifests.
- **maintainer**: EXECUTE on reconcile, rebuild and verify (they run as their owner),
  SELECT on the dirty queue (the backlog). No canonical table.

Every role named is first stripped of every privilege on pyreference's objects, then
given exactly the union of what its kinds need, so running the command again converges.
With `confine_readers`, row-level security is switched on for the per-owner tables and
each reader sees only the owner its transaction names in the `pyref.owner` setting
(none when unset); the store names its owner in every read transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from .db import Database, Ids, OneTripReads
from .errors import InvalidInput, SchemaNotReady

CANONICAL_TABLES = (
    "connectors",
    "connector_instances",
    "records",
    "spine_events",
    "connector_schedules",
    "connector_detail_gaps",
    "connector_attention_records",
)
CANONICAL_SEQUENCES = ("spine_events_event_seq_seq",)
INTERNAL_TABLES = (
    "pyref_meta",
    "pyref_connector_digest",
    "pyref_evidence",
    "pyref_runs",
    "pyref_dirty",
    "pyref_evidence_source",
    "pyref_run_facts",
    "pyref_dirty_runs",
    "pyref_stale_runs",  # 0016: written by triggers and reconcile, read inside the functions
    "pyref_record_deltas",  # 0020: written by the records trigger, read by pages
)
INTERNAL_SEQUENCES = (
    "pyref_dirty_dirty_seq_seq",
    "pyref_dirty_runs_dirty_seq_seq",
    "pyref_stale_runs_stale_seq_seq",
    "pyref_record_deltas_delta_seq_seq",
    "pyref_evidence_revision",  # 0022: used by its definer trigger function only
    "pyref_digest_revision",  # 0023: likewise
)
READER_TABLES = (
    "connector_instances",
    "connector_detail_gaps",
    "connector_attention_records",
    "pyref_connector_digest",
    "pyref_evidence",
    "pyref_runs",
    "pyref_dirty",
    # is a row dirty through a run mark (0011)?
    "pyref_dirty_runs",
    "pyref_run_facts",
    # a page adds a row's pending record deltas (0020)
    "pyref_record_deltas",
)
WRITER_FUNCTIONS = ("pyref_foreign_run_moves_v1(text, text[])",)
# 0025: a list page in one round trip, for the owner named in the call. They run as their
# owner, so a reader confined to the owner its transaction names is not given them (its
# pages are read framed, under its row-level security).
PAGE_FUNCTIONS = tuple(
    f + OneTripReads.SIGNATURE for f in sorted(set(OneTripReads.FUNCTIONS.values()))
)
READER_FUNCTIONS = (
    "pyref_cursor_key_v1()",
    "pyref_recompute_evidence_v1(text[])",  # older libraries', and roles without v2
    "pyref_recompute_evidence_v2(text[])",  # 0034: this library's reads
    "pyref_recent_runs_v1(text)",
    *PAGE_FUNCTIONS,
)
MAINTAINER_FUNCTIONS = (
    "pyref_reconcile_v3(integer, text[])",
    "pyref_rebuild_v3()",  # R7: 0012's digest fields, then 0011's pyref_rebuild_v2()
    "pyref_verify_v3()",  # 0015: evidence, runs and the connector digest
)
MAINTAINER_TABLES = ("pyref_dirty", "pyref_dirty_runs", "pyref_record_deltas")
ALL_FUNCTIONS = WRITER_FUNCTIONS + READER_FUNCTIONS + MAINTAINER_FUNCTIONS
# What each kind of role is granted: (why, [(privileges, object kind, objects)]).
KINDS: dict[str, tuple[str, list[tuple[str, str, tuple[str, ...]]]]] = {
    "writer": (
        "plain SQL on the canonical tables; the append owner check",
        [
            ("SELECT, INSERT, UPDATE, DELETE", "TABLE", CANONICAL_TABLES),
            ("USAGE, SELECT", "SEQUENCE", CANONICAL_SEQUENCES),
            ("EXECUTE", "FUNCTION", WRITER_FUNCTIONS),
        ],
    ),
    "reader": (
        "what summary reads touch; no secret, records or spine",
        [("SELECT", "TABLE", READER_TABLES), ("EXECUTE", "FUNCTION", READER_FUNCTIONS)],
    ),
    "maintainer": (
        "reconcile, rebuild, verify and the backlog",
        [("EXECUTE", "FUNCTION", MAINTAINER_FUNCTIONS), ("SELECT", "TABLE", MAINTAINER_TABLES)],
    ),
}
# Tables whose rows belong to one owner: row-level security confines readers on these.
OWNER_COLUMN_TABLE = "connector_instances"
PER_CONNECTION_TABLES = (
    "connector_detail_gaps",
    "connector_attention_records",
    "pyref_evidence",
    "pyref_runs",
    "pyref_dirty",
    "pyref_record_deltas",
)
OWNER_SETTING = "pyref.owner"


def quote_ident(name: str) -> str:
    """`name` as a quoted SQL identifier (any text is safe inside)."""
    if not isinstance(name, str) or not name or "\x00" in name or len(name.encode()) > 63:
        raise InvalidInput("a role or schema name must be 1-63 bytes of text without NUL")
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Roles:
    """Who gets what: each field a role name, or None."""

    writer: str | None = None
    reader: str | None = None
    maintainer: str | None = None

    def named(self) -> list[str]:
        out: list[str] = []
        for role in (self.writer, self.reader, self.maintainer):
            if role is not None and role not in out:
                out.append(role)
        return out


def grant_statements(
    roles: Roles, *, schema: str = "public", confine_readers: bool = False
) -> list[str]:
    """The SQL that gives each named role exactly what its kind needs (one transaction).

    Args:
        roles: the writer, reader and maintainer role names (any may be None; one role
            may hold several kinds and then gets the union).
        schema: the schema pyreference is installed in.
        confine_readers: switch on row-level security so the reader sees only the owner
            named by the `pyref.owner` setting of its transaction (and give it no
            `PAGE_FUNCTIONS`, which serve any owner named in their call).

    Returns:
        Statements to run in order, in one transaction, as the owner of the objects.

    Raises:
        InvalidInput: no role named, or a name that cannot be an identifier.
    """
    named = roles.named()
    if not named:
        raise InvalidInput("name at least one role: --writer, --reader or --maintainer")
    if confine_readers and roles.reader is None:
        raise InvalidInput("--confine-readers needs a --reader role")
    s = quote_ident(schema)

    def q(names: Iterable[str]) -> str:
        return ", ".join(f"{s}.{n}" for n in names)

    out = []
    for role in named:
        r = quote_ident(role)
        out += [
            f"-- {role}: start from nothing on pyreference's objects",
            f"REVOKE ALL ON TABLE {q(CANONICAL_TABLES + INTERNAL_TABLES)} FROM {r}",
            f"REVOKE ALL ON SEQUENCE {q(CANONICAL_SEQUENCES + INTERNAL_SEQUENCES)} FROM {r}",
            f"REVOKE ALL ON FUNCTION {q(ALL_FUNCTIONS)} FROM {r}",
            f"GRANT USAGE ON SCHEMA {s} TO {r}",
        ]
    kinds = {"writer": roles.writer, "reader": roles.reader, "maintainer": roles.maintainer}
    for kind, holder in kinds.items():
        if holder is not None:
            why, grants = KINDS[kind]
            r = quote_ident(holder)
            out.append(f"-- {kind} {holder}: {why}")
            for p, what, names in grants:
                if kind == "reader" and confine_readers:
                    names = tuple(n for n in names if n not in PAGE_FUNCTIONS)
                out.append(f"GRANT {p} ON {what} {q(names)} TO {r}")
    if confine_readers and roles.reader is not None:
        out += _confine(s, roles.reader)
    return out


def _confine(s: str, reader: str) -> list[str]:
    """Row-level security on the per-owner tables, a restrictive policy for the reader."""
    r = quote_ident(reader)
    policy = "pyref_reader_" + hashlib.sha256(reader.encode()).hexdigest()[:16]
    owner = f"pg_catalog.current_setting('{OWNER_SETTING}', true)"
    own_connections = (
        f"connector_instance_id IN (SELECT ci.connector_instance_id FROM {s}.{OWNER_COLUMN_TABLE}"
        f" ci WHERE ci.owner_subject_id = {owner})"
    )
    out = [f"-- reader {reader}: only the owner its transaction names in {OWNER_SETTING}"]
    for table, using in [(OWNER_COLUMN_TABLE, f"owner_subject_id = {owner}")] + [
        (t, own_connections) for t in PER_CONNECTION_TABLES
    ]:
        out += [
            f"ALTER TABLE {s}.{table} ENABLE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS {policy} ON {s}.{table}",
            f"CREATE POLICY {policy} ON {s}.{table} AS RESTRICTIVE FOR SELECT TO {r}"
            f" USING ({using})",
        ]
    return out


def script(statements: list[str]) -> str:
    """The statements as one reviewable SQL script in a transaction."""
    body = "\n".join(s if s.startswith("--") else f"{s};" for s in statements)
    return f"BEGIN;\n{body}\nCOMMIT;\n"


def apply(
    db: Database, roles: Roles, *, schema: str | None = None, confine_readers: bool = False
) -> list[str]:
    """Run `grant_statements` in one transaction on a Postgres database; return them.

    Args:
        db: the database, connected as the owner of pyreference's objects (the role that
            migrated) or a superuser.
        roles: the writer, reader and maintainer roles; they must exist already.
        schema: the install schema (default: where this connection finds pyref_evidence).
        confine_readers: see `grant_statements`.

    Raises:
        InvalidInput: not Postgres, a role that does not exist, or the role that owns
            pyreference's objects (it needs no grant and must keep its privileges).
        SchemaNotReady: pyreference is not installed (run `pyreference migrate`).
        InsufficientPrivilege: this connection may not grant on these objects.
    """
    if db.dialect != "postgres":
        raise InvalidInput("roles and grants exist on Postgres only")
    with db.session(transaction=True) as s:
        found = s.execute(
            "SELECT n.nspname AS schema, pg_catalog.pg_get_userbyid(c.relowner) AS owner"
            " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.oid = pg_catalog.to_regclass('pyref_evidence')"
        )
        if not found:
            raise SchemaNotReady("pyreference is not installed here: run `pyreference migrate`")
        statements = grant_statements(
            roles, schema=schema or found[0]["schema"], confine_readers=confine_readers
        )
        known = {
            r["rolname"]
            for r in s.execute(
                "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY(%(names)s)",
                {"names": Ids(roles.named())},
            )
        }
        for role in roles.named():
            if role not in known:
                raise InvalidInput(f"no role {role!r}: create it first (CREATE ROLE … LOGIN)")
            if role == found[0]["owner"]:
                raise InvalidInput(
                    f"{role!r} owns pyreference's objects: it needs no grant (name other roles)"
                )
        for statement in statements:
            if not statement.startswith("--"):
                s.execute(statement)
    return statements
