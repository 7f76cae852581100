"""R15–R21: the connection summary, from prepared evidence and a read's facts.

``summarize`` takes no ``now``: every time-relative input arrives decided in
``ReadFacts``. That is what lets a prepared row reuse a summary it built before
(see ``prepared``): the same evidence and facts always give the same summary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyreference.evidence import Evidence
from pyreference.synthesis.collection_report import collection_report, forward_disposition
from pyreference.synthesis.coverage import base_axis, roll_up
from pyreference.synthesis.health import HealthInputs, synthesize_health
from pyreference.synthesis.known_gaps import known_gap_axis
from pyreference.synthesis.model import (
    ConnectionSummary,
    Coverage,
    EvidenceView,
    Freshness,
    ScheduleView,
)
from pyreference.synthesis.owner_state import SOURCE_WORK, owner_state
from pyreference.synthesis.readiness import readiness
from pyreference.synthesis.verdict import next_action, render_verdict

if TYPE_CHECKING:
    from pyreference.synthesis.prepared import Prepared, ReadFacts


def display_names(evidence: Evidence) -> tuple[str, str]:
    """R53: (display_name, connector_display_name), neither ever empty."""
    connector = evidence.profile.display_name or evidence.identity.connector_id
    return evidence.identity.display_name or connector, connector


def summarize(prepared: Prepared, facts: ReadFacts) -> ConnectionSummary:
    evidence = prepared.evidence
    basis = prepared.freshness
    posture = prepared.posture
    latest = facts.last_run
    eligible = dict(facts.eligible)
    attention = bool(facts.attention)
    stale = facts.freshness == "stale"
    report = collection_report(prepared.report, eligible, attention, stale, posture.owner_refreshed)
    axis = roll_up(
        base_axis(
            evidence,
            prepared.run,
            eligible,
            known_gap_axis(prepared.known_gaps, prepared.required, eligible),
            prepared.required,
        ),
        report,
    )
    reason = prepared.run_reason or facts.gap_reason
    if reason is None and facts.attention:
        reason = facts.attention[0].reason_code
    inputs = HealthInputs(
        evidence=evidence,
        freshness=Freshness(facts.freshness, basis.captured_at, basis.last_attempted_at),
        verdict=prepared.verdict,
        coverage=axis,
        disposition=forward_disposition(axis, attention, stale, posture.owner_refreshed),
        posture=posture,
        attention=facts.attention,
        backoff=facts.backoff,
        run_in_progress=latest is not None and latest.status == "running",
        readiness=readiness(reason, prepared.session_capable),
    )
    health = synthesize_health(inputs)
    verdict = render_verdict(inputs, health.state)
    owner = owner_state(inputs, health.state, verdict, prepared.run, latest)
    counts = prepared.counts
    identity = evidence.identity
    schedule = evidence.schedule
    display_name, connector_display_name = display_names(evidence)
    return ConnectionSummary(
        connection_id=identity.connection_id,
        connector_id=identity.connector_id,
        display_name=display_name,
        connector_display_name=connector_display_name,
        manifest_version=evidence.profile.version,
        status=identity.status,
        source_kind=identity.source_kind,
        revoked_at=identity.revoked_at,
        streams=counts.streams,
        stream_records=counts.stream_records,
        total_records=counts.total_records,
        total_records_state=counts.total_records_state,
        stream_count=counts.stream_count,
        retained_bytes=evidence.retained_bytes if evidence.available else None,
        freshness=inputs.freshness,
        connection_health=health,
        rendered_verdict=verdict,
        next_action=None if inputs.revoked else next_action(inputs, health.state),
        owner_state=owner,
        source_work=SOURCE_WORK[owner.resolver],
        collection_report=report,
        coverage=Coverage(axis=axis, streams=report),
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
