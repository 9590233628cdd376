"""The README's screenshots, taken from the real pages: boots a server on a free port with a
fresh SQLite database and the local sandbox, seeds a class (an instructor, two students, the
example course, a few submissions, a raised hand, a running demo) and takes Chromium
screenshots at a laptop's 1280x800 and a phone's 390x844 into docs/screenshots/.

    .venv/bin/python web/screenshots.py            # needs /usr/bin/chromium and web/node_modules

It writes nothing else and stops the server it started.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, async_playwright, expect

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "screenshots only"
WRONG_FIZZBUZZ = "def fizz(n):\n    return n\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def course_zip() -> bytes:
    buffer = io.BytesIO()
    folder = ROOT / "examples" / "course"
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, str(path.relative_to(folder)))
    return buffer.getvalue()


async def seed(http: httpx.AsyncClient) -> dict[str, Any]:
    login = await http.post(
        "/api/auth/login", json={"email": "ada@example.org", "password": PASSWORD}
    )
    teacher = {"Authorization": f"Bearer {login.json()['token']}"}
    classroom = (
        await http.post("/api/classrooms", json={"title": "CS 101"}, headers=teacher)
    ).json()
    room = (
        await http.post(
            f"/api/classrooms/{classroom['id']}/rooms",
            json={"title": "Lesson 3: functions", "kind": "lesson"},
            headers=teacher,
        )
    ).json()
    uploaded = await http.post(
        f"/api/classrooms/{classroom['id']}/course",
        content=course_zip(),
        headers={**teacher, "content-type": "application/zip"},
    )
    uploaded.raise_for_status()
    students = {}
    for name in ("Grace", "Alan", "Katherine"):
        joined = await http.post(
            "/api/join", json={"join_code": classroom["join_code"], "name": name}
        )
        students[name] = joined.json()["token"]
    submit = f"/api/rooms/{room['id']}/exercises/greet/submissions"
    greet = "name = input().strip()\nprint(f\"Hello, {name or 'world'}!\")\n"
    for name, code in (("Alan", greet), ("Katherine", "print('Hello, Ada!')\n")):
        await http.post(
            submit,
            json={"files": {"main.py": code}},
            headers={"Authorization": f"Bearer {students[name]}"},
        )
    return {
        "teacher": login.json()["token"],
        "students": students,
        "classroom": classroom,
        "room": room,
    }


async def page_as(
    browser: Browser, base: str, token: str, path: str, viewport: dict[str, int]
) -> Page:
    context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    await context.add_cookies(
        [{"name": "classroom_token", "value": token, "url": base, "httpOnly": True}]
    )
    page = await context.new_page()
    await page.goto(base + path)
    await page.wait_for_selector("body[data-ready=true]", timeout=20_000)
    return page


async def shoot(base: str, data: dict[str, Any]) -> None:
    room = data["room"]["id"]
    classroom = data["classroom"]["id"]
    grace_token = data["students"]["Grace"]
    OUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            teacher = await page_as(
                browser, base, data["teacher"], f"/dashboard?room={room}", LAPTOP
            )
            await expect(teacher.locator("#live-status")).to_have_text("live")
            await teacher.get_by_label("Choose a demo").select_option(
                label="Bubble sort, step by step"
            )
            await teacher.get_by_role("button", name="Start").click()

            grace = await page_as(browser, base, grace_token, f"/rooms/{room}", LAPTOP)
            await expect(grace.locator("#events-status")).to_have_text("Room: live")
            await grace.get_by_label("Choose").select_option(label="FizzBuzz as a function")
            await expect(grace.get_by_test_id("doc-name")).to_have_text("fizzbuzz.py")
            await expect(grace.get_by_test_id("doc-status")).to_have_text("Saved")
            await grace.evaluate(
                """(code) => {
                    const doc = window.classroom.doc, t = doc.getText("text");
                    doc.transact(() => { t.delete(0, t.length); t.insert(0, code); });
                }""",
                WRONG_FIZZBUZZ,
            )
            await grace.get_by_role("button", name="Submit").click()
            await expect(grace.get_by_test_id("grade-score")).to_be_visible(timeout=60_000)
            await grace.get_by_label("What do you need help with? (optional)").fill(
                "Why can't the test import fizzbuzz?"
            )
            await grace.get_by_role("button", name="Raise hand").click()
            await expect(grace.get_by_test_id("hand-status")).to_contain_text("Your hand is up")
            await grace.get_by_test_id("exercise-results").scroll_into_view_if_needed()
            await grace.screenshot(path=str(OUT / "room-student.png"))

            phone = await page_as(browser, base, grace_token, f"/rooms/{room}", PHONE)
            await expect(phone.locator("#events-status")).to_have_text("Room: live")
            await phone.screenshot(path=str(OUT / "room-phone.png"))

            await expect(teacher.get_by_test_id("hands")).to_contain_text("Grace")
            await expect(teacher.locator("li.tile")).not_to_have_count(0, timeout=20_000)
            await teacher.screenshot(path=str(OUT / "dashboard-live.png"))

            book = await page_as(
                browser, base, data["teacher"], f"/classrooms/{classroom}/gradebook", LAPTOP
            )
            await expect(book.get_by_test_id("gradebook").locator("table")).to_be_visible()
            await book.screenshot(path=str(OUT / "gradebook.png"))
        finally:
            await browser.close()


async def main() -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="classroom-screenshots-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    env.update(
        CLASSROOM_DATA_DIR=str(data_dir),
        CLASSROOM_SANDBOX="local",
        CLASSROOM_POOL_SIZE="0",
        CLASSROOM_LOG_LEVEL="warning",
    )
    created = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        "create-instructor",
        "ada@example.org",
        "--name",
        "Ada",
        "--password-stdin",
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    await created.communicate(f"{PASSWORD}\n".encode())
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        "--port",
        str(port),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for _ in range(300):
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            data = await seed(http)
        await shoot(base, data)
    finally:
        server.terminate()
        await server.wait()
    print(f"screenshots in {OUT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
