"""R19: rendered verdict (tone, label, channel, actions) and next_action."""

from __future__ import annotations

from dataclasses import replace

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

from pyreference.evidence import Evidence
from pyreference.synthesis import Runtime, synthesize
from pyreference.synthesis.model import RenderedVerdict


def verdict(evidence: Evidence, runtime: Runtime | None = None) -> RenderedVerdict:
    return synthesize(evidence, NOW, runtime).rendered_verdict


def stale(**profile_kwargs: object) -> Evidence:
    ok = run(started=3 * 86_400, finished=2 * 86_400)
    evidence = healthy(latest_run=ok, latest_successful_run=ok, latest_settled_run=ok)
    return replace(evidence, profile=profile(**profile_kwargs))  # type: ignore[arg-type]


def test_healthy_is_green_calm() -> None:
    assert verdict(healthy()) == RenderedVerdict("green", "Healthy", "calm", ())


def test_stale_manual_source_needs_refresh() -> None:
    v = verdict(stale(mode="manual", background_safe=False))
    assert v == RenderedVerdict("amber", "Needs refresh", "advisory", ("refresh_now",))


def test_stale_automatic_source_is_degraded() -> None:
    assert verdict(stale()) == RenderedVerdict("amber", "Degraded", "calm", ())


def test_cooling_off_needs_refresh_or_is_syncing() -> None:
    # A skip after the success keeps backoff in force (only a newest success supersedes it).
    skipped = run("run_2", "skipped", started=20, finished=10)
    evidence = with_latest(healthy(schedule=schedule(failures=2, next_run_in=60)), skipped)
    assert synthesize(evidence, NOW).connection_health.state == "cooling_off"
    v = verdict(evidence)
    assert (v.tone, v.label, v.required_actions) == ("amber", "Needs refresh", ())
    running = run("run_2", "running", started=20, finished=None)
    v = verdict(with_latest(healthy(schedule=schedule(failures=2, next_run_in=60)), running))
    assert (v.tone, v.label) == ("amber", "Syncing")


def test_partial_coverage_is_degraded() -> None:
    failed = run("run_2", "failed", started=20, finished=10)
    v = verdict(with_latest(healthy(), failed))
    assert (v.tone, v.label) == ("amber", "Degraded")


def test_blocked_is_red() -> None:
    failed = run("run_2", "failed", started=20, finished=10)
    evidence = with_latest(healthy(), failed, schedule=schedule(failures=9, next_run_in=60))
    assert (verdict(evidence).tone, verdict(evidence).label) == ("red", "Can't collect")


def test_unreliable_evidence_is_grey_not_measured() -> None:
    v = verdict(healthy(state="failed"))
    assert (v.tone, v.label) == ("grey", "Not measured")


def test_never_run_is_grey_because_nothing_is_known_yet() -> None:
    v = verdict(bare())
    assert v == RenderedVerdict("grey", "Not measured", "calm", ())


def test_grey_while_a_first_run_is_in_progress_is_checking() -> None:
    v = verdict(with_latest(bare(), run("run_1", "running", started=20, finished=None)))
    assert v == RenderedVerdict("grey", "Checking", "calm", ())


def test_idle_after_a_success_is_amber() -> None:
    v = verdict(healthy(schedule=schedule(enabled=False)))
    assert v == RenderedVerdict("amber", "Needs refresh", "advisory", ("reattach_schedule",))


def test_disabled_schedule_without_prior_success_is_not_reattach() -> None:
    v = verdict(bare(schedule=schedule(enabled=False)))
    assert v.required_actions == ()


def test_attention_takes_the_attention_channel_and_sets_next_action() -> None:
    evidence = healthy(
        open_attention=(
            attention("att_late", created=60, reason_code="captcha", owner_action="solve"),
            attention("att_early", created=600, reason_code="otp_required"),
        )
    )
    summary = synthesize(evidence, NOW)
    assert summary.rendered_verdict == RenderedVerdict(
        "amber", "Degraded", "attention", ("add_info",)
    )
    assert summary.to_dict()["next_action"] == {
        "action": "add_info",
        "reason_code": "otp_required",
        "attention_id": "att_early",
        "owner_action": "enter_otp",
        "response_required": False,
        "expires_at": None,
    }


def test_next_action_is_null_unless_needs_attention() -> None:
    assert synthesize(stale(mode="manual"), NOW).next_action is None
    # Attention on unreliable evidence: state unknown, so no next_action.
    evidence = healthy(state="failed", open_attention=(attention(),))
    summary = synthesize(evidence, NOW)
    assert summary.connection_health.state == "unknown"
    assert summary.next_action is None
    assert summary.rendered_verdict.required_actions == ("add_info",)


def test_retryable_gap_asks_to_retry() -> None:
    v = verdict(healthy(gaps=(gap_counts("messages", 2, 0),)))
    assert v == RenderedVerdict("amber", "Degraded", "advisory", ("retry_gap",))


def test_terminal_gap_after_a_success_is_softened_to_amber_code_fix() -> None:
    v = verdict(healthy(gaps=(gap_counts("messages", 0, 1),)))
    assert v == RenderedVerdict("amber", "Degraded", "advisory", ("code_fix",))


def test_terminal_gap_after_a_failure_is_red() -> None:
    failed = run("run_2", "failed", started=20, finished=10)
    v = verdict(with_latest(healthy(gaps=(gap_counts("messages", 0, 1),)), failed))
    assert v == RenderedVerdict("red", "Can't collect", "advisory", ("code_fix",))


def test_a_run_in_progress_alone_asks_for_nothing() -> None:
    running = run("run_2", "running", started=20, finished=None)
    v = verdict(with_latest(healthy(), running))
    assert v == RenderedVerdict("green", "Healthy", "calm", ())


def test_wait_for_resumable_work_the_system_retries_itself() -> None:
    gapped = healthy(gaps=(gap_counts("messages", 2, 0),), schedule=schedule())
    assert verdict(gapped) == RenderedVerdict("amber", "Degraded", "calm", ("wait",))


def test_no_wait_for_a_run_that_is_no_longer_live() -> None:
    running = run("run_2", "running", started=20, finished=None)
    v = verdict(with_latest(healthy(), running), Runtime(live_run_ids=frozenset()))
    assert v.required_actions == ()


def test_no_refresh_now_while_a_run_is_in_progress() -> None:
    running = run("run_2", "running", started=20, finished=None)
    evidence = with_latest(stale(mode="manual"), running)
    v = verdict(evidence)
    assert (v.label, v.required_actions) == ("Syncing", ())
    gapped = with_latest(healthy(gaps=(gap_counts("messages", 0, 1),)), running)
    assert verdict(gapped).required_actions == ("code_fix",)


def test_actions_are_sorted_by_urgency() -> None:
    evidence = replace(stale(mode="manual", background_safe=False), open_attention=(attention(),))
    assert verdict(evidence).required_actions == ("add_info", "refresh_now")
    # An outstanding gap with a relevant record awaits the owner: nothing else applies.
    gapped = replace(evidence, gaps=(gap_counts("messages", 1, 0),))
    assert verdict(gapped).required_actions == ("add_info",)


def test_verdict_to_dict_shape() -> None:
    evidence = healthy(gaps=(gap_counts("messages", 2, 0),))
    assert synthesize(evidence, NOW).to_dict()["rendered_verdict"] == {
        "tone": "amber",
        "label": "Degraded",
        "channel": "advisory",
        "required_actions": ["retry_gap"],
    }
