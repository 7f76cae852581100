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
        evidence,
        Freshness(facts.freshness, basis.captured_at, basis.last_attempted_at),  # freshness
        prepared.verdict,  # verdict
        axis,  # coverage
        forward_disposition(axis, attention, stale, posture.owner_refreshed),  # disposition
        posture,
        facts.attention,  # attention
        facts.backoff,  # backoff
        latest is not None and latest.status == "running",  # run_in_progress
        readiness(reason, prepared.session_capable),  # readiness
    )
    health = synthesize_health(inputs)
    verdict = render_verdict(inputs, health.state)
    owner = owner_state(inputs, health.state, verdict, prepared.run, latest)
    counts = prepared.counts
    identity = evidence.identity
    schedule = evidence.schedule
    display_name, connector_display_name = display_names(evidence)
    # Positional, in field order (one per row; keywords cost a third more).
    return ConnectionSummary(
        identity.connection_id,  # connection_id
        identity.connector_id,  # connector_id
        display_name,  # display_name
        connector_display_name,  # connector_display_name
        evidence.profile.version,  # manifest_version
        identity.status,  # status
        identity.source_kind,  # source_kind
        identity.revoked_at,  # revoked_at
        counts.streams,  # streams
        counts.stream_records,  # stream_records
        counts.total_records,  # total_records
        counts.total_records_state,  # total_records_state
        counts.stream_count,  # stream_count
        evidence.retained_bytes if evidence.available else None,  # retained_bytes
        inputs.freshness,  # freshness
        health,  # connection_health
        verdict,  # rendered_verdict
        None if inputs.revoked else next_action(inputs, health.state),  # next_action
        owner,  # owner_state
        SOURCE_WORK[owner.resolver],  # source_work
        report,  # collection_report
        Coverage(axis, report),  # coverage
        latest,  # last_run
        facts.last_successful_run,  # last_successful_run
        (  # schedule
            ScheduleView(
                schedule.interval_seconds,
                schedule.enabled,
                schedule.consecutive_failures,
                schedule.next_run_at,
                facts.backoff,  # backoff_active
            )
            if schedule is not None
            else None
        ),
        EvidenceView(evidence_state(evidence), evidence.dirty, evidence.computed_at),
    )


def evidence_state(evidence: Evidence) -> str:
    return evidence.state if evidence.available else "unavailable"
