"""Browser fixtures: Debian's Chromium driven by Playwright (never a downloaded browser), a
live server on 127.0.0.1, and a classroom with an instructor and two students.

Every test here needs ``require("chromium")``; the module-level ``pytestmark`` of each test
file marks it ``chromium`` so ``-m "not chromium"`` leaves them out.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from server.auth import COOKIE_NAME
from server.settings import Settings
from server.store import Store
from tests.conftest import Account, LiveServer, create_instructor, serve_in_thread
from tests.services import CHROMIUM, ROOT, require

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 900}
# A loaded CI machine (two cores, Docker builds alongside) is slower than a laptop.
expect.set_options(timeout=10_000)
SCREENSHOTS = (
    Path(os.environ.get("CLASSROOM_TEST_ARTIFACTS", ROOT / "ci-artifacts")) / "screenshots"
)


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    require("chromium")
    yield from serve_in_thread(settings)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    require("chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Classroom:
    """A classroom with one room on a live server: its instructor and two students."""

    server: LiveServer
    classroom: dict[str, Any]
    room: dict[str, Any]
    teacher: Account
    alice: Account
    bob: Account

    @property
    def room_id(self) -> int:
        value: int = self.room["id"]
        return value

    def url(self, path: str) -> str:
        return f"{self.server.url}{path}"


@pytest.fixture
async def classroom(live: LiveServer) -> AsyncIterator[Classroom]:
    # The server's store belongs to the server thread's loop; this test's loop opens its own.
    store = Store(live.settings.database_url)
    try:
        teacher = await create_instructor(store, live.state)
    finally:
        await store.close()
    async with httpx.AsyncClient(base_url=live.url) as http:
        made = await http.post("/api/classrooms", json={"title": "CS 101"}, headers=teacher.headers)
        classroom = made.json()
        room = await http.post(
            f"/api/classrooms/{classroom['id']}/rooms",
            json={"title": "Lesson 1", "kind": "lesson"},
            headers=teacher.headers,
        )
        accounts = []
        for name in ("Alice", "Bob"):
            joined = (
                await http.post(
                    "/api/join", json={"join_code": classroom["join_code"], "name": name}
                )
            ).json()
            accounts.append(Account(joined["user"]["id"], name, joined["token"]))
    yield Classroom(live, classroom, room.json(), teacher, accounts[0], accounts[1])


async def signed_in(
    browser: Browser, server: LiveServer, account: Account, *, bypass_csp: bool = False
) -> BrowserContext:
    """A fresh browser context (its own cookies and storage) signed in as ``account``."""
    context = await browser.new_context(viewport=VIEWPORT, bypass_csp=bypass_csp)  # type: ignore[arg-type]
    await context.add_cookies(
        [{"name": COOKIE_NAME, "value": account.token, "url": server.url, "httpOnly": True}]
    )
    return context


async def open_page(context: BrowserContext, url: str) -> Page:
    """Open ``url`` and wait until the page's script has started (body[data-ready])."""
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    await page.goto(url)
    await page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    assert not errors, errors  # no uncaught exception, no failed request while starting
    return page


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
