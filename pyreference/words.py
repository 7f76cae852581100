"""Summaries in an owner's words: health, freshness, runs, reasons and the next step.

Pure functions of a summary (or its parts) and `now`; no I/O. The one vocabulary of the
console (`pyreference.web`) and the CLI table (`render_table.py`): both show these,
never raw identifiers (the JSON keeps the identifiers).
"""

from __future__ import annotations

from datetime import datetime

from .synthesis import ConnectionSummary
from .synthesis.model import RunView
from .timeutil import to_utc

# Health states (R17) as the owner reads them.
HEALTH = {
    "healthy": "healthy",
    "idle": "idle",
    "cooling_off": "cooling off",
    "degraded": "degraded",
    "needs_attention": "needs attention",
    "blocked": "blocked",
    "unknown": "unknown",
}

# Reason codes (run failures, browser waits, gaps, attention) in plain words.
REASONS = {
    "login_rejected": "the site rejected the sign-in",
    "login_required": "the site asked to sign in",
    "session_expired": "the signed-in session expired",
    "otp_required": "the site asked for a one-time code",
    "captcha": "the site asked to solve a CAPTCHA",
    "rate_limited": "the service asked to slow down",
    "oauth_grant_expired": "the permission to read this account expired",
    "schema_changed": "the service changed its data format",
    "timeout": "the service took too long to answer",
    "network_error": "the service could not be reached",
    # health conditions
    "browser_surface_failed": "the last run stopped in the browser",
    "last_collection_failed": "the last collection failed",
    "coverage_partial": "some streams were not fully collected",
    "coverage_unknown": "it is not known yet what was collected",
    "freshness_stale": "the data is older than the connector's refresh window",
    "freshness_unknown": "no data has arrived yet",
    "refresh_due": "a refresh is due",
    "stale_manual_refresh": "a refresh is due (this source is refreshed by hand)",
    "stale_assisted_refresh": "a refresh is due (this source needs you to sign in or confirm)",
    "connection_revoked": "the connection was revoked",
    "connection_paused": "the connection is paused",
    "credential_rejected": "the service rejected the sign-in",
    "credential_expired": "the sign-in expired",
    "collection": "data arrived but no collection outcome is known",
    "schedule_disabled": "the schedule is off",
    "backoff_active": "pausing after a failure",
    "backoff_blocked": "stopped after repeated failures",
    "retryable_gap": "some details are missing and will be retried",
    "terminal_gap": "some details cannot be collected",
    "evidence_failed": "the summary could not be recomputed",
    "evidence_not_current": "recent changes are not folded in yet",
    "evidence_unavailable": "the summary has not been computed yet",
    "outcome_unknown": "the last run's outcome is unknown",
}

# A run that stopped in the browser: what to finish there.
_IN_BROWSER = {
    "otp_required": "Open the site and enter the one-time code",
    "captcha": "Open the site and solve the CAPTCHA",
    "login_required": "Open the site and sign in",
    "login_rejected": "Open the site and sign in",
}

# Required actions (R19) as what the owner should do.
ACTIONS = {
    "reauth": "Sign in again",
    "add_info": "Answer the connector's question",
    "reattach_schedule": "Turn the schedule back on",
    "refresh_now": "Refresh it now",
    "retry_gap": "Retry the missing details",
    "code_fix": "Report it: the connector needs a fix to collect everything",
    "wait": "Nothing to do: it retries the missing details by itself",
}

# What the owner is asked to do when a connector raises a question: the original
# system's vocabulary (none, act_elsewhere, provide_value, operate_attachment; R19, R54)
# and pyreference's demo's. Any other action is worded by `owner_action`.
OWNER_ACTIONS = {
    "none": "Nothing: it is for your information",
    "act_elsewhere": "Do what it asks outside this console",
    "provide_value": "Give the connector the value it asks for",
    "operate_attachment": "Open what the connector attached and finish there",
    "reauthorize": "Sign in again to give the connector permission",
    "confirm_identity": "Confirm it is you",
    "enter_otp": "Enter the one-time code",
}

_AUTH_REASONS = {"login_rejected", "login_required", "session_expired"}

RUN_STATUS = {
    "succeeded": "Succeeded",
    "failed": "Failed",
    "running": "Running",
    "cancelled": "Cancelled",
    "surface_failed": "Stopped in the browser",
    "skipped": "Skipped",
}


def _humanized(code: str) -> str:
    return " ".join(code.replace("_", " ").replace("-", " ").replace(".", " ").split())


def _sentence(known: dict[str, str], code: str) -> str:
    """`code`'s words from `known`, else the code humanized with a capital first letter."""
    found = known.get(code)
    if found:
        return found
    text = _humanized(code)
    return text[:1].upper() + text[1:]


def health(state: str) -> str:
    """A health state in words ("needs attention"); an unknown state humanized."""
    return HEALTH.get(state) or _humanized(state)


def action(code: str) -> str:
    """A required action (R19) as what the owner should do; an unknown one humanized."""
    return _sentence(ACTIONS, code)


def run_status(status: str) -> str:
    """A run status in words ("Stopped in the browser"); an unknown one humanized."""
    return _sentence(RUN_STATUS, status)


def reason(code: str | None) -> str | None:
    """A reason code in plain words (unknown codes: the code with spaces)."""
    if not code:
        return None
    return REASONS.get(code, code.replace("_", " "))


def owner_action(code: str | None) -> str:
    """An attention record's owner action in words (R19 `next_action.owner_action`, R54):
    the known ones as sentences, any other humanized ("wave_flag" is "Wave flag"), never the
    raw identifier; "" when the record names none."""
    return _sentence(OWNER_ACTIONS, code) if code else ""


def ago(then: str | None, now: datetime) -> str | None:
    """An ISO-8601 time relative to `now`: "14 min ago", "2 days ago", or "in 20 min"."""
    if not then:
        return None
    at = to_utc(then)
    return f"{span(at, now)} ago" if at <= now else f"in {span(now, at)}"


def span(start: datetime, end: datetime) -> str:
    """A duration in the largest unit that fits: "under a minute", "14 min", "3 h", "2 days"."""
    seconds = max(0.0, (end - start).total_seconds())
    if seconds < 60:
        return "under a minute"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days != 1 else ''}"


def freshness(summary: ConnectionSummary, now: datetime) -> str:
    """ "updated 14 min ago", "stale for 2 days", "never updated"."""
    captured = summary.freshness.captured_at
    if not captured:
        return "never updated"
    if summary.freshness.status == "stale":
        return f"stale for {span(to_utc(captured), now)}"
    updated = f"updated {ago(captured, now)}"
    return updated if summary.freshness.status == "current" else f"{updated} (unconfirmed)"


def run_words(run: RunView | None, now: datetime) -> str:
    """ "Failed 1 h ago: the site rejected the sign-in", "Running since 3 min ago", "Never run"."""
    if run is None:
        return "Never run"
    status = run_status(run.status)
    if run.status == "running":
        return f"Running since {ago(run.started_at, now) or 'recently'}"
    when = ago(run.finished_at or run.started_at, now)
    text = f"{status} {when}" if when else status
    why = reason(run.failure_reason)
    return f"{text}: {why}" if why else text


def records(summary: ConnectionSummary) -> str:
    """The record count with separators, or why there is none."""
    if summary.total_records is None:
        return "not counted yet" if summary.total_records_state == "unobserved" else "unknown"
    return f"{summary.total_records:,}"


def next_step(summary: ConnectionSummary) -> str:
    """The one thing to do next, as a sentence."""
    if summary.status == "revoked":
        return "Reconnect the account if you still use it"
    # R19: the verdict's actions, in its urgency order, decide; the attention record's own
    # ask words `add_info` only (while credentials fail `reauth` comes first: sign in).
    actions = [a for a in summary.rendered_verdict.required_actions if a != "wait"]
    if (not actions or actions[0] == "add_info") and summary.next_action is not None:
        asked = summary.next_action.owner_action
        return owner_action(asked) if asked and asked != "none" else ACTIONS["add_info"]
    if actions:
        return action(actions[0])
    if summary.rendered_verdict.required_actions:
        return ACTIONS["wait"]
    state = summary.connection_health.state
    failure = summary.last_run.failure_reason if summary.last_run else None
    if summary.last_run is not None and summary.last_run.status == "surface_failed":
        return _IN_BROWSER.get(failure or "", "Open the site and finish what it asks")
    if state == "blocked":
        if failure in _AUTH_REASONS:
            return "Sign in again: collection stopped until you do"
        return "Check the connection: collection keeps failing"
    if state == "cooling_off":
        return "Nothing to do: it will try again after a pause"
    if summary.last_run is None:
        return "Nothing to do: waiting for its first run"
    if summary.freshness.status == "stale":
        return "Nothing to do: the next run should catch up"
    return "Nothing to do"
