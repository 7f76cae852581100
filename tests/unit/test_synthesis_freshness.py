"""R16: freshness status, captured/attempted times, and manual-only sources."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from synthesis_builders import DAY, NOW, ago, bare, healthy, profile, run, schedule, with_latest

from pyreference.evidence import Evidence, Schedule
from pyreference.synthesis import synthesize
from pyreference.synthesis.posture import refresh_posture


def freshness(evidence: Evidence, now: datetime = NOW) -> str:
    return synthesize(evidence, now).freshness.status


def aged(seconds: float) -> Evidence:
    """A healthy connection whose last success finished ``seconds`` before NOW."""
    ok = run(started=seconds + 60, finished=seconds)
    return healthy(latest_run=ok, latest_successful_run=ok, latest_settled_run=ok)


def test_age_exactly_the_window_is_current() -> None:
    assert freshness(aged(DAY)) == "current"


def test_one_second_past_the_window_is_stale() -> None:
    assert freshness(aged(DAY + 1)) == "stale"


def test_one_microsecond_past_the_window_is_stale() -> None:
    assert freshness(aged(DAY), NOW + timedelta(microseconds=1)) == "stale"


def test_crossing_the_threshold_needs_no_new_evidence() -> None:
    evidence = aged(3_600)
    assert freshness(evidence, NOW) == "current"
    assert freshness(evidence, NOW + timedelta(days=1)) == "stale"


def test_failure_at_the_same_instant_as_the_last_success_is_stale() -> None:
    ok = run("run_1", started=200, finished=100)
    failed = run("run_2", "failed", started=150, finished=100)
    evidence = healthy(latest_run=failed, latest_successful_run=ok, latest_settled_run=failed)
    assert freshness(evidence) == "stale"


def test_failure_after_last_success_is_stale_even_inside_the_window() -> None:
    failed = run("run_2", "failed", started=20, finished=10)
    assert freshness(with_latest(healthy(), failed)) == "stale"


def test_cancelled_after_last_success_is_stale() -> None:
    cancelled = run("run_2", "cancelled", started=20, finished=10)
    assert freshness(with_latest(healthy(), cancelled)) == "stale"


def test_failure_before_the_last_success_does_not_make_stale() -> None:
    failed = run("run_0", "failed", started=8_000, finished=7_900)
    evidence = replace(healthy(), latest_settled_run=failed)
    assert freshness(evidence) == "current"


def test_failure_with_no_success_ever_is_stale() -> None:
    failed = run("run_1", "failed", started=20, finished=10)
    assert freshness(with_latest(bare(), failed)) == "stale"


def test_owner_cancelled_run_yields_to_the_last_success() -> None:
    cancelled = run(
        "run_2", "cancelled", started=20, finished=10, terminal_reason="owner_cancelled"
    )
    assert freshness(with_latest(healthy(), cancelled)) == "current"


@pytest.mark.parametrize("status", ["surface_failed", "skipped"])
def test_surface_failed_and_skipped_never_make_stale(status: str) -> None:
    latest = run("run_2", status, started=20, finished=10)
    assert freshness(with_latest(healthy(), latest)) == "current"


def test_running_run_does_not_change_freshness() -> None:
    running = run("run_2", "running", started=20, finished=None)
    assert freshness(with_latest(healthy(), running)) == "current"


def test_manual_source_without_window_and_captured_is_current() -> None:
    evidence = replace(healthy(), profile=profile(mode="manual", window=None))
    assert freshness(evidence) == "current"


def test_automatic_source_without_window_is_unknown() -> None:
    evidence = replace(healthy(), profile=profile(window=None))
    assert freshness(evidence) == "unknown"


def test_manual_source_without_window_or_capture_is_unknown() -> None:
    assert freshness(bare(profile=profile(mode="manual", window=None))) == "unknown"


def test_failure_beats_the_manual_no_window_rule() -> None:
    failed = run("run_2", "failed", started=20, finished=10)
    evidence = with_latest(healthy(profile=profile(mode="manual", window=None)), failed)
    assert freshness(evidence) == "stale"


@pytest.mark.parametrize("window", [0, -5, float("inf"), float("nan")])
def test_a_window_that_is_not_positive_finite_counts_as_none(window: float) -> None:
    assert freshness(replace(healthy(), profile=profile(window=window))) == "unknown"


def test_never_run_with_window_and_no_records_is_unknown() -> None:
    assert freshness(bare()) == "unknown"


def test_nothing_captured_after_a_surface_failure_is_unknown() -> None:
    # R16: no captured data is `unknown` unless C failed or was cancelled.
    surface = run("run_1", "surface_failed", started=20, finished=10)
    assert freshness(with_latest(bare(), surface)) == "unknown"
    for status in ("failed", "cancelled"):
        assert freshness(with_latest(bare(), run("run_1", status))) == "stale"
    abandoned = run("run_1", "abandoned", started=20, finished=10)
    assert freshness(with_latest(bare(), abandoned)) == "unknown"


def test_captured_at_prefers_last_success_then_last_record() -> None:
    f = synthesize(healthy(), NOW).freshness
    assert f.captured_at == ago(3_600)
    imported = bare(last_record_at=ago(100))
    f = synthesize(imported, NOW).freshness
    assert (f.status, f.captured_at) == ("current", ago(100))


def test_last_attempted_at_is_finish_else_start() -> None:
    assert synthesize(bare(), NOW).freshness.last_attempted_at is None
    assert synthesize(healthy(), NOW).freshness.last_attempted_at == ago(3_600)
    # R16: C's time; a run still in progress is not C.
    running = run("run_2", "running", started=30, finished=None)
    f = synthesize(with_latest(healthy(), running), NOW).freshness
    assert f.last_attempted_at == ago(3_600)
    unfinished = run("run_2", "failed", started=30, finished=None)
    f = synthesize(with_latest(healthy(), unfinished), NOW).freshness
    assert f.last_attempted_at == ago(30)


def test_freshness_to_dict_shape() -> None:
    assert synthesize(healthy(), NOW).to_dict()["freshness"] == {
        "status": "current",
        "captured_at": ago(3_600),
        "last_attempted_at": ago(3_600),
    }


@pytest.mark.parametrize(
    ("mode", "background_safe", "sched", "manual"),
    [
        ("automatic", True, None, False),
        (None, None, None, False),
        ("automatic", False, None, True),
        ("manual", True, None, True),
        ("paused", True, None, True),
        ("manual", True, schedule(enabled=True), False),  # owner opted in
        ("manual", True, schedule(enabled=False), True),
        ("manual", False, schedule(enabled=True), True),  # never background-safe
        ("manual", None, schedule(enabled=True), True),
    ],
)
def test_manual_only_sources(
    mode: str | None, background_safe: bool | None, sched: Schedule | None, manual: bool
) -> None:
    evidence = bare(profile=profile(mode=mode, background_safe=background_safe), schedule=sched)
    assert refresh_posture(evidence).manual_only is manual


def test_first_run_in_progress_with_nothing_captured_is_not_yet_stale() -> None:
    first = run("run_1", "running", started=20, finished=None)
    evidence = replace(bare(), latest_run=first)
    assert freshness(evidence) == "unknown"
    assert synthesize(evidence, NOW).connection_health.state == "idle"  # R17.11: verdict none
