"""Lasting identity over HTTP: rejoin codes (and their rate limit), the QR page, a student's
own email and password, rosters with personal codes, roster-only joining, renaming, and
merging two accounts of one student with everything they own."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
from starlette.applications import Starlette

from server.models import (
    AchievementUnlock,
    DocSnapshot,
    DocUpdate,
    Progress,
    Streak,
    Submission,
    XpEvent,
)
from server.models.clock import utcnow
from tests.conftest import Account, Lesson, create_instructor, join_as, new_classroom, state_of

DATABASES = ("sqlite", "postgres")


async def _join(client: httpx.AsyncClient, join_code: str, name: str) -> dict[str, object]:
    response = await client.post("/api/join", json={"join_code": join_code, "name": name})
    assert response.status_code == 200, response.text
    data: dict[str, object] = response.json()
    return data


async def test_a_code_signs_a_student_back_in(client: httpx.AsyncClient, lesson: Lesson) -> None:
    joined = await _join(client, lesson.classroom["join_code"], "Cleo")
    code = joined["rejoin_code"]
    assert isinstance(code, str) and len(code) == 14
    typed = code.lower().replace("-", " ")  # as a person types it on another device
    back = await client.post("/api/rejoin", json={"code": typed})
    assert back.status_code == 200, back.text
    data = back.json()
    assert data["user"] == joined["user"]
    assert data["classrooms"] == [{"id": lesson.classroom["id"], "title": "CS 101"}]
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {data['token']}"})
    assert me.json()["id"] == joined["user"]["id"]  # type: ignore[index]

    wrong = await client.post("/api/rejoin", json={"code": "AAAA-AAAA-AAAA"})
    assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "unknown_rejoin_code"

    # A new code replaces the old one; it comes with a link and its QR code.
    headers = {"Authorization": f"Bearer {data['token']}"}
    fresh = (await client.post("/api/me/rejoin-code", headers=headers)).json()
    assert fresh["url"] == f"http://testserver/rejoin#{fresh['code']}"  # never sent to a server
    assert fresh["qr_svg"].startswith("<svg") and "</svg>" in fresh["qr_svg"]
    assert (await client.post("/api/rejoin", json={"code": code})).status_code == 404
    assert (await client.post("/api/rejoin", json={"code": fresh["code"]})).status_code == 200


async def test_rejoin_tries_are_rate_limited(client: httpx.AsyncClient, lesson: Lesson) -> None:
    code = (await _join(client, lesson.classroom["join_code"], "Dan"))["rejoin_code"]
    for _ in range(10):
        response = await client.post("/api/rejoin", json={"code": "BBBB-BBBB-BBBB"})
        assert response.status_code == 404
    response = await client.post("/api/rejoin", json={"code": code})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"


async def test_the_qr_page_signs_in_with_one_button(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    code = str((await _join(client, lesson.classroom["join_code"], "Eve"))["rejoin_code"])
    page = await client.get("/rejoin")
    assert page.status_code == 200 and 'action="/rejoin"' in page.text
    assert "classroom_token" not in page.cookies  # opening the link signs no one in
    nonce = page.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in page.text  # only our one script runs
    other_site = await client.post(
        "/rejoin", data={"code": code}, headers={"Origin": "https://evil.example"}
    )
    assert other_site.status_code == 403 and "classroom_token" not in other_site.cookies
    done = await client.post(
        "/rejoin", data={"code": code}, headers={"Origin": "http://testserver"}
    )
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert "classroom_token" in done.cookies
    unknown = await client.post("/rejoin", data={"code": "CCCC-CCCC-CCCC"})
    assert unknown.status_code == 404 and "no one has this code" in unknown.text


async def test_a_student_sets_email_and_password(client: httpx.AsyncClient, lesson: Lesson) -> None:
    body = {"email": "Alice@Example.org", "password": "long enough"}
    response = await client.put("/api/me/credentials", json=body, headers=lesson.alice.headers)
    assert response.status_code == 200, response.text
    login = await client.post(
        "/api/auth/login", json={"email": "alice@example.org", "password": "long enough"}
    )
    assert login.status_code == 200 and login.json()["user"]["id"] == lesson.alice.id
    taken = await client.put("/api/me/credentials", json=body, headers=lesson.bob.headers)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "email_taken"
    short = await client.put(
        "/api/me/credentials",
        json={"email": "bob@example.org", "password": "short"},
        headers=lesson.bob.headers,
    )
    assert short.status_code == 400


async def test_password_changes_are_a_few_a_minute(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    """Each costs argon2's 64 MiB and tens of ms of a core: 20 at a time from one student took
    both cores and 385 MiB, and another student's ping went from 0.5 to 13 ms."""
    body = {"email": "alice@example.org", "password": "long enough"}
    for _ in range(5):
        changed = await client.put("/api/me/credentials", json=body, headers=lesson.alice.headers)
        assert changed.status_code == 200, changed.text
    refused = await client.put("/api/me/credentials", json=body, headers=lesson.alice.headers)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "password changes: at most 5 a minute" in refused.json()["error"]["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    mine = {"email": "bob@example.org", "password": "long enough"}
    assert (
        await client.put("/api/me/credentials", json=mine, headers=lesson.bob.headers)
    ).status_code == 200


ROSTER = "name,email,student_id\nAna Li,ana@school.org,s1\nBen Ong,ben@school.org,s2\n"


async def test_roster_import_codes_and_roster_only_joining(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    url = f"/api/classrooms/{lesson.classroom['id']}/roster"
    refused = await client.post(url, content=ROSTER, headers=lesson.alice.headers)
    assert refused.status_code == 403
    bad = await client.post(
        url, content=ROSTER + "Ann,ANA@school.org,s3\n", headers=lesson.teacher.headers
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "line 4: ana@school.org is already on line 2"
    assert (await client.get(url, headers=lesson.teacher.headers)).json()["students"] == []

    imported = await client.post(url, content=ROSTER, headers=lesson.teacher.headers)
    assert imported.status_code == 200, imported.text
    students = imported.json()["students"]
    assert [(s["name"], s["status"]) for s in students] == [
        ("Ana Li", "created"),
        ("Ben Ong", "created"),
    ]
    assert all(s["code"] and s["url"].endswith(s["code"]) for s in students)
    again = await client.post(
        url, content=ROSTER.replace("Ben Ong", "Benjamin Ong"), headers=lesson.teacher.headers
    )
    assert [(s["name"], s["status"], s["code"]) for s in again.json()["students"]] == [
        ("Ana Li", "updated", None),
        ("Benjamin Ong", "updated", None),
    ]

    policy = await client.put(
        f"/api/classrooms/{lesson.classroom['id']}/join-policy",
        json={"roster_required": True},
        headers=lesson.teacher.headers,
    )
    assert policy.json() == {"classroom_id": lesson.classroom["id"], "roster_required": True}
    stranger = await client.post(
        "/api/join", json={"join_code": lesson.classroom["join_code"], "name": "Mallory"}
    )
    assert stranger.status_code == 403 and stranger.json()["error"]["code"] == "roster_required"

    ana = await client.post("/api/rejoin", json={"code": students[0]["code"]})
    assert ana.status_code == 200
    assert ana.json()["user"]["id"] == students[0]["user_id"]
    assert ana.json()["classrooms"] == [{"id": lesson.classroom["id"], "title": "CS 101"}]
    listed = (await client.get(url, headers=lesson.teacher.headers)).json()
    assert listed["roster_required"] is True
    assert [(s["name"], s["email"], s["student_id"]) for s in listed["students"]] == [
        ("Ana Li", "ana@school.org", "s1"),
        ("Benjamin Ong", "ben@school.org", "s2"),
    ]


async def test_rename(client: httpx.AsyncClient, lesson: Lesson) -> None:
    base = f"/api/classrooms/{lesson.classroom['id']}/students"
    response = await client.post(
        f"{base}/{lesson.alice.id}/rename",
        json={"name": " Alice B. "},
        headers=lesson.teacher.headers,
    )
    assert response.json() == {"id": lesson.alice.id, "name": "Alice B."}
    me = (await client.get("/api/me", headers=lesson.alice.headers)).json()
    assert me["name"] == "Alice B."
    by_student = await client.post(
        f"{base}/{lesson.bob.id}/rename", json={"name": "Bobby"}, headers=lesson.alice.headers
    )
    assert by_student.status_code == 403
    staff = await client.post(
        f"{base}/{lesson.teacher.id}/rename", json={"name": "X"}, headers=lesson.teacher.headers
    )
    assert staff.status_code == 404


async def _own(app: Starlette, lesson: Lesson, user_id: int, *, best: float, day: int) -> None:
    """Rows a student leaves behind: a submission, XP, progress, a streak, an achievement,
    and a document."""
    classroom_id, room_id = lesson.classroom["id"], lesson.room_id
    now = utcnow()
    async with state_of(app).store.session() as session:
        session.add(
            Submission(
                classroom_id=classroom_id,
                room_id=room_id,
                exercise_id="double",
                user_id=user_id,
                attempt=1,
                files={"main.py": "print()"},
                status="graded",
                score=best,
                max_score=5.0,
            )
        )
        session.add(
            XpEvent(
                user_id=user_id,
                classroom_id=classroom_id,
                room_id=room_id,
                amount=10,
                reason="pass",
            )
        )
        session.add(
            Progress(
                user_id=user_id,
                classroom_id=classroom_id,
                exercise_id="double",
                attempts=2,
                best_score=best,
                max_score=5.0,
                passed=best == 5.0,
                first_attempt_at=now,
                last_attempt_at=now,
            )
        )
        session.add(
            Streak(
                user_id=user_id,
                classroom_id=classroom_id,
                current=day,
                longest=day,
                last_day=date(2026, 11, day),
            )
        )
        session.add(AchievementUnlock(user_id=user_id, achievement_id="first-pass"))
        session.add(DocUpdate(room_id=room_id, doc=f"students/{user_id}/main.py", data=b"\x00"))
        session.add(DocSnapshot(room_id=room_id, doc=f"students/{user_id}/main.py", data=b"\x01"))


async def test_merge_two_accounts_of_one_student(
    app: Starlette, client: httpx.AsyncClient, lesson: Lesson
) -> None:
    classroom_id = lesson.classroom["id"]
    second = await join_as(client, lesson.classroom["join_code"], "Alice (phone)")
    second_code = (await client.post("/api/me/rejoin-code", headers=second.headers)).json()["code"]
    # While the phone account has a document open in an editor, the merge waits.
    registry = state_of(app).docs
    unloaded = asyncio.Event()
    registry.on_unload(lambda key: unloaded.set())
    open_doc = await registry.acquire(lesson.room_id, f"students/{second.id}/main.py")
    busy = await client.post(
        f"/api/classrooms/{lesson.classroom['id']}/merge",
        json={"from_user_id": second.id, "into_user_id": lesson.alice.id},
        headers=lesson.teacher.headers,
    )
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "documents_open"
    registry.release(open_doc)
    await asyncio.wait_for(unloaded.wait(), timeout=10)
    await _own(app, lesson, lesson.alice.id, best=3.0, day=20)
    await _own(app, lesson, second.id, best=5.0, day=25)
    url = f"/api/classrooms/{classroom_id}/merge"
    body = {"from_user_id": second.id, "into_user_id": lesson.alice.id}

    assert (await client.post(url, json=body, headers=lesson.alice.headers)).status_code == 403
    same = await client.post(
        url,
        json={"from_user_id": second.id, "into_user_id": second.id},
        headers=lesson.teacher.headers,
    )
    assert same.status_code == 400 and same.json()["error"]["code"] == "same_account"
    staff = await client.post(
        url,
        json={"from_user_id": lesson.teacher.id, "into_user_id": lesson.alice.id},
        headers=lesson.teacher.headers,
    )
    assert staff.status_code == 400 and staff.json()["error"]["code"] == "not_a_student"

    response = await client.post(url, json=body, headers=lesson.teacher.headers)
    assert response.status_code == 200, response.text
    record = response.json()
    assert (record["from_user_id"], record["into_user_id"], record["from_name"]) == (
        second.id,
        lesson.alice.id,
        "Alice (phone)",
    )
    moved = record["moved"]
    assert moved["submissions"] == 1 and moved["xp_events"] == 1 and moved["progress"] == 1
    assert moved["streaks"] == 1 and moved["achievements"] == 1 and moved["documents"] == 1
    assert moved["rejoin_codes"] == 1  # the code issued last (it replaced the join's)

    audit = (
        await client.get(f"/api/classrooms/{classroom_id}/merges", headers=lesson.teacher.headers)
    ).json()
    assert [m["id"] for m in audit["merges"]] == [record["id"]]
    assert audit["merges"][0]["by_user_id"] == lesson.teacher.id

    # The phone's code now signs in as the one account.
    back = (await client.post("/api/rejoin", json={"code": second_code})).json()
    assert back["user"]["id"] == lesson.alice.id

    store = state_of(app).store
    async with store.session() as session:
        from sqlmodel import col, func, select

        progress = (
            await session.exec(select(Progress).where(Progress.user_id == lesson.alice.id))
        ).one()
        assert (progress.attempts, progress.best_score, progress.passed) == (4, 5.0, True)
        streak = (await session.exec(select(Streak).where(Streak.user_id == lesson.alice.id))).one()
        assert (streak.current, streak.longest, streak.last_day) == (25, 25, date(2026, 11, 25))
        xp = (
            await session.exec(
                select(func.sum(XpEvent.amount)).where(XpEvent.user_id == lesson.alice.id)
            )
        ).one()
        assert xp == 20
        subs = (
            await session.exec(
                select(Submission.score).where(Submission.user_id == lesson.alice.id)
            )
        ).all()
        assert sorted(subs) == [3.0, 5.0]
        docs = (
            await session.exec(
                select(DocUpdate.doc)
                .where(DocUpdate.room_id == lesson.room_id)
                .order_by(col(DocUpdate.id))
            )
        ).all()
        assert docs == [
            f"students/{lesson.alice.id}/main.py",
            f"students/{lesson.alice.id}/main (2).py",
        ]
        snapshots = (await session.exec(select(DocSnapshot.doc))).all()
        assert sorted(snapshots) == sorted(docs)
        left = (
            await session.exec(
                select(AchievementUnlock).where(AchievementUnlock.user_id == second.id)
            )
        ).all()
        assert left == []
    members = (
        await client.get(f"/api/classrooms/{classroom_id}/members", headers=lesson.teacher.headers)
    ).json()
    assert second.id not in {m["id"] for m in members["members"]}
    board = (
        await client.get(f"/api/rooms/{lesson.room_id}/leaderboard", headers=lesson.alice.headers)
    ).json()
    assert board  # rebuilt from the ledger without error


async def test_a_source_in_another_classroom_is_not_merged(
    app: Starlette, client: httpx.AsyncClient, lesson: Lesson
) -> None:
    other_teacher: Account = await create_instructor(
        state_of(app).store, state_of(app), email="other@example.org", name="Other"
    )
    other = await new_classroom(client, other_teacher, title="CS 102")
    code = (await client.post("/api/me/rejoin-code", headers=lesson.bob.headers)).json()["code"]
    assert code  # Bob keeps one account for both classrooms:
    async with state_of(app).store.session() as session:
        from server.models import Membership

        session.add(Membership(classroom_id=other["id"], user_id=lesson.bob.id, role="student"))
    response = await client.post(
        f"/api/classrooms/{lesson.classroom['id']}/merge",
        json={"from_user_id": lesson.bob.id, "into_user_id": lesson.alice.id},
        headers=lesson.teacher.headers,
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "member_elsewhere"
