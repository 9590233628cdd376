"""The LTI services against the test platform: Deep Linking (a signed response the platform
verifies with our JWKS), grade passback over AGS (line items, scores as grades change, regrades,
retries with a visible status), NRPS roster sync, and Dynamic Registration."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from websockets.exceptions import ConnectionClosed

from server.courses.importer import import_course
from server.lti.tool import LtiTool
from server.store import Store
from tests.server.grading.test_submissions import HALF, RIGHT, write_course
from tests.server.lti.conftest import Tool
from tests.server.lti.platform import ASSISTANT, INSTRUCTOR, LEARNER
from tests.support.events import opened

DATABASES = ("sqlite", "postgres")


@contextlib.asynccontextmanager
async def browser(tool: Tool) -> AsyncIterator[httpx.AsyncClient]:
    """A client that behaves like the browser the launch lands in: it keeps the page cookie and
    names our origin on every call, as a browser does on a same-site POST."""
    async with httpx.AsyncClient(headers={"Origin": tool.url}) as http:
        yield http


def _form_value(page: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


async def _course(tool: Tool, http: httpx.AsyncClient, folder: Path) -> int:
    """The instructor opens the course from the LMS; its exercises are imported."""
    response = await tool.launch(http, sub="lms-teacher", roles=(INSTRUCTOR,), name="Tess")
    assert response.status_code == 303, response.text
    classroom_id: int = (await http.get(f"{tool.url}/api/classrooms")).json()["classrooms"][0]["id"]
    store = Store(tool.server.settings.database_url)
    try:
        await import_course(store, classroom_id, write_course(folder))
    finally:
        await store.close()
    return classroom_id


async def _submit(tool: Tool, http: httpx.AsyncClient, room_id: int, code: str) -> dict[str, Any]:
    response = await http.post(
        f"{tool.url}/api/rooms/{room_id}/exercises/double/submissions",
        json={"files": {"main.py": code}},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def _status_until(
    tool: Tool, http: httpx.AsyncClient, classroom_id: int, wanted: str
) -> list[dict[str, Any]]:
    """The passback statuses once every one is ``wanted`` (bounded wait on the sender)."""
    grades: list[dict[str, Any]] = []
    for _ in range(200):
        response = await http.get(f"{tool.url}/api/classrooms/{classroom_id}/lti/grades")
        grades = response.json()["grades"]
        if grades and all(g["status"] == wanted for g in grades):
            return grades
        await asyncio.sleep(0.05)
    raise AssertionError(f"grades never became {wanted}: {grades}")


async def _next_score(tool: Tool) -> dict[str, Any]:
    return await asyncio.to_thread(tool.platform.next_score, 60.0)


@pytest.mark.bwrap
async def test_deep_link_then_scores_reach_that_column(tool: Tool, tmp_path: Path) -> None:
    platform = tool.platform
    async with browser(tool) as teacher:
        classroom_id = await _course(tool, teacher, tmp_path / "course")
        picker = await tool.launch(
            teacher, sub="lms-teacher", roles=(INSTRUCTOR,), message_type="LtiDeepLinkingRequest"
        )
        assert picker.status_code == 200, picker.text
        assert 'value="exercise:double"' in picker.text
        answer = await teacher.post(
            f"{tool.url}/lti/deep-link",
            data={"dl": _form_value(picker.text, "dl"), "item": "exercise:double"},
        )
        assert answer.status_code == 200, answer.text
        assert f'action="{platform.url}/deep-link-return"' in answer.text
        token = _form_value(answer.text, "JWT")
        # The platform's side: verify with the tool's published keys.
        ours = (await teacher.get(f"{tool.url}/lti/jwks")).json()["keys"][0]
        claims = jwt.decode(
            token, jwt.PyJWK(ours).key, algorithms=["RS256"], audience=platform.issuer
        )
        bad = await teacher.post(
            f"{tool.url}/lti/deep-link", data={"dl": "forged", "item": "exercise:double"}
        )
        assert bad.status_code == 401
    assert claims["iss"] == platform.client_id
    dl = "https://purl.imsglobal.org/spec/lti-dl/claim/"
    lti = "https://purl.imsglobal.org/spec/lti/claim/"
    assert claims[lti + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[lti + "deployment_id"] == platform.deployment_id
    assert claims[dl + "data"] == "platform-opaque-data"
    [item] = claims[dl + "content_items"]
    assert item["type"] == "ltiResourceLink" and item["url"] == f"{tool.url}/lti/launch"
    assert item["custom"]["exercise_id"] == "double"
    assert item["lineItem"] == {
        "scoreMaximum": 5.0,
        "label": "Double it",
        "resourceId": "double",
        "tag": "opencode-classroom",
    }

    # The platform made the column; the student launches the new link and passes.
    column = f"{platform.lineitems_url}/77"
    async with browser(tool) as student:
        response = await tool.launch(
            student, resource_link_id="link-dl", custom=item["custom"], lineitem=column
        )
        assert response.status_code == 303
        assert response.headers["location"] == f"/rooms/{item['custom']['room_id']}"
        room_id = int(item["custom"]["room_id"])
        graded = await _submit(tool, student, room_id, HALF)
    score = await _next_score(tool)
    assert score["lineitem"] == column
    assert score["userId"] == "lms-student-1"
    assert score["activityProgress"] == "Completed"
    assert score["gradingProgress"] == "FullyGraded"
    assert platform.line_items == {}  # it used the column it was given
    async with browser(tool) as teacher:
        await tool.launch(teacher, sub="lms-teacher", roles=(INSTRUCTOR,))
        [status] = await _status_until(tool, teacher, classroom_id, "sent")
        staff = (await teacher.get(f"{tool.url}/api/submissions/{graded['id']}")).json()
    # The gradebook gets the whole grade (hidden tests included), as grades.csv has it.
    assert score["scoreGiven"] == staff["score"] == 3.0 and score["scoreMaximum"] == 5.0
    assert status["score"] == 3.0 and status["exercise_id"] == "double"
    assert status["submission_id"] == graded["id"]


@pytest.mark.bwrap
async def test_passback_creates_the_column_retries_and_follows_regrades(
    tool: Tool, tmp_path: Path
) -> None:
    platform = tool.platform
    lti: LtiTool = tool.server.state.lti
    lti.passback.retry_base = 0.05
    async with browser(tool) as teacher:
        classroom_id = await _course(tool, teacher, tmp_path / "course")
        async with browser(tool) as student:
            response = await tool.launch(student)
            room_id = int(response.headers["location"].rsplit("/", 1)[1])
            platform.fail_scores = 2  # the LMS is down for the first two tries
            first = await _submit(tool, student, room_id, HALF)
            score = await _next_score(tool)
            assert score["scoreGiven"] == 3.0 and first["score"] == 2.0  # the student's view
            [status] = await _status_until(tool, teacher, classroom_id, "sent")
            assert status["attempts"] == 3 and status["last_error"] is None
            [column] = platform.line_items.values()
            assert column["resourceId"] == "double" and column["label"] == "Double it"
            assert column["scoreMaximum"] == 5.0
            assert score["lineitem"] == column["id"]

            await _submit(tool, student, room_id, RIGHT)
            score = await _next_score(tool)
            assert score["scoreGiven"] == 2.5  # all passed, the second attempt's 50 % penalty
            assert len(platform.line_items) == 1  # the column is found again, not duplicated

        # A regrade changes the grade: the new score is posted too.
        response = await teacher.post(
            f"{tool.url}/api/classrooms/{classroom_id}/exercises/double/regrade"
        )
        assert response.status_code == 202, response.text
        score = await _next_score(tool)
        assert score["scoreGiven"] == 2.5 and score["userId"] == "lms-student-1"

        # The LMS stays down: after the last retry the status says failed, with the reason.
        platform.fail_scores = 100
        async with browser(tool) as student:
            await tool.launch(student)
            await _submit(tool, student, room_id, HALF)
        [status] = await _status_until(tool, teacher, classroom_id, "failed")
        assert status["attempts"] == 6 and "503" in status["last_error"]
        platform.fail_scores = 0
        retry = await teacher.post(f"{tool.url}/api/classrooms/{classroom_id}/lti/grades/retry")
        assert retry.json() == {"requeued": 1}
        score = await _next_score(tool)
        assert score["scoreGiven"] == status["score"]
        await _status_until(tool, teacher, classroom_id, "sent")


async def test_roster_sync_over_nrps(tool: Tool, tmp_path: Path) -> None:
    platform = tool.platform
    platform.members = [
        {"user_id": "lms-teacher", "name": "Tess", "roles": [INSTRUCTOR], "status": "Active"},
        {"user_id": "s-1", "name": "Ana", "roles": [LEARNER], "status": "Active"},
        {"user_id": "s-2", "name": "Ben", "roles": [LEARNER], "status": "Active"},
        {"user_id": "ta-1", "name": "Theo", "roles": [ASSISTANT], "status": "Active"},
        {"user_id": "s-3", "name": "Cy", "roles": [LEARNER], "status": "Inactive"},
    ]
    async with browser(tool) as teacher:
        classroom_id = await _course(tool, teacher, tmp_path / "course")
        tokens = {}
        for sub, name in (("s-3", "Cy"), ("ta-1", "Theo")):  # Theo launched as a learner once
            async with browser(tool) as student:
                await tool.launch(student, sub=sub, name=name, roles=(LEARNER,))
                tokens[name] = student.cookies["classroom_token"]
        rooms = (await teacher.get(f"{tool.url}/api/classrooms/{classroom_id}/rooms")).json()
        room_id = rooms["rooms"][0]["id"]
        # Both are in the room when the sync drops Cy and makes Theo an assistant: their
        # sockets close (1012), as they do for a removal or a role change by hand
        # (server/identity/removal.py); before, both stayed open with the old access.
        sockets = [(await opened(tool.server.ws_url, room_id, t))[0] for t in tokens.values()]
        response = await teacher.post(f"{tool.url}/api/classrooms/{classroom_id}/lti/roster-sync")
        assert response.status_code == 200, response.text
        assert response.json() == {"active": 4, "removed": 1, "grades_requeued": 0}
        for socket in sockets:
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await socket.next()
            assert info.value.rcvd is not None and info.value.rcvd.code == 1012
        theo, snapshot = await opened(tool.server.ws_url, room_id, tokens["Theo"])
        assert snapshot["you"]["role"] == "assistant"
        await theo.close()
        members = (await teacher.get(f"{tool.url}/api/classrooms/{classroom_id}/members")).json()
    assert sorted((m["name"], m["role"]) for m in members["members"]) == [
        ("Ana", "student"),
        ("Ben", "student"),
        ("Tess", "instructor"),
        ("Theo", "assistant"),
    ]
    async with httpx.AsyncClient() as ana:  # Ana's later launch is the synced account
        await tool.launch(ana, sub="s-1", name="Ana")
        me = (await ana.get(f"{tool.url}/api/me")).json()
    assert me["id"] in {m["id"] for m in members["members"] if m["name"] == "Ana"}


async def test_lms_answers_that_are_not_text_fail_the_sync_cleanly(
    tool: Tool, tmp_path: Path
) -> None:
    """What Python reads and we must not keep: a token living for ever (``"inf"``), members
    nested past the decoder (a RecursionError where ValueError was caught: a 500 with a
    traceback), a member named with NUL (PostgreSQL refused it: a 500). Each is the LMS's
    fault, told as such (503 ``platform_error``), and the next good answer syncs."""
    platform = tool.platform
    member = {"user_id": "s-1", "name": "Ana", "roles": [LEARNER], "status": "Active"}
    async with browser(tool) as teacher:
        classroom_id = await _course(tool, teacher, tmp_path / "course")
        sync = f"{tool.url}/api/classrooms/{classroom_id}/lti/roster-sync"
        platform.token_lifetime = "inf"
        response = await teacher.post(sync)
        assert response.status_code == 503, response.text
        assert "finite expires_in" in response.json()["error"]["message"]
        platform.token_lifetime = 3600
        nul = {**member, "name": "A\u0000na"}
        for answer in (
            b'{"members": ' + b"[" * 5000 + b"]" * 5000 + b"}",
            json.dumps({"members": [nul]}).encode(),
        ):
            platform.members_answer = answer
            response = await teacher.post(sync)
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "platform_error"
        platform.members_answer = None
        platform.members = [member]
        response = await teacher.post(sync)
        assert response.status_code == 200, response.text
        assert response.json()["active"] == 1


async def test_dynamic_registration(tool: Tool) -> None:
    platform = tool.platform
    async with httpx.AsyncClient(base_url=tool.url) as http:
        response = await http.post("/api/lti/registration-invites", headers=tool.registrar.headers)
        assert response.status_code == 201
        url = response.json()["url"]
        invite = parse_qs(urlsplit(url).query)["invite"][0]
        params = {
            "openid_configuration": f"{platform.url}/.well-known/openid-configuration",
            "registration_token": "reg-token-1",
        }
        refused = await http.get("/lti/register", params={**params, "invite": "forged"})
        assert refused.status_code == 403
        done = await http.get("/lti/register", params={**params, "invite": invite})
        assert done.status_code == 200, done.text
        assert "org.imsglobal.lti.close" in done.text
        listed = (await http.get("/api/lti/platforms", headers=tool.registrar.headers)).json()
    [sent] = platform.registrations
    assert sent["initiate_login_uri"] == f"{tool.url}/lti/login"
    assert sent["jwks_uri"] == f"{tool.url}/lti/jwks"
    dynamic = [p for p in listed["platforms"] if p["client_id"] == "dynamic-client-7"]
    assert dynamic == [
        {
            "id": dynamic[0]["id"],
            "issuer": platform.issuer,
            "client_id": "dynamic-client-7",
            "deployment_ids": ["dynamic-deployment-1"],
            "auth_url": platform.auth_url,
            "token_url": platform.token_url,
            "jwks_url": platform.jwks_url,
        }
    ]


async def test_only_registrars_register_platforms(tool: Tool, tmp_path: Path) -> None:
    async with browser(tool) as teacher:
        # An LMS instructor is an instructor here, but not a registrar.
        await tool.launch(teacher, sub="lms-teacher", roles=(INSTRUCTOR,))
        response = await teacher.get(f"{tool.url}/api/lti/platforms")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "not_a_registrar"
        response = await teacher.post(f"{tool.url}/api/lti/registration-invites")
        assert response.status_code == 403


async def test_a_launch_with_a_new_role_closes_the_members_sockets(
    tool: Tool, tmp_path: Path
) -> None:
    """The LMS made a student a teaching assistant: their next launch changes their role, and
    the sockets they have open reopen with it, as after a change by hand (before, they kept
    the old role until they reconnected)."""
    async with browser(tool) as teacher:
        classroom_id = await _course(tool, teacher, tmp_path / "course")
        rooms = (await teacher.get(f"{tool.url}/api/classrooms/{classroom_id}/rooms")).json()
    room_id = rooms["rooms"][0]["id"]
    async with browser(tool) as theo:
        await tool.launch(theo, sub="ta-1", name="Theo", roles=(LEARNER,))
        socket, snapshot = await opened(
            tool.server.ws_url, room_id, theo.cookies["classroom_token"]
        )
        assert snapshot["you"]["role"] == "student"
        await tool.launch(theo, sub="ta-1", name="Theo", roles=(ASSISTANT,))
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await socket.next()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1012
        again, snapshot = await opened(tool.server.ws_url, room_id, theo.cookies["classroom_token"])
        assert snapshot["you"]["role"] == "assistant"
        await again.close()
