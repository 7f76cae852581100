"""R15–R21: the connection summary, from prepared evidence and a read's facts.

``summarize`` takes no ``now``: every time-relative input arrives decided in
``ReadFacts``. That is what lets a prepared row reuse a summary it built before
(see ``prepared``): the same evidence and facts always give the same summary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyreference.evidence import Evidence
from pyreference.synthesis.health import HealthInputs, synthesize_health
from pyreference.synthesis.model import ConnectionSummary, EvidenceView, Freshness, ScheduleView
from pyreference.synthesis.verdict import next_action, render_verdict

if TYPE_CHECKING:
    from pyreference.synthesis.prepared import Prepared, ReadFacts


def summarize(prepared: Prepared, facts: ReadFacts) -> ConnectionSummary:
    evidence = prepared.evidence
    basis = prepared.freshness
    latest = facts.last_run
    inputs = HealthInputs(
        evidence=evidence,
        freshness=Freshness(facts.freshness, basis.captured_at, basis.last_attempted_at),
        coverage=prepared.coverage,
        manual_only=prepared.manual_only,
        attention=facts.attention,
        backoff=facts.backoff,
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
        last_successful_run=facts.last_successful_run,
        schedule=(
            ScheduleView(
                interval_seconds=schedule.interval_seconds,
                enabled=schedule.enabled,
                consecutive_failures=schedule.consecutive_failures,
                next_run_at=schedule.next_run_at,
                backoff_active=facts.backoff,
            )
            if schedule is not None
            else None
        ),
        evidence=EvidenceView(
            state=evidence_state(evidence), dirty=evidence.dirty, computed_at=evidence.computed_at
        ),
    )


def evidence_state(evidence: Evidence) -> str:
    return evidence.state if evidence.available else "unavailable"
