"""R18: per-stream coverage and the connection's coverage axis over required streams."""

from __future__ import annotations

from dataclasses import replace

import pytest
from synthesis_builders import NOW, bare, healthy, profile, run, with_latest

from pyreference.evidence import DeclaredStream, DeepEvidence, Evidence, GapCounts, StreamFacts
from pyreference.synthesis import diagnose
from pyreference.synthesis.coverage import synthesize_coverage

TWO = (DeclaredStream("messages"), DeclaredStream("labels", required=False))


def states(evidence: Evidence) -> dict[str, str]:
    return {s.stream: s.state for s in synthesize_coverage(evidence).streams}


def axis(evidence: Evidence) -> str:
    return synthesize_coverage(evidence).state


@pytest.mark.parametrize(
    ("facts", "gaps", "state"),
    [
        (StreamFacts("messages", "committed", 5, 5), GapCounts("messages", 1, 1), "terminal_gap"),
        (StreamFacts("messages", "committed", 5, 5), GapCounts("messages", 2, 0), "retryable_gap"),
        (None, GapCounts("messages", 1, 0), "retryable_gap"),
        (StreamFacts("messages", "committed", 3, 5), None, "partial"),
        (StreamFacts("messages", "committed", 5, 5), None, "complete"),
        (StreamFacts("messages", None, None, None), None, "complete"),
        (StreamFacts("messages", "committed", 5, 5), GapCounts("messages", 0, 0), "complete"),
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
    evidence = bare(gaps=(GapCounts("messages", 1, 0), GapCounts("messages", 2, 0)))
    (stream,) = synthesize_coverage(evidence).streams
    assert (stream.pending_gaps, stream.terminal_gaps) == (3, 0)


def test_dormant_streams_are_not_covered() -> None:
    evidence = healthy(
        stream_facts=(StreamFacts("messages", "committed", 1, 1), StreamFacts("old", None, 1, 9)),
        gaps=(GapCounts("old", 0, 3),),
    )
    assert states(evidence) == {"messages": "complete"}
    assert axis(evidence) == "complete"


def test_axis_terminal_gap_on_a_required_stream() -> None:
    evidence = healthy(gaps=(GapCounts("messages", 1, 1),))
    assert axis(evidence) == "terminal_gap"


def test_axis_ignores_gaps_on_optional_streams() -> None:
    evidence = healthy(profile=profile(TWO), gaps=(GapCounts("labels", 4, 2),))
    assert states(evidence)["labels"] == "terminal_gap"
    assert axis(evidence) == "complete"


def test_axis_pending_gap_is_retryable_even_before_any_run() -> None:
    assert axis(bare(gaps=(GapCounts("messages", 1, 0),))) == "retryable_gap"


def test_axis_without_any_run_is_unknown() -> None:
    assert axis(bare()) == "unknown"


def test_axis_success_without_facts_is_complete() -> None:
    ok = run()
    assert axis(bare(latest_run=ok, latest_successful_run=ok, latest_settled_run=ok)) == "complete"


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


@pytest.mark.parametrize("status", ["failed", "cancelled"])
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
    assert synthesize_coverage(evidence).streams == ()
    assert axis(evidence) == "unknown"


def test_diagnostics_coverage_shape() -> None:
    evidence = healthy(gaps=(GapCounts("messages", 2, 0),))
    coverage = diagnose(evidence, DeepEvidence(), NOW).to_dict()["coverage"]
    assert coverage == {
        "state": "retryable_gap",
        "streams": [
            {
                "stream": "messages",
                "state": "retryable_gap",
                "required": True,
                "checkpoint": "committed",
                "collected": 10,
                "considered": 10,
                "pending_gaps": 2,
                "terminal_gaps": 0,
            }
        ],
    }
