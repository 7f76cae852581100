"""R21 shape, purity (explicit now, no clock, deterministic) and scoped diagnostics."""

from __future__ import annotations

import ast
import json
from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from synthesis_builders import NOW, ago, attention, bare, healthy, run, schedule, with_latest

import pyreference.synthesis as synthesis
from pyreference.errors import InvalidInput
from pyreference.evidence import BrowserSurface, DeepEvidence, Evidence, GapDetail
from pyreference.synthesis import ConnectionSummary, Runtime, diagnose, synthesize
from tests.support.keys import R21_KEYS, assert_plain_json

RUN_KEYS = {"run_id", "status", "started_at", "finished_at", "failure_reason", "terminal_reason"}


def busy_evidence() -> Evidence:
    """Every optional block of the summary populated."""
    return healthy(open_attention=(attention(),), schedule=schedule(failures=1, next_run_in=60))


def test_to_dict_has_exactly_the_r21_keys() -> None:
    data = synthesize(busy_evidence(), NOW).to_dict()
    assert set(data) == R21_KEYS
    assert set(data["freshness"]) == {"status", "captured_at", "last_attempted_at"}
    assert set(data["connection_health"]) == {
        "state",
        "conditions",
        "unknown_reasons",
        "forward_disposition",
    }
    assert set(data["rendered_verdict"]) == {"tone", "label", "channel", "required_actions"}
    assert set(data["next_action"]) == {
        "action",
        "reason_code",
        "attention_id",
        "owner_action",
        "response_required",
        "expires_at",
    }
    assert set(data["owner_state"]) == {"resolver", "owner_of_state", "posture", "evidence_as_of"}
    assert set(data["coverage"]) == {"axis", "streams"}
    assert data["coverage"]["streams"] == data["collection_report"]
    assert set(data["last_run"]) == RUN_KEYS
    assert set(data["last_successful_run"]) == RUN_KEYS
    assert set(data["schedule"]) == {
        "interval_seconds",
        "enabled",
        "consecutive_failures",
        "next_run_at",
        "backoff_active",
    }
    assert set(data["evidence"]) == {"state", "dirty", "computed_at"}
    assert set(data["stream_records"][0]) == {
        "stream",
        "record_count",
        "count_state",
        "declaration_state",
    }


def test_to_dict_is_plain_json_data() -> None:
    data = synthesize(busy_evidence(), NOW).to_dict()
    assert_plain_json(data)
    assert json.loads(json.dumps(data)) == data


def test_identity_fields_and_evidence_block() -> None:
    evidence = replace(
        healthy(dirty=True, state="pending"),
        identity=replace(healthy().identity, status="revoked", revoked_at=ago(5)),
    )
    data = synthesize(evidence, NOW).to_dict()
    assert data["connection_id"] == "cin_work"
    assert data["connector_id"] == "gmail"
    assert data["display_name"] == "Work mail"
    assert (data["status"], data["revoked_at"], data["source_kind"]) == (
        "revoked",
        ago(5),
        "account",
    )
    assert data["evidence"] == {"state": "pending", "dirty": True, "computed_at": ago(60)}


def test_unavailable_evidence_says_so() -> None:
    data = synthesize(bare(available=False), NOW).to_dict()
    assert data["evidence"]["state"] == "unavailable"
    assert data["retained_bytes"] is None


def test_schedule_block() -> None:
    failing = with_latest(healthy(), run("run_2", "failed", started=100, finished=90))
    data = synthesize(replace(failing, schedule=schedule(failures=2, next_run_in=60)), NOW)
    data = data.to_dict()
    assert data["schedule"] == {
        "interval_seconds": 3_600,
        "enabled": True,
        "consecutive_failures": 2,
        "next_run_at": ago(-60),
        "backoff_active": True,
    }
    # R56: a newest run that succeeded supersedes the stored backoff.
    superseded = synthesize(healthy(schedule=schedule(failures=2, next_run_in=60)), NOW)
    assert superseded.schedule is not None and superseded.schedule.backoff_active is False
    assert synthesize(healthy(), NOW).schedule is None


def test_summary_is_frozen_and_hashable() -> None:
    summary = synthesize(busy_evidence(), NOW)
    with pytest.raises(FrozenInstanceError):
        summary.status = "paused"  # type: ignore[misc]
    assert hash(summary) == hash(synthesize(busy_evidence(), NOW))


def test_deterministic() -> None:
    first = synthesize(busy_evidence(), NOW, Runtime(frozenset({"x"})))
    second = synthesize(busy_evidence(), NOW, Runtime(frozenset({"x"})))
    assert first == second
    assert first.to_dict() == second.to_dict()


def test_result_depends_only_on_the_now_passed() -> None:
    evidence = healthy()
    # Far in the past and far in the future relative to the wall clock.
    past = datetime(2000, 1, 1, tzinfo=UTC)
    early = synthesize(evidence, NOW)
    assert synthesize(evidence, NOW + timedelta(days=365 * 50)).freshness.status == "stale"
    assert synthesize(evidence, NOW) == early
    assert synthesize(evidence, past).freshness.status == "current"  # captured in its future


def test_any_timezone_is_the_same_instant() -> None:
    tokyo = NOW.astimezone(timezone(timedelta(hours=9)))
    assert synthesize(busy_evidence(), tokyo) == synthesize(busy_evidence(), NOW)


@pytest.mark.parametrize("now", [datetime(2025, 6, 1, 12), "2025-06-01T12:00:00Z", None, 0])
def test_now_must_be_an_aware_datetime(now: object) -> None:
    with pytest.raises(InvalidInput):
        synthesize(healthy(), now)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        diagnose(healthy(), DeepEvidence(), now)  # type: ignore[arg-type]


def test_synthesis_never_reads_the_clock_or_does_io() -> None:
    forbidden_calls = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "open"}
    forbidden_modules = {"time", "os", "io", "socket", "sqlite3", "psycopg", "random"}
    package = Path(synthesis.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not {a.name.split(".")[0] for a in node.names} & forbidden_modules, path
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in forbidden_modules, path
            elif isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                assert name not in forbidden_calls, f"{path}: calls {name}()"


def test_diagnostics_shape_and_summary_equality() -> None:
    surface = BrowserSurface("chase:cin_work", "closed", "waiting_for_login")
    failed = run("run_2", "surface_failed", started=200, finished=100, browser_surface=surface)
    running = run("run_3", "running", started=50, finished=None)
    evidence = with_latest(healthy(), running, latest_settled_run=failed)
    deep = DeepEvidence(
        recent_runs=(running, failed, evidence.latest_successful_run),  # type: ignore[arg-type]
        pending_gaps=(GapDetail("gap_1", "messages", "pending", "timeout", ago(-60), ago(30)),),
        attention=(attention("att_1"), attention("att_2", expires=10)),
    )
    runtime = Runtime(live_run_ids=frozenset())
    diag = diagnose(evidence, deep, NOW, runtime)
    assert diag.summary == synthesize(evidence, NOW, runtime)

    data = diag.to_dict()
    assert_plain_json(data)
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {
        "summary",
        "coverage",
        "recent_runs",
        "browser_surface_history",
        "pending_gaps",
        "attention",
        "evidence",
    }
    assert [(r["run_id"], r["status"]) for r in data["recent_runs"]] == [
        ("run_3", "failed"),  # not live any more
        ("run_2", "surface_failed"),
        ("run_1", "succeeded"),
    ]
    assert data["recent_runs"][1]["failure_reason"] == "waiting_for_login"
    assert data["recent_runs"][1]["terminal_reason"] is None
    assert data["recent_runs"][1]["browser_surface"] == {
        "profile_key": "chase:cin_work",
        "status": "closed",
        "wait_reason": "waiting_for_login",
    }
    assert data["browser_surface_history"] == [
        {
            "run_id": "run_2",
            "profile_key": "chase:cin_work",
            "status": "closed",
            "wait_reason": "waiting_for_login",
            "at": ago(100),
        }
    ]
    assert data["pending_gaps"] == [
        {
            "gap_id": "gap_1",
            "stream": "messages",
            "status": "pending",
            "reason": "timeout",
            "next_attempt_after": ago(-60),
            "updated_at": ago(30),
        }
    ]
    assert [(a["attention_id"], a["active"]) for a in data["attention"]] == [
        ("att_1", True),
        ("att_2", False),  # expired ten seconds ago
    ]
    assert data["evidence"] == {
        "state": "ok",
        "dirty": False,
        "recomputed": False,
        "computed_at": ago(60),
        "last_error": None,
    }


def test_public_names() -> None:
    assert set(synthesis.__all__) >= {"Runtime", "synthesize", "diagnose", "ConnectionSummary"}
    assert isinstance(synthesize(bare(), NOW), ConnectionSummary)
