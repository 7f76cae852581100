"""Prepared evidence reuses summaries only for exactly the facts that made them.

One prepared row read at many `now`s (crossing age limits, attention expiries and
backoff ends) and with different live-run facts must give, every time, what a fresh
synthesis of the same evidence gives.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import timedelta

import hypothesis.strategies as st
from hypothesis import given, settings

from pyreference.evidence import StreamStats
from pyreference.reads import stream_totals, with_deltas
from pyreference.synthesis import (
    Runtime,
    prepare,
    prepare_with_streams,
    synthesize,
    synthesize_prepared,
)
from tests.unit.synthesis_builders import (
    DAY,
    NOW,
    ago,
    attention,
    healthy,
    profile,
    run,
    schedule,
)

HOURS = st.integers(min_value=-72, max_value=72)


@st.composite
def evidence(draw: st.DrawFn):
    latest = run(
        "run_2",
        draw(st.sampled_from(["succeeded", "failed", "running", "cancelled"])),
        started=draw(st.integers(60, 5 * DAY)),
        finished=None if draw(st.booleans()) else draw(st.integers(0, 60)),
    )
    records = tuple(
        attention(f"att_{i}", created=draw(st.integers(0, DAY)), expires=draw(HOURS) * 3600)
        for i in range(draw(st.integers(0, 2)))
    )
    return healthy(
        profile=profile(window=draw(st.sampled_from([None, 3600, DAY]))),
        latest_run=latest,
        latest_settled_run=latest if latest.status != "running" else None,
        open_attention=records,
        schedule=schedule(
            enabled=draw(st.booleans()),
            failures=draw(st.integers(0, 9)),
            next_run_in=draw(HOURS) * 3600,
        ),
    )


@settings(
    max_examples=int(os.environ.get("PYREF_PROPERTY_EXAMPLES", "200")),
    deadline=None,
    derandomize=os.environ.get("CI") == "true",  # a landing never meets a new random example
)
@given(
    evidence(),
    st.lists(st.tuples(HOURS, st.sampled_from([None, frozenset(), frozenset({"run_2"})]))),
)
def test_a_reused_summary_equals_a_fresh_one(evidence, reads) -> None:
    prepared = prepare(evidence)
    for hours, live in reads:
        now = NOW + timedelta(hours=hours)
        runtime = Runtime(live_run_ids=live)
        reused = synthesize_prepared(prepared, now, runtime)
        assert reused == synthesize(evidence, now, runtime)


STREAMS = st.sampled_from(["messages", "labels", "sent"])


@st.composite
def stored_and_deltas(draw: st.DrawFn):
    """A stored row as a reconcile left it (any runs, streams or none, any window, last
    success or none) and the record deltas a page read adds to it (0020)."""
    stored = draw(evidence())
    stats = tuple(
        StreamStats(
            name,
            live_count=(live := draw(st.integers(0, 5))),
            row_count=live + draw(st.integers(0, 2)),
            retained_bytes=draw(st.integers(0, 900)),
            last_record_at=ago(draw(st.integers(0, 3 * DAY))) if live else None,
        )
        for name in draw(st.lists(STREAMS, unique=True, max_size=3))
    )
    retained, last = stream_totals(stats)
    stored = replace(
        stored,
        streams=stats,
        retained_bytes=retained,
        last_record_at=last,
        latest_successful_run=draw(st.sampled_from([stored.latest_successful_run, None])),
    )
    deltas = tuple(
        StreamStats(
            draw(STREAMS),
            live_count=(live := draw(st.integers(0, 3))),
            row_count=live + draw(st.integers(0, 2)),
            retained_bytes=draw(st.integers(0, 300)),
            last_record_at=ago(draw(st.integers(-3600, 2 * DAY))) if live else None,
        )
        for _ in range(draw(st.integers(1, 4)))
    )
    return stored, deltas


@settings(
    max_examples=int(os.environ.get("PYREF_PROPERTY_EXAMPLES", "200")),
    deadline=None,
    derandomize=os.environ.get("CI") == "true",
)
@given(stored_and_deltas(), st.lists(HOURS, min_size=1, max_size=3))
def test_deltas_prepared_from_the_stored_row_equal_a_full_prepare(case, hours) -> None:
    """A row with record deltas is prepared from its memoized stored row, re-preparing only
    what deltas change (0020; memo._with_deltas): every prepared part and every summary
    must equal a full `prepare` of the same evidence."""
    stored, deltas = case
    current = with_deltas(stored, deltas)
    incremental = prepare_with_streams(prepare(stored), current)
    full = prepare(current)
    assert incremental == full
    for h in hours:
        now = NOW + timedelta(hours=h)
        assert synthesize_prepared(incremental, now) == synthesize(current, now)


def test_with_deltas_keeps_every_field_but_the_ones_deltas_change() -> None:
    """`with_deltas` builds its evidence positionally: each field must land in its place.
    Fields of one type hold values of their own here, so a misplaced one shows."""
    from pyreference.evidence import Attention, GapCounts, StreamFacts

    stored = replace(
        healthy(),
        available=False,
        state="failed",
        dirty=False,
        recomputed=False,
        computed_at=ago(10),
        last_error="boom",
        streams=(StreamStats("s", 1, 1, 5, ago(30)),),
        retained_bytes=5,
        last_record_at=ago(30),
        latest_run=run("r1"),
        latest_successful_run=run("r2"),
        latest_settled_run=run("r3"),
        failures_since_success=7,
        stream_facts=(StreamFacts("f"),),
        gaps=(GapCounts("g"),),
        schedule=schedule(),
        open_attention=(Attention("a", "reauth_required"),),
        problem="odd",
    )
    deltas = (StreamStats("s", 1, 1, 3, ago(20)),)
    got = with_deltas(stored, deltas)
    stats = (StreamStats("s", 2, 2, 8, ago(20)),)
    expected = replace(
        stored, dirty=True, recomputed=True, streams=stats, retained_bytes=8, last_record_at=ago(20)
    )
    assert got == expected
