"""R60 per-stream coverage proof, R61 effective facts, report and forward disposition."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
from synthesis_builders import bare, run

from pyreference.evidence import DeclaredStream, Skip, StreamFacts
from pyreference.synthesis.collection_report import (
    collection_report,
    coverage_condition,
    effective_facts,
    forward_disposition,
    proves_coverage,
    report_basis,
    restamped,
)

INVENTORY = DeclaredStream("items", coverage_strategy="full_inventory")
PARENT = DeclaredStream("items", coverage_strategy="parent_detail_accounting")


def fact(**kw) -> StreamFacts:  # type: ignore[no-untyped-def]
    return StreamFacts("items", **kw)


def test_restamped_is_replace_for_every_field() -> None:
    # `restamped` builds StreamFacts positionally (dataclasses.replace is slow): every
    # field, including one added later, must come through as replace would carry it.
    # A distinct value of each field's own type (a compiled module checks types); a field
    # added later must be added here.
    values = {
        "stream": "s",
        "checkpoint": "c",
        "collected": 1,
        "considered": 2,
        "pending_detail_gaps": 3,
        "run_id": "r",
        "covered": 4,
        "skipped": Skip("x"),
        "finished_at": "T1",
    }
    assert set(values) == {f.name for f in fields(StreamFacts)}
    original = StreamFacts(**values)
    got = restamped(original, 7, "T9")
    assert got == replace(original, pending_detail_gaps=7, finished_at="T9")
    assert restamped(original, original.pending_detail_gaps, original.finished_at) is original


@pytest.mark.parametrize(
    ("f", "declared", "pending", "terminal", "condition"),
    [
        # 1. terminal gaps first
        (fact(checkpoint="committed", collected=5, considered=5), INVENTORY, 3, 1, "terminal_gap"),
        # 2. skips
        (fact(skipped=Skip("x"), covered=2, considered=5), INVENTORY, 0, 0, "partial"),
        (fact(skipped=Skip("rate_limited")), INVENTORY, 0, 0, "retryable_gap"),
        (fact(skipped=Skip("HTTP 429")), INVENTORY, 0, 0, "retryable_gap"),
        (fact(skipped=Skip("user_disabled")), INVENTORY, 0, 0, "deferred"),
        (fact(skipped=Skip("account_locked")), INVENTORY, 0, 0, "unavailable"),
        (fact(skipped=Skip("unsupported_region")), INVENTORY, 0, 0, "unsupported"),
        (fact(skipped=Skip("unsupported_region")), INVENTORY, 2, 0, "unsupported"),
        (fact(skipped=Skip("weird")), INVENTORY, 0, 0, "terminal_gap"),
        (fact(skipped=Skip("weird")), INVENTORY, 1, 0, "retryable_gap"),
        (fact(skipped=Skip(None)), INVENTORY, 0, 0, "terminal_gap"),
        (fact(skipped=Skip("weird", "retry_by_runtime")), INVENTORY, 0, 0, "retryable_gap"),
        (
            fact(skipped=Skip("weird")),
            DeclaredStream("items", coverage_policy="deferred"),
            0,
            0,
            "deferred",
        ),
        # 3. pending gaps
        (fact(checkpoint="committed", collected=5, considered=5), INVENTORY, 1, 0, "retryable_gap"),
        (None, INVENTORY, 1, 0, "retryable_gap"),
        (fact(collected=5, considered=5, pending_detail_gaps=2), INVENTORY, 0, 0, "complete"),
        # 4. a known `considered`
        (fact(checkpoint="committed", collected=2, considered=5), INVENTORY, 0, 0, "complete"),
        (fact(checkpoint="disabled", collected=2, considered=5), INVENTORY, 0, 0, "complete"),
        (
            fact(checkpoint="committed", collected=2, considered=5, covered=4),
            INVENTORY,
            0,
            0,
            "partial",
        ),
        (
            fact(checkpoint="committed", collected=2, considered=5, covered=5),
            INVENTORY,
            0,
            0,
            "complete",
        ),
        (fact(collected=2, considered=5), INVENTORY, 0, 0, "partial"),
        (fact(checkpoint="committed", collected=2, considered=5), PARENT, 0, 0, "partial"),
        (fact(checkpoint="committed", collected=5, considered=5), PARENT, 0, 0, "complete"),
        (fact(checkpoint="committed", collected=0, considered=0), None, 0, 0, "complete"),
        # 5. nothing measured
        (fact(checkpoint="committed", collected=5), INVENTORY, 0, 0, "unknown"),
        (None, INVENTORY, 0, 0, "unknown"),
        (None, DeclaredStream("items", coverage_policy="inventory_only"), 0, 0, "inventory_only"),
        (None, DeclaredStream("items", coverage_policy="made_up"), 0, 0, "unknown"),
    ],
)
def test_coverage_condition(f, declared, pending, terminal, condition) -> None:  # type: ignore[no-untyped-def]
    assert coverage_condition(f, declared, pending, terminal) == condition


def test_proof_of_emptiness_needs_a_considered_count() -> None:
    assert proves_coverage(fact(checkpoint="committed", collected=0, considered=0), INVENTORY)
    assert not proves_coverage(fact(checkpoint="committed", collected=0), INVENTORY)
    policy = DeclaredStream("items", coverage_policy="unsupported")
    assert proves_coverage(fact(checkpoint="committed"), policy)
    assert not proves_coverage(None, INVENTORY)


def test_effective_facts() -> None:
    kept = fact(checkpoint="committed", collected=3, considered=3, finished_at="T1")
    attempt = fact(checkpoint="not_committed", collected=1, pending_detail_gaps=4)
    c = run("r2", collection_facts=(attempt, StreamFacts("other", collected=1)))
    evidence = bare(stream_facts=(kept, StreamFacts("old", collected=2, finished_at="T0")))
    got = effective_facts(evidence, c)
    # The maintained proof wins over C's unresolved attempt, with no pending gaps.
    assert got["items"] == replace(kept, pending_detail_gaps=0)
    # C's own fact elsewhere, dated by C's finish; the maintained one when C is silent.
    assert got["other"].finished_at == c.finished_at
    assert got["old"].finished_at == "T0"
    assert effective_facts(evidence, None) == {"items": kept, "old": evidence.stream_facts[1]}


@pytest.mark.parametrize(
    ("condition", "attention", "stale", "owner", "disposition"),
    [
        ("partial", True, False, False, "awaiting_owner"),
        ("terminal_gap", False, False, False, "terminal"),
        ("unsupported", False, False, False, "terminal"),
        ("unavailable", False, False, False, "terminal"),
        ("retryable_gap", False, False, False, "resumable"),
        ("partial", False, False, False, "resumable"),
        ("unknown", True, True, True, "unmeasured"),
        ("complete", False, True, True, "owner_refresh_due"),
        ("complete", False, True, False, "complete"),
        ("deferred", False, False, False, "complete"),
        ("inventory_only", False, True, True, "owner_refresh_due"),
    ],
)
def test_forward_disposition(condition, attention, stale, owner, disposition) -> None:  # type: ignore[no-untyped-def]
    assert forward_disposition(condition, attention, stale, owner) == disposition


def test_report_streams_are_declared_reported_and_gapped_but_not_only_cooling() -> None:
    from synthesis_builders import gap_counts, profile

    evidence = bare(
        profile=profile((DeclaredStream("b"), DeclaredStream("a", required=False))),
        stream_facts=(StreamFacts("c", collected=1),),
        gaps=(gap_counts("d", 1), gap_counts("e", terminal=1), gap_counts("f", 1, retry_in=60)),
    )
    basis = report_basis(evidence, None)
    report = collection_report(basis, {"d": 1}, False, False, False)
    assert [(e.stream, e.required) for e in report] == [
        ("a", False),
        ("b", True),
        ("c", False),
        ("d", False),
        ("e", False),
    ]
    assert [e.coverage_condition for e in report] == [
        "unknown",
        "unknown",
        "unknown",
        "retryable_gap",
        "terminal_gap",
    ]
    f_due = collection_report(basis, {"f": 1}, False, False, False)
    assert "f" in [e.stream for e in f_due]
