"""The lesson in real browsers: a spotlight on the projector page within a second, a push
landing in many students' editors without overwriting typed text, pairing a class of 31 (real
sockets; browsers for a few), and the progress page's chart and radar."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import Account
from tests.support.docs import fetch_text
from tests.support.events import EventClient
from tests.web.conftest import Classroom, open_page, screenshot, signed_in
from tests.web.test_room import wait_synced, wait_text

pytestmark = pytest.mark.chromium
DATABASES = ("sqlite",)


async def _join(http: httpx.AsyncClient, code: str, name: str) -> Account:
    joined = (await http.post("/api/join", json={"join_code": code, "name": name})).json()
    return Account(joined["user"]["id"], name, joined["token"])


async def _lesson(classroom: Classroom, path: str, body: dict[str, object]) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=classroom.server.url) as http:
        response = await http.post(
            f"/api/rooms/{classroom.room_id}/{path}", json=body, headers=classroom.teacher.headers
        )
    assert response.status_code == 200, response.text
    reply: dict[str, object] = response.json()
    return reply


async def test_a_spotlight_reaches_the_projector_within_a_second(
    browser: Browser, classroom: Classroom
) -> None:
    alice_ctx = await signed_in(browser, classroom.server, classroom.alice)
    alice = await open_page(alice_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    await wait_synced(alice)
    await alice.get_by_test_id("editor").locator(".cm-content").click()
    await alice.keyboard.type("answer = 42")

    teacher_ctx = await signed_in(browser, classroom.server, classroom.teacher)
    projector = await open_page(teacher_ctx, classroom.url(f"/rooms/{classroom.room_id}/projector"))
    await expect(projector.locator(".topbar")).to_have_count(0)  # no chrome
    doc = f"students/{classroom.alice.id}/main.py"
    started = time.monotonic()
    await _lesson(classroom, "lesson/spotlight", {"user_id": classroom.alice.id, "doc": doc})
    await projector.wait_for_function(
        "() => window.classroom && /answer = 42/.test(window.classroom.view.state.doc.toString())",
        timeout=1_000,
    )
    assert time.monotonic() - started < 1.0
    await expect(projector.get_by_test_id("spotlight-title")).to_have_text("Alice")
    # Live: what Alice types next appears; the projector cannot type.
    await alice.keyboard.type("\nprint(answer)")
    await wait_text(projector, r"print\(answer\)")
    assert await projector.locator(".cm-content").get_attribute("contenteditable") == "false"

    # Hidden name, announcement and countdown reach the projector and late joiners.
    await _lesson(
        classroom,
        "lesson/spotlight",
        {"user_id": classroom.alice.id, "doc": doc, "show_name": False},
    )
    await _lesson(classroom, "lesson/announce", {"text": "Pens down"})
    await _lesson(classroom, "lesson/countdown", {"seconds": 90})
    bob_ctx = await signed_in(browser, classroom.server, classroom.bob)
    bob = await open_page(bob_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    await expect(bob.get_by_test_id("announcement")).to_have_text("Pens down")
    await expect(bob.get_by_test_id("countdown")).to_be_visible()
    await expect(projector.get_by_test_id("announcement")).to_have_text("Pens down")
    await screenshot(projector, "lesson-projector")
    await _lesson(classroom, "lesson/spotlight", {})
    await expect(projector.get_by_test_id("spotlight-title")).to_have_text("Lesson 1")


async def _typed_then_pushed(page: Page, typed: str | None) -> None:
    await wait_synced(page)
    if typed is not None:
        await page.get_by_test_id("editor").locator(".cm-content").click()
        await page.keyboard.type(typed)


async def test_a_push_lands_in_many_editors_without_overwriting_typed_text(
    browser: Browser, classroom: Classroom
) -> None:
    async with httpx.AsyncClient(base_url=classroom.server.url) as http:
        others = [await _join(http, classroom.classroom["join_code"], f"S{i}") for i in range(28)]
    students = [classroom.alice, classroom.bob, *others]  # 30
    # Three browsers (one types first); the other 27 students' files are pushed too.
    pages = []
    for account in students[:3]:
        ctx = await signed_in(browser, classroom.server, account)
        pages.append(await open_page(ctx, classroom.url(f"/rooms/{classroom.room_id}")))
    await asyncio.gather(
        *(_typed_then_pushed(p, t) for p, t in zip(pages, ["mine()", None, None], strict=True))
    )
    await wait_text(pages[0], r"^mine\(\)$")
    reply = await _lesson(
        classroom,
        "lesson/push",
        {"files": {"main.py": "def solve():\n    pass\n"}, "only_empty": True},
    )
    assert reply["students"] == 30 and reply["written"] == 29 and reply["skipped"] == 1
    for page in pages[1:]:
        await wait_text(page, r"^def solve\(\):\n    pass\n$")
    assert await pages[0].evaluate("window.classroom.view.state.doc.toString()") == "mine()"
    # Every student's file, read fresh over a real socket, holds the push (27 without a browser).
    texts = await asyncio.gather(
        *(
            fetch_text(
                classroom.server.ws_url, classroom.room_id, f"students/{s.id}/main.py", s.token
            )
            for s in students
        )
    )
    assert texts[0] == "mine()"
    assert set(texts[1:]) == {"def solve():\n    pass\n"}
    await screenshot(pages[1], "lesson-pushed")


async def test_pairing_a_class_of_31_in_one_click(browser: Browser, classroom: Classroom) -> None:
    async with httpx.AsyncClient(base_url=classroom.server.url) as http:
        others = [await _join(http, classroom.classroom["join_code"], f"P{i}") for i in range(29)]
    students = [classroom.alice, classroom.bob, *others]  # 31
    ws = classroom.server.ws_url
    # 28 students on real event sockets, 3 in browsers.
    sockets = [await EventClient.open(ws, classroom.room_id, s.token) for s in students[3:]]
    try:
        for client in sockets:
            await client.expect("room.snapshot")
        pages = []
        for account in students[:3]:
            ctx = await signed_in(browser, classroom.server, account)
            page = await open_page(ctx, classroom.url(f"/rooms/{classroom.room_id}"))
            await wait_synced(page)
            pages.append(page)
        teacher_ctx = await signed_in(browser, classroom.server, classroom.teacher)
        teacher = await open_page(teacher_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
        await teacher.locator("#pair-strategy").select_option("mixed")
        await teacher.locator("#pair-rotate").fill("10")
        await teacher.locator("#pair-class").click()  # the one click
        groups = teacher.get_by_test_id("pairs").locator("li")
        await expect(groups).to_have_count(15)
        # Each pair with its progress: XP of its members and the last edit of its files.
        await expect(groups.get_by_test_id("pair-progress").first).to_contain_text("0 XP")
        mine = [await client.expect("pairs.yours") for client in sockets]
        listed = {m["group"]: m for m in mine}
        members = sorted(uid for m in listed.values() for uid in m["members"])
        assert len(listed) <= 15
        assert all(len(m["members"]) in (2, 3) for m in mine)
        assert sum(len(m["members"]) == 3 for m in listed.values()) <= 1
        assert set(members) <= {s.id for s in students}
        assert all(m["rotate_in"] == 600 for m in mine)
        # The browsers moved to their pair's file and show their role.
        for page in pages:
            doc_name = page.locator("#doc-name")
            await expect(doc_name).to_have_attribute(
                "data-doc", re.compile(r"^pairs/r1g\d+/main\.py$")
            )
            await expect(doc_name).to_have_text("main.py (shared with your partner)")
            await expect(page.get_by_test_id("pair-role")).to_have_text(
                re.compile("You drive|You navigate")
            )
        await screenshot(teacher, "lesson-pairs")
    finally:
        await asyncio.gather(*(client.close() for client in sockets))


async def test_the_progress_page_draws_the_chart_and_the_radar(
    browser: Browser, classroom: Classroom
) -> None:
    # XP and progress as grading records them (two days of XP, one exercise passed).
    from datetime import UTC, datetime, timedelta

    from server.models import ExerciseRecord, Progress, XpEvent
    from server.store import Store

    store = Store(classroom.server.settings.database_url)
    try:
        async with store.session() as s:
            cid = classroom.classroom["id"]
            for slug, tags in (("loops", ["loops", "basics"]), ("strings", ["strings"])):
                s.add(
                    ExerciseRecord(
                        classroom_id=cid,
                        exercise_id=slug,
                        title=slug,
                        language="python",
                        definition={"tags": tags},
                    )
                )
            s.add(
                Progress(
                    user_id=classroom.alice.id,
                    classroom_id=cid,
                    exercise_id="loops",
                    attempts=1,
                    best_score=10,
                    max_score=10,
                    passed=True,
                )
            )
            now = datetime.now(UTC)
            for days, amount in ((1, 30), (0, 20)):
                s.add(
                    XpEvent(
                        user_id=classroom.alice.id,
                        classroom_id=cid,
                        amount=amount,
                        reason="first_pass",
                        created_at=now - timedelta(days=days),
                    )
                )
            s.add(
                XpEvent(user_id=classroom.bob.id, classroom_id=cid, amount=10, reason="first_pass")
            )
    finally:
        await store.close()

    alice_ctx = await signed_in(browser, classroom.server, classroom.alice)
    page = await open_page(alice_ctx, classroom.url("/progress"))
    await expect(page.get_by_test_id("xp-line")).to_have_count(1)
    await expect(page.locator("[data-testid=xp-svg] circle")).to_have_count(2)
    area = page.get_by_test_id("radar-area")
    await expect(area).to_have_attribute("data-scores", "1,1,0")  # basics, loops, strings
    await expect(page.get_by_test_id("rank")).to_contain_text("Rank 1 of 2")
    await expect(page.get_by_test_id("rank")).to_contain_text("50 XP")
    await expect(page.locator(".calendar .day.on")).to_have_count(2)
    await expect(page.locator("#progress-achievements li")).not_to_have_count(0)
    await screenshot(page, "lesson-progress")

    # A student sees only their own; the instructor sees anyone's.
    async with httpx.AsyncClient(base_url=classroom.server.url) as http:
        path = f"/api/classrooms/{classroom.classroom['id']}/students/{classroom.alice.id}/progress"
        assert (await http.get(path, headers=classroom.bob.headers)).status_code == 403
        staff = await http.get(path, headers=classroom.teacher.headers)
        assert staff.status_code == 200 and staff.json()["xp"]["total"] == 50
    teacher_ctx = await signed_in(browser, classroom.server, classroom.teacher)
    seen = await open_page(
        teacher_ctx,
        classroom.url(f"/progress?classroom={classroom.classroom['id']}&user={classroom.alice.id}"),
    )
    await expect(seen.locator("#progress-title")).to_have_text("Progress · Alice")
    await expect(seen.get_by_test_id("radar-area")).to_have_count(1)
