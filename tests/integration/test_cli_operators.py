"""Operator commands tell the truth (issue 13, item 7).

Usage errors exit 2, read commands never create a database file, the demo refuses a
database that holds connections and never overwrites a manifest it did not create,
`reconcile --watch` logs and exits 130 on Ctrl-C, `bench --quick` never rewrites the
committed results, and the LICENSE ships in the repo and the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import pyreference
import pyreference.demo
import pyreference.timeutil
from bench import run as bench_run
from pyreference.cli import Seconds, cli
from pyreference.manifests import real_manifests

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-23T12:00:00Z"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def db_dsn(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of the test's backend, as a DSN."""
    if backend == "postgres":
        return str(request.getfixturevalue("pg_dsn"))
    dsn = f"sqlite:///{tmp_path / 'ops.db'}"
    with pyreference.connect(dsn) as store:
        store.migrate()
    return dsn


@pytest.mark.parametrize(
    "args",
    [
        ["summaries", "--now", "garbage"],
        ["summaries", "--now", "2026-11-23T12:00:00"],  # naive: no zone
        ["demo", "--now", "yesterday"],
        ["reconcile", "--interval", "2"],  # only with --watch
        ["reconcile", "--passes", "3"],
        ["reconcile", "--heartbeat", "60"],
        ["reconcile", "--limit", "0"],
        ["reconcile", "--limit", "many"],
        ["summaries", "--no-such-option"],
        ["no-such-command"],
        ["migrate", "--lock-wait", "-1"],
        ["migrate", "--lock-wait", "nan"],  # waited forever (NaN passes x >= 0)
        ["reconcile", "--watch", "--interval", "nan"],  # exit 1, unexpected ValueError
        ["reconcile", "--watch", "--interval", "inf"],  # exit 1, unexpected OverflowError
        ["reconcile", "--watch", "--interval", "1e300"],  # exit 1, unexpected OverflowError
        ["reconcile", "--watch", "--heartbeat", "nan"],  # ran on, never a heartbeat
    ],
)
def test_every_usage_error_exits_2(runner: CliRunner, args: list[str], tmp_path: Path) -> None:
    result = runner.invoke(cli, [*args, "--dsn", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code == 2, (args, result.output)
    assert not (tmp_path / "x.db").exists()


def _seconds_options() -> list[tuple[str, str]]:
    """(command, option) for every option of every command that takes a number."""
    found = []
    for name, command in sorted(cli.commands.items()):
        for param in command.params:
            if isinstance(param.type, click.types.FloatParamType | Seconds):
                found.append((name, param.opts[0]))
    return found


def test_every_float_option_of_the_cli_is_seconds() -> None:
    """One place checks every number of seconds (finite, in range): no option is a bare
    click float, which takes nan, inf and 1e300."""
    options = _seconds_options()
    assert {("migrate", "--lock-wait"), ("reconcile", "--interval")} <= set(options)
    for name, option in options:
        param = next(p for p in cli.commands[name].params if p.opts[0] == option)
        assert isinstance(param.type, Seconds), (name, option, param.type)


@pytest.mark.parametrize(("command", "option"), _seconds_options())
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e300", "-1", "soon"])
def test_non_finite_or_huge_seconds_are_usage_errors(
    runner: CliRunner, command: str, option: str, value: str, tmp_path: Path
) -> None:
    watch = ["--watch"] if command == "reconcile" else []
    dsn = f"sqlite:///{tmp_path / 'x.db'}"
    result = runner.invoke(cli, [command, *watch, option, value, "--dsn", dsn])
    assert result.exit_code == 2, (command, option, value, result.output)
    assert f"Invalid value for '{option}'" in result.output, result.output
    assert "number of seconds" in result.output, result.output
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    "command", [["summaries"], ["verify"], ["backlog"], ["reconcile"], ["rebuild"]]
)
def test_read_commands_never_create_a_database_file(
    runner: CliRunner, command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYREFERENCE_DSN", raising=False)
    result = runner.invoke(cli, command)  # the default DSN: ./pyreference.db
    assert result.exit_code == 1, result.output
    assert "pyreference migrate" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_serve_never_creates_a_database_file(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYREFERENCE_DSN", raising=False)
    # An address that cannot be bound: without the check the app would open (and create)
    # the database at startup, then fail; it must refuse before.
    result = runner.invoke(cli, ["serve", "--host", "256.0.0.1", "--token", "t"])
    assert result.exit_code == 1 and "pyreference migrate" in result.stderr
    assert list(tmp_path.iterdir()) == []


def _connections(dsn: str) -> int:
    with pyreference.connect(dsn) as store:
        return len(list(store.iter_connection_summaries(NOW)))


def test_demo_refuses_a_database_holding_connections(runner: CliRunner, db_dsn: str) -> None:
    custom = {**real_manifests()["gmail"], "display_name": "Our own Gmail manifest"}
    with pyreference.connect(db_dsn) as store:
        store.register_connector(custom)
        store.create_connection("cin_ours", "gmail")
    result = runner.invoke(cli, ["demo", "--dsn", db_dsn, "--now", NOW])
    assert result.exit_code == 1
    assert "already holds 1 connection" in result.stderr and "--force" in result.stderr
    assert _connections(db_dsn) == 1  # nothing written
    forced = runner.invoke(cli, ["demo", "--dsn", db_dsn, "--now", NOW, "--json", "--force"])
    assert forced.exit_code == 0, forced.output
    assert len(json.loads(forced.stdout)) == _connections(db_dsn) > 1
    with pyreference.connect(db_dsn) as store:
        summary = store.get_connection_summary("cin_ours", NOW)
    assert summary is not None
    # The manifest it found registered is kept as it was (its display name shows).
    with pyreference.connect(db_dsn) as store, store.database.session() as s:
        manifest = s.execute(
            "SELECT manifest FROM connectors WHERE connector_id = 'gmail'"
            if store.dialect == "sqlite"
            else "SELECT manifest::text AS manifest FROM connectors WHERE connector_id = 'gmail'"
        )[0]["manifest"]
    assert json.loads(manifest)["display_name"] == "Our own Gmail manifest"


def test_demo_builds_in_an_empty_database(runner: CliRunner, db_dsn: str) -> None:
    result = runner.invoke(cli, ["demo", "--dsn", db_dsn, "--now", NOW, "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) >= 12


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_reconcile_watch_logs_and_exits_130_on_ctrl_c(db_dsn: str) -> None:
    with pyreference.connect(db_dsn) as store:
        pyreference.demo.build_demo_fleet(store, pyreference.timeutil.to_utc(NOW))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = ["--dsn", db_dsn, "--watch", "--interval", "0.05", "--heartbeat", "0.3"]
    worker = subprocess.Popen(
        [sys.executable, "-m", "pyreference.cli", "reconcile", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        # An operator's terminal delivers Ctrl-C; a runner that started these tests in the
        # background leaves SIGINT ignored, and Python keeps an inherited "ignore".
        preexec_fn=_sigint_default,
    )
    time.sleep(3)  # start, one pass with work, then idle heartbeats
    worker.send_signal(signal.SIGINT)
    _, err = worker.communicate(timeout=30)
    assert worker.returncode == 130, err
    lines = err.splitlines()
    assert "reconcile --watch on" in lines[0] and "Ctrl-C stops" in lines[0]
    assert any("reconciled" in line and "connection(s)" in line for line in lines[1:])
    idle = [line for line in lines if "idle: nothing dirty" in line]
    assert 1 <= len(idle) <= 12  # a heartbeat, not a line per pass (~60 passes)
    assert "stopped after" in lines[-1]


def test_bench_quick_never_rewrites_the_committed_results() -> None:
    local = bench_run.output_dir("quick", None)
    assert local != bench_run.RESULTS and bench_run.RESULTS in local.parents
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(local / "quick.md")], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0  # git ignores it
    assert bench_run.output_dir("full", None) == bench_run.RESULTS
    assert bench_run.output_dir("quick", Path("/tmp/x")) == Path("/tmp/x")


def test_license_ships_in_the_repo_and_the_wheel(tmp_path: Path) -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    # Built from a copy: setuptools leaves a build/ folder in the tree it builds.
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".venv", ".git", "build", "*cache*", ".hypothesis", "local"),
    )
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    # No packaging warnings about the layout (the ~260 lines `make` used to print).
    assert "absent from the `packages` configuration" not in build.stdout + build.stderr
    (wheel,) = tmp_path.glob("pyreference-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "pyreference/sql/postgres/0001_canonical.sql" in names
    # The read path ships compiled (mypyc) where this checkout's install could compile it,
    # with the digests of the sources it was built from.
    if any(ROOT.glob("pyreference/reads.*.so")):
        assert "pyreference/native-build.json" in names
        assert any(n.startswith("pyreference/reads.") and n.endswith(".so") for n in names)
    # The console's templates ship too (`pyreference serve` from a wheel renders pages).
    assert "pyreference/web/templates/fleet.html" in names
