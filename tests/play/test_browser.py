"""The play page in a real browser: Playwright driving Debian's Chromium (no browser download;
`.ci/run` installs chromium). A missing chromium skips these tests on a workstation and fails
them under CI (env CI set).

Each test starts its own play server (in a thread with its own event loop: Playwright's sync
API owns the test's thread) and its own browser, and closes both.
"""

from __future__ import annotations

import asyncio
import base64
import queue
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dns.message
import dns.query
import pytest

from fake_dns.testing import require_tool
from reproducer.play.server import make_app, serve
from reproducer.world.config import Config

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "reports" / "play.png"
SECOND_ACT_SCREENSHOT = ROOT / "reports" / "second-act-play.png"
STORY = "p111pp222222211122"  # the outage's shortest story, as in test_play_api
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 30_000  # a generous bound for any condition the page must reach


def names(keys: str) -> list[str]:
    return ["planner" if k == "p" else f"enactor-{k}" for k in keys]


@contextmanager
def play_server(free: Config) -> Iterator[str]:
    """`reproducer play`'s server on 127.0.0.1:0 in a thread; yields its URL."""
    urls: queue.Queue[str] = queue.Queue()
    loop = asyncio.new_event_loop()
    task: asyncio.Task[None] | None = None

    def run() -> None:
        nonlocal task
        task = loop.create_task(serve(make_app(free), 0, urls.put))
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="play-server")
    thread.start()
    try:
        yield urls.get(timeout=WAIT_MS / 1000)
    finally:
        loop.call_soon_threadsafe(lambda: task.cancel() if task else None)
        thread.join(timeout=WAIT_MS / 1000)
        assert not thread.is_alive(), "the play server did not stop"


@contextmanager
def browser_page() -> Iterator[Page]:
    chromium = require_tool("chromium", "chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(WAIT_MS)
            yield page
        finally:
            browser.close()


def wait_for_move(page: Page, n: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('#history li').length === {n}")
    page.wait_for_selector(f"#clock:has-text('move {n}')")


def click_moves(page: Page, keys: str, done: int = 0) -> None:
    for n, worker in enumerate(names(keys), start=done + 1):
        page.click(f".lane.ready[data-worker='{worker}']")
        wait_for_move(page, n)


def distinct_colours(page: Page, png: bytes) -> int:
    """Distinct colours in a PNG, counted by the browser itself (no image library here)."""
    data = base64.b64encode(png).decode()
    count: int = page.evaluate("""async (data) => {
        const img = new Image();
        img.src = "data:image/png;base64," + data;
        await img.decode();
        const canvas = document.createElement("canvas");
        canvas.width = img.width; canvas.height = img.height;
        const ctx = canvas.getContext("2d");
        ctx.drawImage(img, 0, 0);
        const px = ctx.getImageData(0, 0, img.width, img.height).data;
        const seen = new Set();
        for (let i = 0; i < px.length; i += 4 * 7) {
            seen.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
        }
        return seen.size;
    }""", data)
    return count


def test_a_learner_plays_the_outage_by_clicks_and_sees_the_record_emptied() -> None:
    with play_server(Config()) as url, browser_page() as page:
        page.goto(url)  # a first visit starts the first challenge
        page.wait_for_selector("#goal:has-text('Empty the record')")
        click_moves(page, STORY)
        empty = page.locator("#endpoints .card.empty")
        assert "NOERROR — no address: the record is empty" in empty.inner_text()
        banner = page.locator("#banner.bad").inner_text()
        assert banner.startswith("invariant 1 broken at step 18 on dynamodb: every endpoint "
                                 "resolves to at least one address")
        assert page.locator("#invariants li.broken").inner_text().startswith("1. every endpoint")
        assert page.locator("#last-answer").inner_text() == "NOERROR"
        # the page shows what the world's DNS server answers: ask it ourselves
        dig = page.locator("#dig code").inner_text()
        match = re.fullmatch(r"dig @(\S+) -p (\d+) (\S+) A", dig)
        assert match is not None, dig
        query = dns.message.make_query(match[3], "A")
        answer = dns.query.udp(query, match[1], port=int(match[2]), timeout=5)
        assert [rr.rdtype for rr in answer.answer] == [dns.rdatatype.CNAME]  # no A record
        assert page.locator("#challenge-list .done").count() == 1
        assert page.locator("#lesson").inner_text().startswith("Done in 18 moves.")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        png = page.screenshot(path=str(SCREENSHOT), full_page=True)
        assert distinct_colours(page, png) >= 8, "the screenshot looks blank"


def test_undo_and_a_shared_link_restore_the_game_and_a_bad_link_says_why() -> None:
    with play_server(Config()) as url, browser_page() as page:
        page.goto(url + "#c=empty-the-record")
        page.wait_for_selector(".lane.ready")
        for n, key in enumerate("p111p", start=1):  # keyboard only
            page.keyboard.press(key)
            wait_for_move(page, n)
        page.keyboard.press("u")
        wait_for_move(page, 4)
        assert page.url.endswith("#c=empty-the-record&m=p111")
        shared = page.url
        before = page.locator("#lanes").inner_text()
        page.goto("about:blank")
        page.goto(shared)
        wait_for_move(page, 4)
        assert page.locator("#lanes").inner_text() == before
        page.goto(url + "#c=cas-flip&m=p3")  # cas-flip's world has two enactors
        page.wait_for_selector("#message:has-text('no worker')")
        assert "move 2 of the position (enactor-3) cannot be made" in \
            page.locator("#message").inner_text()
        wait_for_move(page, 0)
        assert page.url.endswith("#c=cas-flip&m=")


def test_the_guide_gives_the_distance_and_its_hints_lead_to_the_violation() -> None:
    with play_server(Config(enactors=2, invariants=(1,))) as url, browser_page() as page:
        page.goto(url + "#c=free")
        page.wait_for_selector(".lane.ready")
        page.keyboard.press("g")
        page.wait_for_selector("#guide:has-text('in 18 more moves')")
        assert page.locator("#guide").inner_text() == \
            "Guide: From here the record can be emptied in 18 more moves."
        for n in range(1, 19):
            page.keyboard.press("h")
            hinted = page.locator(".lane.hinted")
            hinted.wait_for()
            hinted.click()
            wait_for_move(page, n)
        assert page.locator("#banner.bad").inner_text().startswith("invariant 1 broken at step 18")
        page.keyboard.press("g")
        page.wait_for_selector("#guide:has-text('Already broken.')")


def verdict(page: Page, recovered: bool) -> str:
    banner = page.locator(f"#verdict[data-recovered='{str(recovered).lower()}']")
    banner.wait_for()
    return banner.inner_text()


def test_on_the_second_acts_page_a_learner_sees_the_fleet_collapse_and_the_fix_recover() -> None:
    with play_server(Config()) as url, browser_page() as page:
        page.goto(url)
        page.click("a[href='/second-act']")
        page.wait_for_selector("#chart svg")
        # The default: the outage at the project's scale, under the policy that collapses.
        assert verdict(page, False).startswith("Collapsed: DNS is healthy, the fleet is not. "
                                               "Goodput 0.0 leases/s")
        assert int(page.locator("#queue-at-end").inner_text()) > 3000
        assert page.locator("#chart svg text", has_text="DNS repaired").count() == 1
        page.click("#policies label[data-policy='admission']")
        assert "Every lease held again 3.00 s after the repair" in verdict(page, True)
        assert page.url.endswith("#policy=admission&hosts=200&outage=3")
        # The tempting fix, from the presets; then a cell of its map, to the small side.
        page.click("[data-preset='backoff,240,3']")
        verdict(page, False)
        page.wait_for_selector("#map-policy:has-text('backoff')")
        cell = page.locator("#boundary td[data-outage='6'][data-hosts='80']")
        cell.wait_for()
        cell.click()
        verdict(page, True)
        assert page.locator("#boundary td.chosen").get_attribute("data-hosts") == "80"
        assert page.locator("#boundary td.collapsed").count() > 0
        # The keyboard moves the sliders; a longer outage of a big fleet collapses again.
        page.click("#policies label[data-policy='collapsing']")
        page.focus("#hosts")
        for _ in range(16):  # 80 -> 240 hosts, 10 a step
            page.keyboard.press("ArrowRight")
        page.wait_for_selector("#hosts-value:has-text('240')")
        verdict(page, False)
        SECOND_ACT_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        png = page.screenshot(path=str(SECOND_ACT_SCREENSHOT), full_page=True)
        assert distinct_colours(page, png) >= 8, "the screenshot looks blank"
