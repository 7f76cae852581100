"""R22 (and R12 limits/cursors): bad input gets a typed error or is stored as documented.

Never a crash of a read, never half a batch written, never SQL text or a
secret in an error message. Table-driven, both backends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from rel_support import NOW, count_rows, seed_connectors, sql

import pyreference
from pyreference.errors import ConnectionNotFound, InvalidCursor, InvalidInput, PyreferenceError
from pyreference.store import Store

SECRET = "sk_live_SUPERSECRET_9"
LEAKS = (SECRET, "SELECT ", "INSERT ", "UPDATE ", "DELETE ", "Traceback", "psycopg", "sqlite3")
TABLES = (
    "connectors",
    "connector_instances",
    "records",
    "spine_events",
    "connector_schedules",
    "connector_detail_gaps",
    "connector_attention_records",
    "pyref_runs",
    "pyref_run_facts",
    "pyref_dirty",
)


@pytest.fixture
def seeded(store: Store) -> Store:
    seed_connectors(store)
    store.create_connection("c1", "alpha")
    store.create_connection("c2", "alpha")
    store.ingest_records("c1", "s1", [{"key": "k0", "data": {"v": 0}}])
    store.add_detail_gap("c2", "s1", gap_id="gap-c2")
    store.open_attention("c2", reason_code="x", attention_id="att-c2")
    store.reconcile()
    return store


def _counts(store: Store) -> dict[str, int]:
    return {t: count_rows(store, t) for t in TABLES}


def _refused(
    store: Store, call: Callable[[Store], Any], error: type[PyreferenceError] = InvalidInput
) -> str:
    before = _counts(store)
    with pytest.raises(error) as info:
        call(store)
    message = str(info.value)
    assert message.strip(), "a typed error needs a clear message"
    for leak in LEAKS:
        assert leak not in message, (leak, message)
    assert _counts(store) == before, "a refused write must write nothing"
    assert store.verify() == []
    # Reads still work after the refusal.
    assert [s.connection_id for s in store.list_connection_summaries(now=NOW).items] == ["c1", "c2"]
    return message


def _rec(
    data: Any = None, key: Any = "k", emitted_at: Any = "2024-05-01T00:00:00Z"
) -> dict[str, Any]:
    return {"key": key, "data": {"v": 1} if data is None else data, "emitted_at": emitted_at}


def _ev(**kw: Any) -> dict[str, Any]:
    base = {
        "event_type": "run.started",
        "occurred_at": "2024-05-01T00:00:00Z",
        "run_id": "r1",
        "connection_id": "c1",
    }
    base.update(kw)
    return {k: v for k, v in base.items() if v is not Ellipsis}


REFUSED: dict[str, Callable[[Store], Any]] = {
    # manifests
    "manifest not json": lambda s: s.register_connector('{"connector_key": "x", ' + SECRET),
    "manifest json array": lambda s: s.register_connector('[{"connector_key": "x"}]'),
    "manifest json string": lambda s: s.register_connector('"alpha"'),
    "manifest list object": lambda s: s.register_connector([{"connector_key": "x"}]),  # type: ignore[arg-type]
    "manifest without id": lambda s: s.register_connector({"streams": []}),
    # records: the batch has one bad record after good ones
    "record data array": lambda s: s.ingest_records(
        "c1", "s1", [_rec(key="ok1"), _rec(data=[1, 2])]
    ),
    "record data text": lambda s: s.ingest_records(
        "c1", "s1", [_rec(key="ok1"), _rec(data="not json " + SECRET)]
    ),
    "record data number": lambda s: s.ingest_records("c1", "s1", [_rec(key="ok1"), _rec(data=5)]),
    "record data json-array text": lambda s: s.ingest_records(
        "c1", "s1", [_rec(key="ok1"), _rec(data="[1]")]
    ),
    "record not a mapping": lambda s: s.ingest_records("c1", "s1", [_rec(key="ok1"), "x"]),  # type: ignore[list-item]
    "record without key": lambda s: s.ingest_records("c1", "s1", [_rec(key="ok1"), _rec(key=None)]),
    "record key not text": lambda s: s.ingest_records("c1", "s1", [_rec(key="ok1"), _rec(key=7)]),
    "record NUL in data": lambda s: s.ingest_records(
        "c1", "s1", [_rec(key="ok1"), _rec(data={"a": "x\x00y"})]
    ),
    "record nan": lambda s: s.ingest_records(
        "c1", "s1", [_rec(key="ok1"), _rec(data={"a": float("nan")})]
    ),
    "record infinity": lambda s: s.ingest_records(
        "c1", "s1", [_rec(key="ok1"), _rec(data={"a": float("inf")})]
    ),
    "event data nan": lambda s: s.append_events(
        [_ev(event_id="g1"), _ev(data={"n": float("nan")})]
    ),
    "manifest nan": lambda s: s.register_connector(
        {"connector_key": "x", "streams": [], "n": float("nan")}
    ),
    "record not-json value": lambda s: s.ingest_records(
        "c1", "s1", [_rec(key="ok1"), _rec(data={"a": object()})]
    ),
    "record timestamp text": lambda s: s.ingest_records(
        "c1", "s1", [_rec(key="ok1"), _rec(emitted_at="yesterday")]
    ),
    "record timestamp invalid date": lambda s: s.ingest_records(
        "c1", "s1", [_rec(key="ok1"), _rec(emitted_at="2024-13-40T00:00:00Z")]
    ),
    "record timestamp naive text": lambda s: s.ingest_records(
        "c1", "s1", [_rec(key="ok1"), _rec(emitted_at="2024-05-01T00:00:00")]
    ),
    "record timestamp naive datetime": lambda s: s.ingest_records(
        "c1", "s1", [_rec(key="ok1"), _rec(emitted_at=datetime(2024, 5, 1))]
    ),
    "record timestamp number": lambda s: s.ingest_records(
        "c1", "s1", [_rec(key="ok1"), _rec(emitted_at=1714521600)]
    ),
    "record unknown connection": lambda s: s.ingest_records("ghost", "s1", [_rec()]),
    "record empty stream": lambda s: s.ingest_records("c1", "", [_rec()]),
    # statuses
    "connection status": lambda s: s.create_connection("c9", "alpha", status="enabled"),
    "connection source kind": lambda s: s.create_connection("c9", "alpha", source_kind="cloud"),
    "connection unknown connector": lambda s: s.create_connection("c9", "nope"),
    "connection duplicate": lambda s: s.create_connection("c1", "alpha"),
    "connection created naive": lambda s: s.create_connection(
        "c9", "alpha", created_at="2024-01-01 00:00"
    ),
    "update status": lambda s: s.update_connection("c1", status="deleted"),
    "gap status": lambda s: s.add_detail_gap("c1", "s1", status="open"),
    "gap update status": lambda s: s.update_detail_gap("gap-c2", status="done"),
    "gap unknown id": lambda s: s.update_detail_gap("no-such-gap", status="recovered"),
    "attention lifecycle": lambda s: s.update_attention("att-c2", lifecycle="closed"),
    "attention unknown id": lambda s: s.update_attention("no-such", lifecycle="resolved"),
    "schedule interval zero": lambda s: s.set_schedule("c1", interval_seconds=0),
    "schedule interval text": lambda s: s.set_schedule("c1", interval_seconds="60"),  # type: ignore[arg-type]
    "schedule failures negative": lambda s: s.set_schedule(
        "c1", interval_seconds=60, consecutive_failures=-1
    ),
    "schedule naive next run": lambda s: s.set_schedule(
        "c1", interval_seconds=60, next_run_at="2024-01-01T00:00:00"
    ),
    # events: the batch has one bad event after a good one
    "event missing occurred_at": lambda s: s.append_events(
        [_ev(event_id="g1"), _ev(occurred_at=...)]
    ),
    "event naive occurred_at": lambda s: s.append_events(
        [_ev(event_id="g1"), _ev(occurred_at="2024-05-01T00:00:00")]
    ),
    "event garbage occurred_at": lambda s: s.append_events(
        [_ev(event_id="g1"), _ev(occurred_at="soon")]
    ),
    "event run without run_id": lambda s: s.append_events([_ev(event_id="g1"), _ev(run_id=None)]),
    "event data not object": lambda s: s.append_events([_ev(event_id="g1"), _ev(data=[SECRET])]),
    "event data json text array": lambda s: s.append_events([_ev(event_id="g1"), _ev(data="[1]")]),
    "event not a mapping": lambda s: s.append_events([_ev(event_id="g1"), "run.started"]),  # type: ignore[list-item]
    "event without type": lambda s: s.append_events([_ev(event_id="g1"), _ev(event_type=None)]),
    "event id repeated in batch": lambda s: s.append_events(
        [_ev(event_id="g1"), _ev(event_id="g1")]
    ),
}


def test_bad_input_is_refused_cleanly(seeded: Store) -> None:
    # One database for the whole table (a fresh Postgres database per case costs too
    # much of the CI budget); every case still checks counts, verify() and a read.
    failures = []
    for case in sorted(REFUSED):
        try:
            _refused(seeded, REFUSED[case])
        except BaseException as exc:
            failures.append(f"{case}: {type(exc).__name__}: {str(exc)[:300]}")
    assert not failures, "\n".join(failures)


def test_update_of_missing_connection_is_connection_not_found(seeded: Store) -> None:
    _refused(seeded, lambda s: s.update_connection("ghost", display_name="x"), ConnectionNotFound)
    _refused(seeded, lambda s: s.set_schedule("ghost", interval_seconds=60), ConnectionNotFound)
    with pytest.raises(ConnectionNotFound):
        seeded.connection_diagnostics("ghost")
    assert seeded.get_connection_summary("ghost") is None


def test_duplicate_event_id_identical_is_noop_different_raises(seeded: Store) -> None:
    event = _ev(event_id="dup1", data={"note": "x"})
    seeded.append_events([event])
    before = _counts(seeded)
    seeded.append_events([event])  # identical repeat: a no-op
    assert _counts(seeded) == before
    message = _refused(seeded, lambda s: s.append_events([{**event, "data": {"note": SECRET}}]))
    assert "dup1" in message
    _refused(seeded, lambda s: s.append_events([{**event, "event_type": "run.completed"}]))


def test_event_for_unknown_connection_is_stored_unattributed(seeded: Store) -> None:
    before = [s.to_dict() for s in seeded.list_connection_summaries(now=NOW).items]
    seeded.append_events(
        [
            _ev(event_id="u1", connection_id="ghost"),
            _ev(event_id="u2", connection_id=None, data={"connection_id": "ghost2"}),
            _ev(event_id="u3", connection_id=None, event_type="run.completed"),
        ]
    )
    assert count_rows(seeded, "spine_events") == 3
    assert count_rows(seeded, "pyref_runs") == 0
    after = [s.to_dict() for s in seeded.list_connection_summaries(now=NOW).items]
    for b, a in zip(before, after, strict=True):
        b.pop("evidence"), a.pop("evidence")
        assert a == b and a["last_run"] is None
    seeded.reconcile()
    assert seeded.verify() == []


def test_non_run_events_are_stored_as_they_come(seeded: Store) -> None:
    seeded.append_events(
        [
            {"event_type": "grant.created", "occurred_at": "2024-05-01T00:00:00+05:30"},
            {"event_type": "weird type ✓", "occurred_at": "2024-05-01T00:00:00Z", "data": {}},
        ]
    )
    assert count_rows(seeded, "spine_events") == 2 and count_rows(seeded, "pyref_runs") == 0


def test_manifest_without_streams_is_stored_and_readable(store: Store) -> None:
    for manifest in (
        {"connector_key": "nostreams"},
        {"connector_key": "badstreams", "streams": {"a": 1}},
        '{"connector_key": "emptystreams", "streams": []}',
    ):
        cid = store.register_connector(manifest)
        store.create_connection(f"conn-{cid}", cid)
        store.ingest_records(f"conn-{cid}", "s1", [_rec()])
    for summary in [
        *store.list_connection_summaries(now=NOW).items,
        store.get_connection_summary("conn-nostreams", now=NOW),
    ]:
        assert summary is not None
        assert summary.streams == ()
        assert [
            (r.stream, r.record_count, r.declaration_state) for r in summary.stream_records
        ] == [("s1", 1, "unavailable")]
    store.reconcile()
    assert store.verify() == []
    diag = store.connection_diagnostics("conn-badstreams", now=NOW)
    assert diag is not None


ODD_IDS = [
    "x'; DROP TABLE records; --",
    "connexión-ñ",
    "🚀-emoji-🔥",
    'quote"d',
    "back\\slash",
    "%(id)s",
    ":id",
    "spa ce",
    "日本語",
]


def test_sql_looking_and_non_ascii_ids_round_trip(store: Store) -> None:
    seed_connectors(store)
    for odd in ODD_IDS:
        _round_trip(store, odd)
    assert count_rows(store, "connectors") == 3 + len(ODD_IDS)  # no table dropped


def _round_trip(store: Store, odd: str) -> None:
    connector = store.register_connector({"connector_key": odd, "streams": [{"name": odd}]})
    assert connector == odd
    store.create_connection(odd, odd, display_name=odd)
    assert store.ingest_records(odd, odd, [{"key": odd, "data": {odd: odd}}]) == 1
    store.append_events(
        [
            {
                "event_id": odd,
                "event_type": "run.completed",
                "occurred_at": "2024-05-01T00:00:00Z",
                "run_id": odd,
                "connection_id": odd,
            }
        ]
    )
    gap = store.add_detail_gap(odd, odd, gap_id=odd + "-gap")
    store.update_detail_gap(gap, status="recovered")
    for summary in (
        store.get_connection_summary(odd, now=NOW),
        *store.list_connection_summaries(connector_id=odd, now=NOW).items,
    ):
        assert summary is not None
        assert (summary.connection_id, summary.connector_id, summary.display_name) == (
            odd,
            odd,
            odd,
        )
        assert summary.streams == (odd,) and summary.total_records == 1
        assert summary.last_run is not None and summary.last_run.run_id == odd
    assert store.delete_record(odd, odd, odd) is True
    store.reconcile()
    assert store.verify() == []


def test_huge_strings_are_stored_or_refused_clearly(seeded: Store) -> None:
    big = "x" * (1 << 20)
    for call in (
        lambda s: s.update_connection("c2", display_name=big),
        lambda s: s.ingest_records("c2", "s1", [{"key": "big", "data": {"blob": big}}]),
        lambda s: s.append_events([_ev(event_id="big", connection_id="c2", data={"blob": big})]),
    ):
        try:
            call(seeded)
        except PyreferenceError as exc:
            assert len(str(exc)) < 1000 and big[:100] not in str(exc)
    summary = seeded.get_connection_summary("c2", now=NOW)
    assert summary is not None
    # Stored whole, or refused clearly (the name then falls back to the connector's, R53).
    assert summary.display_name in (big, "Alpha")
    seeded.reconcile()
    assert seeded.verify() == []
    with pytest.raises(InvalidInput):
        seeded.create_connection("y" * 100_000, "alpha")  # ids are bounded


@pytest.mark.parametrize("limit", [0, 1001, -1, "10", 10.0, True, None])
def test_bad_limits(seeded: Store, limit: Any) -> None:
    with pytest.raises(InvalidInput):
        seeded.list_connection_summaries(limit=limit)


def test_limit_bounds_accepted(seeded: Store) -> None:
    assert len(seeded.list_connection_summaries(limit=1).items) == 1
    assert len(seeded.list_connection_summaries(limit=1000).items) == 2


def test_bad_cursors(seeded: Store, backend: str, request: pytest.FixtureRequest) -> None:
    page = seeded.list_connection_summaries(limit=1, now=NOW)
    cursor = page.next_cursor
    assert cursor and page.has_more
    body, mac = cursor.split(".")
    flipped = "A" if body[5] != "A" else "B"
    bad = {
        "tampered body": body[:5] + flipped + body[6:] + "." + mac,
        "tampered mac": body + "." + mac[:-2] + ("AA" if not mac.endswith("AA") else "BB"),
        "truncated": cursor[: len(cursor) // 2],
        "no dot": body + mac,
        "empty": "",
        "garbage": "!!!.@@@",
        "sql": "'; DROP TABLE records; --",
        "huge": "a" * 10_000 + "." + "b",
        "not text": 12345,
    }
    for _name, value in bad.items():
        with pytest.raises(InvalidCursor):
            seeded.list_connection_summaries(limit=1, cursor=value)  # type: ignore[arg-type]
    # Bound to the filter it was issued for.
    with pytest.raises(InvalidCursor):
        seeded.list_connection_summaries(limit=1, cursor=cursor, connector_id="alpha")
    # Bound to the owner: another owner's store on the same database refuses it.
    raw = seeded.database.conn if backend == "sqlite" else request.getfixturevalue("pg_dsn")  # type: ignore[attr-defined]
    other = pyreference.connect(raw, owner="other")
    try:
        with pytest.raises(InvalidCursor):
            other.list_connection_summaries(limit=1, cursor=cursor)
        assert other.list_connection_summaries(limit=10).items == ()
    finally:
        if backend != "sqlite":
            other.close()
    # The genuine cursor still works.
    rest = seeded.list_connection_summaries(limit=1, cursor=cursor, now=NOW)
    assert [s.connection_id for s in rest.items] == ["c2"] and not rest.has_more


def test_reads_with_bad_arguments_raise_typed_errors(seeded: Store) -> None:
    for bad in ("", None, 5):
        with pytest.raises(InvalidInput):
            seeded.get_connection_summary(bad)  # type: ignore[arg-type]
    for now in ("not a time", "2024-01-01T00:00:00", datetime(2024, 1, 1)):
        with pytest.raises(InvalidInput):
            seeded.list_connection_summaries(now=now)
        with pytest.raises(InvalidInput):
            seeded.get_connection_summary("c1", now=now)
    with pytest.raises(InvalidInput):
        seeded.list_connection_summaries(connector_id=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        seeded.reconcile(0)


def test_canonical_rows_written_by_hand_are_validated_by_the_schema(seeded: Store) -> None:
    """Other writers (psql, ETL) get the schema's checks: bad JSON or status refused.
    (Any run.* type is stored since 0007: SPEC-SEMANTICS R50.)"""
    p = (lambda n: f":{n}") if seeded.dialect == "sqlite" else (lambda n: f"%({n})s")
    statements = [
        (
            "INSERT INTO records"
            " (connector_instance_id, stream, record_key, record_json, emitted_at) "
            f"VALUES ('c1', 's1', 'raw', {p('j')}, '2024-05-01T00:00:00.000000Z')",
            {"j": "[1,2]"},
        ),
        ("UPDATE connector_instances SET status = 'bogus' WHERE connector_instance_id = 'c1'", {}),
    ]
    for text, params in statements:
        _refused(seeded, lambda s, text=text, params=params: sql(s, text, params or None))
