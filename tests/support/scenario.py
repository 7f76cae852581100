"""Small, deterministic scenarios written through the public write helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pyreference.manifests import real_manifests
from pyreference.store import Store
from pyreference.timeutil import iso

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def at(minutes_ago: float) -> str:
    return iso(NOW - timedelta(minutes=minutes_ago))


def register(store: Store, *keys: str) -> None:
    manifests = real_manifests()
    for key in keys:
        store.register_connector(manifests[key])


def records(n: int, *, prefix: str = "k", minutes_ago: float = 5) -> list[dict[str, Any]]:
    return [
        {"key": f"{prefix}{i}", "data": {"n": i}, "emitted_at": at(minutes_ago)} for i in range(n)
    ]


def moved_back(record: dict[str, Any]) -> dict[str, Any]:
    """`record` with new content and an earlier time: ingested over the record it names, a
    change that record deltas cannot express (0031), so it marks its connection."""
    return {**record, "data": {"changed": True}, "emitted_at": at(600)}


def run(
    run_id: str,
    *,
    end: str = "run.completed",
    started: float = 30,
    finished: float = 20,
    **identity: Any,
) -> list[dict[str, Any]]:
    """A started + terminal pair of run events carrying the given identity fields."""
    data = identity.pop("data", None)
    first = {"event_type": "run.started", "occurred_at": at(started), "run_id": run_id, **identity}
    last = {"event_type": end, "occurred_at": at(finished), "run_id": run_id, **identity}
    if data is not None:
        first = {**first, "data": data}
        last = {**last, "data": data}
    return [first, last]


def small_fleet(store: Store) -> None:
    """Gmail healthy, two sibling Amazon browser connections, a failing Chase, a never-run Slack."""
    register(store, "gmail", "amazon", "chase", "slack")
    store.create_connection("cin_mail", "gmail", display_name="Mail", created_at=at(600))
    store.create_connection("cin_amz_a", "amazon", display_name="Amazon A", created_at=at(500))
    store.create_connection("cin_amz_b", "amazon", display_name="Amazon B", created_at=at(400))
    store.create_connection("cin_chase", "chase", display_name="Chase", created_at=at(300))
    store.create_connection("cin_slack", "slack", display_name="Slack", created_at=at(200))
    store.create_connection("cin_draft", "slack", status="draft", created_at=at(100))
    store.ingest_records("cin_mail", "messages", records(7))
    store.ingest_records("cin_mail", "threads", records(3))
    store.ingest_records("cin_amz_a", "orders", records(2))
    facts = {
        "collection_facts": {
            "streams": [
                {"stream": s, "checkpoint": "committed", "collected": 1, "considered": 1}
                for s in ("messages", "threads", "labels", "attachments")
            ]
        }
    }
    store.append_events(run("r_mail", connector_id="gmail", connection_id="cin_mail", data=facts))
    store.append_events(
        run(
            "r_amz_a",
            connector_id="amazon",
            data={"browser_surface": {"profile_key": "amazon:cin_amz_a"}},
        )
        + run(
            "r_amz_b",
            connector_id="amazon",
            end="run.failed",
            started=15,
            finished=10,
            data={
                "browser_surface": {"profile_key": "amazon:cin_amz_b"},
                "failure_reason": "captcha",
            },
        )
    )
    store.append_events(
        run(
            "r_chase",
            connector_id="chase",
            end="run.browser_surface_failed",
            data={
                "browser_surface": {
                    "profile_key": "chase:cin_chase",
                    "status": "failed",
                    "wait_reason": "login_required",
                }
            },
        )
    )
    store.add_detail_gap("cin_chase", "transactions", gap_id="gap_1", reason="rate_limited")
    store.set_schedule("cin_slack", interval_seconds=1800, enabled=True)


def comparable(summary_dict: dict[str, Any]) -> dict[str, Any]:
    """A summary dict without the fields R31 lets differ between backends."""
    out = dict(summary_dict)
    out["evidence"] = {k: v for k, v in out["evidence"].items() if k != "computed_at"}
    out.pop("retained_bytes", None)
    return out
