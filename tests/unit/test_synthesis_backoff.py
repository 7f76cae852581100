"""R56: backoff evidence, activity at `now`, and what supersedes it."""

from __future__ import annotations

from datetime import timedelta

from synthesis_builders import NOW, healthy, profile, run, schedule, with_latest

from pyreference.synthesis import synthesize
from pyreference.synthesis.backoff import backoff_until
from pyreference.synthesis.posture import refresh_posture


def active(evidence, now=NOW) -> bool:  # type: ignore[no-untyped-def]
    summary = synthesize(evidence, now)
    assert summary.schedule is not None
    return summary.schedule.backoff_active


FAILED = run("run_2", "failed", started=20, finished=10)


def test_needs_failures_and_a_next_run() -> None:
    assert active(with_latest(healthy(schedule=schedule(failures=1, next_run_in=60)), FAILED))
    assert not active(with_latest(healthy(schedule=schedule(failures=0, next_run_in=60)), FAILED))
    assert not active(with_latest(healthy(schedule=schedule(failures=3)), FAILED))


def test_active_strictly_before_next_run() -> None:
    evidence = with_latest(healthy(schedule=schedule(failures=1, next_run_in=60)), FAILED)
    assert active(evidence, NOW + timedelta(seconds=59))
    assert not active(evidence, NOW + timedelta(seconds=60))


def test_superseded_by_a_newest_success_only() -> None:
    assert not active(healthy(schedule=schedule(failures=5, next_run_in=60)))
    running = run("run_2", "running", started=20, finished=None)
    assert active(with_latest(healthy(schedule=schedule(failures=5, next_run_in=60)), running))


def test_manual_only_sources_ignore_backoff() -> None:
    evidence = with_latest(
        healthy(
            profile=profile(mode="manual", background_safe=False),
            schedule=schedule(failures=5, next_run_in=60),
        ),
        FAILED,
    )
    assert backoff_until(evidence, refresh_posture(evidence)) is None
    assert not active(evidence)
