"""R19: the rendered verdict (tone, label, channel, actions) and the next action."""

from __future__ import annotations

from pyreference.synthesis.health import HealthInputs
from pyreference.synthesis.model import NextAction, RenderedVerdict

_TONE_RANK = {"green": 0, "grey": 1, "amber": 2, "red": 3}
_STATE_TONE = {
    "healthy": "green",
    "needs_attention": "amber",
    "cooling_off": "amber",
    "degraded": "amber",
    "blocked": "red",
    "unknown": "grey",
}
_FRESHNESS_TONE = {"current": "green", "stale": "amber", "unknown": "grey"}
_COVERAGE_TONE = {
    "complete": "green",
    "partial": "amber",
    "retryable_gap": "amber",
    "terminal_gap": "red",
    "unknown": "grey",
}
_LABELS = {"green": "Healthy", "grey": "Checking", "red": "Can't collect"}
# Amber inputs that only mean "nothing wrong, just due": everything else is a degradation.
_REFRESH_ONLY = {("state", "idle"), ("state", "cooling_off"), ("freshness", "stale")}


def required_actions(inp: HealthInputs) -> tuple[str, ...]:
    ev = inp.evidence
    actions = []
    if inp.attention:
        actions.append("add_info")
    schedule = ev.schedule
    if schedule is not None and not schedule.enabled and ev.latest_successful_run is not None:
        actions.append("reattach_schedule")
    if inp.freshness.status == "stale" and inp.manual_only:
        actions.append("refresh_now")
    if inp.coverage == "retryable_gap":
        actions.append("retry_gap")
    code_fix = inp.coverage == "terminal_gap"
    if not actions and not code_fix and (inp.run_in_progress or inp.coverage == "retryable_gap"):
        actions.append("wait")
    if code_fix:
        actions.append("code_fix")
    return tuple(actions)


def render_verdict(inp: HealthInputs, state: str) -> RenderedVerdict:
    ev = inp.evidence
    if state == "idle":
        state_tone = "amber" if ev.latest_successful_run is not None else "green"
    else:
        state_tone = _STATE_TONE[state]
    inputs = {
        ("state", state): state_tone,
        ("freshness", inp.freshness.status): _FRESHNESS_TONE[inp.freshness.status],
        ("coverage", inp.coverage): _COVERAGE_TONE[inp.coverage],
        ("attention", "open" if inp.attention else "none"): "amber" if inp.attention else "green",
    }
    tone = max(inputs.values(), key=_TONE_RANK.__getitem__)
    if tone == "amber":
        ambers = {key for key, value in inputs.items() if value == "amber"}
        label = "Needs refresh" if ambers <= _REFRESH_ONLY else "Degraded"
    else:
        label = _LABELS[tone]
    actions = required_actions(inp)
    if "add_info" in actions:
        channel = "attention"  # an owner action due now
    elif any(action != "wait" for action in actions):
        channel = "advisory"  # an owner or maintainer action; `wait` asks nothing of anyone
    else:
        channel = "calm"
    return RenderedVerdict(tone=tone, label=label, channel=channel, required_actions=actions)


def next_action(inp: HealthInputs, state: str) -> NextAction | None:
    if state != "needs_attention" or not inp.attention:
        return None
    first = inp.attention[0]
    return NextAction(
        action="add_info",
        reason_code=first.reason_code,
        attention_id=first.attention_id,
        owner_action=first.owner_action,
    )
