"""Response models for the OpenAPI document: the synthesis dataclasses themselves.

The API sends `to_dict()` output unchanged; these models only describe it. A test
checks every field `to_dict()` emits against them (and schemathesis checks live
responses), so the document cannot drift from the data.
"""

from __future__ import annotations

from pydantic import BaseModel

from ..synthesis.model import (
    AttentionView,
    BrowserSurfaceView,
    ConnectionSummary,
    Coverage,
    EvidenceDetail,
    GapView,
    SurfaceEvent,
)


class PageOut(BaseModel):
    """One keyset page, exactly `Page.to_dict()`."""

    items: list[ConnectionSummary]
    next_cursor: str | None
    has_more: bool


class RecentRun(BaseModel):
    """One recent run with its failure reason and browser surface."""

    run_id: str
    status: str
    started_at: str | None
    finished_at: str | None
    failure_reason: str | None
    terminal_reason: str | None
    browser_surface: BrowserSurfaceView | None


class DiagnosticsOut(BaseModel):
    """Deep diagnostics of one connection, exactly `ConnectionDiagnostics.to_dict()`."""

    summary: ConnectionSummary
    coverage: Coverage
    recent_runs: list[RecentRun]
    browser_surface_history: list[SurfaceEvent]
    pending_gaps: list[GapView]
    attention: list[AttentionView]
    evidence: EvidenceDetail


class HealthOut(BaseModel):
    """`/healthz`: 200 when the database answers and the schema is current, else 503."""

    status: str
    database: str
    schema_current: bool | None
    pending_migrations: list[str]
    dirty_connections: int | None
    dirty_marks: int | None
    oldest_dirty_age_seconds: float | None
    failed_rows: int | None
    last_reconciled_at: str | None
    detail: str | None = None
