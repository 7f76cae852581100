"""Pure synthesis of connection summaries from durable evidence and an explicit ``now``.

No I/O and no clock: the same evidence, ``now`` and runtime always give the same
summary (SPEC §5). The store reads the evidence and passes ``now``.
"""

from __future__ import annotations

from datetime import datetime

from pyreference.evidence import Attention, DeepEvidence, Evidence
from pyreference.synthesis._time import check_now
from pyreference.synthesis.coverage import synthesize_coverage
from pyreference.synthesis.health import (
    HealthInputs,
    active_attention,
    backoff_active,
    synthesize_health,
)
from pyreference.synthesis.model import (
    AttentionView,
    ConnectionDiagnostics,
    ConnectionSummary,
    EvidenceDetail,
    EvidenceView,
    GapView,
    ScheduleView,
    SurfaceEvent,
)
from pyreference.synthesis.prepared import Prepared, prepare, shown
from pyreference.synthesis.runs import Runtime, run_time, show_run_detail
from pyreference.synthesis.verdict import next_action, render_verdict

__all__ = [
    "ConnectionDiagnostics",
    "ConnectionSummary",
    "Prepared",
    "Runtime",
    "diagnose",
    "prepare",
    "synthesize",
    "synthesize_prepared",
]


def synthesize(
    evidence: Evidence, now: datetime, runtime: Runtime | None = None
) -> ConnectionSummary:
    """The connection summary (R15–R21) of one connection at ``now`` (timezone-aware)."""
    return synthesize_prepared(prepare(evidence), now, runtime)


def synthesize_prepared(
    prepared: Prepared, now: datetime, runtime: Runtime | None = None
) -> ConnectionSummary:
    """``synthesize`` from evidence already prepared: only the ``now``-relative work."""
    now = check_now(now)
    runtime = runtime if runtime is not None else Runtime()
    evidence = prepared.evidence
    latest = shown(evidence.latest_run, prepared.last_run, runtime)
    inputs = HealthInputs(
        evidence=evidence,
        freshness=prepared.freshness.at(now),
        coverage=prepared.coverage,
        manual_only=prepared.manual_only,
        attention=active_attention(evidence.open_attention, now),
        backoff=backoff_active(evidence.schedule, now),
        run_in_progress=latest is not None and latest.status == "running",
    )
    health = synthesize_health(inputs)
    counts = prepared.counts
    identity = evidence.identity
    schedule = evidence.schedule
    return ConnectionSummary(
        connection_id=identity.connection_id,
        connector_id=identity.connector_id,
        display_name=identity.display_name,
        status=identity.status,
        source_kind=identity.source_kind,
        revoked_at=identity.revoked_at,
        streams=counts.streams,
        stream_records=counts.stream_records,
        total_records=counts.total_records,
        total_records_state=counts.total_records_state,
        retained_bytes=evidence.retained_bytes if evidence.available else None,
        freshness=inputs.freshness,
        connection_health=health,
        rendered_verdict=render_verdict(inputs, health.state),
        next_action=next_action(inputs, health.state),
        last_run=latest,
        last_successful_run=shown(
            evidence.latest_successful_run, prepared.last_successful_run, runtime
        ),
        schedule=(
            ScheduleView(
                interval_seconds=schedule.interval_seconds,
                enabled=schedule.enabled,
                consecutive_failures=schedule.consecutive_failures,
                next_run_at=schedule.next_run_at,
                backoff_active=inputs.backoff,
            )
            if schedule is not None
            else None
        ),
        evidence=EvidenceView(
            state=_evidence_state(evidence), dirty=evidence.dirty, computed_at=evidence.computed_at
        ),
    )


def diagnose(
    evidence: Evidence, deep: DeepEvidence, now: datetime, runtime: Runtime | None = None
) -> ConnectionDiagnostics:
    """The scoped view: the same summary as the list row, plus history and coverage detail."""
    now = check_now(now)
    runtime = runtime if runtime is not None else Runtime()
    live = {a.attention_id for a in active_attention(deep.attention, now)}
    return ConnectionDiagnostics(
        summary=synthesize(evidence, now, runtime),
        coverage=synthesize_coverage(evidence),
        recent_runs=tuple(show_run_detail(run, runtime) for run in deep.recent_runs),
        browser_surface_history=tuple(
            SurfaceEvent(
                run_id=run.run_id,
                profile_key=run.browser_surface.profile_key,
                status=run.browser_surface.status,
                wait_reason=run.browser_surface.wait_reason,
                at=run_time(run),
            )
            for run in deep.recent_runs
            if run.browser_surface is not None
        ),
        pending_gaps=tuple(
            GapView(g.gap_id, g.stream, g.status, g.reason, g.next_attempt_after, g.updated_at)
            for g in deep.pending_gaps
        ),
        attention=tuple(_attention_view(a, a.attention_id in live) for a in deep.attention),
        evidence=EvidenceDetail(
            state=_evidence_state(evidence),
            dirty=evidence.dirty,
            recomputed=evidence.recomputed,
            computed_at=evidence.computed_at,
            last_error=evidence.last_error,
        ),
    )


def _evidence_state(evidence: Evidence) -> str:
    return evidence.state if evidence.available else "unavailable"


def _attention_view(attention: Attention, active: bool) -> AttentionView:
    return AttentionView(
        attention_id=attention.attention_id,
        reason_code=attention.reason_code,
        owner_action=attention.owner_action,
        lifecycle=attention.lifecycle,
        response_required=attention.response_required,
        expires_at=attention.expires_at,
        created_at=attention.created_at,
        active=active,
    )
