"""Summaries as a readable terminal table (rich), colour where the terminal supports it.

Health, actions, run statuses and reasons are shown in the words of `words.py`, the
console's own vocabulary; `--json` keeps the identifiers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import words
from .synthesis import ConnectionSummary
from .timeutil import to_utc

TONE_STYLE = {"green": "green", "amber": "yellow", "red": "red", "grey": "dim"}
STATE_STYLE = {
    "healthy": "green",
    "idle": "cyan",
    "cooling_off": "yellow",
    "degraded": "yellow",
    "needs_attention": "yellow",
    "blocked": "red",
    "unknown": "dim",
}


def action_words(actions: Iterable[str]) -> str:
    """Required actions (R19) in the owner's words (`words.ACTIONS`), most urgent first."""
    return "; ".join(words.action(a) for a in actions)


def age(at: str | None, now: datetime | None) -> str:
    """`5m ago`-style age of an ISO timestamp; the timestamp itself when `now` is unknown."""
    if at is None:
        return ""
    if now is None:
        return at[:16].replace("T", " ")
    seconds = int((now - to_utc(at)).total_seconds())
    if seconds < 0:
        return "in the future"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def _last_run(run: Mapping[str, Any] | None, now: datetime | None) -> str:
    if not run:
        return "[dim]never[/dim]"
    status = words.run_status(run["status"])
    text = f"{status} {age(run['finished_at'] or run['started_at'], now)}".strip()
    why = words.reason(run.get("failure_reason"))
    if why:
        text += f"\n[dim]{escape(why)}[/dim]"
    return text


def _row(d: Mapping[str, Any], now: datetime | None) -> list[str]:
    verdict = d["rendered_verdict"]
    state = d["connection_health"]["state"]
    status = "" if d["status"] == "active" else f" [bold]{d['status']}[/bold]"
    records = "—" if d["total_records"] is None else str(d["total_records"])
    actions = action_words(verdict["required_actions"])
    return [
        f"{escape(d['display_name'])}{status}\n"
        f"[dim]{escape(d['connection_id'])} · {escape(d['connector_id'])}[/dim]",
        records,
        d["freshness"]["status"],
        f"[{STATE_STYLE.get(state, '')}]{escape(words.health(state))}[/]",
        f"[{TONE_STYLE.get(verdict['tone'], '')}]{verdict['label']}[/]"
        + (f"\n[dim]{escape(actions)}[/dim]" if actions else ""),
        _last_run(d["last_run"], now),
    ]


def summaries_table(items: Iterable[ConnectionSummary], now: datetime | None = None) -> Table:
    table = Table(header_style="bold", row_styles=["", "on grey7"], expand=False)
    # Narrow terminals wrap the free-text columns; the short state columns keep their width.
    table.add_column("connection", overflow="fold", min_width=14)
    table.add_column("records", justify="right", min_width=7)
    table.add_column("freshness", min_width=9)
    table.add_column("health", min_width=15)
    table.add_column("verdict", min_width=13)
    table.add_column("last run", overflow="fold", min_width=12)
    for item in items:
        table.add_row(*_row(item.to_dict(), now))
    return table


def print_summaries(
    items: Iterable[ConnectionSummary],
    console: Console | None = None,
    now: datetime | None = None,
) -> None:
    """Print the table; `now` (the time the summaries were evaluated at) shows run ages."""
    (console or stdout_console()).print(summaries_table(items, now))


def stdout_console() -> Console:
    """A console for data on stdout: a pipe or log gets a wide page, not 80 columns."""
    probe = Console()
    return probe if probe.is_terminal else Console(width=160)
