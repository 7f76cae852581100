"""What synthesis derives from evidence alone: everything except the ``now``-relative parts.

Counts, coverage, the manual-only rule, how runs are shown and freshness up to its age
check depend on the evidence only. ``prepare`` computes them once; the store memoizes the
result with the evidence it came from, so a page read repeats only the work that
``now`` (and the caller's live-run facts) can change.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyreference.evidence import Evidence, RunEvidence
from pyreference.synthesis.counts import Counts, synthesize_counts
from pyreference.synthesis.coverage import coverage_state
from pyreference.synthesis.freshness import FreshnessBasis, freshness_basis, is_manual_only
from pyreference.synthesis.model import RunView
from pyreference.synthesis.runs import Runtime, show_run

_NO_LIVE_FACTS = Runtime()


@dataclass(frozen=True, slots=True)
class Prepared:
    evidence: Evidence
    counts: Counts
    coverage: str
    manual_only: bool
    freshness: FreshnessBasis
    last_run: RunView | None  # shown without live-run facts (see `shown`)
    last_successful_run: RunView | None


def prepare(evidence: Evidence) -> Prepared:
    latest = evidence.latest_run
    success = evidence.latest_successful_run
    shown_latest = show_run(latest, _NO_LIVE_FACTS) if latest is not None else None
    if success is latest:
        shown_success = shown_latest  # one run object (the decoder shares it): show it once
    else:
        shown_success = show_run(success, _NO_LIVE_FACTS) if success is not None else None
    return Prepared(
        evidence=evidence,
        counts=synthesize_counts(evidence),
        coverage=coverage_state(evidence),
        manual_only=is_manual_only(evidence),
        freshness=freshness_basis(evidence),
        last_run=shown_latest,
        last_successful_run=shown_success,
    )


def shown(run: RunEvidence | None, prepared: RunView | None, runtime: Runtime) -> RunView | None:
    """The prepared view, unless the caller's live-run facts change how this run shows."""
    if run is None or runtime.live_run_ids is None or run.status != "running":
        return prepared
    return show_run(run, runtime)
