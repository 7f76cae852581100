"""The OpenAPI document matches the responses: schemathesis generates requests from it
and checks every response against it; every field `to_dict()` emits is described."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

import pyreference
from pyreference.demo import build_demo_fleet
from pyreference.web import Settings, create_app
from tests.support.scenario import NOW


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("openapi") / "demo.db"
    with pyreference.connect(f"sqlite:///{path}") as store:
        store.migrate()
        build_demo_fleet(store, NOW)
        store.reconcile()
    return f"sqlite:///{path}"


TOKEN = "schemathesis-token"


@pytest.fixture(scope="module", params=[None, TOKEN], ids=["open", "token"])
def app(demo_db: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    store = asyncio.run(pyreference.connect_async(demo_db))
    yield create_app(Settings(dsn=demo_db, token=request.param), store=store)
    asyncio.run(store.aclose())


def _headers(app: Any) -> dict[str, str]:
    # The app accepts only loopback Host headers (DNS rebinding), not "testserver".
    token = app.state.settings.token
    return {"Host": "127.0.0.1", **({"Authorization": f"Bearer {token}"} if token else {})}


@pytest.fixture
def api_schema(app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app, headers=_headers(app))


def test_api_conforms_to_its_openapi_document(api_schema: Any, app: Any) -> None:
    """Every operation, with generated parameters (valid and not): each response's status,
    content type, headers and body conform to the document, none is a 5xx, and with a
    token, a request with invalid credentials is refused."""
    headers = _headers(app)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/v1/connections",
        "/v1/connections/{connection_id}",
        "/v1/connections/{connection_id}/diagnostics",
        "/healthz",
        "/metrics",
    }
    for operation in operations:
        _check(operation, headers, EXCLUDED)


# "Schema-valid data is accepted" cannot hold for rules a schema does not express: a cursor
# is opaque and signed (a string is refused unless the server made it), and `now` must lie
# in 0001-9999 UTC without an offset pushing it past either edge. Those are 400s by design.
EXCLUDED = [positive_data_acceptance]


def _check(operation: Any, headers: dict[str, str], excluded: list[Any]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    def conforms(case: Any) -> None:
        case.call_and_validate(
            base_url="http://127.0.0.1", headers=headers, excluded_checks=excluded
        )

    conforms()


def _closed(node: Any, components: dict[str, Any]) -> Any:
    """A copy of a JSON schema where objects allow no property they do not describe."""
    if isinstance(node, dict):
        out = {k: _closed(v, components) for k, v in node.items()}
        if out.get("type") == "object" and "properties" in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_closed(v, components) for v in node]
    return node


def test_every_emitted_field_is_documented(app: Any, demo_db: str) -> None:
    doc = app.openapi()
    components = _closed(doc["components"]["schemas"], {})
    store = pyreference.connect(demo_db)
    pages = [store.list_connection_summaries(limit=1000, now=NOW).to_dict()]
    diagnostics = [
        store.connection_diagnostics(s["connection_id"], NOW).to_dict() for s in pages[0]["items"]
    ]
    store.close()

    def check(value: Any, name: str) -> None:
        schema = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": components}}
        jsonschema.validate(value, schema)

    for page in pages:
        check(page, "PageOut")
        for item in page["items"]:
            check(item, "ConnectionSummary")
    for diag in diagnostics:
        check(diag, "DiagnosticsOut")
    assert len(diagnostics) >= 12
