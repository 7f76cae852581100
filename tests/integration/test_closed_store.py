"""A store used after it was closed: the same typed error on both backends, sync and async,
and the HTTP API and console say the database is unavailable (found by the issue 16 review:
SQLite raised a raw `sqlite3.ProgrammingError`, and /healthz said "reachable")."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

import pyreference
from pyreference.demo import build_demo_fleet
from pyreference.errors import DatabaseUnavailable
from pyreference.web import Settings, create_app
from tests.support.scenario import NOW


@pytest.fixture
def owned_target(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A DSN the store opens (and so closes) itself, holding the demo fleet."""
    dsn = (
        f"sqlite:///{tmp_path / 'closed.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_dsn")
    )
    with pyreference.connect(dsn) as store:
        store.migrate()
        build_demo_fleet(store, NOW)
        store.reconcile()
    return dsn


def _error(call: Any) -> tuple[str, bool]:
    try:
        call()
    except Exception as exc:
        return type(exc).__name__, isinstance(exc, DatabaseUnavailable)
    return "no error", False


def test_a_closed_sync_store_raises_database_unavailable(owned_target: str) -> None:
    store = pyreference.connect(owned_target)
    store.close()
    calls = {
        "list": lambda: store.list_connection_summaries(5),
        "scoped": lambda: store.get_connection_summary("cin_heb"),
        "diagnostics": lambda: store.connection_diagnostics("cin_heb"),
        "reconcile": lambda: store.reconcile(),
        "write": lambda: store.ingest_records("cin_heb", "orders", [{"key": "k", "data": {}}]),
    }
    assert {name: _error(call) for name, call in calls.items()} == {
        name: ("DatabaseUnavailable", True) for name in calls
    }


def test_a_closed_async_store_raises_database_unavailable(owned_target: str) -> None:
    async def main() -> dict[str, tuple[str, bool]]:
        store = await pyreference.connect_async(owned_target)
        await store.aclose()
        got = {}
        for name, call in {
            "list": lambda: store.list_connection_summaries(5),
            "scoped": lambda: store.get_connection_summary("cin_heb"),
            "health": lambda: store.read_model_health(),
        }.items():
            try:
                await call()
                got[name] = ("no error", False)
            except Exception as exc:
                got[name] = (type(exc).__name__, isinstance(exc, DatabaseUnavailable))
        await store.aclose()  # closing twice is harmless
        return got

    assert asyncio.run(main()) == {
        n: ("DatabaseUnavailable", True) for n in ("list", "scoped", "health")
    }


def test_healthz_and_console_after_the_database_went_away(owned_target: str) -> None:
    async def main() -> list[httpx.Response]:
        store = await pyreference.connect_async(owned_target)
        app = create_app(Settings(dsn="unused"), store=store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            before = await client.get("/healthz")  # caches "schema current"
            await store.aclose()
            return [
                before,
                await client.get("/healthz"),
                await client.get("/v1/connections"),
                await client.get("/"),
                await client.get("/connections/cin_heb"),
            ]

    before, health, page, console, detail = asyncio.run(main())
    assert before.status_code == 200 and before.json()["database"] == "reachable"
    assert health.status_code == 503
    assert health.json()["database"] == "unreachable" and health.json()["status"] == "unavailable"
    assert page.status_code == 503 and page.headers["content-type"] == "application/problem+json"
    assert page.json()["type"] == "urn:pyreference:problem:database-unavailable"
    # The console is for people: its errors are pages, not JSON.
    for r in (console, detail):
        assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
        assert "database" in r.text.lower() and "Traceback" not in r.text


def test_aclose_from_another_event_loop(owned_target: str) -> None:
    """Found by the issue 16 review: `asyncio.run(store.aclose())` on a store opened by an
    earlier `asyncio.run` raised a raw `RuntimeError: Event loop is closed`."""
    import threading

    from pyreference.errors import EventLoopMismatch, PyreferenceError

    store = asyncio.run(pyreference.connect_async(owned_target))
    if store.dialect == "sqlite":  # no loop-bound pool: closing anywhere works
        asyncio.run(store.aclose())
        with pytest.raises(DatabaseUnavailable):  # closed
            asyncio.run(store.list_connection_summaries(5))
    else:
        with pytest.raises(EventLoopMismatch) as raised:
            asyncio.run(store.aclose())
        assert isinstance(raised.value, PyreferenceError) and "event loop" in str(raised.value)
        # Any later use is refused the same typed way, never a raw RuntimeError.
        with pytest.raises(EventLoopMismatch):
            asyncio.run(store.list_connection_summaries(5))

    # A store whose loop still runs (in another thread) is closed there, and works.
    home = asyncio.new_event_loop()
    thread = threading.Thread(target=home.run_forever, daemon=True)
    thread.start()
    try:
        opened = asyncio.run_coroutine_threadsafe(pyreference.connect_async(owned_target), home)
        other = opened.result(60)
        listed = asyncio.run_coroutine_threadsafe(other.list_connection_summaries(5), home)
        assert len(listed.result(60).items) == 5
        asyncio.run(other.aclose())  # this thread's own loop
        if other.dialect == "postgres":
            assert other.database._pool.closed
    finally:
        home.call_soon_threadsafe(home.stop)
        thread.join(10)
        home.close()
