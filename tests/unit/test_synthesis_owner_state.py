"""R52: the owner state resolver (every rule, in order), its owner, posture and source work."""

from __future__ import annotations

from dataclasses import replace

from synthesis_builders import (
    NOW,
    ago,
    attention,
    bare,
    gap_counts,
    healthy,
    profile,
    run,
    schedule,
    with_latest,
)

from pyreference.evidence import Evidence, StreamFacts
from pyreference.synthesis import synthesize


def owner(evidence: Evidence) -> tuple[str, str, str, str | None, str]:
    summary = synthesize(evidence, NOW)
    o = summary.owner_state
    return o.resolver, o.owner_of_state, o.posture, o.evidence_as_of, summary.source_work


def status(evidence: Evidence, value: str) -> Evidence:
    return replace(evidence, identity=replace(evidence.identity, status=value))


RUNNING = run("run_2", "running", started=60, finished=None)


def test_1_revoked_is_retired() -> None:
    got = owner(status(healthy(open_attention=(attention(),)), "revoked"))
    assert got[:2] == ("retired", "maintainer") and got[4] == "none"


def test_2_code_fix_first_is_blocked_maintainer() -> None:
    got = owner(healthy(gaps=(gap_counts("messages", terminal=1),)))
    assert got[:2] == ("blocked_maintainer", "maintainer") and got[4] == "system_issue"


def test_3_a_draft_without_a_run_in_progress_is_setting_up() -> None:
    assert owner(status(bare(), "draft"))[:2] == ("setup_in_progress", "owner")
    assert owner(status(with_latest(bare(), RUNNING), "draft"))[0] == "collecting"


def test_4_attention_channel_is_needs_owner() -> None:
    got = owner(healthy(open_attention=(attention(),)))
    assert got[:2] == ("needs_owner", "owner") and got[4] == "needs_owner"


def test_5_paused_after_a_success_is_owner_paused() -> None:
    assert owner(status(healthy(), "paused"))[:2] == ("owner_paused", "owner")
    assert owner(healthy(schedule=schedule(enabled=False)))[0] == "owner_paused"
    assert owner(bare(schedule=schedule(enabled=False)))[0] == "not_measured"


def test_6_a_run_in_progress_is_collecting() -> None:
    got = owner(with_latest(healthy(), RUNNING))
    assert got == ("collecting", "system", "observed", ago(60), "working")


def test_7_and_8_no_evidence_or_grey_is_not_measured() -> None:
    assert owner(bare()) == ("not_measured", "system", "observed", None, "not_measured")
    unproven = run(collection_facts=(StreamFacts("messages", "committed", 3),))
    grey = with_latest(healthy(stream_facts=()), unproven, latest_successful_run=unproven)
    assert synthesize(grey, NOW).rendered_verdict.tone == "grey"
    # Grey with a succeeded C: code_fix comes first (rule 2), not rule 8.
    assert owner(grey)[0] == "blocked_maintainer"
    surface = with_latest(bare(), run("run_1", "surface_failed"))
    assert owner(replace(surface, last_record_at=None))[0] == "system_degraded"


def test_9_refresh_due() -> None:
    ok = run(started=3 * 86_400, finished=2 * 86_400)
    stale = healthy(latest_run=ok, latest_successful_run=ok, latest_settled_run=ok)
    manual = replace(stale, profile=profile(mode="manual", background_safe=False))
    assert owner(manual)[:2] == ("refresh_due", "owner")
    assert owner(manual)[4] == "review"


def test_10_amber_or_red_is_system_degraded() -> None:
    failed = with_latest(healthy(), run("run_2", "failed", started=20, finished=10))
    got = owner(failed)
    assert got == ("system_degraded", "system", "frozen-since-last-run", ago(10), "system_issue")


def test_11_otherwise_healthy_including_cooling_off() -> None:
    assert owner(healthy()) == ("healthy", "system", "observed", ago(3_600), "none")
    skipped = run("run_2", "skipped", started=20, finished=10)
    cooling = with_latest(healthy(schedule=schedule(failures=2, next_run_in=60)), skipped)
    assert synthesize(cooling, NOW).connection_health.state == "cooling_off"
    assert owner(cooling)[0] == "healthy"


def test_evidence_falls_back_to_captured_data() -> None:
    records_only = bare(last_record_at=ago(100))
    got = owner(records_only)
    assert (got[2], got[3]) == ("observed", ago(100))
    # Rule 8: evidence exists, but the verdict is grey (no collection outcome yet).
    assert synthesize(records_only, NOW).rendered_verdict.tone == "grey"
    assert got[0] == "not_measured"
