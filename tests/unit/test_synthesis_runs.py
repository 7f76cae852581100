"""R15: run fields as shown in summaries (liveness and browser-surface fallbacks)."""

from __future__ import annotations

import pytest
from synthesis_builders import NOW, ago, bare, healthy, run, with_latest

from pyreference.evidence import BrowserSurface, RunEvidence
from pyreference.synthesis import Runtime, synthesize


def test_last_runs_carry_their_fields() -> None:
    failed = run("run_2", "failed", started=120, finished=60, failure_reason="login_expired")
    summary = synthesize(with_latest(healthy(), failed), NOW)
    assert summary.to_dict()["last_run"] == {
        "run_id": "run_2",
        "status": "failed",
        "started_at": ago(120),
        "finished_at": ago(60),
        "failure_reason": "login_expired",
        "terminal_reason": None,
    }
    assert summary.last_successful_run is not None
    assert summary.last_successful_run.run_id == "run_1"


def test_no_runs_gives_nulls() -> None:
    summary = synthesize(bare(), NOW)
    assert summary.last_run is None
    assert summary.last_successful_run is None


@pytest.mark.parametrize(
    ("surface", "failure_reason", "expected"),
    [
        (BrowserSurface("p", "closed", "waiting_for_login"), None, "waiting_for_login"),
        (BrowserSurface("p", "closed", None), None, "closed"),
        (BrowserSurface("p", None, None), None, "browser_surface_failed"),
        (None, None, "browser_surface_failed"),
        (BrowserSurface("p", "closed", "waiting"), "profile_locked", "profile_locked"),
    ],
)
def test_surface_failed_reason_fallbacks(
    surface: BrowserSurface | None, failure_reason: str | None, expected: str
) -> None:
    latest = run("run_2", "surface_failed", browser_surface=surface, failure_reason=failure_reason)
    summary = synthesize(with_latest(healthy(), latest), NOW)
    assert summary.last_run is not None
    assert summary.last_run.failure_reason == expected


def test_fallback_applies_only_to_surface_failed_runs() -> None:
    latest = run("run_2", "failed", browser_surface=BrowserSurface("p", "closed", "waiting"))
    summary = synthesize(with_latest(healthy(), latest), NOW)
    assert summary.last_run is not None
    assert summary.last_run.failure_reason is None


def _running() -> RunEvidence:
    return run("run_live", "running", started=30, finished=None)


@pytest.mark.parametrize(
    ("runtime", "status"),
    [
        (None, "running"),
        (Runtime(), "running"),
        (Runtime(live_run_ids=frozenset({"run_live"})), "running"),
        (Runtime(live_run_ids=frozenset({"other"})), "failed"),
        (Runtime(live_run_ids=frozenset()), "failed"),
    ],
)
def test_running_run_liveness(runtime: Runtime | None, status: str) -> None:
    summary = synthesize(with_latest(healthy(), _running()), NOW, runtime)
    assert summary.last_run is not None
    assert summary.last_run.status == status
    assert summary.last_run.finished_at is None
    assert summary.last_run.started_at == ago(30)


def test_liveness_only_touches_running_runs() -> None:
    runtime = Runtime(live_run_ids=frozenset())
    summary = synthesize(healthy(), NOW, runtime)
    assert summary.last_run is not None
    assert summary.last_run.status == "succeeded"
    assert summary.last_run.finished_at == ago(3_600)


def test_explicit_status_passes_through() -> None:
    skipped = run("run_2", "skipped", started=20, finished=10)
    summary = synthesize(with_latest(healthy(), skipped), NOW)
    assert summary.last_run is not None
    assert summary.last_run.status == "skipped"
