"""R20: honest record counts: never show 0 for a stream nobody has observed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from pyreference.evidence import DeclaredStream, Evidence, StreamFacts, StreamStats
from pyreference.synthesis.collection_report import proves_coverage
from pyreference.synthesis.model import StreamRecords
from pyreference.synthesis.profile import profile_facts


class Counts(NamedTuple):
    """R20's counts of one row (internal: an immutable named tuple, cheap to build)."""

    streams: tuple[str, ...]
    stream_records: tuple[StreamRecords, ...]
    total_records: int | None
    total_records_state: str
    stream_count: int  # streams (declared or dormant) holding at least one live record


def _count(
    stats: StreamStats | None,
    facts: StreamFacts | None,
    declared: DeclaredStream | None,
    reliable: bool,
) -> tuple[int | None, str]:
    live = stats.live_count if stats is not None else 0
    if live > 0:
        count, state = live, "known"
    elif (stats is not None and stats.row_count > 0) or proves_coverage(facts, declared):
        # Proven empty: it once held records, or its effective fact proves coverage
        # (R20); a committed checkpoint alone proves nothing.
        count, state = 0, "known_zero"
    else:
        return None, "unobserved"
    # Evidence that could not be made current keeps its last number, flagged.
    return count, state if reliable else "stale"


def synthesize_counts(evidence: Evidence, facts: Mapping[str, StreamFacts]) -> Counts:
    """R20 counts; ``facts`` are the effective facts per stream (R61)."""
    stats = {s.stream: s for s in evidence.streams}
    # Unavailable evidence carries no stats, so only a failed-but-present row goes stale.
    reliable = evidence.reliable or not evidence.available
    observed = sorted(stats.keys() | facts.keys())
    live_streams = sum(1 for s in evidence.streams if s.live_count > 0)
    profile = profile_facts(evidence.profile)
    declarations = profile.declared

    def row(name: str, declaration: str) -> StreamRecords:
        count, state = _count(stats.get(name), facts.get(name), declarations.get(name), reliable)
        return StreamRecords(name, count, state, declaration)

    if not evidence.profile.manifest_usable:
        records = tuple(row(name, "unavailable") for name in observed)
        return Counts((), records, None, "unobserved", live_streams)

    declared = profile.names
    declared_rows = tuple(row(name, "declared") for name in declared)
    dormant_rows = tuple(row(name, "dormant") for name in observed if name not in declared)
    total, total_state = _total(declared_rows)
    return Counts(declared, declared_rows + dormant_rows, total, total_state, live_streams)


def _total(rows: tuple[StreamRecords, ...]) -> tuple[int | None, str]:
    counted = [r.record_count for r in rows if r.record_count is not None]
    if not counted:
        return None, "unobserved"
    total = sum(counted)
    states = {r.count_state for r in rows}
    if "stale" in states:
        return total, "stale"
    if total > 0:
        return total, "known"
    if states == {"known_zero"}:
        return total, "known_zero"
    return total, "unobserved"  # some streams proven empty, the rest never observed
