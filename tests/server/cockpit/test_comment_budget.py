"""A student's inline comments: a minute, and on one file (server/cockpit/feedback.py).

Before: one student posted 2,013 comments of 2,000 characters in 10 s, each one an event on
the staff's sockets; the file's comment list was 4.4 MB and grew for ever."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.settings import Settings
from tests.conftest import Lesson, make_settings

DATABASES = ("sqlite", "postgres")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, comments_per_minute="5", max_comments_per_doc="3")


async def test_a_students_comments_are_bounded_and_the_staffs_are_not(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    url = f"/api/rooms/{lesson.room_id}/comments"
    main = f"students/{lesson.alice.id}/main.py"
    other = f"students/{lesson.alice.id}/util.py"

    async def post(doc: str, headers: dict[str, str]) -> httpx.Response:
        return await client.post(url, json={"doc": doc, "body": "x" * 2000}, headers=headers)

    for _ in range(3):
        assert (await post(main, lesson.alice.headers)).status_code == 201
    full = await post(main, lesson.alice.headers)
    assert full.status_code == 409, full.text[:200]
    assert full.json()["error"]["code"] == "too_many_comments"
    # The staff still comment on her file, as often as they like.
    for _ in range(8):
        assert (await post(main, lesson.teacher.headers)).status_code == 201
    # Her fifth this minute (the refused one counted) goes to another file; the sixth waits.
    assert (await post(other, lesson.alice.headers)).status_code == 201
    late = await post(other, lesson.alice.headers)
    assert late.status_code == 429, late.text[:200]
    assert late.json()["error"]["code"] == "rate_limited"
    assert "at most 5 a minute" in late.json()["error"]["message"]
    assert 1 <= int(late.headers["retry-after"]) <= 60
    listed = await client.get(url, params={"doc": main}, headers=lesson.teacher.headers)
    assert len(listed.json()["comments"]) == 3 + 8
