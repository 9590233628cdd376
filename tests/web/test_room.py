"""The room page in real browsers: shared editing with cursors, offline edits that merge on
reconnect, runs streamed into the output pane, submissions and the demo."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from playwright.async_api import Browser, Page, Route, expect

from server.auth import Caller
from tests.conftest import Account
from tests.web.conftest import Classroom, open_page, screenshot, signed_in

pytestmark = pytest.mark.chromium
DATABASES = ("sqlite",)


async def wait_text(page: Page, pattern: str) -> None:
    """Wait until the page's editor holds text matching ``pattern`` (a JS regular expression).

    The editor's DOM also holds remote carets with names, so read CodeMirror's own state."""
    await page.wait_for_function(
        "(p) => new RegExp(p).test(window.classroom.view.state.doc.toString())",
        arg=pattern,
        timeout=15_000,
    )


async def wait_synced(page: Page) -> None:
    await expect(page.get_by_test_id("doc-status")).to_have_text("Saved", timeout=15_000)


async def test_student_types_and_the_instructor_sees_text_and_cursor(
    browser: Browser, classroom: Classroom
) -> None:
    alice_ctx = await signed_in(browser, classroom.server, classroom.alice)
    alice = await open_page(alice_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    await wait_synced(alice)
    doc = f"students/{classroom.alice.id}/main.py"
    # Her own file by its name; the instructor's header names whose file it is.
    await expect(alice.locator("#doc-name")).to_have_text("main.py")
    content = alice.get_by_test_id("editor").locator(".cm-content")
    await content.click()
    await alice.keyboard.type("total = 1 + 2")

    teacher_ctx = await signed_in(browser, classroom.server, classroom.teacher)
    teacher = await open_page(teacher_ctx, classroom.url(f"/rooms/{classroom.room_id}?doc={doc}"))
    await wait_synced(teacher)
    await expect(teacher.locator("#doc-name")).to_have_text("Alice's main.py")
    seen = teacher.get_by_test_id("editor").locator(".cm-content")
    await wait_text(teacher, r"^total = 1 \+ 2$")
    # Alice's caret, labelled with her name from awareness.
    caret = teacher.get_by_test_id("editor").locator(".cm-ySelectionInfo")
    await expect(caret).to_have_text("Alice")
    # The instructor may write into a student's file: Alice sees the edit.
    await seen.click()
    await teacher.keyboard.press("Control+End")
    await teacher.keyboard.type("\nprint(total)")
    await wait_text(alice, r"^total = 1 \+ 2\nprint\(total\)$")
    await screenshot(alice, "room-student")
    await screenshot(teacher, "room-instructor-on-student-doc")


async def test_edits_made_offline_merge_when_back(browser: Browser, classroom: Classroom) -> None:
    alice_ctx = await signed_in(browser, classroom.server, classroom.alice)
    alice = await open_page(alice_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    await wait_synced(alice)
    doc = f"students/{classroom.alice.id}/main.py"
    teacher_ctx = await signed_in(browser, classroom.server, classroom.teacher)
    teacher = await open_page(teacher_ctx, classroom.url(f"/rooms/{classroom.room_id}?doc={doc}"))
    await wait_synced(teacher)
    content = alice.get_by_test_id("editor").locator(".cm-content")
    await content.click()
    await alice.keyboard.type("a = 1")
    seen = teacher.get_by_test_id("editor").locator(".cm-content")
    await wait_text(teacher, "^a = 1$")

    await alice_ctx.set_offline(True)
    await expect(alice.get_by_test_id("doc-status")).to_have_text(re.compile("^Offline"))
    await expect(alice.locator("#events-status")).to_have_text("Room: reconnecting…")
    await alice.keyboard.type("\nb = 2")
    # Meanwhile the instructor edits the same document.
    await seen.click()
    await teacher.keyboard.press("Control+Home")
    await teacher.keyboard.type("# checked\n")
    await wait_text(teacher, r"^# checked\na = 1$")
    await alice_ctx.set_offline(False)
    await wait_synced(alice)
    merged = r"^# checked\na = 1\nb = 2$"
    await wait_text(alice, merged)
    await wait_text(teacher, merged)
    await expect(alice.locator("#events-status")).to_have_text("Room: live")


async def test_a_browser_that_believes_it_is_offline_still_comes_back(
    browser: Browser, classroom: Classroom
) -> None:
    """A machine whose only interface is loopback (a teacher trying the server on a laptop with
    every network down): Chromium says ``navigator.onLine`` is false from the start and never
    fires ``offline``. When the server closes Alice's sockets to have them reconnect (her
    access changed: 1012), her room socket must come back, not wait for an ``online`` event
    that never comes."""
    alice_ctx = await signed_in(browser, classroom.server, classroom.alice)
    await alice_ctx.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'onLine', { get: () => false });"
    )
    alice = await open_page(alice_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    status = alice.locator("#events-status")
    await expect(status).to_have_text("Room: live")
    assert await alice.evaluate("navigator.onLine") is False

    sessions = classroom.server.state.security.sessions
    async with alice.expect_websocket(lambda ws: "/ws/rooms/" in ws.url, timeout=15_000):
        await classroom.server.on_server_loop(sessions.announce(classroom.alice.id, "role"))
    await expect(status).to_have_text("Room: live")


async def test_the_room_is_live_once_the_server_has_let_the_page_in(
    browser: Browser, classroom: Classroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The room socket is open as soon as the server accepts it, but the server then checks the
    ticket and joins the page to the room. Until the room's snapshot has come, the page must not
    say "Room: live" nor let Run be pressed: an event sent meanwhile would not reach it, and a
    refusal could still follow."""
    sessions = classroom.server.state.security.sessions
    let_in = asyncio.Event()  # set on the server's loop
    redeem = sessions.redeem

    async def held_back(ticket: str) -> Caller:
        await let_in.wait()
        return await redeem(ticket)

    async def open_the_door() -> None:
        let_in.set()

    monkeypatch.setattr(sessions, "redeem", held_back)
    alice_ctx = await signed_in(browser, classroom.server, classroom.alice)
    await alice_ctx.add_init_script(
        """
        window.roomOpened = false;
        const Socket = window.WebSocket;
        window.WebSocket = class extends Socket {
          constructor(url, protocols) {
            super(url, protocols);
            if (String(url).includes("/ws/rooms/")) {
              this.addEventListener("open", () => { window.roomOpened = true; });
            }
          }
        };
        """
    )
    try:
        alice = await open_page(alice_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
        await alice.wait_for_function("() => window.roomOpened", timeout=15_000)
        status = alice.locator("#events-status")
        assert await status.text_content() == "Room: connecting…"
        assert await alice.locator("#run").is_disabled()
    finally:
        await classroom.server.on_server_loop(open_the_door())  # never leave sockets held
    await expect(status).to_have_text("Room: live")
    await expect(alice.locator("#run")).to_be_enabled()


async def test_an_online_event_while_a_retry_waits_leaves_one_room_socket(
    browser: Browser, classroom: Classroom
) -> None:
    """The server drops Alice's room socket; while her page waits to retry, the browser says
    it is online again (a network that flickered). The page reconnects once: the waiting retry
    must not open a second room socket beside the first. The clock is Playwright's, paused, so
    the retry waits until the test lets it run."""
    alice_ctx = await signed_in(browser, classroom.server, classroom.alice)
    await alice_ctx.clock.install()
    # Room sockets opened, and socket tickets being fetched (each reconnect asks for one).
    await alice_ctx.add_init_script(
        """
        window.roomSockets = 0;
        window.ticketsInFlight = 0;
        const Socket = window.WebSocket;
        window.WebSocket = class extends Socket {
          constructor(url, protocols) {
            super(url, protocols);
            if (String(url).includes("/ws/rooms/")) window.roomSockets += 1;
          }
        };
        const fetchNow = window.fetch.bind(window);
        window.fetch = (input, init) => {
          if (!String(input).includes("/api/socket-tickets")) return fetchNow(input, init);
          window.ticketsInFlight += 1;
          return fetchNow(input, init).finally(() => { window.ticketsInFlight -= 1; });
        };
        """
    )
    alice = await open_page(alice_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    status = alice.locator("#events-status")
    await expect(status).to_have_text("Room: live")
    assert await alice.evaluate("window.roomSockets") == 1

    await alice.clock.pause_at(await alice.evaluate("Date.now() + 1000"))
    sessions = classroom.server.state.security.sessions
    await classroom.server.on_server_loop(sessions.announce(classroom.alice.id, "role"))
    await expect(status).to_have_text("Room: reconnecting…")  # its retry now waits
    await alice.evaluate("window.dispatchEvent(new Event('online'))")
    await expect(status).to_have_text("Room: live")
    assert await alice.evaluate("window.roomSockets") == 2

    await alice.clock.run_for(10_000)  # past any retry's backoff
    await alice.wait_for_function("() => window.ticketsInFlight === 0", timeout=15_000)
    assert await alice.evaluate("window.roomSockets") == 2
    await expect(status).to_have_text("Room: live")


PROGRAM = """import sys
print("hello")
print("oops", file=sys.stderr)
name = input()
print("hi", name)
"""


async def put_code(page: Page, code: str) -> None:
    """Replace the document's text through its Y.Text, as a paste would."""
    await page.evaluate(
        """(code) => {
            const text = window.classroom.doc.getText("text");
            window.classroom.doc.transact(() => {
                text.delete(0, text.length);
                text.insert(0, code);
            });
        }""",
        code,
    )


@pytest.mark.bwrap
async def test_a_run_streams_stdout_and_stderr_and_takes_input(
    browser: Browser, classroom: Classroom
) -> None:
    teacher_ctx = await signed_in(browser, classroom.server, classroom.teacher)
    dashboard = await open_page(teacher_ctx, classroom.url(f"/dashboard?room={classroom.room_id}"))
    alice_ctx = await signed_in(browser, classroom.server, classroom.alice)
    alice = await open_page(alice_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    await wait_synced(alice)
    await expect(alice.locator("#events-status")).to_have_text("Room: live")
    await put_code(alice, PROGRAM)
    await alice.get_by_role("button", name="Run").click()
    output = alice.get_by_test_id("output")
    await expect(output.locator(".stream-stdout")).to_have_text("hello\n", timeout=20_000)
    await expect(output.locator(".stream-stderr")).to_have_text("error output: oops\n")
    await expect(alice.locator(".run-status")).to_have_text("Running…")
    await alice.get_by_label("Input").fill("Bob")
    await alice.get_by_label("Input").press("Enter")
    await expect(output.locator(".stream-stdout").last).to_have_text("hi Bob\n", timeout=20_000)
    await expect(output.locator(".stream-stdin")).to_have_text("Bob\n")
    await expect(alice.locator(".run-status")).to_have_text(re.compile(r"^Finished · exit code 0"))
    await expect(alice.get_by_label("Input")).to_be_disabled()
    await screenshot(alice, "room-run-output")
    # The instructor's recent runs list the run with its status.
    runs = dashboard.get_by_test_id("runs")
    await expect(runs).to_contain_text("Alice")
    await expect(runs).to_contain_text("Finished")


async def test_hostile_names_show_as_text(browser: Browser, classroom: Classroom) -> None:
    hostile = '<img src=x onerror="window.pwned=1">'
    async with httpx.AsyncClient(base_url=classroom.server.url) as http:
        joined = await http.post(
            "/api/join", json={"join_code": classroom.classroom["join_code"], "name": hostile}
        )
    mallory = Account(joined.json()["user"]["id"], hostile, joined.json()["token"])
    teacher_ctx = await signed_in(browser, classroom.server, classroom.teacher)
    teacher = await open_page(teacher_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    mallory_ctx = await signed_in(browser, classroom.server, mallory)
    page = await open_page(mallory_ctx, classroom.url(f"/rooms/{classroom.room_id}"))
    await page.get_by_role("button", name="Raise hand").click()
    members = teacher.get_by_test_id("members")
    await expect(members).to_contain_text(hostile)
    await expect(teacher.get_by_test_id("hands")).to_contain_text(hostile)
    assert await teacher.locator("#main img").count() == 0
    assert await teacher.evaluate("window.pwned") is None
    assert await page.evaluate("window.pwned") is None


async def test_buttons_that_send_over_the_room_socket_wait_for_it(
    browser: Browser, classroom: Classroom
) -> None:
    """A click made while the page is still connecting is not lost: Raise hand and Run are
    disabled until the room socket is live (its socket ticket is held back here)."""
    alice_ctx = await signed_in(browser, classroom.server, classroom.alice)
    page = await alice_ctx.new_page()
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold(route: Route) -> None:
        holding.set()
        await release.wait()
        await route.continue_()

    await page.route("**/api/socket-tickets", hold)
    await page.goto(classroom.url(f"/rooms/{classroom.room_id}"))
    status = page.locator("#events-status")
    await asyncio.wait_for(holding.wait(), 15)  # a socket's ticket asked for, and held
    await expect(status).to_have_text("Room: connecting…")
    await expect(page.get_by_role("button", name="Raise hand")).to_be_disabled()
    await expect(page.get_by_role("button", name="Run")).to_be_disabled()
    release.set()
    await expect(status).to_have_text("Room: live")
    await expect(page.get_by_role("button", name="Run")).to_be_enabled()
    await page.get_by_role("button", name="Raise hand").click()
    await expect(page.get_by_role("button", name="Lower hand")).to_be_visible()


async def test_a_pair_shares_one_document(browser: Browser, classroom: Classroom) -> None:
    async with httpx.AsyncClient(base_url=classroom.server.url) as http:
        made = await http.post(
            f"/api/classrooms/{classroom.classroom['id']}/rooms",
            json={"title": "Pairs", "kind": "pair"},
            headers=classroom.teacher.headers,
        )
    room = made.json()["id"]
    alice = await open_page(
        await signed_in(browser, classroom.server, classroom.alice), classroom.url(f"/rooms/{room}")
    )
    # Not paired yet: her own file.
    await expect(alice.locator("#doc-name")).to_have_attribute(
        "data-doc", f"students/{classroom.alice.id}/main.py"
    )

    teacher = await open_page(
        await signed_in(browser, classroom.server, classroom.teacher),
        classroom.url(f"/dashboard?room={room}"),
    )
    pairing = teacher.get_by_role("form", name="Make a pair")
    await pairing.get_by_label("Alice").check()
    await pairing.get_by_label("Bob").check()
    await pairing.get_by_role("button", name="Pair them").click()
    shared = "pairs/pair-1/main.py"
    await expect(teacher.locator(f'li.tile[data-doc="{shared}"] .tile-head')).to_contain_text(
        "Alice & Bob"
    )
    await expect(alice.locator("#doc-name")).to_have_attribute("data-doc", shared, timeout=15_000)
    await expect(alice.locator("#doc-name")).to_have_text("main.py (shared with your partner)")
    bob = await open_page(
        await signed_in(browser, classroom.server, classroom.bob), classroom.url(f"/rooms/{room}")
    )
    await expect(bob.locator("#doc-name")).to_have_attribute("data-doc", shared)
    await wait_synced(alice)
    await wait_synced(bob)
    await alice.get_by_test_id("editor").locator(".cm-content").click()
    await alice.keyboard.type("pair = True")
    await wait_text(bob, "^pair = True$")
    await expect(bob.get_by_test_id("editor").locator(".cm-ySelectionInfo")).to_have_text("Alice")
    await screenshot(bob, "room-pair")


@pytest.mark.bwrap
async def test_each_language_keeps_its_own_file(browser: Browser, classroom: Classroom) -> None:
    alice = await open_page(
        await signed_in(browser, classroom.server, classroom.alice),
        classroom.url(f"/rooms/{classroom.room_id}"),
    )
    await wait_synced(alice)
    await expect(alice.locator("#events-status")).to_have_text("Room: live")
    await put_code(alice, "print('from python')\n")
    await alice.get_by_label("Language").select_option(label="JavaScript")
    await expect(alice.locator("#doc-name")).to_have_attribute(
        "data-doc", f"students/{classroom.alice.id}/main.js"
    )
    await wait_synced(alice)
    await wait_text(alice, "^$")
    await put_code(alice, "console.log(6 * 7);\n")
    # Keyboard only: Ctrl+Enter in the editor runs the file.
    await alice.get_by_test_id("editor").locator(".cm-content").press("Control+Enter")
    await expect(alice.get_by_test_id("output")).to_have_text("42\n", timeout=20_000)
    await alice.get_by_label("Language").select_option(label="Python")
    await wait_synced(alice)
    await wait_text(alice, r"^print\('from python'\)\n$")
