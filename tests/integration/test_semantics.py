"""SPEC-SEMANTICS: every S-scenario of the amended R11–R23 and of R52–R62, on both
backends, each test named after its S-number (S2.2 is `test_S2_2_…`).

The run projection's own scenarios (S2.1, S3.*, S4.*, S50.*, S51.*) are here too, exactly
as SPEC-SEMANTICS writes them (#10's tests/integration/test_runs_trust.py tests the
projection's machinery more widely).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from pyreference.errors import (
    ConnectionAmbiguous,
    ConnectionNotFound,
    InvalidInput,
    PyreferenceError,
)
from pyreference.store import Store
from tests.support.keys import R21_KEYS, assert_plain_json
from tests.support.semantics import (
    ACME,
    ASSI,
    BROW,
    MANU,
    D,
    H,
    M,
    T,
    World,
    conditions,
    entry,
    state,
    ts,
    variant,
)


# -- §2 canonical tables -----------------------------------------------------------------
def test_S2_2_in_progress_gaps_and_superseded_attention_are_accepted(store: Store) -> None:
    w = World(store)
    w.ok("r1", -H)
    store.add_detail_gap("c1", "items", status="in_progress")
    a = store.open_attention("c1", reason_code="otp_required", owner_action="enter_otp")
    store.update_attention(a, lifecycle="superseded")
    row = w.row()
    assert state(row) == "healthy"
    assert store.verify() == []


SURFACE_TYPES = [
    f"run.browser_surface_{x}"
    for x in [
        "requested",
        "queued",
        "deferred",
        "starting",
        "leased",
        "ready",
        "probe_failed",
        "released",
        "lost",
        "invalidated",
        "expired",
        "cancelled",
        "reclaim_retry",
    ]
]
ATTRIBUTION_TYPES = [
    f"run.{x}"
    for x in [
        "progress_reported",
        "cancel_requested",
        "interaction_required",
        "interaction_completed",
        "assistance_requested",
        "assistance_resolved",
        "assistance_cancelled",
        "assistance_timed_out",
        "assistance_escalated",
        "stream_skipped",
        "stream_session_requested",
        "stream_session_opened",
        "stream_session_resolved",
        "stream_reach_failed",
        "state_staged",
        "state_advanced",
        "state_commit_failed",
        "batch_ingested",
        "detail_gap_recorded",
        "detail_gap_recovered",
        "detail_gap_terminal",
        "detail_coverage_declared",
    ]
]


def _sql(store: Store, text: str) -> list[dict[str, Any]]:
    with store.database.session(transaction=True) as session:
        return list(session.execute(text))


def test_S2_1_plain_sql_inserts_of_any_run_type_are_stored(store: Store) -> None:
    World(store)
    for n, kind in enumerate(
        ["run.detail_gap_recorded", "run.assistance_requested", "run.made_up"]
    ):
        _sql(
            store,
            "INSERT INTO spine_events (event_id, event_type, occurred_at, run_id, connector_id,"
            " connector_instance_id, source_kind, source_id) VALUES"
            f" ('e{n}', '{kind}', '{ts(-H)}', 'r1', 'acme', 'c1', 'connector', 'acme')",
        )
    assert _sql(store, "SELECT count(*) AS n FROM spine_events")[0]["n"] == 3
    assert store.verify() == []
    store.reconcile()
    assert store.verify() == []


# -- R3 ----------------------------------------------------------------------------------
def _two_browser_connections(store: Store) -> World:
    return World(store, BROW, "c1", "c2", source_kind="browser_collector")


def test_S3_1_a_profile_key_attributes_a_keyless_run(store: Store) -> None:
    w = _two_browser_connections(store)
    w.start("r1", -2 * H, cid=None)
    surface = {
        "browser_surface_profile_key": "brow:c2",
        "browser_surface_status": "surface_failed",
        "browser_surface_wait_reason": "otp_required",
    }
    w.event(
        "run.browser_surface_failed",
        "r1",
        -H,
        cid=None,
        status="surface_failed",
        data={"browser_surface": surface},
    )
    last = w.row("c2")["last_run"]
    assert (last["run_id"], last["status"], last["failure_reason"]) == (
        "r1",
        "surface_failed",
        "otp_required",
    )
    assert w.row("c1")["last_run"] is None
    assert store.verify() == []


def test_S3_2_a_profile_key_suffix_names_an_existing_connection(store: Store) -> None:
    w = _two_browser_connections(store)
    manifest = copy.deepcopy(BROW)
    manifest["capabilities"]["browser_surface"] = {"profile_key": "brow2"}
    store.register_connector(manifest)
    for run_id, key in (("r2", "brow:c1"), ("r3", "brow:c9")):
        surface = {"browser_surface_profile_key": key}
        w.event(
            "run.browser_surface_failed", run_id, -H, cid=None, data={"browser_surface": surface}
        )
    assert w.row("c1")["last_run"]["run_id"] == "r2"  # rule 2
    assert w.row("c2")["last_run"] is None  # r3 is unattributed
    diagnostics = store.connection_diagnostics("c1", now=T).to_dict()
    assert [r["run_id"] for r in diagnostics["recent_runs"]] == ["r2"]


def test_S3_3_an_id_less_abandon_inherits_the_run(store: Store) -> None:
    w = World(store)
    w.start("r4", -2 * H)
    reason = "controller_terminated_before_run_finished"
    w.event("run.abandoned", "r4", -H, cid=None, data={"reason": reason})
    last = w.row()["last_run"]
    assert (last["status"], last["finished_at"]) == ("abandoned", ts(-H))
    diagnostics = store.connection_diagnostics("c1", now=T).to_dict()
    assert diagnostics["recent_runs"][0]["terminal_reason"] == reason


# -- §4 the event helper -----------------------------------------------------------------
S4_1_EVENT: dict[str, Any] = {
    "event_type": "run.started",
    "occurred_at": ts(-H),
    "run_id": "r1",
    "status": "started",
    "data": {"connector_instance_id": "c1", "source": {"kind": "connector", "id": "acme"}},
}


def test_S4_1_the_connector_id_comes_from_data_source(store: Store) -> None:
    w = World(store)
    store.append_events([S4_1_EVENT])
    stored = _sql(store, "SELECT connector_id, source_kind, source_id FROM spine_events")
    assert stored == [{"connector_id": "acme", "source_kind": "connector", "source_id": "acme"}]
    assert w.row()["last_run"]["status"] == "running"
    orphan = w.row(live_run_ids=frozenset())["last_run"]
    assert (orphan["status"], orphan["finished_at"]) == ("failed", None)


@pytest.mark.parametrize(
    ("fields", "connector"),
    [
        ({"source_kind": "connector", "source_id": "acme"}, "acme"),
        ({"data": {"connection_id": "c1", "connector_id": "acme"}}, "acme"),
        ({"data": {"connection_id": "c1", "source": {"kind": "device", "id": "x"}}}, None),
        ({"data": {"source": {"kind": "connector", "id": ""}, "connector_id": "acme"}}, "acme"),
        (
            {"connector_id": "acme", "data": {"source": {"kind": "connector", "id": "other"}}},
            "acme",
        ),
    ],
)
def test_S4_1_a_missing_connector_id_is_taken_in_order(
    store: Store, fields: dict[str, Any], connector: str | None
) -> None:
    World(store)
    event = {"event_type": "run.started", "occurred_at": ts(-H), "run_id": "r1", **fields}
    store.append_events([event])
    assert _sql(store, "SELECT connector_id FROM spine_events") == [{"connector_id": connector}]
    assert store.verify() == []


@pytest.mark.parametrize(
    "named",
    [
        {"data": {"connection_id": "c1", "connector_instance_id": "c2"}},
        {"connection_id": "c1", "data": {"connection_id": "c2"}},
        {"connection_id": "c2", "data": {"connector_instance_id": "c1"}},
    ],
)
def test_S4_2_disagreeing_connection_ids_raise_and_write_nothing(
    store: Store, named: dict[str, Any]
) -> None:
    World(store, ACME, "c1", "c2")
    good = dict(S4_1_EVENT, run_id="r0")
    bad = {**S4_1_EVENT, **named}
    with pytest.raises(InvalidInput, match="different connections"):
        store.append_events([good, bad])
    assert _sql(store, "SELECT count(*) AS n FROM spine_events")[0]["n"] == 0
    agreeing = {
        **S4_1_EVENT,
        "connection_id": "c1",
        "data": {"connection_id": "c1", "connector_instance_id": ""},
    }
    store.append_events([agreeing])  # equal or empty ids agree
    assert _sql(store, "SELECT count(*) AS n FROM spine_events")[0]["n"] == 1


@pytest.mark.parametrize(
    "named",
    [
        {"connection_id": "c1", "data": {"connection_id": 7}},
        {"connection_id": "c1", "data": {"connector_instance_id": 7}},
        {"data": {"connection_id": "c1", "connector_instance_id": 7}},
        {"connection_id": "c1", "data": {"connection_id": 7.0}},
        {"connection_id": "c1", "data": {"connection_id": 2**53 - 1}},
        {"connection_id": "c1", "data": {"connection_id": -3}},
    ],
)
def test_S4_2_a_non_text_id_is_compared_as_the_projection_reads_it(
    store: Store, named: dict[str, Any]
) -> None:
    """Review F3: the projection reads a whole number below 2**53 as its digits (0017), so
    such a number beside a different text id is refused (naming both), not stored
    unattributed."""
    World(store, ACME, "c1", "c2")
    bad = {**S4_1_EVENT, **named}
    with pytest.raises(InvalidInput, match="different connections") as raised:
        store.append_events([dict(S4_1_EVENT, run_id="r0"), bad])
    top = named.get("connection_id")
    if top is not None:
        assert f"connection_id {top!r}" in str(raised.value)
    assert re.search(r"data\.(connection_id|connector_instance_id) ", str(raised.value))
    assert _sql(store, "SELECT count(*) AS n FROM spine_events")[0]["n"] == 0
    assert store.get_connection_summary("c1", now=T).last_run is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "value", [True, False, 1.5, 2**53, 2**64, 1e20, {"id": "c2"}, ["c2"]], ids=repr
)
def test_S4_2_a_value_that_is_no_id_is_absent_on_both_backends(store: Store, value: Any) -> None:
    """R51 as 0017 reads it: true/false, a fraction, a number of 2**53 or more, an object
    or an array is no id at all, so it neither disagrees with the top-level id nor takes
    the run elsewhere; the run is c1's on both backends."""
    w = World(store, ACME, "c1", "c2")
    event = {**S4_1_EVENT, "connection_id": "c1", "data": {"connection_id": value}}
    store.append_events([event])
    assert w.row("c1")["last_run"]["run_id"] == "r1"
    assert w.row("c2")["last_run"] is None
    assert store.verify() == []


def test_S4_2_a_number_agrees_with_the_id_its_digits_spell(store: Store) -> None:
    w = World(store, ACME, "c1", "7")
    agreeing = {**S4_1_EVENT, "connection_id": "7", "data": {"connection_id": 7}}
    store.append_events([agreeing])
    assert w.row("7")["last_run"]["run_id"] == "r1"
    assert w.row("c1")["last_run"] is None
    twice = {"connection_id": 1.5, "connector_instance_id": 1.5}
    same = {**S4_1_EVENT, "run_id": "r2", "data": twice}
    store.append_events([same])  # the same value twice agrees with itself
    assert store.verify() == []


def test_S4_connector_instance_id_is_the_connection_id(store: Store) -> None:
    """Review F4: the original system's name for the column names the connection."""
    w = World(store, ACME, "c1", "c2")
    event = {**S4_1_EVENT, "connector_id": "acme", "connector_instance_id": "c2", "data": None}
    store.append_events([event])
    stored = _sql(store, "SELECT connector_instance_id FROM spine_events")
    assert stored == [{"connector_instance_id": "c2"}]
    assert w.row("c2")["last_run"]["run_id"] == "r1"
    assert w.row("c1")["last_run"] is None
    store.append_events([event])  # an identical repeat is a no-op
    both = {**event, "run_id": "r2", "event_id": "e2", "connection_id": "c2"}
    store.append_events([both])  # both names, the same id
    assert w.row("c2")["last_run"]["run_id"] == "r2"
    assert store.verify() == []


def test_S4_connector_instance_id_and_connection_id_must_agree(store: Store) -> None:
    World(store, ACME, "c1", "c2")
    event = {**S4_1_EVENT, "connection_id": "c1", "connector_instance_id": "c2", "data": None}
    with pytest.raises(InvalidInput, match="connection_id 'c1' and connector_instance_id 'c2'"):
        store.append_events([dict(S4_1_EVENT, run_id="r0"), event])
    assert _sql(store, "SELECT count(*) AS n FROM spine_events")[0]["n"] == 0


@pytest.mark.parametrize("key", ["bogus_key", "recorded_at", "data_json", "connectionId", 7])
def test_S4_an_unknown_event_key_is_refused_by_name(store: Store, key: Any) -> None:
    """Review F4, R22: a key the write would drop is refused, naming it and the keys."""
    World(store, ACME, "c1")
    event = {**S4_1_EVENT, key: "c1"}
    with pytest.raises(InvalidInput, match="unknown key") as raised:
        store.append_events([dict(S4_1_EVENT, run_id="r0"), event])
    message = str(raised.value)
    assert repr(key) in message and "event #1" in message
    assert "event_type, occurred_at, run_id" in message
    assert "connector_instance_id is accepted as connection_id" in message
    assert _sql(store, "SELECT count(*) AS n FROM spine_events")[0]["n"] == 0


def test_an_unknown_record_key_is_refused_by_name(store: Store) -> None:
    """R22: a record field the write would drop (a typo of `emitted_at`, say) is refused."""
    World(store, ACME, "c1")
    good = {"key": "k0", "data": {}, "emitted_at": ts(-H)}
    bad = {"key": "k1", "data": {}, "emited_at": ts(-H)}
    with pytest.raises(InvalidInput, match=r"record #1 has unknown key\(s\) 'emited_at'"):
        store.ingest_records("c1", "items", [good, bad])
    assert _sql(store, "SELECT count(*) AS n FROM records")[0]["n"] == 0
    assert store.ingest_records("c1", "items", [good]) == 1


# -- R11 ---------------------------------------------------------------------------------
def test_S11_1_every_demo_list_row_equals_its_scoped_read(store: Store) -> None:
    from pyreference.demo import build_demo_fleet

    build_demo_fleet(store, T)
    store.reconcile()
    rows = list(store.iter_connection_summaries(T))
    assert len(rows) >= 15
    for row in rows:
        scoped = store.get_connection_summary(row.connection_id, now=T)
        assert scoped is not None and scoped.to_dict() == row.to_dict()


# -- R15 ---------------------------------------------------------------------------------
def test_S15_1_an_orphaned_run_is_display_only(store: Store) -> None:
    w = World(store)
    w.ok("r1", -2 * H)
    w.start("r2", -H)
    row = w.row(live_run_ids=frozenset())
    assert row["last_run"]["run_id"] == "r2"
    assert (row["last_run"]["status"], row["last_run"]["finished_at"]) == ("failed", None)
    assert row["freshness"]["status"] == "current"
    assert row["freshness"]["last_attempted_at"] == ts(-2 * H)
    assert state(row) == "healthy"


def test_S15_2_an_owner_cancel_reason_is_the_terminal_reason(store: Store) -> None:
    w = World(store)
    w.start("r1", -2 * H)
    w.event("run.cancelled", "r1", -H, data={"reason": "owner_cancelled"})
    row = w.row()
    assert row["last_run"]["status"] == "cancelled"
    assert row["last_run"]["terminal_reason"] == "owner_cancelled"


# -- R16 ---------------------------------------------------------------------------------
def test_S16_1_a_surface_failure_with_nothing_captured_is_unknown(store: Store) -> None:
    w = World(store)
    w.start("r1", -2 * H)
    w.event("run.browser_surface_failed", "r1", -H)
    row = w.row()
    assert row["freshness"] == {
        "status": "unknown",
        "captured_at": None,
        "last_attempted_at": ts(-H),
    }
    assert state(row) == "degraded"
    assert ("BrowserSurfaceFailed", "browser_surface_failed") in conditions(row)


def _owner_cancel_forced(w: World, key: str) -> None:
    w.start("r1", -2 * H)
    w.event("run.cancelled", "r1", -H, data={key: "owner_cancel_forced"})


@pytest.mark.parametrize("key", ["reason", "terminal_reason"])
def test_S16_2_an_owner_cancel_forced_is_no_attempt(store: Store, key: str) -> None:
    # S16.2's `data.reason` (R51), and the `terminal_reason` spelling.
    w = World(store)
    _owner_cancel_forced(w, key)
    row = w.row()
    assert row["freshness"] == {"status": "unknown", "captured_at": None, "last_attempted_at": None}
    assert state(row) == "idle"
    assert (row["rendered_verdict"]["tone"], row["rendered_verdict"]["label"]) == (
        "grey",
        "Not measured",
    )


def test_S16_3_an_abandoned_run_after_a_success(store: Store) -> None:
    w = World(store)
    w.ok("r1", -3 * H)
    w.start("r2", -2 * H)
    w.event("run.abandoned", "r2", -H)
    row = w.row()
    assert row["last_run"]["status"] == "abandoned"
    assert row["freshness"]["status"] == "current"
    assert row["freshness"]["last_attempted_at"] == ts(-H)
    assert row["coverage"]["axis"] == "partial"
    assert state(row) == "degraded"
    assert "CollectionFailed" in [t for t, _ in conditions(row)]
    assert store.verify() == []


# -- R17 ---------------------------------------------------------------------------------
def test_S17_1_a_first_run_in_progress_is_checking(store: Store) -> None:
    w = World(store)
    w.start("r1", -5 * M)
    row = w.row()
    assert state(row) == "idle"
    assert row["rendered_verdict"] == {
        "tone": "grey",
        "label": "Checking",
        "channel": "calm",
        "required_actions": [],
    }
    assert row["owner_state"]["resolver"] == "collecting"


def test_S17_2_only_a_skipped_run_is_not_measured(store: Store) -> None:
    w = World(store)
    w.event("run.completed", "r1", -H, status="skipped")
    row = w.row()
    assert state(row) == "idle"
    assert row["rendered_verdict"]["label"] == "Not measured"


def test_S17_3_records_without_a_run_are_unknown_collection(store: Store) -> None:
    w = World(store)
    store.ingest_records(
        "c1", "items", [{"key": f"k{i}", "data": {"i": i}, "emitted_at": ts(-H)} for i in range(3)]
    )
    row = w.row()
    assert row["freshness"]["status"] == "current"
    assert state(row) == "unknown"
    assert row["connection_health"]["unknown_reasons"] == ["collection"]


def test_S17_4_a_skip_after_a_success_is_passed_over(store: Store) -> None:
    w = World(store)
    w.ok("r1", -3 * H)
    w.start("r2", -H - 5 * M)
    w.event("run.completed", "r2", -H, status="skipped")
    row = w.row()
    assert row["freshness"]["status"] == "current"
    assert row["freshness"]["last_attempted_at"] == ts(-3 * H)
    assert state(row) == "healthy"


def test_S17_5_cooling_off_needs_affirmative_evidence(store: Store) -> None:
    w = World(store)
    w.ok("r1", -H)
    w.start("r2", -5 * M)
    store.set_schedule("c1", interval_seconds=3600, consecutive_failures=3, next_run_at=ts(H))
    row = w.row()
    assert state(row) == "cooling_off"
    assert ("BackoffActive", "backoff_active") in conditions(row)
    # The same, but r1's facts lack `considered`: no proof of coverage, so not cooling off.
    unproven = World(store, variant("acme2"), "c9")
    unproven.ok("r1", -H, [{"stream": "items", "checkpoint": "committed", "collected": 3}], "c9")
    unproven.start("r2", -5 * M, cid="c9")
    store.set_schedule("c9", interval_seconds=3600, consecutive_failures=3, next_run_at=ts(H))
    assert state(unproven.row("c9")) == "unknown"


# -- R18 ---------------------------------------------------------------------------------
def test_S18_1_a_committed_checkpoint_alone_proves_nothing(store: Store) -> None:
    w = World(store)
    w.ok("r1", -H, [{"stream": "items", "checkpoint": "committed", "collected": 3}])
    row = w.row()
    assert entry(row, "items")["coverage_condition"] == "unknown"
    assert row["coverage"]["axis"] == "unknown"
    assert state(row) == "unknown"
    assert row["connection_health"]["unknown_reasons"] == ["coverage_unknown"]
    assert row["connection_health"]["forward_disposition"] == "unmeasured"
    verdict = row["rendered_verdict"]
    assert (verdict["required_actions"], verdict["channel"], verdict["label"]) == (
        ["code_fix"],
        "advisory",
        "Not measured",
    )
    assert row["owner_state"]["resolver"] == "blocked_maintainer"


def test_S18_2_an_optional_stream_never_counts(store: Store) -> None:
    w = World(store)
    facts = [
        {"stream": "items", "checkpoint": "committed", "collected": 3, "considered": 3},
        {"stream": "extras", "skipped": {"reason": "rate_limited"}},
    ]
    w.ok("r1", -H, facts)
    row = w.row()
    assert entry(row, "extras")["coverage_condition"] == "retryable_gap"
    assert row["coverage"]["axis"] == "complete"
    assert state(row) == "healthy"


def test_S18_3_a_failure_after_a_success_is_partial(store: Store) -> None:
    w = World(store)
    w.ok("r0", -3 * H)
    w.fail("r1", -H)
    row = w.row()
    assert row["coverage"]["axis"] == "partial"
    assert state(row) == "degraded"
    assert row["connection_health"]["forward_disposition"] == "resumable"


# -- R19 ---------------------------------------------------------------------------------
def test_S19_1_retry_gap_only_when_the_system_will_not_retry(store: Store) -> None:
    w = World(store)
    w.ok("r1", -H)
    store.add_detail_gap("c1", "items")
    row = w.row()
    assert state(row) == "degraded"
    assert row["rendered_verdict"] == {
        "tone": "amber",
        "label": "Degraded",
        "channel": "advisory",
        "required_actions": ["retry_gap"],
    }
    store.set_schedule("c1", interval_seconds=3600)
    verdict = w.verdict()
    assert (verdict["required_actions"], verdict["channel"]) == (["wait"], "calm")


def test_S19_2_an_assisted_refresh_in_progress_is_syncing(store: Store) -> None:
    w = World(store, ASSI)
    w.ok("r1", -2 * D)
    w.start("r2", -M)
    verdict = w.verdict()
    assert verdict["label"] == "Syncing"
    assert "refresh_now" not in verdict["required_actions"]


def test_S19_3_a_credential_attention_asks_to_sign_in_again(store: Store) -> None:
    w = World(store, ASSI)
    w.ok("r1", -2 * D)
    a = store.open_attention("c1", reason_code="credential_expired", owner_action="provide_value")
    row = w.row()
    assert state(row) == "needs_attention"
    assert ("CredentialsInvalid", "credential_expired") in conditions(row)
    verdict = row["rendered_verdict"]
    assert verdict["required_actions"] == ["reauth", "refresh_now"]
    assert verdict["channel"] == "attention"
    assert row["next_action"]["attention_id"] == a


# -- R20 ---------------------------------------------------------------------------------
def test_S20_1_a_considered_count_proves_a_stream_empty(store: Store) -> None:
    w = World(store)
    w.ok(
        "r1", -H, [{"stream": "items", "checkpoint": "committed", "collected": 0, "considered": 0}]
    )
    row = w.row()
    (items,) = [s for s in row["stream_records"] if s["stream"] == "items"]
    assert (items["record_count"], items["count_state"]) == (0, "known_zero")
    assert (row["total_records"], row["total_records_state"]) == (0, "unobserved")


def test_S20_2_without_considered_the_stream_is_unobserved(store: Store) -> None:
    w = World(store)
    w.ok("r1", -H, [{"stream": "items", "checkpoint": "committed", "collected": 0}])
    row = w.row()
    (items,) = [s for s in row["stream_records"] if s["stream"] == "items"]
    assert items["count_state"] == "unobserved"
    assert row["total_records"] is None


# -- R21, R22 ----------------------------------------------------------------------------
def test_S21_1_every_amended_key_and_no_json_text(store: Store) -> None:
    w = World(store)
    w.ok("r1", -H)
    row = w.row()
    assert set(row) == R21_KEYS
    assert "forward_disposition" in row["connection_health"]
    assert "terminal_reason" in row["last_run"]

    assert_plain_json(row)


def test_S22_1_connection_ambiguous_is_typed_and_any_run_type_is_stored(store: Store) -> None:
    assert issubclass(ConnectionAmbiguous, PyreferenceError)
    w = World(store)
    w.ok("r1", -2 * H)
    w.event("run.made_up", "r2", -H)  # raises nothing (R50: any run.* type is stored)
    with store.database.session() as s:
        stored = s.execute("SELECT event_type FROM spine_events WHERE run_id = 'r2'")
    assert [r["event_type"] for r in stored] == ["run.made_up"]
    row = w.row()
    assert row["last_run"]["run_id"] == "r1"  # an event of no known type opens no run
    assert store.verify() == []


# -- R50 ---------------------------------------------------------------------------------
def test_S50_1_every_upstream_type_is_stored_and_none_settles(store: Store) -> None:
    w = World(store)
    w.start("r1", -3 * H)
    kinds = SURFACE_TYPES + ATTRIBUTION_TYPES + ["run.made_up"]
    assert len(kinds) == 36
    for n, kind in enumerate(kinds):
        w.event(kind, "r1", -3 * H + (n + 1) * M, status="completed")
    last = w.row()["last_run"]
    assert (last["run_id"], last["status"]) == ("r1", "running")
    assert store.verify() == []


@pytest.mark.parametrize("order", ["as_written", "reversed"])
def test_S50_2_the_earliest_terminal_event_settles(store: Store, order: str) -> None:
    w = World(store)
    w.start("r1", -3 * H)
    terminal = [("run.failed", -2 * H, None), ("run.completed", -H, "succeeded")]
    for kind, at, status in terminal if order == "as_written" else terminal[::-1]:
        w.event(kind, "r1", at, **({"status": status} if status else {}))
    last = w.row()["last_run"]
    assert (last["status"], last["finished_at"]) == ("failed", ts(-2 * H))
    store.reconcile()
    assert store.verify() == []


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("run.failed", "succeeded", "failed"),
        ("run.completed", "skipped", "skipped"),
        ("run.cancelled", "failed", "cancelled"),
    ],
)
def test_S50_3_the_event_type_decides_the_status(
    store: Store, kind: str, status: str, expected: str
) -> None:
    w = World(store)
    w.start("r1", -2 * H)
    w.event(kind, "r1", -H, status=status)
    assert w.row()["last_run"]["status"] == expected


def test_S50_4_an_attribution_only_status_never_changes_the_run(store: Store) -> None:
    w = World(store)
    w.fail("r1", -H)
    w.event("run.stream_session_resolved", "r1", -30 * M, cid=None, status="completed")
    assert w.row()["last_run"]["status"] == "failed"


# -- R51 ---------------------------------------------------------------------------------
def test_S51_1_upstream_browser_surface_keys(store: Store) -> None:
    w = World(store)
    surface = {
        "browser_surface_status": "surface_failed",
        "browser_surface_wait_reason": "otp_required",
        "browser_surface_profile_key": "acme:c1",
    }
    w.event("run.browser_surface_failed", "r1", -H, cid=None, data={"browser_surface": surface})
    assert w.row()["last_run"]["failure_reason"] == "otp_required"
    diagnostics = store.connection_diagnostics("c1", now=T).to_dict()
    assert diagnostics["recent_runs"][0]["browser_surface"] == {
        "profile_key": "acme:c1",
        "status": "surface_failed",
        "wait_reason": "otp_required",
    }


def test_S51_2_an_owner_cancel_by_data_reason_is_passed_over(store: Store) -> None:
    w = World(store)
    w.ok("r0", -3 * H)
    w.start("r1", -2 * H)
    w.event("run.cancelled", "r1", -H, data={"reason": "owner_cancelled"})
    row = w.row()
    assert row["freshness"]["status"] == "current"
    assert row["freshness"]["last_attempted_at"] == ts(-3 * H)
    assert state(row) == "healthy"


# -- R52 ---------------------------------------------------------------------------------
def test_S52_1_a_revoked_connection_is_retired(store: Store) -> None:
    w = World(store, MANU)
    w.ok("r1", -30 * D)
    store.open_attention("c1", reason_code="needs_value", owner_action="provide_value")
    store.update_connection("c1", status="revoked")
    listed = [s.to_dict() for s in store.list_connection_summaries(now=T).items]
    assert [r["status"] for r in listed] == ["revoked"]
    row = w.row()
    assert state(row) == "idle"
    assert conditions(row) == [("ConnectionRevoked", "connection_revoked")]
    assert row["rendered_verdict"] == {
        "tone": "grey",
        "label": "Not measured",
        "channel": "calm",
        "required_actions": [],
    }
    assert row["next_action"] is None
    assert (row["owner_state"]["resolver"], row["owner_state"]["owner_of_state"]) == (
        "retired",
        "maintainer",
    )
    assert row["source_work"] == "none"
    assert row["last_run"]["run_id"] == "r1"


def test_R52_a_revoked_connection_is_never_told_to_refresh(store: Store, request: Any) -> None:
    """Review finding: whatever would make an active twin `refresh_now` / "Needs refresh"
    (a stale manual or assisted source, idle or with a run in progress), its revoked
    twin shows neither: not in the summary, the terminal table, the demo words or the
    console."""
    import asyncio

    import httpx
    from rich.console import Console

    from pyreference import words
    from pyreference.render_table import summaries_table
    from tests.integration.test_http_api import serve, target_of

    manual = World(store, MANU, "m_active", "m_revoked")
    assisted = World(store, ASSI, "a_active", "a_revoked", "a_running")
    manual.ok("r1", -30 * D, cid="m_active")
    manual.ok("r2", -30 * D, cid="m_revoked")
    assisted.ok("r3", -3 * D, cid="a_active")
    assisted.ok("r4", -3 * D, cid="a_revoked")
    assisted.ok("r5", -3 * D, cid="a_running")
    assisted.start("r6", -M, cid="a_running")
    for cid in ("m_revoked", "a_revoked", "a_running"):
        store.update_connection(cid, status="revoked")
    store.reconcile()
    for cid in ("m_active", "a_active"):  # the control: the same history, active
        row = manual.row(cid)
        assert row["rendered_verdict"]["required_actions"] == ["refresh_now"], cid
        assert row["rendered_verdict"]["label"] == "Needs refresh", cid
    revoked = [
        store.get_connection_summary(c, now=T) for c in ("m_revoked", "a_revoked", "a_running")
    ]
    for summary in revoked:
        assert summary is not None
        row = manual.row(summary.connection_id)
        assert row["rendered_verdict"] == {
            "tone": "grey",
            "label": "Not measured",
            "channel": "calm",
            "required_actions": [],
        }
        assert row["next_action"] is None
        assert row["owner_state"]["resolver"] == "retired"
        assert words.next_step(summary) == "Reconnect the account if you still use it"
    out = Console(width=200, record=True, color_system=None)
    out.print(summaries_table([s for s in revoked if s is not None], T))
    table = out.export_text()
    assert "revoked" in table and "refresh" not in table.lower()

    async def pages(client: httpx.AsyncClient) -> list[str]:
        got = [await client.get("/")]
        got += await asyncio.gather(
            *(
                client.get(f"/connections/{c}")
                for c in ("m_revoked", "a_revoked", "a_running", "m_active")
            )
        )
        assert all(r.status_code == 200 for r in got)
        return [r.text for r in got]

    fleet, *details, control = serve(target_of(store, request), pages)
    assert "Refresh it now" in control  # the console reads at its own clock: stale
    for page in details:
        assert "Needs refresh" not in page and "Refresh it now" not in page
    for cid in ("m_revoked", "a_revoked", "a_running"):
        (body,) = re.findall(rf'<tr data-connection="{cid}">(.*?)</tr>', fleet, re.S)
        assert "Needs refresh" not in body and "Refresh it now" not in body


def test_S52_2_a_paused_connection_is_owner_paused(store: Store) -> None:
    w = World(store)
    w.ok("r1", -H)
    store.update_connection("c1", status="paused")
    row = w.row()
    assert state(row) == "idle"
    assert ("ConnectionPaused", "connection_paused") in conditions(row)
    assert row["rendered_verdict"]["required_actions"] == ["reattach_schedule"]
    assert row["rendered_verdict"]["label"] == "Needs refresh"
    assert row["owner_state"]["resolver"] == "owner_paused"


def test_S52_3_a_draft_is_setup_in_progress_until_it_collects(store: Store) -> None:
    w = World(store)
    w.connection("c3", status="draft")
    assert w.row("c3")["owner_state"]["resolver"] == "setup_in_progress"
    w.start("r1", -M, cid="c3")
    assert w.row("c3")["owner_state"]["resolver"] == "collecting"


# -- R53 ---------------------------------------------------------------------------------
def test_S53_1_a_nameless_connection_shows_the_connector_name(store: Store) -> None:
    w = World(store)
    row = w.row()
    assert (row["display_name"], row["connector_display_name"]) == ("Acme", "Acme")


def test_S53_2_the_connection_name_wins_and_the_id_is_the_last_resort(store: Store) -> None:
    w = World(store)
    store.update_connection("c1", display_name="Work")
    assert w.row()["display_name"] == "Work"
    nameless = {k: v for k, v in ACME.items() if k != "display_name"}
    store.register_connector(nameless)
    row = w.row("c2") if False else None
    w.connection("c2")
    row = w.row("c2")
    assert (row["display_name"], row["connector_display_name"]) == ("acme", "acme")


# -- R54 ---------------------------------------------------------------------------------
def test_S54_1_only_relevant_attention_counts(store: Store) -> None:
    w = World(store)
    w.ok("r1", -H)
    fyi = store.open_attention("c1", reason_code="fyi")
    row = w.row()
    assert state(row) == "healthy" and row["next_action"] is None
    store.update_attention(fyi, lifecycle="resolved")
    store.open_attention("c1", reason_code="elsewhere", owner_action="act_elsewhere")
    assert state(w.row()) == "healthy"
    store.open_attention(
        "c1", reason_code="elsewhere_soon", owner_action="act_elsewhere", expires_at=ts(H)
    )
    assert state(w.row()) == "needs_attention"


def test_S54_2_the_most_urgent_record_drives_next_action(store: Store) -> None:
    w = World(store)
    w.ok("r1", -H)
    a1 = store.open_attention(
        "c1", reason_code="a1", owner_action="provide_value", expires_at=ts(5 * H),
        created_at=ts(-2 * H),
    )  # fmt: skip
    a2 = store.open_attention("c1", reason_code="a2", response_required=True, created_at=ts(-H))
    a3 = store.open_attention(
        "c1", reason_code="a3", owner_action="provide_value", expires_at=ts(H),
        created_at=ts(-3 * H),
    )  # fmt: skip
    assert w.row()["next_action"]["attention_id"] == a2
    store.update_attention(a2, lifecycle="resolved")
    assert w.row()["next_action"]["attention_id"] == a3
    assert w.row(now=2 * H)["next_action"]["attention_id"] == a1


# -- R55 ---------------------------------------------------------------------------------
def test_S55_1_a_cooling_down_gap_counts_from_its_retry_time(store: Store) -> None:
    w = World(store)
    w.ok("r1", -H)
    store.add_detail_gap("c1", "items", next_attempt_after=ts(30 * M))
    row = w.row()
    assert state(row) == "healthy"
    assert row["coverage"]["axis"] == "complete"
    assert entry(row, "items")["pending_detail_gaps"] == 0
    later = w.row(now=31 * M)  # no write in between
    assert later["coverage"]["axis"] == "retryable_gap"
    assert state(later) == "degraded"
    diag = store.connection_diagnostics("c1", now=T).to_dict()
    assert [g["next_attempt_after"] for g in diag["pending_gaps"]] == [ts(30 * M)]


def test_S55_2_an_in_progress_gap_counts_nowhere(store: Store) -> None:
    w = World(store)
    w.ok("r1", -H)
    store.add_detail_gap("c1", "items", status="in_progress")
    assert state(w.row()) == "healthy"


# -- R56 ---------------------------------------------------------------------------------
def test_S56_1_a_newer_success_supersedes_backoff(store: Store) -> None:
    w = World(store, ACME, "c1", "c2")
    for cid in ("c1", "c2"):
        w.fail("r1" + cid, -3 * H, cid=cid)
        store.set_schedule(
            cid, interval_seconds=3600, consecutive_failures=8, next_run_at=ts(6 * H)
        )
    w.ok("r2", -H, cid="c1")
    row = w.row("c1")
    assert row["schedule"]["backoff_active"] is False
    assert state(row) == "healthy"
    assert state(w.row("c2")) == "blocked"


def test_S56_2_a_manual_only_source_ignores_backoff(store: Store) -> None:
    w = World(store, MANU)
    w.fail("r1", -H)
    store.set_schedule("c1", interval_seconds=3600, consecutive_failures=8, next_run_at=ts(6 * H))
    row = w.row()
    assert row["schedule"]["backoff_active"] is False
    assert state(row) == "degraded"


# -- R57 ---------------------------------------------------------------------------------
def test_S57_1_an_actionable_known_gap_needs_a_code_fix(store: Store) -> None:
    w = World(store)
    gaps = [{"severity": "actionable", "reason": "schema_changed", "stream": "items"}]
    w.ok("r1", -H, known_gaps=gaps)
    row = w.row()
    assert row["coverage"]["axis"] == "terminal_gap"
    assert state(row) == "degraded"
    assert row["rendered_verdict"] == {
        "tone": "amber",
        "label": "Degraded",
        "channel": "advisory",
        "required_actions": ["code_fix"],
    }
    assert row["owner_state"]["resolver"] == "blocked_maintainer"


def test_S57_2_a_transient_known_gap_is_retryable(store: Store) -> None:
    w = World(store)
    w.ok("r1", -H, known_gaps=[{"severity": "transient", "reason": "x", "stream": "items"}])
    row = w.row()
    assert row["coverage"]["axis"] == "retryable_gap"
    assert state(row) == "degraded"
    assert row["rendered_verdict"]["required_actions"] == ["retry_gap"]


@pytest.mark.parametrize(
    ("gaps", "axis"),
    [
        ([{"severity": "informational", "reason": "x"}], "complete"),
        ([{"severity": "actionable", "stream": "extras"}], "complete"),
        (["oops"], "terminal_gap"),
    ],
)
def test_S57_3_ignored_optional_and_non_object_gaps(
    store: Store, gaps: list[Any], axis: str
) -> None:
    w = World(store)
    w.ok("r1", -H, known_gaps=gaps)
    row = w.row()
    assert row["coverage"]["axis"] == axis
    assert state(row) == ("healthy" if axis == "complete" else "degraded")


# -- R58 ---------------------------------------------------------------------------------
def test_S58_1_a_401_known_gap_is_a_rejected_credential(store: Store) -> None:
    w = World(store)
    w.fail(
        "r1",
        -H,
        failure_reason="connector_reported_failed",
        known_gaps=[{"severity": "actionable", "message": "HTTP 401 Unauthorized"}],
    )
    row = w.row()
    assert ("CredentialsInvalid", "credential_rejected") in conditions(row)
    assert state(row) == "blocked"
    verdict = row["rendered_verdict"]
    assert (verdict["tone"], verdict["label"]) == ("red", "Can't collect")
    assert (verdict["required_actions"], verdict["channel"]) == (["reauth"], "attention")
    assert row["owner_state"]["resolver"] == "needs_owner"


def test_S58_2_an_expired_session_needs_a_browser_session(store: Store) -> None:
    account = World(store)
    account.fail("r1", -H, failure_reason="session_expired")
    row = account.row()
    assert "CredentialsInvalid" not in [t for t, _ in conditions(row)]
    assert state(row) == "degraded"
    assert "reauth" not in row["rendered_verdict"]["required_actions"]
    browser = World(store, BROW, "b1")
    browser.fail("r2", -H, cid="b1", failure_reason="session_expired")
    row = browser.row("b1")
    assert ("CredentialsInvalid", "session_expired") in conditions(row)
    assert state(row) == "blocked"
    assert row["rendered_verdict"]["required_actions"] == ["reauth"]


def test_S58_3_interaction_gaps_and_a_missing_runtime(store: Store) -> None:
    w = World(store, ACME, "c1", "c2")
    w.fail(
        "r1",
        -H,
        known_gaps=[
            {
                "kind": "interaction_required",
                "recovery_hint": {"action": "manual_action_required"},
                "message": "otp needed",
            },
            {
                "severity": "actionable",
                "recovery_hint": {"action": "refresh_credentials"},
                "message": "session_failed",
            },
        ],
    )
    row = w.row()
    assert "reauth" not in row["rendered_verdict"]["required_actions"]
    assert row["coverage"]["axis"] == "terminal_gap"
    assert state(row) == "degraded"
    w.start("r2", -2 * H, cid="c2")
    w.event(
        "run.browser_surface_failed",
        "r2",
        -H,
        cid="c2",
        data={"browser_surface": {"wait_reason": "missing_browser_surface"}},
    )
    row = w.row("c2")
    assert ("RuntimeUnavailable", "missing_browser_surface") in conditions(row)
    assert state(row) == "blocked"
    assert "reauth" not in row["rendered_verdict"]["required_actions"]


# -- R59 ---------------------------------------------------------------------------------
def test_S59_1_a_stale_assisted_source_is_the_owners_refresh(store: Store) -> None:
    w = World(store, ASSI)
    w.ok("r1", -2 * D)
    row = w.row()
    assert row["freshness"]["status"] == "stale"
    assert state(row) == "idle"
    assert conditions(row) == [("FreshnessStale", "stale_assisted_refresh")]
    assert row["connection_health"]["conditions"][0]["severity"] == "info"
    assert row["connection_health"]["forward_disposition"] == "owner_refresh_due"
    verdict = row["rendered_verdict"]
    assert (verdict["required_actions"], verdict["channel"], verdict["label"]) == (
        ["refresh_now"],
        "advisory",
        "Needs refresh",
    )
    assert row["owner_state"]["resolver"] == "refresh_due"


def test_S59_2_owner_opt_in_applies_to_manual_only(store: Store) -> None:
    opted = World(store, variant("opt", recommended_mode="manual"), "o1")
    opted.ok("r1", -2 * D, cid="o1")
    store.set_schedule("o1", interval_seconds=3600)
    row = opted.row("o1")
    assert state(row) == "degraded"
    assert ("FreshnessStale", "freshness_stale") in conditions(row)
    assert "refresh_now" not in row["rendered_verdict"]["required_actions"]
    paused = World(store, variant("pau", recommended_mode="paused"), "p1")
    paused.ok("r2", -2 * D, cid="p1")
    store.set_schedule("p1", interval_seconds=3600)
    row = paused.row("p1")
    assert state(row) == "idle"
    assert row["rendered_verdict"]["required_actions"] == ["refresh_now"]


# -- R60 ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fact", "condition"),
    [
        ({"checkpoint": "committed", "collected": 2, "considered": 5}, "complete"),
        ({"checkpoint": "committed", "collected": 2, "considered": 5, "covered": 4}, "partial"),
        ({"collected": 2, "considered": 5}, "partial"),
        ({"checkpoint": "committed", "collected": 5}, "unknown"),
    ],
)
def test_S60_1_full_inventory_conditions(
    store: Store, fact: dict[str, Any], condition: str
) -> None:
    w = World(store)
    w.ok("r1", -H, [{"stream": "items", **fact}])
    assert entry(w.row(), "items")["coverage_condition"] == condition


def test_S60_2_parent_detail_accounting_counts_what_was_collected(store: Store) -> None:
    manifest = variant("pda")
    manifest["streams"][0]["coverage_strategy"] = "parent_detail_accounting"
    w = World(store, manifest)
    w.ok(
        "r1", -H, [{"stream": "items", "checkpoint": "committed", "collected": 2, "considered": 5}]
    )
    assert entry(w.row(), "items")["coverage_condition"] == "partial"


def test_S60_3_accepted_policies_and_skip_classes(store: Store) -> None:
    manifest = variant("pol")
    manifest["streams"][1]["coverage_policy"] = "inventory_only"
    w = World(store, manifest)
    w.ok("r1", -H)
    assert entry(w.row(), "extras")["coverage_condition"] == "inventory_only"
    other = World(store, variant("skp"), "s1")
    skipped = [{"stream": "items", "skipped": {"reason": "unsupported_region"}}]
    other.ok("r2", -H, skipped, cid="s1")
    assert entry(other.row("s1"), "items")["coverage_condition"] == "unsupported"
    store.add_detail_gap("s1", "items")
    assert entry(other.row("s1"), "items")["coverage_condition"] == "unsupported"


# -- R61 ---------------------------------------------------------------------------------
def test_S61_1_the_collection_report(store: Store) -> None:
    w = World(store)
    w.ok("r1", -H)
    store.add_detail_gap("c1", "items")
    row = w.row()
    assert row["collection_report"] == [
        {
            "stream": "extras",
            "required": False,
            "checkpoint": "unknown",
            "collected": 0,
            "considered": "unknown",
            "covered": "unknown",
            "skipped": None,
            "pending_detail_gaps": 0,
            "coverage_condition": "unknown",
            "coverage_strategy": "full_inventory",
            "freshness_strategy": None,
            "evidence_as_of": None,
            "forward_disposition": "unmeasured",
        },
        {
            "stream": "items",
            "required": True,
            "checkpoint": "committed",
            "collected": 3,
            "considered": 3,
            "covered": "unknown",
            "skipped": None,
            "pending_detail_gaps": 1,
            "coverage_condition": "retryable_gap",
            "coverage_strategy": "full_inventory",
            "freshness_strategy": None,
            "evidence_as_of": ts(-H),
            "forward_disposition": "resumable",
        },
    ]
    assert row["connection_health"]["forward_disposition"] == "resumable"


def test_S61_2_an_unresolved_attempt_keeps_the_committed_proof(store: Store) -> None:
    w = World(store)
    w.ok("r1", -3 * H)
    w.ok("r2", -H, [{"stream": "items", "checkpoint": "not_committed", "collected": 1}])
    items = entry(w.row(), "items")
    assert (items["considered"], items["evidence_as_of"]) == (3, ts(-3 * H))
    assert items["coverage_condition"] == "complete"


def test_S61_3_list_row_and_scoped_report_are_equal(store: Store) -> None:
    w = World(store)
    w.ok("r1", -H)
    store.add_detail_gap("c1", "items", next_attempt_after=ts(-M))
    listed = store.list_connection_summaries(now=T).items[0].to_dict()
    scoped = store.get_connection_summary("c1", now=T)
    assert scoped is not None
    assert listed["collection_report"] == scoped.to_dict()["collection_report"]
    assert listed["collection_report"] == w.row()["collection_report"]


# -- R62 ---------------------------------------------------------------------------------
def test_S62_1_an_active_and_a_revoked_sibling_are_ambiguous(store: Store) -> None:
    w = World(store, ACME, "c1")
    w.connection("c2", status="revoked")
    w.connection("c3", status="draft")
    resolution = store.resolve_connection("acme")
    expected = (("c1", "Acme", "active"), ("c2", "Acme", "revoked"))
    assert (resolution.state, resolution.candidates) == ("ambiguous", expected)
    assert store.get_connection_summary("acme", now=T) is None
    with pytest.raises(ConnectionAmbiguous) as raised:
        store.connection_diagnostics("acme", now=T)
    assert raised.value.candidates == expected


def test_S62_2_drafts_never_resolve_a_connector_id(store: Store) -> None:
    w = World(store, ACME, "c1")
    w.connection("c3", status="draft")
    assert store.resolve_connection("acme").connection_id == "c1"
    assert store.resolve_connection("c3").connection_id == "c3"
    assert store.get_connection_summary("acme", now=T).connection_id == "c1"  # type: ignore[union-attr]


def _seed(store: Store, n: int) -> None:
    store.register_connector(ACME)
    for i in range(n):
        store.create_connection(f"x{i:04d}", "acme", created_at=ts(-D))


def _costs(store: Store) -> tuple[int, ...]:
    out = []
    for read in (
        lambda: store.resolve_connection("nope"),
        lambda: store.get_connection_summary("nope", now=T),
        lambda: store.get_connection_summary("acme", now=T),
    ):
        with store.statement_counter() as counter:
            read()
        out.append(counter.statements)
    with store.statement_counter() as counter, pytest.raises(ConnectionNotFound):
        store.connection_diagnostics("nope", now=T)
    return (*out, counter.statements)


def test_S62_3_an_unknown_reference_costs_the_same_at_any_fleet_size(store: Store) -> None:
    assert store.resolve_connection("nope").state == "unresolved"
    _seed(store, 10)
    small = _costs(store)
    for i in range(10, 1000):  # the same store grows to N = 1000
        store.create_connection(f"x{i:04d}", "acme", created_at=ts(-D))
    assert _costs(store) == small
