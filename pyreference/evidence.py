"""Durable evidence as read from the database: the input of synthesis.

These dataclasses are the contract between the database layer (which fills
them from the evidence table, or from an on-the-fly recomputation of a dirty
row) and the pure synthesis package (which never touches a database). The ones
a page builds most (`StreamFacts`, `RunEvidence`, `StreamStats`, `Identity`,
`Evidence`) are written with an explicit ``__init__`` and made frozen dataclasses
by `frozen.frozen_record`, so that compiled they are native classes.

Every timestamp here is canonical ISO-8601 UTC text
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (text order is time order) or ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .frozen import fast_init, frozen_record

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


class StreamFacts:
    """One stream's collection facts as a run reported them (R51 spellings, decoded).

    ``collected`` is 0 when absent or not a non-negative number; ``considered`` and
    ``covered`` are None ("unknown") unless a non-negative integer.
    """

    stream: str
    checkpoint: str | None  # committed|disabled prove coverage; anything else does not
    collected: int | None
    considered: int | None
    pending_detail_gaps: int | None
    run_id: str | None  # the run that reported these facts
    covered: int | None
    skipped: Skip | None
    finished_at: str | None  # the reporting run's finish time (R61 evidence_as_of)

    def __init__(
        self,
        stream: str,
        checkpoint: str | None = None,
        collected: int | None = None,
        considered: int | None = None,
        pending_detail_gaps: int | None = None,
        run_id: str | None = None,
        covered: int | None = None,
        skipped: Skip | None = None,
        finished_at: str | None = None,
    ) -> None:
        self.stream = stream
        self.checkpoint = checkpoint
        self.collected = collected
        self.considered = considered
        self.pending_detail_gaps = pending_detail_gaps
        self.run_id = run_id
        self.covered = covered
        self.skipped = skipped
        self.finished_at = finished_at


frozen_record(StreamFacts)


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


class RunEvidence:
    """One attributed run, as projected from the spine by trigger."""

    run_id: str
    status: str  # running|succeeded|failed|cancelled|surface_failed|skipped|<explicit>
    started_at: str | None
    finished_at: str | None
    failure_reason: str | None
    terminal_reason: str | None  # e.g. "owner_cancelled"
    browser_surface: BrowserSurface | None
    collection_facts: tuple[StreamFacts, ...]
    known_gaps: tuple[KnownGap, ...]  # the settling event's `known_gaps` (R57)

    def __init__(
        self,
        run_id: str,
        status: str,
        started_at: str | None = None,
        finished_at: str | None = None,
        failure_reason: str | None = None,
        terminal_reason: str | None = None,
        browser_surface: BrowserSurface | None = None,
        collection_facts: tuple[StreamFacts, ...] = (),
        known_gaps: tuple[KnownGap, ...] = (),
    ) -> None:
        self.run_id = run_id
        self.status = status
        self.started_at = started_at
        self.finished_at = finished_at
        self.failure_reason = failure_reason
        self.terminal_reason = terminal_reason
        self.browser_surface = browser_surface
        self.collection_facts = collection_facts
        self.known_gaps = known_gaps


frozen_record(RunEvidence)


class StreamStats:
    """Record evidence for one stream of one connection."""

    stream: str
    live_count: int  # live (not deleted) records
    row_count: int  # rows ever held, deleted included: > 0 proves the stream once had records
    retained_bytes: int
    last_record_at: str | None  # latest emitted_at of live records

    def __init__(
        self,
        stream: str,
        live_count: int = 0,
        row_count: int = 0,
        retained_bytes: int = 0,
        last_record_at: str | None = None,
    ) -> None:
        self.stream = stream
        self.live_count = live_count
        self.row_count = row_count
        self.retained_bytes = retained_bytes
        self.last_record_at = last_record_at


frozen_record(StreamStats)


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


class Identity:
    """Live identity fields of the connection (read from connector_instances)."""

    connection_id: str
    connector_id: str
    display_name: str | None
    status: str  # active|paused|revoked|draft
    source_kind: str
    created_at: str | None
    revoked_at: str | None
    owner_subject_id: str

    def __init__(
        self,
        connection_id: str,
        connector_id: str,
        display_name: str | None,
        status: str,
        source_kind: str,
        created_at: str | None = None,
        revoked_at: str | None = None,
        owner_subject_id: str = "owner_local",
    ) -> None:
        self.connection_id = connection_id
        self.connector_id = connector_id
        self.display_name = display_name
        self.status = status
        self.source_kind = source_kind
        self.created_at = created_at
        self.revoked_at = revoked_at
        self.owner_subject_id = owner_subject_id


frozen_record(Identity)


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
    available: bool
    state: str
    dirty: bool
    recomputed: bool
    computed_at: str | None
    last_error: str | None
    streams: tuple[StreamStats, ...]
    retained_bytes: int
    last_record_at: str | None
    latest_run: RunEvidence | None
    latest_successful_run: RunEvidence | None
    latest_settled_run: RunEvidence | None  # newest non-running run, `skipped` excluded
    failures_since_success: int
    stream_facts: tuple[StreamFacts, ...]  # per stream: latest committed, else latest
    gaps: tuple[GapCounts, ...]
    schedule: Schedule | None
    open_attention: tuple[Attention, ...]
    # Why this connection's stored evidence could not be read (then `available` is
    # False): a code such as `evidence_timestamp_invalid`; health reports it.
    problem: str | None

    def __init__(
        self,
        identity: Identity,
        profile: ConnectorProfile,
        available: bool = True,
        state: str = "ok",
        dirty: bool = False,
        recomputed: bool = False,
        computed_at: str | None = None,
        last_error: str | None = None,
        streams: tuple[StreamStats, ...] = (),
        retained_bytes: int = 0,
        last_record_at: str | None = None,
        latest_run: RunEvidence | None = None,
        latest_successful_run: RunEvidence | None = None,
        latest_settled_run: RunEvidence | None = None,
        failures_since_success: int = 0,
        stream_facts: tuple[StreamFacts, ...] = (),
        gaps: tuple[GapCounts, ...] = (),
        schedule: Schedule | None = None,
        open_attention: tuple[Attention, ...] = (),
        problem: str | None = None,
    ) -> None:
        self.identity = identity
        self.profile = profile
        self.available = available
        self.state = state
        self.dirty = dirty
        self.recomputed = recomputed
        self.computed_at = computed_at
        self.last_error = last_error
        self.streams = streams
        self.retained_bytes = retained_bytes
        self.last_record_at = last_record_at
        self.latest_run = latest_run
        self.latest_successful_run = latest_successful_run
        self.latest_settled_run = latest_settled_run
        self.failures_since_success = failures_since_success
        self.stream_facts = stream_facts
        self.gaps = gaps
        self.schedule = schedule
        self.open_attention = open_attention
        self.problem = problem

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


frozen_record(Evidence)


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
