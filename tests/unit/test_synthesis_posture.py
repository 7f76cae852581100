"""R59: refresh posture (manual-only, assisted, automatic, auto-scheduled); R52 paused."""

from __future__ import annotations

from dataclasses import replace

import pytest
from synthesis_builders import bare, profile, schedule

from pyreference.evidence import RefreshPolicy
from pyreference.synthesis.posture import refresh_posture


def posture(mode, safe, interaction=None, sched=None, status="active"):  # type: ignore[no-untyped-def]
    evidence = bare(profile=profile(mode=mode, background_safe=safe), schedule=sched)
    policy = replace(evidence.profile.refresh_policy, interaction_posture=interaction)
    evidence = replace(evidence, profile=replace(evidence.profile, refresh_policy=policy))
    return refresh_posture(replace(evidence, identity=replace(evidence.identity, status=status)))


@pytest.mark.parametrize(
    ("mode", "safe", "sched", "manual_only"),
    [
        ("automatic", True, None, False),
        ("automatic", False, None, True),  # never background-safe
        ("manual", True, None, True),
        ("manual", True, schedule(), False),  # the owner opted in
        ("manual", True, schedule(enabled=False), True),
        ("manual", None, schedule(), True),  # opt-in needs background_safe true
        ("paused", True, schedule(), True),  # opt-in applies to `manual` only (R59)
    ],
)
def test_manual_only(mode, safe, sched, manual_only) -> None:  # type: ignore[no-untyped-def]
    assert posture(mode, safe, sched=sched).manual_only is manual_only


@pytest.mark.parametrize("interaction", ["credentials", "manual_action_likely", "otp_likely"])
def test_assisted_needs_no_manual_policy(interaction: str) -> None:
    assisted = posture("automatic", True, interaction)
    assert (assisted.assisted, assisted.automatic, assisted.owner_refreshed) == (True, False, True)
    assert posture("manual", False, interaction).assisted is False
    assert posture("automatic", True, "none").automatic is True


def test_auto_scheduled_and_schedule_off() -> None:
    assert posture("automatic", True, sched=schedule()).auto_scheduled is True
    assert posture("manual", False, sched=schedule()).auto_scheduled is False  # manual-only
    assert posture("automatic", True).auto_scheduled is False  # no schedule
    off = posture("automatic", True, sched=schedule(enabled=False))
    assert (off.schedule_off, off.auto_scheduled) == (True, False)
    paused = posture("automatic", True, sched=schedule(), status="paused")
    assert (paused.paused, paused.schedule_off, paused.auto_scheduled) == (True, True, False)


def test_default_policy_is_automatic() -> None:
    evidence = bare(profile=replace(profile(), refresh_policy=RefreshPolicy()))
    assert refresh_posture(evidence).automatic is True
