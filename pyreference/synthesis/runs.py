"""R15/R16: how a run is shown, which run classifies the connection, and its verdict."""

from __future__ import annotations

from dataclasses import dataclass

from pyreference.evidence import Evidence, RunEvidence
from pyreference.frozen import fast_init
from pyreference.synthesis.model import BrowserSurfaceView, RunDetail, RunView

# A cancel the owner asked for says nothing about the source (R16).
OWNER_CANCELS = ("owner_cancelled", "owner_cancel_forced")
_FAILED_VERDICT = ("failed", "cancelled", "abandoned")


# A Python class compiled or not (fast_init keeps mypyc from making it native): callers
# build it, so it must accept, pickle and copy alike either way.
@fast_init
@dataclass(frozen=True, slots=True)
class Runtime:
    """Process-local facts a caller may add; ``None`` means "not known", not "none live"."""

    live_run_ids: frozenset[str] | None = None


def show_run(run: RunEvidence, runtime: Runtime) -> RunView:
    """A run as shown (R15): an orphaned ``running`` run reads ``failed`` with no finish."""
    status, finished_at = run.status, run.finished_at
    live = runtime.live_run_ids
    if status == "running" and live is not None and run.run_id not in live:
        # The process that owned it is gone: it will never settle by itself.
        status, finished_at = "failed", None
    return RunView(
        run.run_id,
        status,
        run.started_at,
        finished_at,
        shown_failure_reason(run),  # failure_reason
        run.terminal_reason,
    )


def shown_failure_reason(run: RunEvidence) -> str | None:
    """R15: a surface failure without a reason shows its wait reason, else its status."""
    if run.status != "surface_failed" or run.failure_reason:
        return run.failure_reason
    surface = run.browser_surface
    if surface is not None and surface.wait_reason:
        return surface.wait_reason
    if surface is not None and surface.status:
        return surface.status
    return "browser_surface_failed"


def show_run_detail(run: RunEvidence, runtime: Runtime) -> RunDetail:
    surface = run.browser_surface
    return RunDetail(
        run=show_run(run, runtime),
        browser_surface=(
            BrowserSurfaceView(surface.profile_key, surface.status, surface.wait_reason)
            if surface is not None
            else None
        ),
    )


def run_time(run: RunEvidence) -> str | None:
    """When a run last did something: its finish, else its start."""
    return run.finished_at or run.started_at


def owner_cancelled(run: RunEvidence) -> bool:
    """R16: cancelled, with a terminal (else failure) reason naming the owner."""
    reason = run.terminal_reason or run.failure_reason
    return run.status == "cancelled" and reason in OWNER_CANCELS


def classifying_run(evidence: Evidence) -> RunEvidence | None:
    """C, the run whose outcome classifies the connection (R16).

    The database picks the newest settled run that is not a skip (a skip is passed
    over). An owner's own cancel yields to the last success, or to none.
    """
    run = evidence.latest_settled_run
    if run is None or run.status in ("skipped", "running"):
        return None
    if owner_cancelled(run):
        return evidence.latest_successful_run
    return run


def verdict_of(run: RunEvidence | None) -> str:
    """R17: ``succeeded``, ``failed`` (failed, cancelled, abandoned) or ``none``."""
    if run is None:
        return "none"
    if run.status == "succeeded":
        return "succeeded"
    return "failed" if run.status in _FAILED_VERDICT else "none"
