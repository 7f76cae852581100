"""Synthesis in two stages, so that repeated reads repeat only what ``now`` can change.

``prepare`` does the work that depends on the evidence alone: counts, coverage, the
manual-only rule, how runs are shown, freshness up to its age check, when a backoff
ends. The store memoizes the result with the evidence it came from.

At read time, ``now`` and the caller's live-run facts reduce to a few ``ReadFacts``
(freshness status, the attention still active, whether backoff holds, the runs as
shown). The summary is a pure function of the prepared evidence and those facts alone
(``summarize`` never sees ``now``), so each prepared row keeps the summaries it has
built by their facts: a summary is reused only for exactly the inputs that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from pyreference.evidence import Attention, Evidence, RunEvidence
from pyreference.synthesis.counts import Counts, synthesize_counts
from pyreference.synthesis.coverage import coverage_state
from pyreference.synthesis.freshness import FreshnessBasis, freshness_basis, is_manual_only
from pyreference.synthesis.health import backoff_until
from pyreference.synthesis.model import ConnectionSummary, RunView
from pyreference.synthesis.runs import Runtime, show_run
from pyreference.synthesis.summary import summarize

_NO_LIVE_FACTS = Runtime()


class ReadFacts(NamedTuple):
    """Everything a read's ``now`` and live-run facts decide about one summary."""

    freshness: str
    attention: tuple[Attention, ...]  # active at ``now``, earliest first
    backoff: bool
    last_run: RunView | None
    last_successful_run: RunView | None


# Distinct facts kept per prepared row: they change only at a few instants (an age
# limit, an expiry, a backoff end), so a handful covers any run of reads.
_SUMMARIES_PER_ROW = 8


@dataclass(frozen=True, slots=True)
class Prepared:
    evidence: Evidence
    counts: Counts
    coverage: str
    manual_only: bool
    freshness: FreshnessBasis
    last_run: RunView | None  # shown without live-run facts (see `shown`)
    last_successful_run: RunView | None
    backoff_until: datetime | None
    # Summaries built from this evidence, by the facts that made them (see the module doc).
    summaries: dict[ReadFacts, ConnectionSummary] = field(
        default_factory=dict, compare=False, repr=False
    )

    def summary(self, facts: ReadFacts) -> ConnectionSummary:
        found = self.summaries.get(facts)
        if found is None:
            found = summarize(self, facts)
            if len(self.summaries) >= _SUMMARIES_PER_ROW:
                self.summaries.clear()
            self.summaries[facts] = found
        return found


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
        backoff_until=backoff_until(evidence.schedule),
    )


def shown(run: RunEvidence | None, prepared: RunView | None, runtime: Runtime) -> RunView | None:
    """The prepared view, unless the caller's live-run facts change how this run shows."""
    if run is None or runtime.live_run_ids is None or run.status != "running":
        return prepared
    return show_run(run, runtime)
