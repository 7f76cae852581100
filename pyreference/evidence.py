"""Durable evidence as read from the database: the input of synthesis.

These dataclasses are the contract between the database layer (which fills
them from the evidence table, or from an on-the-fly recomputation of a dirty
row) and the pure synthesis package (which never touches a database).

Every timestamp here is canonical ISO-8601 UTC text
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (text order is time order) or ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .frozen import fast_init

# Run statuses a run-bearing event type implies when it carries no explicit one.
RUN_STATUS_BY_EVENT_TYPE = {
    "run.started": "running",
    "run.completed": "succeeded",
    "run.failed": "failed",
    "run.cancelled": "cancelled",
    "run.browser_surface_failed": "surface_failed",
}
RUN_EVENT_TYPES = (
    "run.started",
    "run.completed",
    "run.failed",
    "run.cancelled",
    "run.browser_surface_failed",
    "run.browser_surface_waiting",
    "run.progress_reported",
)


@fast_init
@dataclass(frozen=True, slots=True)
class Skip:
    """Why a run skipped a stream (R51: ``skipped`` is ``{reason, recovery_action?}``)."""

    reason: str | None = None
    recovery_action: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class StreamFacts:
    """One stream's collection facts as a run reported them (R51 spellings, decoded).

    ``collected`` is 0 when absent or not a non-negative number; ``considered`` and
    ``covered`` are None ("unknown") unless a non-negative integer.
    """

    stream: str
    checkpoint: str | None = None  # committed|disabled prove coverage; anything else does not
    collected: int | None = None
    considered: int | None = None
    pending_detail_gaps: int | None = None
    run_id: str | None = None  # the run that reported these facts
    covered: int | None = None
    skipped: Skip | None = None
    finished_at: str | None = None  # the reporting run's finish time (R61 evidence_as_of)


@fast_init
@dataclass(frozen=True, slots=True)
class KnownGap:
    """One entry of a run's ``known_gaps`` (R57), reduced to what classification reads.

    A non-object entry keeps ``is_object=False`` and nothing else. ``action`` is the
    ``recovery_hint`` when it is text, else ``recovery_hint.action``.
    """

    is_object: bool = True
    kind: str | None = None
    reason: str | None = None
    message: str | None = None
    severity: str | None = None
    stream: str | None = None
    action: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class BrowserSurface:
    profile_key: str | None = None
    status: str | None = None
    wait_reason: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class RunEvidence:
    """One attributed run, as projected from the spine by trigger."""

    run_id: str
    status: str  # running|succeeded|failed|cancelled|surface_failed|skipped|<explicit>
    started_at: str | None = None
    finished_at: str | None = None
    failure_reason: str | None = None
    terminal_reason: str | None = None  # e.g. "owner_cancelled"
    browser_surface: BrowserSurface | None = None
    collection_facts: tuple[StreamFacts, ...] = ()
    known_gaps: tuple[KnownGap, ...] = ()  # the settling event's `known_gaps` (R57)


@fast_init
@dataclass(frozen=True, slots=True)
class StreamStats:
    """Record evidence for one stream of one connection."""

    stream: str
    live_count: int = 0  # live (not deleted) records
    row_count: int = 0  # rows ever held, deleted included: > 0 proves the stream once had records
    retained_bytes: int = 0
    last_record_at: str | None = None  # latest emitted_at of live records


@fast_init
@dataclass(frozen=True, slots=True)
class PendingGaps:
    """Pending gaps of one stream sharing a retry time and a reason (R55)."""

    next_attempt_after: str | None  # None: eligible at once
    reason: str | None
    count: int


@fast_init
@dataclass(frozen=True, slots=True)
class GapCounts:
    """Detail gaps of one stream: pending ones by retry time, in-progress and terminal counts.

    ``pending`` holds groups in order (eligible-at-once first, then by retry time and
    reason); whether a group is eligible depends on ``now`` and is decided at read time.
    """

    stream: str
    pending: tuple[PendingGaps, ...] = ()
    in_progress: int = 0
    terminal: int = 0


@fast_init
@dataclass(frozen=True, slots=True)
class Schedule:
    interval_seconds: int | None
    enabled: bool
    consecutive_failures: int = 0
    next_run_at: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class Attention:
    """An attention record whose lifecycle is open, acknowledged or in_progress.

    Expiry is time-relative, so it is decided at read time against ``now``.
    """

    attention_id: str
    reason_code: str
    owner_action: str | None = None
    lifecycle: str = "open"
    response_required: bool = False
    expires_at: str | None = None
    created_at: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class DeclaredStream:
    name: str
    required: bool = True  # manifest `required` absent means required
    coverage_strategy: str | None = None
    freshness_strategy: str | None = None
    coverage_policy: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    recommended_mode: str | None = None  # manual|automatic|paused|...
    maximum_staleness_seconds: float | None = None  # positive finite, else None
    background_safe: bool | None = None
    interaction_posture: str | None = None  # credentials|manual_action_likely|otp_likely|...


@fast_init
@dataclass(frozen=True, slots=True)
class ConnectorProfile:
    """What a connector's manifest says that summaries need (maintained digest)."""

    connector_id: str
    display_name: str | None = None  # the manifest's, when a non-empty string (R53)
    declared_streams: tuple[DeclaredStream, ...] = ()
    manifest_usable: bool = True  # False: no usable `streams` array -> declaration unavailable
    refresh_policy: RefreshPolicy = field(default_factory=RefreshPolicy)
    version: str | None = None
    browser_required: bool = False  # runtime_requirements.bindings.browser.required is true


@fast_init
@dataclass(frozen=True, slots=True)
class Identity:
    """Live identity fields of the connection (read from connector_instances)."""

    connection_id: str
    connector_id: str
    display_name: str | None
    status: str  # active|paused|revoked|draft
    source_kind: str
    created_at: str | None = None
    revoked_at: str | None = None
    owner_subject_id: str = "owner_local"


@fast_init
@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything synthesis needs about one connection.

    ``available`` is False when no evidence row could be read at all.
    ``state`` is the maintained row's state: ``ok`` (reconciled), ``pending``
    (never reconciled yet) or ``failed`` (the last reconcile failed).
    ``dirty`` means writes are pending reconcile; ``recomputed`` means this read
    recomputed the row from canonical tables, so it is current and reliable
    even though the stored row is dirty or failed.
    """

    identity: Identity
    profile: ConnectorProfile
    available: bool = True
    state: str = "ok"
    dirty: bool = False
    recomputed: bool = False
    computed_at: str | None = None
    last_error: str | None = None
    streams: tuple[StreamStats, ...] = ()
    retained_bytes: int = 0
    last_record_at: str | None = None
    latest_run: RunEvidence | None = None
    latest_successful_run: RunEvidence | None = None
    latest_settled_run: RunEvidence | None = None  # newest non-running run, `skipped` excluded
    failures_since_success: int = 0
    stream_facts: tuple[StreamFacts, ...] = ()  # per stream: latest committed, else latest
    gaps: tuple[GapCounts, ...] = ()
    schedule: Schedule | None = None
    open_attention: tuple[Attention, ...] = ()
    # Why this connection's stored evidence could not be read (then `available` is
    # False): a code such as `evidence_timestamp_invalid`; health reports it.
    problem: str | None = None

    @property
    def reliable(self) -> bool:
        """Evidence is trustworthy when recomputed by this read, or stored, clean and not failed.

        A dirty row that the read could not recompute is stale, and a failed
        one is known wrong: neither may back a verdict.
        """
        if not self.available:
            return False
        if self.recomputed:
            return True
        return not self.dirty and self.state != "failed"


@fast_init
@dataclass(frozen=True, slots=True)
class GapDetail:
    gap_id: str
    stream: str
    status: str
    reason: str | None = None
    next_attempt_after: str | None = None
    updated_at: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class DeepEvidence:
    """Scoped-read extras: history that the list path never hydrates."""

    recent_runs: tuple[RunEvidence, ...] = ()  # newest first
    pending_gaps: tuple[GapDetail, ...] = ()
    attention: tuple[Attention, ...] = ()  # every non-resolved, non-expired-lifecycle record
