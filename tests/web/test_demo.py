"""A live demo in real browsers: the instructor starts and advances it from the room page,
a student follows (Markdown, the demo document's code, a visualization), detaches and follows
again, and answers the quiz whose tally the instructor reveals."""

from __future__ import annotations

import io
import re
import zipfile

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.web.conftest import Classroom, open_page, screenshot, signed_in
from tests.web.test_accessibility import violations
from tests.web.test_room import put_code, wait_text

pytestmark = pytest.mark.chromium
DATABASES = ("sqlite",)

DEMO = """
id = "swaps"
title = "Swapping neighbours"
description = "A short demo with every kind of step."
difficulty = "beginner"
estimated_minutes = 5

[[steps]]
id = "idea"
type = "explanation"
title = "The idea"
[steps.content]
text = "Swap **neighbours** that are out of order."
[steps.timing]
auto_advance = true
duration = 600
pause_points = [0.3]

[[steps]]
id = "code"
type = "code"
title = "The code"
[steps.content]
language = "python"
text = "One pass over the list."
[[steps.content.files]]
path = "main.py"
text = "items = [2, 1]\\nitems[0], items[1] = items[1], items[0]\\nprint(items)\\n"
highlight = [2]

[[steps]]
id = "trace"
type = "visualization"
title = "Traced"
[steps.content]
kind = "array"
text = "Watch the swap."
[[steps.content.frames]]
values = [2, 1]
highlight = [0, 1]
note = "2 > 1: swap"
[[steps.content.frames]]
values = [1, 2]
note = "sorted"

[[steps]]
id = "check"
type = "interaction"
title = "Quick check"
[steps.content]
kind = "single"
question = "How many swaps sort [2, 1]?"
[[steps.content.choices]]
text = "None"
[[steps.content.choices]]
text = "One"
correct = true
"""


HOSTILE_DEMO = """
id = "hostile"
title = "Hostile text"
description = "Markup that must not run."
difficulty = "beginner"
estimated_minutes = 1

[[steps]]
id = "bad"
type = "explanation"
title = "Bad"
[steps.content]
text = '''
<img src="x" onerror="window.pwned = 1">

<script>window.pwned = 2</script>

[a link](javascript:window.pwned=3) and *emphasis*
'''
"""


async def upload_demo(classroom: Classroom, name: str = "swaps", text: str = DEMO) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"demos/{name}.toml", text)
    async with httpx.AsyncClient(base_url=classroom.server.url) as http:
        response = await http.post(
            f"/api/classrooms/{classroom.classroom['id']}/course",
            content=buffer.getvalue(),
            headers={**classroom.teacher.headers, "content-type": "application/zip"},
        )
    assert response.status_code == 200, response.text


async def test_students_follow_the_demo_detach_and_answer_the_quiz(
    browser: Browser, classroom: Classroom
) -> None:
    await upload_demo(classroom)
    room = f"/rooms/{classroom.room_id}"
    teacher_ctx = await signed_in(browser, classroom.server, classroom.teacher, bypass_csp=True)
    teacher = await open_page(teacher_ctx, classroom.url(room))
    await expect(teacher.locator("#events-status")).to_have_text("Room: live")
    alice_ctx = await signed_in(browser, classroom.server, classroom.alice, bypass_csp=True)
    alice = await open_page(alice_ctx, classroom.url(room))
    await expect(alice.locator("#events-status")).to_have_text("Room: live")
    position = alice.get_by_test_id("demo-position")
    await expect(position).to_have_text("No demo running.")
    # Nothing to step through or stop yet.
    for name in ("Previous step", "Next step", "Stop demo"):
        await expect(teacher.get_by_role("button", name=name, exact=True)).to_be_disabled()

    await teacher.get_by_label("Choose a demo").select_option(label="Swapping neighbours")
    await teacher.get_by_role("button", name="Start").click()
    await expect(position).to_have_text("Step 1 of 4 — The idea")
    await expect(alice.get_by_test_id("demo-text").locator("strong")).to_have_text("neighbours")
    await expect(teacher.get_by_role("button", name="Previous step")).to_be_disabled()
    await expect(teacher.get_by_role("button", name="Stop demo")).to_be_enabled()
    # The step stops at its pause point; the instructor resumes it.
    resume = teacher.get_by_role("button", name="Resume")
    await expect(resume).to_be_visible()
    await expect(alice.locator("#demo .badge")).to_have_text("Paused")
    await resume.click()
    await expect(resume).to_be_hidden()
    await expect(alice.locator("#demo .badge")).to_have_text("")

    next_step = teacher.get_by_role("button", name="Next step")
    await next_step.click()
    await expect(position).to_have_text("Step 2 of 4 — The code")
    demo_code = alice.locator(".demo-code .cm-content")
    await expect(demo_code).to_contain_text("items[0], items[1] = items[1], items[0]")
    # The step highlights line 2 of the file.
    await expect(demo_code.locator(".cm-demo-highlight")).to_have_text(
        "items[0], items[1] = items[1], items[0]"
    )
    await screenshot(alice, "room-demo-code")
    # She takes the demo's code into her own file.
    await alice.get_by_role("button", name="Copy into my file").click()
    await wait_text(alice, r"^items = \[2, 1\]\nitems\[0\]")

    await alice.get_by_role("button", name="Detach").click()
    await expect(teacher.get_by_text("0 of 1 students following, 1 detached")).to_be_visible()
    await next_step.click()
    await expect(teacher.get_by_test_id("demo-position")).to_have_text("Step 3 of 4 — Traced")
    await expect(position).to_have_text("Detached at step 2; the class is at step 3.")
    await alice.get_by_role("button", name="Follow").click()
    await expect(position).to_have_text("Step 3 of 4 — Traced")
    cells = alice.locator(".viz-array .cell")
    await expect(cells).to_have_count(2)
    await expect(cells.first).to_have_class("cell hot")
    await expect(alice.locator(".viz figcaption")).to_have_text("2 > 1: swap")
    await alice.get_by_role("button", name="Next frame").click()
    await expect(alice.locator(".viz figcaption")).to_have_text("sorted")
    await screenshot(alice, "room-demo-visualization")
    assert await violations(alice) == []

    await next_step.click()
    await expect(position).to_have_text("Step 4 of 4 — Quick check")
    await expect(next_step).to_be_disabled()  # the last step
    await alice.get_by_label("One", exact=True).check()
    await alice.get_by_role("button", name="Answer").click()
    await expect(alice.locator(".quiz [role=status]")).not_to_have_text("")
    await teacher.get_by_role("button", name="Show answers so far").click()
    tally = teacher.get_by_test_id("quiz-tally")
    await expect(tally.locator(".bar-count")).to_have_text(["0", "1"])
    await teacher.get_by_role("button", name="Close quiz").click()
    await expect(alice.get_by_test_id("quiz-answer")).to_have_text("Answer: One")
    # The right choice is marked on the choices, for the class and the instructor.
    for page in (alice, teacher):
        await expect(page.locator(".quiz .choice.correct")).to_have_text(" One")
    await screenshot(teacher, "room-demo-instructor-quiz")
    assert await violations(teacher) == []
    await expect(alice.locator(".quiz [role=status]")).to_contain_text("Correct")


async def test_demo_markdown_is_sanitised(browser: Browser, classroom: Classroom) -> None:
    await upload_demo(classroom, "hostile", HOSTILE_DEMO)
    room = f"/rooms/{classroom.room_id}"
    teacher = await open_page(
        await signed_in(browser, classroom.server, classroom.teacher), classroom.url(room)
    )
    alice = await open_page(
        await signed_in(browser, classroom.server, classroom.alice), classroom.url(room)
    )
    await expect(alice.locator("#events-status")).to_have_text("Room: live")
    await teacher.get_by_label("Choose a demo").select_option(label="Hostile text")
    await teacher.get_by_role("button", name="Start").click()
    text = alice.get_by_test_id("demo-text")
    await expect(text.locator("em")).to_have_text("emphasis")
    assert await text.locator("script").count() == 0
    assert await text.locator("img").get_attribute("onerror") is None
    await expect(text).to_contain_text("a link")
    hrefs = await text.locator("a").evaluate_all("(links) => links.map((a) => a.href)")
    assert not any(h.startswith("javascript:") for h in hrefs), hrefs
    await text.get_by_text("a link").click()
    for page in (alice, teacher):
        assert await page.evaluate("window.pwned") is None


async def test_live_coding_without_a_demo(browser: Browser, classroom: Classroom) -> None:
    room = f"/rooms/{classroom.room_id}"
    teacher = await open_page(
        await signed_in(browser, classroom.server, classroom.teacher), classroom.url(room)
    )
    alice = await open_page(
        await signed_in(browser, classroom.server, classroom.alice), classroom.url(room)
    )
    await expect(alice.get_by_test_id("demo-position")).to_have_text("No demo running.")
    await expect(alice.locator(".demo-code")).to_be_hidden()
    # The instructor's own editor is the room's demo document.
    await expect(teacher.locator("#doc-name")).to_have_attribute("data-doc", "demo")
    await expect(teacher.get_by_test_id("doc-status")).to_have_text("Saved", timeout=15_000)
    await teacher.get_by_test_id("editor").locator(".cm-content").click()
    await teacher.keyboard.type("x = 42")
    code = alice.locator(".demo-code")
    await expect(code).to_be_visible()
    await expect(alice.get_by_test_id("demo-position")).to_have_text(
        "Live code from your instructor:"
    )
    await expect(code.locator(".cm-line").first).to_contain_text("x = 42")
    await expect(code.locator(".cm-ySelectionInfo")).to_have_text("Ada")


CHECKED = """
id = "three"
title = "Print three"
description = "A step checked by running the student's file."
difficulty = "beginner"
estimated_minutes = 2

[[steps]]
id = "your-turn"
type = "code"
title = "Your turn"
[steps.content]
language = "python"
text = "Print 3."
[[steps.content.files]]
path = "main.py"
text = "# print 3 here\\n"
[steps.validation]
language = "python"
student_file = "main.py"
expected_stdout = "3\\n"
"""


@pytest.mark.bwrap
async def test_a_step_is_checked_by_running_the_students_code(
    browser: Browser, classroom: Classroom
) -> None:
    await upload_demo(classroom, "three", CHECKED)
    room = f"/rooms/{classroom.room_id}"
    teacher = await open_page(
        await signed_in(browser, classroom.server, classroom.teacher), classroom.url(room)
    )
    alice = await open_page(
        await signed_in(browser, classroom.server, classroom.alice), classroom.url(room)
    )
    await expect(alice.locator("#events-status")).to_have_text("Room: live")
    await teacher.get_by_label("Choose a demo").select_option(label="Print three")
    await teacher.get_by_role("button", name="Start").click()
    check = alice.get_by_test_id("demo-check")
    await expect(check).to_have_text("Run your main.py to check this step.")
    await expect(alice.get_by_test_id("doc-status")).to_have_text("Saved")
    await put_code(alice, "print(2)\n")
    await alice.get_by_role("button", name="Run").click()
    await expect(check).to_have_text(re.compile("^✘ Not yet"), timeout=20_000)
    await put_code(alice, "print(3)\n")
    await alice.get_by_role("button", name="Run").click()
    await expect(check).to_have_text("✔ Step complete.", timeout=20_000)
    await expect(teacher.get_by_test_id("demo-check")).to_have_text(
        "1 of 1 students completed this step."
    )


SHAPES = """
id = "shapes"
title = "Trees and graphs"
description = "Visualization frames drawn as SVG."
difficulty = "beginner"
estimated_minutes = 2

[[steps]]
id = "tree"
type = "visualization"
title = "A tree"
[steps.content]
kind = "tree"
[[steps.content.frames]]
nodes = ["8", "4", "12", "2", "6", "10", "14"]
edges = [["8", "4"], ["8", "12"], ["4", "2"], ["4", "6"], ["12", "10"], ["12", "14"]]
highlight = ["4"]
note = "go left"

[[steps]]
id = "graph"
type = "visualization"
title = "A graph"
[steps.content]
kind = "graph"
[[steps.content.frames]]
nodes = ["a", "b", "c"]
edges = [["a", "b"], ["b", "c"], ["c", "a"]]
"""


async def test_tree_and_graph_frames_are_drawn(browser: Browser, classroom: Classroom) -> None:
    await upload_demo(classroom, "shapes", SHAPES)
    room = f"/rooms/{classroom.room_id}"
    teacher = await open_page(
        await signed_in(browser, classroom.server, classroom.teacher), classroom.url(room)
    )
    alice = await open_page(
        await signed_in(browser, classroom.server, classroom.alice), classroom.url(room)
    )
    await expect(alice.locator("#events-status")).to_have_text("Room: live")
    await teacher.get_by_label("Choose a demo").select_option(label="Trees and graphs")
    await teacher.get_by_role("button", name="Start").click()
    tree = alice.locator("svg.viz-tree")
    await expect(tree.locator("circle")).to_have_count(7)
    await expect(tree.locator("line")).to_have_count(6)
    await expect(tree.locator("circle.hot")).to_have_count(1)
    await expect(alice.locator(".viz figcaption")).to_have_text("go left")
    # The root is drawn above its children, the leaves on the bottom row.
    heights = await tree.locator("text").evaluate_all(
        "(labels) => Object.fromEntries(labels.map((t) => [t.textContent, +t.getAttribute('y')]))"
    )
    assert heights["8"] < heights["4"] == heights["12"] < heights["2"] == heights["14"]
    await teacher.get_by_role("button", name="Next step").click()
    graph = alice.locator("svg.viz-graph")
    await expect(graph.locator("circle")).to_have_count(3)
    await expect(graph.locator("line[marker-end]")).to_have_count(3)
    await expect(graph.locator("text")).to_have_text(["a", "b", "c"])
    await screenshot(alice, "room-demo-graph")
