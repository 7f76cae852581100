"""R56: scheduler backoff, active only while it still describes the source."""

from __future__ import annotations

from datetime import datetime

from pyreference.evidence import Evidence
from pyreference.synthesis._time import parse_ts
from pyreference.synthesis.posture import Posture

BLOCKED_AFTER_FAILURES = 7


def backoff_until(evidence: Evidence, posture: Posture) -> datetime | None:
    """When the backoff ends (active while ``now`` is before it), or None if it never applies.

    Evidence is ``consecutive_failures > 0`` with ``next_run_at`` set. A manual-only
    source ignores backoff, and a newest run that succeeded supersedes it (upstream
    anchors this on scheduler times pyreference lacks; see R56).
    """
    schedule = evidence.schedule
    if schedule is None or schedule.consecutive_failures <= 0 or schedule.next_run_at is None:
        return None
    if posture.manual_only:
        return None
    latest = evidence.latest_run
    if latest is not None and latest.status == "succeeded":
        return None
    return parse_ts(schedule.next_run_at)


def failures(evidence: Evidence) -> int:
    return evidence.schedule.consecutive_failures if evidence.schedule is not None else 0
