"""Small evidence builders for the pure synthesis tests (no database anywhere)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pyreference.evidence import (
    Attention,
    ConnectorProfile,
    DeclaredStream,
    Evidence,
    GapCounts,
    Identity,
    PendingGaps,
    RefreshPolicy,
    RunEvidence,
    Schedule,
    StreamFacts,
    StreamStats,
)

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
DAY = 86_400


def ago(seconds: float, *, now: datetime = NOW) -> str:
    """Canonical timestamp text ``seconds`` before ``now`` (negative: after)."""
    return (now - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def run(
    run_id: str = "run_1",
    status: str = "succeeded",
    *,
    started: float | None = 3_700,
    finished: float | None = 3_600,
    **fields: Any,
) -> RunEvidence:
    """A run started/finished the given number of seconds before NOW."""
    return RunEvidence(
        run_id=run_id,
        status=status,
        started_at=ago(started) if started is not None else None,
        finished_at=ago(finished) if finished is not None else None,
        **fields,
    )


def profile(
    streams: tuple[DeclaredStream, ...] = (DeclaredStream("messages"),),
    *,
    mode: str | None = "automatic",
    window: float | None = DAY,
    background_safe: bool | None = True,
    manifest_usable: bool = True,
) -> ConnectorProfile:
    return ConnectorProfile(
        connector_id="gmail",
        display_name="Gmail",
        declared_streams=streams,
        manifest_usable=manifest_usable,
        refresh_policy=RefreshPolicy(
            recommended_mode=mode,
            maximum_staleness_seconds=window,
            background_safe=background_safe,
        ),
    )


def bare(**overrides: Any) -> Evidence:
    """A connection that exists and has never run."""
    base = Evidence(
        identity=Identity(
            connection_id="cin_work",
            connector_id="gmail",
            display_name="Work mail",
            status="active",
            source_kind="account",
            created_at=ago(30 * DAY),
        ),
        profile=profile(),
        computed_at=ago(60),
    )
    return replace(base, **overrides)


def healthy(**overrides: Any) -> Evidence:
    """A healthy automatic connection: one successful, committed run an hour ago."""
    ok = run(
        collection_facts=(StreamFacts("messages", "committed", 10, 10, 0, run_id="run_1"),),
    )
    base = bare(
        streams=(StreamStats("messages", live_count=10, row_count=10, retained_bytes=500),),
        retained_bytes=500,
        last_record_at=ago(3_650),
        latest_run=ok,
        latest_successful_run=ok,
        latest_settled_run=ok,
        stream_facts=ok.collection_facts,
    )
    return replace(base, **overrides)


def with_latest(evidence: Evidence, latest: RunEvidence, **overrides: Any) -> Evidence:
    """Make ``latest`` the newest run, and the settled one as the database would."""
    settled: RunEvidence | None = latest
    if latest.status in ("running", "skipped"):
        settled = evidence.latest_settled_run
    fields: dict[str, Any] = {"latest_run": latest, "latest_settled_run": settled, **overrides}
    return replace(evidence, **fields)


def attention(
    attention_id: str = "att_1",
    *,
    created: float = 600,
    expires: float | None = None,
    **fields: Any,
) -> Attention:
    fields.setdefault("reason_code", "otp_required")
    fields.setdefault("owner_action", "enter_otp")
    return Attention(
        attention_id=attention_id,
        created_at=ago(created),
        expires_at=ago(expires) if expires is not None else None,
        **fields,
    )


def schedule(
    *, enabled: bool = True, failures: int = 0, next_run_in: float | None = None
) -> Schedule:
    """A schedule; ``next_run_in`` is seconds after NOW (negative: in the past)."""
    return Schedule(
        interval_seconds=3_600,
        enabled=enabled,
        consecutive_failures=failures,
        next_run_at=ago(-next_run_in) if next_run_in is not None else None,
    )


def gap_counts(
    stream: str,
    pending: int = 0,
    terminal: int = 0,
    *,
    retry_in: float | None = None,
    reason: str | None = None,
    in_progress: int = 0,
) -> GapCounts:
    """Detail gaps of one stream; pending ones retry ``retry_in`` seconds after NOW (None: now)."""
    groups = (
        (PendingGaps(ago(-retry_in) if retry_in is not None else None, reason, pending),)
        if pending
        else ()
    )
    return GapCounts(stream, groups, in_progress, terminal)
