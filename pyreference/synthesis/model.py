"""Output dataclasses of synthesis (R21): frozen, typed, with JSON-ready ``to_dict()``.

Fields are nested frozen dataclasses and tuples so results are hashable and
comparable; ``to_dict()`` converts them to plain dicts and lists, never JSON text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyreference.frozen import fast_init


@fast_init
@dataclass(frozen=True, slots=True)
class RunView:
    """A run as shown (R15): status after liveness, failure reason after surface fallback."""

    run_id: str
    status: str
    started_at: str | None
    finished_at: str | None
    failure_reason: str | None
    terminal_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "failure_reason": self.failure_reason,
            "terminal_reason": self.terminal_reason,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class BrowserSurfaceView:
    profile_key: str | None
    status: str | None
    wait_reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile_key": self.profile_key,
            "status": self.status,
            "wait_reason": self.wait_reason,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class RunDetail:
    """A run in diagnostics: the shown run (with why it ended) plus its browser surface."""

    run: RunView
    browser_surface: BrowserSurfaceView | None

    def to_dict(self) -> dict[str, Any]:
        surface = self.browser_surface
        return {
            **self.run.to_dict(),
            "browser_surface": surface.to_dict() if surface is not None else None,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class StreamRecords:
    stream: str
    record_count: int | None
    count_state: str  # known|known_zero|unobserved|stale
    declaration_state: str  # declared|dormant|unavailable

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "record_count": self.record_count,
            "count_state": self.count_state,
            "declaration_state": self.declaration_state,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class Freshness:
    status: str  # current|stale|unknown
    captured_at: str | None
    last_attempted_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "captured_at": self.captured_at,
            "last_attempted_at": self.last_attempted_at,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class HealthCondition:
    type: str
    status: str  # "True": a condition is listed only when it holds
    severity: str  # info|warning|error
    reason_code: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "status": self.status,
            "severity": self.severity,
            "reason_code": self.reason_code,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class ConnectionHealth:
    state: str  # unknown|needs_attention|idle|blocked|cooling_off|degraded|healthy
    conditions: tuple[HealthCondition, ...]
    unknown_reasons: tuple[str, ...]
    forward_disposition: str  # R61: complete|resumable|awaiting_owner|terminal|unmeasured|...

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "conditions": [c.to_dict() for c in self.conditions],
            "unknown_reasons": list(self.unknown_reasons),
            "forward_disposition": self.forward_disposition,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class RenderedVerdict:
    tone: str  # green|grey|amber|red
    label: str
    channel: str  # calm|advisory|attention
    required_actions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "tone": self.tone,
            "label": self.label,
            "channel": self.channel,
            "required_actions": list(self.required_actions),
        }


@fast_init
@dataclass(frozen=True, slots=True)
class NextAction:
    """R19: the most urgent relevant attention record (R54 order); ``none`` shows as null."""

    action: str
    reason_code: str
    attention_id: str
    owner_action: str | None
    response_required: bool
    expires_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "reason_code": self.reason_code,
            "attention_id": self.attention_id,
            "owner_action": self.owner_action,
            "response_required": self.response_required,
            "expires_at": self.expires_at,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class OwnerState:
    """R52: who the connection's state belongs to, and on what evidence."""

    resolver: str
    owner_of_state: str  # owner|maintainer|system
    posture: str  # observed|frozen-since-last-run
    evidence_as_of: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "resolver": self.resolver,
            "owner_of_state": self.owner_of_state,
            "posture": self.posture,
            "evidence_as_of": self.evidence_as_of,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class SkipView:
    """Why a run skipped a stream (R51), as reported."""

    reason: str | None
    recovery_action: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "recovery_action": self.recovery_action}


@fast_init
@dataclass(frozen=True, slots=True)
class ReportEntry:
    """R61: one stream of the collection report; an unknown count is ``"unknown"``."""

    stream: str
    required: bool
    checkpoint: str
    collected: int
    considered: int | str
    covered: int | str
    skipped: SkipView | None
    pending_detail_gaps: int
    coverage_condition: str
    coverage_strategy: str | None
    freshness_strategy: str | None
    evidence_as_of: str | None
    forward_disposition: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "required": self.required,
            "checkpoint": self.checkpoint,
            "collected": self.collected,
            "considered": self.considered,
            "covered": self.covered,
            "skipped": self.skipped.to_dict() if self.skipped is not None else None,
            "pending_detail_gaps": self.pending_detail_gaps,
            "coverage_condition": self.coverage_condition,
            "coverage_strategy": self.coverage_strategy,
            "freshness_strategy": self.freshness_strategy,
            "evidence_as_of": self.evidence_as_of,
            "forward_disposition": self.forward_disposition,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class Coverage:
    """R21: the connection's coverage axis (R18) and the per-stream report (R60/R61)."""

    axis: str  # complete|partial|retryable_gap|terminal_gap|unknown
    streams: tuple[ReportEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"axis": self.axis, "streams": [s.to_dict() for s in self.streams]}


@fast_init
@dataclass(frozen=True, slots=True)
class ScheduleView:
    interval_seconds: int | None
    enabled: bool
    consecutive_failures: int
    next_run_at: str | None
    backoff_active: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "interval_seconds": self.interval_seconds,
            "enabled": self.enabled,
            "consecutive_failures": self.consecutive_failures,
            "next_run_at": self.next_run_at,
            "backoff_active": self.backoff_active,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class EvidenceView:
    state: str  # ok|pending|failed|unavailable
    dirty: bool
    computed_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "dirty": self.dirty, "computed_at": self.computed_at}


@fast_init
@dataclass(frozen=True, slots=True)
class ConnectionSummary:
    connection_id: str
    connector_id: str
    display_name: str  # R53: never null
    connector_display_name: str
    manifest_version: str | None
    status: str
    source_kind: str
    revoked_at: str | None
    streams: tuple[str, ...]
    stream_records: tuple[StreamRecords, ...]
    total_records: int | None
    total_records_state: str
    stream_count: int
    retained_bytes: int | None
    freshness: Freshness
    connection_health: ConnectionHealth
    rendered_verdict: RenderedVerdict
    next_action: NextAction | None
    owner_state: OwnerState
    source_work: str
    collection_report: tuple[ReportEntry, ...]  # R61: one entry per stream
    coverage: Coverage  # R18's axis, with the same entries as `collection_report`
    last_run: RunView | None
    last_successful_run: RunView | None
    schedule: ScheduleView | None
    evidence: EvidenceView

    def to_dict(self) -> dict[str, Any]:
        report = [s.to_dict() for s in self.collection_report]
        return {
            "connection_id": self.connection_id,
            "connector_id": self.connector_id,
            "display_name": self.display_name,
            "connector_display_name": self.connector_display_name,
            "manifest_version": self.manifest_version,
            "status": self.status,
            "source_kind": self.source_kind,
            "revoked_at": self.revoked_at,
            "streams": list(self.streams),
            "stream_records": [s.to_dict() for s in self.stream_records],
            "total_records": self.total_records,
            "total_records_state": self.total_records_state,
            "stream_count": self.stream_count,
            "retained_bytes": self.retained_bytes,
            "freshness": self.freshness.to_dict(),
            "connection_health": self.connection_health.to_dict(),
            "rendered_verdict": self.rendered_verdict.to_dict(),
            "next_action": _opt(self.next_action),
            "owner_state": self.owner_state.to_dict(),
            "source_work": self.source_work,
            "collection_report": report,
            "coverage": self.coverage.to_dict(),
            "last_run": _opt(self.last_run),
            "last_successful_run": _opt(self.last_successful_run),
            "schedule": _opt(self.schedule),
            "evidence": self.evidence.to_dict(),
        }


@fast_init
@dataclass(frozen=True, slots=True)
class SurfaceEvent:
    run_id: str
    profile_key: str | None
    status: str | None
    wait_reason: str | None
    at: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "profile_key": self.profile_key,
            "status": self.status,
            "wait_reason": self.wait_reason,
            "at": self.at,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class GapView:
    gap_id: str
    stream: str
    status: str
    reason: str | None
    next_attempt_after: str | None
    updated_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "gap_id": self.gap_id,
            "stream": self.stream,
            "status": self.status,
            "reason": self.reason,
            "next_attempt_after": self.next_attempt_after,
            "updated_at": self.updated_at,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class AttentionView:
    attention_id: str
    reason_code: str
    owner_action: str | None
    lifecycle: str
    response_required: bool
    expires_at: str | None
    created_at: str | None
    active: bool  # counts for health: live lifecycle and not expired at `now`

    def to_dict(self) -> dict[str, Any]:
        return {
            "attention_id": self.attention_id,
            "reason_code": self.reason_code,
            "owner_action": self.owner_action,
            "lifecycle": self.lifecycle,
            "response_required": self.response_required,
            "expires_at": self.expires_at,
            "created_at": self.created_at,
            "active": self.active,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class EvidenceDetail:
    state: str
    dirty: bool
    recomputed: bool
    computed_at: str | None
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "dirty": self.dirty,
            "recomputed": self.recomputed,
            "computed_at": self.computed_at,
            "last_error": self.last_error,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class ConnectionDiagnostics:
    summary: ConnectionSummary
    coverage: Coverage
    recent_runs: tuple[RunDetail, ...]
    browser_surface_history: tuple[SurfaceEvent, ...]
    pending_gaps: tuple[GapView, ...]
    attention: tuple[AttentionView, ...]
    evidence: EvidenceDetail

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary.to_dict(),
            "coverage": self.coverage.to_dict(),
            "recent_runs": [r.to_dict() for r in self.recent_runs],
            "browser_surface_history": [s.to_dict() for s in self.browser_surface_history],
            "pending_gaps": [g.to_dict() for g in self.pending_gaps],
            "attention": [a.to_dict() for a in self.attention],
            "evidence": self.evidence.to_dict(),
        }


def _opt(value: NextAction | RunView | ScheduleView | None) -> dict[str, Any] | None:
    return value.to_dict() if value is not None else None
