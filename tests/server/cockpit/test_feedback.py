"""Hints (unlocked, bought, pushed), score overrides and inline comments over HTTP and the
room socket, and what a student may not do: read another's hints or comments, override a
score, push hints, or see a hint before it is unlocked."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.conftest import Lesson, LiveServer, join_as
from tests.server.cockpit.conftest import NAME_ERROR, RIGHT
from tests.server.cockpit.test_grid import submit
from tests.support.events import EventClient

pytestmark = pytest.mark.bwrap

DATABASES = ("sqlite", "postgres")


@pytest.mark.usefixtures("course")
async def test_hints_unlock_are_bought_and_pushed_and_students_are_refused(
    server: LiveServer, live_lesson: Lesson
) -> None:
    lesson = live_lesson
    alice, bob = lesson.alice, lesson.bob
    hints_path = f"/api/rooms/{lesson.room_id}/exercises/sum/hints"
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        carol = await join_as(http, lesson.classroom["join_code"], "Carol")
        bob_socket = await EventClient.open(server.ws_url, lesson.room_id, bob.token)
        await bob_socket.expect("room.snapshot")
        # Before any attempt nothing is unlocked, and no locked text leaves the server.
        fresh = (await http.get(hints_path, headers=bob.headers)).json()
        assert [(t["test"], t["hints"], t["locked"]) for t in fresh["tests"]] == [
            ("adds", [], 3),
            ("negatives", [], 1),
        ]
        assert "Read both numbers" not in str(fresh) and fresh["tests"][0]["explanation"] is None

        await submit(http, lesson, bob, NAME_ERROR)
        await submit(http, lesson, carol, RIGHT)
        mine = {
            t["test"]: t for t in (await http.get(hints_path, headers=bob.headers)).json()["tests"]
        }
        assert mine["adds"]["hints"] == ["Read both numbers."]  # one failed attempt, hint_after 1
        assert mine["negatives"]["hints"] == ["Negative numbers add like the others."]
        assert "int() turns text" not in str(mine) and mine["adds"]["explanation"] is None
        done = {
            t["test"]: t
            for t in (await http.get(hints_path, headers=carol.headers)).json()["tests"]
        }
        assert done["adds"]["explanation"] == "Add the two numbers and print the result."

        # Buying: Dan, who never submitted, has no XP to spend; Carol (who passed) has.
        dan = await join_as(http, lesson.classroom["join_code"], "Dan")
        poor = await http.post(hints_path, json={"test": "adds"}, headers=dan.headers)
        assert poor.status_code == 409 and poor.json()["error"]["code"] == "not_enough_xp"
        bought = await http.post(hints_path, json={"test": "adds"}, headers=carol.headers)
        assert bought.status_code == 201, bought.text
        assert bought.json() == {
            "test": "adds",
            "index": 0,
            "hint": "Read both numbers.",
            "cost": 5,
        }
        nope = await http.post(hints_path, json={"test": "nope"}, headers=carol.headers)
        assert nope.status_code == 404

        # Refusals for a student.
        other = await http.get(f"{hints_path}?user_id={bob.id}", headers=alice.headers)
        assert other.status_code == 403
        push = await http.post(
            f"{hints_path}/push", json={"to": "room", "message": "hi"}, headers=alice.headers
        )
        assert push.status_code == 403
        staff_view = await http.get(
            f"{hints_path}?user_id={bob.id}", headers=lesson.teacher.headers
        )
        assert staff_view.json()["tests"][0]["hints"] == ["Read both numbers."]

        # The teacher pushes Bob his next hint; it arrives live and stays unlocked.
        pushed = await http.post(
            f"{hints_path}/push",
            json={"to": "student", "user_id": bob.id},
            headers=lesson.teacher.headers,
        )
        assert pushed.status_code == 200, pushed.text
        assert pushed.json() == {"sent": [bob.id], "skipped": []}
        event = await bob_socket.expect("hint.pushed")
        assert (event["test"], event["index"], event["hint"], event["from"]) == (
            "adds",
            1,
            "int() turns text into a number.",
            "Ada",
        )
        after = (await http.get(hints_path, headers=bob.headers)).json()["tests"][0]
        assert after["hints"] == ["Read both numbers.", "int() turns text into a number."]
        assert after["locked"] == 1
        # A message to the room reaches every student, without unlocking anything.
        message = await http.post(
            f"{hints_path}/push",
            json={"to": "room", "message": "Remember: input() gives text."},
            headers=lesson.teacher.headers,
        )
        assert sorted(message.json()["sent"]) == sorted([alice.id, bob.id, carol.id, dan.id])
        note = await bob_socket.expect("hint.pushed")
        assert (note["message"], note["hint"]) == ("Remember: input() gives text.", None)
        await bob_socket.ws.close()


@pytest.mark.usefixtures("course")
async def test_overrides_and_inline_comments_with_their_refusals(
    server: LiveServer, live_lesson: Lesson
) -> None:
    lesson = live_lesson
    alice, bob, teacher = lesson.alice, lesson.bob, lesson.teacher
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        bob_socket = await EventClient.open(server.ws_url, lesson.room_id, bob.token)
        await bob_socket.expect("room.snapshot")
        graded = await submit(http, lesson, bob, NAME_ERROR)
        path = f"/api/submissions/{graded['id']}/override"
        body = {"score": 1.5, "comment": "Right idea; a typo in the name."}
        assert (await http.post(path, json=body, headers=alice.headers)).status_code == 403
        assert (await http.post(path, json=body, headers=bob.headers)).status_code == 403
        too_high = await http.post(path, json={"score": 9}, headers=teacher.headers)
        assert too_high.status_code == 400
        made = await http.post(path, json=body, headers=teacher.headers)
        assert made.status_code == 201, made.text
        event = await bob_socket.expect("grade.override")
        assert event["override"]["score"] == 1.5 and event["override"]["by"]["name"] == "Ada"
        audit = await http.get(f"/api/submissions/{graded['id']}/overrides", headers=bob.headers)
        [row] = audit.json()["overrides"]
        assert (row["score"], row["comment"], row["by"]["id"]) == (1.5, body["comment"], teacher.id)
        other = await http.get(f"/api/submissions/{graded['id']}/overrides", headers=alice.headers)
        assert other.status_code == 403
        exported = await http.get(
            f"/api/classrooms/{lesson.classroom['id']}/grades.csv", headers=teacher.headers
        )
        # The gradebook export has a row per student and exercise; one carries the override.
        [line] = [r for r in csv.DictReader(io.StringIO(exported.text)) if r["override_score"]]
        assert line["student_id"] == str(bob.id) and float(line["score"]) == 0.0
        assert (line["override_score"], line["override_by"]) == ("1.5", "Ada")

        doc = f"students/{bob.id}/main.py"
        comments = f"/api/rooms/{lesson.room_id}/comments"
        note = {"doc": doc, "body": "What is totl?", "anchor": "AQLnBwA=", "line": 2}
        added = await http.post(comments, json=note, headers=teacher.headers)
        assert added.status_code == 201, added.text
        first = added.json()
        live = await bob_socket.expect("comment.added")
        assert (
            live["comment"]["body"] == "What is totl?" and live["comment"]["anchor"] == "AQLnBwA="
        )
        reply = await http.post(
            comments,
            json={"doc": doc, "body": "A typo!", "parent_id": first["id"]},
            headers=bob.headers,
        )
        assert reply.status_code == 201 and reply.json()["parent_id"] == first["id"]
        # Another student can neither read nor write comments on Bob's file.
        assert (
            await http.get(comments, params={"doc": doc}, headers=alice.headers)
        ).status_code == 403
        assert (await http.post(comments, json=note, headers=alice.headers)).status_code == 403
        bad = await http.post(
            comments, json={**note, "anchor": "not base64!"}, headers=teacher.headers
        )
        assert bad.status_code == 400
        resolved = await http.post(f"{comments}/{first['id']}/resolve", headers=bob.headers)
        assert resolved.status_code == 200 and resolved.json()["resolved_by"] == bob.id
        listed = (await http.get(comments, params={"doc": doc}, headers=bob.headers)).json()
        assert [c["body"] for c in listed["comments"]] == ["What is totl?", "A typo!"]
        assert (
            await http.post(f"{comments}/{first['id']}/resolve", headers=alice.headers)
        ).status_code == 403
        await bob_socket.ws.close()
