"""Every page at a laptop's 1280x800 and a phone's 390x844 in Chromium: nothing scrolls
sideways (``scrollWidth ≤ innerWidth``), the controls the flow needs are on screen without
scrolling, axe stays clean; a screenshot of each lands in the CI artifacts."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from server.auth import COOKIE_NAME
from tests.conftest import Account
from tests.services import ROOT
from tests.web.conftest import Classroom, open_page, screenshot
from tests.web.test_accessibility import AXE, violations

pytestmark = pytest.mark.chromium
DATABASES = ("sqlite",)

VIEWPORTS: dict[str, dict[str, int]] = {
    "laptop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
COURSE = ROOT / "examples" / "course"


_DUE = re.compile(r"^due = .*$", re.MULTILINE)


def course_archive(due_in: timedelta | None = None) -> bytes:
    """examples/course zipped; ``due_in``: every exercise's due date that far from now
    instead of the fixed day the example names (which the clock passes one day)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(COURSE.rglob("*")):
            if not path.is_file():
                continue
            name = str(path.relative_to(COURSE))
            if due_in is not None and path.suffix == ".toml":
                due = (datetime.now(UTC) + due_in).strftime("%Y-%m-%dT%H:%M:%SZ")
                archive.writestr(name, _DUE.sub(f"due = {due}", path.read_text()))
            else:
                archive.write(path, name)
    return buffer.getvalue()


async def import_course(classroom: Classroom, due_in: timedelta | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=classroom.server.url, timeout=30) as http:
        response = await http.post(
            f"/api/classrooms/{classroom.classroom['id']}/course",
            content=course_archive(due_in),
            headers={**classroom.teacher.headers, "content-type": "application/zip"},
        )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


async def context_for(
    browser: Browser, classroom: Classroom, account: Account | None, viewport: str
) -> BrowserContext:
    context = await browser.new_context(viewport=VIEWPORTS[viewport], bypass_csp=True)  # type: ignore[arg-type]
    if account is not None:
        await context.add_cookies(
            [
                {
                    "name": COOKIE_NAME,
                    "value": account.token,
                    "url": classroom.server.url,
                    "httpOnly": True,
                }
            ]
        )
    return context


async def fits(page: Page) -> None:
    """Nothing on the page is wider than the window."""
    scroll, inner = await page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    if scroll > inner:
        wide = await page.evaluate(
            """(inner) => [...document.querySelectorAll("body *")]
                .filter((el) => el.getBoundingClientRect().right > inner + 1)
                .filter((el) => !el.closest(".table-scroll, .cm-editor, .terminal"))
                .slice(0, 5).map((el) => el.tagName + "." + el.className + "#" + el.id)""",
            inner,
        )
        pytest.fail(f"{page.url}: {scroll} px wide in a {inner} px window: {wide}")


async def on_screen(*locators: Locator) -> None:
    for locator in locators:
        await expect(locator).to_be_in_viewport(ratio=1)


async def axe_clean(page: Page) -> None:
    if not AXE.exists():
        pytest.fail("web/node_modules/axe-core missing: run `npm ci` in web/")
    assert await violations(page) == [], page.url


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_public_pages(browser: Browser, classroom: Classroom, viewport: str) -> None:
    context = await context_for(browser, classroom, None, viewport)
    page = await open_page(context, classroom.url("/"))
    await fits(page)
    await on_screen(page.get_by_label("Join code"), page.get_by_role("button", name="Join"))
    await screenshot(page, f"layout-join-{viewport}")
    page = await open_page(context, classroom.url("/login"))
    await fits(page)
    await on_screen(page.get_by_role("button", name="Sign in"))
    await screenshot(page, f"layout-login-{viewport}")
    # The error page, and the gradebook refused to a student.
    student = await context_for(browser, classroom, classroom.alice, viewport)
    for path in ("/rooms/9999", f"/classrooms/{classroom.classroom['id']}/gradebook"):
        refused = await student.new_page()
        response = await refused.goto(classroom.url(path))
        assert response is not None and response.status in (403, 404)
        await expect(refused.get_by_role("alert")).to_be_visible()
        await fits(refused)
    await screenshot(refused, f"layout-error-{viewport}")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.bwrap
async def test_room_for_a_student(browser: Browser, classroom: Classroom, viewport: str) -> None:
    await import_course(classroom)
    context = await context_for(browser, classroom, classroom.alice, viewport)
    page = await open_page(context, classroom.url(f"/rooms/{classroom.room_id}"))
    await expect(page.locator("#events-status")).to_have_text("Room: live")
    await page.get_by_label("Choose").select_option(label="FizzBuzz as a function")
    await expect(page.get_by_test_id("doc-name")).to_have_text("fizzbuzz.py")
    await fits(page)
    # The task, the file, Run and Submit on the first screen; the editor starts on it too.
    await on_screen(
        page.get_by_test_id("exercise-prompt").locator("p").first,
        page.get_by_test_id("doc-name"),
        page.get_by_role("button", name="Run"),
        page.get_by_role("button", name="Submit"),
    )
    await expect(page.get_by_test_id("editor")).to_be_in_viewport()
    # After Run the output is on screen.
    await page.get_by_role("button", name="Run").click()
    await expect(page.locator(".run-status")).to_have_text(re.compile("^Finished"), timeout=20_000)
    await on_screen(page.locator(".run-status"))
    await fits(page)
    await screenshot(page, f"layout-room-student-{viewport}")
    await axe_clean(page)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_room_and_dashboard_for_the_teacher(
    browser: Browser, classroom: Classroom, viewport: str
) -> None:
    await import_course(classroom)
    alice = await open_page(
        await context_for(browser, classroom, classroom.alice, "laptop"),
        classroom.url(f"/rooms/{classroom.room_id}"),
    )
    await expect(alice.locator("#events-status")).to_have_text("Room: live")
    await alice.get_by_test_id("editor").locator(".cm-content").click()
    await alice.keyboard.type("print('a line long enough to need wrapping on a phone: ' * 3)")

    context = await context_for(browser, classroom, classroom.teacher, viewport)
    dashboard = await open_page(context, classroom.url("/dashboard"))
    await fits(dashboard)
    await expect(dashboard.get_by_test_id("course")).to_contain_text("FizzBuzz as a function")
    await screenshot(dashboard, f"layout-dashboard-{viewport}")

    live = await open_page(context, classroom.url(f"/dashboard?room={classroom.room_id}"))
    bar = live.get_by_test_id("lesson-bar")
    await expect(live.locator("#live-status")).to_have_text("live")
    await expect(live.locator("li.tile")).to_have_count(1, timeout=15_000)
    await fits(live)
    await expect(bar.get_by_test_id("bar-join-code")).to_have_text(classroom.classroom["join_code"])
    await on_screen(
        bar.get_by_role("button", name="Start"),
        bar.get_by_role("button", name=re.compile("^Open live: ")),
    )
    # The lesson bar stays on top while the page scrolls under it.
    await live.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    await expect(bar).to_be_in_viewport()
    await live.evaluate("window.scrollTo(0, 0)")
    await screenshot(live, f"layout-dashboard-live-{viewport}")
    await axe_clean(live)

    room = await open_page(context, classroom.url(f"/rooms/{classroom.room_id}"))
    await expect(room.locator("#events-status")).to_have_text("Room: live")
    await fits(room)
    await on_screen(room.get_by_role("button", name="Run"))
    await screenshot(room, f"layout-room-teacher-{viewport}")

    book = await open_page(
        context, classroom.url(f"/classrooms/{classroom.classroom['id']}/gradebook")
    )
    await expect(book.get_by_test_id("gradebook").locator("table")).to_be_visible()
    await fits(book)
    await on_screen(book.get_by_role("link", name="Export CSV"))
    await screenshot(book, f"layout-gradebook-{viewport}")
    await axe_clean(book)
