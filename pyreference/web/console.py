"""The owner console: server-rendered HTML pages over the same async store as the API.

No JavaScript and no front-end build: a table of the fleet (keyset pages, a connector
filter) and one page per connection with its diagnostics. Words come from
`pyreference/words.py`, which the CLI table shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

from .. import words
from ..errors import ConnectionAmbiguous, ConnectionNotFound, InvalidCursor, InvalidInput
from ..synthesis import ConnectionDiagnostics, ConnectionSummary
from ..timeutil import now_utc

PAGE_SIZE = 25
MAX_PAGE_SIZE = 200
MAX_BACK = 50  # pages remembered for "Previous" (keyset pages only go forward)
_templates = Jinja2Templates(
    env=Environment(
        loader=PackageLoader("pyreference.web", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
)


@dataclass(frozen=True)
class Row:
    """One table row, in words."""

    connection_id: str
    name: str
    connector: str
    tone: str
    label: str
    health: str
    freshness: str
    records: str
    last_run: str
    next_step: str
    revoked: bool


def row(summary: ConnectionSummary, connector_names: dict[str, str], now: datetime) -> Row:
    """One summary as a table row in words (`connector_names`: connector id to its name)."""
    return Row(
        connection_id=summary.connection_id,
        name=summary.display_name or summary.connection_id,
        connector=connector_names.get(summary.connector_id, summary.connector_id),
        tone=summary.rendered_verdict.tone,
        label=summary.rendered_verdict.label,
        health=words.health(summary.connection_health.state),
        freshness=words.freshness(summary, now),
        records=words.records(summary),
        last_run=words.run_words(summary.last_run, now),
        next_step=words.next_step(summary),
        revoked=summary.status == "revoked",
    )


def _link(**params: Any) -> str:
    query = urlencode([(k, v) for k, vs in params.items() for v in _values(vs)])
    return f"/?{query}" if query else "/"


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def install(app: FastAPI) -> None:
    """Add the console's pages (`/` and `/connections/{id}`) to `app`."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def fleet(
        request: Request,
        connector: Annotated[str | None, Query()] = None,
        cursor: Annotated[str | None, Query()] = None,
        back: Annotated[list[str] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
    ) -> HTMLResponse:
        """The fleet page: one keyset page of the table, the connector filter, page links."""
        store = request.app.state.store
        metrics = request.app.state.metrics
        connector = connector or None
        trail = (back or [])[-MAX_BACK:]
        now = now_utc()
        try:
            connectors = await store.list_connectors()
            with metrics.read("list"):
                page = await store.list_connection_summaries(limit, cursor, connector, now)
        except (InvalidCursor, InvalidInput) as exc:
            return _error(request, 400, "That page link is not valid", str(exc))
        names = {c["connector_id"]: c["display_name"] or c["connector_id"] for c in connectors}
        size = None if limit == PAGE_SIZE else limit  # links keep a chosen page size
        previous = None
        if cursor is not None:  # the page before this one: the last cursor on the trail
            before = trail[-1] if trail else None
            previous = _link(connector=connector, limit=size, cursor=before, back=trail[:-1])
        following = None
        if page.has_more:
            following = _link(
                connector=connector,
                limit=size,
                cursor=page.next_cursor,
                back=[*trail, cursor] if cursor is not None else [],
            )
        return _templates.TemplateResponse(
            request,
            "fleet.html",
            {
                "rows": [row(s, names, now) for s in page.items],
                "connectors": connectors,
                "connector": connector,
                "connector_name": names.get(connector or "", connector),
                "previous": previous,
                "following": following,
                "first": _link(connector=connector, limit=size) if cursor is not None else None,
                "page_number": len(trail) + (2 if cursor is not None else 1),
                "size": size,
                "now": now,
            },
        )

    @app.get("/connections/{connection_id}", response_class=HTMLResponse, include_in_schema=False)
    async def connection(request: Request, connection_id: str) -> HTMLResponse:
        """One connection's page: its summary in words and its diagnostics."""
        store = request.app.state.store
        now = now_utc()
        try:
            with request.app.state.metrics.read("diagnostics"):
                diagnostics: ConnectionDiagnostics = await store.connection_diagnostics(
                    connection_id, now
                )
        except ConnectionNotFound:
            return _error(
                request, 404, "No such connection", f"There is no connection {connection_id!r}."
            )
        except ConnectionAmbiguous as exc:
            return _error(
                request,
                409,
                "Which connection?",
                f"{connection_id!r} names several connections; choose one:",
                candidates=exc.candidates,
            )
        except InvalidInput as exc:
            return _error(request, 400, "That link is not valid", str(exc))
        return _templates.TemplateResponse(request, "connection.html", _detail(diagnostics, now))


def _detail(d: ConnectionDiagnostics, now: datetime) -> dict[str, Any]:
    s = d.summary
    return {
        "s": s,
        "row": row(s, {}, now),
        "runs": [
            {
                "status": words.RUN_STATUS.get(r.run.status, r.run.status),
                "started": words.ago(r.run.started_at, now) or "—",
                "finished": words.ago(r.run.finished_at, now) or "—",
                "reason": words.reason(r.run.failure_reason or r.run.terminal_reason) or "",
                "run_id": r.run.run_id,
            }
            for r in d.recent_runs
        ],
        "surfaces": [
            {
                "at": words.ago(e.at, now) or "—",
                "status": (e.status or "unknown").replace("_", " "),
                "reason": words.reason(e.wait_reason) or "",
                "profile": e.profile_key or "",
            }
            for e in d.browser_surface_history
        ],
        "gaps": [
            {
                "stream": g.stream,
                "status": g.status,
                "reason": words.reason(g.reason) or "",
                "next": words.ago(g.next_attempt_after, now) if g.next_attempt_after else "",
            }
            for g in d.pending_gaps
        ],
        "attention": [
            {
                "reason": words.reason(a.reason_code),
                "asks": words.owner_action(a.owner_action),
                "lifecycle": a.lifecycle.replace("_", " "),
                "active": a.active,
                "opened": words.ago(a.created_at, now) or "",
            }
            for a in d.attention
        ],
        "coverage": d.coverage,
        "evidence": d.evidence,
        "conditions": [words.reason(c.reason_code) for c in s.connection_health.conditions],
        "now": now,
    }


# Titles of the console's error pages, by status.
_ERROR_TITLES = {
    400: "That link is not valid",
    401: "A token is required",
    404: "Not found",
    503: "The database cannot be reached",
}


def is_console(request: Request) -> bool:
    """True for the console's own routes (pages for people, not JSON)."""
    path = request.url.path
    return path == "/" or path.startswith("/connections/")


def error_page(
    request: Request, status: int, detail: str | None, headers: Mapping[str, str] | None
) -> HTMLResponse | None:
    """An error met on a console route as an HTML page (None elsewhere: problem+json).
    `problems.install` calls it for every error, so a 400, 401 or 503 reads as a page."""
    if not is_console(request):
        return None
    title = _ERROR_TITLES.get(status, "Something went wrong")
    if status == 503 and "migrate" in (detail or ""):
        title = "The database is not set up yet"
    response = _error(request, status, title, detail or "")
    response.headers.update(headers or {})
    return response


def _error(
    request: Request,
    status: int,
    title: str,
    detail: str,
    *,
    candidates: tuple[tuple[str, str, str], ...] = (),
) -> HTMLResponse:
    listed = [{"connection_id": c, "display_name": n, "status": st} for c, n, st in candidates]
    return _templates.TemplateResponse(
        request,
        "error.html",
        {"title": title, "detail": detail, "candidates": listed},
        status_code=status,
    )
