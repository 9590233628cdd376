"""The HTML pages and the page cookie: who sees which page, what the cookie is, what a page
embeds. The browser flows themselves are in tests/web/."""

from __future__ import annotations

import json
import re

import httpx

from server.auth import COOKIE_NAME
from tests.conftest import Account, Lesson

BOOT = re.compile(r'<script type="application/json" id="boot">(.*?)</script>', re.S)


def boot_of(html: str) -> dict[str, object]:
    match = BOOT.search(html)
    assert match is not None, "page has no boot block"
    data: dict[str, object] = json.loads(match.group(1))
    return data


async def test_landing_renders_for_anyone_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert 'id="join-form"' in response.text
    assert boot_of(response.text) == {"page": "join"}
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["cache-control"] == "no-store"


async def test_session_sets_an_httponly_lax_cookie(
    client: httpx.AsyncClient, instructor: Account
) -> None:
    response = await client.post("/api/session", json={"token": instructor.token})
    assert response.status_code == 204
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}={instructor.token}")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie


async def test_session_refuses_other_sites_and_non_json(
    client: httpx.AsyncClient, instructor: Account
) -> None:
    # A cross-site form can only send text/plain or a form encoding.
    as_text = await client.post(
        "/api/session",
        content=f'{{"token": "{instructor.token}"}}',
        headers={"content-type": "text/plain"},
    )
    assert as_text.status_code == 400
    assert as_text.json()["error"]["code"] == "json_required"
    elsewhere = await client.post(
        "/api/session", json={"token": instructor.token}, headers={"origin": "https://evil.example"}
    )
    assert elsewhere.status_code == 403
    assert "set-cookie" not in as_text.headers and "set-cookie" not in elsewhere.headers
    ours = await client.post(
        "/api/session", json={"token": instructor.token}, headers={"origin": "http://testserver"}
    )
    assert ours.status_code == 204


async def test_session_refuses_a_forged_token_and_sets_nothing(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/session", json={"token": "not-a-token"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"
    assert "set-cookie" not in response.headers
    empty = await client.post("/api/session", json={})
    assert empty.status_code == 400


async def test_dashboard_needs_an_instructor_cookie(
    client: httpx.AsyncClient, instructor: Account, lesson: Lesson
) -> None:
    anonymous = await client.get("/dashboard")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/dashboard"
    client.cookies.set(COOKIE_NAME, lesson.alice.token)
    student = await client.get("/dashboard")
    assert student.status_code == 303
    assert student.headers["location"] == "/"
    client.cookies.set(COOKIE_NAME, instructor.token)
    page = await client.get("/dashboard")
    assert page.status_code == 200
    boot = boot_of(page.text)
    assert boot["page"] == "dashboard" and "token" not in boot  # sockets use tickets
    assert boot["user"] == {"id": instructor.id, "name": "Ada", "kind": "instructor"}


async def test_room_page_for_members_only(client: httpx.AsyncClient, lesson: Lesson) -> None:
    path = f"/rooms/{lesson.room_id}"
    assert (await client.get(path)).headers["location"] == "/"
    client.cookies.set(COOKIE_NAME, lesson.alice.token)
    page = await client.get(path)
    assert page.status_code == 200
    boot = boot_of(page.text)
    assert boot["room_id"] == lesson.room_id and boot["role"] == "student"
    assert "Lesson 1" in page.text
    assert 'id="hands"' not in page.text  # the hands queue is for staff
    missing = await client.get("/rooms/999999")
    assert missing.status_code == 404
    assert "does not exist" in missing.text


async def test_room_page_refuses_a_member_of_another_classroom(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    other = await client.post(
        "/api/classrooms", json={"title": "Other"}, headers=lesson.teacher.headers
    )
    code = other.json()["join_code"]
    stranger = await client.post("/api/join", json={"join_code": code, "name": "Eve"})
    client.cookies.set(COOKIE_NAME, stranger.json()["token"])
    page = await client.get(f"/rooms/{lesson.room_id}")
    assert page.status_code == 403
    assert "not a member" in page.text
    assert lesson.alice.token not in page.text


async def test_names_are_escaped_in_pages(client: httpx.AsyncClient, lesson: Lesson) -> None:
    joined = await client.post(
        "/api/join",
        json={"join_code": lesson.classroom["join_code"], "name": "</script><b>x"},
    )
    client.cookies.set(COOKIE_NAME, joined.json()["token"])
    page = await client.get(f"/rooms/{lesson.room_id}")
    assert "</script><b>x" not in page.text
    assert boot_of(page.text)["user"] == {
        "id": joined.json()["user"]["id"],
        "name": "</script><b>x",
        "kind": "student",
    }


async def test_sign_out_clears_the_cookie(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/session")
    assert response.status_code == 204
    assert response.headers["set-cookie"].startswith(f'{COOKIE_NAME}="";')


async def test_bundle_is_served_gzipped(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/app.js", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.num_bytes_downloaded < 400_000 < len(response.content)
    assert "room.snapshot" in response.text  # httpx has inflated it: the real bundle


async def test_charts_are_a_bundle_of_their_own(client: httpx.AsyncClient) -> None:
    # Chart.js (the cockpit's charts) stays out of the bundle every page loads; the dashboard
    # loads static/charts.js when it draws its first chart.
    app = await client.get("/static/app.js")
    charts = await client.get("/static/charts.js", headers={"accept-encoding": "gzip"})
    assert charts.status_code == 200
    assert charts.headers["content-encoding"] == "gzip"
    assert "var ClassroomCharts=" in charts.text
    assert "Canvas is already in use" in charts.text  # Chart.js itself
    assert "Canvas is already in use" not in app.text
    assert "/static/charts.js" in app.text  # and app.js knows where to find it
