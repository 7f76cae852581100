"""Errors as RFC 9457 `application/problem+json`, never a stack trace or SQL text."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    ConnectionAmbiguous,
    ConnectionNotFound,
    DatabaseUnavailable,
    InvalidCursor,
    InvalidInput,
    PyreferenceError,
    SchemaNotReady,
    TransactionConflict,
)

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("pyreference.web")

# Typed errors and the status each one means, most specific first.
_STATUS: tuple[tuple[type[PyreferenceError], int, str], ...] = (
    (ConnectionNotFound, 404, "connection-not-found"),
    (ConnectionAmbiguous, 409, "connection-ambiguous"),
    (InvalidCursor, 400, "invalid-cursor"),
    (InvalidInput, 400, "invalid-input"),
    (SchemaNotReady, 503, "schema-not-ready"),
    (DatabaseUnavailable, 503, "database-unavailable"),
    (TransactionConflict, 503, "transaction-conflict"),
)


class Candidate(BaseModel):
    """A connection an ambiguous connector id could mean (R62)."""

    connection_id: str
    display_name: str | None = None
    status: str


class Problem(BaseModel):
    """An RFC 9457 problem document; an ambiguous connector id (409) adds `candidates`,
    the connections it could mean, in list order (ask again by `connection_id`)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    candidates: list[Candidate] | None = None


def problem(
    request: Request,
    status: int,
    detail: str | None = None,
    *,
    kind: str | None = None,
    headers: Mapping[str, str] | None = None,
    candidates: list[Candidate] | None = None,
) -> JSONResponse:
    """The one builder of error responses; forwards `headers` (e.g. WWW-Authenticate)."""
    body = Problem(
        type=f"urn:pyreference:problem:{kind}" if kind else "about:blank",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request_path(request),
        candidates=candidates,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status, headers=headers, media_type=MEDIA_TYPE
    )


# RFC 3986 pchar and "/": what a path may hold unescaped ("%" keeps the client's escapes).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def request_path(request: Request) -> str:
    """The request's path as the client sent it, percent-encoded (`%0A` stays `%0A`;
    `request.url.path` is decoded and dropped it), without the query."""
    raw = request.scope.get("raw_path")
    if not isinstance(raw, bytes):
        return quote(request.url.path, safe=_PATH_SAFE)
    return quote(raw.split(b"?", 1)[0], safe=_PATH_SAFE)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring problem+json for these statuses."""
    return {
        s: {
            "model": Problem,
            "content": {MEDIA_TYPE: {}},
            "description": HTTPStatus(s).phrase,
        }
        for s in statuses
    }


def candidates_of(exc: BaseException) -> list[Candidate] | None:
    """The candidates of a `ConnectionAmbiguous` (None for any other error)."""
    if not isinstance(exc, ConnectionAmbiguous):
        return None
    return [
        Candidate(connection_id=cid, display_name=name, status=status)
        for cid, name, status in exc.candidates
    ]


# A page for an error met on a human-facing route (the console), or None: use problem+json.
ErrorPage = Callable[[Request, int, str | None, Mapping[str, str] | None], Response | None]


def install(app: FastAPI, page: ErrorPage | None = None) -> None:
    """Route every error through `problem()`: Starlette's HTTP errors (routing 404s and
    405s included), bad parameters (400, not 422), pyreference's typed errors, and
    anything unexpected (500, logged here, never shown). `page` answers instead for the
    routes it claims (the console's HTML pages), with the same status and headers."""

    def answer(
        request: Request,
        status: int,
        detail: str | None = None,
        *,
        kind: str | None = None,
        headers: Mapping[str, str] | None = None,
        candidates: list[Candidate] | None = None,
    ) -> Response:
        html = page(request, status, detail, headers) if page is not None else None
        return html or problem(
            request, status, detail, kind=kind, headers=headers, candidates=candidates
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if exc.detail != HTTPStatus(exc.status_code).phrase else None
        headers = dict(exc.headers or {})
        allow = headers.get("Allow", "")
        if exc.status_code == 405 and "GET" in allow and "HEAD" not in allow:
            headers["Allow"] = f"{allow}, HEAD"  # HeadAsGet answers HEAD wherever GET is
        return answer(request, exc.status_code, detail, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
        return answer(request, 400, "; ".join(parts), kind="invalid-input")

    @app.exception_handler(PyreferenceError)
    async def typed_error(request: Request, exc: PyreferenceError) -> Response:
        for kind, status, name in _STATUS:
            if isinstance(exc, kind):
                return answer(request, status, str(exc), kind=name, candidates=candidates_of(exc))
        log.error("unexpected pyreference error on %s", request.url.path, exc_info=exc)
        return answer(request, 500, "internal error")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s", request.url.path, exc_info=exc)
        return answer(request, 500, "internal error")
