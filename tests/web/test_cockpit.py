"""The instructor's cockpit in real browsers: three students type and submit, the teacher's
class grid follows live (stuck students on top), the teacher finds who is stuck, pushes each
a hint that appears on their page, and watches their cells turn green as they pass; the
analytics charts draw; an inline comment reaches the student's editor gutter."""

from __future__ import annotations

import io
import re
import zipfile

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import Account
from tests.web.conftest import Classroom, open_page, screenshot, signed_in
from tests.web.test_room import put_code, wait_synced, wait_text

pytestmark = pytest.mark.chromium
DATABASES = ("sqlite",)

EXERCISE = """
id = "sum"
title = "Sum"
language = "python"
prompt = "Read two integers, print their sum."
[thresholds]
hint_after = 5
stuck_attempts = 2
[starter]
"main.py" = "a, b = map(int, input().split())\\n"
[[tests]]
name = "adds"
stdin = "1 2\\n"
expected = "3"
hints = ["Print the sum of a and b.", "print(a + b)"]
explanation = "Add them."
[[tests]]
name = "negatives"
stdin = "-1 -2\\n"
expected = "-3"
"""
WRONG = "a, b = map(int, input().split())\nprint(a - b)\n"


async def upload_course(classroom: Classroom) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("exercises/sum.toml", EXERCISE)
    async with httpx.AsyncClient(base_url=classroom.server.url, timeout=30) as http:
        response = await http.post(
            f"/api/classrooms/{classroom.classroom['id']}/course",
            content=buffer.getvalue(),
            headers={**classroom.teacher.headers, "Content-Type": "application/zip"},
        )
        assert response.status_code == 200, response.text


async def student_page(browser: Browser, classroom: Classroom, who: Account) -> Page:
    context = await signed_in(browser, classroom.server, who)
    page = await open_page(context, classroom.url(f"/rooms/{classroom.room_id}"))
    await wait_synced(page)
    await page.get_by_label("Choose").select_option("sum")
    await wait_text(page, r"^a, b = map")
    return page


async def submit(page: Page, code: str, expected: str) -> None:
    await put_code(page, code)
    await page.get_by_role("button", name="Submit").click()
    await expect(page.get_by_test_id("grade-score")).to_contain_text(expected, timeout=30_000)


@pytest.mark.bwrap
async def test_teacher_finds_the_stuck_pushes_hints_and_sees_them_pass(
    browser: Browser, classroom: Classroom
) -> None:
    await upload_course(classroom)
    async with httpx.AsyncClient(base_url=classroom.server.url) as http:
        joined = (
            await http.post(
                "/api/join", json={"join_code": classroom.classroom["join_code"], "name": "Carol"}
            )
        ).json()
    carol_account = Account(joined["user"]["id"], "Carol", joined["token"])
    teacher_ctx = await signed_in(browser, classroom.server, classroom.teacher)
    dashboard = await open_page(teacher_ctx, classroom.url(f"/dashboard?room={classroom.room_id}"))
    await expect(dashboard.locator("#live-status")).to_have_text("live")
    grid = dashboard.get_by_test_id("class-grid")
    await expect(grid.locator("td.cell")).to_have_count(3)
    await expect(dashboard.get_by_test_id("signal-stuck")).to_have_text("0 stuck")

    students = {
        who.name: await student_page(browser, classroom, who)
        for who in (classroom.alice, classroom.bob, carol_account)
    }
    ids = {"Alice": classroom.alice.id, "Bob": classroom.bob.id, "Carol": carol_account.id}

    def cell(name: str) -> object:
        return grid.locator(f'td.cell[data-user="{ids[name]}"][data-exercise="sum"]')

    # Carol passes at once; Alice and Bob fail twice: stuck.
    await submit(students["Carol"], "a, b = map(int, input().split())\nprint(a + b)\n", "2 of 2")
    await expect(cell("Carol")).to_have_attribute("data-state", "passed")
    for name in ("Alice", "Bob"):
        await submit(students[name], WRONG, "0 of 2")
        await expect(cell(name)).to_have_attribute("data-state", "failing")
        await submit(students[name], WRONG + "# again\n", "0 of 2")
        await expect(cell(name)).to_have_attribute("data-stuck", "true")
    await expect(dashboard.get_by_test_id("signal-stuck")).to_have_text("2 stuck")
    stuck = dashboard.get_by_test_id("stuck-list").locator("li")
    await expect(stuck).to_have_count(2)
    # Stuck longest on top: Alice failed first.
    await expect(stuck.first).to_contain_text("Alice")
    await expect(stuck.first.locator(".last-error")).to_contain_text("expected")
    # "open code" opens the file the exercise is done in.
    await expect(stuck.first.get_by_role("link", name="open code")).to_have_attribute(
        "href", re.compile(r"%2Fsum\.py$")
    )
    # The grid puts the stuck students' rows first.
    rows = grid.locator("tbody tr")
    await expect(rows.nth(2)).to_have_attribute("data-user", str(ids["Carol"]))
    # The analytics of the exercise, drawn as charts.
    await expect(dashboard.get_by_test_id("pass-rate")).to_contain_text("33 %", timeout=15_000)
    await expect(dashboard.locator("canvas[data-ready=true]")).to_have_count(2)
    await expect(dashboard.get_by_test_id("error-clusters")).to_contain_text("Alice, Bob")
    await screenshot(dashboard, "cockpit-stuck")

    # The teacher pushes each stuck student a hint; it shows on their page, not over the editor.
    for name in ("Alice", "Bob"):
        await stuck.filter(has_text=name).get_by_role("button", name=f"Push hint to {name}").click()
        pushed = students[name].get_by_test_id("pushed")
        await expect(pushed).to_contain_text("Hint on adds: Print the sum of a and b.")
        await expect(students[name].get_by_test_id("hints")).to_contain_text(
            "Print the sum of a and b."
        )
    # Still locked for Carol, who got no push (and passed): her explanation shows instead.
    await expect(students["Carol"].get_by_test_id("hints")).to_contain_text("Add them.")
    await expect(students["Carol"].get_by_test_id("hints")).not_to_contain_text("Print the sum")
    await screenshot(students["Bob"], "cockpit-hint-pushed")

    # Bob types the fix himself and passes: his cell turns green for the teacher, live.
    bob = students["Bob"]
    await put_code(bob, "a, b = map(int, input().split())\n")
    await bob.get_by_test_id("editor").locator(".cm-content").press("Control+End")
    await bob.keyboard.type("print(a + b)")
    await wait_text(bob, r"print\(a \+ b\)$")
    # The server has his keystrokes once the teacher's live tile shows them (the exercise's
    # own file: one file per exercise, named after it).
    tile = dashboard.locator(f'li.tile[data-doc="students/{ids["Bob"]}/sum.py"] .cm-content')
    await expect(tile).to_contain_text("print(a + b)")
    await bob.get_by_role("button", name="Submit").click()
    await expect(bob.get_by_test_id("grade-score")).to_contain_text("2 of 2", timeout=30_000)
    await expect(cell("Bob")).to_have_attribute("data-state", "passed")
    await expect(cell("Bob")).to_have_attribute("data-stuck", "false")
    await expect(cell("Bob")).to_have_text(re.compile(r"✓"))
    await expect(dashboard.get_by_test_id("signal-stuck")).to_have_text("1 stuck")
    await expect(dashboard.get_by_test_id("pass-rate")).to_contain_text("67 %", timeout=15_000)
    await screenshot(dashboard, "cockpit-bob-passed")
    # A click on a cell opens that student's file, live, to edit with them.
    await cell("Alice").click()
    await dashboard.wait_for_url(re.compile(rf"/rooms/{classroom.room_id}\?doc="))
    # The exercise's own file (one file per exercise), its path in data-doc, a friendly label.
    doc_name = dashboard.locator("#doc-name")
    await expect(doc_name).to_have_attribute("data-doc", f"students/{ids['Alice']}/sum.py")
    await expect(doc_name).to_have_text("Alice's sum.py")
    await wait_synced(dashboard)
    await wait_text(dashboard, r"print\(a - b\)")


async def test_inline_comment_reaches_the_students_gutter_and_follows_its_line(
    browser: Browser, classroom: Classroom
) -> None:
    await upload_course(classroom)
    alice = await student_page(browser, classroom, classroom.alice)
    await put_code(alice, "a, b = map(int, input().split())\nprint(a - b)\n")
    teacher_ctx = await signed_in(browser, classroom.server, classroom.teacher)
    doc = f"students/{classroom.alice.id}/sum.py"  # the exercise's own file
    teacher = await open_page(
        teacher_ctx, classroom.url(f"/rooms/{classroom.room_id}?doc={doc.replace('/', '%2F')}")
    )
    await wait_synced(teacher)
    await wait_text(teacher, r"print\(a - b\)")
    editor = teacher.get_by_test_id("editor").locator(".cm-content")
    await editor.press("Control+End")
    await editor.press("ArrowUp")  # the cursor on line 2, "print(a - b)"
    await teacher.get_by_label("Comment on the cursor's line").fill("Minus? Read the prompt again.")
    await teacher.get_by_role("button", name="Comment", exact=True).click()
    thread = alice.get_by_test_id("comments").locator("li.comment")
    await expect(thread).to_contain_text("Ada on line 2: Minus? Read the prompt again.")
    await expect(alice.locator(".cm-comment-gutter .comment-mark")).to_have_count(1)
    # Alice adds a line above: the comment stays on "print(a - b)", now line 3.
    await alice.evaluate("() => window.classroom.doc.getText('text').insert(0, '# my sum\\n')")
    await wait_text(teacher, r"^# my sum\n")
    line = alice.locator(".cm-gutterElement").filter(has=alice.locator(".comment-mark"))
    await expect(line).to_have_count(1)
    marker_top = await line.bounding_box()
    # Her editor's third line (the page also holds the hidden read-only demo editor).
    target = alice.get_by_test_id("editor").locator(".cm-line").nth(2)
    await expect(target).to_contain_text("print(a - b)")  # and Ada's caret label
    target_top = await target.bounding_box()
    assert marker_top is not None and target_top is not None
    assert abs(marker_top["y"] - target_top["y"]) < 4
    # She replies and resolves.
    await thread.get_by_label("Reply to Ada").fill("Oops, fixing it.")
    await thread.get_by_role("button", name="Reply").click()
    await expect(teacher.get_by_test_id("comments")).to_contain_text("Alice: Oops, fixing it.")
    await thread.get_by_role("button", name="Resolve").click()
    await expect(teacher.get_by_test_id("comments").locator("li.comment")).to_contain_text(
        "Resolved"
    )
    await expect(alice.locator(".cm-comment-gutter .comment-mark")).to_have_count(0)
    await screenshot(alice, "cockpit-comment")
