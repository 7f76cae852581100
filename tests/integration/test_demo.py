"""The demo fleet shows every promised state, identically on SQLite and Postgres."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

import pyreference
from pyreference import words
from pyreference.demo import (
    DRAFT_ID,
    EXPECTED,
    EXPECTED_RESOLVERS,
    EXPECTED_VERDICTS,
    build_demo_fleet,
    resolvers,
    run_demo,
    verdicts,
)
from pyreference.store import Store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
# R17, R19, R61: every health state, tone, label, action and forward disposition.
PROMISED_STATES = {
    "healthy",
    "idle",
    "degraded",
    "blocked",
    "needs_attention",
    "cooling_off",
    "unknown",
}
PROMISED_TONES = {"green", "amber", "red", "grey"}
PROMISED_LABELS = {
    "Healthy",
    "Checking",
    "Not measured",
    "Syncing",
    "Needs refresh",
    "Degraded",
    "Can't collect",
}
PROMISED_ACTIONS = {
    "reauth",
    "add_info",
    "code_fix",
    "reattach_schedule",
    "refresh_now",
    "retry_gap",
    "wait",
}
PROMISED_DISPOSITIONS = {
    "complete",
    "resumable",
    "awaiting_owner",
    "owner_refresh_due",
    "terminal",
    "unmeasured",
}


def _rows(store: Store) -> dict[str, dict[str, Any]]:
    return {s.connection_id: s.to_dict() for s in store.iter_connection_summaries(NOW)}


@pytest.fixture
def fleet(store: Store) -> dict[str, dict[str, Any]]:
    created = build_demo_fleet(store, NOW)
    assert len(created) >= 12 and DRAFT_ID in created
    store.reconcile()
    return _rows(store)


def test_every_promised_state_and_tone(fleet: dict[str, dict[str, Any]]) -> None:
    got = {
        cid: (r["connection_health"]["state"], r["rendered_verdict"]["tone"])
        for cid, r in fleet.items()
    }
    assert got == EXPECTED
    assert {state for state, _ in got.values()} >= PROMISED_STATES
    assert {tone for _, tone in got.values()} == PROMISED_TONES


def test_every_label_action_and_disposition(fleet: dict[str, dict[str, Any]]) -> None:
    """Review F5: `unknown`, `Checking`, `Syncing`, `retry_gap`, `wait`, `add_info` and
    `awaiting_owner` each appear, on connections that really produce them."""
    assert verdicts(fleet.values()) == EXPECTED_VERDICTS
    assert {label for label, _ in EXPECTED_VERDICTS.values()} == PROMISED_LABELS
    assert {a for _, actions in EXPECTED_VERDICTS.values() for a in actions} == PROMISED_ACTIONS
    dispositions = {r["connection_health"]["forward_disposition"] for r in fleet.values()}
    assert dispositions == PROMISED_DISPOSITIONS
    assert fleet["cin_oura"]["connection_health"]["unknown_reasons"] == ["collection"]
    assert fleet["cin_apple_contacts"]["last_run"]["status"] == "running"
    assert fleet["cin_whoop"]["last_run"]["status"] == "running"
    takeout = fleet["cin_google_takeout"]
    assert takeout["connection_health"]["forward_disposition"] == "awaiting_owner"
    assert takeout["next_action"]["attention_id"] == "att_takeout_1"


def test_an_eligible_retryable_gap_is_shown(store: Store, fleet: dict) -> None:
    """README: retryable detail gaps, one due now (eligible, R55), one cooling down."""
    for cid, stream in (("cin_strava", "activities"), ("cin_groupme", "group_messages")):
        row = fleet[cid]
        assert row["coverage"]["axis"] == "retryable_gap"
        (entry,) = [e for e in row["collection_report"] if e["stream"] == stream]
        assert entry["pending_detail_gaps"] == 1 and entry["forward_disposition"] == "resumable"
    (gap,) = store.connection_diagnostics("cin_strava", NOW).to_dict()["pending_gaps"]
    assert gap["next_attempt_after"] < NOW.isoformat().replace("+00:00", "Z")


def test_draft_is_not_listed_but_scoped_read_finds_it(store: Store, fleet: dict) -> None:
    assert DRAFT_ID not in fleet
    summary = store.get_connection_summary(DRAFT_ID, NOW)
    assert summary is not None and summary.status == "draft"


def test_siblings_show_only_their_own_runs(fleet: dict[str, dict[str, Any]]) -> None:
    personal, household = fleet["cin_amazon_personal"], fleet["cin_amazon_household"]
    assert personal["last_run"]["run_id"] == "run_amz_p1"
    assert personal["last_successful_run"]["run_id"] == "run_amz_p1"
    assert household["last_run"]["run_id"] == "run_amz_h2"
    assert household["last_run"]["status"] == "running"
    assert household["last_successful_run"]["run_id"] == "run_amz_h1"
    assert personal["total_records"] == 16 and household["total_records"] == 6


def test_surface_failure_shows_its_wait_reason(fleet: dict[str, dict[str, Any]]) -> None:
    run = fleet["cin_heb"]["last_run"]
    assert run["status"] == "surface_failed"
    assert run["failure_reason"] == "otp_required"
    conditions = {c["reason_code"] for c in fleet["cin_heb"]["connection_health"]["conditions"]}
    assert "browser_surface_failed" in conditions


def test_story_details(fleet: dict[str, dict[str, Any]]) -> None:
    assert fleet["cin_github"]["freshness"]["status"] == "stale"
    assert fleet["cin_chase"]["last_run"]["failure_reason"] == "login_rejected"
    assert fleet["cin_slack"]["last_run"] is None
    assert fleet["cin_slack"]["total_records"] is None  # unobserved, never shown as 0
    # Its only gap is cooling down: healthy, counted nowhere (R55).
    assert fleet["cin_google_calendar"]["rendered_verdict"]["required_actions"] == []
    assert fleet["cin_google_calendar"]["coverage"]["axis"] == "complete"
    assert fleet["cin_ynab"]["rendered_verdict"]["required_actions"] == ["code_fix"]
    assert fleet["cin_chase"]["rendered_verdict"]["required_actions"] == ["reauth"]
    assert fleet["cin_chatgpt"]["rendered_verdict"]["required_actions"] == ["reauth"]
    assert fleet["cin_gmail_personal"]["rendered_verdict"]["required_actions"] == ["refresh_now"]
    conditions = fleet["cin_gmail_personal"]["connection_health"]["conditions"]
    assert [c["reason_code"] for c in conditions] == ["stale_assisted_refresh"]
    contacts = fleet["cin_google_contacts"]
    assert contacts["next_action"]["owner_action"] == "reauthorize"
    assert contacts["rendered_verdict"]["channel"] == "attention"
    assert fleet["cin_claude_code"]["rendered_verdict"]["required_actions"] == ["reattach_schedule"]
    assert fleet["cin_usaa"]["rendered_verdict"]["required_actions"] == ["refresh_now"]
    assert fleet["cin_chatgpt"]["schedule"]["consecutive_failures"] >= 7
    assert fleet["cin_spotify_old"]["status"] == "revoked"
    assert fleet["cin_spotify_old"]["revoked_at"] is not None
    assert fleet["cin_spotify_old"]["rendered_verdict"]["required_actions"] == []
    assert fleet["cin_spotify_old"]["last_run"]["run_id"] == "run_spotify_1"


def test_every_owner_state(fleet: dict[str, dict[str, Any]]) -> None:
    assert resolvers(fleet.values()) == EXPECTED_RESOLVERS


def test_cooling_down_gap_shows_in_diagnostics(store: Store, fleet: dict) -> None:
    diag = store.connection_diagnostics("cin_google_calendar", NOW).to_dict()
    (gap,) = diag["pending_gaps"]
    assert gap["gap_id"] == "gap_gcal_events_1" and gap["next_attempt_after"] is not None


def test_reads_before_reconcile_agree_with_reads_after(store: Store) -> None:
    build_demo_fleet(store, NOW)
    before = _rows(store)
    store.reconcile()
    after = _rows(store)
    assert store.verify() == []
    for rows in (before, after):
        for row in rows.values():
            row.pop("evidence")
            row.pop("retained_bytes")
    assert before == after


def _comparable(store: Store) -> list[dict[str, Any]]:
    rows = [s.to_dict() for s in store.iter_connection_summaries(NOW)]
    for row in rows:
        row["evidence"].pop("computed_at")
        row.pop("retained_bytes")
    return rows


def test_parity_sqlite_and_postgres(request: pytest.FixtureRequest) -> None:
    sqlite_store = pyreference.connect(request.getfixturevalue("sqlite_conn"))
    pg_store = pyreference.connect(request.getfixturevalue("pg_dsn"))
    try:
        for s in (sqlite_store, pg_store):
            build_demo_fleet(s, NOW)
            s.reconcile()
        lite, pg = _comparable(sqlite_store), _comparable(pg_store)
        assert len(lite) == len(EXPECTED)
        assert lite == pg
        assert sqlite_store.verify() == pg_store.verify() == []
    finally:
        sqlite_store.close()
        pg_store.close()


def test_same_now_same_fleet(request: pytest.FixtureRequest) -> None:
    a = pyreference.connect(request.getfixturevalue("sqlite_conn"))
    b = pyreference.connect("sqlite:///:memory:")
    b.migrate()
    for s in (a, b):
        build_demo_fleet(s, NOW)
    assert _comparable(a) == _comparable(b)


def test_run_demo_json_is_pure_json(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    rows = run_demo(f"sqlite:///{tmp_path / 'demo.db'}", as_json=True, now=NOW)
    out = capsys.readouterr().out
    assert json.loads(out) == rows
    assert {r["connection_id"] for r in rows} == set(EXPECTED)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_run_demo_leaves_a_reconciled_read_model(
    backend: str, tmp_path: Any, request: pytest.FixtureRequest, capsys: Any
) -> None:
    """`pyreference demo --dsn` then `serve`: /healthz's `last_reconciled_at` (and the
    metric) must say when the demo's reconcile ran, and nothing is left dirty."""
    dsn = (
        f"sqlite:///{tmp_path / 'demo.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("empty_pg_dsn")
    )
    run_demo(dsn, as_json=True, now=NOW)
    capsys.readouterr()
    with pyreference.connect(dsn) as store:
        health = store.read_model_health()
    assert health["last_reconciled_at"] is not None
    assert health["dirty_connections"] == 0 and health["failed_rows"] == 0


def test_run_demo_table_shows_every_state_label_and_action_in_words(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review F5: the table prints health, labels and actions as words (the console's
    vocabulary, `pyreference.words`), never identifiers such as `needs_attention`."""
    from rich.console import Console

    from pyreference import render_table

    wide = Console(width=400, color_system=None)  # no cell wraps a sentence
    monkeypatch.setattr(render_table, "stdout_console", lambda: wide)
    run_demo(f"sqlite:///{tmp_path / 'demo.db'}", now=NOW)
    out = capsys.readouterr().out
    for state in PROMISED_STATES:
        assert words.health(state) in out, state
    for label in PROMISED_LABELS:
        assert label in out, label
    for action in PROMISED_ACTIONS:
        assert words.action(action) in out, action
    for identifier in ("needs_attention", "cooling_off", "retry_gap", "add_info", "reauth"):
        assert identifier not in out, identifier
