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
_DISPOSITION_TONE = {
    "complete": "green",
    "unmeasured": "grey",
    "resumable": "amber",
    "owner_refresh_due": "amber",
    "awaiting_owner": "amber",
    "terminal": "red",
}
# Amber inputs that only mean "nothing wrong, just due": everything else is a degradation.
_REFRESH_ONLY = {
    ("state", "idle"),
    ("state", "cooling_off"),
    ("freshness", "stale"),
    ("disposition", "owner_refresh_due"),
}
# Upstream's urgency order; actions are stably sorted by it.
_URGENCY = {
    "reauth": 0,
    "add_info": 0,
    "code_fix": 1,
    "reattach_schedule": 1,
    "refresh_now": 1,
    "retry_gap": 2,
    "wait": 2,
}
REVOKED_VERDICT = RenderedVerdict(
    tone="grey", label="Not measured", channel="calm", required_actions=()
)


def required_actions(inp: HealthInputs, state: str) -> tuple[str, ...]:
    """R19 actions, collected in rule order then stably sorted by urgency."""
    ev = inp.evidence
    posture = inp.posture
    credentials = inp.readiness.credentials is not None
    disposition = inp.disposition
    actions: list[str] = []
    if not credentials and (
        disposition == "terminal" or (disposition == "unmeasured" and inp.verdict == "succeeded")
    ):
        actions.append("code_fix")
    if credentials:
        actions.append("reauth")
    elif inp.attention:
        actions.append("add_info")
    if posture.schedule_off and ev.latest_successful_run is not None and not actions:
        actions.append("reattach_schedule")
    if disposition == "owner_refresh_due" and not posture.schedule_off and not inp.run_in_progress:
        actions.append("refresh_now")
    if (
        disposition == "resumable"
        and not actions
        and not posture.auto_scheduled
        and (
            posture.manual_only
            or (
                not inp.run_in_progress
                and not inp.backoff
                and state != "cooling_off"
                and (inp.coverage == "retryable_gap" or state == "degraded")
            )
        )
    ):
        actions.append("retry_gap")
    if disposition == "resumable" and not actions:
        actions.append("wait")
    return tuple(sorted(actions, key=_URGENCY.__getitem__))


def _tone(inp: HealthInputs, state: str) -> tuple[str, set[tuple[str, str]]]:
    """The worst input tone, and which inputs are amber (for the label)."""
    if state == "idle":
        state_tone = "amber" if inp.evidence.latest_successful_run is not None else "green"
    else:
        state_tone = _STATE_TONE[state]
    freshness = inp.freshness.status
    freshness_tone = _FRESHNESS_TONE[freshness]
    coverage_tone = _COVERAGE_TONE[inp.coverage]
    disposition_tone = _DISPOSITION_TONE[inp.disposition]
    if inp.disposition == "terminal" and state == "degraded" and inp.verdict == "succeeded":
        # Collection works; what is missing needs a code fix, not an alarm.
        coverage_tone = "amber" if coverage_tone == "red" else coverage_tone
        disposition_tone = "amber"
    attention_tone = "amber" if inp.attention else "green"
    # Five plain arguments, not a generator over pairs: built for every summary.
    tone = max(
        state_tone,
        freshness_tone,
        coverage_tone,
        disposition_tone,
        attention_tone,
        key=_TONE_RANK.__getitem__,
    )
    # Only an amber verdict's label reads which inputs are amber.
    ambers: set[tuple[str, str]] = set()
    if tone == "amber":
        for key, value in (
            (("state", state), state_tone),
            (("freshness", freshness), freshness_tone),
            (("coverage", inp.coverage), coverage_tone),
            (("disposition", inp.disposition), disposition_tone),
            (("attention", "relevant" if inp.attention else "none"), attention_tone),
        ):
            if value == "amber":
                ambers.add(key)
    return tone, ambers


def render_verdict(inp: HealthInputs, state: str) -> RenderedVerdict:
    """R19: tone from the worst input, label, channel and required actions."""
    if inp.revoked:
        return REVOKED_VERDICT
    tone, ambers = _tone(inp, state)
    if tone == "green":
        label = "Healthy"
    elif tone == "red":
        label = "Can't collect"
    elif tone == "grey":
        label = "Checking" if inp.run_in_progress else "Not measured"
    elif ambers <= _REFRESH_ONLY:
        label = "Syncing" if inp.run_in_progress else "Needs refresh"
    else:
        label = "Degraded"
    actions = required_actions(inp, state)
    if "reauth" in actions or "add_info" in actions:
        channel = "attention"  # an owner action due now
    elif any(action != "wait" for action in actions):
        channel = "advisory"  # an owner or maintainer action; `wait` asks nothing of anyone
    else:
        channel = "calm"
    return RenderedVerdict(tone=tone, label=label, channel=channel, required_actions=actions)


def next_action(inp: HealthInputs, state: str) -> NextAction | None:
    """R19: the most urgent relevant record, only while the state is ``needs_attention``."""
    if state != "needs_attention" or not inp.attention:
        return None
    first = inp.attention[0]
    return NextAction(
        action="add_info",
        reason_code=first.reason_code,
        attention_id=first.attention_id,
        owner_action=None if first.owner_action in (None, "", "none") else first.owner_action,
        response_required=first.response_required,
        expires_at=first.expires_at,
    )
