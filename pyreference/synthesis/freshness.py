"""R16: freshness: how old the captured data is, judged against the manifest's window."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from pyreference.evidence import Evidence, RunEvidence
from pyreference.synthesis._time import at_or_after, parse_ts
from pyreference.synthesis.profile import profile_facts, staleness_seconds
from pyreference.synthesis.runs import run_time


def staleness_window(evidence: Evidence) -> float | None:
    """The manifest's maximum staleness, only when it is a usable window (see
    `staleness_seconds`)."""
    return staleness_seconds(evidence.profile.refresh_policy.maximum_staleness_seconds)


class FreshnessBasis(NamedTuple):
    """Freshness decided as far as evidence alone can: only the age check needs ``now``
    (internal: an immutable named tuple, cheap to build).

    ``status`` is final when set; when None, the data is current while
    ``now - captured`` is at most ``window`` (inclusive to the microsecond).
    """

    status: str | None
    captured_at: str | None
    last_attempted_at: str | None
    captured: datetime | None = None
    window: timedelta | None = None

    def status_at(self, now: datetime) -> str:
        if self.status is not None:
            return self.status
        if self.captured is None or self.window is None:
            return "unknown"
        return "current" if now - self.captured <= self.window else "stale"


def freshness_basis(evidence: Evidence, run: RunEvidence | None) -> FreshnessBasis:
    """R16 given C (``run``): no captured data is ``unknown`` unless C failed after it."""
    success = evidence.latest_successful_run
    captured_at: str | None = (success.finished_at if success else None) or evidence.last_record_at
    attempted_at = run_time(run) if run is not None else None
    if run is not None and run.status in ("failed", "cancelled"):
        success_at = success.finished_at if success else None
        # A failure we cannot place in time is not proof the data is current.
        failed_at = run_time(run)
        if success_at is None or failed_at is None or at_or_after(failed_at, success_at):
            return FreshnessBasis("stale", captured_at, attempted_at)
    if captured_at is None:
        return FreshnessBasis("unknown", captured_at, attempted_at)
    # The usable window as a timedelta, derived once per profile: timedeltas, not floats,
    # are compared, so the boundary is inclusive to the microsecond.
    window = profile_facts(evidence.profile).window
    if window is not None:
        return FreshnessBasis(None, captured_at, attempted_at, parse_ts(captured_at), window)
    manual = evidence.profile.refresh_policy.recommended_mode == "manual"
    return FreshnessBasis("current" if manual else "unknown", captured_at, attempted_at)
