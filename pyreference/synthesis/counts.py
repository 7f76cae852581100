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
    # Plain loops and one record function, not a closure and generators: once per row.
    streams = evidence.streams
    stats = {s.stream: s for s in streams}
    live_streams = 0
    for s in streams:
        if s.live_count > 0:
            live_streams += 1
    # Unavailable evidence carries no stats, so only a failed-but-present row goes stale.
    reliable = evidence.reliable or not evidence.available
    profile = profile_facts(evidence.profile)
    declarations = profile.declared
    observed = sorted(stats.keys() | facts.keys())
    if not evidence.profile.manifest_usable:
        records = tuple(
            [
                _record(name, "unavailable", stats, facts, declarations, reliable)
                for name in observed
            ]
        )
        return Counts((), records, None, "unobserved", live_streams)

    declared = profile.names
    declared_rows = [
        _record(name, "declared", stats, facts, declarations, reliable) for name in declared
    ]
    total, total_state = _total(declared_rows)
    for name in observed:
        if name not in declarations:  # the same names as `declared`
            declared_rows.append(_record(name, "dormant", stats, facts, declarations, reliable))
    return Counts(declared, tuple(declared_rows), total, total_state, live_streams)


def _record(
    name: str,
    declaration: str,
    stats: Mapping[str, StreamStats],
    facts: Mapping[str, StreamFacts],
    declarations: Mapping[str, DeclaredStream],
    reliable: bool,
) -> StreamRecords:
    count, state = _count(stats.get(name), facts.get(name), declarations.get(name), reliable)
    return StreamRecords(name, count, state, declaration)


def _total(rows: list[StreamRecords]) -> tuple[int | None, str]:
    total: int | None = None
    stale = False
    all_known_zero = True
    for r in rows:
        if r.record_count is not None:
            total = r.record_count if total is None else total + r.record_count
        state = r.count_state
        if state == "stale":
            stale = True
        elif state != "known_zero":
            all_known_zero = False
    if total is None:
        return None, "unobserved"
    if stale:
        return total, "stale"
    if total > 0:
        return total, "known"
    if all_known_zero:
        return total, "known_zero"
    return total, "unobserved"  # some streams proven empty, the rest never observed
