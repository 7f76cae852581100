"""R54: attention relevance at `now` and urgency order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from synthesis_builders import NOW, attention

from pyreference.synthesis.attention import is_relevant, relevant_attention


@pytest.mark.parametrize(
    ("fields", "relevant"),
    [
        ({"owner_action": "enter_otp"}, True),
        ({"owner_action": None}, False),
        ({"owner_action": "none"}, False),
        ({"owner_action": ""}, False),
        ({"owner_action": None, "response_required": True}, True),
        ({"owner_action": "act_elsewhere"}, False),
        ({"owner_action": "act_elsewhere", "expires": -60}, True),
        ({"lifecycle": "acknowledged"}, True),
        ({"lifecycle": "in_progress"}, True),
        ({"lifecycle": "resolved"}, False),
        ({"lifecycle": "expired"}, False),
        ({"lifecycle": "cancelled"}, False),
        ({"lifecycle": "superseded"}, False),
        ({"expires": 0}, False),  # expiring exactly now is expired
        ({"expires": -1}, True),
    ],
)
def test_relevance(fields: dict, relevant: bool) -> None:
    assert is_relevant(attention(**fields), NOW) is relevant


def test_order_response_required_then_expiry_then_creation_then_id() -> None:
    a1 = attention("a1", owner_action="provide_value", expires=-5 * 3600, created=2 * 3600)
    a2 = attention("a2", response_required=True, created=3600)
    a3 = attention("a3", owner_action="provide_value", expires=-3600, created=3 * 3600)
    a4 = attention("a4", owner_action="provide_value", created=4 * 3600)
    a0 = attention("a0", owner_action="provide_value", created=4 * 3600)
    ordered = relevant_attention((a1, a2, a3, a4, a0), NOW)
    assert [a.attention_id for a in ordered] == ["a2", "a3", "a1", "a0", "a4"]
    later = relevant_attention((a1, a3), NOW + timedelta(hours=2))
    assert [a.attention_id for a in later] == ["a1"]
