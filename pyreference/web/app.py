"""The FastAPI application: JSON API under /v1, health, metrics (and the console)."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .. import __version__
from ..aio import AsyncStore, connect_async
from ..errors import DatabaseUnavailable, PyreferenceError
from ..inputs import MAX_ID
from ..synthesis import ConnectionSummary
from . import console, problems
from .metrics import CONTENT_TYPE, Metrics, RequestTimer, age_seconds
from .schemas import DiagnosticsOut, HealthOut, PageOut
from .settings import Settings

_Now = Annotated[
    str | None,
    Query(description="Evaluate at this ISO-8601 time.", json_schema_extra={"format": "date-time"}),
]
# An id: some non-space text, no NUL, at most MAX_ID characters (pyreference.inputs.ident).
_ID_PATTERN = r"^[^\x00]*\S[^\x00]*$"
_ConnectionId = Annotated[
    str,
    Path(
        description=(
            "A connection id, or a connector id that has exactly one connection (one with "
            "several answers 409 with the candidates)."
        ),
        pattern=_ID_PATTERN,
        max_length=MAX_ID,
    ),
]
_bearer = HTTPBearer(auto_error=False, description="Required when the server has a token.")


class HeadAsGet:
    """ASGI middleware: HEAD on any route answers as GET would, without the body (RFC 9110
    §9.3.2: same status and headers, `Content-Length` included). The inner app sees a GET
    (`scope["pyreference.method"]` keeps "HEAD" for the request metrics); the server keeps
    the original scope, so it knows no body follows."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Any) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(
            {**scope, "method": "GET", "pyreference.method": "HEAD"}, receive, without_body
        )


def store_of(request: Request) -> AsyncStore:
    """The application's store (opened in its lifespan, or passed to `create_app`)."""
    store: AsyncStore = request.app.state.store
    return store


def metrics_of(request: Request) -> Metrics:
    """The application's metrics (`Metrics`)."""
    metrics: Metrics = request.app.state.metrics
    return metrics


def create_app(settings: Settings, *, store: AsyncStore | None = None) -> FastAPI:
    """The application for `settings`.

    Args:
        settings: database, owner, bind address and token (see `Settings`).
        store: an open async store to serve (tests); by default one is opened on
            `settings.dsn` for `settings.owner` at startup and closed at shutdown.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if store is not None:
            yield
            return
        opened = await connect_async(
            settings.dsn, owner=settings.owner, timeout=settings.db_timeout
        )
        app.state.store = opened
        try:
            yield
        finally:
            await opened.aclose()

    async def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), str(settings.token).encode()):
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )

    app = FastAPI(
        title="pyreference",
        version=__version__,
        summary="Connection summaries of one owner's fleet, as JSON and as a console page.",
        lifespan=lifespan,
        # Swagger UI and ReDoc load scripts from a CDN: offline they break; the document
        # itself is at /openapi.json.
        docs_url=None,
        redoc_url=None,
        # Served below as a route of its own, so a token guards it like every route.
        openapi_url=None,
        # Only a server with a token declares (and checks) bearer auth.
        dependencies=[Depends(require_token)] if settings.token is not None else [],
    )
    app.state.store = store
    app.state.metrics = metrics = Metrics()
    app.state.settings = settings
    problems.install(app, page=console.error_page)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts())
    app.add_middleware(RequestTimer, metrics=metrics)
    app.add_middleware(HeadAsGet)
    _api_routes(app, guarded=settings.token is not None)
    console.install(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_document() -> JSONResponse:
        """The OpenAPI document (behind the token when the server has one)."""
        return JSONResponse(app.openapi())

    return app


def _api_routes(app: FastAPI, *, guarded: bool) -> None:
    auth = (401,) if guarded else ()

    @app.get(
        "/v1/connections",
        response_model=PageOut,
        responses=problems.problem_responses(400, *auth, 503),
        tags=["connections"],
    )
    async def list_connections(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
        cursor: Annotated[
            str | None, Query(description="`next_cursor` of the page before.")
        ] = None,
        connector_id: Annotated[
            str | None,
            Query(description="Only this connector.", pattern=_ID_PATTERN, max_length=MAX_ID),
        ] = None,
        now: _Now = None,
    ) -> Response:
        """One keyset page of connection summaries (`Page.to_dict()`)."""
        with metrics_of(request).read("list"):
            page = await store_of(request).list_connection_summaries(
                limit, cursor, connector_id, now
            )
        return JSONResponse(page.to_dict())

    @app.get(
        "/v1/connections/{connection_id}",
        response_model=ConnectionSummary,
        responses=problems.problem_responses(400, *auth, 404, 409, 503),
        tags=["connections"],
    )
    async def get_connection(
        request: Request,
        connection_id: _ConnectionId,
        now: _Now = None,
    ) -> Response:
        """One connection's summary, by id (or by a connector id that has exactly one)."""
        store = store_of(request)
        with metrics_of(request).read("scoped"):
            summary = await store.get_connection_summary(connection_id, now)
            if summary is None:
                # Why not (R62): the diagnostics read raises the typed error, worded as on
                # /diagnostics: ConnectionNotFound (404) or ConnectionAmbiguous (409).
                summary = (await store.connection_diagnostics(connection_id, now)).summary
        return JSONResponse(summary.to_dict())

    @app.get(
        "/v1/connections/{connection_id}/diagnostics",
        response_model=DiagnosticsOut,
        responses=problems.problem_responses(400, *auth, 404, 409, 503),
        tags=["connections"],
    )
    async def get_diagnostics(
        request: Request,
        connection_id: _ConnectionId,
        now: _Now = None,
    ) -> Response:
        """Deep diagnostics: recent runs with reasons, browser-surface history, gaps, attention."""
        with metrics_of(request).read("diagnostics"):
            diagnostics = await store_of(request).connection_diagnostics(connection_id, now)
        return JSONResponse(diagnostics.to_dict())

    @app.get(
        "/healthz",
        response_model=HealthOut,
        responses={
            503: {"model": HealthOut, "description": "Not ready"},
            **problems.problem_responses(*auth),
        },
        tags=["operations"],
    )
    async def healthz(request: Request) -> Response:
        """Database reachable, schema current, dirty backlog size and oldest age."""
        body, ready = await health(request)
        return JSONResponse(body, 200 if ready else 503)

    @app.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}},
            **problems.problem_responses(*auth, 503),
        },
        tags=["operations"],
    )
    async def metrics(request: Request) -> Response:
        """Prometheus text format: backlog, oldest dirty age, failed rows, last reconcile,
        read and request latency."""
        state = await store_of(request).read_model_health()
        return Response(metrics_of(request).exposition(state), media_type=CONTENT_TYPE)


async def health(request: Request) -> tuple[dict[str, Any], bool]:
    """The `/healthz` document and whether the service is ready."""
    store = store_of(request)
    body: dict[str, Any] = {
        "status": "unavailable",
        "database": "unreachable",
        "schema_current": None,
        "pending_migrations": [],
        "dirty_connections": None,
        "dirty_marks": None,
        "oldest_dirty_age_seconds": None,
        "failed_rows": None,
        "last_reconciled_at": None,
    }
    try:
        if not getattr(request.app.state, "schema_current", False):
            pending = await store.pending_migrations()
            body["pending_migrations"] = pending
            # Migrations only ever add: once current, the schema stays current.
            request.app.state.schema_current = not pending
        schema_current = bool(request.app.state.schema_current)
        if not schema_current:
            body.update(
                status="schema_outdated",
                database="reachable",
                schema_current=False,
                detail="run `pyreference migrate`",
            )
            return body, False
        state = await store.read_model_health()
    except PyreferenceError as exc:
        # "reachable" only when the database answered now, never from a cached check.
        if not isinstance(exc, DatabaseUnavailable):
            body["database"] = "reachable"
        body["detail"] = str(exc)
        return body, False
    body.update(
        database="reachable",
        schema_current=True,
        status="ok",
        dirty_connections=state["dirty_connections"],
        dirty_marks=state["dirty_marks"],
        oldest_dirty_age_seconds=age_seconds(state["oldest_mark"]),
        failed_rows=state["failed_rows"],
        last_reconciled_at=state["last_reconciled_at"],
    )
    return body, True


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, without FastAPI's 422 entries (bad parameters are 400s),
    errors described under their one media type, `application/problem+json`."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    for path in doc.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses", {})
            responses.pop("422", None)
            for response in responses.values():
                content = response.get("content", {})
                if problems.MEDIA_TYPE in content and "application/json" in content:
                    content[problems.MEDIA_TYPE] = content.pop("application/json")
    schemas = doc.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    app.openapi_schema = doc
    return doc
