"""The HTTP API on the demo fleet, on both backends: pages exactly as `Page.to_dict()`,
problem+json errors, health, metrics, token and host checks."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

import pyreference
from pyreference.demo import DRAFT_ID, build_demo_fleet
from pyreference.errors import InvalidInput
from pyreference.web import Settings, create_app
from tests.support.scenario import NOW

NOW_Q = "2026-11-23T12:00:00Z"
BASE = "http://127.0.0.1"


def target_of(store: pyreference.Store, request: pytest.FixtureRequest) -> Any:
    """What connect_async should open for the test's database."""
    if store.dialect == "sqlite":
        return request.getfixturevalue("sqlite_conn")
    return request.getfixturevalue("pg_dsn")


@pytest.fixture
def fleet(store: pyreference.Store) -> pyreference.Store:
    build_demo_fleet(store, NOW)
    store.reconcile()
    return store


def serve(
    target: Any,
    scenario: Callable[[httpx.AsyncClient], Awaitable[Any]],
    *,
    settings: Settings | None = None,
    base_url: str = BASE,
) -> Any:
    """Run `scenario` against an app over a store opened in the same event loop."""

    async def main() -> Any:
        store = await pyreference.connect_async(target)
        app = create_app(settings or Settings(dsn="unused"), store=store)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
                return await scenario(client)
        finally:
            if store.dialect == "postgres":  # a SQLite connection is the fixture's to close
                await store.aclose()

    return asyncio.run(main())


def _no_leak(response: httpx.Response) -> None:
    text = response.text
    assert "Traceback" not in text and "SELECT" not in text and "pyref_" not in text


def test_pages_are_exactly_page_to_dict(fleet: pyreference.Store, request: Any) -> None:
    first = fleet.list_connection_summaries(limit=5, now=NOW)
    second = fleet.list_connection_summaries(limit=5, cursor=first.next_cursor, now=NOW)
    amazon = fleet.list_connection_summaries(connector_id="amazon", now=NOW)

    async def scenario(client: httpx.AsyncClient) -> list[Any]:
        a = await client.get("/v1/connections", params={"limit": 5, "now": NOW_Q})
        cursor = a.json()["next_cursor"]
        b = await client.get("/v1/connections", params={"limit": 5, "now": NOW_Q, "cursor": cursor})
        c = await client.get("/v1/connections", params={"connector_id": "amazon", "now": NOW_Q})
        for r in (a, b, c):
            assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        return [a.json(), b.json(), c.json()]

    got = serve(target_of(fleet, request), scenario)
    assert got == [first.to_dict(), second.to_dict(), amazon.to_dict()]


def test_scoped_reads_are_their_to_dict(fleet: pyreference.Store, request: Any) -> None:
    ids = [s.connection_id for s in fleet.iter_connection_summaries(NOW)] + [DRAFT_ID]

    async def scenario(client: httpx.AsyncClient) -> dict[str, Any]:
        out = {}
        for cid in ids:
            one = await client.get(f"/v1/connections/{cid}", params={"now": NOW_Q})
            deep = await client.get(f"/v1/connections/{cid}/diagnostics", params={"now": NOW_Q})
            out[cid] = (one.status_code, one.json(), deep.status_code, deep.json())
        return out

    got = serve(target_of(fleet, request), scenario)
    for cid in ids:
        summary = fleet.get_connection_summary(cid, NOW)
        assert summary is not None
        diagnostics = fleet.connection_diagnostics(cid, NOW)
        assert got[cid] == (200, summary.to_dict(), 200, diagnostics.to_dict())


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/v1/connections?limit=0", 400, "invalid-input"),
        ("/v1/connections?limit=abc", 400, "invalid-input"),
        ("/v1/connections?limit=1001", 400, "invalid-input"),
        ("/v1/connections?cursor=forged.cursor", 400, "invalid-cursor"),
        ("/v1/connections?now=yesterday", 400, "invalid-input"),
        ("/v1/connections?now=2026-11-23T12:00:00", 400, "invalid-input"),  # naive
        ("/v1/connections/nobody", 404, "connection-not-found"),
        ("/v1/connections/nobody/diagnostics", 404, "connection-not-found"),
        ("/v1/nothing-here", 404, None),
    ],
)
def test_errors_are_problem_json(
    fleet: pyreference.Store, request: Any, path: str, status: int, kind: str | None
) -> None:
    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(path)

    r = serve(target_of(fleet, request), scenario)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["title"] and body["instance"] == path.split("?")[0]
    assert body["type"] == (f"urn:pyreference:problem:{kind}" if kind else "about:blank")
    _no_leak(r)


def test_wrong_method_is_problem_json(store: pyreference.Store, request: Any) -> None:
    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/v1/connections")

    r = serve(target_of(store, request), scenario)
    assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"
    assert "GET" in r.headers["allow"]  # Starlette's headers survive the problem handler


def test_database_unavailable_is_503(pg_dsn: str) -> None:
    from psycopg import AsyncConnection

    async def main() -> httpx.Response:
        conn = await AsyncConnection.connect(pg_dsn, autocommit=True)
        store = await pyreference.connect_async(conn)
        await conn.close()  # the database is gone from under the store
        app = create_app(Settings(dsn="unused"), store=store)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE
        ) as client:
            return await client.get("/v1/connections")

    r = asyncio.run(main())
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "urn:pyreference:problem:database-unavailable"
    _no_leak(r)


def test_missing_schema_is_503_and_healthz_says_migrate() -> None:
    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.get("/v1/connections"), await client.get("/healthz")]

    page, health = serve("sqlite:///:memory:", scenario)  # never migrated
    assert page.status_code == 503
    assert page.json()["type"] == "urn:pyreference:problem:schema-not-ready"
    assert health.status_code == 503
    body = health.json()
    assert body["database"] == "reachable" and body["schema_current"] is False
    assert body["pending_migrations"] and "migrate" in body["detail"]


def test_healthz_reports_backlog(store: pyreference.Store, request: Any) -> None:
    build_demo_fleet(store, NOW)  # not reconciled: a backlog

    async def scenario(client: httpx.AsyncClient) -> Any:
        return (await client.get("/healthz")).json()

    body = serve(target_of(store, request), scenario)
    backlog = store.dirty_backlog()
    assert body["status"] == "ok" and body["database"] == "reachable"
    assert body["schema_current"] is True and body["pending_migrations"] == []
    assert body["dirty_connections"] == backlog["dirty_connections"] > 0
    assert body["dirty_marks"] == backlog["dirty_marks"]
    assert body["oldest_dirty_age_seconds"] >= 0
    assert body["failed_rows"] == 0


def test_metrics(fleet: pyreference.Store, request: Any) -> None:
    fleet.ingest_records("cin_github", "issues", [{"key": "new", "data": {}}])  # one dirty row

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        await client.get("/v1/connections", params={"limit": 3})
        for cid in ("cin_heb", "cin_github", "nobody"):
            await client.get(f"/v1/connections/{cid}")
        await client.get("/v1/connections/cin_heb/diagnostics")
        return await client.get("/metrics")

    r = serve(target_of(fleet, request), scenario)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    values = dict(re.findall(r"^(pyreference_[a-z_]+) ([0-9.e+-]+)$", text, re.M))
    assert float(values["pyreference_dirty_connections"]) == 1
    assert float(values["pyreference_dirty_marks"]) >= 1
    assert float(values["pyreference_oldest_dirty_age_seconds"]) >= 0
    assert float(values["pyreference_failed_rows"]) == 0
    assert float(values["pyreference_last_reconcile_timestamp_seconds"]) > 1.7e9
    for read, count in (("list", 1), ("scoped", 3), ("diagnostics", 1)):
        assert f'pyreference_read_duration_seconds_count{{read="{read}"}} {count}.0' in text
    routes = set(re.findall(r'route="([^"]*)"', text))
    assert "/v1/connections/{connection_id}" in routes
    assert not any("cin_" in route or "nobody" in route for route in routes)  # templates only
    assert 'route="/v1/connections/{connection_id}",status="404"' in text


def test_non_loopback_bind_requires_a_token() -> None:
    with pytest.raises(InvalidInput, match="token"):
        Settings(dsn="sqlite:///x.db", host="0.0.0.0")
    with pytest.raises(InvalidInput):
        Settings(dsn="sqlite:///x.db", host="0.0.0.0", token=" ")
    assert Settings(dsn="sqlite:///x.db", host="::1").loopback
    assert Settings(dsn="sqlite:///x.db", host="0.0.0.0", token="s3cret").allowed_hosts() == ["*"]


def test_bearer_token(fleet: pyreference.Store, request: Any) -> None:
    settings = Settings(dsn="unused", host="0.0.0.0", token="s3cret-token")

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.get("/v1/connections"),
            await client.get("/v1/connections", headers={"Authorization": "Bearer wrong"}),
            await client.get("/", headers={"Authorization": "Bearer wrong"}),
            await client.get("/connections/cin_heb"),
            await client.get("/metrics"),
            await client.get("/v1/connections", headers={"Authorization": "Bearer s3cret-token"}),
        ]

    *refused, ok = serve(target_of(fleet, request), scenario, settings=settings)
    for r in refused:
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"] == "Bearer"
        # The console's pages answer people with a page; the API with problem+json.
        page = r.url.path == "/" or r.url.path.startswith("/connections/")
        media = "text/html; charset=utf-8" if page else "application/problem+json"
        assert r.headers["content-type"] == media
        assert "s3cret" not in r.text
    assert ok.status_code == 200


def test_loopback_server_refuses_foreign_host_headers(
    store: pyreference.Store, request: Any
) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 must not read the API."""

    async def scenario(client: httpx.AsyncClient) -> list[int]:
        evil = await client.get("/v1/connections", headers={"Host": "evil.example"})
        local = await client.get("/v1/connections", headers={"Host": "localhost:8000"})
        return [evil.status_code, local.status_code]

    assert serve(target_of(store, request), scenario) == [400, 200]


def test_owner_comes_from_configuration_only(fleet: pyreference.Store, request: Any) -> None:
    async def main() -> list[Any]:
        store = await pyreference.connect_async(target_of(fleet, request), owner="someone_else")
        app = create_app(Settings(dsn="unused", owner="someone_else"), store=store)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE
        ) as client:
            page = await client.get(
                "/v1/connections", params={"owner": "owner_local"}, headers={"X-Owner": "x"}
            )
            one = await client.get("/v1/connections/cin_heb")
        return [page.json()["items"], one.status_code]

    assert asyncio.run(main()) == [[], 404]


# -- issue 16 review, round 2 ---------------------------------------------------------


def test_head_answers_like_get_without_a_body(fleet: pyreference.Store, request: Any) -> None:
    """HEAD answered 405 on every route (FastAPI registers GET only)."""
    paths = ["/healthz", "/v1/connections?limit=2", "/v1/connections/cin_heb", "/", "/metrics"]

    async def scenario(client: httpx.AsyncClient) -> list[tuple[httpx.Response, httpx.Response]]:
        return [(await client.get(p), await client.head(p)) for p in [*paths, "/v1/nowhere"]]

    for got, head in serve(target_of(fleet, request), scenario):
        assert head.status_code == got.status_code, (head.url, head.status_code)
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        if "metrics" not in str(got.url):  # the exposition's timings differ between calls
            assert head.headers["content-length"] == str(len(got.content))


def test_wrong_method_allows_head_too(store: pyreference.Store, request: Any) -> None:
    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.delete("/healthz")

    r = serve(target_of(store, request), scenario)
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_openapi_document_needs_the_token_when_there_is_one(
    store: pyreference.Store, request: Any
) -> None:
    settings = Settings(dsn="unused", token="s3cret-token")

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        good = {"Authorization": "Bearer s3cret-token"}
        return [
            await client.get("/openapi.json"),
            await client.get("/docs"),
            await client.get("/openapi.json", headers=good),
        ]

    bare, docs, good = serve(target_of(store, request), scenario, settings=settings)
    assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Bearer"
    assert docs.status_code == 404  # no Swagger UI (it would load scripts from a CDN)
    assert good.status_code == 200 and "/v1/connections" in good.json()["paths"]


def test_problem_instance_is_the_path_as_sent(store: pyreference.Store, request: Any) -> None:
    """`instance` came from the decoded path, which dropped `%0A`."""
    sent = ["/v1/connections/a%0Ab", "/v1/connections/a%2Fb/diagnostics", "/v1/caf%C3%A9%20x"]

    async def scenario(client: httpx.AsyncClient) -> list[Any]:
        return [(await client.get(p)).json()["instance"] for p in sent]

    assert serve(target_of(store, request), scenario) == sent


def test_not_found_is_worded_alike_on_summary_and_diagnostics(
    store: pyreference.Store, request: Any
) -> None:
    async def scenario(client: httpx.AsyncClient) -> list[Any]:
        one = await client.get("/v1/connections/nobody")
        deep = await client.get("/v1/connections/nobody/diagnostics")
        return [one.json()["detail"], deep.json()["detail"]]

    one, deep = serve(target_of(store, request), scenario)
    assert one == deep and "nobody" in one


def test_ambiguous_connector_id_is_409_with_candidates(
    fleet: pyreference.Store, request: Any
) -> None:
    """The demo has two Amazon connections: `amazon` named either and answered 404."""

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.get("/v1/connections/amazon"),
            await client.get("/v1/connections/amazon/diagnostics"),
            await client.get("/connections/amazon"),
        ]

    one, deep, page = serve(target_of(fleet, request), scenario)
    for r in (one, deep):
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["type"] == "urn:pyreference:problem:connection-ambiguous"
        assert {c["connection_id"] for c in body["candidates"]} == {
            "cin_amazon_personal",
            "cin_amazon_household",
        }
    assert page.status_code == 409 and 'href="/connections/cin_amazon_household"' in page.text


@pytest.mark.postgres
def test_database_down_answers_503_within_the_configured_timeout(
    pg_admin_dsn: str, pg_dsn: str
) -> None:
    """The database went away behind a running server (a real PgBouncer, stopped): every
    request waited the pool's 30 s before its 503. `--db-timeout` bounds the wait."""
    from urllib.parse import urlsplit

    from tests.support import pgbouncer
    from tests.support.server import running_server

    with pyreference.connect(pg_dsn) as direct:
        build_demo_fleet(direct, NOW)
        direct.reconcile()
    bouncer_cm = pgbouncer.running(pg_admin_dsn, pool_mode="session")
    bouncer = bouncer_cm.__enter__()
    try:
        url = bouncer.url(urlsplit(pg_dsn).path.lstrip("/"))
        with running_server("--dsn", url, "--db-timeout", "0.5") as base:
            assert httpx.get(f"{base}/healthz").json()["status"] == "ok"  # schema checked
            bouncer_cm.__exit__(None, None, None)  # the database is gone
            bouncer_cm = None
            started = time.monotonic()
            health = httpx.get(f"{base}/healthz", timeout=60)
            page = httpx.get(f"{base}/v1/connections", timeout=60)
            took = time.monotonic() - started
    finally:
        if bouncer_cm is not None:
            bouncer_cm.__exit__(None, None, None)
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "unavailable" and body["database"] == "unreachable"
    assert "cannot reach PostgreSQL" in body["detail"] and pgbouncer.PASSWORD not in body["detail"]
    assert page.status_code == 503 and page.headers["content-type"] == "application/problem+json"
    assert page.json()["type"] == "urn:pyreference:problem:database-unavailable"
    assert took < 20  # two requests; each waited 30 s before (loose: shared CPUs)


@pytest.mark.postgres
def test_timeout_is_applied_to_the_pool(pg_dsn: str) -> None:
    async def main() -> tuple[Any, ...]:
        async with await pyreference.connect_async(pg_dsn, timeout=0.5) as store:
            pool = store.database._pool
            return pool.timeout, pool.kwargs["connect_timeout"]

    assert asyncio.run(main()) == (0.5, 2)  # libpq's connect_timeout floor is 2 s
    with pyreference.connect(pg_dsn, timeout=7) as store:
        pool = store.database._pool
        assert (pool.timeout, pool.kwargs["connect_timeout"]) == (7, 7)
    with pyreference.connect(pg_dsn) as store:  # defaults unchanged
        assert store.database._pool.timeout == 30


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "2", True, 10**9])
def test_timeout_must_be_seconds(bad: Any) -> None:
    with pytest.raises(InvalidInput, match="timeout"):
        pyreference.connect("sqlite:///:memory:", timeout=bad)
    with pytest.raises(InvalidInput, match="timeout"):
        Settings(dsn="sqlite:///:memory:", db_timeout=bad)
