"""A killed `migrate()` never blocks the next one (issue 13, item 4).

The lock is held by a live session (Postgres advisory lock, SQLite file lock), so a
SIGKILLed holder frees it at once; a live holder makes `migrate()` wait a bounded time,
then raise `MigrationLocked`; nothing pending takes no lock; a `yoyo_lock` row left by
a killed `yoyo apply` is reported, and removed only on request.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime

import psycopg
import pytest

import pyreference
from pyreference.errors import InvalidInput, MigrationLocked
from pyreference.migrate import LOCK_KEY

HOLD_ADVISORY = """
import sys, time, psycopg
conn = psycopg.connect(sys.argv[1], autocommit=True)
conn.execute("SELECT pg_advisory_lock(%s)", (int(sys.argv[2]),))
print("locked", flush=True)
time.sleep(120)
"""
HOLD_FILE = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(120)
"""


def _holder(script: str, *args: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "locked"
    return child


def _kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(10)


@pytest.mark.postgres
def test_postgres_lock_of_a_killed_migrate_is_free_at_once(empty_pg_dsn: str) -> None:
    child = _holder(HOLD_ADVISORY, empty_pg_dsn, str(LOCK_KEY))
    with pyreference.connect(empty_pg_dsn) as store:
        with pytest.raises(MigrationLocked, match=r"another migrate holds .*\(pid \d+") as info:
            store.migrate(lock_wait=0.5)
        assert "\n" not in str(info.value)
        assert store.pending_migrations()  # nothing was applied meanwhile
        _kill(child)
        started = time.monotonic()
        applied = store.migrate(lock_wait=10)
        assert time.monotonic() - started < 10
        assert applied and store.pending_migrations() == []


@pytest.mark.parametrize("wait", [float("nan"), float("inf"), -1.0, True, "60"])
def test_lock_wait_must_be_finite_seconds(store: pyreference.Store, wait: object) -> None:
    """NaN passed `lock_wait >= 0`-style checks and then waited forever (a deadline
    comparison with NaN is never true); refused before anything is touched."""
    with pytest.raises(InvalidInput, match="lock_wait must be a number of seconds at least 0"):
        store.migrate(lock_wait=wait)  # type: ignore[arg-type]


@pytest.mark.postgres
def test_postgres_nothing_pending_takes_no_lock(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        with pyreference.connect(pg_dsn) as store:
            assert store.migrate(lock_wait=0) == []


@pytest.mark.postgres
def test_postgres_concurrent_migrates_apply_once(empty_pg_dsn: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def migrate() -> None:
        barrier.wait()
        try:
            with pyreference.connect(empty_pg_dsn) as store:
                results.append(store.migrate())
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=migrate) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert errors == []
    assert sorted(len(r) for r in results)[:2] == [0, 0]
    assert max(results, key=len) == sorted(max(results, key=len))


def _plant_yoyo_lock(store: pyreference.Store) -> None:
    """A lock row as a SIGKILLed `yoyo apply` leaves it."""
    store.pending_migrations()  # yoyo creates its tables
    with store.database.session(transaction=True) as s:
        s.execute(
            "INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, :t, 4242)"
            if store.dialect == "sqlite"
            else "INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, %(t)s, 4242)",
            {"t": datetime(2026, 11, 30).isoformat(sep=" ")},
        )


def _stale_yoyo_row_scenario(store: pyreference.Store) -> None:
    _plant_yoyo_lock(store)
    with pytest.raises(MigrationLocked, match="--break-lock") as info:
        store.migrate(lock_wait=1)
    assert "pid 4242" in str(info.value)
    assert store.migrate(break_lock=True)
    assert store.pending_migrations() == []
    _plant_yoyo_lock(store)
    assert store.migrate() == []  # nothing pending: the row does not matter


@pytest.mark.postgres
def test_postgres_stale_yoyo_row_is_reported_and_broken_on_request(empty_pg_dsn: str) -> None:
    with pyreference.connect(empty_pg_dsn) as store:
        _stale_yoyo_row_scenario(store)


def test_sqlite_stale_yoyo_row_is_reported_and_broken_on_request(tmp_path) -> None:
    with pyreference.connect(f"sqlite:///{tmp_path / 'ref.db'}") as store:
        _stale_yoyo_row_scenario(store)


def test_sqlite_lock_of_a_killed_migrate_is_free_at_once(tmp_path) -> None:
    path = tmp_path / "ref.db"
    child = _holder(HOLD_FILE, f"{path}.migrate-lock")
    with pyreference.connect(f"sqlite:///{path}") as store:
        with pytest.raises(MigrationLocked, match="another migrate"):
            store.migrate(lock_wait=0.3)
        _kill(child)
        assert store.migrate(lock_wait=5)
        assert store.pending_migrations() == []


def test_sqlite_lock_is_held_while_migrating(tmp_path, monkeypatch) -> None:
    import pyreference.migrate as migrate_module

    path = tmp_path / "ref.db"
    held: list[bool] = []
    check = migrate_module._clear_or_refuse_yoyo_lock

    def probe_then_check(backend, break_lock):  # runs under the lock
        fd = os.open(f"{path}.migrate-lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(False)
        except BlockingIOError:
            held.append(True)
        finally:
            os.close(fd)
        return check(backend, break_lock)

    monkeypatch.setattr(migrate_module, "_clear_or_refuse_yoyo_lock", probe_then_check)
    with pyreference.connect(f"sqlite:///{path}") as store:
        assert store.migrate()
    assert held == [True]
