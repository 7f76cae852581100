"""The demo fleet: real manifests, two dozen connections, every state a summary can show.

Every health state, verdict label, required action and forward disposition appears at
least once (`EXPECTED`, `EXPECTED_VERDICTS`; owner states in `EXPECTED_RESOLVERS`).

`build_demo_fleet(store, now)` writes only through the store's public write helpers, so the
triggers maintain the read model exactly as they would for any other writer. Everything is
relative to `now` and every id is fixed: the same `now` gives the same summaries on SQLite
and on Postgres (tested).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .errors import InvalidInput
from .manifests import real_manifests
from .store import Store
from .timeutil import iso, to_utc

# Connection id -> what its summary should show (health state, verdict tone).
# The draft is never listed, so it has no expected row.
EXPECTED: dict[str, tuple[str, str]] = {
    "cin_gmail_work": ("healthy", "green"),
    "cin_gmail_personal": ("idle", "amber"),
    "cin_github": ("degraded", "amber"),
    "cin_slack": ("idle", "grey"),
    "cin_amazon_personal": ("healthy", "green"),
    "cin_amazon_household": ("healthy", "green"),
    "cin_heb": ("degraded", "amber"),
    "cin_chase": ("blocked", "red"),
    "cin_google_calendar": ("healthy", "green"),
    "cin_ynab": ("degraded", "amber"),
    "cin_google_contacts": ("needs_attention", "amber"),
    "cin_claude_code": ("idle", "amber"),
    "cin_chatgpt": ("blocked", "red"),
    "cin_codex": ("cooling_off", "amber"),
    "cin_usaa": ("idle", "amber"),
    "cin_spotify_old": ("idle", "grey"),
    "cin_oura": ("unknown", "grey"),
    "cin_apple_contacts": ("idle", "grey"),
    "cin_whoop": ("idle", "amber"),
    "cin_strava": ("degraded", "amber"),
    "cin_groupme": ("degraded", "amber"),
    "cin_google_takeout": ("needs_attention", "amber"),
}
# Connection id -> its owner state resolver (R52): every resolver the fleet can show.
EXPECTED_RESOLVERS: dict[str, str] = {
    "cin_gmail_work": "healthy",
    "cin_gmail_personal": "refresh_due",
    "cin_github": "system_degraded",
    "cin_slack": "not_measured",
    "cin_amazon_personal": "healthy",
    "cin_amazon_household": "collecting",
    "cin_heb": "system_degraded",
    "cin_chase": "needs_owner",
    "cin_google_calendar": "healthy",
    "cin_ynab": "blocked_maintainer",
    "cin_google_contacts": "needs_owner",
    "cin_claude_code": "owner_paused",
    "cin_chatgpt": "needs_owner",
    "cin_codex": "healthy",
    "cin_usaa": "refresh_due",
    "cin_spotify_old": "retired",
    "cin_oura": "not_measured",
    "cin_apple_contacts": "collecting",
    "cin_whoop": "collecting",
    "cin_strava": "system_degraded",
    "cin_groupme": "system_degraded",
    "cin_google_takeout": "needs_owner",
}
# Connection id -> (verdict label, required actions): every label and every action (R19).
EXPECTED_VERDICTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cin_gmail_work": ("Healthy", ()),
    "cin_gmail_personal": ("Needs refresh", ("refresh_now",)),
    "cin_github": ("Degraded", ()),
    "cin_slack": ("Not measured", ()),
    "cin_amazon_personal": ("Healthy", ()),
    "cin_amazon_household": ("Healthy", ()),
    "cin_heb": ("Degraded", ()),
    "cin_chase": ("Can't collect", ("reauth",)),
    "cin_google_calendar": ("Healthy", ()),
    "cin_ynab": ("Degraded", ("code_fix",)),
    "cin_google_contacts": ("Degraded", ("reauth",)),
    "cin_claude_code": ("Needs refresh", ("reattach_schedule",)),
    "cin_chatgpt": ("Can't collect", ("reauth",)),
    "cin_codex": ("Needs refresh", ()),
    "cin_usaa": ("Needs refresh", ("refresh_now",)),
    "cin_spotify_old": ("Not measured", ()),
    "cin_oura": ("Not measured", ()),
    "cin_apple_contacts": ("Checking", ()),
    "cin_whoop": ("Syncing", ()),
    "cin_strava": ("Degraded", ("retry_gap",)),
    "cin_groupme": ("Degraded", ("wait",)),
    "cin_google_takeout": ("Degraded", ("add_info",)),
}
DRAFT_ID = "cin_notion_draft"
LEGEND = (
    "[green]green[/] healthy · [yellow]amber[/] needs refresh, syncing or degraded · [red]red[/] "
    "can't collect · [dim]grey[/] checking or not measured — {listed} connections from real "
    "manifests (a draft is hidden), evaluated at {now}; {reconciled} evidence row(s) reconciled."
)


@dataclass(frozen=True)
class _Demo:
    """Writes bound to one store and one `now`, so each connection reads as a short story."""

    store: Store
    now: datetime

    def ago(self, **delta: float) -> str:
        return iso(self.now - timedelta(**delta))

    def later(self, **delta: float) -> str:
        return iso(self.now + timedelta(**delta))

    def connection(
        self, cid: str, connector: str, name: str, *, days_old: int = 60, **kw: Any
    ) -> None:
        self.store.create_connection(
            cid, connector, display_name=name, created_at=self.ago(days=days_old), **kw
        )

    def records(self, cid: str, stream: str, count: int, *, hours_ago: float = 1.0) -> None:
        at = self.now - timedelta(hours=hours_ago)
        self.store.ingest_records(
            cid,
            stream,
            (
                {
                    "key": f"{stream}-{n:04d}",
                    "data": {"stream": stream, "n": n, "title": f"{stream} item {n}"},
                    "emitted_at": iso(at - timedelta(minutes=n)),
                }
                for n in range(count)
            ),
        )

    def run(
        self,
        cid: str | None,
        connector: str,
        run_id: str,
        *,
        started_hours_ago: float,
        minutes: float = 4.0,
        end: str | None = "run.completed",
        status: str | None = None,
        facts: Mapping[str, int] | None = None,
        failure_reason: str | None = None,
        surface: Mapping[str, str] | None = None,
    ) -> None:
        """One run: `run.started` then (unless `end` is None) its terminal event.

        `cid` None leaves identity to the browser-surface profile key (R3 rule 1).
        """
        started = self.now - timedelta(hours=started_hours_ago)
        base: dict[str, Any] = {"run_id": run_id, "connector_id": connector}
        if cid is not None:
            base["connection_id"] = cid
        start_data = {"browser_surface": dict(surface)} if surface else None
        events: list[dict[str, Any]] = [
            {
                **base,
                "event_id": f"evt_{run_id}_start",
                "event_type": "run.started",
                "occurred_at": iso(started),
                "data": start_data,
            }
        ]
        if end is not None:
            data: dict[str, Any] = {}
            if surface:
                data["browser_surface"] = dict(surface)
            if facts is not None:
                data["collection_facts"] = {
                    "streams": [
                        {"stream": s, "checkpoint": "committed", "collected": n, "considered": n}
                        for s, n in facts.items()
                    ]
                }
            if failure_reason is not None:
                data["failure_reason"] = failure_reason
            events.append(
                {
                    **base,
                    "event_id": f"evt_{run_id}_end",
                    "event_type": end,
                    "occurred_at": iso(started + timedelta(minutes=minutes)),
                    "status": status,
                    "data": data or None,
                }
            )
        self.store.append_events(events)


def _streams(connector: str) -> list[str]:
    """The required streams a manifest declares (manifest `required` absent means required)."""
    manifest = real_manifests()[connector]
    return [s["name"] for s in manifest.get("streams", []) if s.get("required", True)]


def _full_run_facts(d: _Demo, cid: str, connector: str, per_stream: int, hours_ago: float) -> dict:
    """Records for every required stream, and the facts a run reports for them."""
    facts = {}
    for stream in _streams(connector):
        d.records(cid, stream, per_stream, hours_ago=hours_ago)
        facts[stream] = per_stream
    return facts


def _healthy_gmail(d: _Demo) -> str:
    cid = "cin_gmail_work"
    d.connection(cid, "gmail", "Work mail")
    facts = _full_run_facts(d, cid, "gmail", 12, 0.3)
    d.run(cid, "gmail", "run_gmail_1", started_hours_ago=1.3, facts=facts)
    d.run(cid, "gmail", "run_gmail_2", started_hours_ago=0.3, facts=facts)
    d.store.set_schedule(cid, interval_seconds=900)
    return cid


def _assisted_refresh_gmail(d: _Demo) -> str:
    # Gmail's refresh policy says credentials are likely needed (an assisted source,
    # R59): data three hours old against a one-hour window is the owner's refresh to
    # start, not a fault.
    cid = "cin_gmail_personal"
    d.connection(cid, "gmail", "Personal mail")
    facts = _full_run_facts(d, cid, "gmail", 4, 3)
    d.run(cid, "gmail", "run_gmail_p1", started_hours_ago=3, facts=facts)
    return cid


def _stale_github(d: _Demo) -> str:
    # Automatic source, last success 9 h ago against a 6 h staleness window.
    cid = "cin_github"
    d.connection(cid, "github", "GitHub")
    facts = _full_run_facts(d, cid, "github", 5, 9)
    d.run(cid, "github", "run_github_1", started_hours_ago=9, facts=facts)
    d.store.set_schedule(cid, interval_seconds=3600)
    return cid


def _never_run_slack(d: _Demo) -> str:
    cid = "cin_slack"
    d.connection(cid, "slack", "Team Slack", days_old=1)
    return cid


def _amazon_siblings(d: _Demo) -> list[str]:
    """Two connections of one browser connector; runs carry only a profile key (R3 rule 1)."""
    personal, household = "cin_amazon_personal", "cin_amazon_household"
    d.connection(personal, "amazon", "Amazon (personal)", source_kind="browser_collector")
    d.connection(household, "amazon", "Amazon (household)", source_kind="browser_collector")
    facts_p = _full_run_facts(d, personal, "amazon", 8, 2)
    facts_h = _full_run_facts(d, household, "amazon", 3, 5)
    d.run(
        None,
        "amazon",
        "run_amz_p1",
        started_hours_ago=2,
        facts=facts_p,
        surface={"profile_key": f"amazon:{personal}", "status": "ready"},
    )
    d.run(
        None,
        "amazon",
        "run_amz_h1",
        started_hours_ago=5,
        facts=facts_h,
        surface={"profile_key": f"amazon:{household}", "status": "ready"},
    )
    # Still running on the household profile: must never show on the personal sibling.
    d.run(
        None,
        "amazon",
        "run_amz_h2",
        started_hours_ago=0.05,
        end=None,
        surface={"profile_key": f"amazon:{household}", "status": "ready"},
    )
    return [personal, household]


def _surface_failed_heb(d: _Demo) -> str:
    cid = "cin_heb"
    d.connection(cid, "heb", "H-E-B", source_kind="browser_collector")
    facts = _full_run_facts(d, cid, "heb", 4, 20)
    surface = {"profile_key": f"heb:{cid}", "status": "ready"}
    d.run(cid, "heb", "run_heb_1", started_hours_ago=20, facts=facts, surface=surface)
    waiting = {"profile_key": f"heb:{cid}", "status": "waiting", "wait_reason": "otp_required"}
    d.run(
        cid,
        "heb",
        "run_heb_2",
        started_hours_ago=1,
        end="run.browser_surface_failed",
        surface=waiting,
    )
    return cid


def _reauth_chase(d: _Demo) -> str:
    # The bank rejected the login: credentials fail (R58), so the owner signs in again.
    cid = "cin_chase"
    d.connection(cid, "chase", "Chase checking")
    facts = _full_run_facts(d, cid, "chase", 6, 30)
    d.run(cid, "chase", "run_chase_1", started_hours_ago=30, facts=facts)
    d.run(
        cid,
        "chase",
        "run_chase_2",
        started_hours_ago=1.5,
        end="run.failed",
        failure_reason="login_rejected",
    )
    return cid


def _cooling_gap_calendar(d: _Demo) -> str:
    # Its only gap waits for its retry time (R55): it counts nowhere until then.
    cid = "cin_google_calendar"
    d.connection(cid, "google-calendar", "Calendar")
    facts = _full_run_facts(d, cid, "google-calendar", 10, 0.5)
    d.run(cid, "google-calendar", "run_gcal_1", started_hours_ago=0.5, facts=facts)
    d.store.set_schedule(cid, interval_seconds=3600)
    d.store.add_detail_gap(
        cid,
        "events",
        gap_id="gap_gcal_events_1",
        reason="rate_limited",
        next_attempt_after=d.later(minutes=20),
    )
    return cid


def _terminal_gap_ynab(d: _Demo) -> str:
    cid = "cin_ynab"
    d.connection(cid, "ynab", "Budget")
    facts = _full_run_facts(d, cid, "ynab", 3, 0.5)
    d.run(cid, "ynab", "run_ynab_1", started_hours_ago=0.5, facts=facts)
    d.store.set_schedule(cid, interval_seconds=3600)
    d.store.add_detail_gap(
        cid, "payees", gap_id="gap_ynab_payees_1", status="terminal", reason="schema_changed"
    )
    return cid


def _attention_contacts(d: _Demo) -> str:
    cid = "cin_google_contacts"
    d.connection(cid, "google-contacts", "Contacts")
    facts = _full_run_facts(d, cid, "google-contacts", 7, 3)
    d.run(cid, "google-contacts", "run_gcontacts_1", started_hours_ago=3, facts=facts)
    d.store.open_attention(
        cid,
        reason_code="oauth_grant_expired",
        attention_id="att_gcontacts_1",
        owner_action="reauthorize",
        response_required=True,
    )
    return cid


def _paused_claude_code(d: _Demo) -> str:
    cid = "cin_claude_code"
    d.connection(cid, "claude-code", "Claude Code (laptop)", source_kind="local_device")
    facts = _full_run_facts(d, cid, "claude-code", 2, 1)
    d.run(cid, "claude-code", "run_cc_1", started_hours_ago=1, facts=facts)
    d.store.set_schedule(cid, interval_seconds=3600)
    d.store.set_schedule(cid, interval_seconds=3600, enabled=False)  # the owner paused it
    return cid


def _blocked_chatgpt(d: _Demo) -> str:
    # Seven failed runs, the session expired on a browser source: blocked, sign in again.
    cid = "cin_chatgpt"
    d.connection(cid, "chatgpt", "ChatGPT", source_kind="browser_collector")
    facts = _full_run_facts(d, cid, "chatgpt", 4, 50)
    d.run(cid, "chatgpt", "run_chatgpt_0", started_hours_ago=50, facts=facts)
    for n in range(1, 8):
        d.run(
            cid,
            "chatgpt",
            f"run_chatgpt_{n}",
            started_hours_ago=8 - n,
            end="run.failed",
            failure_reason="session_expired",
        )
    d.store.set_schedule(
        cid, interval_seconds=3600, consecutive_failures=7, next_run_at=d.later(hours=6)
    )
    return cid


def _cooling_off_codex(d: _Demo) -> str:
    # A rate-limited attempt was skipped (counts as no run); backoff waits it out.
    cid = "cin_codex"
    d.connection(cid, "codex", "Codex CLI", source_kind="local_device")
    facts = _full_run_facts(d, cid, "codex", 3, 1)
    d.run(cid, "codex", "run_codex_1", started_hours_ago=1, facts=facts)
    d.run(cid, "codex", "run_codex_2", started_hours_ago=0.2, status="skipped")
    d.store.set_schedule(
        cid, interval_seconds=3600, consecutive_failures=2, next_run_at=d.later(minutes=40)
    )
    return cid


def _refresh_due_usaa(d: _Demo) -> str:
    # Manual-only bank: three days since the owner last ran it, window one day.
    cid = "cin_usaa"
    d.connection(cid, "usaa", "USAA")
    facts = _full_run_facts(d, cid, "usaa", 5, 72)
    d.run(cid, "usaa", "run_usaa_1", started_hours_ago=72, facts=facts)
    return cid


def _revoked_spotify(d: _Demo) -> str:
    # Retired (R52): listed with its runs and counts, nothing asked of anyone.
    # Created revoked so revoked_at is `created_at`, not the wall clock (determinism).
    cid = "cin_spotify_old"
    d.connection(cid, "spotify", "Old Spotify", status="revoked", days_old=90)
    d.store.update_connection(cid, display_name="Spotify (old account)")
    facts = _full_run_facts(d, cid, "spotify", 6, 24 * 100)
    d.run(cid, "spotify", "run_spotify_1", started_hours_ago=24 * 100, facts=facts)
    return cid


def _unmeasured_oura(d: _Demo) -> str:
    # Records arrived an hour ago but no run reported anything (S17.3): the data is
    # current, yet what was collected is not known, so the health is `unknown`.
    cid = "cin_oura"
    d.connection(cid, "oura", "Oura ring")
    for stream in _streams("oura"):
        d.records(cid, stream, 3, hours_ago=1)
    return cid


def _first_run_apple_contacts(d: _Demo) -> str:
    # Connected ten minutes ago, its first run still going (S17.1): `Checking`.
    cid = "cin_apple_contacts"
    d.connection(cid, "apple_contacts", "Contacts (Mac)", days_old=0, source_kind="local_device")
    d.run(cid, "apple_contacts", "run_acontacts_1", started_hours_ago=0.05, end=None)
    return cid


def _syncing_whoop(d: _Demo) -> str:
    # Manual-only source two days stale, and the owner's refresh is running (S19.2):
    # `Syncing`, no `refresh_now` while it runs.
    cid = "cin_whoop"
    d.connection(cid, "whoop", "WHOOP", source_kind="browser_collector")
    facts = _full_run_facts(d, cid, "whoop", 5, 48)
    surface = {"profile_key": f"whoop:{cid}", "status": "ready"}
    d.run(cid, "whoop", "run_whoop_1", started_hours_ago=48, facts=facts, surface=surface)
    d.run(cid, "whoop", "run_whoop_2", started_hours_ago=0.03, end=None, surface=surface)
    return cid


def _retry_gap_strava(d: _Demo) -> str:
    # A manual-only source whose missing details are due for a retry now (an eligible
    # gap, R55) and nothing will retry them by itself (S19.1): `retry_gap`.
    cid = "cin_strava"
    d.connection(cid, "strava", "Strava")
    facts = _full_run_facts(d, cid, "strava", 9, 2)
    d.run(cid, "strava", "run_strava_1", started_hours_ago=2, facts=facts)
    d.store.add_detail_gap(
        cid,
        "activities",
        gap_id="gap_strava_activities_1",
        reason="rate_limited",
        next_attempt_after=d.ago(minutes=10),
    )
    return cid


def _wait_groupme(d: _Demo) -> str:
    # The same kind of due gap on a scheduled automatic source: the next run retries it,
    # so the owner only waits (S19.1 with a schedule): `wait`.
    cid = "cin_groupme"
    d.connection(cid, "groupme", "GroupMe")
    facts = _full_run_facts(d, cid, "groupme", 6, 0.5)
    d.run(cid, "groupme", "run_groupme_1", started_hours_ago=0.5, facts=facts)
    d.store.set_schedule(cid, interval_seconds=3600)
    d.store.add_detail_gap(cid, "group_messages", gap_id="gap_groupme_messages_1", reason="timeout")
    return cid


def _question_takeout(d: _Demo) -> str:
    # The export is ready but part of it is missing, and the connector asks the owner to
    # download it (a relevant attention record, R54): `add_info`, and the missing part
    # waits on the owner (`awaiting_owner`, R61).
    cid = "cin_google_takeout"
    d.connection(cid, "google-takeout", "Google Takeout", source_kind="local_device")
    facts = _full_run_facts(d, cid, "google-takeout", 4, 3)
    d.run(cid, "google-takeout", "run_takeout_1", started_hours_ago=3, facts=facts)
    d.store.add_detail_gap(
        cid, "photos", gap_id="gap_takeout_photos_1", reason="archive_part_missing"
    )
    d.store.open_attention(
        cid,
        reason_code="archive_part_missing",
        attention_id="att_takeout_1",
        owner_action="operate_attachment",
        response_required=True,
        created_at=d.ago(hours=2),
    )
    return cid


def _draft_notion(d: _Demo) -> str:
    d.connection(DRAFT_ID, "notion", "Notion (setting up)", status="draft", days_old=0)
    return DRAFT_ID


_STEPS: tuple[Callable[[_Demo], str | list[str]], ...] = (
    _healthy_gmail,
    _assisted_refresh_gmail,
    _stale_github,
    _never_run_slack,
    _amazon_siblings,
    _surface_failed_heb,
    _reauth_chase,
    _cooling_gap_calendar,
    _terminal_gap_ynab,
    _attention_contacts,
    _paused_claude_code,
    _blocked_chatgpt,
    _cooling_off_codex,
    _refresh_due_usaa,
    _revoked_spotify,
    _unmeasured_oura,
    _first_run_apple_contacts,
    _syncing_whoop,
    _retry_gap_strava,
    _wait_groupme,
    _question_takeout,
    _draft_notion,
)


def build_demo_fleet(
    store: Store,
    now: datetime,
    *,
    on_step: Callable[[int, int, str], None] | None = None,
) -> list[str]:
    """Seed the demo fleet into a migrated, empty store; returns every connection id created.

    A connector already registered keeps its manifest: the demo registers only the
    bundled manifests that are missing, never overwriting one it did not create.
    `on_step(done, total, label)` reports progress after each step (for a progress bar).
    """
    now = to_utc(now, "now")
    for manifest in real_manifests().values():
        store.register_connector(manifest, replace=False)
    demo = _Demo(store, now)
    created: list[str] = []
    for n, step in enumerate(_STEPS, start=1):
        made = step(demo)
        created.extend([made] if isinstance(made, str) else made)
        if on_step is not None:
            on_step(n, len(_STEPS), created[-1])
    return created


def run_demo(
    dsn: str, as_json: bool = False, now: datetime | None = None, *, force: bool = False
) -> list[dict[str, Any]]:
    """Migrate, seed with progress on stderr, reconcile, then print the table (or JSON).

    Raises:
        InvalidInput: the database already holds connections and `force` is False (the
            demo fleet belongs in an empty database).
    """
    import json

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from . import connect
    from .render_table import print_summaries, stdout_console
    from .timeutil import now_utc

    at = now or now_utc()
    err = Console(stderr=True)
    with connect(dsn) as store:
        store.migrate()
        held = _connection_count(store)
        if held and not force:
            raise InvalidInput(
                f"the database already holds {held:,} connection(s); the demo builds its "
                "fleet in an empty database (pass --force to add it anyway: existing "
                "manifests are kept)"
            )
        columns = (
            TextColumn("seeding demo fleet"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
        )
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("", total=len(_STEPS))

            def step(done: int, total: int, label: str) -> None:
                progress.update(task, completed=done, description=label)

            build_demo_fleet(store, at, on_step=step)
        reconciled = store.reconcile()
        items = list(store.iter_connection_summaries(at))
    rows = [item.to_dict() for item in items]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        print_summaries(items, now=at)
        legend = LEGEND.format(listed=len(rows), now=iso(at)[:19] + "Z", reconciled=reconciled)
        stdout_console().print(legend)
    return rows


def _connection_count(store: Store) -> int:
    with store.database.session() as s:
        return int(s.execute("connection_count")[0]["connections"])


def resolvers(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The owner state resolver per connection id, as `EXPECTED_RESOLVERS` states them."""
    return {r["connection_id"]: r["owner_state"]["resolver"] for r in rows}


def verdicts(rows: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """(verdict label, required actions) per connection id, as `EXPECTED_VERDICTS` states them."""
    return {
        r["connection_id"]: (
            r["rendered_verdict"]["label"],
            tuple(r["rendered_verdict"]["required_actions"]),
        )
        for r in rows
    }


def tones(rows: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, str]]:
    """(health state, verdict tone) per connection id, as `EXPECTED` states them."""
    return {
        r["connection_id"]: (r["connection_health"]["state"], r["rendered_verdict"]["tone"])
        for r in rows
    }
