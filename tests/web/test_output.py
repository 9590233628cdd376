"""The output pane over a lossy link: a run.output frame that never arrives is noticed by its
sequence number and the whole output is fetched again (run.fetch → run.chunks)."""

from __future__ import annotations

import json
import re

import pytest
from playwright.async_api import Browser, WebSocketRoute, expect

from tests.web.conftest import Classroom, open_page, signed_in
from tests.web.test_room import put_code, wait_synced

pytestmark = [pytest.mark.chromium, pytest.mark.bwrap]
DATABASES = ("sqlite",)

COUNTING = """import time
for i in range(5):
    print(i, flush=True)
    time.sleep(0.1)
"""


async def test_a_lost_output_chunk_is_fetched_again(browser: Browser, classroom: Classroom) -> None:
    context = await signed_in(browser, classroom.server, classroom.alice)
    dropped: list[dict[str, object]] = []
    fetches: list[dict[str, object]] = []

    def lossy(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if isinstance(message, str) and '"run.fetch"' in message:
                fetches.append(json.loads(message))
            server.send(message)

        def to_page(message: str | bytes) -> None:
            if isinstance(message, str):
                event = json.loads(message)
                if event.get("type") == "run.output" and event.get("seq") == 1 and not dropped:
                    dropped.append(event)
                    return
            ws.send(message)

        ws.on_message(to_server)
        server.on_message(to_page)

    await context.route_web_socket(re.compile(r"/ws/rooms/"), lossy)
    page = await open_page(context, classroom.url(f"/rooms/{classroom.room_id}"))
    await wait_synced(page)
    await expect(page.locator("#events-status")).to_have_text("Room: live")
    await put_code(page, COUNTING)
    await page.get_by_role("button", name="Run").click()
    output = page.get_by_test_id("output")
    await expect(page.locator(".run-status")).to_have_text(
        re.compile(r"^Finished · exit code 0"), timeout=20_000
    )
    await expect(output).to_have_text("0\n1\n2\n3\n4\n")
    assert len(dropped) == 1  # seq 1 never reached the page, yet its text is on screen
    assert fetches and fetches[0]["after"] == -1


async def test_stop_cancels_a_running_program(browser: Browser, classroom: Classroom) -> None:
    page = await open_page(
        await signed_in(browser, classroom.server, classroom.alice),
        classroom.url(f"/rooms/{classroom.room_id}"),
    )
    await wait_synced(page)
    await expect(page.locator("#events-status")).to_have_text("Room: live")
    await put_code(page, "import time\nprint('start', flush=True)\ntime.sleep(60)\n")
    await page.get_by_role("button", name="Run").click()
    await expect(page.get_by_test_id("output")).to_have_text("start\n", timeout=20_000)
    await page.get_by_role("button", name="Stop").click()
    # Said in words, with the time the program ran (never "0 ms"), "cancelled" only once.
    status = page.locator(".run-status")
    await expect(status).to_have_text(re.compile(r"^Stopped by you · after \d"))
    assert "cancel" not in (await status.inner_text()).lower()
    assert " 0 ms" not in await status.inner_text()
    await expect(page.get_by_role("button", name="Stop")).to_be_disabled()


async def test_a_silent_program_says_it_printed_nothing(
    browser: Browser, classroom: Classroom
) -> None:
    page = await open_page(
        await signed_in(browser, classroom.server, classroom.alice),
        classroom.url(f"/rooms/{classroom.room_id}"),
    )
    await wait_synced(page)
    await expect(page.locator("#events-status")).to_have_text("Room: live")
    await put_code(page, "x = 1\n")
    await page.get_by_role("button", name="Run").click()
    await expect(page.locator(".run-status")).to_have_text(re.compile("^Finished"), timeout=20_000)
    await expect(page.get_by_test_id("output")).to_have_text("(The program printed nothing.)")
