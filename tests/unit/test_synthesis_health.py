"""R17: every health state is reachable, first match wins, conditions are listed."""

from __future__ import annotations

from dataclasses import replace

import pytest
from synthesis_builders import (
    NOW,
    attention,
    bare,
    gap_counts,
    healthy,
    profile,
    run,
    schedule,
    with_latest,
)

from pyreference.evidence import BrowserSurface, Evidence, StreamFacts
from pyreference.synthesis import synthesize
from pyreference.synthesis.model import ConnectionHealth


def health(evidence: Evidence) -> ConnectionHealth:
    return synthesize(evidence, NOW).connection_health


def state(evidence: Evidence) -> str:
    return health(evidence).state


def condition_types(evidence: Evidence) -> list[tuple[str, str]]:
    return [(c.type, c.reason_code) for c in health(evidence).conditions]


def stale_automatic() -> Evidence:
    ok = run(started=3 * 86_400, finished=2 * 86_400)
    return healthy(latest_run=ok, latest_successful_run=ok, latest_settled_run=ok)


def stale_manual() -> Evidence:
    return replace(stale_automatic(), profile=profile(mode="manual", background_safe=False))


def test_healthy() -> None:
    h = health(healthy())
    assert (h.state, h.conditions, h.unknown_reasons) == ("healthy", (), ())


def test_unknown_when_no_evidence_could_be_read() -> None:
    h = health(replace(healthy(), available=False))
    assert (h.state, h.unknown_reasons) == ("unknown", ("evidence_unavailable",))
    assert ("EvidenceUnreliable", "evidence_unavailable") in condition_types(
        replace(healthy(), available=False)
    )


def test_unknown_when_evidence_failed_and_was_not_recomputed() -> None:
    evidence = healthy(state="failed", last_error="reconcile failed", open_attention=(attention(),))
    h = health(evidence)
    assert (h.state, h.unknown_reasons) == ("unknown", ("evidence_failed",))


def test_failed_evidence_recomputed_by_the_read_is_reliable() -> None:
    assert state(healthy(state="failed", dirty=True, recomputed=True)) == "healthy"


def test_clean_pending_evidence_is_reliable() -> None:
    assert state(healthy(state="pending")) == "healthy"


def test_dirty_evidence_the_read_did_not_recompute_is_unknown() -> None:
    h = health(healthy(dirty=True))
    assert (h.state, h.unknown_reasons) == ("unknown", ("evidence_not_current",))
    assert state(healthy(dirty=True, recomputed=True)) == "healthy"


def test_needs_attention_beats_everything_but_unreliable_evidence() -> None:
    evidence = stale_automatic()
    evidence = replace(
        evidence,
        open_attention=(attention(),),
        schedule=schedule(enabled=False),
    )
    assert state(evidence) == "needs_attention"


@pytest.mark.parametrize("lifecycle", ["open", "acknowledged", "in_progress"])
def test_live_lifecycles_count(lifecycle: str) -> None:
    assert state(healthy(open_attention=(attention(lifecycle=lifecycle),))) == "needs_attention"


@pytest.mark.parametrize("lifecycle", ["resolved", "expired"])
def test_closed_lifecycles_do_not_count(lifecycle: str) -> None:
    assert state(healthy(open_attention=(attention(lifecycle=lifecycle),))) == "healthy"


def test_attention_expiring_exactly_now_no_longer_counts() -> None:
    assert state(healthy(open_attention=(attention(expires=0),))) == "healthy"
    assert state(healthy(open_attention=(attention(expires=-1),))) == "needs_attention"
    assert state(healthy(open_attention=(attention(expires=60),))) == "healthy"


def test_disabled_schedule_is_idle() -> None:
    evidence = replace(stale_automatic(), schedule=schedule(enabled=False))
    assert state(evidence) == "idle"
    assert ("ScheduleDisabled", "schedule_disabled") in condition_types(evidence)


def test_enabled_schedule_is_not_idle() -> None:
    assert state(healthy(schedule=schedule())) == "healthy"


def failing(failures: int, next_run_in: float) -> Evidence:
    failed = run("run_2", "failed", started=20, finished=10)
    sched = schedule(failures=failures, next_run_in=next_run_in)
    return with_latest(healthy(), failed, schedule=sched, failures_since_success=failures)


def test_seven_failures_in_backoff_is_blocked() -> None:
    evidence = failing(7, 600)
    assert state(evidence) == "blocked"
    assert ("BackoffActive", "backoff_blocked") in condition_types(evidence)


def test_six_failures_in_backoff_with_a_failed_run_is_degraded() -> None:
    assert state(failing(6, 600)) == "degraded"


def test_seven_failures_without_active_backoff_is_degraded() -> None:
    assert state(failing(7, -1)) == "degraded"
    assert state(failing(7, 0)) == "degraded"  # next_run_at == now: backoff over


def cooling(failures: int = 2, next_run_in: float = 300) -> Evidence:
    """A success, a run now in progress, and a backoff still active (R17.8)."""
    running = run("run_2", "running", started=120, finished=None)
    return with_latest(
        healthy(schedule=schedule(failures=failures, next_run_in=next_run_in)), running
    )


def test_backoff_otherwise_fine_is_cooling_off() -> None:
    assert state(cooling()) == "cooling_off"
    assert condition_types(cooling()) == [("BackoffActive", "backoff_active")]


def test_a_newest_success_supersedes_backoff() -> None:
    # R56: the stored columns say backoff; the newest run succeeded.
    evidence = healthy(schedule=schedule(failures=8, next_run_in=300))
    assert state(evidence) == "healthy"
    assert condition_types(evidence) == []


def test_a_manual_only_source_ignores_backoff() -> None:
    evidence = replace(failing(8, 600), profile=profile(mode="manual", background_safe=False))
    assert state(evidence) == "degraded"
    assert ("BackoffActive", "backoff_blocked") not in condition_types(evidence)


def test_backoff_in_the_past_is_healthy() -> None:
    assert state(healthy(schedule=schedule(failures=2, next_run_in=-300))) == "healthy"


@pytest.mark.parametrize(
    ("evidence", "condition"),
    [
        (
            with_latest(healthy(), run("run_2", "failed", started=20, finished=10)),
            ("CollectionFailed", "last_collection_failed"),
        ),
        (
            with_latest(
                healthy(),
                run(
                    "run_2",
                    collection_facts=(StreamFacts("messages", "committed", 1, 4, 0, covered=1),),
                ),
            ),
            ("CoveragePartial", "coverage_partial"),
        ),
        (
            with_latest(healthy(), run("run_2", "abandoned", started=20, finished=10)),
            ("CollectionFailed", "last_collection_failed"),
        ),
        (healthy(gaps=(gap_counts("messages", 1, 0),)), ("CoverageGapped", "retryable_gap")),
        (healthy(gaps=(gap_counts("messages", 0, 1),)), ("CoverageGapped", "terminal_gap")),
        (stale_automatic(), ("FreshnessStale", "freshness_stale")),
        (
            with_latest(
                healthy(),
                run("run_2", "surface_failed", browser_surface=BrowserSurface("p", "closed")),
            ),
            ("BrowserSurfaceFailed", "browser_surface_failed"),
        ),
    ],
)
def test_degrading_conditions(evidence: Evidence, condition: tuple[str, str]) -> None:
    assert state(evidence) == "degraded"
    assert condition in condition_types(evidence)


def test_never_run_is_idle() -> None:
    h = health(bare())
    assert (h.state, h.conditions, h.unknown_reasons) == ("idle", (), ())


def test_stale_manual_source_is_idle_refresh_due() -> None:
    evidence = stale_manual()
    assert state(evidence) == "idle"
    assert condition_types(evidence) == [("FreshnessStale", "stale_manual_refresh")]
    assert health(evidence).conditions[0].severity == "info"


def test_stale_manual_source_with_failed_collection_is_degraded() -> None:
    evidence = with_latest(stale_manual(), run("run_2", "failed", started=20, finished=10))
    assert state(evidence) == "degraded"


def test_unknown_freshness_refuses_healthy() -> None:
    evidence = replace(healthy(), profile=profile(window=None))
    h = health(evidence)
    assert (h.state, h.unknown_reasons) == ("unknown", ("freshness_unknown",))


def test_no_verdict_with_current_data_is_unknown_collection() -> None:
    # A surface failure followed by a run in progress: nothing classifies the outcome,
    # yet the data is current (R17.9).
    surface = run("run_2", "surface_failed", started=100, finished=90)
    running = run("run_3", "running", started=20, finished=None)
    evidence = replace(healthy(), latest_settled_run=surface, latest_run=running)
    h = health(evidence)
    assert (h.state, h.unknown_reasons) == ("unknown", ("collection",))


def test_unproven_coverage_refuses_healthy() -> None:
    no_considered = run(collection_facts=(StreamFacts("messages", "committed", 3),))
    evidence = with_latest(
        healthy(stream_facts=()), no_considered, latest_successful_run=no_considered
    )
    h = health(evidence)
    assert (h.state, h.unknown_reasons) == ("unknown", ("coverage_unknown",))


def test_health_to_dict_shape() -> None:
    evidence = healthy(gaps=(gap_counts("messages", 0, 1),))
    assert synthesize(evidence, NOW).to_dict()["connection_health"] == {
        "state": "degraded",
        "conditions": [
            {
                "type": "CoverageGapped",
                "status": "True",
                "severity": "error",
                "reason_code": "terminal_gap",
            }
        ],
        "unknown_reasons": [],
        "forward_disposition": "terminal",
    }


def test_every_state_is_reachable() -> None:
    reached = {
        state(replace(healthy(), available=False)),
        state(healthy(open_attention=(attention(),))),
        state(bare()),
        state(failing(7, 600)),
        state(stale_automatic()),
        state(cooling()),
        state(healthy()),
    }
    assert reached == {
        "unknown",
        "needs_attention",
        "idle",
        "blocked",
        "degraded",
        "cooling_off",
        "healthy",
    }
