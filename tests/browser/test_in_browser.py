"""GraphiQL and the dashboard in a real browser: Debian's Chromium, headless, driven by
Playwright (never a downloaded browser). Run by `make test-browser`, left out of `make test`.

The app runs in this process (uvicorn) on the test session's database, loaded as `make run`
loads it (cli.prepare_demo: 400 demo applications, metrics computed). Every request the
browser makes to another host is aborted and fails the test; so does any console error.
Screenshots go to BROWSER_SCREENSHOTS (default .data/screenshots).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from conftest import ROOT, build_app
from factories import create_account, create_key
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from linkinsights.cli import prepare_demo

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS", ROOT / ".data" / "screenshots"))
# Flags of a headless Chromium on a machine without internet access: no background
# connections (updates, sync, safe browsing) that would be refused at every start.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PANELS = ["summary", "trends", "links", "timing", "priority", "recommendations", "account"]
WAIT_MS = 30_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Served:
    base: str
    demo_key: str
    empty_key: str


@dataclass
class Watch:
    """What a page did that it must not: requests beyond the app, console errors."""

    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert self.outside == [], f"requests beyond the app: {self.outside}"
        assert self.errors == [], f"console errors: {self.errors}"


@pytest.fixture(scope="session")
def shots() -> Iterator[Path]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield SHOTS
    print(f"\nscreenshots: {SHOTS}")


@pytest.fixture(scope="session")
async def served(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Served]:
    demo_key = await prepare_demo(settings)
    empty_account = await create_account(sessionmaker, name="New job seeker", timezone="UTC")
    empty_key = await create_key(sessionmaker, empty_account, ("read", "write"))
    port = _free_port()
    app = build_app(settings.model_copy(update={"demo_api_key": demo_key}))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    yield Served(f"http://127.0.0.1:{port}", demo_key, empty_key)
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield b
        await b.close()


async def _context(browser: Browser, watch: Watch) -> BrowserContext:
    context = await browser.new_context(viewport={"width": 1440, "height": 1000})

    async def only_the_app(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith("data:") or host in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            watch.outside.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_the_app)
    return context


def _watch_page(page: Page, watch: Watch) -> None:
    page.on(
        "console",
        lambda m: watch.errors.append(m.text) if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: watch.errors.append(str(e)))


async def test_graphiql_runs_the_first_example_offline(
    served: Served, browser: Browser, shots: Path
) -> None:
    watch = Watch()
    context = await _context(browser, watch)
    page = await context.new_page()
    _watch_page(page, watch)

    response = await page.goto(f"{served.base}/graphql")
    assert response is not None
    assert "default-src 'none'" in (await response.header_value("content-security-policy") or "")

    # The demo key is in the headers pane, the worked examples in the tabs.
    headers = page.locator(".graphiql-editor-tool")
    await headers.get_by_text(served.demo_key[:12]).wait_for(timeout=WAIT_MS)
    for tab in ["TopApplications", "EngagementSummary", "LinkFunctionEffectiveness"]:
        await page.locator(".graphiql-tab", has_text=tab).first.wait_for(timeout=WAIT_MS)

    await page.locator(".graphiql-execute-button").click()
    result = page.locator(".result-window")
    await result.get_by_text('"totalCount": 400').wait_for(timeout=WAIT_MS)
    assert "engagementScore" in await result.inner_text()
    await page.screenshot(path=shots / "graphiql.png")

    # The explorer plugin opens on the schema's fields.
    await page.get_by_role("button", name="Show GraphiQL Explorer").click()
    plugin = page.locator(".graphiql-plugin")
    await plugin.get_by_text("engagementSummary", exact=True).wait_for(timeout=WAIT_MS)
    watch.check()
    await context.close()


async def _open_dashboard(page: Page, base: str) -> None:
    await page.goto(f"{base}/dashboard")


async def _panels_rendered(page: Page) -> None:
    await page.locator("body[data-ready=true]").wait_for(state="attached", timeout=WAIT_MS)
    for panel in PANELS:
        await page.locator(f"[data-panel={panel}]").wait_for(timeout=WAIT_MS)


async def test_dashboard_of_the_demo_account(served: Served, browser: Browser, shots: Path) -> None:
    watch = Watch()
    context = await _context(browser, watch)
    page = await context.new_page()
    _watch_page(page, watch)

    await _open_dashboard(page, served.base)
    await _panels_rendered(page)
    for chart in ["trend-chart", "link-chart", "timing-chart"]:
        assert await page.locator(f"#{chart}").count() == 1, chart
    assert await page.locator("[data-panel=summary] .tile .value").first.inner_text() == "400"
    assert await page.locator("[data-panel=account]").get_by_text("Demo job seeker").count()
    assert await page.locator("[data-panel=recommendations] li").count() > 0
    await page.screenshot(path=shots / "dashboard-demo.png", full_page=True)

    # "Done" completes the application's follow-up through completeFollowUp.
    done = page.locator("[data-panel=priority] button.done")
    before = await done.count()
    assert before > 0
    await done.first.click()
    await page.locator("[data-panel=priority] .done-mark").wait_for(timeout=WAIT_MS)
    assert await done.count() == before - 1

    # The key lives in the tab's session storage: not in the URL, not in a cookie.
    assert served.demo_key not in page.url
    assert await context.cookies() == []
    stored = await page.evaluate("() => Object.values(window.sessionStorage)")
    assert served.demo_key in stored
    assert await page.evaluate("() => Object.values(window.localStorage)") == []
    watch.check()
    await context.close()


async def test_dashboard_of_an_empty_account_and_its_settings(
    served: Served, browser: Browser, shots: Path
) -> None:
    watch = Watch()
    context = await _context(browser, watch)
    page = await context.new_page()
    _watch_page(page, watch)

    await _open_dashboard(page, served.base)
    await _panels_rendered(page)
    # Sign out of the demo account, sign in with the new account's key.
    await page.get_by_role("button", name="Sign out").click()
    await page.locator("#api-key").fill(served.empty_key)
    await page.get_by_role("button", name="Open dashboard").click()
    await page.locator(".who", has_text="New job seeker").wait_for(timeout=WAIT_MS)
    await _panels_rendered(page)
    assert await page.locator("canvas").count() == 0
    assert await page.locator(".empty").count() >= 4
    assert await page.locator("[data-panel=summary] .tile .value").first.inner_text() == "0"

    # Settings, edited through updateAccount and read back through viewer.
    await page.get_by_role("button", name="Edit settings").click()
    await page.locator("#tz").fill("Europe/Berlin")
    await page.get_by_role("button", name="+ add a link").click()
    await page.locator(".link-row .fn").last.fill("LinkedIn")
    await page.locator(".link-row .url").last.fill("https://www.linkedin.com/in/new-seeker")
    await page.get_by_role("button", name="Save").click()
    account = page.locator("[data-panel=account]")
    await account.get_by_text("Europe/Berlin").wait_for(timeout=WAIT_MS)
    await account.get_by_text("https://www.linkedin.com/in/new-seeker").wait_for(timeout=WAIT_MS)
    await page.screenshot(path=shots / "dashboard-empty.png", full_page=True)
    watch.check()
    await context.close()


async def test_a_wrong_key_is_refused_at_the_door(served: Served, browser: Browser) -> None:
    watch = Watch()
    context = await _context(browser, watch)
    page = await context.new_page()
    await _open_dashboard(page, served.base)
    await _panels_rendered(page)
    await page.get_by_role("button", name="Sign out").click()
    await page.locator("#api-key").fill(f"li_{uuid.uuid4().hex[:8]}_nope")
    await page.get_by_role("button", name="Open dashboard").click()
    await (
        page.get_by_role("alert")
        .get_by_text(re.compile("unknown or revoked"))
        .wait_for(timeout=WAIT_MS)
    )
    assert await page.evaluate("() => Object.values(window.sessionStorage)") == []
    assert watch.outside == []
    await context.close()
