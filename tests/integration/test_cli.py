"""The command line through click's CliRunner: exit codes, JSON, one-line errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

import pyreference
from pyreference.cli import cli
from pyreference.demo import EXPECTED, build_demo_fleet
from tests.support.keys import R21_KEYS

NOW = "2026-11-23T12:00:00Z"
COMMANDS = ("migrate", "render", "reconcile", "rebuild", "verify", "backlog", "summaries", "demo")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def dsn(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def fleet_dsn(dsn: str) -> str:
    """A migrated SQLite file holding the demo fleet, reconciled."""
    with pyreference.connect(dsn) as store:
        store.migrate()
        build_demo_fleet(store, pyreference.timeutil.to_utc(NOW))
        store.reconcile()
    return dsn


def test_migrate_twice_is_a_noop(runner: CliRunner, dsn: str) -> None:
    first = runner.invoke(cli, ["migrate", "--dsn", dsn, "--json"])
    assert first.exit_code == 0, first.output
    assert len(json.loads(first.stdout)["applied"]) >= 3
    second = runner.invoke(cli, ["migrate", "--dsn", dsn, "--json"])
    assert second.exit_code == 0
    assert json.loads(second.stdout) == {"applied": []}


def test_migrate_json_is_pure_json_on_postgres(runner: CliRunner, empty_pg_dsn: str) -> None:
    """yoyo prints the rows a migration's statement returns (0022's `setval`) to stdout;
    `migrate` logs them instead, so `--json` stays one JSON document."""
    result = runner.invoke(cli, ["migrate", "--dsn", empty_pg_dsn, "--json"])
    assert result.exit_code == 0, result.output
    assert "0022_evidence_revisions" in json.loads(result.stdout)["applied"]


def test_render_check_passes_on_the_repo(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["render", "--check"])
    assert result.exit_code == 0, result.output


def test_summaries_json_has_the_r21_keys(runner: CliRunner, fleet_dsn: str) -> None:
    result = runner.invoke(cli, ["summaries", "--dsn", fleet_dsn, "--json", "--now", NOW])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["connection_id"] for r in rows} == set(EXPECTED)
    for row in rows:
        assert set(row) == R21_KEYS


def test_summaries_one_connection_and_table(runner: CliRunner, fleet_dsn: str) -> None:
    one = runner.invoke(
        cli, ["summaries", "--dsn", fleet_dsn, "--connection", "cin_heb", "--json", "--now", NOW]
    )
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["summary"]["last_run"]["failure_reason"] == "otp_required"
    table = runner.invoke(cli, ["summaries", "--dsn", fleet_dsn, "--now", NOW])
    assert table.exit_code == 0 and "cin_gmail_work" in table.stdout
    # Actions and health read as the console's words, never as identifiers (R23).
    assert "Sign in again" in table.stdout and "Refresh it now" in table.stdout
    assert "reauth" not in table.stdout and "refresh_now" not in table.stdout
    assert "needs attention" in table.stdout and "cooling off" in table.stdout
    assert "needs_attention" not in table.stdout and "cooling_off" not in table.stdout


def test_summaries_of_an_ambiguous_connector_id_name_the_candidates(
    runner: CliRunner, fleet_dsn: str
) -> None:
    """R62 in the demo: two Amazon connections, so `amazon` is ambiguous (a typed error)."""
    result = runner.invoke(
        cli, ["summaries", "--dsn", fleet_dsn, "--connection", "amazon", "--now", NOW]
    )
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "names 2 connections" in result.stderr
    assert "cin_amazon_personal (Amazon (personal), active)" in result.stderr
    assert "cin_amazon_household (Amazon (household), active)" in result.stderr


def test_unknown_connection_is_one_line_exit_1(runner: CliRunner, fleet_dsn: str) -> None:
    result = runner.invoke(cli, ["summaries", "--dsn", fleet_dsn, "--connection", "cin_nope"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_verify_exit_0_then_3_on_corrupted_evidence(runner: CliRunner, fleet_dsn: str) -> None:
    ok = runner.invoke(cli, ["verify", "--dsn", fleet_dsn, "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout) == []
    path = fleet_dsn.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        changed = conn.execute(
            "UPDATE pyref_evidence SET stream_stats = '[]' "
            "WHERE connector_instance_id = 'cin_gmail_work'"
        ).rowcount
    assert changed == 1
    drift = runner.invoke(cli, ["verify", "--dsn", fleet_dsn, "--json"])
    assert drift.exit_code == 3
    assert [r["connection_id"] for r in json.loads(drift.stdout)] == ["cin_gmail_work"]
    text = runner.invoke(cli, ["verify", "--dsn", fleet_dsn])
    assert text.exit_code == 3 and "cin_gmail_work" in text.stdout
    fixed = runner.invoke(cli, ["rebuild", "--dsn", fleet_dsn, "--json"])
    assert fixed.exit_code == 0 and json.loads(fixed.stdout)["rebuilt"] >= len(EXPECTED)
    assert runner.invoke(cli, ["verify", "--dsn", fleet_dsn]).exit_code == 0


def test_reconcile_json_and_backlog(runner: CliRunner, dsn: str) -> None:
    with pyreference.connect(dsn) as store:
        store.migrate()
        build_demo_fleet(store, pyreference.timeutil.to_utc(NOW))
    before = runner.invoke(cli, ["backlog", "--dsn", dsn, "--json"])
    assert json.loads(before.stdout)["dirty_connections"] > 0
    result = runner.invoke(cli, ["reconcile", "--dsn", dsn, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "reconciled": json.loads(before.stdout)["dirty_connections"],
        "failed": 0,
    }
    after = runner.invoke(cli, ["backlog", "--dsn", dsn, "--json"])
    assert json.loads(after.stdout)["dirty_connections"] == 0


def test_reconcile_watch_is_bounded(runner: CliRunner, dsn: str) -> None:
    with pyreference.connect(dsn) as store:
        store.migrate()
        build_demo_fleet(store, pyreference.timeutil.to_utc(NOW))
    args = ["reconcile", "--dsn", dsn, "--watch", "--interval", "0.05", "--passes", "3", "--json"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert sum(line["reconciled"] for line in lines) == len(EXPECTED) + 1  # + the draft


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://alice:s3cret-pw@127.0.0.1:1/nowhere",
        "postgresql://alice:s3cret-pw@127.0.0.1:notaport/nowhere",
        "postgresql://alice:s3cret-pw@[127.0.0.1/nowhere",
    ],
)
def test_bad_postgres_dsn_is_one_line_without_password(runner: CliRunner, dsn: str) -> None:
    result = runner.invoke(cli, ["summaries", "--dsn", dsn])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert "127.0.0.1" in result.stderr
    assert "s3cret-pw" not in result.output
    assert "Traceback" not in result.output


def test_unsupported_dsn_and_bad_now(runner: CliRunner, dsn: str) -> None:
    bad = runner.invoke(cli, ["verify", "--dsn", "mysql://x@y/z"])
    assert bad.exit_code == 1 and bad.stderr.startswith("error: unsupported database URL")
    now = runner.invoke(cli, ["summaries", "--dsn", dsn, "--now", "yesterday"])
    assert now.exit_code == 2 and "--now" in now.stderr  # a usage error (README)


def test_unmigrated_database_says_run_migrate(runner: CliRunner, dsn: str) -> None:
    result = runner.invoke(cli, ["summaries", "--dsn", dsn])
    assert result.exit_code == 1
    assert "pyreference migrate" in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_has_an_example(runner: CliRunner, command: str) -> None:
    result = runner.invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout and f"pyreference {command}" in result.stdout


def test_demo_json_stdout_is_pure_json(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["demo", "--json", "--now", NOW])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["connection_id"] for r in rows} == set(EXPECTED)


def test_postgres_migrate_verify_and_summaries(runner: CliRunner, pg_dsn: str) -> None:
    assert json.loads(runner.invoke(cli, ["migrate", "--dsn", pg_dsn, "--json"]).stdout) == {
        "applied": []
    }
    with pyreference.connect(pg_dsn) as store:
        build_demo_fleet(store, pyreference.timeutil.to_utc(NOW))
    rec = runner.invoke(cli, ["reconcile", "--dsn", pg_dsn, "--json"])
    assert rec.exit_code == 0, rec.output
    assert runner.invoke(cli, ["verify", "--dsn", pg_dsn]).exit_code == 0
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE pyref_evidence SET stream_stats = '[]' "
            "WHERE connector_instance_id = 'cin_github'"
        )
    drift = runner.invoke(cli, ["verify", "--dsn", pg_dsn, "--json"])
    assert drift.exit_code == 3
    assert [r["connection_id"] for r in json.loads(drift.stdout)] == ["cin_github"]
    rows = json.loads(
        runner.invoke(cli, ["summaries", "--dsn", pg_dsn, "--json", "--now", NOW]).stdout
    )
    assert {r["connection_id"]: r["connection_health"]["state"] for r in rows} == {
        cid: state for cid, (state, _) in EXPECTED.items()
    }
    watch = ["reconcile", "--dsn", pg_dsn, "--watch", "--interval", "0.05", "--passes", "2"]
    assert runner.invoke(cli, watch).exit_code == 0


def test_unopenable_sqlite_is_database_unavailable(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["verify", "--dsn", f"sqlite:///{tmp_path}/missing/dir/x.db"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot open SQLite database")


def test_watch_wakes_on_notify(runner: CliRunner, pg_dsn: str) -> None:
    """A NOTIFY pyref_dirty ends the wait long before the interval."""
    import threading
    import time

    def notify() -> None:
        time.sleep(1.0)
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("NOTIFY pyref_dirty")

    threading.Thread(target=notify, daemon=True).start()
    started = time.monotonic()
    args = ["reconcile", "--dsn", pg_dsn, "--watch", "--interval", "60", "--passes", "2"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 30
