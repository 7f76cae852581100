"""Prepared evidence reuses summaries only for exactly the facts that made them.

One prepared row read at many `now`s (crossing age limits, attention expiries and
backoff ends) and with different live-run facts must give, every time, what a fresh
synthesis of the same evidence gives.
"""

from __future__ import annotations

import os
from datetime import timedelta

import hypothesis.strategies as st
from hypothesis import given, settings

from pyreference.synthesis import Runtime, prepare, synthesize, synthesize_prepared
from tests.unit.synthesis_builders import DAY, NOW, attention, healthy, profile, run, schedule

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
