"""R17: connection health: the first matching state wins; every condition that holds is listed."""

from __future__ import annotations

from typing import NamedTuple

from pyreference.evidence import Attention, Evidence
from pyreference.synthesis.backoff import BLOCKED_AFTER_FAILURES, failures
from pyreference.synthesis.model import ConnectionHealth, Freshness, HealthCondition
from pyreference.synthesis.posture import Posture
from pyreference.synthesis.readiness import Readiness


class HealthInputs(NamedTuple):
    """What health, the verdict and the owner state all read, decided once per summary
    (an immutable named tuple: built for every summary, so it is cheaper than a frozen
    dataclass).

    ``verdict`` is C's (R17 terms); ``coverage`` the rolled-up axis (R18);
    ``disposition`` the connection's forward disposition (R61); ``attention`` the
    relevant records, most urgent first (R54).
    """

    evidence: Evidence
    freshness: Freshness
    verdict: str
    coverage: str
    disposition: str
    posture: Posture
    attention: tuple[Attention, ...]
    backoff: bool
    run_in_progress: bool
    readiness: Readiness

    @property
    def revoked(self) -> bool:
        return self.evidence.identity.status == "revoked"

    @property
    def stale_owner_refresh(self) -> bool:
        """Stale data on a manual-only or assisted source: the owner's call (R59)."""
        return self.freshness.status == "stale" and self.posture.owner_refreshed


def _unreliable_reason(evidence: Evidence) -> str:
    if not evidence.available:
        return evidence.problem or "evidence_unavailable"
    if evidence.state == "failed":
        return "evidence_failed"
    return "evidence_not_current"  # dirty and this read could not recompute it


def _condition(type_: str, severity: str, reason_code: str) -> HealthCondition:
    return HealthCondition(type=type_, status="True", severity=severity, reason_code=reason_code)


# Conditions without a per-connection reason are shared: the dataclasses are frozen.
_REVOKED = _condition("ConnectionRevoked", "info", "connection_revoked")
_PAUSED = _condition("ConnectionPaused", "info", "connection_paused")
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
_STALE_MANUAL = _condition("FreshnessStale", "info", "stale_manual_refresh")
_STALE_ASSISTED = _condition("FreshnessStale", "info", "stale_assisted_refresh")


def _degrading(inp: HealthInputs) -> list[HealthCondition]:
    """R17.7: conditions that make an otherwise-working connection ``degraded``."""
    found: list[HealthCondition] = []
    if inp.verdict == "failed":
        found.append(_COLLECTION_FAILED)
    if inp.coverage in _COVERAGE:
        found.append(_COVERAGE[inp.coverage])
    if inp.freshness.status == "stale" and inp.posture.automatic:
        found.append(_FRESHNESS_STALE)
    latest = inp.evidence.latest_run
    if latest is not None and latest.status == "surface_failed":
        found.append(_SURFACE_FAILED)
    return found


def _blocked_by_backoff(inp: HealthInputs) -> bool:
    return inp.backoff and failures(inp.evidence) >= BLOCKED_AFTER_FAILURES


def _conditions(inp: HealthInputs, degrading: list[HealthCondition]) -> list[HealthCondition]:
    ev = inp.evidence
    found: list[HealthCondition] = []
    if not ev.reliable:
        found.append(_condition("EvidenceUnreliable", "error", _unreliable_reason(ev)))
    if inp.revoked:
        return [*found, _REVOKED]  # R52: its only condition
    found += [_condition("AttentionOpen", "warning", a.reason_code) for a in inp.attention]
    if inp.posture.paused:
        found.append(_PAUSED)
    elif inp.posture.schedule_off:
        found.append(_SCHEDULE_DISABLED)
    found += inp.readiness.conditions()
    if inp.backoff:
        found.append(_BACKOFF_BLOCKED if _blocked_by_backoff(inp) else _BACKOFF_ACTIVE)
    found += degrading
    if inp.stale_owner_refresh:
        found.append(_STALE_MANUAL if inp.posture.manual_only else _STALE_ASSISTED)
    return found


def _state(inp: HealthInputs, degrading: list[HealthCondition]) -> tuple[str, tuple[str, ...]]:
    ev = inp.evidence
    if not ev.reliable:
        return "unknown", (_unreliable_reason(ev),)
    if inp.revoked:
        return "idle", ()
    if inp.attention:
        return "needs_attention", ()
    if inp.posture.schedule_off:
        return "idle", ()
    if inp.verdict != "succeeded" and inp.readiness.fails:
        return "blocked", ()
    if _blocked_by_backoff(inp):
        return "blocked", ()
    if degrading:
        return "degraded", ()
    succeeded = inp.verdict == "succeeded"
    complete = inp.coverage == "complete"
    current = inp.freshness.status == "current"
    if inp.backoff and succeeded and complete and current:
        return "cooling_off", ()
    if inp.verdict == "none" and current:
        return "unknown", ("collection",)
    if inp.stale_owner_refresh and succeeded and complete:
        return "idle", ()
    if inp.verdict == "none":
        return "idle", ()
    if succeeded and complete and current:
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
    """R17: the state, the conditions that hold, and the forward disposition (R61)."""
    degrading = _degrading(inp)
    state, reasons = _state(inp, degrading)
    return ConnectionHealth(
        state=state,
        conditions=tuple(_conditions(inp, degrading)),
        unknown_reasons=reasons,
        forward_disposition=inp.disposition,
    )
