"""R18: the coverage axis over required streams, rolled up from the per-stream report."""

from __future__ import annotations

from dataclasses import replace

import pytest
from synthesis_builders import NOW, bare, gap_counts, healthy, profile, run, with_latest

from pyreference.evidence import (
    DeclaredStream,
    DeepEvidence,
    Evidence,
    GapCounts,
    KnownGap,
    Skip,
    StreamFacts,
)
from pyreference.synthesis import diagnose, synthesize

TWO = (DeclaredStream("messages"), DeclaredStream("labels", required=False))


def states(evidence: Evidence) -> dict[str, str]:
    return {s.stream: s.coverage_condition for s in synthesize(evidence, NOW).coverage.streams}


def axis(evidence: Evidence) -> str:
    return synthesize(evidence, NOW).coverage.axis


@pytest.mark.parametrize(
    ("facts", "gaps", "state"),
    [
        (StreamFacts("messages", "committed", 5, 5), gap_counts("messages", 1, 1), "terminal_gap"),
        (StreamFacts("messages", "committed", 5, 5), gap_counts("messages", 2, 0), "retryable_gap"),
        (None, gap_counts("messages", 1, 0), "retryable_gap"),
        (StreamFacts("messages", "committed", 3, 5), None, "partial"),
        (StreamFacts("messages", "committed", 5, 5), None, "complete"),
        (StreamFacts("messages", None, None, None), None, "unknown"),
        (StreamFacts("messages", "committed", 5, None), None, "unknown"),
        (StreamFacts("messages", "committed", 5, 5), gap_counts("messages", 0, 0), "complete"),
        (None, None, "unknown"),
    ],
)
def test_stream_state_precedence(
    facts: StreamFacts | None, gaps: GapCounts | None, state: str
) -> None:
    evidence = bare(
        stream_facts=(facts,) if facts else (),
        gaps=(gaps,) if gaps else (),
    )
    assert states(evidence) == {"messages": state}


def test_gap_rows_of_one_stream_add_up() -> None:
    evidence = bare(gaps=(gap_counts("messages", 1, 0), gap_counts("messages", 2, 0)))
    (stream,) = synthesize(evidence, NOW).coverage.streams
    assert stream.pending_detail_gaps == 3


def test_dormant_streams_are_reported_but_never_count() -> None:
    evidence = healthy(
        stream_facts=(StreamFacts("messages", "committed", 1, 1), StreamFacts("old", None, 1, 9)),
        gaps=(gap_counts("old", 0, 3),),
    )
    assert states(evidence) == {"messages": "complete", "old": "terminal_gap"}
    report = synthesize(evidence, NOW).collection_report
    assert [e.required for e in report] == [True, False]
    assert axis(evidence) == "complete"


def test_axis_terminal_gap_on_a_required_stream() -> None:
    evidence = healthy(gaps=(gap_counts("messages", 1, 1),))
    assert axis(evidence) == "terminal_gap"


def test_axis_ignores_gaps_on_optional_streams() -> None:
    evidence = healthy(profile=profile(TWO), gaps=(gap_counts("labels", 4, 2),))
    assert states(evidence)["labels"] == "terminal_gap"
    assert axis(evidence) == "complete"


def test_axis_pending_gap_is_retryable_even_before_any_run() -> None:
    assert axis(bare(gaps=(gap_counts("messages", 1, 0),))) == "retryable_gap"


def test_axis_without_any_run_is_unknown() -> None:
    assert axis(bare()) == "unknown"


def test_axis_success_without_per_stream_proof_is_unknown() -> None:
    ok = run()
    assert axis(bare(latest_run=ok, latest_successful_run=ok, latest_settled_run=ok)) == "unknown"


def test_axis_success_takes_the_worst_required_stream_it_reported() -> None:
    facts = (StreamFacts("messages", "committed", 3, 5), StreamFacts("labels", "committed", 1, 9))
    ok = run(collection_facts=facts)
    evidence = healthy(
        profile=profile((DeclaredStream("messages"), DeclaredStream("labels"))),
        latest_run=ok,
        latest_successful_run=ok,
        latest_settled_run=ok,
        stream_facts=facts,
    )
    assert axis(evidence) == "partial"


def test_axis_ignores_partial_optional_streams() -> None:
    facts = (StreamFacts("messages", "committed", 5, 5), StreamFacts("labels", "committed", 1, 9))
    ok = run(collection_facts=facts)
    evidence = healthy(
        profile=profile(TWO),
        latest_run=ok,
        latest_successful_run=ok,
        latest_settled_run=ok,
        stream_facts=facts,
    )
    assert states(evidence) == {"messages": "complete", "labels": "partial"}
    assert axis(evidence) == "complete"


def test_committed_proof_is_not_regressed_by_a_newer_unresolved_attempt() -> None:
    # The database hands over the committed facts; the newer run reported less.
    newer = run(
        "run_2", started=20, finished=10, collection_facts=(StreamFacts("messages", None, 2, 9),)
    )
    evidence = with_latest(healthy(), newer, latest_successful_run=newer)
    assert states(evidence) == {"messages": "complete"}
    assert axis(evidence) == "complete"


def test_axis_uses_the_runs_own_facts_when_the_stream_has_no_maintained_facts() -> None:
    newer = run(
        "run_2", started=20, finished=10, collection_facts=(StreamFacts("messages", None, 2, 9),)
    )
    evidence = with_latest(healthy(stream_facts=()), newer, latest_successful_run=newer)
    assert axis(evidence) == "partial"


@pytest.mark.parametrize("status", ["failed", "cancelled", "abandoned"])
def test_axis_after_failed_or_cancelled_run_is_partial(status: str) -> None:
    assert axis(with_latest(healthy(), run("run_2", status, started=20, finished=10))) == "partial"


def test_axis_after_owner_cancel_follows_the_last_success() -> None:
    cancelled = run(
        "run_2", "cancelled", started=20, finished=10, terminal_reason="owner_cancelled"
    )
    assert axis(with_latest(healthy(), cancelled)) == "complete"


def test_axis_after_surface_failure_is_unknown() -> None:
    surface = run("run_2", "surface_failed", started=20, finished=10)
    assert axis(with_latest(healthy(), surface)) == "unknown"


def test_axis_with_only_a_running_run_is_unknown() -> None:
    running = run("run_1", "running", started=20, finished=None)
    assert axis(with_latest(bare(), running)) == "unknown"


def test_axis_is_unknown_without_a_usable_manifest() -> None:
    evidence = replace(healthy(), profile=profile((), manifest_usable=False))
    report = synthesize(evidence, NOW).coverage.streams
    assert [(e.stream, e.required) for e in report] == [("messages", False)]
    assert axis(evidence) == "unknown"


def test_known_gaps_of_c_set_the_axis() -> None:
    def gapped(*gaps: KnownGap) -> Evidence:
        ok = replace(healthy().latest_run, known_gaps=gaps)
        return with_latest(healthy(), ok, latest_successful_run=ok)

    assert axis(gapped(KnownGap(severity="actionable", stream="messages"))) == "terminal_gap"
    assert axis(gapped(KnownGap(severity="transient"))) == "retryable_gap"
    assert axis(gapped(KnownGap(severity="informational"))) == "complete"
    assert axis(gapped(KnownGap(is_object=False))) == "terminal_gap"
    # A gap on an optional or undeclared stream never counts.
    two = replace(gapped(KnownGap(severity="actionable", stream="labels")), profile=profile(TWO))
    assert axis(two) == "complete"
    assert axis(gapped(KnownGap(severity="actionable", stream="nope"))) == "complete"


def test_a_cooling_down_gap_counts_nowhere_until_its_retry_time() -> None:
    evidence = healthy(gaps=(gap_counts("messages", 1, retry_in=1800),))
    assert axis(evidence) == "complete"
    assert states(evidence) == {"messages": "complete"}
    later = synthesize(evidence, NOW.replace(minute=31))
    assert later.coverage.axis == "retryable_gap"


def test_in_progress_gaps_count_nowhere() -> None:
    assert axis(healthy(gaps=(gap_counts("messages", in_progress=3),))) == "complete"


def test_roll_up_ranks_unsupported_as_terminal_and_policies_as_complete() -> None:
    skipped = StreamFacts("messages", "committed", 0, None, skipped=Skip("unsupported_region"))
    ok = run(collection_facts=(skipped,))
    evidence = with_latest(healthy(stream_facts=()), ok, latest_successful_run=ok)
    assert states(evidence) == {"messages": "unsupported"}
    assert axis(evidence) == "terminal_gap"
    policy = profile((DeclaredStream("messages", coverage_policy="inventory_only"),))
    evidence = with_latest(
        healthy(stream_facts=(), profile=policy), run(), latest_successful_run=run()
    )
    assert states(evidence) == {"messages": "inventory_only"}
    assert axis(evidence) == "complete"


def test_diagnostics_coverage_shape() -> None:
    evidence = healthy(gaps=(gap_counts("messages", 2, 0),))
    coverage = diagnose(evidence, DeepEvidence(), NOW).to_dict()["coverage"]
    assert coverage == {
        "axis": "retryable_gap",
        "streams": [
            {
                "stream": "messages",
                "required": True,
                "checkpoint": "committed",
                "collected": 10,
                "considered": 10,
                "covered": "unknown",
                "skipped": None,
                "pending_detail_gaps": 2,
                "coverage_condition": "retryable_gap",
                "coverage_strategy": None,
                "freshness_strategy": None,
                "evidence_as_of": evidence.latest_run.finished_at,
                "forward_disposition": "resumable",
            }
        ],
    }
    assert coverage["streams"] == synthesize(evidence, NOW).to_dict()["collection_report"]
