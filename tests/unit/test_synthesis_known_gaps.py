"""R57: classifying a run's known gaps (every rule, in order)."""

from __future__ import annotations

import pytest

from pyreference.evidence import KnownGap
from pyreference.synthesis.known_gaps import (
    IGNORED,
    RETRYABLE,
    TERMINAL,
    classify,
    counted_gaps,
    gap_text,
    known_gap_axis,
)


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        (KnownGap(is_object=False), TERMINAL),
        (KnownGap(), TERMINAL),  # no severity
        (KnownGap(severity="actionable"), TERMINAL),
        (KnownGap(severity="weird"), TERMINAL),
        (KnownGap(severity="informational"), IGNORED),
        (KnownGap(severity="recoverable"), IGNORED),
        (KnownGap(severity="transient"), RETRYABLE),
        (KnownGap(severity="actionable", action="manual_action_required"), RETRYABLE),
        (KnownGap(severity="actionable", action="retry_by_runtime"), RETRYABLE),
        (KnownGap(severity="actionable", message="Enter the OTP"), RETRYABLE),
        (KnownGap(severity="actionable", reason="mfa_needed"), RETRYABLE),
        (KnownGap(severity="actionable", kind="2FA"), RETRYABLE),
        (KnownGap(severity="actionable", message="solve the CAPTCHA"), RETRYABLE),
        (KnownGap(severity="actionable", message="anti-bot wall"), RETRYABLE),
        (KnownGap(severity="actionable", message="manual step"), RETRYABLE),
        (KnownGap(severity="actionable", message="notpmanual"), TERMINAL),  # words, not parts
        (KnownGap(severity="actionable", message="Owner assistance timed out"), RETRYABLE),
        (KnownGap(severity="actionable", reason="source_unavailable"), RETRYABLE),
        (KnownGap(severity="actionable", message="please finish login"), RETRYABLE),
        (KnownGap(severity="actionable", message="streaming companion lost"), RETRYABLE),
        # §4.8: the owner-recoverable check runs before the severity check.
        (KnownGap(severity="informational", message="manual"), RETRYABLE),
    ],
)
def test_classes(gap: KnownGap, expected: str) -> None:
    assert classify(gap) == expected


def test_a_skip_result_on_a_stream_already_retrying_is_ignored() -> None:
    skip = KnownGap(kind="skip_result", stream="items", severity="actionable")
    assert classify(skip, {"items"}) == IGNORED
    assert classify(skip, set()) == TERMINAL
    assert classify(KnownGap(kind="skip_result", stream="items", action="unknown"), {"items"})
    hinted = KnownGap(kind="skip_result", stream="items", action="refresh_credentials")
    assert classify(hinted, {"items"}) == TERMINAL


def test_text_joins_kind_reason_message() -> None:
    assert gap_text(KnownGap(kind="A_b", reason="C--d", message=" E ")) == "a b c d e"


def test_counted_gaps_drop_optional_and_dormant_streams() -> None:
    gaps = (
        KnownGap(stream="items"),
        KnownGap(stream="extras"),
        KnownGap(stream=None),
        KnownGap(is_object=False),
    )
    kept = counted_gaps(gaps, {"items"})
    assert kept == (gaps[0], gaps[2], gaps[3])


def test_axis_terminal_beats_retryable() -> None:
    gaps = (KnownGap(severity="transient"), KnownGap(severity="actionable"))
    assert known_gap_axis(gaps, set()) == "terminal_gap"
    assert known_gap_axis(gaps[:1], set()) == "retryable_gap"
    assert known_gap_axis((KnownGap(severity="informational"),), set()) is None
