"""Prometheus metrics: request and read latency, and the read model's backlog.

Each application has its own registry (several apps in one process never clash).
Request labels are route *templates* (`/v1/connections/{connection_id}`), never raw
paths, so a scan of ids cannot explode the label set.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..timeutil import now_utc, to_utc

CONTENT_TYPE = CONTENT_TYPE_LATEST
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The metrics of one application."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Histogram(
            "pyreference_http_request_duration_seconds",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.reads = Histogram(
            "pyreference_read_duration_seconds",
            "Store reads behind the API and console (list page, scoped summary, diagnostics).",
            ["read"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.backlog = Gauge(
            "pyreference_dirty_connections", "Connections waiting for reconcile.", registry=r
        )
        self.marks = Gauge("pyreference_dirty_marks", "Dirty marks waiting.", registry=r)
        self.oldest = Gauge(
            "pyreference_oldest_dirty_age_seconds",
            "Age of the oldest dirty mark (0 when none).",
            registry=r,
        )
        self.failed = Gauge(
            "pyreference_failed_rows", "Evidence rows whose last recompute failed.", registry=r
        )
        self.last_reconcile = Gauge(
            "pyreference_last_reconcile_timestamp_seconds",
            "Unix time of the newest successfully persisted evidence row (0 when none).",
            registry=r,
        )

    @contextmanager
    def read(self, name: str) -> Iterator[None]:
        """Time one store read."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.reads.labels(name).observe(time.perf_counter() - start)

    def exposition(self, health: dict[str, Any]) -> bytes:
        """The text format, with the gauges set from `Store.read_model_health()`."""
        self.backlog.set(health["dirty_connections"])
        self.marks.set(health["dirty_marks"])
        self.oldest.set(age_seconds(health["oldest_mark"]))
        self.failed.set(health["failed_rows"])
        last = health["last_reconciled_at"]
        self.last_reconcile.set(to_utc(last).timestamp() if last else 0)
        return generate_latest(self.registry)


def age_seconds(iso: str | None) -> float:
    """Seconds since an ISO-8601 time (0 for None)."""
    return max(0.0, (now_utc() - to_utc(iso)).total_seconds()) if iso else 0.0


class RequestTimer:
    """ASGI middleware observing each HTTP request under its route template."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def observe_status(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope.get("pyreference.method", scope["method"])  # HEAD (see HeadAsGet)
            self.metrics.requests.labels(route, method, str(status[0])).observe(
                time.perf_counter() - start
            )
