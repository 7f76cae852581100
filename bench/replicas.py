"""Read replicas under a write load: `python bench/replicas.py [--quick]` (docs/scaling.md).

Starts a real primary and two streaming replicas (`pyreference.devcluster`), loads a fleet over
the 44 real manifests on the primary, then, while one writer commits record ingests on the
primary at a steady rate, reader processes walk list pages (limit 100, following cursors) for a
fixed time. Five set-ups, run in alternation `rounds` times (medians reported):

- no readers: the writer alone (the write-side baseline; it reconciles every second, as
  `pyreference reconcile --watch` would);
- primary only: readers on a store with no replicas;
- 1 replica / 2 replicas: readers on `connect(primary, replicas=[...])`;
- 2 replicas, strict: the same with `consistency="strict"`.

Measured: pages/s over all readers, where pages were served, replica lag seen by reads, the
writer's commit latency (p50/p95) and achieved rate, and the primary's CPU use (all its
processes, from /proc). With `--pin` (default where 2+ CPUs exist) the primary and the writer
share CPU 0 and the replicas and readers CPU 1, as if the primary had its own machine.
Writes results/replicas.{json,md}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import statistics
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyreference
from bench import fleet
from pyreference.devcluster import ReplicaCluster, Server

RESULTS = Path(__file__).parent / "results"
MODES = ("no readers", "primary only", "1 replica", "2 replicas", "2 replicas, strict")


@dataclass(frozen=True)
class Config:
    """One bench run's size: fleet, window, load and repetitions."""

    name: str = "replicas"
    connections: int = 1000
    records: int = 10
    seconds: float = 5.0
    readers: int = 2
    write_rate: float = 100.0  # record ingests committed per second on the primary
    rounds: int = 3
    pin: bool = True


QUICK = Config(name="replicas_quick", connections=200, seconds=2.0, rounds=1)


# -- CPU placement and accounting -------------------------------------------------------------
def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def _postmaster(server: Server) -> int:
    return int((server.datadir / "postmaster.pid").read_text().split()[0])


def pin_server(server: Server, cpu: int) -> None:
    """Move a running server (postmaster and every child) to one CPU; new backends inherit."""
    pid = _postmaster(server)
    for p in [pid, *_children(pid)]:
        with contextlib.suppress(OSError):  # a process that just exited
            os.sched_setaffinity(p, {cpu})


def server_cpu_seconds(server: Server) -> float:
    """CPU time used by a server so far: live processes plus children it already reaped."""
    tick = os.sysconf("SC_CLK_TCK")
    pid = _postmaster(server)
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if p == pid:
            total += int(fields[13]) + int(fields[14])  # cutime, cstime of reaped backends
    return total / tick


# -- load ----------------------------------------------------------------------------------------
def _reader(
    primary: str, replicas: list[str], consistency: str, start: float, stop: float, cpu: int | None
) -> dict[str, Any]:
    """One reader process: walk list pages until `stop`, counting those after `start`."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    store = pyreference.connect(primary, replicas=replicas, consistency=consistency)
    pages = 0
    served: dict[str, int] = {}
    lags: list[float] = []
    cursor = None
    try:
        while (now := time.time()) < stop:
            page = store.list_connection_summaries(limit=100, cursor=cursor)
            cursor = page.next_cursor
            if now >= start:
                pages += 1
                served[page.source.role] = served.get(page.source.role, 0) + 1
                if page.source.role == "replica" and page.source.lag_seconds is not None:
                    lags.append(page.source.lag_seconds)
    finally:
        store.close()
    return {"pages": pages, "served": served, "lags": lags}


def _writer(
    primary: str, cfg: Config, spec: fleet.FleetSpec, start: float, stop: float, out: list[float]
) -> None:
    """Commit one record ingest every 1/write_rate s until `stop`; latencies after `start`.

    Every second it also reconciles, as `pyreference reconcile --watch` would beside it."""
    store = pyreference.connect(primary)
    period = 1.0 / cfg.write_rate
    i = 0
    next_at = time.time()
    reconcile_at = next_at + 1.0
    try:
        while (now := time.time()) < stop:
            if now >= reconcile_at:
                store.reconcile()
                reconcile_at += 1.0
            if now < next_at:
                time.sleep(next_at - now)
            c = i % cfg.connections
            stream = fleet.streams_of(fleet.connector_of(c, spec))[0]
            t0 = time.perf_counter()
            store.ingest_records(fleet.cid(c), stream, [{"key": f"w{i}", "data": {"i": i}}])
            if time.time() >= start:
                out.append(time.perf_counter() - t0)
            i += 1
            next_at += period
    finally:
        store.close()


def measure(
    cfg: Config,
    cluster: ReplicaCluster,
    dbname: str,
    mode: str,
    spec: fleet.FleetSpec,
    pool: Any,
) -> dict[str, Any]:
    """One window of `cfg.seconds` under `mode`."""
    primary = cluster.primary.dsn(dbname)
    replicas = [s.dsn(dbname) for s in cluster.standbys]
    used = {"primary only": [], "1 replica": replicas[:1]}.get(mode, replicas)
    consistency = "strict" if mode.endswith("strict") else "session"
    warmup = 1.0
    start = time.time() + warmup
    stop = start + cfg.seconds
    latencies: list[float] = []
    writer = threading.Thread(target=_writer, args=(primary, cfg, spec, start, stop, latencies))
    reader_cpu = 1 if cfg.pin else None
    jobs = []
    if mode != "no readers":
        args = (primary, used, consistency, start, stop, reader_cpu)
        jobs = [pool.apply_async(_reader, args) for _ in range(cfg.readers)]
    writer.start()
    time.sleep(max(0.0, start - time.time()))
    cpu0 = server_cpu_seconds(cluster.primary)
    time.sleep(max(0.0, stop - time.time()))
    cpu1 = server_cpu_seconds(cluster.primary)
    writer.join()
    readers = [job.get(timeout=120) for job in jobs]
    pages = sum(r["pages"] for r in readers)
    served: dict[str, int] = {}
    for r in readers:
        for role, n in r["served"].items():
            served[role] = served.get(role, 0) + n
    lags = [lag for r in readers for lag in r["lags"]]
    ordered = sorted(latencies)
    return {
        "mode": mode,
        "pages_per_s": pages / cfg.seconds,
        "served": served,
        "replica_lag_p50_ms": 1000 * statistics.median(lags) if lags else None,
        "replica_lag_max_ms": 1000 * max(lags) if lags else None,
        "writes_per_s": len(latencies) / cfg.seconds,
        "write_p50_ms": 1000 * statistics.median(ordered) if ordered else None,
        "write_p95_ms": 1000 * ordered[int(0.95 * (len(ordered) - 1))] if ordered else None,
        "primary_cpu": (cpu1 - cpu0) / cfg.seconds,
    }


def load(cluster: ReplicaCluster, dbname: str, cfg: Config, spec: fleet.FleetSpec) -> None:
    """A migrated database with the fleet, settled, vacuumed and replayed on every replica."""
    import psycopg

    with psycopg.connect(cluster.primary.dsn(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    with pyreference.connect(cluster.primary.dsn(dbname)) as store:
        store.migrate()
    with psycopg.connect(cluster.primary.dsn(dbname), autocommit=True) as conn:
        fleet.pg_register_connectors(conn)
        fleet.pg_grow_connections(conn, 0, cfg.connections, spec, cfg.records)
        fleet.pg_settle(conn)
        fleet.pg_vacuum(conn)
    cluster.wait_replayed()


def run(cfg: Config, cluster: ReplicaCluster) -> dict[str, Any]:
    """Every mode `cfg.rounds` times in alternation on `cluster` (which needs 2 replicas)."""
    spec = fleet.FleetSpec()
    dbname = f"pyref_bench_replicas_{uuid.uuid4().hex[:8]}"
    load(cluster, dbname, cfg, spec)
    if cfg.pin:
        pin_server(cluster.primary, 0)
        for standby in cluster.standbys:
            pin_server(standby, 1)
        os.sched_setaffinity(0, {0})  # this process runs the writer, next to the primary
    samples: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    load_before = os.getloadavg()[0]
    # Reader processes live for the whole run (started once: imports are not measured).
    with multiprocessing.get_context("spawn").Pool(cfg.readers) as pool:
        for r in range(cfg.rounds):
            for mode in MODES:
                print(f"round {r + 1}/{cfg.rounds}: {mode}", file=sys.stderr)
                samples[mode].append(measure(cfg, cluster, dbname, mode, spec, pool))
    return {
        "config": asdict(cfg),
        "cpus": os.cpu_count(),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "samples": samples,
    }


def summarize(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per mode: medians over rounds."""
    rows = []
    for mode, samples in result["samples"].items():
        row: dict[str, Any] = {"mode": mode}
        for key in samples[0]:
            values = [s[key] for s in samples if isinstance(s[key], int | float)]
            if key not in ("mode", "served"):
                row[key] = statistics.median(values) if values else None
        served: dict[str, int] = {}
        for s in samples:
            for role, n in s["served"].items():
                served[role] = served.get(role, 0) + n
        total = sum(served.values())
        row["from_replicas_pct"] = 100 * served.get("replica", 0) / total if total else None
        rows.append(row)
    return rows


def markdown(result: dict[str, Any]) -> str:
    """The results table, with the run's set-up."""
    cfg = result["config"]

    def cell(value: Any, fmt: str) -> str:
        return "–" if value is None else format(value, fmt)

    rows = summarize(result)
    base = next(r for r in rows if r["mode"] == "primary only")["pages_per_s"] or 1.0
    idle = next(r for r in rows if r["mode"] == "no readers")
    lines = [
        f"# Read replicas under a write load ({cfg['name']})",
        "",
        f"Fleet: {cfg['connections']} connections × {cfg['records']} records; "
        f"{cfg['readers']} reader processes walking list pages of 100; one writer committing "
        f"{cfg['write_rate']:.0f} record ingests/s on the primary; {cfg['seconds']:.0f} s windows, "
        f"{cfg['rounds']} round(s) in alternation (medians). CPUs: {result['cpus']}"
        + (
            " — primary + writer pinned to CPU 0, replicas + readers to CPU 1"
            if cfg["pin"]
            else ", shared by all"
        )
        + f"; machine load average {result['load_average'][0]} → {result['load_average'][1]}"
        " (other work on the machine included).",
        "",
        "| set-up | pages/s | × primary only | % from replicas | replica lag p50 / max (ms) "
        "| writes/s | write p50 / p95 (ms) | primary CPU (cores) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        reads = r["mode"] != "no readers"
        lines.append(
            f"| {r['mode']} | {cell(r['pages_per_s'] if reads else None, '.0f')} "
            f"| {cell(r['pages_per_s'] / base if reads else None, '.2f')} "
            f"| {cell(r['from_replicas_pct'], '.0f')} "
            f"| {cell(r['replica_lag_p50_ms'], '.1f')} / {cell(r['replica_lag_max_ms'], '.1f')} "
            f"| {cell(r['writes_per_s'], '.0f')} "
            f"| {cell(r['write_p50_ms'], '.2f')} / {cell(r['write_p95_ms'], '.2f')} "
            f"| {cell(r['primary_cpu'], '.2f')} |"
        )
    lines += [
        "",
        f"Write-side cost of the read load: write p50 {cell(idle['write_p50_ms'], '.2f')} ms and "
        f"primary CPU {cell(idle['primary_cpu'], '.2f')} cores with no readers (first row), "
        "against each set-up's row.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 connections, 2 s windows")
    parser.add_argument("--rounds", type=int, help="rounds of every set-up (default 3)")
    parser.add_argument("--no-pin", action="store_true", help="leave CPU placement to the OS")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else Config()
    pin = not args.no_pin and len(os.sched_getaffinity(0)) >= 2
    cfg = Config(
        **{
            **asdict(cfg),
            "name": cfg.name + ("" if pin else "_shared"),
            "rounds": args.rounds or cfg.rounds,
            "pin": pin,
        }
    )
    with ReplicaCluster(replicas=2) as cluster:
        result = run(cfg, cluster)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{cfg.name}.json").write_text(json.dumps(result, indent=1) + "\n")
    text = markdown(result)
    (RESULTS / f"{cfg.name}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
