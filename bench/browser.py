"""Browser performance harness (`pyreference bench --browser`): the owner console in
headless Chromium, on a fleet of N connections, beside the same page backed by fan-out.

Two real servers (uvicorn, one process each) serve the same console over the same
database:

- **pyreference**: `pyreference serve` as shipped: a page is one keyset statement over the
  maintained read model (plus one when it holds dirty rows).
- **fan-out**: the same application whose page read is the per-connection pattern a console
  written against a per-connection API uses: one statement for the page's ids, then one
  scoped read per connection (R11 guarantees each equals its list row, so the page shows
  the same content). Its API answers the same way.

Measured for each, alternating between them so machine drift hits both alike:
cold loads (a freshly started server, a fresh browser context), warm loads (reloads),
navigation timing (time to first byte, DOMContentLoaded, load), time to the table rendered
(a MutationObserver stamps the first table row), bytes transferred, the API page
(`GET /v1/connections?limit=25`) cold and warm, and console errors (any counts as a failure).
The bench's canonical-table fan-out queries (`baselines.pg_fanout_page`, five statements
per connection, data only) are timed beside them for reference.

Run `python -m bench.browser serve --reader fanout --dsn … --port …` to serve one reader.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("PYREFERENCE_CHROMIUM", "/usr/bin/chromium")
READERS = ("pyreference", "fanout")
PAGE = 25

# Stamps when the first table row exists (installed before the document is parsed).
TABLE_OBSERVER = """
(() => {
  const stamp = () => {
    if (window.__tableAt === undefined && document.querySelector('#fleet tbody tr')) {
      window.__tableAt = performance.now();
      return true;
    }
    return false;
  };
  const observer = new MutationObserver(() => { if (stamp()) observer.disconnect(); });
  observer.observe(document, {childList: true, subtree: true});
})();
"""
NAVIGATION = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource');
  return {
    ttfb_ms: n.responseStart - n.startTime,
    dom_content_loaded_ms: n.domContentLoadedEventEnd - n.startTime,
    load_ms: n.loadEventEnd - n.startTime,
    table_ms: window.__tableAt === undefined ? null : window.__tableAt - n.startTime,
    transfer_bytes: n.transferSize + resources.reduce((a, r) => a + r.transferSize, 0),
    html_bytes: n.decodedBodySize,
    requests: 1 + resources.length,
    rows: document.querySelectorAll('#fleet tbody tr').length,
  };
}"""


# -- the fan-out reader ---------------------------------------------------------------


class FanoutStore:
    """The console's store, reading a page one connection at a time (see the module doc)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def list_connection_summaries(
        self,
        limit: int = 100,
        cursor: str | None = None,
        connector_id: str | None = None,
        now: Any = None,
        **_: Any,
    ) -> Any:
        from pyreference.plan import rows
        from pyreference.read_path import Page

        if cursor is not None:
            raise NotImplementedError("the fan-out reader serves first pages only")
        postgres = self._inner.dialect == "postgres"
        ph = {k: f"%({k})s" if postgres else f":{k}" for k in ("owner", "c")}
        only = "" if connector_id is None else f" AND connector_id = {ph['c']}"
        sql = (
            "SELECT connector_instance_id FROM connector_instances"
            f" WHERE owner_subject_id = {ph['owner']} AND status <> 'draft'{only}"
            f" ORDER BY connector_id, created_at, connector_instance_id LIMIT {int(limit) + 1}"
        )
        params = {"owner": self._inner.owner, "c": connector_id}
        _, found = await self._inner._run(rows(sql, params))
        ids = [r[0] for r in found]
        items = []
        for cid in ids[:limit]:
            summary = await self._inner.get_connection_summary(cid, now)
            if summary is not None:
                items.append(summary)
        return Page(items=tuple(items), next_cursor=None, has_more=len(ids) > limit)


def fanout_app(dsn: str) -> Any:
    """`create_app` for `dsn`, its store wrapped in `FanoutStore` once opened."""
    from pyreference.web import Settings, create_app

    app = create_app(Settings(dsn=dsn))
    opened = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> Any:
        async with opened(a):
            a.state.store = FanoutStore(a.state.store)
            yield

    app.router.lifespan_context = lifespan
    return app


def serve(reader: str, dsn: str, port: int) -> None:
    """Serve one reader on 127.0.0.1:`port` until stopped (the harness's subprocess)."""
    import uvicorn

    from pyreference.web import Settings, create_app

    app = fanout_app(dsn) if reader == "fanout" else create_app(Settings(dsn=dsn))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- servers and the browser ------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(reader: str, dsn: str) -> Iterator[str]:
    """A freshly started server for `reader`; yields its base URL once it answers."""
    port = _free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.browser", "serve", reader, dsn, str(port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"{reader} server exited: {log.read().decode()[-2000:]}")
                try:
                    if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{reader} server did not answer within 60 s")
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Tab:
    """A fresh browser context and page that counts console errors and failed requests."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.add_init_script(TABLE_OBSERVER)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed {r.url}"))

    def load(self, url: str, *, reload: bool = False) -> dict[str, Any]:
        if reload:
            self.page.reload(wait_until="load")
        else:
            self.page.goto(url, wait_until="load")
        timing: dict[str, Any] = self.page.evaluate(NAVIGATION)
        return timing

    def close(self) -> None:
        self.context.close()


def _api_ms(client: httpx.Client, base: str) -> float:
    t0 = time.perf_counter()
    r = client.get(f"{base}/v1/connections", params={"limit": PAGE})
    elapsed = (time.perf_counter() - t0) * 1000
    if r.status_code != 200 or not r.json()["items"]:
        raise RuntimeError(f"API page failed: {r.status_code} {r.text[:200]}")
    return elapsed


def measure(dsn: str, n: int, *, cold: int = 3, warm: int = 10, api: int = 20) -> dict[str, Any]:
    """Every figure for both readers over the database at `dsn` (a fleet of `n`)."""
    from playwright.sync_api import sync_playwright

    samples: dict[str, dict[str, list[Any]]] = {
        r: {"cold": [], "warm": [], "api_cold_ms": [], "api_warm_ms": [], "errors": []}
        for r in READERS
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            for _ in range(cold):
                for reader in READERS:  # alternate: drift hits both readers alike
                    s = samples[reader]
                    with server(reader, dsn) as base:  # cold: a fresh server and context
                        tab = Tab(browser)
                        s["cold"].append(tab.load(f"{base}/"))
                        s["errors"].extend(tab.errors)
                        tab.close()
                    with server(reader, dsn) as base, httpx.Client() as client:
                        s["api_cold_ms"].append(_api_ms(client, base))
            for reader in READERS:
                s = samples[reader]
                with server(reader, dsn) as base, httpx.Client() as client:
                    tab = Tab(browser)
                    tab.load(f"{base}/")
                    for _ in range(warm):
                        s["warm"].append(tab.load(f"{base}/", reload=True))
                    s["errors"].extend(tab.errors)
                    tab.close()
                    _api_ms(client, base)
                    s["api_warm_ms"].extend(_api_ms(client, base) for _ in range(api))
        finally:
            browser.close()
    return {
        "n": n,
        "page_size": PAGE,
        "readers": {r: summarize(s) for r, s in samples.items()},
        "chromium": CHROMIUM,
    }


def _median(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def summarize(s: dict[str, list[Any]]) -> dict[str, Any]:
    """Medians of one reader's samples, and its console errors."""
    out: dict[str, Any] = {"console_errors": len(s["errors"]), "errors": s["errors"][:10]}
    for kind in ("cold", "warm"):
        loads = s[kind]
        out[kind] = {
            key: _median([load[key] for load in loads])
            for key in ("ttfb_ms", "dom_content_loaded_ms", "load_ms", "table_ms")
        }
        out[kind]["transfer_bytes"] = _median([load["transfer_bytes"] for load in loads])
        out[kind]["html_bytes"] = _median([load["html_bytes"] for load in loads])
        out[kind]["requests"] = _median([load["requests"] for load in loads])
        out[kind]["rows"] = _median([load["rows"] for load in loads])
        out[kind]["samples"] = len(loads)
    out["api_cold_ms"] = _median(s["api_cold_ms"])
    out["api_warm_ms"] = _median(s["api_warm_ms"])
    out["api_samples"] = {"cold": len(s["api_cold_ms"]), "warm": len(s["api_warm_ms"])}
    return out


def canonical_fanout_ms(dsn: str, reps: int = 20) -> float:
    """The bench's canonical-table fan-out for one page of 25 (data only), median ms."""
    import psycopg

    from bench import baselines

    with psycopg.connect(dsn, autocommit=True) as conn:
        baselines.pg_fanout_page(conn, PAGE)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            baselines.pg_fanout_page(conn, PAGE)
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


# -- report -----------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    """The report's Markdown: one table, both readers side by side."""
    r = results["readers"]
    py, fan = r["pyreference"], r["fanout"]

    def line(label: str, a: float | None, b: float | None, digits: int = 1) -> str:
        ratio = f"{b / a:.1f}×" if a and b else "–"
        return f"| {label} | {_fmt(a, digits)} | {_fmt(b, digits)} | {ratio} |"

    rows = [
        f"# Browser bench: the console at N = {results['n']:,}",
        "",
        f"Headless Chromium ({results['chromium']}) through Playwright; a page of "
        f"{results['page_size']} connections; medians of {py['cold']['samples']} cold loads "
        f"(a freshly started server, a fresh browser context) and {py['warm']['samples']} warm "
        f"reloads per reader, alternating readers; API: {py['api_samples']['cold']} cold "
        f"(first request of a fresh server) and {py['api_samples']['warm']} warm requests. "
        f"Database: {results.get('database', 'PostgreSQL')}. Generated by "
        "`pyreference bench --browser` (bench/browser.py).",
        "",
        "| figure (ms unless stated) | pyreference | fan-out | fan-out ÷ pyreference |",
        "|---|---:|---:|---:|",
        line("cold load: time to first byte", py["cold"]["ttfb_ms"], fan["cold"]["ttfb_ms"]),
        line("cold load: table rendered", py["cold"]["table_ms"], fan["cold"]["table_ms"]),
        line("cold load: load event", py["cold"]["load_ms"], fan["cold"]["load_ms"]),
        line("warm load: time to first byte", py["warm"]["ttfb_ms"], fan["warm"]["ttfb_ms"]),
        line("warm load: table rendered", py["warm"]["table_ms"], fan["warm"]["table_ms"]),
        line("warm load: load event", py["warm"]["load_ms"], fan["warm"]["load_ms"]),
        line("API page, cold", py["api_cold_ms"], fan["api_cold_ms"]),
        line("API page, warm", py["api_warm_ms"], fan["api_warm_ms"]),
        line(
            "bytes transferred per load",
            py["cold"]["transfer_bytes"],
            fan["cold"]["transfer_bytes"],
            0,
        ),
        line("requests per load", py["cold"]["requests"], fan["cold"]["requests"], 0),
        line("rows in the table", py["cold"]["rows"], fan["cold"]["rows"], 0),
        f"| console errors (any fails) | {py['console_errors']} | {fan['console_errors']} | |",
        "",
        f"For reference, the bench's canonical-table fan-out (`baselines.pg_fanout_page`, "
        f"1 + 5 statements per connection, data only, no synthesis) takes "
        f"{_fmt(results.get('canonical_fanout_ms'))} ms for the same page of "
        f"{results['page_size']}.",
        "",
        "What the columns are: **pyreference** is `pyreference serve` as shipped (one keyset "
        "statement per page over the maintained read model). **fan-out** is the same "
        "application whose page is read one connection at a time (one statement for the ids, "
        "then a scoped read per connection; each equals its list row, R11), the pattern of a "
        "console built on a per-connection API. Both pages hold the same rows in the same "
        "words; they differ in bytes only by the next-page link (the fan-out reader does not "
        "page), so the difference is the server's read behind the first byte.",
        "",
        "![console loads and API latency, pyreference beside fan-out](browser.png)",
    ]
    return "\n".join(rows) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    """The report's bar chart (medians, ms) at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [
        ("cold", "ttfb_ms", "cold\nfirst byte"),
        ("cold", "table_ms", "cold\ntable"),
        ("warm", "ttfb_ms", "warm\nfirst byte"),
        ("warm", "table_ms", "warm\ntable"),
        (None, "api_cold_ms", "API\ncold"),
        (None, "api_warm_ms", "API\nwarm"),
    ]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.38
    for k, (reader, color) in enumerate((("pyreference", "tab:blue"), ("fanout", "tab:green"))):
        r = results["readers"][reader]
        values = [(r[kind][key] if kind else r[key]) or 0 for kind, key, _ in labels]
        xs = [i + (k - 0.5) * width for i in range(len(labels))]
        bars = ax.bar(xs, values, width, label=reader, color=color)
        ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=2)
    ax.set_xticks(range(len(labels)), [label for *_, label in labels])
    ax.set_ylabel("ms (median)")
    ax.set_title(f"Owner console in headless Chromium, N = {results['n']:,}, page of {PAGE}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """browser.json, browser.md and browser.png in `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "browser.json", out_dir / "browser.md", out_dir / "browser.png"]
    paths[0].write_text(json.dumps(results, indent=2) + "\n")
    paths[1].write_text(markdown(results))
    plot(results, paths[2])
    return paths


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.browser serve READER DSN PORT`."""
    parser = argparse.ArgumentParser(description="Serve one reader of the browser bench.")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("reader", choices=READERS)
    s.add_argument("dsn")
    s.add_argument("port", type=int)
    args = parser.parse_args(argv)
    serve(args.reader, args.dsn, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
