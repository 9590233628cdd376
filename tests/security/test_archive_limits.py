"""Broken and hostile course archives are 400s with the reason, unpacked with running limits
(a 612-byte-class tar.bz2 bomb does not make the server hold its inflated size), and a good
course still imports afterwards. A real server process, so its peak memory can be read."""

from __future__ import annotations

import bz2
import io
import tarfile
import zipfile

import httpx

from tests.conftest import Lesson
from tests.security.test_body_limits import peak_mib
from tests.server.processes import ServerProcess, prepare_lesson

DATABASES = ("sqlite",)

EXERCISE = b"""id = "hello"
title = "Hello"
language = "python"
prompt = "Print hello."

[[tests]]
name = "says hello"
expected = "hello"
points = 1
"""


class Zeros(io.RawIOBase):
    """``size`` zero bytes, produced as read (never held)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def bz2_bomb(size: int = 250 << 20) -> bytes:
    raw = io.BytesIO()
    compressor = bz2.BZ2File(raw, "wb", compresslevel=9)
    with tarfile.open(fileobj=compressor, mode="w|") as archive:
        info = tarfile.TarInfo("course/exercises/big.toml")
        info.size = size
        archive.addfile(info, Zeros(size))
    compressor.close()
    return raw.getvalue()


def good_zip() -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("course/exercises/hello.toml", EXERCISE)
    return raw.getvalue()


def corrupt_zip() -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("course/exercises/hello.toml", EXERCISE * 50)
    data = bytearray(raw.getvalue())
    for i in range(40, 90):  # inside the first member's compressed data
        data[i] ^= 0x5A
    return bytes(data)


def deep_tar(depth: int = 1100) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("course/exercises/" + "d/" * depth + "x.toml")
        info.size = len(EXERCISE)
        archive.addfile(info, io.BytesIO(EXERCISE))
    return raw.getvalue()


async def upload(http: httpx.AsyncClient, lesson: Lesson, data: bytes) -> httpx.Response:
    return await http.post(
        f"/api/classrooms/{lesson.classroom['id']}/course",
        content=data,
        headers={
            "Authorization": f"Bearer {lesson.teacher.token}",
            "Content-Type": "application/zip",
        },
    )


async def test_broken_and_hostile_archives_are_400_with_the_reason(
    process: ServerProcess, database_url: str
) -> None:
    lesson = await prepare_lesson(database_url, process.url)
    bomb = bz2_bomb()
    assert len(bomb) < 2048  # a few hundred bytes that inflate to 250 MiB
    before = peak_mib(process)
    async with httpx.AsyncClient(base_url=process.url, timeout=120) as http:
        cases = {
            "bomb": (bomb, "unpacks to more than"),
            "corrupt zip": (corrupt_zip(), "broken"),
            "1,100 folders deep": (deep_tar(1100), "a path is longer than"),
            "40 folders deep": (deep_tar(40), "deeper than 32 levels"),
            "not an archive": (b"just some text, not an archive at all" * 10, "broken"),
        }
        for name, (data, reason) in cases.items():
            response = await upload(http, lesson, data)
            assert response.status_code == 400, (name, response.text)
            error = response.json()["error"]
            assert error["code"] == "invalid_course" and reason in error["message"], (name, error)
        grown = peak_mib(process) - before
        assert grown < 80, f"the server's peak memory grew {grown:.0f} MiB"
        # Nothing was imported, nothing harmed: a good course imports now.
        ok = await upload(http, lesson, good_zip())
        assert ok.status_code == 200, ok.text
        assert ok.json()["exercises"] == [{"id": "hello", "title": "Hello", "status": "created"}]
        assert (await http.get("/health")).status_code == 200
