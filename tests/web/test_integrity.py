"""Academic integrity on the dashboard in a real browser: the ranked pairs of an exercise,
the side-by-side view with matched fragments highlighted, an instructor's confirmation,
and the replay slider over a student's file with who typed what and the paste marked."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from server.courses.importer import import_course
from server.store import Store
from tests.server.integrity.test_similarity_api import COPY, EXERCISE, ORIGINAL
from tests.web.conftest import Classroom, open_page, screenshot, signed_in

pytestmark = pytest.mark.chromium
DATABASES = ("sqlite",)

BLOCK = (
    "def middle(values):\n    ordered = sorted(values)\n    return ordered[len(ordered) // 2]\n" * 3
)


async def test_pairs_side_by_side_review_and_replay(
    browser: Browser, classroom: Classroom, tmp_path: Path
) -> None:
    folder = tmp_path / "course"
    (folder / "exercises").mkdir(parents=True)
    (folder / "exercises" / "stats.toml").write_text(EXERCISE)
    store = Store(classroom.server.settings.database_url)
    try:
        await import_course(store, classroom.classroom["id"], folder)
    finally:
        await store.close()
    async with httpx.AsyncClient(base_url=classroom.server.url, timeout=60) as http:
        for account, code in ((classroom.alice, ORIGINAL), (classroom.bob, COPY)):
            response = await http.post(
                f"/api/rooms/{classroom.room_id}/exercises/stats/submissions",
                json={"files": {"main.py": code}},
                headers=account.headers,
            )
            assert response.status_code == 201, response.text

    # Alice types a line, then pastes a block in one go.
    alice_ctx = await signed_in(browser, classroom.server, classroom.alice)
    alice = await open_page(alice_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    await expect(alice.get_by_test_id("doc-status")).to_have_text("Saved", timeout=15_000)
    await alice.get_by_test_id("editor").locator(".cm-content").click()
    await alice.keyboard.type("n = 3\n")
    # The typed line must be the editor's own change before the paste comes: on a loaded
    # machine the browser once handed the Enter and the paste over together, and the file's
    # history then held one update of "\n" and the block (a paste of 262 characters).
    await alice.wait_for_function("() => window.classroom.view.state.doc.toString() === 'n = 3\\n'")
    await alice.keyboard.insert_text(BLOCK)
    await alice.wait_for_function(
        "(n) => window.classroom.view.state.doc.length >= n", arg=len(BLOCK) + 6
    )
    await expect(alice.get_by_test_id("doc-status")).to_have_text("Saved", timeout=15_000)

    teacher_ctx = await signed_in(browser, classroom.server, classroom.teacher)
    page = await open_page(teacher_ctx, classroom.url("/dashboard"))
    await page.get_by_role("link", name="Academic integrity").click()
    panel = page.locator("#integrity")
    await panel.get_by_label("Exercise", exact=True).select_option("stats")
    table = panel.get_by_test_id("similarity-pairs")
    first = table.locator("tbody tr").first
    await expect(first).to_contain_text("Alice")
    await expect(first).to_contain_text("Bob")
    await first.get_by_role("button", name="Compare").click()
    compare = panel.get_by_test_id("compare")
    left, right = compare.get_by_test_id("code-a"), compare.get_by_test_id("code-b")
    await expect(left.locator(".line.match").first).to_be_visible()
    assert await left.locator(".line.match").count() >= 5
    assert await right.locator(".line.match").count() >= 5
    # The same fragment has the same colour on both sides.
    fragment = await left.locator(".line.match").first.get_attribute("data-fragment")
    assert await right.locator(f'.line.match[data-fragment="{fragment}"]').count() >= 1
    await screenshot(page, "integrity-side-by-side")
    await compare.get_by_role("button", name="Confirm").click()
    await expect(compare.get_by_test_id("review-status")).to_contain_text("confirmed")

    # Replay Alice's file.
    await panel.get_by_label("Room", exact=True).select_option(str(classroom.room_id))
    doc = f"students/{classroom.alice.id}/main.py"
    await panel.get_by_label("File", exact=True).select_option(doc)
    text = panel.get_by_test_id("replay-text")
    await expect(text).to_contain_text("return ordered[len(ordered) // 2]")
    await expect(text.locator('span[title="Alice"]').first).to_be_visible()
    slider = panel.get_by_label("Replay position")
    await slider.fill("0")
    await expect(text).to_have_text("")
    await slider.fill("1")
    await expect(text).to_have_text("n")
    pastes = panel.get_by_test_id("pastes")
    await pastes.get_by_role("button", name="Paste").click()
    await expect(panel.get_by_test_id("replay-when")).to_contain_text(
        f"paste of {len(BLOCK)} characters"
    )
    await expect(text).to_contain_text("def middle(values)")
    await screenshot(page, "integrity-replay")
