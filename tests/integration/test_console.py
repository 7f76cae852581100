"""The console's HTML on the demo fleet, on both backends (the browser test drives it too)."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest

import pyreference
from pyreference import words
from pyreference.demo import DRAFT_ID, build_demo_fleet
from pyreference.timeutil import now_utc
from tests.integration.test_http_api import serve, target_of


@pytest.fixture
def fleet(store: pyreference.Store) -> pyreference.Store:
    build_demo_fleet(store, now_utc())  # the console reads at the server's clock
    store.reconcile()
    return store


def _rows(page: str) -> dict[str, dict[str, str]]:
    """Table rows by connection id: each cell's text, and the pill's tone."""
    out = {}
    for cid, body in re.findall(r'<tr data-connection="([^"]+)">(.*?)</tr>', page, re.S):
        cells = [
            html.unescape(re.sub(r"<[^>]+>", " ", c)).split()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)
        ]
        tone = re.search(r'data-tone="(\w+)"', body)
        out[cid] = {
            "name": " ".join(cells[0]),
            "label": " ".join(cells[2]),
            "tone": tone.group(1) if tone else "",
            "freshness": " ".join(cells[3]),
            "records": " ".join(cells[4]),
            "last_run": " ".join(cells[5]),
            "next": " ".join(cells[6]),
        }
    return out


def test_fleet_page_shows_every_listed_connection_in_words(
    fleet: pyreference.Store, request: Any
) -> None:
    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/")

    r = serve(target_of(fleet, request), scenario)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<script" not in r.text  # works without JavaScript
    rows = _rows(r.text)
    now = now_utc()
    summaries = {s.connection_id: s for s in fleet.iter_connection_summaries(now)}
    assert set(rows) == set(summaries) and DRAFT_ID not in rows
    for cid, summary in summaries.items():
        shown = rows[cid]
        assert shown["label"] == summary.rendered_verdict.label
        assert shown["tone"] == summary.rendered_verdict.tone
        assert shown["next"] == words.next_step(summary)
        assert shown["records"] == words.records(summary)
        assert "_" not in shown["next"] and "_" not in shown["last_run"]  # no identifiers
    assert (
        rows["cin_chase"]["last_run"].startswith("Failed")
        and "sign-in" in rows["cin_chase"]["last_run"]
    )
    # an expired OAuth grant: the verdict asks `reauth` first (R58), so does the next step
    assert rows["cin_google_contacts"]["next"] == "Sign in again"
    assert rows["cin_claude_code"]["next"] == "Turn the schedule back on"
    assert rows["cin_slack"]["freshness"] == "never updated"
    assert rows["cin_github"]["freshness"].startswith("stale for")
    assert rows["cin_gmail_work"]["freshness"].startswith("updated")


def test_paging_forward_and_back_and_filter(fleet: pyreference.Store, request: Any) -> None:
    async def scenario(client: httpx.AsyncClient) -> tuple[list[list[str]], list[list[str]], Any]:
        forward, backward = [], []
        url: str | None = "/?limit=4"
        while url:
            page = (await client.get(url)).text
            forward.append(list(_rows(page)))
            nxt = re.search(r'<a href="([^"]+)" rel="next"', page)
            url = html.unescape(nxt.group(1)) if nxt else None
            last = page
        url = None
        prev = re.search(r'<a href="([^"]+)" rel="prev"', last)
        while prev:
            page = (await client.get(html.unescape(prev.group(1)))).text
            backward.append(list(_rows(page)))
            prev = re.search(r'<a href="([^"]+)" rel="prev"', page)
        amazon = (await client.get("/?connector=amazon")).text
        return forward, backward, amazon

    forward, backward, amazon = serve(target_of(fleet, request), scenario)
    listed = [s.connection_id for s in fleet.iter_connection_summaries()]
    assert [cid for page in forward for cid in page] == listed
    assert all(len(p) == 4 for p in forward[:-1])
    assert backward == forward[-2::-1]  # back through every page to the first
    assert set(_rows(amazon)) == {"cin_amazon_household", "cin_amazon_personal"}
    assert '<option value="amazon" selected>' in amazon


def test_detail_page_and_errors(fleet: pyreference.Store, request: Any) -> None:
    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.get("/connections/cin_heb"),
            await client.get("/connections/cin_ynab"),
            await client.get("/connections/nobody"),
            await client.get("/?cursor=forged"),
        ]

    heb, ynab, missing, forged = serve(target_of(fleet, request), scenario)
    assert heb.status_code == 200
    text = html.unescape(heb.text)
    assert "Open the site and enter the one-time code" in text
    assert "the site asked for a one-time code" in text and "run_heb_2" in text
    assert "Browser sign-in history" in text
    assert "<dt>Health</dt><dd>degraded</dd>" in text  # `words.health`, as in the CLI table
    assert ynab.status_code == 200 and "Report it: the connector needs a fix" in ynab.text
    assert missing.status_code == 404 and "No such connection" in missing.text
    assert forged.status_code == 400 and "not valid" in forged.text
    for r in (missing, forged):
        assert r.headers["content-type"].startswith("text/html") and "Traceback" not in r.text


def test_every_console_error_is_a_page(fleet: pyreference.Store, request: Any) -> None:
    """Bad parameters and unknown routes under the console answer people with HTML
    (found by the issue 16 review: `/?limit=0` answered application/problem+json)."""

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.get("/", params={"limit": 0}),
            await client.get("/", params={"limit": "abc"}),
            await client.get("/", params={"connector": "\x00"}),
            await client.post("/"),
            await client.get("/connections/cin_heb/nothing-here"),
        ]

    responses = serve(target_of(fleet, request), scenario)
    assert [r.status_code for r in responses] == [400, 400, 400, 405, 404]
    for r in responses:
        assert r.headers["content-type"].startswith("text/html"), r.text
        assert "Back to all connections" in r.text and "Traceback" not in r.text
    assert "GET" in responses[3].headers["allow"]


def _text(page: str) -> str:
    """A page's visible text (no style sheet, no tags)."""
    page = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# R19/R54: every owner action of the original vocabulary and the demo's, plus two unknown.
OWNER_ACTIONS = [
    "none",
    "act_elsewhere",
    "provide_value",
    "operate_attachment",
    "reauthorize",
    "confirm_identity",
    "enter_otp",
    "wave_flag",
    "scan-the-code",
]


def test_attention_owner_actions_reach_the_pages_only_as_words(
    store: pyreference.Store, request: Any
) -> None:
    """Review of #14, F3: S19.3's `provide_value` (and every other owner action) is shown in
    words on the connection page and the fleet row; an unknown one is humanized."""
    from tests.support.semantics import ACME, ASSI, D, H, World

    World(store, ASSI).ok("r1", -2 * D)  # S19.3: credentials fail, reauth first
    plain = World(store, ACME, *[f"k{n}" for n in range(len(OWNER_ACTIONS))])
    for n, action in enumerate(OWNER_ACTIONS):
        plain.ok(f"r{n}", -H, cid=f"k{n}")
        store.open_attention(
            f"k{n}", reason_code="needs_input", owner_action=action, response_required=True
        )
    store.open_attention("c1", reason_code="credential_expired", owner_action="provide_value")
    store.reconcile()
    pages = ["/connections/c1", *(f"/connections/k{n}" for n in range(len(OWNER_ACTIONS))), "/"]

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.get(p) for p in pages]

    responses = serve(target_of(store, request), scenario)
    assert [r.status_code for r in responses] == [200] * len(pages)
    texts = [_text(r.text) for r in responses]
    identifiers = [a for a in OWNER_ACTIONS if a != "none"]  # "none" is also a word
    for action in [*identifiers, "credential_expired", "needs_input"]:
        for page, text in zip(pages, texts, strict=True):
            assert not re.search(rf"\b{re.escape(action)}\b", text), (action, page)
    assert words.OWNER_ACTIONS["provide_value"] in texts[0]  # c1's questions table
    assert "Wave flag" in texts[-1] and "Scan the code" in texts[-1]  # fleet next steps
    for n, action in enumerate(OWNER_ACTIONS):
        if action in words.OWNER_ACTIONS and action != "none":
            assert words.OWNER_ACTIONS[action] in texts[n + 1], action


def test_the_next_step_follows_the_verdicts_action_order(
    store: pyreference.Store, request: Any
) -> None:
    """Review of #14, F4 (R19 step 3, R58, S19.3): a credential attention gives actions
    ["reauth", "refresh_now"] and no add_info; the fleet row and the connection page say
    "Sign in again", not the attention's ask."""
    from tests.support.semantics import ASSI, D, T, World

    World(store, ASSI).ok("r1", -2 * D)
    store.open_attention("c1", reason_code="credential_expired", owner_action="provide_value")
    store.reconcile()
    summary = store.get_connection_summary("c1", now=T)
    assert summary is not None
    assert summary.rendered_verdict.required_actions == ("reauth", "refresh_now")
    assert summary.next_action is not None
    assert words.next_step(summary) == words.ACTIONS["reauth"] == "Sign in again"

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        return await client.get("/"), await client.get("/connections/c1")

    fleet_page, page = serve(target_of(store, request), scenario)
    assert _rows(fleet_page.text)["c1"]["next"] == "Sign in again"
    assert "Next step: Sign in again" in _text(page.text)
