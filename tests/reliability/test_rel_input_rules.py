"""Issue 12: one input rule on both backends (timestamps, JSON, manifests, arguments).

Each kind of bad input the issue lists is a table here, replayed on SQLite and
Postgres: the same values are accepted (and read back identically, zero-padded)
or refused with `InvalidInput` naming the field, and nothing is half written.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from rel_support import NOW, count_rows, seed_connectors, sql

from pyreference.errors import InvalidCursor, InvalidInput, PyreferenceError
from pyreference.store import Store
from tests.support.upgrades import migrations_after

PLUS14 = timezone(timedelta(hours=14))
MINUS14 = timezone(timedelta(hours=-14))

# (value given, canonical UTC text it is stored as)
ACCEPTED_TIMES: list[tuple[Any, str]] = [
    ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"),
    ("0005-03-01T10:00:00+00:00", "0005-03-01T10:00:00.000000Z"),
    ("0009-12-31T23:59:59.5Z", "0009-12-31T23:59:59.500000Z"),
    ("0010-01-01T00:00:00Z", "0010-01-01T00:00:00.000000Z"),
    ("0099-12-31T23:59:59Z", "0099-12-31T23:59:59.000000Z"),
    ("0999-06-15T12:00:00Z", "0999-06-15T12:00:00.000000Z"),
    ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
    ("0001-01-01T00:00:00-14:00", "0001-01-01T14:00:00.000000Z"),
    ("9999-12-31T09:59:59+14:00", "9999-12-30T19:59:59.000000Z"),
    ("2024-02-29T12:00:00Z", "2024-02-29T12:00:00.000000Z"),
    (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000000Z"),
    (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "9999-12-31T23:59:59.999999Z"),
    (datetime(1, 1, 1, tzinfo=MINUS14), "0001-01-01T14:00:00.000000Z"),
]
REFUSED_TIMES: list[Any] = [
    "0001-01-01T00:00:00+14:00",  # year 0 in UTC
    "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
    datetime(1, 1, 1, tzinfo=PLUS14),
    datetime(9999, 12, 31, 23, 59, tzinfo=MINUS14),
    "0000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "2026-11-31T10:00:00.000000Z",  # impossible date
    "2023-02-29T00:00:00Z",
    "2016-12-31T23:59:60Z",  # leap second
    "2016-12-31T23:59:60.000000Z",
    "infinity",
    "-infinity",
    "2024-01-01T00:00:00",  # naive
    "2024-01-01",
    "",
    "2024-01-01T00:00:00." + "0" * 60 + "Z",
    1714521600,
]


def _fresh(store: Store) -> None:
    seed_connectors(store)
    store.create_connection("c1", "alpha")


def _refuses(call: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        call()
    assert field in str(info.value), (field, str(info.value))
    assert len(str(info.value)) <= 300


def test_timestamp_domain_is_one_domain_on_both_backends(store: Store) -> None:
    """The same instants are accepted (and read back zero-padded) or refused, for every
    timestamp argument, `now=` included."""
    _fresh(store)
    for n, (value, text) in enumerate(ACCEPTED_TIMES):
        store.ingest_records("c1", "s1", [{"key": f"k{n}", "data": {}, "emitted_at": value}])
        store.append_events(
            [
                {
                    "event_type": "run.started",
                    "occurred_at": value,
                    "run_id": f"r{n}",
                    "connection_id": "c1",
                }
            ]
        )
        store.create_connection(f"t{n}", "alpha", created_at=value)
        store.set_schedule(f"t{n}", interval_seconds=60, next_run_at=value)
        store.open_attention(f"t{n}", reason_code="x", expires_at=value)
        store.add_detail_gap(f"t{n}", "s1", next_attempt_after=value)
        stored = sql(store, f"SELECT count(*) AS n FROM records WHERE record_key = 'k{n}'")
        assert stored[0]["n"] == 1
        got = store.get_connection_summary("c1", now=value)
        assert got is not None
        assert got.to_dict()["last_run"]["started_at"] == text or n > 0
        detail = store.connection_diagnostics(f"t{n}", now=value).to_dict()
        assert detail["summary"]["schedule"]["next_run_at"] == text
    store.reconcile()
    runs = store.connection_diagnostics("c1", now=NOW).to_dict()["recent_runs"]
    assert sorted(r["started_at"] for r in runs) == sorted(t for _, t in ACCEPTED_TIMES)
    for value in REFUSED_TIMES:
        before = count_rows(store, "records"), count_rows(store, "spine_events")
        _refuses(
            lambda v=value: store.ingest_records(
                "c1", "s1", [{"key": "ok", "data": {}}, {"key": "bad", "data": {}, "emitted_at": v}]
            ),
            "record #1 emitted_at",
        )
        _refuses(
            lambda v=value: store.append_events(
                [{"event_type": "x", "occurred_at": v, "event_id": "bad"}]
            ),
            "event #0 occurred_at",
        )
        _refuses(
            lambda v=value: store.create_connection("bad", "alpha", created_at=v), "created_at"
        )
        _refuses(
            lambda v=value: store.set_schedule("c1", interval_seconds=1, next_run_at=v),
            "next_run_at",
        )
        _refuses(
            lambda v=value: store.open_attention("c1", reason_code="x", expires_at=v), "expires_at"
        )
        _refuses(
            lambda v=value: store.add_detail_gap("c1", "s", next_attempt_after=v),
            "next_attempt_after",
        )
        _refuses(lambda v=value: store.list_connection_summaries(now=v), "now")
        _refuses(lambda v=value: store.get_connection_summary("c1", now=v), "now")
        _refuses(lambda v=value: store.connection_diagnostics("c1", now=v), "now")
        _refuses(lambda v=value: list(store.iter_connection_summaries(now=v)), "now")
        assert (count_rows(store, "records"), count_rows(store, "spine_events")) == before
    assert store.verify() == []


def test_every_listed_time_reads_back_the_same_on_both_backends(
    store: Store, request: pytest.FixtureRequest
) -> None:
    _fresh(store)
    for n, (value, _) in enumerate(ACCEPTED_TIMES):
        store.create_connection(f"t{n}", "alpha", created_at=value)
        store.ingest_records(f"t{n}", "s1", [{"key": "k", "data": {}, "emitted_at": value}])
    for reconcile in (False, True):
        if reconcile:
            store.reconcile()
        page = store.list_connection_summaries(limit=1000, now=NOW).to_dict()
        got = {i["connection_id"]: i["freshness"]["captured_at"] for i in page["items"]}
        for n, (_, text) in enumerate(ACCEPTED_TIMES):
            assert got[f"t{n}"] == text


# -- JSON -----------------------------------------------------------------------------


def _nested(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"leaf": 1}
    for n in range(depth - 1):
        doc = [doc] if n % 2 else {"n": doc}
    return doc


def test_json_rule_is_one_rule(store: Store) -> None:
    _fresh(store)
    ingest = store.ingest_records
    # The six characters \u0000 are text, not a NUL: stored, and a repeat is a no-op.
    assert ingest("c1", "s1", [{"key": "esc", "data": {"t": "a\\u0000b", "\\u0000": 1}}]) == 1
    assert ingest("c1", "s1", [{"key": "esc", "data": {"t": "a\\u0000b", "\\u0000": 1}}]) == 0
    assert ingest("c1", "s1", [{"key": "esc-text", "data": '{"t": "\\\\u0000"}'}]) == 1
    # A number compares by value: 1.0 and 1 are the same document on both backends.
    for first, second in (
        ({"v": 1.0}, {"v": 1}),
        ({"v": 2}, {"v": 2.0}),
        ({"v": 10**20}, {"v": 1e20}),
        ({"v": [0.5, -0.0]}, {"v": [0.5, 0]}),
    ):
        key = f"num-{first}"
        assert ingest("c1", "s1", [{"key": key, "data": first}]) == 1
        assert ingest("c1", "s1", [{"key": key, "data": second}]) == 0, (first, second)
    assert ingest("c1", "s1", [{"key": "depth-100", "data": _nested(100)}]) == 1
    assert ingest("c1", "s1", [{"key": "big-int", "data": {"v": 10**30}}]) == 1
    assert ingest("c1", "s1", [{"key": "big-int", "data": {"v": 10**30}}]) == 0

    bad: dict[str, Any] = {
        "real NUL": {"t": "a\x00b"},
        "NUL in key": {"a\x00": 1},
        "lone surrogate": {"t": "\ud800"},
        "surrogate key": {"\udfff": 1},
        "surrogate in json text": '{"t": "\\ud800"}',
        "nested 101": _nested(101),
        "nested 1000": _nested(1000),
        "nested 1000 as text": "[" * 1000 + "]" * 1000,
        "deep json text": '{"a":' * 5000 + "1" + "}" * 5000,
        "too large": {"t": "x" * (16 * 1024 * 1024)},
        "non-text key": {1: "a"},
        "set value": {"s": {1, 2}},
        "bytes value": {"b": b"x"},
        "nan": {"n": float("nan")},
        "nan text": '{"n": NaN}',
    }
    for case, data in bad.items():
        before = count_rows(store, "records")
        with pytest.raises(InvalidInput) as info:
            ingest("c1", "s1", [{"key": "ok", "data": {}}, {"key": "bad", "data": data}])
        message = str(info.value)
        assert "record #1 data" in message, (case, message)
        assert len(message) <= 300, case
        assert count_rows(store, "records") == before, case
    for data in bad.values():
        with pytest.raises(InvalidInput, match="event #0 data"):
            store.append_events([{"event_type": "x.y", "occurred_at": NOW, "data": data}])
        manifest = {"connector_key": "m", "streams": [], "extra": data}
        if isinstance(data, str):
            continue
        with pytest.raises(InvalidInput, match="manifest"):
            store.register_connector(manifest)
    assert store.verify() == []


TEXT_ARGS = {
    "display_name": lambda s, v: s.create_connection("n1", "alpha", display_name=v),
    "connection_id": lambda s, v: s.create_connection(v, "alpha"),
    "stream": lambda s, v: s.ingest_records("c1", v, [{"key": "k", "data": {}}]),
    "record #0 key": lambda s, v: s.ingest_records("c1", "s1", [{"key": v, "data": {}}]),
    "event #0 event_id": lambda s, v: s.append_events(
        [{"event_type": "x", "occurred_at": NOW, "event_id": v}]
    ),
    "event #0 status": lambda s, v: s.append_events(
        [{"event_type": "x", "occurred_at": NOW, "status": v}]
    ),
    "reason": lambda s, v: s.add_detail_gap("c1", "s1", reason=v),
    "owner_action": lambda s, v: s.open_attention("c1", reason_code="r", owner_action=v),
    "connection id": lambda s, v: s.get_connection_summary(v),
    "connector_id": lambda s, v: s.list_connection_summaries(connector_id=v),
    "live_run_ids member": lambda s, v: s.list_connection_summaries(live_run_ids={v}),
}


@pytest.mark.parametrize("value", ["\ud800", "a\udc00b", "nul\x00", "x" * 10_000_000])
def test_text_arguments_follow_the_text_rule(store: Store, value: str) -> None:
    """Surrogates, NULs and huge text are InvalidInput naming the field, with a short message."""
    _fresh(store)
    for field, call in TEXT_ARGS.items():
        with pytest.raises(InvalidInput) as info:
            call(store, value)
        message = str(info.value)
        assert field in message, (field, message)
        assert len(message) <= 300, (field, len(message))
    assert count_rows(store, "connector_instances") == 1


def test_ten_megabyte_status_message_is_bounded(store: Store) -> None:
    _fresh(store)
    with pytest.raises(InvalidInput) as info:
        store.create_connection("c9", "alpha", status="x" * 10_000_000)
    assert len(str(info.value)) <= 300


# -- arguments of every type --------------------------------------------------------------


def test_wrong_argument_types_are_typed_errors(store: Store) -> None:
    _fresh(store)
    cases: dict[str, tuple[Any, type[PyreferenceError]]] = {
        "records None": (lambda: store.ingest_records("c1", "s1", None), InvalidInput),
        "records int": (lambda: store.ingest_records("c1", "s1", 5), InvalidInput),
        "records text": (lambda: store.ingest_records("c1", "s1", "abc"), InvalidInput),
        "events None": (lambda: store.append_events(None), InvalidInput),
        "events mapping": (lambda: store.append_events({"event_type": "x"}), InvalidInput),
        "cursor list": (lambda: store.list_connection_summaries(cursor=["x"]), InvalidCursor),
        "cursor dict": (lambda: store.list_connection_summaries(cursor={}), InvalidCursor),
        "live_run_ids int": (lambda: store.list_connection_summaries(live_run_ids=5), InvalidInput),
        "live_run_ids nested": (
            lambda: store.list_connection_summaries(live_run_ids=[[1]]),
            InvalidInput,
        ),
        "live_run_ids text": (
            lambda: store.list_connection_summaries(live_run_ids="run-1"),
            InvalidInput,
        ),
        "scoped live_run_ids": (
            lambda: store.get_connection_summary("c1", live_run_ids=5),
            InvalidInput,
        ),
        "diagnostics live_run_ids": (
            lambda: store.connection_diagnostics("c1", live_run_ids=[[1]]),
            InvalidInput,
        ),
        "interval 2**63": (
            lambda: store.set_schedule("c1", interval_seconds=2**63),
            InvalidInput,
        ),
        "failures 2**63": (
            lambda: store.set_schedule("c1", interval_seconds=1, consecutive_failures=2**63),
            InvalidInput,
        ),
        "interval 10**30": (
            lambda: store.set_schedule("c1", interval_seconds=10**30),
            InvalidInput,
        ),
        "enabled text": (
            lambda: store.set_schedule("c1", interval_seconds=1, enabled="no"),
            InvalidInput,
        ),
        "limit float": (lambda: store.list_connection_summaries(limit=1.5), InvalidInput),
        "connection id None": (lambda: store.get_connection_summary(None), InvalidInput),
        "delete key int": (lambda: store.delete_record("c1", "s1", 5), InvalidInput),
        "manifest None": (lambda: store.register_connector(None), InvalidInput),
    }
    for case, (call, error) in cases.items():
        with pytest.raises(error):
            call()
        assert case
    # The largest 64-bit values are stored the same on both backends.
    store.set_schedule("c1", interval_seconds=2**63 - 1, consecutive_failures=2**63 - 1)
    got = store.get_connection_summary("c1", now=NOW)
    assert got is not None and got.to_dict()["schedule"]["interval_seconds"] == 2**63 - 1


# -- cursors -------------------------------------------------------------------------------


def test_tampered_cursor_is_invalid_cursor_before_its_position_is_used(store: Store) -> None:
    import base64
    import json

    _fresh(store)
    for n in range(3):
        store.create_connection(f"p{n}", "alpha")
    cursor = store.list_connection_summaries(limit=1, now=NOW).next_cursor
    assert cursor is not None
    body, mac = cursor.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for position in (["alpha", "not a time", "c1"], ["alpha", "infinity", 5], [None, None, None]):
        payload["k"] = position
        forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
        with pytest.raises(InvalidCursor):
            store.list_connection_summaries(limit=1, cursor=f"{forged}.{mac}", now=NOW)
        # A fresh store (no secret read yet) verifies first too.
        other = Store(store.database)
        with pytest.raises(InvalidCursor):
            other.list_connection_summaries(limit=1, cursor=f"{forged}.{mac}", now=NOW)
    assert len(store.list_connection_summaries(limit=1, cursor=cursor, now=NOW).items) == 1


# -- event_seq -----------------------------------------------------------------------------


def test_explicit_event_seq_is_stored_as_given(store: Store) -> None:
    _fresh(store)
    store.append_events([{"event_type": "x.a", "occurred_at": NOW, "event_id": "auto1"}])
    store.append_events(
        [
            {"event_type": "x.b", "occurred_at": NOW, "event_id": "given", "event_seq": 1000},
            {"event_type": "x.c", "occurred_at": NOW, "event_id": "auto2"},
        ]
    )
    store.append_events([{"event_type": "x.d", "occurred_at": NOW, "event_id": "auto3"}])
    rows = {
        r["event_id"]: r["event_seq"]
        for r in sql(store, "SELECT event_id, event_seq FROM spine_events")
    }
    assert rows["given"] == 1000
    assert rows["auto1"] < rows["auto2"] < 1000 < rows["auto3"]
    # An identical repeat is a no-op; the same id with another seq, or a used seq, is refused.
    store.append_events(
        [{"event_type": "x.b", "occurred_at": NOW, "event_id": "given", "event_seq": 1000}]
    )
    for bad in (
        {"event_type": "x.b", "occurred_at": NOW, "event_id": "given", "event_seq": 1001},
        {"event_type": "x.e", "occurred_at": NOW, "event_id": "other", "event_seq": 1000},
        {"event_type": "x.e", "occurred_at": NOW, "event_id": "o2", "event_seq": 0},
        {"event_type": "x.e", "occurred_at": NOW, "event_id": "o3", "event_seq": 2**53 + 1},
        {"event_type": "x.e", "occurred_at": NOW, "event_id": "o4", "event_seq": "7"},
        {"event_type": "x.e", "occurred_at": NOW, "event_id": "o5", "event_seq": True},
    ):
        with pytest.raises(InvalidInput):
            store.append_events([{"event_type": "x.z", "occurred_at": NOW}, bad])
    with pytest.raises(InvalidInput, match="repeats an event_seq"):
        store.append_events(
            [
                {"event_type": "x", "occurred_at": NOW, "event_seq": 5000},
                {"event_type": "x", "occurred_at": NOW, "event_seq": 5000},
            ]
        )
    assert count_rows(store, "spine_events") == 4
    # Run events with explicit seqs fold in seq order, whatever the batch order.
    store.append_events(
        [
            {
                "event_type": "run.completed",
                "occurred_at": "2024-05-02T00:00:00Z",
                "run_id": "rq",
                "connection_id": "c1",
                "event_seq": 3001,
            },
            {
                "event_type": "run.started",
                "occurred_at": "2024-05-01T00:00:00Z",
                "run_id": "rq",
                "connection_id": "c1",
                "event_seq": 3000,
            },
        ]
    )
    got = store.get_connection_summary("c1", now=NOW)
    assert got is not None and got.to_dict()["last_run"]["status"] == "succeeded"
    store.reconcile()
    assert store.verify() == []


# -- one bad row never breaks a page ---------------------------------------------------------

# Hostile values a plain-SQL writer could store before the 0006 guards (and that a
# database restored from elsewhere may still hold), per backend. Each sorts after any
# clock-stamped time the setup writes, so it is the connection's newest evidence (the
# SQLite value was "2026-11-31", which stopped being the newest on 2026-12-01).
HOSTILE_TIME = {"sqlite": "9999-11-31T10:00:00.000000Z", "postgres": "10000-01-01T00:00:00Z"}
LEAP_SECOND = {"sqlite": "2016-12-31T23:59:60.000000Z", "postgres": "infinity"}


def _page(store: Store) -> dict[str, dict[str, Any]]:
    page = store.list_connection_summaries(limit=1000, now=NOW)
    return {i.connection_id: i.to_dict() for i in page.items}


def _unknown(item: dict[str, Any], reason: str) -> None:
    health = item["connection_health"]
    assert health["state"] == "unknown", health
    assert reason in health["unknown_reasons"], health


def test_one_hostile_row_degrades_only_its_connection(store: Store) -> None:
    _fresh(store)
    for cid in ("good1", "bad_record", "bad_event", "bad_attention", "good2"):
        store.create_connection(cid, "alpha")
        store.ingest_records(cid, "s1", [{"key": "k", "data": {"v": 1}}])
    store.reconcile()
    healthy = _page(store)
    dialect = store.dialect
    drop_timestamp_guards(store)
    sql(
        store,
        "INSERT INTO records (connector_instance_id, stream, record_key, record_json, emitted_at)"
        f" VALUES ('bad_record', 's1', 'k2', '{{}}', '{HOSTILE_TIME[dialect]}')",
    )
    sql(
        store,
        "INSERT INTO spine_events"
        " (event_id, event_type, occurred_at, run_id, connector_instance_id)"
        f" VALUES ('e1', 'run.started', '{LEAP_SECOND[dialect]}', 'r1', 'bad_event')",
    )
    sql(
        store,
        "INSERT INTO connector_attention_records (attention_id, connector_instance_id,"
        f" reason_code, expires_at) VALUES ('a1', 'bad_attention', 'x', '{HOSTILE_TIME[dialect]}')",
    )
    for reconciled in (False, True):  # dirty rows (recomputed by the read), then stored rows
        if reconciled:
            store.reconcile()
        for _ in range(2):  # the second read goes through the memo
            page = _page(store)
            for cid in ("good1", "good2", "c1"):
                assert page[cid] == healthy[cid]
            for cid in ("bad_record", "bad_event", "bad_attention"):
                _unknown(page[cid], "evidence_timestamp_invalid")
                scoped = store.get_connection_summary(cid, now=NOW)
                assert scoped is not None
                assert scoped.to_dict()["connection_health"] == page[cid]["connection_health"]
                diag = store.connection_diagnostics(cid, now=NOW).to_dict()
                assert diag["summary"]["connection_health"]["state"] == "unknown"
        assert len(list(store.iter_connection_summaries(now=NOW))) == 6


def test_undecodable_stored_evidence_degrades_only_its_row(store: Store) -> None:
    _fresh(store)
    store.create_connection("c2", "alpha")
    store.reconcile()
    healthy = _page(store)
    sql(
        store,
        "UPDATE pyref_evidence SET stream_stats = "
        '\'[{"stream": "s1", "live": 1, "rows": 1, "bytes": 2,'
        ' "last_record_at": "10000-01-01T00:00:00.000000Z"}]\''
        " WHERE connector_instance_id = 'c2'",
    )
    page = _page(store)
    assert page["c1"] == healthy["c1"]
    _unknown(page["c2"], "evidence_timestamp_invalid")
    sql(
        store,
        "UPDATE pyref_evidence SET stream_stats = '[]', latest_run = '{\"no\": 1}' WHERE "
        "connector_instance_id = 'c2'",
    )
    page = _page(store)
    assert page["c1"] == healthy["c1"]
    _unknown(page["c2"], "evidence_undecodable")


@pytest.mark.parametrize("window", ["1e14", str(10**30), "1" + "0" * 400, "-5", "0", "1e400"])
def test_out_of_range_staleness_window_is_no_window(store: Store, window: str) -> None:
    """A refresh policy number outside (0, span of years 0001-9999] counts as no window."""
    import json

    manifest = json.dumps(
        {
            "connector_key": "wide",
            "streams": [{"name": "s1"}],
            "capabilities": {"refresh_policy": {"maximum_staleness_seconds": 0}},
        }
    ).replace('"maximum_staleness_seconds": 0', f'"maximum_staleness_seconds": {window}')
    if window == "1e400":  # not a finite JSON number: stored by plain SQL only
        seed_connectors(store)
        sql(
            store,
            "INSERT INTO connectors (connector_id, manifest) VALUES ('wide', :m)"
            if store.dialect == "sqlite"
            else "INSERT INTO connectors (connector_id, manifest) VALUES ('wide', %(m)s)",
            {"m": manifest},
        )
    else:
        store.register_connector(manifest)
    store.create_connection("w1", "wide")
    store.ingest_records("w1", "s1", [{"key": "k", "data": {}, "emitted_at": NOW}])
    for _ in range(2):
        item = _page(store)["w1"]
        assert item["freshness"]["status"] == "unknown"
        store.reconcile()


def drop_timestamp_guards(store: Store) -> None:
    """Simulate rows stored before 0008's timestamp guards (a database migrated from 0007)."""
    if store.dialect == "postgres":
        for table, cols in TIMESTAMP_COLUMNS.items():
            for col in cols:
                sql(store, f"ALTER TABLE {table} DROP CONSTRAINT {table}_{col}_in_domain")
    else:
        for table in TIMESTAMP_COLUMNS:
            for op in ("insert", "update"):
                sql(store, f"DROP TRIGGER pyref_050_{table}_timestamps_{op}")


TIMESTAMP_COLUMNS = {
    "connectors": ["created_at", "updated_at"],
    "connector_instances": ["created_at", "updated_at", "revoked_at"],
    "records": ["emitted_at", "deleted_at"],
    "spine_events": ["occurred_at", "recorded_at"],
    "connector_schedules": ["next_run_at", "updated_at"],
    "connector_detail_gaps": ["next_attempt_after", "updated_at"],
    "connector_attention_records": ["expires_at", "created_at", "updated_at"],
}
# What a plain-SQL writer can put in a timestamp column that is outside the domain.
HOSTILE_SQL_TIMES = {
    "sqlite": [
        "2026-11-31T10:00:00.000000Z",
        "2023-02-29T00:00:00.000000Z",
        "2016-12-31T23:59:60.000000Z",
        "2016-12-31T24:00:00.000000Z",
        "2016-12-31T23:60:00.000000Z",
        "0000-01-01T00:00:00.000000Z",
    ],
    "postgres": [
        "10000-01-01T00:00:00Z",
        "infinity",
        "-infinity",
        "0001-01-01 00:00:00+00 BC",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59.999999-00:01",
    ],
}
EDGE_SQL_TIMES = {
    "sqlite": ["0001-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z"],
    "postgres": ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "2016-12-31T23:59:60Z"],
}


def _plain_insert(store: Store, table: str, col: str, value: str, n: int) -> None:
    """One plain-SQL row of `table` with `value` in `col` (other columns valid)."""
    rows = {
        "connectors": ("connector_id, manifest", f"'pc{n}', '{{}}'"),
        "connector_instances": ("connector_instance_id, connector_id", f"'pi{n}', 'alpha'"),
        "records": (
            "connector_instance_id, stream, record_key, record_json, emitted_at",
            f"'c1', 's', 'pr{n}', '{{}}', '2024-01-01T00:00:00.000000Z'",
        ),
        "spine_events": (
            "event_id, event_type, occurred_at",
            f"'pe{n}', 'x', '2024-01-01T00:00:00.000000Z'",
        ),
        "connector_schedules": ("connector_instance_id, interval_seconds", f"'ps{n}', 60"),
        "connector_detail_gaps": ("gap_id, connector_instance_id, stream", f"'pg{n}', 'c1', 's'"),
        "connector_attention_records": (
            "attention_id, connector_instance_id, reason_code",
            f"'pa{n}', 'c1', 'r'",
        ),
    }
    columns, values = rows[table]
    if table == "connector_schedules":
        store.create_connection(f"ps{n}", "alpha")
    if col in columns.split(", "):
        index = columns.split(", ").index(col)
        parts = values.split(", ")
        parts[index] = f"'{value}'"
        values = ", ".join(parts)
    else:
        columns, values = f"{columns}, {col}", f"{values}, '{value}'"
    sql(store, f"INSERT INTO {table} ({columns}) VALUES ({values})")


def test_plain_sql_writers_meet_the_same_timestamp_domain(store: Store) -> None:
    """As far as each database can enforce it, plain SQL is held to the domain too."""
    _fresh(store)
    n = 0
    for table, cols in TIMESTAMP_COLUMNS.items():
        for col in cols:
            for value in HOSTILE_SQL_TIMES[store.dialect]:
                n += 1
                with pytest.raises(InvalidInput, match="allowed set"):
                    _plain_insert(store, table, col, value, n)
            for value in EDGE_SQL_TIMES[store.dialect]:
                n += 1
                _plain_insert(store, table, col, value, n)
    # An UPDATE is held to it as well.
    with pytest.raises(InvalidInput, match="allowed set"):
        sql(store, f"UPDATE records SET emitted_at = '{HOSTILE_SQL_TIMES[store.dialect][0]}'")
    store.reconcile()
    assert store.verify() == []
    assert len(store.list_connection_summaries(limit=1000, now=NOW).items) > 10


# -- the spine is append-only in every way ---------------------------------------------------


def _spine_state(store: Store) -> tuple[Any, ...]:
    events = sql(
        store, "SELECT event_seq, event_id, event_type FROM spine_events ORDER BY event_seq"
    )
    runs = sql(store, "SELECT run_id, status FROM pyref_runs ORDER BY run_id")
    return tuple(tuple(r.values()) for r in events), tuple(tuple(r.values()) for r in runs)


def test_spine_is_append_only_for_every_statement_form(store: Store) -> None:
    _fresh(store)
    store.append_events(
        [
            {
                "event_type": "run.started",
                "occurred_at": "2024-05-01T00:00:00Z",
                "run_id": "r1",
                "connection_id": "c1",
                "event_id": "e1",
            },
            {
                "event_type": "run.failed",
                "occurred_at": "2024-05-01T01:00:00Z",
                "run_id": "r1",
                "connection_id": "c1",
                "event_id": "e2",
            },
        ]
    )
    store.reconcile()
    before = _spine_state(store)
    page = _page(store)
    upsert = (
        "INSERT INTO spine_events (event_id, event_type, occurred_at) "
        "VALUES ('e2', 'run.completed', '2024-05-02T00:00:00.000000Z') "
        "ON CONFLICT (event_id) DO UPDATE SET event_type = excluded.event_type"
    )
    refused = [
        "UPDATE spine_events SET status = 'succeeded' WHERE event_id = 'e2'",
        "UPDATE spine_events SET event_type = event_type",
        "DELETE FROM spine_events WHERE event_id = 'e2'",
        "DELETE FROM spine_events",
        upsert,
        "TRUNCATE spine_events"
        if store.dialect == "postgres"
        else "INSERT OR REPLACE INTO spine_events (event_id, event_type, occurred_at) "
        "VALUES ('e2', 'x', '2024-05-02T00:00:00.000000Z')",
    ]
    messages = set()
    for statement in refused:
        with pytest.raises(InvalidInput) as info:
            sql(store, statement)
        messages.add(str(info.value))
        assert _spine_state(store) == before, statement
    assert messages == {
        "spine_events is append-only: insert a new event instead of changing or removing one"
    }
    # Statements that change no event are accepted alike on both backends.
    sql(store, "UPDATE spine_events SET status = 'x' WHERE event_id = 'no-such-event'")
    sql(store, "DELETE FROM spine_events WHERE event_id = 'no-such-event'")
    sql(store, upsert.replace("'e2'", "'e3'"))
    sql(
        store,
        "INSERT INTO spine_events (event_id, event_type, occurred_at) "
        "VALUES ('e1', 'x', '2024-05-02T00:00:00.000000Z') ON CONFLICT (event_id) DO NOTHING",
    )
    assert len(_spine_state(store)[0]) == 3
    store.rebuild()
    assert store.verify() == []
    assert _page(store)["c1"]["last_run"] == page["c1"]["last_run"]


# -- manifests and collection facts of any shape ----------------------------------------------


def test_manifest_streams_that_are_not_objects_are_skipped_alike(store: Store) -> None:
    odd = {
        "connector_key": "odd",
        "display_name": "Odd",
        "streams": [
            "plain",
            {"name": "s1"},
            5,
            None,
            [1],
            {"name": 7},
            {"name": "s2", "required": False},
        ],
    }
    store.register_connector(odd)
    text = '{"connector_key": "odd2", "streams": ["x", {"name": "s1"}, {"nom": "y"}]}'
    sql(
        store,
        "INSERT INTO connectors (connector_id, manifest) VALUES ('odd2', "
        + ("%(m)s" if store.dialect == "postgres" else ":m")
        + ")",
        {"m": text},
    )
    store.create_connection("o1", "odd")
    store.create_connection("o2", "odd2")
    store.ingest_records("o1", "s1", [{"key": "k", "data": {}}])
    store.append_events(
        [
            {
                "event_type": "run.started",
                "occurred_at": "2024-05-01T00:00:00Z",
                "run_id": "r1",
                "connection_id": "o1",
            },
            {
                "event_type": "run.completed",
                "occurred_at": "2024-05-01T01:00:00Z",
                "run_id": "r1",
                "connection_id": "o1",
                "data": {
                    "collection_facts": {
                        "streams": [
                            "s1",
                            5,
                            None,
                            {
                                "stream": "s1",
                                "checkpoint": "committed",
                                "collected": 1,
                                "considered": 1,
                            },
                        ]
                    }
                },
            },
        ]
    )
    for reconcile in (False, True):
        if reconcile:
            assert store.reconcile() >= 2
        page = _page(store)
        assert page["o1"]["streams"] == ["s1", "s2"]
        assert page["o2"]["streams"] == ["s1"]
        reasons = page["o1"]["connection_health"]["unknown_reasons"]
        assert reasons == ["freshness_unknown"], reasons  # no window: evidence itself is fine
        assert page["o1"]["last_run"]["status"] == "succeeded"
    assert store.verify() == []
    store.rebuild()
    assert store.verify() == []


# -- order is byte order everywhere ------------------------------------------------------------

ODD_IDS = [
    "apple_contacts",
    "apple-health",
    "Apple",
    "apple",
    "a b",
    "ab",
    "é",
    "e",
    "Z",
    "_x",
    "-y",
    "10",
    "9",
    "ǅ",
    "z",
]


@pytest.fixture
def icu_pg_dsn(pg_admin_dsn: str) -> Any:
    """A migrated Postgres database whose default collation is ICU en-US (not byte order)."""
    import uuid

    import psycopg

    import pyreference
    from tests.conftest import _with_db

    name = f"pyref_icu_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
            "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        )
    dsn = _with_db(pg_admin_dsn, name)
    try:
        store = pyreference.connect(dsn)
        store.migrate()
        store.close()
        yield dsn
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _odd_fleet(store: Store) -> None:
    streams = [{"name": n} for n in ("a_b", "a-b", "A", "s1")]
    for cid in ODD_IDS:
        store.register_connector({"connector_key": cid, "streams": streams})
        store.create_connection(f"{cid}:1", cid, created_at="2024-01-01T00:00:00Z")
        store.create_connection(f"{cid}_2", cid, created_at="2024-01-01T00:00:00Z")
        store.create_connection(f"{cid}-3", cid, created_at="2024-01-01T00:00:00Z")
    # Text keys inside one connection's evidence: streams, gaps (and their pending groups'
    # reasons), attention, tied runs.
    deep = f"{ODD_IDS[0]}:1"
    for stream in ("a_b", "a-b", "A", "dormant_x", "dormant-x"):
        store.ingest_records(deep, stream, [{"key": "k", "data": {}}])
        store.add_detail_gap(deep, stream, gap_id=f"g{stream}")
    for reason in ("r_b", "r-b", "R"):
        store.add_detail_gap(
            deep, "a_b", gap_id=f"gr{reason}", reason=reason, next_attempt_after=NOW
        )
    for attention in ("att_b", "att-b", "Att"):
        store.open_attention(
            deep,
            reason_code=attention,
            attention_id=attention,
            owner_action="add_info",
            created_at="2024-02-01T00:00:00Z",
        )
    tie = "2024-05-01T00:00:00Z"
    store.append_events(
        [
            {
                "event_type": t,
                "occurred_at": tie,
                "run_id": run,
                "connection_id": deep,
                "status": status,
                "data": {
                    "collection_facts": {
                        "streams": [
                            {"stream": "a_b", "checkpoint": run},
                            {"stream": "a-b", "checkpoint": run},
                        ]
                    }
                },
            }
            for run, status in (("r_1", None), ("r-1", "failed"), ("R1", None))
            for t in ("run.started", "run.completed")
        ]
    )


def _deep(store: Store) -> dict[str, Any]:
    """The deep connection's diagnostics, without what differs by design (clock readings of
    the writes, when and how the evidence was computed, the backends' byte counts, R31)."""
    d = store.connection_diagnostics(f"{ODD_IDS[0]}:1", now=NOW).to_dict()
    d["summary"].pop("retained_bytes")
    for evidence in (d["summary"]["evidence"], d.get("evidence", {})):
        for key in ("computed_at", "dirty", "recomputed"):  # when and how, not what
            evidence.pop(key, None)
    for item in d["pending_gaps"] + d["attention"]:
        item.pop("updated_at", None)
    return d


def _walk(store: Store, limit: int) -> list[str]:
    seen, cursor = [], None
    while True:
        page = store.list_connection_summaries(limit=limit, cursor=cursor, now=NOW)
        seen += [i.connection_id for i in page.items]
        if not page.has_more:
            return seen
        cursor = page.next_cursor


def test_list_order_is_byte_order_on_a_non_c_collation(icu_pg_dsn: str, sqlite_conn: Any) -> None:
    import psycopg

    import pyreference

    with psycopg.connect(icu_pg_dsn) as conn:
        provider = conn.execute(
            "SELECT datlocprovider FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        differs = conn.execute("SELECT 'apple_contacts' < 'apple-health'").fetchone()
    assert provider == ("i",) and differs == (True,)  # the database's own order is not bytes
    pg, lite = pyreference.connect(icu_pg_dsn), pyreference.connect(sqlite_conn)
    try:
        for s in (pg, lite):
            _odd_fleet(s)
        # (connector_id, created_at, id) compared as UTF-8 bytes; created_at is the same.
        fleet = [(c, f"{c}{suffix}") for c in ODD_IDS for suffix in (":1", "_2", "-3")]
        expected = [i for _, i in sorted(fleet, key=lambda p: (p[0].encode(), p[1].encode()))]
        for limit in (1, 2, 7, 1000):
            assert _walk(pg, limit) == _walk(lite, limit) == expected
        for cid in ("apple-health", "apple_contacts", "é"):
            got = [
                i.connection_id
                for i in pg.list_connection_summaries(connector_id=cid, limit=1000, now=NOW).items
            ]
            assert got == sorted(got, key=str.encode)
            assert got == [
                i.connection_id
                for i in lite.list_connection_summaries(connector_id=cid, limit=1000, now=NOW).items
            ]
            # R62: an ambiguous connector id lists its candidates in list (byte) order
            resolved = [s.resolve_connection(cid) for s in (pg, lite)]
            assert resolved[0] == resolved[1]
            assert [c for c, _, _ in resolved[0].candidates] == got
        # One connection's deep evidence (dirty: recomputed by the read), then stored.
        assert _deep(pg) == _deep(lite)
        pg.reconcile()
        lite.reconcile()
        comparable = []
        for s in (pg, lite):
            rows = [x.to_dict() for x in s.iter_connection_summaries(NOW)]
            for row in rows:
                row["evidence"].pop("computed_at")
                row.pop("retained_bytes")
            comparable.append(rows)
        assert comparable[0] == comparable[1]
        deep = _deep(pg)
        assert deep == _deep(lite)
        assert deep["summary"]["last_run"]["run_id"] == "r_1"  # the greatest id in bytes
        assert pg.verify() == []
    finally:
        pg.close()
        lite.close()


def test_0014_rolls_back_and_forward_on_a_non_c_collation(
    icu_pg_dsn: str, sqlite_conn: Any
) -> None:
    """Rolling 0014 back restores 0012's view (evidence in the database's collation) and
    marks every connection of a non-C database dirty, so `verify()` stays clean; applying
    it again marks them once more, and the evidence is byte-ordered again."""
    import pyreference
    from pyreference import migrate

    pg, lite = pyreference.connect(icu_pg_dsn), pyreference.connect(sqlite_conn)
    try:
        for s in (pg, lite):
            _odd_fleet(s)
            s.reconcile()
        expected = _deep(lite)
        assert _deep(pg) == expected
        db = pg.database
        with migrate._yoyo(db, writing=True) as backend, backend.lock():
            backend.rollback_migrations(
                backend.to_rollback(
                    migrate._migrations(db).filter(lambda m: m.id >= "0014_byte_order_evidence")
                )
            )
        marked = "SELECT count(DISTINCT connector_instance_id) AS n FROM pyref_dirty"
        with pg.database.session() as s:  # (the backlog query reads 0020's deltas too)
            assert s.execute(marked)[0]["n"] == 3 * len(ODD_IDS)  # marked by the rollback
        # 0015 (verify_v3), 0016 and 0017 are rolled back with it: verify as 0014 left it, v2.
        assert _verify_v2(icu_pg_dsn) == []
        pg.reconcile()
        assert _verify_v2(icu_pg_dsn) == []  # evidence in 0012's (the collation's) order
        later = migrations_after(pg, "0013_run_owner_check")
        assert later[:2] == ["0014_byte_order_evidence", "0015_verify_digest"]
        assert pg.pending_migrations() == later
        assert pg.migrate() == later
        assert pg.dirty_backlog()["dirty_connections"] == 3 * len(ODD_IDS)  # marked again
        assert _deep(pg) == expected  # dirty rows read in byte order at once
        pg.reconcile()
        assert pg.verify() == [] and _deep(pg) == expected
    finally:
        pg.close()
        lite.close()


def _verify_v2(dsn: str) -> list[tuple[str, str]]:
    """`pyref_verify_v2()`'s rows, for a database rolled back below 0015 (no v3)."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT * FROM pyref_verify_v2()")]
