"""The `pyreference` command line.

Exit codes scripts can rely on: 0 ok, 1 error (one `error: …` line on stderr, no
traceback), 2 usage error (click's convention: an unknown option, a bad value such as
`--now garbage`, an option that needs another), 3 drift (`verify` found differing
evidence, `render --check` found stale renderings), 130 interrupted (Ctrl-C). Data goes
to stdout (`--json` gives pure JSON); progress and messages go to stderr.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from . import grants as grants_module
from . import sqlfiles
from .db import redact_dsn
from .errors import PyreferenceError
from .native import status
from .seconds import seconds
from .store import DEFAULT_DSN, Store, connect

EXIT_ERROR = 1
EXIT_DRIFT = 3  # verify found differing rows / render --check found stale files
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
_SECRET_IN_URL = re.compile(r"(\w+://[^:/@\s]*):[^@\s]*@")
NOTIFY_CHANNEL = "pyref_dirty"  # `reconcile --watch` wakes early on NOTIFY pyref_dirty

dsn_option = click.option(
    "--dsn",
    envvar="PYREFERENCE_DSN",
    default=DEFAULT_DSN,
    show_default=True,
    help="Database URL (postgresql://… or sqlite:///path); env PYREFERENCE_DSN.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print pure JSON on stdout.")


class IsoTime(click.ParamType):
    """An ISO-8601 time with a zone (`2026-11-23T12:00:00Z`); anything else is a usage error."""

    name = "ISO-TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from .timeutil import to_utc

        try:
            return to_utc(value, "--now")
        except PyreferenceError as exc:
            self.fail(str(exc), param, ctx)


class Seconds(click.ParamType):
    """A number of seconds in [`min`, `seconds.MAX_SECONDS`], checked by the API's own rule
    (`pyreference.seconds`): every seconds option of the CLI (`--lock-wait`, `--interval`,
    `--heartbeat`, `--db-timeout`) is one, so `nan`, `inf` or `1e300` is a usage error
    (exit 2) rather than a crash, an overflow or an endless wait."""

    name = "SECONDS"

    def __init__(self, min: float = 0.0) -> None:
        self.min = min

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = value
        if not isinstance(value, float | int) or isinstance(value, bool):
            try:
                number = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a number of seconds", param, ctx)
        named = f"--{param.name.replace('_', '-')}" if param and param.name else "the option"
        try:
            return seconds(number, named, low=self.min)
        except PyreferenceError as exc:
            self.fail(str(exc), param, ctx)


now_option = click.option(
    "--now", type=IsoTime(), default=None, help="Evaluate at this ISO-8601 time (default: now)."
)


class Failure(click.ClickException):
    """One readable line on stderr and exit 1: how every expected error ends."""

    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class _Group(click.Group):
    """Turns pyreference's typed errors (and surprises) into `Failure` for every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PyreferenceError as exc:
            raise Failure(str(exc)) from exc
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            if os.environ.get("PYREFERENCE_DEBUG"):
                raise
            # Some driver messages quote a URL: never echo a password from one.
            first = _SECRET_IN_URL.sub(r"\1@", (str(exc).splitlines() or [""])[0])[:240]
            raise Failure(
                f"unexpected {type(exc).__name__}: {first} (PYREFERENCE_DEBUG=1 shows a traceback)"
            ) from exc


@contextmanager
def _store(dsn: str, *, create: bool = False) -> Iterator[Store]:
    """The store of `dsn`. Only `migrate` creates a missing SQLite file: a command that
    needs a migrated database says so instead of leaving an empty file behind."""
    store = connect(dsn, create=create)
    try:
        yield store
    finally:
        store.close()


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Exit codes: 0 ok, 1 error, 2 usage error, 3 drift (verify, render --check).",
)
@click.version_option(package_name="pyreference", message=f"%(prog)s %(version)s, {status()}")
def cli() -> None:
    """Maintained connection summaries for Postgres and embedded SQLite.

    \b
    Examples:
      pyreference demo
      PYREFERENCE_DSN=postgresql://postgres@127.0.0.1/pdpp pyreference migrate
      pyreference summaries --json
    """


@cli.command()
@dsn_option
@json_option
@click.option(
    "--lock-wait", type=Seconds(), default=60.0, show_default=True,
    help="Seconds to wait for another migrate to finish.",
)  # fmt: skip
@click.option(
    "--break-lock", is_flag=True,
    help="Remove a yoyo_lock row left by a killed `yoyo apply` (only if none is running).",
)  # fmt: skip
def migrate(dsn: str, as_json: bool, lock_wait: float, break_lock: bool) -> None:
    """Apply pending migrations (idempotent: a second run applies nothing).

    Concurrent runs wait for each other (a lock that ends with its session, so a
    killed run never blocks the next); with nothing pending no lock is taken.

    \b
    Example:
      pyreference migrate --dsn postgresql://postgres@127.0.0.1/pdpp
    """
    with _store(dsn, create=True) as store:
        applied = store.migrate(lock_wait=lock_wait, break_lock=break_lock)
    if as_json:
        _emit({"applied": applied})
    else:
        click.echo(
            f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else "")
        )


@cli.command()
@click.option("--check", is_flag=True, help="Change nothing; exit 3 if a rendering is stale.")
@click.pass_context
def render(ctx: click.Context, check: bool) -> None:
    """Render sql/templates into sql/postgres, sql/sqlite and sql/queries.

    \b
    Examples:
      pyreference render           # after editing a template
      pyreference render --check   # in CI: exit 3 when a committed file is stale
    """
    if check:
        stale = sqlfiles.check()
        if stale:
            for path in stale:
                click.echo(f"stale: sql/{path}", err=True)
            ctx.exit(EXIT_DRIFT)
        click.echo("renderings match their templates")
        return
    changed = sqlfiles.write()
    click.echo(f"rendered {len(changed)} changed file(s)")


WATCH_ONLY = ("interval", "passes", "heartbeat")


@cli.command()
@dsn_option
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="At most this many per pass."
)
@click.option("--watch", is_flag=True, help="Keep reconciling until Ctrl-C.")
@click.option(
    "--interval", type=Seconds(min=0.05), default=5.0, show_default=True,
    help="Seconds between passes with --watch (Postgres wakes early on NOTIFY pyref_dirty).",
)  # fmt: skip
@click.option(
    "--passes", type=click.IntRange(min=1), default=None, help="Stop --watch after N passes."
)
@click.option(
    "--heartbeat", type=Seconds(), default=300.0, show_default=True,
    help="With --watch, log one 'idle' line after this many quiet seconds (0: never).",
)  # fmt: skip
@json_option
@click.pass_context
def reconcile(
    ctx: click.Context,
    dsn: str,
    limit: int | None,
    watch: bool,
    interval: float,
    passes: int | None,
    heartbeat: float,
    as_json: bool,
) -> None:
    """Persist recomputations of dirty evidence rows, oldest first.

    Exits 1 if a row failed to reconcile (it stays dirty with a sanitized last_error).
    --watch logs to stderr when it starts, after each pass that did work and, when
    idle, a heartbeat line every --heartbeat seconds; --json prints one JSON object per
    pass that did work on stdout. Ctrl-C stops it (exit 130).

    \b
    Examples:
      pyreference reconcile --limit 5000                # from cron, every minute
      pyreference reconcile --watch --interval 2        # a long-running worker
    """
    if not watch:
        given = [
            f"--{name}"
            for name in WATCH_ONLY
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
        ]
        if given:
            raise click.UsageError(f"{', '.join(given)} only applies with --watch")
    with _store(dsn) as store:
        if not watch:
            result = store.reconcile_report(limit)
            if as_json:
                _emit({"reconciled": result.reconciled, "failed": result.failed})
            else:
                click.echo(f"reconciled {result.reconciled} connection(s), {result.failed} failed")
            if result.failed:
                ctx.exit(EXIT_ERROR)
            return
        _watch(store, limit, interval, passes, heartbeat, as_json)


def _log(message: str) -> None:
    """One timestamped line on stderr (a worker's log)."""
    from .timeutil import iso, now_utc

    click.echo(f"{iso(now_utc())[:19]}Z {message}", err=True)


def _watch(
    store: Store,
    limit: int | None,
    interval: float,
    passes: int | None,
    heartbeat: float,
    as_json: bool,
) -> None:
    """Reconcile in bounded passes until Ctrl-C (or `passes`), sleeping between idle passes.

    Logs its start, each pass that did work, and a heartbeat after `heartbeat` quiet
    seconds; Ctrl-C ends it between or during passes (each pass is its own transactions)."""
    waiter = _Waiter(store)
    _log(
        f"reconcile --watch on {store.database.description}: a pass every {interval:g} s"
        + (f", at most {limit} per pass" if limit else "")
        + (", early on NOTIFY pyref_dirty" if waiter.listening else "")
        + "; Ctrl-C stops"
    )
    done = total = 0
    quiet_since = time.monotonic()
    try:
        while passes is None or done < passes:
            result = store.reconcile_report(limit)
            done += 1
            if result.reconciled or result.failed:
                total += result.reconciled
                quiet_since = time.monotonic()
                if as_json:
                    click.echo(
                        json.dumps({"reconciled": result.reconciled, "failed": result.failed})
                    )
                _log(f"reconciled {result.reconciled} connection(s), {result.failed} failed")
            elif heartbeat and time.monotonic() - quiet_since >= heartbeat:
                _log(f"idle: nothing dirty for {time.monotonic() - quiet_since:.0f} s")
                quiet_since = time.monotonic()
            # A full pass may have left more behind: go again at once.
            full = limit is not None and result.reconciled + result.failed >= limit
            if not full and (passes is None or done < passes):
                waiter.wait(interval)
    except KeyboardInterrupt:
        _log(f"stopped after {done} pass(es), {total} connection(s) reconciled")
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    finally:
        waiter.close()


class _Waiter:
    """Sleeps between passes; on Postgres LISTENs so a `NOTIFY pyref_dirty` ends the wait early.

    The triggers do not notify (that would add work to every write); a writer that wants
    prompt reconciles may `NOTIFY pyref_dirty` itself. Everything else is polling.
    """

    def __init__(self, store: Store) -> None:
        self._conn: Any = None
        dsn = getattr(store.database, "dsn", None)
        # Behind a transaction pooler (prepare off) a LISTEN is never delivered: poll.
        pooled = not getattr(store.database, "prepared_statements", True)
        if store.dialect == "postgres" and dsn and not pooled:
            import psycopg

            try:
                self._conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
                self._conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            except psycopg.Error:
                self._conn = None  # polling still works

    @property
    def listening(self) -> bool:
        return self._conn is not None

    def wait(self, seconds: float) -> None:
        if self._conn is None:
            time.sleep(seconds)
            return
        for _ in self._conn.notifies(timeout=seconds, stop_after=1):
            pass

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


@cli.command()
@dsn_option
@json_option
def rebuild(dsn: str, as_json: bool) -> None:
    """Recompute every evidence row from the canonical tables, in one transaction.

    \b
    Example:
      pyreference rebuild --dsn postgresql://postgres@127.0.0.1/pdpp
    """
    with _store(dsn) as store, _stderr_console().status("rebuilding evidence…") as status:

        def progress(done: int, total: int) -> None:
            status.update(f"rebuilding evidence: {done}/{total} connections")

        n = store.rebuild(progress)
    if as_json:
        _emit({"rebuilt": n})
    else:
        click.echo(f"rebuilt evidence for {n} connection(s)")


@cli.command()
@dsn_option
@json_option
@click.pass_context
def verify(ctx: click.Context, dsn: str, as_json: bool) -> None:
    """Compare maintained evidence with a recomputation; exit 3 when any row differs.

    \b
    Example (monitoring):
      pyreference verify --json || alert "pyreference evidence drift"
    """
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
        ctx.exit(EXIT_DRIFT)


@cli.command()
@dsn_option
@json_option
def backlog(dsn: str, as_json: bool) -> None:
    """Show the dirty backlog: connections waiting for reconcile, and the oldest mark.

    \b
    Example:
      pyreference backlog --json
    """
    with _store(dsn) as store:
        info = store.dirty_backlog()
    if as_json:
        _emit(info)
    else:
        click.echo(
            f"{info['dirty_connections']} dirty connection(s), {info['dirty_marks']} mark(s), "
            f"oldest {info['oldest_mark'] or '—'}"
        )


@cli.command()
@dsn_option
@click.option("--writer", default=None, help="Role that writes the canonical tables.")
@click.option("--reader", default=None, help="Role that reads summaries.")
@click.option("--maintainer", default=None, help="Role that runs reconcile, rebuild, verify.")
@click.option(
    "--confine-readers",
    is_flag=True,
    help="Row-level security: the reader sees only the owner named by pyref.owner.",
)
@click.option(
    "--schema", default=None, help="Install schema (default: found when applying, else public)."
)
@click.option("--apply", "apply_", is_flag=True, help="Run the statements (as the owner).")
def grants(
    dsn: str,
    writer: str | None,
    reader: str | None,
    maintainer: str | None,
    confine_readers: bool,
    schema: str | None,
    apply_: bool,
) -> None:
    """Print (or --apply) the GRANTs giving each role exactly what it needs (Postgres).

    Each named role first loses every privilege on pyreference's objects, then gets the
    union of what its kinds need; running it again converges. Name every role in one
    call. The roles must exist; see docs/dba-guide.md, "Roles and grants".

    \b
    Examples:
      pyreference grants --writer etl --reader console --maintainer worker > grants.sql
      pyreference grants --dsn postgresql://postgres@db/pdpp --reader console \\
          --confine-readers --apply
    """
    roles = grants_module.Roles(writer=writer, reader=reader, maintainer=maintainer)
    if not apply_:
        statements = grants_module.grant_statements(
            roles, schema=schema or "public", confine_readers=confine_readers
        )
        click.echo(grants_module.script(statements), nl=False)
        return
    with _store(dsn) as store:
        statements = grants_module.apply(
            store.database, roles, schema=schema, confine_readers=confine_readers
        )
    done = sum(not s.startswith("--") for s in statements)
    click.echo(f"applied {done} statement(s) for {', '.join(roles.named())}")


@cli.command()
@dsn_option
@click.option("--connection", "connection_id", default=None, help="One connection (deep read).")
@json_option
@now_option
def summaries(dsn: str, connection_id: str | None, as_json: bool, now: Any) -> None:
    """Print connection summaries (all, or one with --connection).

    \b
    Examples:
      pyreference summaries
      pyreference summaries --connection cin_work --json
      pyreference summaries --now 2026-11-23T12:00:00Z --json
    """
    from .render_table import print_summaries
    from .timeutil import now_utc

    at = now_utc() if now is None else now
    with _store(dsn) as store:
        if connection_id:
            diag = store.connection_diagnostics(connection_id, at)
            if as_json:
                _emit(diag.to_dict())
            else:
                print_summaries([diag.summary], now=at)
            return
        items = list(store.iter_connection_summaries(at))
    if as_json:
        _emit([item.to_dict() for item in items])
    else:
        print_summaries(items, now=at)


@cli.command()
@click.option(
    "--dsn",
    envvar="PYREFERENCE_DEMO_DSN",
    default="sqlite:///:memory:",
    show_default=True,
    help="Where to build the demo fleet (an empty database); env PYREFERENCE_DEMO_DSN.",
)
@json_option
@now_option
@click.option(
    "--force", is_flag=True,
    help="Add the fleet to a database that already holds connections (manifests it finds "
    "registered are kept, never overwritten).",
)  # fmt: skip
def demo(dsn: str, as_json: bool, now: Any, force: bool) -> None:
    """Build a demo fleet from the real manifests and print its summaries.

    Refuses a database that already holds connections unless --force.

    \b
    Examples:
      pyreference demo
      pyreference demo --json | jq '.[] | {connection_id, state: .connection_health.state}'
    """
    from .demo import run_demo

    run_demo(dsn, as_json=as_json, now=now, force=force)


# each run prints its own time
BENCH_QUICK_TAKES = "about two minutes on 2 cores (107 s measured, pages experiment included)"


@cli.command()
@dsn_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port."
)
@click.option(
    "--token",
    envvar="PYREFERENCE_TOKEN",
    default=None,
    help="Bearer token every request must send; required off loopback. Env PYREFERENCE_TOKEN.",
)
@click.option(
    "--owner",
    envvar="PYREFERENCE_OWNER",
    default="owner_local",
    show_default=True,
    help="Whose connections are served. Env PYREFERENCE_OWNER.",
)
@click.option(
    "--db-timeout",
    envvar="PYREFERENCE_DB_TIMEOUT",
    default=2.0,
    show_default=True,
    type=Seconds(min=0.01),
    help="Seconds a request waits for the database before answering 503 (Postgres: "
    "connect, at least 2 s, and pooled-connection wait). Env PYREFERENCE_DB_TIMEOUT.",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Serve a demo fleet built now in a fresh SQLite file (ignores --dsn).",
)
def serve(
    dsn: str,
    host: str,
    port: int,
    token: str | None,
    owner: str,
    db_timeout: float,
    demo: bool,
) -> None:
    """Serve the HTTP API (/v1/…, /healthz, /metrics) and the owner console (/).

    Needs the web extra: pip install 'pyreference[web]'.

    \b
    Examples:
      pyreference serve --demo                      # then open http://127.0.0.1:8000/
      pyreference serve --dsn postgresql://…/db --host 0.0.0.0 --token "$TOKEN"
    """
    try:
        import uvicorn  # noqa: F401 (the extra's presence, checked before any work)

        from .web import Settings
    except ImportError as exc:
        raise Failure(
            f"the web extra is missing ({exc.name}): pip install 'pyreference[web]'"
        ) from None
    import asyncio

    settings = Settings(
        dsn=dsn, owner=owner, host=host, port=port, token=token, db_timeout=db_timeout
    )
    if demo:
        settings = dataclasses.replace(settings, dsn=_demo_database())
    asyncio.run(_serve(settings))


async def _serve(settings: Any) -> None:
    """Open the store, then serve it until interrupted. The store opens first so that an
    unreachable database, a missing SQLite file (never created here) or a bad setting
    ends the command with one `error:` line (exit 1), not a server-startup traceback."""
    import uvicorn

    from .aio import connect_async
    from .web import create_app

    store = await connect_async(
        settings.dsn, owner=settings.owner, create=False, timeout=settings.db_timeout
    )
    try:
        where = f"http://{settings.url_host}:{settings.port}/"
        click.echo(f"serving {redact_dsn(settings.dsn)} for {settings.owner} on {where}", err=True)
        config = uvicorn.Config(
            create_app(settings, store=store),
            host=settings.bind_host,
            port=settings.port,
            server_header=False,
        )
        server = uvicorn.Server(config)
        try:
            await server.serve()
        except SystemExit:  # uvicorn's startup failure (exit 3, which here means drift)
            server.started = False
        if not server.started:
            raise Failure(f"could not serve on {where} (the reason is logged above)")
    finally:
        await store.aclose()


def _demo_database() -> str:
    """A fresh SQLite file holding the demo fleet built at the current time."""
    import tempfile

    from .demo import build_demo_fleet
    from .timeutil import now_utc

    dsn = f"sqlite:///{tempfile.mkdtemp(prefix='pyreference-demo-')}/demo.db"
    with connect(dsn) as store:
        store.migrate()
        created = build_demo_fleet(store, now_utc())
        store.reconcile()
    click.echo(f"demo fleet: {len(created)} connections in {dsn}", err=True)
    return dsn


@cli.command()
@click.option("--quick", is_flag=True, help=f"Small scales: {BENCH_QUICK_TAKES}.")
@click.option("--dsn", envvar="PYREFERENCE_BENCH_DSN", default=None, help="Postgres to measure.")
@click.option(
    "--out", type=click.Path(file_okay=False), default=None,
    help="Folder for the report (default: bench/results/local for --quick, untracked; "
    "bench/results, the committed results, for the full run).",
)  # fmt: skip
@click.option(
    "--browser",
    is_flag=True,
    help="Only the console in headless Chromium beside fan-out (N = 10,000; needs the web "
    "extra, playwright and /usr/bin/chromium).",
)
def bench(quick: bool, dsn: str | None, out: str | None, browser: bool) -> None:
    """Run the benchmarks in bench/ and write the report (it says how long the run took).

    \b
    Examples:
      pyreference bench --quick --dsn postgresql://postgres@127.0.0.1/postgres
      pyreference bench --browser      # writes bench/results/browser.{md,json,png}
    """
    root = sqlfiles.sql_dir().parent
    runner = root / "bench" / "run.py"
    if not runner.exists():
        raise Failure("bench/ is not present: run from a source checkout")
    args = (
        [sys.executable, str(runner)]
        + (["--quick"] if quick else [])
        + (["--dsn", dsn] if dsn else [])
        + (["--out", out] if out else [])
        + (["--only", "browser"] if browser else [])
    )
    os.execv(sys.executable, args)


def main() -> None:
    cli(prog_name="pyreference")


if __name__ == "__main__":
    main()
