"""Numbers no browser sends, from a student or from nobody: each refused, nothing logged as a
failure, the server and everybody else going on.

Before: an id past what the store's integers hold in any path (``/api/rooms/2147483648`` on
PostgreSQL, ``/api/rooms/9223372036854775808`` on SQLite), a body or a query failed in the
database (a 500 with a traceback, signed in or not); 5,000 digits
made Python's ``int()`` raise ValueError while matching the route, or while decoding a socket
command (``internal_error``); an awareness state holding ``NaN`` passed (Python reads it) and
every stock Yjs client of the document threw on it. Both databases: PostgreSQL's integers are
not SQLite's."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rooms.awareness import AwarenessEntry, encode_awareness
from rooms.frames import MessageType, awareness_frame
from server.auth import COOKIE_NAME
from tests.conftest import Lesson
from tests.server.processes import ServerProcess, prepare_lesson

PAST_POSTGRES = str(2**31)  # one more than an INTEGER column holds on PostgreSQL
PAST_SQLITE = str(2**63)  # one more than SQLite's integers hold
PAST_PYTHON = "9" * 5000  # int() refuses more than 4,300 digits
NOT_ASCII = "\u00b2"  # '²': str.isdigit() says yes, int() says no
PAGES = ("/rooms/{room_id}", "/rooms/{room_id}/projector", "/classrooms/{classroom_id}/gradebook")


def id_paths(openapi: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(method, path template, its integer parameters) of every API route with an id."""
    out = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            ints = [
                p["name"]
                for p in operation.get("parameters", [])
                if p["in"] == "path" and p["schema"].get("type") == "integer"
            ]
            if ints:
                out.append((method.upper(), path, ints))
    return out


def filled(template: str, ints: list[str], value: str) -> str:
    path = template
    for name in ints:
        path = path.replace("{" + name + "}", value)
    return re.sub(r"{\w+}", "x", path)


async def test_ids_past_what_the_store_holds_are_not_found(
    process: ServerProcess, database_url: str
) -> None:
    lesson = await prepare_lesson(database_url, process.url)
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as http:
        openapi = (await http.get("/api/openapi.json")).json()
        routes = id_paths(openapi)
        assert len(routes) > 40, "the OpenAPI document lists the routes with ids"
        callers = {"nobody": {}, "student": lesson.alice.headers, "teacher": lesson.teacher.headers}
        for value in (PAST_POSTGRES, PAST_SQLITE, PAST_PYTHON, NOT_ASCII):
            for method, template, ints in routes:
                path = filled(template, ints, value)
                for who, headers in callers.items():
                    body = None if method in ("GET", "DELETE") else {}
                    response = await http.request(method, path, headers=headers, json=body)
                    assert response.status_code == 404, (who, method, template, response.text)
            for template in PAGES:
                path = template.format(room_id=value, classroom_id=value)
                response = await http.get(path, headers=lesson.teacher.headers)
                assert response.status_code == 404, (template, response.text)
        # The largest id that can exist is simply not there.
        largest = f"/api/rooms/{2**31 - 1}"
        response = await http.get(largest, headers=lesson.teacher.headers)
        assert response.status_code in (403, 404), response.text
        assert (await http.get("/health")).status_code == 200
        for method, template, ints in routes:
            for param in ints:  # the declared bound, for generated clients
                schema = next(
                    p["schema"]
                    for p in openapi["paths"][template][method.lower()]["parameters"]
                    if p["name"] == param
                )
                assert schema["maximum"] == 2**31 - 1
    assert not process.saw("Traceback"), "\n".join(process.log[-80:])


async def test_ids_and_numbers_in_bodies_and_queries_are_refused_with_a_reason(
    process: ServerProcess, database_url: str
) -> None:
    lesson = await prepare_lesson(database_url, process.url)
    classroom, room = lesson.classroom["id"], lesson.room_id
    teacher, alice = lesson.teacher.headers, lesson.alice.headers
    doc = f"students/{lesson.alice.id}/main.py"
    too_big = 2**31
    bodies = [
        (
            teacher,
            "PUT",
            f"/api/classrooms/{classroom}/members",
            {"user_id": too_big, "role": "assistant"},
        ),
        (
            teacher,
            "PUT",
            f"/api/rooms/{room}/pairs/g1",
            {"user_ids": [lesson.alice.id, -too_big - 1]},
        ),
        (
            teacher,
            "POST",
            f"/api/classrooms/{classroom}/merge",
            {"from_user_id": too_big, "into_user_id": lesson.bob.id},
        ),
        (
            teacher,
            "POST",
            f"/api/rooms/{room}/exercises/ex/hints/push",
            {"to": "student", "user_id": too_big, "message": "hi"},
        ),
        (
            teacher,
            "POST",
            f"/api/classrooms/{classroom}/exercises/ex/similarity/reviews",
            {"a_submission_id": too_big, "b_submission_id": 1, "verdict": "dismissed"},
        ),
        (
            alice,
            "POST",
            f"/api/rooms/{room}/comments",
            {"doc": doc, "body": "why?", "parent_id": too_big},
        ),
        (
            alice,
            "POST",
            f"/api/rooms/{room}/comments",
            {"doc": doc, "body": "why?", "parent_id": 0},
        ),
    ]
    not_json = [
        '{"join_code": "ABCDEF", "name": NaN}',
        '{"join_code": "ABCDEF", "name": "x", "extra": Infinity}',
        '{"join_code": "ABCDEF", "name": ' + PAST_PYTHON + "}",
        '{"doc": "d", "body": "b", "line": 1e999}',
    ]
    queries = [
        (alice, f"/api/rooms/{room}/exercises/ex/hints?user_id={NOT_ASCII}", "invalid_user"),
        (alice, f"/api/rooms/{room}/exercises/ex/hints?user_id={PAST_PYTHON}", "invalid_user"),
        (alice, f"/api/rooms/{room}/runs?limit={PAST_PYTHON}", "invalid_limit"),
        (alice, f"/api/rooms/{room}/runs?limit={NOT_ASCII}", "invalid_limit"),
    ]
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as http:
        for headers, method, path, body in bodies:
            response = await http.request(method, path, headers=headers, json=body)
            assert response.status_code == 400, (path, body, response.text)
            assert response.json()["error"]["code"] == "invalid_body", response.text
        for raw in not_json:
            for path in ("/api/join", f"/api/rooms/{room}/comments"):
                response = await http.post(
                    path, content=raw, headers={**alice, "content-type": "application/json"}
                )
                assert response.status_code == 400, (path, raw[:60], response.text)
                assert response.json()["error"]["code"] == "invalid_json", response.text
        for headers, path, code in queries:
            response = await http.get(path, headers=headers)
            assert response.status_code == 400, (path[:80], response.text)
            assert response.json()["error"]["code"] == code
        for query in (f"user={NOT_ASCII}", f"user={PAST_PYTHON}", f"classroom={PAST_POSTGRES}"):
            page = await http.get(
                f"/progress?{query}", headers={"cookie": f"{COOKIE_NAME}={lesson.alice.token}"}
            )
            assert page.status_code == 200, (query, page.text[:200])
        # What a stock client sends still works, ids and numbers included.
        response = await http.put(
            f"/api/classrooms/{classroom}/members",
            headers=teacher,
            json={"user_id": lesson.bob.id, "role": "assistant"},
        )
        assert response.status_code == 200, response.text
        response = await http.post(
            f"/api/rooms/{room}/comments", headers=alice, json={"doc": doc, "body": "ok", "line": 3}
        )
        assert response.status_code in (200, 201), response.text
    assert not process.saw("Traceback"), "\n".join(process.log[-80:])


async def events(process: ServerProcess, lesson: Lesson, token: str) -> ClientConnection:
    ws = await connect(f"{process.ws_url}/ws/rooms/{lesson.room_id}?token={token}")
    snapshot = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert snapshot["type"] == "room.snapshot"
    return ws


async def answer_to(ws: ClientConnection, raw: str) -> list[dict[str, Any]]:
    """The error events the server sends back for ``raw``, up to the pong that follows it."""
    await ws.send(raw)
    await ws.send(json.dumps({"type": "ping"}))
    errors = []
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if event["type"] == "pong":
            return errors
        if event["type"] == "error":
            errors.append(event)


async def test_socket_numbers_no_browser_sends_are_refused_and_the_room_goes_on(
    process: ServerProcess, database_url: str
) -> None:
    lesson = await prepare_lesson(database_url, process.url)
    alice = await events(process, lesson, lesson.alice.token)
    teacher = await events(process, lesson, lesson.teacher.token)
    refusals = [
        (alice, '{"type":"ping","ref":' + PAST_PYTHON + "}", "invalid_json"),
        (alice, '{"type":"quiz.answer","answer":[NaN]}', "invalid_json"),
        (alice, '{"type":"hand.raise","message":"help","doc":Infinity}', "invalid_json"),
        (alice, json.dumps({"type": "hand.lower", "hand_id": 2**63}), "invalid_field"),
        (alice, json.dumps({"type": "quiz.answer", "answer": -(2**63) - 1}), "invalid_field"),
        (teacher, json.dumps({"type": "hand.take", "hand_id": 2**63}), "invalid_field"),
        # A row id past PostgreSQL's INTEGER: the lookup failed there (internal_error).
        (alice, json.dumps({"type": "hand.lower", "hand_id": 2**31}), "invalid_field"),
        (teacher, json.dumps({"type": "hand.done", "hand_id": 2**40}), "invalid_field"),
        (teacher, json.dumps({"type": "lesson.countdown", "seconds": 10**30}), "invalid_field"),
        # Half a surrogate pair: no store or UTF-8 encoder takes it (an internal_error before).
        (alice, '{"type":"hand.raise","message":"help \\ud800"}', "invalid_json"),
        (teacher, '{"type":"lesson.push","files":{"main.py":"\\udfff"}}', "invalid_json"),
    ]
    for ws, raw, code in refusals:
        errors = await answer_to(ws, raw)
        assert [e["code"] for e in errors] == [code], (raw[:60], errors)
    # The room goes on: Alice raises her hand, the teacher sees it.
    await alice.send(json.dumps({"type": "hand.raise", "message": "help"}))
    while True:
        event = json.loads(await asyncio.wait_for(teacher.recv(), 10))
        if event["type"].startswith("hand."):
            break
    for ws in (alice, teacher):
        await ws.close()

    # The Yjs socket: a room id past the store's is refused like any unknown room.
    for room in (PAST_POSTGRES, PAST_SQLITE, PAST_PYTHON, NOT_ASCII):
        ws = await connect(f"{process.ws_url}/yjs/{room}/demo?token={lesson.alice.token}")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

    # A refusal naming what was asked for, in characters of three bytes each: closed with its
    # reason cut to what a close frame carries (it was sent with none, and a traceback).
    wide = quote("一" * 60)
    for path in (f"{wide}/demo", f"{lesson.room_id}/students/{wide}/main.py"):
        ws = await connect(f"{process.ws_url}/yjs/{path}?token={lesson.alice.token}")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert "一" in closed.value.rcvd.reason

    # An awareness state every stock client would throw on closes its sender's socket.
    own = f"students/{lesson.alice.id}/main.py"
    ws = await connect(f"{process.ws_url}/yjs/{lesson.room_id}/{own}?token={lesson.alice.token}")
    first = await asyncio.wait_for(ws.recv(), 10)
    assert isinstance(first, bytes) and first[0] == MessageType.SYNC
    state = '{"user":{"name":"Alice","color":NaN}}'
    await ws.send(awareness_frame(encode_awareness([AwarenessEntry(12, 1, state)])))
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1002
    assert "NaN is not JSON" in closed.value.rcvd.reason
    assert not process.saw("Traceback"), "\n".join(process.log[-80:])
