"""R52: the owner state (who the connection's state belongs to) and its source work."""

from __future__ import annotations

from pyreference.evidence import RunEvidence
from pyreference.synthesis.health import HealthInputs
from pyreference.synthesis.model import OwnerState, RenderedVerdict, RunView

_OWNER_OF = {
    "retired": "maintainer",
    "blocked_maintainer": "maintainer",
    "needs_owner": "owner",
    "owner_paused": "owner",
    "refresh_due": "owner",
    "setup_in_progress": "owner",
}
SOURCE_WORK = {
    "blocked_maintainer": "system_issue",
    "system_degraded": "system_issue",
    "collecting": "working",
    "healthy": "none",
    "retired": "none",
    "needs_owner": "needs_owner",
    "setup_in_progress": "needs_owner",
    "not_measured": "not_measured",
    "owner_paused": "review",
    "refresh_due": "review",
}


def _evidence(
    inp: HealthInputs, run: RunEvidence | None, last_run: RunView | None
) -> tuple[str, str | None]:
    """(posture, evidence_as_of): a run in progress, else C, else captured data, else none."""
    if inp.run_in_progress and last_run is not None:
        return "observed", last_run.started_at
    if run is not None:
        posture = "observed" if run.status == "succeeded" else "frozen-since-last-run"
        return posture, run.finished_at
    return "observed", inp.freshness.captured_at


def _resolver(inp: HealthInputs, state: str, verdict: RenderedVerdict, has_evidence: bool) -> str:
    status = inp.evidence.identity.status
    actions = verdict.required_actions
    first = actions[0] if actions else None
    if status == "revoked":
        return "retired"
    if first == "code_fix":
        return "blocked_maintainer"
    if status == "draft" and not inp.run_in_progress:
        return "setup_in_progress"
    if verdict.channel == "attention":
        return "needs_owner"
    if inp.posture.schedule_off and inp.evidence.latest_successful_run is not None:
        return "owner_paused"
    if inp.run_in_progress:
        return "collecting"
    if not has_evidence or verdict.tone == "grey":
        return "not_measured"
    if first == "refresh_now" or inp.disposition == "owner_refresh_due":
        return "refresh_due"
    if verdict.tone == "red" or (verdict.tone == "amber" and state != "cooling_off"):
        return "system_degraded"
    return "healthy"


def owner_state(
    inp: HealthInputs,
    state: str,
    verdict: RenderedVerdict,
    run: RunEvidence | None,
    last_run: RunView | None,
) -> OwnerState:
    """R52's ``owner_state``; ``run`` is C and ``last_run`` the newest run as shown."""
    posture, as_of = _evidence(inp, run, last_run)
    has_evidence = inp.run_in_progress or run is not None or as_of is not None
    resolver = _resolver(inp, state, verdict, has_evidence)
    return OwnerState(
        resolver=resolver,
        owner_of_state=_OWNER_OF.get(resolver, "system"),
        posture=posture,
        evidence_as_of=as_of,
    )
