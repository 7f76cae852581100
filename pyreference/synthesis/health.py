"""R17: connection health: the first matching state wins; every condition found is listed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pyreference.evidence import Attention, Evidence, Schedule
from pyreference.synthesis._time import is_after, parse_ts
from pyreference.synthesis.model import ConnectionHealth, Freshness, HealthCondition
from pyreference.synthesis.runs import classifying_run

BLOCKED_AFTER_FAILURES = 7
LIVE_LIFECYCLES = ("open", "acknowledged", "in_progress")


def active_attention(records: Iterable[Attention], now: datetime) -> tuple[Attention, ...]:
    """Attention that still asks something of the owner at ``now``, earliest created first."""
    live = [
        a
        for a in records
        if a.lifecycle in LIVE_LIFECYCLES and (a.expires_at is None or is_after(a.expires_at, now))
    ]
    # Records without a creation time sort last; the id keeps the order total.
    return tuple(
        sorted(live, key=lambda a: (a.created_at is None, a.created_at or "", a.attention_id))
    )


def backoff_until(schedule: Schedule | None) -> datetime | None:
    """When a failing schedule's backoff ends (it is active while ``now`` is before it)."""
    if schedule is None or schedule.consecutive_failures <= 0 or schedule.next_run_at is None:
        return None
    return parse_ts(schedule.next_run_at)


@dataclass(frozen=True, slots=True)
class HealthInputs:
    """What health and the verdict both read, computed once per synthesis."""

    evidence: Evidence
    freshness: Freshness
    coverage: str
    manual_only: bool
    attention: tuple[Attention, ...]
    backoff: bool
    run_in_progress: bool


def _failures(evidence: Evidence) -> int:
    return evidence.schedule.consecutive_failures if evidence.schedule is not None else 0


def _unreliable_reason(evidence: Evidence) -> str:
    if not evidence.available:
        return evidence.problem or "evidence_unavailable"
    if evidence.state == "failed":
        return "evidence_failed"
    return "evidence_not_current"  # dirty and this read could not recompute it


def _condition(type_: str, severity: str, reason_code: str) -> HealthCondition:
    return HealthCondition(type=type_, status="True", severity=severity, reason_code=reason_code)


# Conditions without a per-connection reason are shared: the dataclasses are frozen.
_SCHEDULE_DISABLED = _condition("ScheduleDisabled", "info", "schedule_disabled")
_BACKOFF_BLOCKED = _condition("BackoffActive", "error", "backoff_blocked")
_BACKOFF_ACTIVE = _condition("BackoffActive", "warning", "backoff_active")
_COLLECTION_FAILED = _condition("CollectionFailed", "error", "last_collection_failed")
_COVERAGE = {
    "partial": _condition("CoveragePartial", "warning", "coverage_partial"),
    "retryable_gap": _condition("CoverageGapped", "warning", "retryable_gap"),
    "terminal_gap": _condition("CoverageGapped", "error", "terminal_gap"),
}
_FRESHNESS_STALE = _condition("FreshnessStale", "warning", "freshness_stale")
_SURFACE_FAILED = _condition("BrowserSurfaceFailed", "warning", "browser_surface_failed")
_REFRESH_DUE = _condition("FreshnessStale", "info", "refresh_due")


def _conditions(inp: HealthInputs, degrading: list[HealthCondition]) -> list[HealthCondition]:
    ev = inp.evidence
    found: list[HealthCondition] = []
    if not ev.reliable:
        found.append(_condition("EvidenceUnreliable", "error", _unreliable_reason(ev)))
    found += [_condition("AttentionOpen", "warning", a.reason_code) for a in inp.attention]
    if ev.schedule is not None and not ev.schedule.enabled:
        found.append(_SCHEDULE_DISABLED)
    if inp.backoff and _failures(ev) >= BLOCKED_AFTER_FAILURES:
        found.append(_BACKOFF_BLOCKED)
    elif inp.backoff:
        found.append(_BACKOFF_ACTIVE)
    return found + degrading + _refresh_due(inp)


def _degrading(inp: HealthInputs) -> list[HealthCondition]:
    """Conditions that make an otherwise-working connection `degraded`."""
    ev = inp.evidence
    found: list[HealthCondition] = []
    run = classifying_run(ev)
    if run is not None and run.status == "failed":
        found.append(_COLLECTION_FAILED)
    if inp.coverage in _COVERAGE:
        found.append(_COVERAGE[inp.coverage])
    if inp.freshness.status == "stale" and not inp.manual_only:
        found.append(_FRESHNESS_STALE)
    if ev.latest_run is not None and ev.latest_run.status == "surface_failed":
        found.append(_SURFACE_FAILED)
    return found


def _refresh_due(inp: HealthInputs) -> list[HealthCondition]:
    # Stale data on a manual-only source is the owner's call, not a fault.
    if inp.freshness.status == "stale" and inp.manual_only:
        return [_REFRESH_DUE]
    return []


def _state(inp: HealthInputs, degrading: list[HealthCondition]) -> tuple[str, tuple[str, ...]]:
    ev = inp.evidence
    if not ev.reliable:
        return "unknown", (_unreliable_reason(ev),)
    if inp.attention:
        return "needs_attention", ()
    if ev.schedule is not None and not ev.schedule.enabled:
        return "idle", ()
    if inp.backoff and _failures(ev) >= BLOCKED_AFTER_FAILURES:
        return "blocked", ()
    if degrading:
        return "degraded", ()
    if inp.backoff:
        return "cooling_off", ()
    if ev.latest_run is None:
        return "idle", ()
    if inp.freshness.status == "stale" and inp.manual_only:
        return "idle", ()  # refresh due; collection and coverage are fine (not degraded)
    run = classifying_run(ev)
    succeeded = run is not None and run.status == "succeeded"
    if succeeded and inp.coverage == "complete" and inp.freshness.status == "current":
        return "healthy", ()
    reasons = []
    if inp.freshness.status == "unknown":
        reasons.append("freshness_unknown")
    if not succeeded:
        reasons.append("outcome_unknown")
    if inp.coverage == "unknown":
        reasons.append("coverage_unknown")
    return "unknown", tuple(reasons)


def synthesize_health(inp: HealthInputs) -> ConnectionHealth:
    degrading = _degrading(inp)
    state, reasons = _state(inp, degrading)
    return ConnectionHealth(
        state=state, conditions=tuple(_conditions(inp, degrading)), unknown_reasons=reasons
    )
