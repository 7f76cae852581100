"""Smoke test of the browser harness (bench/browser.py) on the demo fleet: both readers
serve the same page, every figure is produced, no console error (no timing assertions)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import pyreference
from bench import browser
from pyreference.demo import EXPECTED, build_demo_fleet
from pyreference.timeutil import now_utc

NOW = "2026-11-23T12:00:00Z"


@pytest.fixture(scope="module")
def demo_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    dsn = f"sqlite:///{tmp_path_factory.mktemp('browser-bench') / 'demo.db'}"
    with pyreference.connect(dsn) as store:
        store.migrate()
        build_demo_fleet(store, now_utc())
        store.reconcile()
    return dsn


def test_fanout_reader_serves_the_same_page(demo_dsn: str) -> None:
    pages = {}
    for reader in browser.READERS:
        with browser.server(reader, demo_dsn) as base:
            for connector in (None, "amazon"):
                params = {
                    "limit": 5,
                    "now": NOW,
                    **({"connector_id": connector} if connector else {}),
                }
                page = httpx.get(f"{base}/v1/connections", params=params).json()
                pages[reader, connector] = (page["items"], page["has_more"])
    for connector in (None, "amazon"):
        assert pages["pyreference", connector] == pages["fanout", connector]
    assert len(pages["fanout", None][0]) == 5 and pages["fanout", None][1] is True


def test_harness_measures_both_readers_and_writes_its_report(demo_dsn: str, tmp_path: Path) -> None:
    if not Path(browser.CHROMIUM).exists():
        pytest.skip("no Chromium: apt-get install chromium chromium-driver")
    listed = len(EXPECTED)  # the demo fleet's listed connections
    results = browser.measure(demo_dsn, listed, cold=1, warm=1, api=2)
    results["canonical_fanout_ms"] = None
    for reader in browser.READERS:
        r = results["readers"][reader]
        assert r["console_errors"] == 0, r["errors"]
        for kind in ("cold", "warm"):
            assert r[kind]["rows"] == listed and r[kind]["requests"] == 1
            assert 0 < r[kind]["ttfb_ms"] <= r[kind]["table_ms"] <= r[kind]["load_ms"]
            assert r[kind]["transfer_bytes"] > r[kind]["html_bytes"] > 5000
        assert r["api_cold_ms"] > 0 and r["api_warm_ms"] > 0
    paths = browser.write_report(results, tmp_path)
    assert [p.name for p in paths] == ["browser.json", "browser.md", "browser.png"]
    text = paths[1].read_text()
    assert "| cold load: table rendered |" in text and "fan-out" in text
    assert paths[2].stat().st_size > 10_000
