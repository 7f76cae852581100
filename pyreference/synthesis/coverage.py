"""R18: per-stream coverage and the connection's coverage axis over required streams."""

from __future__ import annotations

from pyreference.evidence import Evidence, StreamFacts
from pyreference.synthesis.model import Coverage, StreamCoverage
from pyreference.synthesis.runs import classifying_run

# Worse states rank higher; the axis reports the worst one a run reported.
_RANK = {"complete": 0, "partial": 1, "retryable_gap": 2, "terminal_gap": 3}


def _gap_totals(evidence: Evidence) -> dict[str, tuple[int, int]]:
    totals: dict[str, tuple[int, int]] = {}
    for gap in evidence.gaps:
        pending, terminal = totals.get(gap.stream, (0, 0))
        totals[gap.stream] = (pending + gap.pending, terminal + gap.terminal)
    return totals


def _facts_state(facts: StreamFacts) -> str:
    collected, considered = facts.collected, facts.considered
    if collected is not None and considered is not None and collected < considered:
        return "partial"
    return "complete"


def _stream_state(facts: StreamFacts | None, pending: int, terminal: int) -> str:
    if terminal > 0:
        return "terminal_gap"
    if pending > 0:
        return "retryable_gap"
    return _facts_state(facts) if facts is not None else "unknown"


def stream_coverage(evidence: Evidence) -> tuple[StreamCoverage, ...]:
    """Coverage of every declared stream; dormant streams are not part of coverage."""
    facts_by_stream = {f.stream: f for f in evidence.stream_facts}
    gaps = _gap_totals(evidence)
    result = []
    for declared in evidence.profile.declared_streams:
        facts = facts_by_stream.get(declared.name)
        pending, terminal = gaps.get(declared.name, (0, 0))
        result.append(
            StreamCoverage(
                stream=declared.name,
                state=_stream_state(facts, pending, terminal),
                required=declared.required,
                checkpoint=facts.checkpoint if facts else None,
                collected=facts.collected if facts else None,
                considered=facts.considered if facts else None,
                pending_gaps=pending,
                terminal_gaps=terminal,
            )
        )
    return tuple(result)


def coverage_state(evidence: Evidence) -> str:
    """The coverage axis over required streams (the worst state), building no per-stream views."""
    if not evidence.profile.manifest_usable:
        return "unknown"  # without a usable declaration nobody knows what is required
    required = {s.name for s in evidence.profile.declared_streams if s.required}
    totals = _gap_totals(evidence)
    gaps = [totals.get(name, (0, 0)) for name in required]
    if any(terminal > 0 for _, terminal in gaps):
        return "terminal_gap"
    if any(pending > 0 for pending, _ in gaps):
        return "retryable_gap"
    if evidence.latest_run is None:
        return "unknown"
    run = classifying_run(evidence)
    if run is None:
        return "unknown"
    if run.status in ("failed", "cancelled"):
        return "partial"
    if run.status != "succeeded":
        return "unknown"
    # No required stream is gapped here, so each one's state comes from its facts: the
    # maintained facts keep a committed proof from being regressed; fall back to the
    # run's own entry if the maintained facts lack the stream.
    maintained = {f.stream: f for f in evidence.stream_facts}
    states = [
        _facts_state(maintained.get(f.stream, f))
        for f in run.collection_facts
        if f.stream in required
    ]
    return max(states, key=_RANK.__getitem__, default="complete")


def synthesize_coverage(evidence: Evidence) -> Coverage:
    return Coverage(state=coverage_state(evidence), streams=stream_coverage(evidence))
