"""Turn database rows into evidence (the contract synthesis reads)."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from .errors import InvalidInput
from .evidence import (
    Attention,
    BrowserSurface,
    ConnectorProfile,
    DeclaredStream,
    DeepEvidence,
    Evidence,
    GapCounts,
    GapDetail,
    Identity,
    KnownGap,
    PendingGaps,
    RefreshPolicy,
    RunEvidence,
    Schedule,
    Skip,
    StreamFacts,
    StreamStats,
)
from .synthesis.profile import staleness_seconds

Loads = Callable[[Any], Any]
_CANONICAL_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
T = TypeVar("T")
_MISSING = object()


class ProfileCache:
    """Connector profiles decoded from their digests, by `profile_key`.

    Every row of a connector repeats its connector's digest (declarations, refresh
    policy, names), so a store decodes each distinct digest once, not once per page.
    The key is the digest's revision (0023: given anew by every write of the digest),
    else everything the profile is built from, so a changed digest is another key and is
    decoded afresh: an entry is never stale. Bounded: when full it is emptied
    (connectors are few; a fleet's digests fit many times over).
    """

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._entries: dict[tuple[Any, ...], ConnectorProfile] = {}

    def get(self, key: tuple[Any, ...]) -> ConnectorProfile | None:
        return self._entries.get(key)

    def put(self, key: tuple[Any, ...], profile: ConnectorProfile) -> None:
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = profile

    def __len__(self) -> int:
        return len(self._entries)


class DocumentCache:
    """Evidence documents built from their JSON text, by builder and text, shared by a
    store's reads (its memo's `documents`).

    A row read again after a write that changed part of it (a dirty row's first read, a
    row reconciled since it was memoized) is a new memo key, but most of its documents
    are the text they were: their latest runs, stream statistics and facts. Those are
    decoded and built once, not once per changed row. A text always builds to equal,
    immutable objects, so an entry is never stale. Bounded: a builder's entries are
    emptied when they reach `size` (the memo's rows, at least a page's: a memo smaller
    than a page would otherwise empty them within one read).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._tables: dict[Callable[[Any], Any], dict[str, Any]] = {}

    def table(self, build: Callable[[Any], Any]) -> dict[str, Any]:
        """The documents `build` made, by their text (the caller adds to it through `keep`)."""
        found = self._tables.get(build)
        if found is None:
            found = self._tables.setdefault(build, {})
        return found

    def keep(self, table: dict[str, Any], text: str, built: Any) -> None:
        if len(table) >= self.size:
            table.clear()
        table[text] = built

    def __len__(self) -> int:
        return sum(len(t) for t in list(self._tables.values()))  # (a copy: others may add)


def profile_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A row's connector profile's cache key: the connector and its digest's revision; for
    a row with no digest revision (no digest, or rows of another statement), what the
    profile is built from (`profile_from_row`)."""
    revision = row.get("digest_revision")
    if revision is not None:
        return (row["connector_id"], revision)
    return (
        row["connector_id"],
        row.get("connector_display_name"),
        str(row.get("declared_streams")),
        str(row.get("refresh_policy")),
        row.get("manifest_version"),
        row.get("browser_required"),
    )


class PageDecoder:
    """Decodes the JSON columns of one read, each distinct document once.

    Within a page the same run often fills latest/successful/settled, and schedules
    and empty lists repeat across rows: each is decoded and built once, and with
    `documents` (the store's `DocumentCache`) once for all the store's reads. Every
    connection of a connector carries the same manifest digest: its profile comes
    from `profiles`, the store's `ProfileCache` (a fresh one when not given).
    """

    def __init__(
        self,
        loads: Loads,
        profiles: ProfileCache | None = None,
        documents: DocumentCache | None = None,
    ) -> None:
        self._loads = loads
        self._json: dict[str, Any] = {}
        self._built: dict[Callable[[Any], Any], dict[str, Any]] = {}
        self._documents = documents
        self._profiles = profiles if profiles is not None else ProfileCache()
        # Profiles this read has found, kept for it whatever the store's cache drops.
        self._found: dict[tuple[Any, ...], ConnectorProfile] = {}

    def json(self, value: Any) -> Any:
        if not isinstance(value, str):
            return self._loads(value)
        if value not in self._json:
            self._json[value] = self._loads(value)
        return self._json[value]

    def build(self, value: Any, build: Callable[[Any], T]) -> T:
        """``build(decoded value)``, once per distinct document text; results are immutable."""
        if type(value) is not str:
            return build(self._loads(value))
        cache = self._built.get(build)
        if cache is None:
            documents = self._documents
            cache = self._built[build] = {} if documents is None else documents.table(build)
        built = cache.get(value, _MISSING)
        if built is _MISSING:
            built = build(self._loads(value))
            if self._documents is None:
                cache[value] = built
            else:
                self._documents.keep(cache, value, built)
        return built  # type: ignore[no-any-return]

    def run(self, value: Any) -> RunEvidence | None:
        return self.build(value, run_from_json)

    def profile(self, row: Mapping[str, Any]) -> ConnectorProfile:
        """The row's connector profile (a key row's only when `knows_profile`)."""
        key = profile_key(row)
        found = self._known(key)
        if found is None:
            found = profile_from_row(row, self.json)
            self._profiles.put(key, found)
            self._found[key] = found
        return found

    def knows_profile(self, row: Mapping[str, Any]) -> bool:
        """Can `profile` serve this row? A key row (`list_keys`) names its connector's
        digest by revision only: its profile comes from a whole row read before, or from
        no digest at all (`digest_revision` NULL, nothing to decode)."""
        if "declared_streams" in row or row.get("digest_revision") is None:
            return True
        return self._known(profile_key(row)) is not None

    def _known(self, key: tuple[Any, ...]) -> ConnectorProfile | None:
        """The profile under `key` that this read found before, or the store's cache holds
        (then kept for this read)."""
        found = self._found.get(key)
        if found is None:
            found = self._profiles.get(key)
            if found is not None:
                self._found[key] = found
        return found


def _int(value: Any) -> int | None:
    if type(value) is int:  # the common case first; bool is a subclass, so not exact
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _str(value: Any) -> str | None:
    return value if type(value) is str or value is None else str(value)


def _ts(value: Any) -> str | None:
    """A stored timestamp, which must be canonical text in years 0001-9999: evidence holding
    anything else (an impossible date, a leap second, year 10000, infinity) is unreadable,
    and only its connection degrades (R22)."""
    if value is None:
        return None
    return _checked_ts(value if type(value) is str else str(value))


@functools.lru_cache(maxsize=4096)
def _checked_ts(text: str) -> str:
    """`text` when it is a canonical timestamp, else InvalidInput. A pure function of the
    text, so a page's many copies of one instant (a run's finish is also its facts') are
    checked once; errors are never cached."""
    if not _CANONICAL_TS.fullmatch(text):
        raise InvalidInput(f"stored timestamp is not canonical: {text[:40]!r}")
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"stored timestamp is not a date: {text[:40]!r}") from None
    return text


def _ts_or_none(value: Any) -> str | None:
    try:
        return _ts(value)
    except InvalidInput:
        return None


def _text(value: Any) -> str | None:
    """A JSON string that is not empty, else None (R51: empty strings count as absent)."""
    return value if isinstance(value, str) and value else None


def _count(value: Any) -> int | None:
    """R51: a non-negative integer, else None ("unknown")."""
    if type(value) is int:  # the common case first; bool is a subclass, so not exact
        return value if value >= 0 else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def _collected(value: Any) -> int:
    """R51: a non-negative number (whole part), else 0."""
    if type(value) is int:  # the common case first (see `_count`)
        return value if value >= 0 else 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value) if math.isfinite(value) and value >= 0 else 0


def _skip(value: Any) -> Skip | None:
    if value is None or not isinstance(value, Mapping):
        return None
    return Skip(
        reason=_text(value.get("reason")), recovery_action=_text(value.get("recovery_action"))
    )


def _facts(item: Mapping[str, Any], run_id: str | None = None, run: Any = _MISSING) -> StreamFacts:
    """One stream's facts. In a run's document (`run` is that run's finish time) they are
    dated by the run: R61 reads a run's facts as of its finish, whatever the item says
    (the item's own time must still be a timestamp)."""
    # Positional and through one bound `get`, each field's common case (absent, or a
    # non-negative int, or non-empty text) tested inline before the general rule: a page
    # builds hundreds of these.
    get = item.get
    finished_at = get("finished_at")
    if finished_at is not None:
        finished_at = _ts(finished_at)
    checkpoint = get("checkpoint")
    if type(checkpoint) is not str or not checkpoint:
        checkpoint = _text(checkpoint)
    collected = get("collected")
    if type(collected) is not int or collected < 0:
        collected = _collected(collected)
    considered = get("considered")
    if considered is not None and (type(considered) is not int or considered < 0):
        considered = _count(considered)
    pending = get("pending_detail_gaps")
    if pending is not None and (type(pending) is not int or pending < 0):
        pending = _count(pending)
    covered = get("covered")
    if covered is not None and (type(covered) is not int or covered < 0):
        covered = _count(covered)
    reporter = get("run_id", run_id)
    if type(reporter) is not str and reporter is not None:
        reporter = str(reporter)
    skipped = get("skipped")
    return StreamFacts(
        str(get("stream")),
        checkpoint,
        collected,
        considered,
        pending,
        reporter,
        covered,
        None if skipped is None else _skip(skipped),
        finished_at if run is _MISSING else run,
    )


def _known_gap(item: Any) -> KnownGap:
    if not isinstance(item, Mapping):
        return KnownGap(is_object=False)
    hint = item.get("recovery_hint")
    action = _text(hint) if isinstance(hint, str) else None
    if isinstance(hint, Mapping):
        action = _text(hint.get("action"))
    return KnownGap(
        kind=_text(item.get("kind")),
        reason=_text(item.get("reason")),
        message=_text(item.get("message")),
        severity=_text(item.get("severity")),
        stream=_text(item.get("stream")),
        action=action,
    )


def run_from_json(data: Mapping[str, Any] | None) -> RunEvidence | None:
    if not data:
        return None
    get = data.get
    surface = None
    profile_key, status, wait = (
        get("surface_profile_key"),
        get("surface_status"),
        get("surface_wait_reason"),
    )
    if profile_key or status or wait:
        surface = BrowserSurface(_str(profile_key), _str(status), _str(wait))
    run_id = str(data["run_id"])
    facts = get("collection_facts")
    gaps = get("known_gaps")
    started_at = get("started_at")
    if started_at is not None:
        started_at = _ts(started_at)
    finished_at = get("finished_at")
    if finished_at is not None:
        finished_at = _ts(finished_at)
    failure, terminal = get("failure_reason"), get("terminal_reason")
    return RunEvidence(
        run_id,
        str(data["status"]),
        started_at,
        finished_at,
        failure if failure is None or type(failure) is str else str(failure),
        terminal if terminal is None or type(terminal) is str else str(terminal),
        surface,
        _run_facts(facts, run_id, finished_at) if facts and isinstance(facts, list) else (),
        tuple([_known_gap(g) for g in gaps]) if isinstance(gaps, list) else (),
    )


def _run_facts(facts: list[Any], run_id: str, finished_at: str | None) -> tuple[StreamFacts, ...]:
    """A run's collection facts that name a stream, dated by the run (see `_facts`)."""
    # A plain loop, not a generator into tuple(): cheaper for a run's few items.
    out = []
    for f in facts:
        if type(f) is dict or isinstance(f, Mapping):
            stream = f.get("stream")
            if isinstance(stream, str) and stream:
                out.append(_facts(f, run_id, finished_at))
    return tuple(out)


def _attention(item: Mapping[str, Any]) -> Attention:
    return Attention(
        attention_id=str(item["attention_id"]),
        reason_code=str(item["reason_code"]),
        owner_action=_str(item.get("owner_action")),
        lifecycle=str(item.get("lifecycle") or "open"),
        response_required=bool(item.get("response_required")),
        expires_at=_ts(item.get("expires_at")),
        created_at=_ts(item.get("created_at")),
    )


def profile_from_row(row: Mapping[str, Any], loads: Loads) -> ConnectorProfile:
    streams = loads(row.get("declared_streams"))
    declared: list[DeclaredStream] = []
    seen: set[str] = set()
    for item in streams if isinstance(streams, list) else []:
        name = item.get("name") if isinstance(item, Mapping) else None
        if isinstance(name, str) and name and name not in seen:
            seen.add(name)
            declared.append(
                DeclaredStream(
                    name=name,
                    required=item.get("required") is not False,
                    coverage_strategy=_text(item.get("coverage_strategy")),
                    freshness_strategy=_text(item.get("freshness_strategy")),
                    coverage_policy=_text(item.get("coverage_policy")),
                )
            )
    policy = loads(row.get("refresh_policy"))
    policy = policy if isinstance(policy, Mapping) else {}
    window = staleness_seconds(policy.get("maximum_staleness_seconds"))
    safe = policy.get("background_safe")
    return ConnectorProfile(
        connector_id=str(row["connector_id"]),
        display_name=_text(row.get("connector_display_name")),
        declared_streams=tuple(declared),
        manifest_usable=bool(declared),
        refresh_policy=RefreshPolicy(
            recommended_mode=_str(policy.get("recommended_mode")),
            maximum_staleness_seconds=window,
            background_safe=safe if isinstance(safe, bool) else None,
            interaction_posture=_text(policy.get("interaction_posture")),
        ),
        version=_text(row.get("manifest_version")),
        browser_required=bool(row.get("browser_required")),
    )


def identity_from_row(
    row: Mapping[str, Any], stamp: Callable[[Any], str | None] | None = None
) -> Identity:
    """The connection's identity; `stamp` reads its timestamps (strict by default)."""
    stamp = stamp or _ts
    get = row.get
    name, revoked = get("display_name"), get("revoked_at")
    return Identity(
        str(row["connector_instance_id"]),
        str(row["connector_id"]),
        name if name is None or type(name) is str else str(name),
        str(row["status"]),
        str(row["source_kind"]),
        stamp(get("created_at")),
        None if revoked is None else stamp(revoked),
        str(get("owner_subject_id") or "owner_local"),
    )


def _stream_stats(data: Any) -> tuple[StreamStats, ...]:
    return tuple([_stream_stat(s) for s in data or []])


def _stream_stat(s: Mapping[str, Any]) -> StreamStats:
    get = s.get
    live, rows, size, last = get("live"), get("rows"), get("bytes"), get("last_record_at")
    return StreamStats(
        str(s["stream"]),
        live if type(live) is int else _int(live) or 0,
        rows if type(rows) is int else _int(rows) or 0,
        size if type(size) is int else _int(size) or 0,
        None if last is None else _ts(last),
    )


def _stream_facts(data: Any) -> tuple[StreamFacts, ...]:
    return tuple([_facts(f) for f in data or []])


def _pending(value: Any) -> tuple[PendingGaps, ...]:
    if not isinstance(value, list):  # a count (evidence written before 0012): eligible now
        n = _int(value) or 0
        return (PendingGaps(None, None, n),) if n > 0 else ()
    return tuple(
        PendingGaps(_ts(p.get("after")), _str(p.get("reason")), _int(p.get("n")) or 0)
        for p in value
        if isinstance(p, Mapping)
    )


def _gap_counts(data: Any) -> tuple[GapCounts, ...]:
    return tuple(
        GapCounts(
            stream=str(g["stream"]),
            pending=_pending(g.get("pending")),
            in_progress=_int(g.get("in_progress")) or 0,
            terminal=_int(g.get("terminal")) or 0,
        )
        for g in data or []
    )


def _schedule(data: Any) -> Schedule | None:
    if not isinstance(data, Mapping):
        return None
    return Schedule(
        interval_seconds=_int(data.get("interval_seconds")),
        enabled=bool(data.get("enabled")),
        consecutive_failures=_int(data.get("consecutive_failures")) or 0,
        next_run_at=_ts(data.get("next_run_at")),
    )


def _attentions(data: Any) -> tuple[Attention, ...]:
    return tuple(_attention(a) for a in data or [])


def needs_recompute(dirty: Any, record_deltas: Any, state: Any) -> bool:
    """Must a read recompute this row (R6)? When it is marked dirty, or has record deltas
    (0020) that its stored row cannot take: one that was never reconciled, or failed."""
    return bool(dirty) or (record_deltas is not None and state != "ok")


def fold_deltas(
    stats: tuple[StreamStats, ...], deltas: tuple[StreamStats, ...]
) -> tuple[StreamStats, ...]:
    """Stored stream statistics plus pending record deltas (0020; both decoded from
    stream_stats-shaped JSON): counts and bytes summed, the later last record time kept,
    streams in byte order, as a recount of the records lists them."""
    by_stream = {s.stream: s for s in stats}
    for d in deltas:
        old = by_stream.get(d.stream)
        if old is not None:
            times = [t for t in (old.last_record_at, d.last_record_at) if t is not None]
            d = StreamStats(
                d.stream,
                old.live_count + d.live_count,
                old.row_count + d.row_count,
                old.retained_bytes + d.retained_bytes,
                max(times) if times else None,
            )
        by_stream[d.stream] = d
    return tuple(sorted(by_stream.values(), key=lambda s: s.stream.encode()))


def evidence_from_row(
    row: Mapping[str, Any], decoder: PageDecoder, recomputed: Mapping[str, Any] | None = None
) -> Evidence:
    """Evidence of one summary row; `recomputed` replaces the stored evidence columns.

    A row not recomputed whose connection has pending record deltas (`record_deltas`,
    read in the same statement) is its stored evidence with the deltas added: current,
    so `recomputed`, though still `dirty` until reconcile folds them in."""
    identity = identity_from_row(row)
    profile = decoder.profile(row)
    if not row.get("has_evidence") and recomputed is None:
        return Evidence(
            identity=identity, profile=profile, available=False, dirty=bool(row["dirty"])
        )
    source = recomputed if recomputed is not None else row
    get, build = source.get, decoder.build
    stats = build(get("stream_stats"), _stream_stats)
    retained, last = stream_totals(stats)
    # Positional, in field order (one per row; keywords cost a third more).
    evidence = Evidence(
        identity,
        profile,
        True,  # available
        str(row.get("state") or "pending"),  # state
        bool(row["dirty"]),  # dirty
        recomputed is not None,  # recomputed
        _str(row.get("computed_at")),  # computed_at
        _str(row.get("last_error")),  # last_error
        stats,  # streams
        retained,  # retained_bytes
        last,  # last_record_at
        build(get("latest_run"), run_from_json),  # latest_run
        build(get("latest_successful_run"), run_from_json),  # latest_successful_run
        build(get("latest_settled_run"), run_from_json),  # latest_settled_run
        _int(get("failures_since_success")) or 0,  # failures_since_success
        build(get("stream_facts"), _stream_facts),  # stream_facts
        build(get("gap_counts"), _gap_counts),  # gaps
        build(get("schedule"), _schedule),  # schedule
        build(get("open_attention"), _attentions),  # open_attention
    )
    deltas = foldable_deltas(row) if recomputed is None else None
    return evidence if deltas is None else with_deltas(evidence, record_deltas(deltas, decoder))


def stream_totals(stats: tuple[StreamStats, ...]) -> tuple[int, str | None]:
    """A connection's retained bytes and last record time from its streams (R21, R16)."""
    # One loop, not a sum and a max over two passes: once per row.
    retained, last = 0, None
    for s in stats:
        retained += s.retained_bytes
        at = s.last_record_at
        if at and s.live_count and (last is None or at > last):
            last = at
    return retained, last


def foldable_deltas(row: Mapping[str, Any]) -> Any:
    """The row's pending record deltas (0020) when its stored evidence can take them, else
    None. A row that must be recomputed takes none: the recompute counts them, and if it
    failed the row is served as stored (unreliable), never made to look current."""
    deltas = row.get("record_deltas")
    if deltas is None or needs_recompute(row["dirty"], deltas, row.get("state")):
        return None
    return deltas


def record_deltas(value: Any, decoder: PageDecoder) -> tuple[StreamStats, ...]:
    """A row's `record_deltas` document, decoded (stream_stats' shape and rules)."""
    return decoder.build(value, _stream_stats)


def with_deltas(evidence: Evidence, deltas: tuple[StreamStats, ...]) -> Evidence:
    """A stored row's evidence with its pending record deltas added (0020): as current as a
    recomputation (`recomputed`), and still `dirty` until reconcile folds them in."""
    stats = fold_deltas(evidence.streams, deltas)
    retained, last = stream_totals(stats)
    e = evidence
    # Positional, in field order (`dataclasses.replace` costs three times as much, once per
    # row that has deltas): all of `e` but the flags and the record statistics.
    return Evidence(
        e.identity,
        e.profile,
        e.available,
        e.state,
        True,  # dirty
        True,  # recomputed
        e.computed_at,
        e.last_error,
        stats,  # streams
        retained,  # retained_bytes
        last,  # last_record_at
        e.latest_run,
        e.latest_successful_run,
        e.latest_settled_run,
        e.failures_since_success,
        e.stream_facts,
        e.gaps,
        e.schedule,
        e.open_attention,
        e.problem,
    )


def deep_from_row(row: Mapping[str, Any], decoder: PageDecoder) -> DeepEvidence:
    loads = decoder.json
    runs = [run_from_json(r) for r in loads(row.get("recent_runs")) or []]
    return DeepEvidence(
        recent_runs=tuple(r for r in runs if r is not None),
        pending_gaps=tuple(
            GapDetail(
                gap_id=str(g["gap_id"]),
                stream=str(g["stream"]),
                status=str(g["status"]),
                reason=_str(g.get("reason")),
                next_attempt_after=_ts(g.get("next_attempt_after")),
                updated_at=_ts(g.get("updated_at")),
            )
            for g in loads(row.get("open_gaps")) or []
        ),
        attention=tuple(_attention(a) for a in loads(row.get("attention_history")) or []),
    )


def problem_code(exc: BaseException) -> str:
    """A short code naming why stored evidence could not be used (for health's reasons)."""
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return "evidence_json_malformed"
    if isinstance(exc, InvalidInput):  # raised by timestamp parsing
        return "evidence_timestamp_invalid"
    if isinstance(exc, OverflowError):
        return "evidence_value_out_of_range"
    return "evidence_undecodable"


def unreadable(evidence: Evidence, exc: BaseException) -> Evidence:
    """`evidence` reduced to identity and profile, marked unavailable with the problem named."""
    return Evidence(
        identity=evidence.identity,
        profile=evidence.profile,
        available=False,
        dirty=evidence.dirty,
        problem=problem_code(exc),
    )


def unreadable_evidence(
    row: Mapping[str, Any], decoder: PageDecoder, exc: BaseException
) -> Evidence:
    """Evidence for a row that could not be decoded: identity, the profile when that
    decodes (else none), unavailable with the problem named."""
    try:
        profile = decoder.profile(row)
    except Exception:
        profile = ConnectorProfile(
            connector_id=str(row["connector_id"]),
            display_name=None,
            declared_streams=(),
            manifest_usable=False,
            refresh_policy=RefreshPolicy(
                recommended_mode=None, maximum_staleness_seconds=None, background_safe=None
            ),
        )
    return Evidence(
        identity=identity_from_row(row, _ts_or_none),
        profile=profile,
        available=False,
        dirty=bool(row.get("dirty")) or row.get("record_deltas") is not None,
        problem=problem_code(exc),
    )
