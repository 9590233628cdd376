"""Exercises in real browsers: a course uploaded from the dashboard, a student picks an
exercise (prompt and starter code), submits, sees each test's result, and the room's
leaderboard moves for everyone."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.web.conftest import Classroom, open_page, screenshot, signed_in
from tests.web.test_room import put_code, wait_synced, wait_text

pytestmark = [pytest.mark.chromium, pytest.mark.bwrap]
DATABASES = ("sqlite",)

EXERCISE = '''
id = "shout"
title = "Shout it"
language = "python"
prompt = """
Read a word and print it in **capitals**.
"""
[starter]
"main.py" = "word = input()\\n# print it in capitals\\n"
[rubric]
correctness = 1.0
performance = 0.0
quality = 0.0
style = 0.0
total_points = 10
[[tests]]
name = "shouts ada"
stdin = "ada\\n"
expected = "ADA\\n"
points = 1
[[tests]]
name = "shouts a sentence"
stdin = "hello there\\n"
expected = "HELLO THERE\\n"
points = 1
'''


def course_zip(folder: Path) -> Path:
    path = folder / "course.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("exercises/shout.toml", EXERCISE)
    path.write_bytes(buffer.getvalue())
    return path


async def test_submit_shows_test_results_and_moves_the_leaderboard(
    browser: Browser, classroom: Classroom, tmp_path: Path
) -> None:
    bob_ctx = await signed_in(browser, classroom.server, classroom.bob)
    bob = await open_page(bob_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    await expect(bob.get_by_text("No scores yet.")).to_be_visible()

    alice_ctx = await signed_in(browser, classroom.server, classroom.alice)
    alice = await open_page(alice_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    await wait_synced(alice)
    await expect(alice.locator("#events-status")).to_have_text("Room: live")
    await expect(alice.get_by_label("Choose")).to_contain_text("None yet")

    # The course arrives while the students are in the room.
    teacher_ctx = await signed_in(browser, classroom.server, classroom.teacher)
    dashboard = await open_page(teacher_ctx, classroom.url("/dashboard"))
    await dashboard.get_by_label("Import course").set_input_files(course_zip(tmp_path))
    await dashboard.get_by_role("button", name="Import", exact=True).click()
    await expect(dashboard.get_by_test_id("toasts")).to_contain_text("Course imported")
    # The instructor opens the exercise live from the dashboard: it opens on Alice's page.
    live = await open_page(teacher_ctx, classroom.url(f"/dashboard?room={classroom.room_id}"))
    await live.get_by_role("button", name="Open live: Shout it").click()
    await expect(alice.get_by_test_id("toasts")).to_contain_text("Exercise open")
    await expect(alice.get_by_label("Choose")).to_have_value("shout")
    await expect(alice.get_by_test_id("exercise-prompt").locator("strong")).to_have_text("capitals")
    # The starter code lands in her empty file.
    await wait_text(alice, r"^word = input\(\)\n# print it in capitals\n$")

    await put_code(alice, "word = input()\nprint(word.lower())\n")
    await alice.get_by_role("button", name="Submit").click()
    score = alice.get_by_test_id("grade-score")
    await expect(score).to_contain_text("0 of 2 tests passed", timeout=30_000)
    await expect(alice.locator(".test.failed")).to_have_count(2)

    await put_code(alice, "word = input()\nprint(word.upper())\n")
    await alice.get_by_role("button", name="Submit").click()
    await expect(score).to_contain_text("2 of 2 tests passed", timeout=30_000)
    await expect(score).to_contain_text(re.compile(r"Score 10 / 10"))
    await expect(alice.locator(".test.passed")).to_have_count(2)
    # Her achievement stays listed on her page (a notice fades); classmates get no notice.
    await expect(alice.get_by_test_id("achievements").locator("li")).not_to_have_count(0)
    await expect(alice.get_by_test_id("achievements")).not_to_contain_text("None yet.")
    await expect(bob.locator(".toast", has_text="unlocked")).to_have_count(0)
    await expect(alice.get_by_test_id("xp")).to_contain_text(re.compile(r"^\d+ XP"))
    await screenshot(alice, "room-exercise-graded")

    # Everyone in the room sees Alice reach the top of the board.
    first = bob.get_by_test_id("leaderboard").locator("li").first
    await expect(first).to_contain_text("Alice", timeout=15_000)
    mine = alice.get_by_test_id("leaderboard").locator("li.mine")
    await expect(mine).to_contain_text("Alice (you)")

    # The grade export link on the dashboard downloads the CSV with the page cookie.
    async with dashboard.expect_download() as download_info:
        await dashboard.get_by_role("link", name="Export grades (CSV)").click()
    download = await download_info.value
    assert download.suggested_filename == f"grades-{classroom.classroom['id']}-best.csv"
    csv_text = await asyncio.to_thread(Path(await download.path()).read_text)
    assert "Alice" in csv_text and "shout" in csv_text
    # Still listed after a reload (the room snapshot carries them).
    await alice.reload()
    await alice.wait_for_selector("body[data-ready=true]")
    await expect(alice.get_by_test_id("achievements").locator("li").first).not_to_have_text(
        "None yet."
    )
