"""Every page checked by axe-core (WCAG 2 A and AA rules) in Chromium: no serious or critical
violation, with the room live (a demo step, output, a raised hand) and the dashboard live."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.services import ROOT
from tests.web.conftest import VIEWPORT, Classroom, open_page, signed_in

pytestmark = pytest.mark.chromium
DATABASES = ("sqlite",)

AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"


async def violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical WCAG 2 A/AA violations on the page, as axe reports them."""
    await page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => {
            const result = await axe.run(document, {
                runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
            });
            return result.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                               nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
        }"""
    )
    return found


@pytest.mark.parametrize("path", ["/", "/login"])
async def test_public_pages(browser: Browser, classroom: Classroom, path: str) -> None:
    if not AXE.exists():
        pytest.fail("web/node_modules/axe-core missing: run `npm ci` in web/")
    # The page's policy allows only its own scripts; axe is added by the test.
    context = await browser.new_context(viewport=VIEWPORT, bypass_csp=True)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(classroom.url(path))
    assert await violations(page) == []


@pytest.mark.bwrap
async def test_room_and_dashboard_pages(browser: Browser, classroom: Classroom) -> None:
    if not AXE.exists():
        pytest.fail("web/node_modules/axe-core missing: run `npm ci` in web/")
    teacher_ctx = await signed_in(browser, classroom.server, classroom.teacher, bypass_csp=True)
    alice_ctx = await signed_in(browser, classroom.server, classroom.alice, bypass_csp=True)
    alice = await open_page(alice_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    await expect(alice.locator("#events-status")).to_have_text("Room: live")
    await alice.get_by_test_id("editor").locator(".cm-content").click()
    await alice.keyboard.type("print('hi')")
    await alice.get_by_role("button", name="Raise hand").click()
    await alice.get_by_role("button", name="Run").click()
    await expect(alice.locator(".run-status")).to_have_text(re.compile("^Finished"), timeout=20_000)
    dashboard = await open_page(teacher_ctx, classroom.url(f"/dashboard?room={classroom.room_id}"))
    await expect(dashboard.get_by_test_id("hands")).to_contain_text("Alice")
    room = await open_page(teacher_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    for page in (alice, dashboard, room):
        assert await violations(page) == [], page.url
