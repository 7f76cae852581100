"""Synthesis in two stages, so that repeated reads repeat only what ``now`` can change.

``prepare`` does the work that depends on the evidence alone: C (the classifying
run), counts, the refresh posture, effective facts, how runs are shown, freshness
up to its age check, when a backoff ends, what C says about readiness. The store
memoizes the result with the evidence it came from.

At read time, ``now`` and the caller's live-run facts reduce to a few ``ReadFacts``
(freshness status, the relevant attention, whether backoff holds, the runs as shown,
the eligible detail gaps). The summary is a pure function of the prepared evidence
and those facts alone (``summarize`` never sees ``now``), so each prepared row keeps
the summaries it has built by their facts: a summary is reused only for exactly the
inputs that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from pyreference.evidence import Attention, Evidence, KnownGap, RunEvidence
from pyreference.frozen import fast_init
from pyreference.synthesis._time import parse_ts
from pyreference.synthesis.backoff import backoff_until
from pyreference.synthesis.collection_report import StreamBasis, effective_facts, report_basis
from pyreference.synthesis.counts import Counts, synthesize_counts
from pyreference.synthesis.freshness import FreshnessBasis, freshness_basis
from pyreference.synthesis.known_gaps import counted_gaps
from pyreference.synthesis.model import ConnectionSummary, RunView
from pyreference.synthesis.posture import Posture, refresh_posture
from pyreference.synthesis.profile import profile_facts
from pyreference.synthesis.readiness import run_reason
from pyreference.synthesis.runs import Runtime, classifying_run, show_run, verdict_of
from pyreference.synthesis.summary import summarize

_NO_LIVE_FACTS = Runtime()


class ReadFacts(NamedTuple):
    """Everything a read's ``now`` and live-run facts decide about one summary."""

    freshness: str
    attention: tuple[Attention, ...]  # relevant at ``now``, most urgent first (R54)
    backoff: bool
    last_run: RunView | None
    last_successful_run: RunView | None
    eligible: tuple[tuple[str, int], ...]  # streams with eligible pending gaps (R55)
    gap_reason: str | None  # the first eligible pending gap's reason (R58 step 4)


# Distinct facts kept per prepared row: they change only at a few instants (an age
# limit, an expiry, a backoff end, a gap's retry time), so a handful covers any run.
_SUMMARIES_PER_ROW = 8


class PendingGroup(NamedTuple):
    stream: str
    retry_at: datetime | None  # None: eligible at once
    reason: str | None
    gaps: int
    declared: bool


@fast_init
@dataclass(frozen=True, slots=True)
class Prepared:
    evidence: Evidence
    run: RunEvidence | None  # C (R16)
    verdict: str  # C's verdict (R17)
    counts: Counts
    posture: Posture
    freshness: FreshnessBasis
    report: tuple[StreamBasis, ...]
    required: frozenset[str]
    known_gaps: tuple[KnownGap, ...]  # C's gaps that count (R57)
    run_reason: str | None  # R58 steps 1–3 (from C alone)
    session_capable: bool
    pending: tuple[PendingGroup, ...]
    last_run: RunView | None  # shown without live-run facts (see `shown`)
    last_successful_run: RunView | None
    backoff_until: datetime | None
    # Summaries built from this evidence, by the facts that made them (see the module doc).
    summaries: dict[tuple[object, ...], ConnectionSummary] = field(
        default_factory=dict, compare=False, repr=False
    )

    def summary(
        self,
        freshness: str,
        attention: tuple[Attention, ...],
        backoff: bool,
        last_run: RunView | None,
        last_successful_run: RunView | None,
        eligible: tuple[tuple[str, int], ...],
        gap_reason: str | None,
    ) -> ConnectionSummary:
        """The summary for these read facts (see ``ReadFacts``), built once per distinct facts."""
        # Runs shown as prepared (no live-run facts change them, the usual read) are these
        # very objects: the key leaves them out, so hashing it skips their every field.
        if last_run is self.last_run and last_successful_run is self.last_successful_run:
            key: tuple[object, ...] = (freshness, attention, backoff, eligible, gap_reason)
        else:
            runs = (last_run, last_successful_run)
            key = (freshness, attention, backoff, *runs, eligible, gap_reason)
        found = self.summaries.get(key)
        if found is None:
            facts = ReadFacts(
                freshness, attention, backoff, last_run, last_successful_run, eligible, gap_reason
            )
            found = summarize(self, facts)
            if len(self.summaries) >= _SUMMARIES_PER_ROW:
                self.summaries.clear()
            self.summaries[key] = found
        return found

    def eligible_gaps(self, now: datetime) -> tuple[tuple[tuple[str, int], ...], str | None]:
        """Eligible pending gaps per stream at ``now``, and the first one's reason (R55, R58)."""
        if not self.pending:  # most rows have none
            return (), None
        counts: dict[str, int] = {}
        reason = None
        for group in self.pending:
            if group.retry_at is not None and group.retry_at > now:
                continue  # cooling down: counts nowhere in the summary
            counts[group.stream] = counts.get(group.stream, 0) + group.gaps
            if reason is None and group.declared:
                reason = group.reason or f"detail_gap:{group.stream}"
        return tuple(counts.items()), reason


def prepare(evidence: Evidence) -> Prepared:
    """The ``now``-free half of synthesis for one connection's evidence."""
    latest = evidence.latest_run
    success = evidence.latest_successful_run
    shown_latest = show_run(latest, _NO_LIVE_FACTS) if latest is not None else None
    if success is latest:
        shown_success = shown_latest  # one run object (the decoder shares it): show it once
    else:
        shown_success = show_run(success, _NO_LIVE_FACTS) if success is not None else None
    run = classifying_run(evidence)
    facts = effective_facts(evidence, run)  # R61, read by the counts and the report alike
    posture = refresh_posture(evidence)
    profile = profile_facts(evidence.profile)
    required = profile.required
    declared = profile.declared
    pending = (
        tuple(
            [
                PendingGroup(
                    g.stream,
                    parse_ts(p.next_attempt_after) if p.next_attempt_after is not None else None,
                    p.reason,
                    p.count,
                    g.stream in declared,
                )
                for g in evidence.gaps
                for p in g.pending
                if p.count > 0
            ]
        )
        if evidence.gaps  # most rows have none
        else ()
    )
    # Positional, in field order (one per row; keywords cost a third more).
    return Prepared(
        evidence,
        run,
        verdict_of(run),  # verdict
        synthesize_counts(evidence, facts),  # counts
        posture,
        freshness_basis(evidence, run),  # freshness
        report_basis(evidence, run, facts),  # report
        required,
        counted_gaps(run.known_gaps, required) if run is not None else (),  # known_gaps
        run_reason(run, None, None) if run is not None else None,  # run_reason
        (  # session_capable
            evidence.identity.source_kind == "browser_collector"
            or evidence.profile.browser_required
        ),
        pending,
        shown_latest,  # last_run
        shown_success,  # last_successful_run
        backoff_until(evidence, posture),  # backoff_until
    )


def prepare_with_streams(base: Prepared, evidence: Evidence) -> Prepared:
    """``prepare(evidence)`` for evidence that differs from ``base.evidence`` only in its
    record statistics (streams, retained bytes, last record time) and its dirty and
    recomputed flags, as a row with pending record deltas does (0020, ``reads.with_deltas``).

    Only what reads those is prepared again: the counts (R21) and the freshness basis
    (R16, whose captured time may be the last record's). Everything else is ``base``'s, the
    same objects: the classifying run, posture, report basis, gaps, run views and backoff
    read runs, facts, gaps, schedule and profile, which deltas never change
    (``tests/unit/test_synthesis_prepared.py`` holds it equal to a full ``prepare``).
    Summaries are not carried over: they are built anew for the new evidence.
    """
    run = base.run
    return Prepared(
        evidence,
        run,
        base.verdict,
        synthesize_counts(evidence, effective_facts(evidence, run)),  # counts
        base.posture,
        freshness_basis(evidence, run),  # freshness
        base.report,
        base.required,
        base.known_gaps,
        base.run_reason,
        base.session_capable,
        base.pending,
        base.last_run,
        base.last_successful_run,
        base.backoff_until,
    )


def shown(run: RunEvidence | None, prepared: RunView | None, runtime: Runtime) -> RunView | None:
    """The prepared view, unless the caller's live-run facts change how this run shows."""
    if run is None or runtime.live_run_ids is None or run.status != "running":
        return prepared
    return show_run(run, runtime)
