"""`pyreference serve`: a real uvicorn process on loopback; refusal to bind elsewhere bare."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from click.testing import CliRunner

from pyreference.cli import cli
from pyreference.db import redact_dsn
from pyreference.web import Settings
from tests.support.server import free_port, running_server


def test_serve_demo_answers_over_http() -> None:
    with running_server("--demo") as base:
        health = httpx.get(f"{base}/healthz").json()
        page = httpx.get(f"{base}/v1/connections", params={"limit": 1000}).json()
        one = httpx.get(f"{base}/v1/connections/cin_heb")
        metrics = httpx.get(f"{base}/metrics").text
        openapi = httpx.get(f"{base}/openapi.json").json()
    assert health["status"] == "ok" and health["schema_current"] is True
    assert len(page["items"]) >= 12 and page["has_more"] is False
    assert one.status_code == 200 and one.json()["connection_id"] == "cin_heb"
    assert "pyreference_dirty_connections" in metrics
    assert "/v1/connections/{connection_id}/diagnostics" in openapi["paths"]


def test_serve_refuses_a_public_bind_without_a_token() -> None:
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--dsn", "sqlite:///:memory:"])
    assert result.exit_code == 1
    assert "token" in result.output and "Traceback" not in result.output


def test_serve_with_a_token_requires_it() -> None:
    with running_server("--demo", env={"PYREFERENCE_TOKEN": "tok-123"}) as base:
        bare = httpx.get(f"{base}/v1/connections")
        good = httpx.get(f"{base}/v1/connections", headers={"Authorization": "Bearer tok-123"})
    assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Bearer"
    assert good.status_code == 200


def _serve_fails(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run `pyreference serve ARGS` as a process expected to end by itself."""
    proc = subprocess.run(
        [sys.executable, "-m", "pyreference.cli", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_serve_start_failures_are_one_error_line(tmp_path: Path) -> None:
    """Found by the issue 16 review: an unreachable database or a bad owner printed a
    server-startup traceback and exited 3 (which means drift); a missing SQLite file was
    created empty; a port out of range was an 'unexpected OverflowError'."""
    missing = tmp_path / "missing.db"
    cases = {
        "unreachable": ("--dsn", f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/x"),
        "missing file": ("--dsn", f"sqlite:///{missing}"),
        "empty owner": ("--dsn", "sqlite:///:memory:", "--owner", ""),
        "non-ascii token": ("--dsn", "sqlite:///:memory:", "--token", "pässwörd"),
    }
    for name, args in cases.items():
        code, out = _serve_fails(*args, "--port", str(free_port()))
        assert code == 1, (name, out)
        errors = [line for line in out.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, (name, out)
        assert "Traceback" not in out and "hunter2" not in out, (name, out)
    assert not missing.exists()
    code, out = _serve_fails("--dsn", "sqlite:///:memory:", "--port", "99999")
    assert code == 2 and "99999" in out and "Traceback" not in out


def test_serve_on_a_port_in_use_exits_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out = _serve_fails("--dsn", "sqlite:///:memory:", "--port", str(port))
    assert code == 1, out
    assert out.splitlines()[-1].startswith("error: could not serve on http://127.0.0.1:")
    assert "Traceback" not in out


def test_serve_names_a_sqlite_database_plainly() -> None:
    # `serve --demo` said "serving sqlite:////tmp/…/demo.db (malformed)".
    assert redact_dsn("sqlite:////tmp/x/demo.db") == "sqlite:////tmp/x/demo.db"
    assert redact_dsn("postgresql://u:pw@h/db") == "postgresql://u@h/db"


def test_settings_bind_an_ipv6_loopback_given_in_brackets() -> None:
    settings = Settings(dsn="sqlite:///x.db", host="[::1]")
    assert settings.loopback and settings.bind_host == "::1" and settings.url_host == "[::1]"
    assert Settings(dsn="sqlite:///x.db").url_host == "127.0.0.1"
