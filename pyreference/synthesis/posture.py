"""R59: refresh posture, whether a source refreshes by itself or waits for its owner.

Also the schedule facts health and actions share: a paused connection counts as a
disabled schedule (R52).
"""

from __future__ import annotations

from typing import NamedTuple

from pyreference.evidence import Evidence

ASSISTED_POSTURES = ("credentials", "manual_action_likely", "otp_likely")


class Posture(NamedTuple):
    """How a source refreshes (R59), decided from evidence alone (an immutable named tuple:
    internal to synthesis, built once per row, so it is cheaper than a frozen dataclass).

    ``manual_only``: a manual policy the owner has not opted into a schedule.
    ``assisted``: no manual policy, but refreshing likely needs the owner (OTP, …).
    ``automatic``: neither. ``auto_scheduled``: an enabled schedule on a source that
    is not manual-only. ``schedule_off``: the schedule is disabled or the connection
    is paused.
    """

    manual_only: bool
    assisted: bool
    auto_scheduled: bool
    schedule_off: bool
    paused: bool

    @property
    def automatic(self) -> bool:
        return not self.manual_only and not self.assisted

    @property
    def owner_refreshed(self) -> bool:
        """Stale data is the owner's call, not a fault (manual-only or assisted)."""
        return self.manual_only or self.assisted


def refresh_posture(evidence: Evidence) -> Posture:
    """R59 from the manifest's refresh policy, the schedule and the connection status."""
    policy = evidence.profile.refresh_policy
    schedule = evidence.schedule
    enabled = schedule is not None and schedule.enabled
    manual_policy = policy.background_safe is False or policy.recommended_mode in (
        "manual",
        "paused",
    )
    opted_in = enabled and policy.recommended_mode == "manual" and policy.background_safe is True
    manual_only = manual_policy and not opted_in
    paused = evidence.identity.status == "paused"
    return Posture(
        manual_only,
        not manual_policy and policy.interaction_posture in ASSISTED_POSTURES,  # assisted
        enabled and not paused and not manual_only,  # auto_scheduled
        paused or (schedule is not None and not schedule.enabled),  # schedule_off
        paused,
    )
