"""A lesson as a teacher and two students live it, one test per item of issue 18: one file per
exercise, feedback that leads with the line that matters, the attempt penalty and the rate
limit said before and while they bite, hands with a message and a visible state, the
classroom card that keeps the last import's errors, and the gradebook."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.web.conftest import Classroom, open_page, screenshot, signed_in
from tests.web.test_layout import VIEWPORTS, fits, import_course
from tests.web.test_room import put_code, wait_synced, wait_text

pytestmark = pytest.mark.chromium
DATABASES = ("sqlite",)

GREET = "name = input().strip()\nprint(f\"Hello, {name or 'world'}!\")\n"


async def open_live(classroom: Classroom, exercise: str) -> None:
    async with httpx.AsyncClient(base_url=classroom.server.url) as http:
        response = await http.post(
            f"/api/rooms/{classroom.room_id}/exercises/{exercise}/live",
            json={"minutes": 5},
            headers=classroom.teacher.headers,
        )
    assert response.status_code == 201, response.text


async def student_page(browser: Browser, classroom: Classroom, viewport: str = "laptop") -> Page:
    context = await browser.new_context(viewport=VIEWPORTS[viewport])  # type: ignore[arg-type]
    await context.add_cookies(
        [
            {
                "name": "classroom_token",
                "value": classroom.alice.token,
                "url": classroom.server.url,
                "httpOnly": True,
            }
        ]
    )
    page = await open_page(context, classroom.url(f"/rooms/{classroom.room_id}"))
    await wait_synced(page)
    await expect(page.locator("#events-status")).to_have_text("Room: live")
    return page


async def test_each_exercise_opens_its_own_file(browser: Browser, classroom: Classroom) -> None:
    await import_course(classroom)
    alice = await student_page(browser, classroom)
    await put_code(alice, "my = 'work'\n")
    name = alice.get_by_test_id("doc-name")

    # The teacher opens a Python exercise: its own file, with its starter.
    await open_live(classroom, "fizzbuzz")
    await expect(name).to_have_text("fizzbuzz.py")
    await wait_synced(alice)
    await wait_text(alice, r"^\s*def fizzbuzz\(n\):\n    return str\(n\)")
    await expect(alice.get_by_test_id("exercise-file")).to_have_text(
        "Your file for this exercise: fizzbuzz.py (Python)"
    )
    await put_code(alice, "def fizzbuzz(n):\n    return 'mine'\n")

    # Then a C exercise: a C file of its own, said on the page; the Python files stay.
    await open_live(classroom, "word-count")
    await expect(name).to_have_text("word-count.c")
    await expect(alice.get_by_test_id("exercise-file")).to_contain_text("(C)")
    await expect(alice.get_by_label("Language")).to_have_value("c")
    await wait_text(alice, "#include <stdio.h>")
    files = alice.get_by_test_id("file-select")
    await expect(files.locator("option")).to_contain_text(
        ["fizzbuzz.py", "main.py", "word-count.c", "New file…"]
    )
    # Back to the Python exercise: the typed work is there, never overwritten by the starter.
    await alice.get_by_label("Choose").select_option(label="FizzBuzz as a function")
    await expect(name).to_have_text("fizzbuzz.py")
    await wait_text(alice, r"^def fizzbuzz\(n\):\n    return 'mine'\n$")
    await files.select_option(label="main.py")
    await wait_text(alice, r"^my = 'work'\n$")
    # A file of one's own.
    await files.select_option(label="New file…")
    await alice.get_by_label("New file name").fill("notes.js")
    await alice.get_by_role("button", name="Create").click()
    await expect(name).to_have_text("notes.js")
    await expect(alice.get_by_label("Language")).to_have_value("javascript")
    await screenshot(alice, "lesson-exercise-files")


@pytest.mark.bwrap
async def test_feedback_leads_with_the_line_that_matters(
    browser: Browser, classroom: Classroom
) -> None:
    await import_course(classroom)
    alice = await student_page(browser, classroom, "phone")
    await alice.get_by_label("Choose").select_option(label="FizzBuzz as a function")
    await expect(alice.get_by_test_id("doc-name")).to_have_text("fizzbuzz.py")
    await wait_synced(alice)
    await put_code(alice, "def fizz(n):\n    return n\n")
    await alice.get_by_role("button", name="Submit").click()
    results = alice.get_by_test_id("exercise-results")
    await expect(results.get_by_test_id("grade-score")).to_contain_text(
        "tests passed", timeout=30_000
    )
    failures = results.get_by_test_id("failure")
    # One entry for the visible unit-test file (every case failed the same way), led by the
    # exception; the hidden file's output is not shown, so it is its own entry.
    await expect(failures.first.locator(".feedback-lead")).to_have_text(
        re.compile(r"^ImportError: cannot import name 'fizzbuzz'")
    )
    await expect(failures.first).to_contain_text(re.compile(r"The same in \d+ tests"))
    text = await results.inner_text()
    for ours in ("exec_module", "<frozen", 'File "/work/main.py"'):
        assert ours not in text
    await results.get_by_text("Full message").first.click()
    await expect(results.locator("pre.test-output").first).to_contain_text("test_fizzbuzz.py")
    await fits(alice)
    await screenshot(alice, "lesson-feedback-phone")


@pytest.mark.bwrap
async def test_attempt_penalty_and_rate_limit_are_said_in_time(
    browser: Browser, classroom: Classroom
) -> None:
    # Attempt penalties only: greet is due a week from now, so no late penalty and no
    # after-due test, whatever day the clock shows.
    await import_course(classroom, due_in=timedelta(days=7))
    alice = await student_page(browser, classroom)
    await alice.get_by_label("Choose").select_option(label="Greet by name")
    await expect(alice.get_by_test_id("doc-name")).to_have_text("greet.py")
    await wait_synced(alice)
    await put_code(alice, GREET)
    submit = alice.get_by_role("button", name="Submit", exact=True)
    score = alice.get_by_test_id("grade-score")
    confirm = alice.get_by_role("alertdialog")
    # greet: attempts = [0, 0, 5, 10]; 5 submissions a minute.
    await submit.click()
    await expect(score).to_contain_text("2 of 2 tests passed", timeout=30_000)
    for attempt, warning in ((2, "It cannot score more."), (3, "loses 5% of its score")):
        await expect(submit).to_be_enabled()
        await submit.click()
        await expect(confirm).to_contain_text("same code as your last submission")
        await expect(confirm).to_contain_text(f"attempt {attempt}")
        await expect(confirm).to_contain_text(warning)
        await alice.get_by_role("button", name="Submit anyway").click()
        await expect(alice.get_by_test_id("exercise-results")).to_contain_text(
            f"Grading attempt {attempt}", timeout=10_000
        )
        await expect(score).to_be_visible(timeout=30_000)
    await expect(alice.get_by_test_id("penalty-note")).to_have_text(
        "Attempt 3: \u22125% (attempt penalty)"
    )
    await expect(alice.get_by_test_id("next-attempt")).to_have_text(
        "Your next submission is attempt 4: it loses 10% of its score (attempt penalty)."
    )
    # Two more (the limit is five a minute), then the sixth is refused with a countdown,
    # beside the results of the last grade.
    for _ in range(3):
        await expect(submit).to_be_enabled(timeout=30_000)
        await submit.click()
        await alice.get_by_role("button", name="Submit anyway").click()
    limit = alice.get_by_test_id("rate-limit")
    await expect(limit).to_have_text(re.compile(r"you can submit again in \d+ s"), timeout=30_000)
    first = int(re.findall(r"(\d+) s", await limit.inner_text())[0])
    await expect(limit).not_to_have_text(re.compile(rf"again in {first} s"), timeout=5_000)
    later = int(re.findall(r"(\d+) s", await limit.inner_text())[0])
    assert later < first
    await expect(submit).to_be_disabled()
    await expect(score).to_be_visible()
    await screenshot(alice, "lesson-rate-limit")


async def test_a_hand_carries_a_message_and_its_state(
    browser: Browser, classroom: Classroom
) -> None:
    teacher = await open_page(
        await signed_in(browser, classroom.server, classroom.teacher),
        classroom.url(f"/dashboard?room={classroom.room_id}"),
    )
    alice = await student_page(browser, classroom)
    await alice.get_by_label("What do you need help with? (optional)").fill("My loop never ends")
    await alice.get_by_role("button", name="Raise hand").click()
    status = alice.get_by_test_id("hand-status")
    await expect(status).to_have_text("Your hand is up: “My loop never ends”. A teacher will come.")
    hands = teacher.get_by_test_id("hands")
    await expect(hands).to_contain_text("Alice — My loop never ends")
    await hands.get_by_role("button", name="Take Alice").click()
    await expect(status).to_have_text("Ada is coming to help you.")
    await hands.get_by_role("button", name="Done").click()
    await expect(status).to_have_text("Ada marked your question as answered.")
    await expect(alice.get_by_role("button", name="Raise hand")).to_be_visible()


def cobol_course() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "exercises/legacy.toml",
            'id = "legacy"\ntitle = "Legacy"\nlanguage = "cobol"\n'
            '[[tests]]\nname = "one"\nexpected = "1"\n',
        )
    return buffer.getvalue()


async def test_the_classroom_card_keeps_the_last_import_errors(
    browser: Browser, classroom: Classroom, tmp_path: object
) -> None:
    await import_course(classroom)
    page = await open_page(
        await signed_in(browser, classroom.server, classroom.teacher),
        classroom.url("/dashboard"),
    )
    card = page.locator("article.classroom", has_text="CS 101")
    await expect(card.get_by_test_id("course")).to_contain_text("Greet by name — exercise, python")
    await card.get_by_label("Import course").set_input_files(
        files=[{"name": "course.zip", "mimeType": "application/zip", "buffer": cobol_course()}]
    )
    await card.get_by_role("button", name="Import", exact=True).click()
    errors = card.get_by_test_id("import-errors")
    reason = (
        "exercises/legacy.toml:3: language: unknown language 'cobol'; "
        "known: c, cpp, go, javascript, python, rust, typescript"
    )
    await expect(errors).to_contain_text(reason)
    await page.reload()
    await page.wait_for_selector("body[data-ready=true]")
    card = page.locator("article.classroom", has_text="CS 101")
    await expect(card.get_by_test_id("import-errors")).to_contain_text(reason)
    await expect(card.get_by_test_id("course")).not_to_contain_text("Legacy")
    await screenshot(page, "lesson-import-errors")


@pytest.mark.bwrap
async def test_the_gradebook_keeps_best_or_latest(browser: Browser, classroom: Classroom) -> None:
    await import_course(classroom)
    path = f"/api/rooms/{classroom.room_id}/exercises/greet/submissions"
    async with httpx.AsyncClient(base_url=classroom.server.url, timeout=60) as http:
        for code in (GREET, "print('Hello, world!')\n"):
            response = await http.post(
                path, json={"files": {"main.py": code}}, headers=classroom.alice.headers
            )
            assert response.status_code == 201, response.text
    page = await open_page(
        await signed_in(browser, classroom.server, classroom.teacher),
        classroom.url(f"/classrooms/{classroom.classroom['id']}/gradebook"),
    )
    table = page.get_by_test_id("gradebook").locator("table")
    alice = table.locator("tr", has_text="Alice")
    column = await table.locator("thead th").all_inner_texts()
    greet = next(i for i, text in enumerate(column) if text.startswith("Greet by name"))
    cell = alice.locator("td").nth(greet - 1)
    await expect(cell).to_contain_text("attempt 1 of 2")
    await expect(table.locator("tr", has_text="Bob").locator("td").nth(greet - 1)).to_contain_text(
        "not attempted"
    )
    await page.get_by_label("the latest attempt").check()
    await expect(cell).to_contain_text("attempt 2 of 2")
    await expect(page.get_by_role("link", name="Export CSV")).to_have_attribute(
        "href", f"/api/classrooms/{classroom.classroom['id']}/grades.csv?keep=latest"
    )
    await screenshot(page, "lesson-gradebook")


async def test_demo_picker_shows_the_running_demo_and_copy_keeps_the_language(
    browser: Browser, classroom: Classroom
) -> None:
    await import_course(classroom)
    teacher_ctx = await signed_in(browser, classroom.server, classroom.teacher)
    dashboard = await open_page(teacher_ctx, classroom.url(f"/dashboard?room={classroom.room_id}"))
    await expect(dashboard.locator("#live-status")).to_have_text("live")
    bar = dashboard.get_by_test_id("lesson-bar")
    await bar.get_by_label("Choose a demo").select_option(label="Bubble sort, step by step")
    await bar.get_by_role("button", name="Start").click()
    await expect(bar.get_by_role("button", name="Previous step")).to_be_disabled()
    await bar.get_by_role("button", name="Next step").click()
    await expect(bar.get_by_role("button", name="Previous step")).to_be_enabled()
    # The room page's picker shows the demo that runs, not the first of the list.
    room = await open_page(teacher_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    await expect(room.get_by_label("Choose a demo")).to_have_value("bubble-sort")
    await expect(room.get_by_role("button", name="Restart")).to_be_visible()

    alice = await student_page(browser, classroom)
    await alice.get_by_label("Language").select_option(label="C")
    await expect(alice.get_by_test_id("doc-name")).to_have_text("main.c")
    await wait_synced(alice)
    await put_code(alice, "int main(void) { return 0; }\n")
    await expect(alice.locator(".demo-code .cm-content")).to_contain_text("def bubble_sort")
    # Python demo code never lands in a C file: it goes to main.py, and the page says so.
    await alice.get_by_role("button", name="Copy into my file").click()
    await expect(alice.get_by_test_id("doc-name")).to_have_text("main.py")
    await wait_text(alice, "def bubble_sort")
    await expect(alice.get_by_test_id("toasts")).to_contain_text("now in main.py")
    await alice.get_by_test_id("file-select").select_option(label="main.c")
    await wait_text(alice, r"^int main\(void\) \{ return 0; \}\n$")

    # The quiz: its controls in the lesson bar, one tally for the teacher, the right choice
    # marked once it closes.
    position = dashboard.get_by_test_id("demo-position")
    for step in range(3, 7):  # from step 2 to step 6, the quiz
        await bar.get_by_role("button", name="Next step").click()
        await expect(position).to_have_text(re.compile(rf"^Step {step} of 10"))
    await expect(position).to_have_text("Step 6 of 10 — Quick check")
    await alice.get_by_label("About n²/2").check()
    await alice.get_by_role("button", name="Answer").click()
    await expect(alice.locator(".quiz [role=status]")).not_to_have_text("")
    await bar.get_by_role("button", name="Show answers so far").click()
    await expect(dashboard.get_by_test_id("quiz-tally")).to_have_count(1)
    await expect(dashboard.get_by_test_id("quiz-tally").locator(".bar-count")).to_have_text(
        ["0", "1", "0"]
    )
    await bar.get_by_role("button", name="Close quiz").click()
    for page in (dashboard, alice):
        await expect(page.locator(".quiz .choice.correct")).to_have_text(" About n²/2")
    await screenshot(dashboard, "lesson-quiz-closed")
