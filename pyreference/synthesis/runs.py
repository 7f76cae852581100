"""R15: how a run is shown, and which run classifies the connection's outcome."""

from __future__ import annotations

from dataclasses import dataclass

from pyreference.evidence import Evidence, RunEvidence
from pyreference.synthesis.model import BrowserSurfaceView, RunDetail, RunView

OWNER_CANCELLED = "owner_cancelled"


@dataclass(frozen=True, slots=True)
class Runtime:
    """Process-local facts a caller may add; ``None`` means "not known", not "none live"."""

    live_run_ids: frozenset[str] | None = None


def show_run(run: RunEvidence, runtime: Runtime) -> RunView:
    status, finished_at = run.status, run.finished_at
    live = runtime.live_run_ids
    if status == "running" and live is not None and run.run_id not in live:
        # The process that owned it is gone: it will never settle by itself.
        status, finished_at = "failed", None
    return RunView(
        run_id=run.run_id,
        status=status,
        started_at=run.started_at,
        finished_at=finished_at,
        failure_reason=_failure_reason(run),
    )


def _failure_reason(run: RunEvidence) -> str | None:
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
        terminal_reason=run.terminal_reason,
        browser_surface=(
            BrowserSurfaceView(surface.profile_key, surface.status, surface.wait_reason)
            if surface is not None
            else None
        ),
    )


def run_time(run: RunEvidence) -> str | None:
    """When a run last did something: its finish, else its start."""
    return run.finished_at or run.started_at


def classifying_run(evidence: Evidence) -> RunEvidence | None:
    """The run whose outcome classifies the connection (R16).

    The database already picks the newest settled, non-skipped run; an owner's own
    cancel says nothing about the source, so it yields to the last success.
    """
    run = evidence.latest_settled_run
    if run is None or run.status in ("skipped", "running"):
        return None
    if run.terminal_reason == OWNER_CANCELLED:
        return evidence.latest_successful_run
    return run
