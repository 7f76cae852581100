"""R18: the connection's coverage axis over required streams, rolled up from the report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pyreference.evidence import Evidence, RunEvidence
from pyreference.synthesis.model import ReportEntry
from pyreference.synthesis.profile import profile_facts

# For the roll-up, accepted policies rank as their tone: unsupported/unavailable are
# terminal, deferred/inventory_only complete (SPEC-SEMANTICS §4.9).
_ROLL_UP = {
    "terminal_gap": "terminal_gap",
    "unsupported": "terminal_gap",
    "unavailable": "terminal_gap",
    "retryable_gap": "retryable_gap",
    "partial": "partial",
}
_RANK = {"partial": 1, "retryable_gap": 2, "terminal_gap": 3}


def required_streams(evidence: Evidence) -> frozenset[str]:
    """Declared streams with ``required`` absent or true; none without a usable manifest."""
    return profile_facts(evidence.profile).required


def base_axis(
    evidence: Evidence,
    run: RunEvidence | None,
    eligible: Mapping[str, int],
    known_gaps: str | None,
    required: frozenset[str] | None = None,
) -> str:
    """R18 steps 1–5 (before the roll-up); ``known_gaps`` is C's known-gap axis (R57);
    ``required`` is ``required_streams(evidence)`` when the caller has it already."""
    if not evidence.profile.manifest_usable:
        return "unknown"
    if required is None:
        required = required_streams(evidence)
    # Each `any` only when there is something to find (most rows have no gaps).
    gaps = evidence.gaps
    if known_gaps == "terminal_gap" or (
        gaps and any(g.terminal > 0 and g.stream in required for g in gaps)
    ):
        return "terminal_gap"
    if known_gaps == "retryable_gap" or (
        eligible and any(eligible.get(s, 0) > 0 for s in required)
    ):
        return "retryable_gap"
    if run is None:
        return "unknown"
    if run.status == "succeeded":
        return "complete"
    if run.status in ("failed", "cancelled", "abandoned"):
        return "partial"
    return "unknown"


def roll_up(axis: str, entries: Iterable[ReportEntry]) -> str:
    """R18 roll-up over the required report entries."""
    # One pass over the entries (once per summary): the worst rolled-up condition, and
    # whether any required entry is unknown.
    worst, worst_rank, unknown = None, 0, False
    for e in entries:
        if e.required:
            rolled = _ROLL_UP.get(e.coverage_condition)
            if rolled is not None:
                if _RANK[rolled] > worst_rank:
                    worst, worst_rank = rolled, _RANK[rolled]
            elif e.coverage_condition == "unknown":
                unknown = True
    if worst is not None and worst_rank > _RANK.get(axis, 0):
        return worst
    if axis == "complete" and unknown:
        return "unknown"
    return axis
