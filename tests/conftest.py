"""Real databases for every test: SQLite in memory, and a fresh Postgres database per test.

Postgres comes from PYREFERENCE_TEST_DSN; else the local server on
127.0.0.1:5432 if it answers; else a throwaway server started by
pytest-postgresql (not as root); else testcontainers when Docker runs.
With PYREFERENCE_REQUIRE_POSTGRES=1 (CI) a missing server fails the run
instead of skipping the Postgres tests.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import pyreference
from pyreference.store import Store
from tests.support.pgroles import pg_roles  # noqa: F401 (a fixture: unique login roles)

LOCAL_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REQUIRE_POSTGRES = os.environ.get("PYREFERENCE_REQUIRE_POSTGRES") == "1"


def _answers(dsn: str) -> bool:
    import psycopg

    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def _with_db(dsn: str, name: str) -> str:
    """The same server URL with another database name."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@pytest.fixture(scope="session")
def pg_admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A DSN with rights to create databases, from the first source that works."""
    env = os.environ.get("PYREFERENCE_TEST_DSN")
    if env:
        if not _answers(env):
            pytest.fail(f"PYREFERENCE_TEST_DSN does not answer: {env}")
        yield env
        return
    if _answers(LOCAL_DSN):
        yield LOCAL_DSN
        return
    if shutil.which("pg_ctl") and os.geteuid() != 0:
        from pytest_postgresql.executor import PostgreSQLExecutor

        executor = PostgreSQLExecutor(
            executable=shutil.which("pg_ctl"),
            host="127.0.0.1",
            port=55432,
            datadir=str(tmp_path_factory.mktemp("pgdata")),
            unixsocketdir=str(tmp_path_factory.mktemp("pgsock")),
            logfile=str(tmp_path_factory.mktemp("pglog") / "pg.log"),
            startparams="-w",
            dbname="postgres",
            user="postgres",
            password="",
        )
        with executor:
            yield "postgresql://postgres@127.0.0.1:55432/postgres"
        return
    try:
        from testcontainers.postgres import PostgresContainer

        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
    except Exception:
        message = "no PostgreSQL for tests: set PYREFERENCE_TEST_DSN"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    with PostgresContainer("postgres:16", driver=None) as container:
        yield container.get_connection_url()


@pytest.fixture(scope="session")
def pg_template(pg_admin_dsn: str) -> Iterator[str]:
    """A migrated template database; each test clones it (fast and fresh)."""
    import psycopg

    name = f"pyref_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    store = pyreference.connect(_with_db(pg_admin_dsn, name))
    store.migrate()
    store.close()
    yield name
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_database(
    admin_dsn: str, template: str | None = None, encoding: str | None = None
) -> Iterator[str]:
    """A uniquely named database (a copy of `template`, else empty; with `encoding`, an
    empty one in that server encoding, C locale), dropped afterwards."""
    import psycopg

    name = f"pyref_t_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    if encoding:
        copy = f" TEMPLATE template0 ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C'"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield _with_db(admin_dsn, name)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_dsn(pg_admin_dsn: str, pg_template: str) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    with scratch_database(pg_admin_dsn, pg_template) as dsn:
        yield dsn


@pytest.fixture
def empty_pg_dsn(pg_admin_dsn: str) -> Iterator[str]:
    """A fresh database nothing was applied to (every migration pending)."""
    with scratch_database(pg_admin_dsn) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    store = pyreference.connect(f"sqlite:///{path}")
    store.migrate()
    store.close()
    return path


@pytest.fixture
def sqlite_conn(sqlite_template: Path) -> Iterator[sqlite3.Connection]:
    """A fresh in-memory copy of the migrated template."""
    source = sqlite3.connect(sqlite_template)
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    source.backup(conn)
    source.close()
    yield conn
    conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """A migrated, empty store on the parametrized backend."""
    if backend == "sqlite":
        s = pyreference.connect(request.getfixturevalue("sqlite_conn"))
    else:
        s = pyreference.connect(request.getfixturevalue("pg_dsn"))
    yield s
    s.close()


@pytest.fixture
def blank(backend: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """An empty, unmigrated store on the parametrized backend (upgrade tests)."""
    target = (
        "sqlite:///:memory:" if backend == "sqlite" else request.getfixturevalue("empty_pg_dsn")
    )
    s = pyreference.connect(target)
    yield s
    s.close()


@pytest.fixture
def pg_store(pg_dsn: str) -> Iterator[Store]:
    s = pyreference.connect(pg_dsn)
    yield s
    s.close()


def make_store(backend: str, request: pytest.FixtureRequest) -> Store:
    """A second store on the same backend kind (for tests needing two)."""
    if backend == "sqlite":
        return pyreference.connect(request.getfixturevalue("sqlite_conn"))
    return pyreference.connect(request.getfixturevalue("pg_dsn"))


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI nothing may skip: a skipped Postgres test would hide a missing server."""
    if REQUIRE_POSTGRES and _skipped:
        print(f"\nPYREFERENCE_REQUIRE_POSTGRES=1 but {len(_skipped)} test(s) skipped:")
        for nodeid in _skipped[:20]:
            print(f"  {nodeid}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def replica_cluster() -> Iterator[Any]:
    """A real primary + 2 streaming replicas (initdb + pg_basebackup -R) on free ports.

    Started once per test session as the unprivileged `postgres` user when run as root; a
    standby cancels conflicting reads after 100 ms (so recovery conflicts can be provoked).
    With PYREFERENCE_REQUIRE_POSTGRES=1 a cluster that cannot start fails the run.
    """
    from pyreference.devcluster import ReplicaCluster
    from pyreference.errors import DatabaseUnavailable

    cluster = ReplicaCluster(replicas=2, settings=("max_standby_streaming_delay = 100ms",))
    try:
        cluster.start()
    except DatabaseUnavailable as exc:
        if REQUIRE_POSTGRES:
            pytest.fail(f"cannot start a primary + replica cluster: {exc}")
        pytest.skip(f"cannot start a primary + replica cluster: {exc}")
    try:
        import psycopg

        with psycopg.connect(cluster.primary.dsn(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE pyref_template")
        store = pyreference.connect(cluster.primary.dsn("pyref_template"))
        store.migrate()
        store.close()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def replicated(replica_cluster: Any) -> Iterator[tuple[str, list[str]]]:
    """(primary DSN, replica DSNs) of a fresh migrated database, replayed on both replicas."""
    import psycopg

    name = f"pyref_r_{uuid.uuid4().hex[:12]}"
    admin_dsn = replica_cluster.primary.dsn()
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE pyref_template')
    replica_cluster.wait_replayed()
    yield (
        replica_cluster.primary.dsn(name),
        [standby.dsn(name) for standby in replica_cluster.standbys],
    )
    for standby in replica_cluster.standbys:
        if not standby.running:
            replica_cluster.start_server(standby)
        with psycopg.connect(standby.dsn(), autocommit=True) as conn:
            if conn.execute("SELECT pg_is_wal_replay_paused()").fetchone() == (True,):
                conn.execute("SELECT pg_wal_replay_resume()")
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
