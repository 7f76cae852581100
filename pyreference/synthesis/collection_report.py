"""R60/R61: per-stream coverage proof, the collection report and forward disposition.

A ``committed`` checkpoint alone proves nothing: coverage needs a ``considered``
count (or an accepted coverage policy). Upstream:
``server/connector-coverage-policy.ts`` and ref-control's collection report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from pyreference.evidence import DeclaredStream, Evidence, RunEvidence, StreamFacts
from pyreference.synthesis.model import ReportEntry, SkipView
from pyreference.synthesis.profile import profile_facts

UNKNOWN = "unknown"

ACCEPTED_POLICIES = ("unsupported", "unavailable", "deferred", "inventory_only")
WINDOW_STRATEGIES = (
    "checkpoint_window",
    "full_inventory",
    "snapshot_import_receipt",
    "singleton_presence",
)
PROVING_CHECKPOINTS = ("committed", "disabled")
OUTSTANDING = ("partial", "retryable_gap", "terminal_gap", "unsupported", "unavailable")
_TERMINAL_DISPOSITION = ("terminal_gap", "unsupported", "unavailable")
# R60.2: a skip's reason, first match wins.
_SKIP_CLASSES = (
    (re.compile(r"429|rate|temporar|retry|upstream_pressure|pressure"), "retryable_gap"),
    (re.compile(r"out_of_scope|user_disabled|deferred|paused|postpon"), "deferred"),
    (re.compile(r"unavailable|not_available|blocked|locked|upstream"), "unavailable"),
    (re.compile(r"unsupported|not_supported|capability|incapable"), "unsupported"),
)


def accepted_policy(declared: DeclaredStream | None) -> str | None:
    policy = declared.coverage_policy if declared is not None else None
    return policy if policy in ACCEPTED_POLICIES else None


def _skip_class(fact: StreamFacts, declared: DeclaredStream | None, pending: int) -> str:
    skip = fact.skipped
    assert skip is not None
    policy = accepted_policy(declared)
    if policy is not None:
        found = policy
    elif skip.recovery_action == "retry_by_runtime":
        found = "retryable_gap"
    else:
        reason = (skip.reason or "").lower()
        found = next((c for pattern, c in _SKIP_CLASSES if pattern.search(reason)), "terminal_gap")
    return "retryable_gap" if found == "terminal_gap" and pending > 0 else found


def coverage_condition(
    fact: StreamFacts | None, declared: DeclaredStream | None, pending: int, terminal: int
) -> str:
    """R60: one stream's coverage condition, first matching rule.

    ``pending`` is *p* (the larger of the fact's and the eligible gap count);
    ``terminal`` the stream's terminal detail gaps.
    """
    policy = accepted_policy(declared)
    if terminal > 0:
        return "terminal_gap"
    if fact is not None and fact.skipped is not None:
        covered, considered = fact.covered, fact.considered
        if covered is not None and considered is not None and covered < considered:
            return "partial"
        return _skip_class(fact, declared, pending)
    if pending > 0:
        return "retryable_gap"
    if fact is None or fact.considered is None:
        return policy or "unknown"
    considered = fact.considered
    if fact.covered is not None:
        if fact.covered < considered:
            return "partial"
    elif (
        declared is not None
        and declared.coverage_strategy in WINDOW_STRATEGIES
        and fact.checkpoint in PROVING_CHECKPOINTS
    ):
        return policy or "complete"
    measured = fact.covered if fact.covered is not None else (fact.collected or 0)
    if measured < considered:
        return "partial"
    return policy or "complete"


def proves_coverage(fact: StreamFacts | None, declared: DeclaredStream | None) -> bool:
    """R20: the fact alone (no detail gaps) proves the stream complete or accepted."""
    if fact is None:
        return False
    condition = coverage_condition(fact, declared, fact.pending_detail_gaps or 0, 0)
    return condition == "complete" or condition in ACCEPTED_POLICIES


def restamped(fact: StreamFacts, pending: int | None, finished_at: str | None) -> StreamFacts:
    """``replace(fact, pending_detail_gaps=pending, finished_at=finished_at)``, built
    directly (``dataclasses.replace`` walks the fields on every call: a page makes hundreds),
    and ``fact`` itself when it already says both."""
    if fact.pending_detail_gaps == pending and fact.finished_at == finished_at:
        return fact
    return StreamFacts(
        fact.stream,
        fact.checkpoint,
        fact.collected,
        fact.considered,
        pending,
        fact.run_id,
        fact.covered,
        fact.skipped,
        finished_at,
    )


def effective_facts(evidence: Evidence, run: RunEvidence | None) -> dict[str, StreamFacts]:
    """R61: per stream, C's fact, unless the maintained latest fact proves coverage and
    C's does not (then the maintained one, with no pending gaps); else the maintained one."""
    maintained = {f.stream: f for f in evidence.stream_facts}
    out = dict(maintained)
    if run is None:
        return out
    for fact in run.collection_facts:
        kept = maintained.get(fact.stream)
        if (
            kept is not None
            and kept.checkpoint in PROVING_CHECKPOINTS
            and fact.checkpoint not in PROVING_CHECKPOINTS
        ):
            out[fact.stream] = restamped(kept, 0, kept.finished_at)
        else:
            out[fact.stream] = restamped(fact, fact.pending_detail_gaps, run.finished_at)
    return out


def _count(value: int | None) -> int | str:
    return UNKNOWN if value is None else value


def forward_disposition(condition: str, attention: bool, stale: bool, owner_refreshed: bool) -> str:
    """R61: what happens next for an entry (its condition) or a connection (its axis)."""
    if condition in OUTSTANDING:
        if attention:
            return "awaiting_owner"
        return "terminal" if condition in _TERMINAL_DISPOSITION else "resumable"
    if condition == "unknown":
        return "unmeasured"
    if stale and owner_refreshed:
        return "owner_refresh_due"
    return "complete"


class StreamBasis(NamedTuple):
    """What the report knows of one stream before ``now``: everything but eligible gaps
    (internal: an immutable named tuple, cheap to build)."""

    stream: str
    declared: DeclaredStream | None
    fact: StreamFacts | None
    terminal: int


def report_basis(
    evidence: Evidence,
    run: RunEvidence | None,
    facts: Mapping[str, StreamFacts] | None = None,
) -> tuple[StreamBasis, ...]:
    """The report's streams (declared ∪ facts ∪ gapped), sorted, with their now-free inputs.

    ``facts`` are ``effective_facts(evidence, run)`` when the caller has them already."""
    declared = profile_facts(evidence.profile).usable_declared
    if facts is None:
        facts = effective_facts(evidence, run)
    gaps = evidence.gaps
    if not gaps:  # most rows: no gapped streams to add (list comprehensions: once per row)
        return tuple(
            [
                StreamBasis(name, declared.get(name), facts.get(name), 0)
                for name in sorted(declared.keys() | facts.keys())
            ]
        )
    terminal = {g.stream: g.terminal for g in gaps if g.terminal}
    gapped = {g.stream for g in gaps if g.pending}
    names = sorted(declared.keys() | facts.keys() | terminal.keys() | gapped)
    return tuple(
        [
            StreamBasis(name, declared.get(name), facts.get(name), terminal.get(name, 0))
            for name in names
        ]
    )


def collection_report(
    basis: tuple[StreamBasis, ...],
    eligible: Mapping[str, int],
    attention: bool,
    stale: bool,
    owner_refreshed: bool,
) -> tuple[ReportEntry, ...]:
    """R61: the report entries; ``eligible`` maps a stream to its eligible pending gaps.

    Streams whose only gaps are cooling down (and nothing else) are left out.
    """
    entries = []
    for b in basis:
        gaps = eligible.get(b.stream, 0)
        if b.declared is None and b.fact is None and not b.terminal and not gaps:
            continue  # only cooling-down gaps: they count nowhere (R55)
        fact, declared = b.fact, b.declared
        pending = max((fact.pending_detail_gaps or 0) if fact else 0, gaps)
        condition = coverage_condition(fact, declared, pending, b.terminal)
        skip = fact.skipped if fact is not None else None
        # Positional, in field order (a page builds hundreds; keywords cost a third more).
        entries.append(
            ReportEntry(
                b.stream,  # stream
                declared.required if declared is not None else False,  # required
                fact.checkpoint if fact and fact.checkpoint else "unknown",  # checkpoint
                (fact.collected or 0) if fact else 0,  # collected
                _count(fact.considered if fact else None),  # considered
                _count(fact.covered if fact else None),  # covered
                SkipView(skip.reason, skip.recovery_action) if skip is not None else None,
                pending,  # pending_detail_gaps
                condition,  # coverage_condition
                declared.coverage_strategy if declared else None,  # coverage_strategy
                declared.freshness_strategy if declared else None,  # freshness_strategy
                fact.finished_at if fact else None,  # evidence_as_of
                forward_disposition(condition, attention, stale, owner_refreshed),
            )
        )
    return tuple(entries)
