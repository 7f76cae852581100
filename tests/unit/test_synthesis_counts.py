"""R20: honest counts: known, known_zero, unobserved, stale; declared, dormant, unavailable."""

from __future__ import annotations

import pytest
from synthesis_builders import NOW, bare, healthy, profile

from pyreference.evidence import DeclaredStream, Evidence, StreamFacts, StreamStats
from pyreference.synthesis import synthesize

THREE = (DeclaredStream("a"), DeclaredStream("b"), DeclaredStream("c"))


def rows(evidence: Evidence) -> list[dict[str, object]]:
    return [r.to_dict() for r in synthesize(evidence, NOW).stream_records]


def totals(evidence: Evidence) -> tuple[int | None, str]:
    summary = synthesize(evidence, NOW)
    return summary.total_records, summary.total_records_state


@pytest.mark.parametrize(
    ("stats", "facts", "count", "state"),
    [
        (StreamStats("messages", live_count=4, row_count=6), None, 4, "known"),
        (StreamStats("messages", live_count=0, row_count=6), None, 0, "known_zero"),
        (None, StreamFacts("messages", "committed", 0, 0), 0, "known_zero"),
        # R20/R60: a considered count proves emptiness; a committed checkpoint alone does not.
        (None, StreamFacts("messages", "in_progress", 0, 0), 0, "known_zero"),
        (None, StreamFacts("messages", "committed", 0, None), None, "unobserved"),
        (None, StreamFacts("messages", "committed", 0, 3), None, "unobserved"),
        (StreamStats("messages", live_count=0, row_count=0), None, None, "unobserved"),
        (None, None, None, "unobserved"),
    ],
)
def test_count_states(
    stats: StreamStats | None, facts: StreamFacts | None, count: int | None, state: str
) -> None:
    evidence = bare(streams=(stats,) if stats else (), stream_facts=(facts,) if facts else ())
    assert rows(evidence) == [
        {
            "stream": "messages",
            "record_count": count,
            "count_state": state,
            "declaration_state": "declared",
        }
    ]


def test_failed_evidence_keeps_last_numbers_as_stale() -> None:
    evidence = bare(
        profile=profile(THREE),
        state="failed",
        streams=(StreamStats("a", live_count=3, row_count=3), StreamStats("b", row_count=2)),
    )
    assert [(r["record_count"], r["count_state"]) for r in rows(evidence)] == [
        (3, "stale"),
        (0, "stale"),
        (None, "unobserved"),
    ]
    assert totals(evidence) == (3, "stale")


def test_dirty_evidence_not_recomputed_is_stale() -> None:
    assert totals(healthy(dirty=True)) == (10, "stale")


def test_failed_but_recomputed_evidence_is_current() -> None:
    evidence = healthy(state="failed", dirty=True, recomputed=True)
    assert rows(evidence)[0]["count_state"] == "known"
    assert totals(evidence) == (10, "known")


def test_unavailable_evidence_is_unobserved() -> None:
    evidence = bare(available=False)
    assert rows(evidence)[0]["count_state"] == "unobserved"
    assert totals(evidence) == (None, "unobserved")
    assert synthesize(evidence, NOW).retained_bytes is None


def test_dormant_streams_are_listed_but_not_counted() -> None:
    evidence = healthy(
        streams=(
            StreamStats("messages", live_count=10, row_count=10),
            StreamStats("zz_old", live_count=7, row_count=7),
            StreamStats("aa_old", live_count=0, row_count=1),
        ),
        stream_facts=(StreamFacts("messages", "committed"), StreamFacts("facts_only", "committed")),
    )
    summary = synthesize(evidence, NOW)
    assert summary.streams == ("messages",)
    assert [(r["stream"], r["count_state"], r["declaration_state"]) for r in rows(evidence)] == [
        ("messages", "known", "declared"),
        ("aa_old", "known_zero", "dormant"),
        ("facts_only", "unobserved", "dormant"),  # a committed checkpoint alone proves nothing
        ("zz_old", "known", "dormant"),
    ]
    assert totals(evidence) == (10, "known")


def test_unusable_manifest_marks_every_observed_stream_unavailable() -> None:
    evidence = healthy(
        profile=profile((), manifest_usable=False),
        streams=(StreamStats("messages", live_count=10, row_count=10),),
    )
    summary = synthesize(evidence, NOW).to_dict()
    assert summary["streams"] == []
    assert summary["stream_records"] == [
        {
            "stream": "messages",
            "record_count": 10,
            "count_state": "known",
            "declaration_state": "unavailable",
        }
    ]
    assert (summary["total_records"], summary["total_records_state"]) == (None, "unobserved")


def test_declared_streams_keep_manifest_order() -> None:
    evidence = bare(profile=profile((DeclaredStream("z"), DeclaredStream("a"))))
    assert synthesize(evidence, NOW).streams == ("z", "a")


def stats(*triples: tuple[str, int, int]) -> tuple[StreamStats, ...]:
    return tuple(StreamStats(name, live_count=live, row_count=ever) for name, live, ever in triples)


@pytest.mark.parametrize(
    ("streams", "expected"),
    [
        ((), (None, "unobserved")),  # every declared stream unobserved
        (stats(("a", 2, 2), ("b", 3, 3)), (5, "known")),
        (stats(("a", 2, 2)), (2, "known")),  # known plus unobserved
        (stats(("a", 0, 1), ("b", 0, 1), ("c", 0, 4)), (0, "known_zero")),
        (stats(("a", 0, 1)), (0, "unobserved")),  # proven empty plus never observed
        (stats(("a", 0, 1), ("b", 4, 4)), (4, "known")),
    ],
)
def test_total_records(streams: tuple[StreamStats, ...], expected: tuple[int | None, str]) -> None:
    assert totals(bare(profile=profile(THREE), streams=streams)) == expected


def test_no_declared_streams_has_no_total() -> None:
    assert totals(bare(profile=profile(()))) == (None, "unobserved")


def test_retained_bytes_pass_through() -> None:
    assert synthesize(healthy(retained_bytes=12_345), NOW).retained_bytes == 12_345
