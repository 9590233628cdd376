"""Course assets through the import: stored, served from our origin with their type and
policy, members only, replaced by the next import; bad ones refused as file:line: reason."""

from __future__ import annotations

import io
import zipfile

import httpx

from tests.conftest import Lesson, join_as, new_classroom
from tests.server.courses.test_importer import upload
from tests.support.media import png

DEMO = """
id = "pictures"
title = "Pictures"
description = "A step with an image."
difficulty = "beginner"
estimated_minutes = 1

[[steps]]
id = "look"
type = "explanation"
title = "Look"
[steps.content]
text = "![a tree](assets/tree.png)"
"""


def course(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"course/{name}", data)
    return buffer.getvalue()


async def test_assets_are_stored_served_and_replaced(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    image = png()
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 2 2"><circle r="1"/></svg>'
    files = {"demos/pictures.toml": DEMO.encode(), "assets/tree.png": image, "assets/d/x.svg": svg}
    response = await upload(client, lesson, course(files))
    assert response.status_code == 200, response.text
    assert {(a["path"], a["type"], a["status"]) for a in response.json()["assets"]} == {
        ("assets/tree.png", "image/png", "created"),
        ("assets/d/x.svg", "image/svg+xml", "created"),
    }
    base = f"/api/classrooms/{lesson.classroom['id']}/assets"
    got = await client.get(f"{base}/tree.png", headers=lesson.alice.headers)
    assert got.status_code == 200 and got.content == image
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]
    cached = await client.get(
        f"{base}/tree.png", headers={**lesson.alice.headers, "if-none-match": got.headers["etag"]}
    )
    assert cached.status_code == 304
    assert (await client.get(f"{base}/d/x.svg", headers=lesson.alice.headers)).headers[
        "content-type"
    ] == "image/svg+xml"
    assert (await client.get(f"{base}/none.png", headers=lesson.alice.headers)).status_code == 404

    # Not a member of this classroom: refused.
    other = await new_classroom(client, lesson.teacher)
    eve = await join_as(client, other["join_code"], "Eve")
    assert (await client.get(f"{base}/tree.png", headers=eve.headers)).status_code == 403

    # The next import without the SVG removes it; the PNG is unchanged.
    del files["assets/d/x.svg"]
    again = (await upload(client, lesson, course(files))).json()
    assert again["assets"] == [
        {"path": "assets/tree.png", "type": "image/png", "bytes": len(image), "status": "unchanged"}
    ]
    assert (await client.get(f"{base}/d/x.svg", headers=lesson.alice.headers)).status_code == 404


async def test_bad_assets_refuse_the_whole_import_with_file_and_line(
    client: httpx.AsyncClient, lesson: Lesson
) -> None:
    cases = [
        (
            {"demos/pictures.toml": DEMO.encode()},
            "demos/pictures.toml:13: assets/tree.png is not in",
        ),
        (
            {"demos/pictures.toml": DEMO.encode(), "assets/tree.png": b"<html>"},
            "assets/tree.png:1: the content is not image/png",
        ),
        (
            {
                "demos/pictures.toml": DEMO.encode(),
                "assets/tree.png": png(),
                "assets/evil.svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>',
            },
            "assets/evil.svg:1: an SVG asset may not use onload=",
        ),
    ]
    for files, reason in cases:
        response = await upload(client, lesson, course(files))
        assert response.status_code == 400, response.text
        assert reason in response.json()["error"]["message"]
    demos = await client.get(
        f"/api/classrooms/{lesson.classroom['id']}/demos", headers=lesson.teacher.headers
    )
    assert demos.json()["demos"] == []  # nothing was written
