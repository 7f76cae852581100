"""Real, uniquely named Postgres roles for one test (other sessions share the server).

Roles are cluster-wide: each name carries a random suffix, and `cleanup()` drops what
the roles own or were granted in the test database, then the roles themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest


class Roles:
    """Creates login roles and hands out DSNs that log in as them."""

    def __init__(self, admin_dsn: str, db_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self.db_dsn = db_dsn
        self.names: list[str] = []

    def create(self, kind: str, *, login: bool = True) -> str:
        name = f"pyref_{kind}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            admin.execute(f'CREATE ROLE "{name}" {"LOGIN" if login else "NOLOGIN"}')
        self.names.append(name)
        return name

    def dsn(self, role: str) -> str:
        """The test database's DSN, logging in as `role` (trust auth on the test server)."""
        parts = urlsplit(self.db_dsn)
        host = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit((parts.scheme, f"{role}@{host}", parts.path, parts.query, ""))

    def admin(self) -> psycopg.Connection:
        """An autocommit superuser connection to the test database."""
        return psycopg.connect(self.db_dsn, autocommit=True)

    def cleanup(self) -> None:
        with self.admin() as conn:
            for name in self.names:
                conn.execute(f'REASSIGN OWNED BY "{name}" TO CURRENT_USER')
                conn.execute(f'DROP OWNED BY "{name}"')
        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            for name in self.names:
                admin.execute(f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
def pg_roles(pg_admin_dsn: str, pg_dsn: str) -> Iterator[Roles]:
    """A factory of unique login roles on the test database, dropped afterwards."""
    roles = Roles(pg_admin_dsn, pg_dsn)
    try:
        yield roles
    finally:
        roles.cleanup()
