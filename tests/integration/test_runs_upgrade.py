"""Issue 10, case 5 and the upgrade: 0011 folds every event not yet applied, in log order,
whether applied by `pyreference migrate` or by plain `yoyo apply`, and the DBA guide's
rollback / re-apply round trip loses nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from yoyo import get_backend, read_migrations

import pyreference
from pyreference import sqlfiles
from pyreference.store import Store
from tests.support.scenario import NOW, at, comparable, register


@pytest.fixture
def empty_db(
    backend: str, request: pytest.FixtureRequest, tmp_path: Any
) -> Iterator[tuple[str, str]]:
    """An empty database: (store target, yoyo URI)."""
    if backend == "sqlite":
        target = f"sqlite:///{tmp_path / 'up.db'}"
        yield target, target
        return
    from tests.conftest import _with_db

    admin = request.getfixturevalue("pg_admin_dsn")
    name = f"pyref_t_up_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    target = _with_db(admin, name)
    yield target, target.replace("postgresql://", "postgresql+psycopg://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _yoyo(uri: str, backend: str, action: str, select: Any) -> None:
    """Apply or roll back the selected migrations with plain yoyo, as a DBA would."""
    migrations = read_migrations(str(sqlfiles.migrations_dir(backend)))
    yoyo = get_backend(uri)
    with yoyo.lock():
        if action == "apply":
            yoyo.apply_migrations(yoyo.to_apply(migrations.filter(select)))
        else:
            yoyo.rollback_migrations(yoyo.to_rollback(migrations.filter(select)))
    yoyo.connection.close()


def _last_runs(store: Store) -> dict[str, Any]:
    out = {}
    for cid in ("cin_chase", "cin_chase_2", "cin_mail"):
        summary = store.get_connection_summary(cid, now=NOW)
        out[cid] = None if summary is None else summary.to_dict()["last_run"]
    return out


def test_upgrade_keeps_the_runs_the_old_fold_attributed(
    empty_db: tuple[str, str], backend: str
) -> None:
    """A database built by 0001-0006, with runs attributed at write time (a singleton that
    later got a sibling; a keyless end inheriting its run), upgraded to 0011."""
    target, uri = empty_db
    _yoyo(uri, backend, "apply", lambda m: m.id < "0011")
    store = pyreference.connect(target)
    register(store, "chase", "gmail")
    store.create_connection("cin_chase", "chase", created_at=at(600))
    store.create_connection("cin_mail", "gmail", created_at=at(600))
    store.append_events(
        [
            {
                "event_type": "run.started",
                "occurred_at": at(50),
                "run_id": "r1",
                "connector_id": "chase",
            },
            {
                "event_type": "run.failed",
                "occurred_at": at(40),
                "run_id": "r1",
                "data": {"failure_reason": "login"},
            },
            {
                "event_type": "run.started",
                "occurred_at": at(30),
                "run_id": "r2",
                "connection_id": "cin_mail",
            },
        ]
    )
    store.create_connection("cin_chase_2", "chase", created_at=at(20))  # no longer a singleton
    store.append_events([{"event_type": "run.completed", "occurred_at": at(10), "run_id": "r2"}])
    # (today's reads need 0011 and what follows it: only writes before the upgrade)
    assert store.migrate()[0] == "0011_run_projection" and store.pending_migrations() == []
    before = _last_runs(store)
    assert (before["cin_chase"]["status"], before["cin_chase"]["failure_reason"]) == (
        "failed",
        "login",
    )
    assert (before["cin_mail"]["status"], before["cin_mail"]["started_at"]) == ("succeeded", at(30))
    assert before["cin_chase_2"] is None
    assert store.verify() == []
    store.rebuild()
    assert _last_runs(store) == before and store.verify() == []
    store.close()


@pytest.mark.parametrize("reapply", ["migrate", "yoyo"])
def test_rollback_and_reapply_loses_nothing(
    empty_db: tuple[str, str], backend: str, reapply: str
) -> None:
    """Issue case 5, following docs/dba-guide.md: a run starts; 0003 (and everything after
    it) is rolled back; the run completes and another one runs while untracked; 0003+ is
    applied again (`pyreference migrate`, or plain `yoyo apply`), then `rebuild()`."""
    target, uri = empty_db
    store = pyreference.connect(target)
    store.migrate()
    register(store, "chase")
    store.create_connection("cin_chase", "chase", created_at=at(600))
    store.append_events(
        [
            {
                "event_type": "run.started",
                "occurred_at": at(50),
                "run_id": "r1",
                "connection_id": "cin_chase",
            }
        ]
    )
    store.reconcile()
    if backend == "sqlite":
        store.close()
    _yoyo(uri, backend, "rollback", lambda m: m.id >= "0003")
    if backend == "sqlite":
        store = pyreference.connect(target)
    store.append_events(
        [
            {"event_type": "run.completed", "occurred_at": at(40), "run_id": "r1"},
            {
                "event_type": "run.started",
                "occurred_at": at(30),
                "run_id": "r2",
                "connection_id": "cin_chase",
            },
            {
                "event_type": "run.failed",
                "occurred_at": at(20),
                "run_id": "r2",
                "data": {"failure_reason": "timeout"},
            },
        ]
    )
    if reapply == "migrate":
        store.migrate()
    else:
        if backend == "sqlite":
            store.close()
        _yoyo(uri, backend, "apply", lambda m: True)
        if backend == "sqlite":
            store = pyreference.connect(target)
    assert store.pending_migrations() == []
    store.rebuild()
    assert store.verify() == []
    runs = {
        r.run.run_id: r.run for r in store.connection_diagnostics("cin_chase", now=NOW).recent_runs
    }
    assert (runs["r1"].status, runs["r1"].started_at, runs["r1"].finished_at) == (
        "succeeded",
        at(50),
        at(40),
    )
    assert (runs["r2"].status, runs["r2"].failure_reason) == ("failed", "timeout")
    store.close()


def test_rolling_back_0011_and_forward_keeps_summaries(
    empty_db: tuple[str, str], backend: str
) -> None:
    """0011's own round trip (with the migrations that depend on it, newest first, as `yoyo
    rollback --revision 0011_run_projection` does): summaries equal before and after."""
    from pyreference.demo import build_demo_fleet

    target, uri = empty_db
    store = pyreference.connect(target)
    store.migrate()
    build_demo_fleet(store, NOW)
    store.reconcile()
    before = [comparable(s.to_dict()) for s in store.iter_connection_summaries(now=NOW)]
    if backend == "sqlite":
        store.close()
    _yoyo(uri, backend, "rollback", lambda m: m.id >= "0011_run_projection")
    if backend == "sqlite":
        store = pyreference.connect(target)
    store.append_events(
        [{"event_type": "note.added", "occurred_at": at(1), "data": {"text": "while rolled back"}}]
    )
    if backend == "sqlite":
        store.close()
    _yoyo(uri, backend, "apply", lambda m: True)
    if backend == "sqlite":
        store = pyreference.connect(target)
    assert store.verify() == []
    after = [comparable(s.to_dict()) for s in store.iter_connection_summaries(now=NOW)]
    for row in after + before:
        row["evidence"].pop("dirty", None)
    assert after == before
    store.close()
