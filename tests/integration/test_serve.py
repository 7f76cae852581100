"""`pyreference serve`: a real uvicorn process on loopback; refusal to bind elsewhere bare."""

from __future__ import annotations

import httpx
from click.testing import CliRunner

from pyreference.cli import cli
from tests.support.server import running_server


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
