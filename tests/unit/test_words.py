"""Summaries in words (the console's text): pure functions of their inputs and `now`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from pyreference import words
from pyreference.synthesis.model import RunView

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def iso(delta: timedelta) -> str:
    return (NOW + delta).isoformat()


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=-20), "under a minute ago"),
        (timedelta(minutes=-14), "14 min ago"),
        (timedelta(hours=-3, minutes=-59), "3 h ago"),
        (timedelta(days=-1), "1 day ago"),
        (timedelta(days=-2, hours=-5), "2 days ago"),
        (timedelta(minutes=20), "in 20 min"),
    ],
)
def test_ago(delta: timedelta, text: str) -> None:
    assert words.ago(iso(delta), NOW) == text


def test_runs_in_words() -> None:
    failed = RunView("r1", "failed", iso(timedelta(hours=-2)), iso(timedelta(hours=-1)), "captcha")
    running = RunView("r2", "running", iso(timedelta(minutes=-3)), None, None)
    odd = RunView("r3", "failed", None, iso(timedelta(hours=-1)), "brand_new_reason")
    assert words.run_words(failed, NOW) == "Failed 1 h ago: the site asked to solve a CAPTCHA"
    assert words.run_words(running, NOW) == "Running since 3 min ago"
    assert words.run_words(odd, NOW) == "Failed 1 h ago: brand new reason"  # never raw
    assert words.run_words(None, NOW) == "Never run"


def test_every_required_action_has_a_sentence() -> None:
    """Each action synthesis can require (R19) reads as a sentence, not an identifier."""
    from pyreference import native

    # Its source, also where the module runs compiled.
    source = native.source_path("pyreference.synthesis.verdict").read_text()
    actions = set(re.findall(r'actions\.append\("(\w+)"\)', source))
    assert len(actions) >= 6
    for action in actions:
        assert words.ACTIONS[action][0].isupper() and "_" not in words.ACTIONS[action]


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("provide_value", "Give the connector the value it asks for"),
        ("act_elsewhere", "Do what it asks outside this console"),
        ("operate_attachment", "Open what the connector attached and finish there"),
        ("none", "Nothing: it is for your information"),
        ("enter_otp", "Enter the one-time code"),
        ("wave_flag", "Wave flag"),
        ("scan-the.code", "Scan the code"),
        ("_", ""),
        (None, ""),
        ("", ""),
    ],
)
def test_owner_actions_in_words(code: str | None, text: str) -> None:
    """Review of #14, F3: every owner action is words; an unknown one is humanized."""
    assert words.owner_action(code) == text


def test_health_states_actions_and_run_statuses_read_as_words() -> None:
    """The one vocabulary of the console and the CLI table (review F5): every health state
    (R17) in words, and unknown codes humanized, never shown as identifiers."""
    states = ("unknown", "needs_attention", "idle", "blocked", "cooling_off", "degraded", "healthy")
    for state in states:
        assert "_" not in words.health(state)
    assert words.health("needs_attention") == "needs attention"
    assert words.health("some_new_state") == "some new state"
    assert words.action("retry_gap") == words.ACTIONS["retry_gap"]
    assert words.action("phone_home") == "Phone home"
    assert words.run_status("surface_failed") == "Stopped in the browser"
    assert words.run_status("abandoned") == "Abandoned"
