"""The console in a real browser: Playwright drives Debian's headless Chromium
(`/usr/bin/chromium`, no browser download) against a real `pyreference serve --demo`.

Any console error, uncaught page error, failed request or HTTP error response fails
the test. The test saves a screenshot of the fleet page; with
PYREFERENCE_UPDATE_SCREENSHOT=1 it also writes docs/console.png (the README's).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pyreference.demo import DRAFT_ID, EXPECTED
from tests.support.server import running_server

CHROMIUM = os.environ.get("PYREFERENCE_CHROMIUM", "/usr/bin/chromium")
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "console.png"

# WCAG 2 contrast ratio of the pill's text on its background, computed in the page.
CONTRAST_JS = """
el => {
  const rgb = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = c => {
    const [r, g, b] = rgb(c).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92
      : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const style = getComputedStyle(el);
  const [a, b] = [lum(style.color), lum(style.backgroundColor)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}
"""


class Problems:
    """Everything the page reported that counts as a failure."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def watch(self, page: Any) -> None:
        page.on("console", lambda m: m.type == "error" and self.items.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.items.append(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: self.items.append(f"failed: {r.url} {r.failure}"))
        page.on(
            "response",
            lambda r: r.status >= 400 and self.items.append(f"HTTP {r.status}: {r.url}"),
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server("--demo") as base:
        yield base


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, Problems]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = Problems()
    problems.watch(page)
    yield page, problems
    context.close()
    assert problems.items == []


def _table(page: Any) -> dict[str, dict[str, str]]:
    return page.eval_on_selector_all(
        "#fleet tbody tr",
        """rows => Object.fromEntries(rows.map(r => [r.dataset.connection, {
            label: r.querySelector('.pill').textContent.trim(),
            tone: r.querySelector('.pill').dataset.tone,
            next: r.querySelector('td.next').textContent.trim(),
        }]))""",
    )


def test_every_demo_state_is_visible_with_its_label(
    page: tuple[Any, Problems], server: str, tmp_path: Path
) -> None:
    tab, problems = page
    tab.goto(f"{server}/")
    tab.wait_for_selector("#fleet tbody tr")
    shown = _table(tab)
    api = httpx.get(f"{server}/v1/connections", params={"limit": 1000}).json()["items"]
    assert set(shown) == {i["connection_id"] for i in api} == set(EXPECTED) - {DRAFT_ID}
    for item in api:
        row = shown[item["connection_id"]]
        assert row["label"] == item["rendered_verdict"]["label"], item["connection_id"]
        assert row["tone"] == item["rendered_verdict"]["tone"] == EXPECTED[item["connection_id"]][1]
        assert row["next"] and "_" not in row["next"]
    for pill in tab.query_selector_all(".pill"):
        assert pill.is_visible()
        assert pill.evaluate(CONTRAST_JS) >= 4.5  # WCAG AA for its text
    shot = tmp_path / "console.png"
    tab.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("PYREFERENCE_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_SCREENSHOT)
    assert problems.items == []


def test_paging_forward_and_back(page: tuple[Any, Problems], server: str) -> None:
    tab, _ = page
    tab.goto(f"{server}/?limit=4")
    pages = [list(_table(tab))]
    while tab.query_selector("a[rel=next]"):
        tab.click("a[rel=next]")
        pages.append(list(_table(tab)))
    assert len(pages) >= 4 and all(len(p) == 4 for p in pages[:-1])
    assert len({cid for p in pages for cid in p}) == sum(len(p) for p in pages)
    assert tab.text_content("#page-status") == f"Page {len(pages)}"
    back = []
    while tab.query_selector("a[rel=prev]"):
        tab.click("a[rel=prev]")
        back.append(list(_table(tab)))
    assert back == pages[-2::-1]
    assert tab.text_content("#page-status") == "Page 1"


def test_filter_by_connector_with_the_keyboard(page: tuple[Any, Problems], server: str) -> None:
    tab, _ = page
    tab.goto(f"{server}/")
    assert tab.get_by_label("Connector").is_visible()  # the select has a label
    tab.focus("#connector")
    tab.select_option("#connector", "amazon")
    tab.keyboard.press("Tab")  # to the Show button
    assert tab.evaluate("document.activeElement.textContent") == "Show"
    tab.keyboard.press("Enter")
    tab.wait_for_url("**/?connector=amazon")
    assert set(_table(tab)) == {"cin_amazon_household", "cin_amazon_personal"}
    assert tab.text_content("h1") == "Connections: Amazon"


def test_detail_page_shows_diagnostics(page: tuple[Any, Problems], server: str) -> None:
    tab, _ = page
    tab.goto(f"{server}/")
    tab.click("tr[data-connection=cin_heb] a")
    tab.wait_for_url("**/connections/cin_heb")
    assert "H-E-B" in tab.text_content("h1")
    assert tab.text_content("#next-step") == "Next step: Open the site and enter the one-time code"
    runs = tab.text_content("table[aria-labelledby=runs]")
    assert "run_heb_2" in runs and "the site asked for a one-time code" in runs
    assert "waiting" in tab.text_content("table[aria-labelledby=surface]")
    tab.go_back()
    tab.click("tr[data-connection=cin_google_calendar] a")
    gaps = tab.text_content("table[aria-labelledby=gaps]")
    assert "events" in gaps and "the service asked to slow down" in gaps and "in " in gaps
    tab.goto(f"{server}/connections/cin_google_contacts")
    assert "the permission to read this account expired" in tab.text_content(
        "table[aria-labelledby=attention]"
    )
