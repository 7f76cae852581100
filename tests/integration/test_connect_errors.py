"""`DatabaseUnavailable` says why, in one line, and never shows a password (issue 13, item 5)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

import pyreference
from pyreference.cli import cli
from pyreference.conninfo import describe_dsn, failure_reason
from pyreference.errors import DatabaseUnavailable, InvalidInput
from tests.support import pgbouncer
from tests.support.processes import free_port

SECRET = "s3cr et'pw"  # a space and a quote, as real passwords have
FRAGMENTS = ("s3cr", "et'pw", "s3cr%20et", "et%27pw")


def _all_forms(host: str, port: int, db: str, user: str = "postgres") -> list[str]:
    """The same target with the secret in every DSN form libpq accepts."""
    quoted = SECRET.replace("\\", "\\\\").replace("'", "\\'")
    encoded = "s3cr%20et%27pw"
    return [
        f"postgresql://{user}:{encoded}@{host}:{port}/{db}",
        f"postgres://{user}:{encoded}@{host}:{port}/{db}?sslmode=disable",
        f"postgresql://{user}@{host}:{port}/{db}?password={encoded}",
        f"postgresql+psycopg://{user}:{encoded}@{host}:{port}/{db}",
        f"host={host} port={port} dbname={db} user={user} password='{quoted}'",
        f"password = '{quoted}'  host={host} port={port} dbname={db} user={user}",
        f"host={host} port={port} dbname={db} user={user} sslpassword='{quoted}'",
    ]


def _assert_clean(message: str) -> None:
    assert "\n" not in message.strip(), message
    for fragment in FRAGMENTS:
        assert fragment not in message, message


def _fails(dsn: str) -> str:
    with pytest.raises((DatabaseUnavailable, InvalidInput)) as info:
        pyreference.connect(dsn)
    message = str(info.value)
    _assert_clean(message)
    return message


@pytest.fixture
def server(pg_dsn: str) -> tuple[str, int, str]:
    parts = urlsplit(pg_dsn)
    return parts.hostname or "127.0.0.1", parts.port or 5432, parts.path.lstrip("/")


def test_refused_port_in_every_form() -> None:
    port = free_port()  # nothing listens there
    for dsn in _all_forms("127.0.0.1", port, "db"):
        message = _fails(dsn)
        assert "connection refused" in message and f"127.0.0.1:{port}" in message, dsn


def test_unknown_host_in_every_form() -> None:
    for dsn in _all_forms("no-such-host.invalid", 5432, "db"):
        message = _fails(dsn)
        assert "unknown host" in message and "no-such-host.invalid" in message, dsn


@pytest.mark.postgres
def test_missing_database_in_every_form(server) -> None:
    host, port, _ = server
    for dsn in _all_forms(host, port, "no_such_db_i13"):
        assert 'database "no_such_db_i13" does not exist' in _fails(dsn), dsn


@pytest.mark.postgres
def test_unknown_role_in_every_form(server) -> None:
    host, port, db = server
    for dsn in _all_forms(host, port, db, user="no_such_role_i13"):
        message = _fails(dsn)
        assert 'authentication failed: role "no_such_role_i13" does not exist' in message, dsn


@pytest.mark.postgres
def test_bad_option_in_every_form(server) -> None:
    host, port, db = server
    for dsn in _all_forms(host, port, db):
        sep = "&" if "?" in dsn else "?" if "://" in dsn else " "
        message = _fails(f"{dsn}{sep}sslmode=bogus")
        assert 'bad option: invalid sslmode value: "bogus"' in message, dsn


@pytest.mark.postgres
def test_authentication_failed_through_a_password_checking_server(pg_admin_dsn: str) -> None:
    # The test server trusts local connections; PgBouncer checks passwords (md5).
    with pgbouncer.running(pg_admin_dsn) as bouncer:
        db = urlsplit(pg_admin_dsn).path.lstrip("/") or "postgres"
        for dsn in _all_forms(bouncer.host, bouncer.port, db):
            message = _fails(dsn)
            assert "authentication failed" in message, dsn
            assert f"{bouncer.host}:{bouncer.port}" in message


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://alice:s3cr%zzet'pw@127.0.0.1/db",  # bad percent-encoding
        "host=127.0.0.1 password='s3cr et'pw",  # unterminated quote
        "host=127.0.0.1 password='s3cr et\\'pw' bogus_option=1",
        "postgresql://alice@127.0.0.1/db?password=s3cr%20et%27pw&bogus=1",
    ],
)
def test_malformed_dsn_never_shows_the_password(dsn: str) -> None:
    message = _fails(dsn)
    assert "127.0.0.1" in message or "malformed" in message


def test_failure_reason_scrubs_a_password_echoed_by_the_driver() -> None:
    dsn = f"host=h password='{SECRET.replace(chr(39), chr(92) + chr(39))}'"
    reason = failure_reason(f"FATAL:  something odd about {SECRET}", dsn)
    _assert_clean(reason)
    assert describe_dsn(dsn) == "postgresql://h/"


def test_cli_prints_the_reason_in_one_line() -> None:
    port = free_port()
    result = CliRunner().invoke(
        cli, ["summaries", "--dsn", f"postgresql://u:s3cr%20et%27pw@127.0.0.1:{port}/db"]
    )
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "connection refused" in result.stderr
    _assert_clean(result.stderr)
