"""connect() accepts DSNs, psycopg connections and pools, and sqlite3 connections (SPEC §4)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from psycopg_pool import ConnectionPool

import pyreference
from pyreference.errors import DatabaseUnavailable, InvalidInput
from tests.support.scenario import NOW, small_fleet


def _listed(store) -> list[str]:
    return [s.connection_id for s in store.list_connection_summaries(now=NOW).items]


@pytest.mark.postgres
def test_psycopg_connection_and_pool(pg_dsn) -> None:
    with pyreference.connect(pg_dsn) as store:
        small_fleet(store)
        expected = _listed(store)
    with psycopg.connect(pg_dsn) as conn:
        assert _listed(pyreference.connect(conn)) == expected
    with ConnectionPool(pg_dsn, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        assert _listed(pyreference.connect(pool)) == expected


def test_sqlite_connection_file_and_memory(tmp_path) -> None:
    path = tmp_path / "ref.db"
    with pyreference.connect(f"sqlite:///{path}") as store:
        store.migrate()
        small_fleet(store)
        expected = _listed(store)
    assert _listed(pyreference.connect(sqlite3.connect(path, check_same_thread=False))) == expected
    memory = pyreference.connect("sqlite:///:memory:")
    memory.migrate()
    assert _listed(memory) == []


def test_unreachable_postgres_names_the_host_never_the_password() -> None:
    with pytest.raises(DatabaseUnavailable) as info:
        pyreference.connect("postgresql://someone:s3cret-pw@127.0.0.1:1/nowhere")
    assert "127.0.0.1" in str(info.value)
    assert "s3cret-pw" not in str(info.value)


@pytest.mark.parametrize("target", ["mysql://x", 42, object()])
def test_unsupported_targets_are_refused(target) -> None:
    with pytest.raises(InvalidInput):
        pyreference.connect(target)
