"""The `pyreference` command line."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from . import sqlfiles
from .errors import PyreferenceError
from .store import DEFAULT_DSN, Store, connect

EXIT_ERROR = 1
EXIT_DRIFT = 3  # verify found differing rows / render --check found stale files

dsn_option = click.option(
    "--dsn",
    envvar="PYREFERENCE_DSN",
    default=DEFAULT_DSN,
    show_default=True,
    help="Database URL (postgresql://… or sqlite:///path); env PYREFERENCE_DSN.",
)


@contextmanager
def _store(dsn: str) -> Iterator[Store]:
    store = connect(dsn)
    try:
        yield store
    finally:
        store.close()


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pyreference")
def cli() -> None:
    """Maintained connection summaries for Postgres and embedded SQLite."""


@cli.command()
@dsn_option
def migrate(dsn: str) -> None:
    """Apply pending migrations (idempotent).

    Example: pyreference migrate --dsn postgresql://postgres@127.0.0.1/pdpp
    """
    with _store(dsn) as store:
        applied = store.migrate()
    click.echo(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))


@cli.command()
@click.option("--check", is_flag=True, help="Fail (exit 3) if a committed rendering is stale.")
def render(check: bool) -> None:
    """Render sql/templates into sql/postgres, sql/sqlite and sql/queries.

    Example: pyreference render --check
    """
    if check:
        stale = sqlfiles.check()
        if stale:
            for path in stale:
                click.echo(f"stale: sql/{path}", err=True)
            sys.exit(EXIT_DRIFT)
        click.echo("renderings match their templates")
        return
    changed = sqlfiles.write()
    click.echo(f"rendered {len(changed)} changed file(s)")


@cli.command()
@dsn_option
@click.option("--limit", type=int, default=None, help="Reconcile at most this many connections.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def reconcile(dsn: str, limit: int | None, as_json: bool) -> None:
    """Persist recomputations of dirty evidence rows, oldest first.

    Example (cron, every minute): pyreference reconcile --limit 5000
    """
    with _store(dsn) as store:
        result = store.reconcile_report(limit)
    if as_json:
        _emit({"reconciled": result.reconciled, "failed": result.failed})
    else:
        click.echo(f"reconciled {result.reconciled} connection(s), {result.failed} failed")
    if result.failed:
        sys.exit(EXIT_ERROR)


@cli.command()
@dsn_option
def rebuild(dsn: str) -> None:
    """Recompute every evidence row from the canonical tables, in one transaction."""
    with _store(dsn) as store:
        n = store.rebuild()
    click.echo(f"rebuilt evidence for {n} connection(s)")


@cli.command()
@dsn_option
@click.option("--json", "as_json", is_flag=True, help="Print the differing rows as JSON.")
def verify(dsn: str, as_json: bool) -> None:
    """Compare maintained evidence with a recomputation; exit 3 when any row differs."""
    with _store(dsn) as store:
        rows = store.verify()
    if as_json:
        _emit(rows)
    elif rows:
        for row in rows:
            click.echo(f"{row['connection_id']}: {', '.join(row['differing'])}")
    else:
        click.echo("evidence verified: no differences")
    if rows:
        sys.exit(EXIT_DRIFT)


@cli.command()
@dsn_option
@click.option("--connection", "connection_id", default=None, help="One connection (deep read).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--now", default=None, help="Evaluate at this ISO-8601 time (default: now).")
def summaries(dsn: str, connection_id: str | None, as_json: bool, now: str | None) -> None:
    """Print connection summaries (all, or one with --connection).

    Example: pyreference summaries --connection cin_work --json
    """
    from .render_table import print_summaries

    with _store(dsn) as store:
        if connection_id:
            diag = store.connection_diagnostics(connection_id, now)
            if as_json:
                _emit(diag.to_dict())
            else:
                print_summaries([diag.summary])
            return
        items = list(store.iter_connection_summaries(now))
    if as_json:
        _emit([item.to_dict() for item in items])
    else:
        print_summaries(items)


@cli.command()
@click.option(
    "--dsn",
    envvar="PYREFERENCE_DEMO_DSN",
    default="sqlite:///:memory:",
    show_default=True,
    help="Where to build the demo fleet.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summaries as JSON.")
def demo(dsn: str, as_json: bool) -> None:
    """Build a demo fleet from the real manifests and print its summaries."""
    from .demo import run_demo

    run_demo(dsn, as_json=as_json)


@cli.command()
@click.option("--quick", is_flag=True, help="Small scales: finishes in about two minutes.")
@click.option("--dsn", envvar="PYREFERENCE_BENCH_DSN", default=None, help="Postgres to measure.")
def bench(quick: bool, dsn: str | None) -> None:
    """Run the benchmarks in bench/ and write the report."""
    root = sqlfiles.sql_dir().parent
    runner = root / "bench" / "run.py"
    if not runner.exists():
        raise click.ClickException("bench/ is not present: run from a source checkout")
    args = [sys.executable, str(runner)] + (["--quick"] if quick else []) + (["--dsn", dsn] if dsn else [])
    os.execv(sys.executable, args)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except PyreferenceError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    main()
