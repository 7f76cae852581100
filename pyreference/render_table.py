"""Summaries as a readable terminal table (rich), colour where the terminal supports it."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from .synthesis import ConnectionSummary

TONE_STYLE = {"green": "green", "amber": "yellow", "red": "red", "grey": "dim"}


def print_summaries(items: Iterable[ConnectionSummary], console: Console | None = None) -> None:
    console = console or Console()
    table = Table(show_lines=False, header_style="bold")
    for column in ("connection", "connector", "status", "records", "freshness", "health", "verdict", "last run"):
        table.add_column(column)
    for item in items:
        d = item.to_dict()
        verdict = d["rendered_verdict"]
        run = d["last_run"]
        last_run = f"{run['status']} {run['finished_at'] or run['started_at'] or ''}".strip() if run else "never"
        if run and run.get("failure_reason"):
            last_run += f" ({run['failure_reason']})"
        records = "—" if d["total_records"] is None else str(d["total_records"])
        table.add_row(
            f"{d['display_name'] or d['connection_id']}\n[dim]{d['connection_id']}[/dim]",
            d["connector_id"],
            d["status"],
            f"{records} [dim]{d['total_records_state']}[/dim]",
            d["freshness"]["status"],
            d["connection_health"]["state"],
            f"[{TONE_STYLE.get(verdict['tone'], '')}]{verdict['label']}[/]",
            last_run,
        )
    console.print(table)
