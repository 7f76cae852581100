"""The one seconds rule (pyreference/seconds.py) every timeout, wait and interval obeys."""

from __future__ import annotations

import pytest

from pyreference.errors import InvalidInput
from pyreference.seconds import MAX_SECONDS, seconds


@pytest.mark.parametrize("value", [0, 0.5, 60, MAX_SECONDS, int(MAX_SECONDS)])
def test_accepts_numbers_from_zero_to_a_day(value: float) -> None:
    assert seconds(value, "wait") == float(value)
    assert isinstance(seconds(value, "wait"), float)


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        -0.001,
        MAX_SECONDS + 1,
        10**400,
        1e300,
        True,
        "5",
        None,
    ],
)
def test_refuses_what_would_never_end_or_is_not_a_number(value: object) -> None:
    with pytest.raises(
        InvalidInput,
        match=r"^wait must be a number of seconds at least 0 and at most 86400 \(a day\), not ",
    ):
        seconds(value, "wait")


def test_exclusive_low_refuses_the_bound_itself() -> None:
    with pytest.raises(InvalidInput, match="timeout must be a number of seconds more than 0"):
        seconds(0, "timeout", exclusive=True)
    assert seconds(0.01, "timeout", exclusive=True) == 0.01


def test_low_bound() -> None:
    with pytest.raises(InvalidInput, match=r"at least 0\.05"):
        seconds(0.01, "--interval", low=0.05)


def test_message_shows_a_short_value() -> None:
    with pytest.raises(InvalidInput) as caught:
        seconds(10**400, "wait")
    assert len(str(caught.value)) < 200
