"""The instructor dashboard in a real browser: classrooms and rooms made from the page, the
join code for the projector, and the live view of a room (every student's code as it is
typed, the help queue)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.web.conftest import Classroom, open_page, screenshot, signed_in
from tests.web.test_room import wait_text

pytestmark = pytest.mark.chromium
DATABASES = ("sqlite",)


async def test_instructor_creates_a_classroom_and_a_room_from_the_page(
    browser: Browser, classroom: Classroom
) -> None:
    context = await signed_in(browser, classroom.server, classroom.teacher)
    page = await open_page(context, classroom.url("/dashboard"))
    await page.get_by_label("New classroom").fill("Algorithms")
    await page.get_by_role("button", name="Create classroom").click()
    card = page.locator("article.classroom", has_text="Algorithms")
    code = card.get_by_test_id("join-code")
    await expect(code).to_have_text(re.compile(r"^[A-Z2-9]{6}$"))
    await card.get_by_label("New room").fill("Sorting")
    await card.get_by_role("button", name="Create room").click()
    card = page.locator("article.classroom", has_text="Algorithms")
    await expect(card.get_by_role("link", name="Live view")).to_have_count(1)
    await card.get_by_role("button", name="Show join code").click()
    dialog = page.get_by_role("dialog", name="Join code")
    await expect(dialog.locator(".join-code")).to_have_text(await code.inner_text())
    await screenshot(page, "projector-join-code")
    await page.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await screenshot(page, "dashboard")
    # "Large text" for a projector scales the page, and is remembered.
    size = "getComputedStyle(document.documentElement).fontSize"
    assert await page.evaluate(size) == "16px"
    await page.get_by_role("button", name="Large text").click()
    assert await page.evaluate(size) == "22px"
    await page.reload()
    await expect(page.get_by_role("button", name="Large text")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert await page.evaluate(size) == "22px"
    await screenshot(page, "dashboard-large-text")


async def test_live_view_shows_each_students_code_and_raised_hands(
    browser: Browser, classroom: Classroom
) -> None:
    teacher_ctx = await signed_in(browser, classroom.server, classroom.teacher)
    dashboard = await open_page(teacher_ctx, classroom.url(f"/dashboard?room={classroom.room_id}"))
    await expect(dashboard.locator("#live-status")).to_have_text("live")

    alice_ctx = await signed_in(browser, classroom.server, classroom.alice)
    alice = await open_page(alice_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    await expect(alice.get_by_test_id("doc-status")).to_have_text("Saved", timeout=15_000)
    await alice.get_by_test_id("editor").locator(".cm-content").click()
    await alice.keyboard.type("print('hello from Alice')")

    doc = f"students/{classroom.alice.id}/main.py"
    tile = dashboard.locator(f'li.tile[data-doc="{doc}"]')
    await expect(tile.locator(".tile-head")).to_contain_text("Alice", timeout=15_000)
    await expect(tile.locator(".cm-content")).to_contain_text("print('hello from Alice')")
    # Typing after the tile exists reaches it live.
    await alice.keyboard.type("\nprint(42)")
    await expect(tile.locator(".cm-content")).to_contain_text("print(42)")

    await alice.get_by_role("button", name="Raise hand").click()
    await expect(alice.get_by_role("button", name="Lower hand")).to_be_visible()
    hands = dashboard.get_by_test_id("hands")
    await expect(hands).to_contain_text("Alice")
    await expect(hands.get_by_role("link", name="open code")).to_have_attribute(
        "href", f"/rooms/{classroom.room_id}?doc={doc.replace('/', '%2F')}"
    )
    await hands.get_by_role("button", name="Take Alice").click()
    await expect(hands).to_contain_text("(with Ada)")
    await screenshot(dashboard, "dashboard-live")
    await hands.get_by_role("button", name="Done").click()
    await expect(dashboard.locator("#panel-hands-body")).to_have_text("No hands raised.")
    await expect(alice.get_by_role("button", name="Raise hand")).to_be_visible()

    # A click on a tile opens that student's file, writable, in the room page.
    await tile.locator(".tile-code").click()
    await dashboard.wait_for_url(re.compile(rf"/rooms/{classroom.room_id}\?doc="))
    await expect(dashboard.locator("#doc-name")).to_have_text("Alice's main.py")
    await expect(dashboard.get_by_test_id("doc-status")).to_have_text("Saved")
    await dashboard.get_by_test_id("editor").locator(".cm-content").press("Control+End")
    await dashboard.keyboard.type("  # good")
    await wait_text(alice, r"print\(42\)  # good$")


async def test_roster_codes_rename_and_merge_from_the_dashboard(
    browser: Browser, classroom: Classroom
) -> None:
    context = await signed_in(browser, classroom.server, classroom.teacher)
    page = await open_page(context, classroom.url("/dashboard"))
    card = page.locator("article.classroom", has_text="CS 101")
    await card.get_by_text("Students, roster and LMS").click()
    await expect(card.get_by_role("row", name=re.compile(r"^Alice \(#\d+\)"))).to_have_count(1)

    bad = "name,email\nAna,ana@school.org\nAnn,ana@school.org\n"
    upload = card.get_by_label("Import roster (CSV: name, email, student_id)")
    await upload.set_input_files({"name": "r.csv", "mimeType": "text/csv", "buffer": bad.encode()})
    await card.get_by_role("button", name="Import roster", exact=True).click()
    await expect(page.get_by_text("line 3: ana@school.org is already on line 2")).to_be_visible()

    good = "name,email\nAna Li,ana@school.org\n"
    await upload.set_input_files({"name": "r.csv", "mimeType": "text/csv", "buffer": good.encode()})
    await card.get_by_role("button", name="Import roster", exact=True).click()
    codes = card.get_by_test_id("new-codes")
    await expect(codes.get_by_role("row", name="Ana Li")).to_contain_text(
        re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}")
    )
    await screenshot(page, "dashboard-roster-codes")

    await card.get_by_label("New name for Bob").fill("Robert")
    await (
        card.get_by_role("row", name=re.compile(r"^Bob"))
        .get_by_role("button", name="Rename")
        .click()
    )
    robert = card.get_by_role("row", name=re.compile(r"^Robert \(#\d+\)"))
    await expect(robert).to_have_count(1)

    # Robert turns out to be a second account of Alice's.
    await robert.get_by_label("Merge Robert into").select_option(
        label=f"Alice (#{classroom.alice.id})"
    )
    await robert.get_by_role("button", name="Merge").click()
    await expect(page.get_by_text("Robert is now part of")).to_be_visible()
    await expect(card.get_by_role("row", name=re.compile(r"^Robert"))).to_have_count(0)

    # Alice leaves the course: one click arms the button, the second removes her.
    alice = card.get_by_role("row", name=re.compile(r"^Alice \(#\d+\)"))
    remove = alice.get_by_role("button", name="Remove Alice")
    await remove.click()
    await expect(remove).to_have_text("Confirm removal")
    await expect(alice).to_have_count(1)
    await remove.click()
    await expect(page.get_by_text("Alice: their work is kept")).to_be_visible()
    await expect(card.get_by_role("row", name=re.compile(r"^Alice"))).to_have_count(0)
    await expect(card.get_by_role("row", name=re.compile(r"^Ana Li"))).to_have_count(1)
