"""Pure synthesis of connection summaries from durable evidence and an explicit ``now``.

No I/O and no clock: the same evidence, ``now`` and runtime always give the same
summary (SPEC §5). The store reads the evidence and passes ``now``.
"""

from __future__ import annotations

from datetime import datetime

from pyreference.evidence import Attention, DeepEvidence, Evidence
from pyreference.synthesis._time import check_now
from pyreference.synthesis.attention import is_relevant, relevant_attention
from pyreference.synthesis.model import (
    AttentionView,
    ConnectionDiagnostics,
    ConnectionSummary,
    Coverage,
    EvidenceDetail,
    GapView,
    SurfaceEvent,
)
from pyreference.synthesis.prepared import (
    Prepared,
    prepare,
    prepare_with_streams,
    shown,
)
from pyreference.synthesis.runs import Runtime, run_time, show_run_detail
from pyreference.synthesis.summary import evidence_state

__all__ = [
    "ConnectionDiagnostics",
    "ConnectionSummary",
    "Coverage",
    "Prepared",
    "Runtime",
    "diagnose",
    "prepare",
    "prepare_with_streams",
    "summarize_at",
    "synthesize",
    "synthesize_prepared",
]


def synthesize(
    evidence: Evidence, now: datetime, runtime: Runtime | None = None
) -> ConnectionSummary:
    """The connection summary (R15–R21) of one connection at ``now`` (timezone-aware).

    Raises ``InvalidInput`` for a naive ``now``. Where this package runs compiled
    (``pyreference --version``), evidence whose fields are not of their declared types
    (a list for a tuple, ``1`` for ``True``) may raise ``TypeError``."""
    return synthesize_prepared(prepare(evidence), now, runtime)


def synthesize_prepared(
    prepared: Prepared, now: datetime, runtime: Runtime | None = None
) -> ConnectionSummary:
    """``synthesize`` from evidence already prepared: only the ``now``-relative work.

    Raises ``InvalidInput`` for a naive ``now``."""
    return summarize_at(prepared, check_now(now), runtime if runtime is not None else Runtime())


def summarize_at(prepared: Prepared, now: datetime, runtime: Runtime) -> ConnectionSummary:
    """``synthesize_prepared`` for a ``now`` already checked and in UTC (``check_now``), as
    a list page's rows share one: the read checks it once, not once per row."""
    evidence = prepared.evidence
    until = prepared.backoff_until
    eligible, gap_reason = prepared.eligible_gaps(now)
    return prepared.summary(
        prepared.freshness.status_at(now),  # freshness
        relevant_attention(evidence.open_attention, now),  # attention
        until is not None and until > now,  # backoff
        shown(evidence.latest_run, prepared.last_run, runtime),  # last_run
        shown(evidence.latest_successful_run, prepared.last_successful_run, runtime),
        eligible,
        gap_reason,
    )


def diagnose(
    evidence: Evidence, deep: DeepEvidence, now: datetime, runtime: Runtime | None = None
) -> ConnectionDiagnostics:
    """The scoped view: the same summary as the list row, plus history and coverage detail."""
    now = check_now(now)
    runtime = runtime if runtime is not None else Runtime()
    summary = synthesize(evidence, now, runtime)
    return ConnectionDiagnostics(
        summary=summary,
        coverage=summary.coverage,
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
        attention=tuple(_attention_view(a, is_relevant(a, now)) for a in deep.attention),
        evidence=EvidenceDetail(
            state=evidence_state(evidence),
            dirty=evidence.dirty,
            recomputed=evidence.recomputed,
            computed_at=evidence.computed_at,
            last_error=evidence.last_error,
        ),
    )


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
