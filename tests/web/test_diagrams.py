"""Mermaid diagrams in demo steps, drawn in a real browser under the page's CSP, and unable to
run script whatever the course file says."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.web.conftest import Classroom, open_page, screenshot, signed_in
from tests.web.test_demo import upload_demo

pytestmark = pytest.mark.chromium
DATABASES = ("sqlite",)

DIAGRAM_DEMO = '''
id = "flow"
title = "A flow"
description = "A diagram."
difficulty = "beginner"
estimated_minutes = 1

[[steps]]
id = "chart"
type = "visualization"
title = "The flow"
[steps.content]
kind = "mermaid"
text = "How a request travels."
mermaid = """
graph TD
  A["<img src=x onerror=window.pwned=1>Browser"] --> B[Server]
  B --> C{"Cached?"}
  C -->|yes| A
  click B call alert()
  click C href "javascript:window.pwned=2"
"""
'''


async def test_a_mermaid_step_is_drawn_and_runs_no_script(
    browser: Browser, classroom: Classroom
) -> None:
    await upload_demo(classroom, "flow", DIAGRAM_DEMO)
    room = classroom.url(f"/rooms/{classroom.room_id}")
    teacher = await open_page(await signed_in(browser, classroom.server, classroom.teacher), room)
    alice = await open_page(await signed_in(browser, classroom.server, classroom.alice), room)
    await expect(alice.locator("#events-status")).to_have_text("Room: live")
    await teacher.get_by_label("Choose a demo").select_option(label="A flow")
    await teacher.get_by_role("button", name="Start").click()
    figure = alice.locator(".viz-mermaid")
    await expect(figure).to_have_attribute("data-state", "drawn", timeout=20_000)
    drawing = figure.locator(".viz-diagram svg")
    await expect(drawing).to_have_count(1)
    await expect(drawing.locator("g.node")).to_have_count(3)
    await expect(drawing).to_contain_text("Server")
    assert await alice.evaluate("window.pwned") is None
    assert await drawing.locator("script, foreignObject, img, a").count() == 0
    await drawing.locator("g.node").nth(1).dispatch_event("click")
    await drawing.locator("g.node").nth(2).dispatch_event("click")
    assert await alice.evaluate("window.pwned") is None
    # The source stays one click away.
    await expect(figure.locator("details pre")).to_contain_text("graph TD")
    await screenshot(alice, "demo-mermaid")


async def test_a_course_image_shows_in_a_demo_step_from_our_origin(
    browser: Browser, classroom: Classroom
) -> None:
    import httpx

    from tests.server.courses.test_assets import DEMO, course
    from tests.support.media import png

    async with httpx.AsyncClient(base_url=classroom.server.url) as http:
        response = await http.post(
            f"/api/classrooms/{classroom.classroom['id']}/course",
            content=course({"demos/pictures.toml": DEMO.encode(), "assets/tree.png": png(3, 2)}),
            headers={**classroom.teacher.headers, "content-type": "application/zip"},
        )
    assert response.status_code == 200, response.text
    room = classroom.url(f"/rooms/{classroom.room_id}")
    teacher = await open_page(await signed_in(browser, classroom.server, classroom.teacher), room)
    alice = await open_page(await signed_in(browser, classroom.server, classroom.alice), room)
    await expect(alice.locator("#events-status")).to_have_text("Room: live")
    await teacher.get_by_label("Choose a demo").select_option(label="Pictures")
    await teacher.get_by_role("button", name="Start").click()
    image = alice.get_by_test_id("demo-text").locator("img")
    await expect(image).to_have_attribute(
        "src", f"/api/classrooms/{classroom.classroom['id']}/assets/tree.png"
    )
    await alice.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=demo-text] img');"
        " return i && i.complete && i.naturalWidth === 3; }",
        timeout=10_000,
    )
