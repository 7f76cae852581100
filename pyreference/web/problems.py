"""Errors as RFC 9457 `application/problem+json`, never a stack trace or SQL text."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
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
    (InvalidCursor, 400, "invalid-cursor"),
    (InvalidInput, 400, "invalid-input"),
    (SchemaNotReady, 503, "schema-not-ready"),
    (DatabaseUnavailable, 503, "database-unavailable"),
    (TransactionConflict, 503, "transaction-conflict"),
)


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


def problem(
    request: Request,
    status: int,
    detail: str | None = None,
    *,
    kind: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one builder of error responses; forwards `headers` (e.g. WWW-Authenticate)."""
    body = Problem(
        type=f"urn:pyreference:problem:{kind}" if kind else "about:blank",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status, headers=headers, media_type=MEDIA_TYPE
    )


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


def install(app: FastAPI) -> None:
    """Route every error through `problem()`: Starlette's HTTP errors (routing 404s and
    405s included), bad parameters (400, not 422), pyreference's typed errors, and
    anything unexpected (500, logged here, never shown)."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if exc.detail != HTTPStatus(exc.status_code).phrase else None
        return problem(request, exc.status_code, detail, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
        return problem(request, 400, "; ".join(parts), kind="invalid-input")

    @app.exception_handler(PyreferenceError)
    async def typed_error(request: Request, exc: PyreferenceError) -> JSONResponse:
        for kind, status, name in _STATUS:
            if isinstance(exc, kind):
                return problem(request, status, str(exc), kind=name)
        log.error("unexpected pyreference error on %s", request.url.path, exc_info=exc)
        return problem(request, 500, "internal error")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s", request.url.path, exc_info=exc)
        return problem(request, 500, "internal error")
