"""The sign-in and join pages in a real browser: the JSON API, then the page cookie."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.web.conftest import VIEWPORT, Classroom, open_page, screenshot, signed_in

pytestmark = pytest.mark.chromium
DATABASES = ("sqlite",)


async def test_instructor_signs_in_and_a_student_joins_into_the_room(
    browser: Browser, classroom: Classroom
) -> None:
    teacher = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await teacher.new_page()
    await page.goto(classroom.url("/login"))
    await screenshot(page, "login")
    # Errors in plain words, never a validator's text ("email: String should have ...").
    await page.get_by_label("Email").fill("ab")
    await page.get_by_label("Password").fill("x")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "That does not look like an email address: it needs an @, like ada@school.org."
    )
    await page.get_by_label("Email").fill("teacher@example.org")
    await page.get_by_label("Password").fill("")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("Type your password.")
    await page.get_by_label("Password").fill("wrong password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "That email and password do not match. Check both and try again."
    )
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r"/dashboard$"))
    # The cookie is HttpOnly: the page's script cannot read it.
    assert "classroom_token" not in await page.evaluate("document.cookie")
    code = classroom.classroom["join_code"]
    await expect(page.get_by_test_id("join-code")).to_have_text(code)

    student = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    landing = await student.new_page()
    await landing.goto(classroom.url("/"))
    await landing.get_by_label("Join code").fill("AB")
    await landing.get_by_role("button", name="Join").click()
    await expect(landing.get_by_role("alert")).to_have_text(
        "A join code is 4 to 16 letters and digits, like K7Q2XM."
    )
    await landing.get_by_label("Join code").fill("NOPE99")
    await landing.get_by_role("button", name="Join").click()
    await expect(landing.get_by_role("alert")).to_have_text(
        "Type your name, so your teacher knows who you are."
    )
    await landing.get_by_label("Your name").fill("Carol")
    await landing.get_by_role("button", name="Join").click()
    await expect(landing.get_by_role("alert")).to_have_text(
        "No class has this join code. Check it with your teacher."
    )
    await screenshot(landing, "join")
    await landing.get_by_label("Join code").fill(code.lower())
    await landing.get_by_role("button", name="Join").click()
    # She is shown her personal code once, then goes on.
    personal = landing.get_by_test_id("personal-code")
    await expect(personal).to_have_text(re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$"))
    personal_code = await personal.inner_text()
    await landing.get_by_role("button", name="Continue").click()
    # The classroom has exactly one room, so the student lands in it.
    await landing.wait_for_url(re.compile(rf"/rooms/{classroom.room_id}$"))
    await expect(landing.get_by_role("heading", name="Lesson 1")).to_be_visible()
    await expect(landing.get_by_text("Signed in as Carol")).to_be_visible()
    # Back on the landing page she finds her rooms.
    await landing.goto(classroom.url("/"))
    rooms = landing.locator("#my-rooms")
    await expect(rooms.get_by_role("heading", name="CS 101")).to_be_visible()
    await rooms.get_by_role("link", name="Lesson 1").click()
    await landing.wait_for_url(re.compile(rf"/rooms/{classroom.room_id}$"))
    await landing.get_by_role("button", name="Sign out").click()
    await landing.wait_for_url(classroom.url("/"))
    await expect(landing.get_by_role("link", name="Instructor sign-in")).to_be_visible()

    # Another device, another day: her personal code signs her back in as herself.
    phone = await (await browser.new_context(viewport=VIEWPORT)).new_page()  # type: ignore[arg-type]
    await phone.goto(classroom.url("/"))
    await phone.get_by_label("Personal code").fill("AAAA-AAAA-AAAA")
    await phone.get_by_role("button", name="Sign back in").click()
    await expect(phone.get_by_role("alert")).to_have_text("no one has this code")
    await phone.get_by_label("Personal code").fill(personal_code.lower())
    await phone.get_by_role("button", name="Sign back in").click()
    await phone.wait_for_url(re.compile(rf"/rooms/{classroom.room_id}$"))
    await expect(phone.get_by_text("Signed in as Carol")).to_be_visible()


async def test_the_qr_link_signs_a_phone_in(browser: Browser, classroom: Classroom) -> None:
    async with httpx.AsyncClient(base_url=classroom.url("")) as http:
        joined = await http.post(
            "/api/join", json={"join_code": classroom.classroom["join_code"], "name": "Dee"}
        )
        token = joined.json()["token"]
        link = (
            await http.post("/api/me/rejoin-code", headers={"Authorization": f"Bearer {token}"})
        ).json()["url"]
    assert "#" in link
    phone = await (await browser.new_context(viewport=VIEWPORT)).new_page()  # type: ignore[arg-type]
    await phone.goto(link)
    field = phone.get_by_label("Personal code")
    await expect(field).to_have_value(link.split("#", 1)[1])
    assert "#" not in phone.url  # the code left the address bar
    await phone.get_by_role("button", name="Continue").click()
    await phone.wait_for_url(classroom.url("/"))
    await expect(phone.locator("#my-rooms").get_by_role("heading", name="CS 101")).to_be_visible()


async def test_a_student_gets_a_sign_in_code_with_its_qr(
    browser: Browser, classroom: Classroom
) -> None:
    context = await signed_in(browser, classroom.server, classroom.alice)
    room = await open_page(context, classroom.url(f"/rooms/{classroom.room_id}"))
    await room.get_by_role("button", name="Sign-in code").click()
    dialog = room.get_by_role("dialog", name="Your sign-in code")
    code = await dialog.get_by_test_id("my-code").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    qr = dialog.get_by_role("img", name=re.compile(r"^QR code of the link http\S+#"))
    await expect(qr).to_be_visible()
    assert await qr.evaluate("img => img.naturalWidth > 0")  # the SVG decodes
    await screenshot(room, "sign-in-code")
    other = await (await browser.new_context(viewport=VIEWPORT)).new_page()  # type: ignore[arg-type]
    await other.goto(classroom.url("/"))
    await other.get_by_label("Personal code").fill(code)
    await other.get_by_role("button", name="Sign back in").click()
    await other.wait_for_url(re.compile(rf"/rooms/{classroom.room_id}$"))
    await expect(other.get_by_text("Signed in as Alice")).to_be_visible()
