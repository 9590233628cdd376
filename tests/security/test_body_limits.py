"""A 96 MiB body is refused without being read into memory, signed in or not, chunked (no
Content-Length to check first); the server keeps serving. A real server process: its peak
memory (VmHWM) says whether the body was held."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from tests.server.processes import ServerProcess, prepare_lesson

DATABASES = ("sqlite",)
CHUNK = b"x" * (1 << 20)


def peak_mib(server: ServerProcess) -> float:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


async def send_chunked(
    server: ServerProcess, path: str, headers: dict[str, str], mib: int
) -> tuple[int, bytes]:
    """POST ``mib`` MiB with chunked encoding; the answer's status and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    head += ["Transfer-Encoding: chunked", *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    answer = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    try:
        for _ in range(mib):
            if answer.done():
                break
            writer.write(b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n")
            await writer.drain()
        else:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except (ConnectionResetError, BrokenPipeError):
        pass
    head_bytes = await asyncio.wait_for(answer, 60)
    status = int(head_bytes.split(b" ", 2)[1])
    length = next(
        (
            int(x.split(b":")[1])
            for x in head_bytes.split(b"\r\n")
            if x.lower().startswith(b"content-length:")
        ),
        0,
    )
    body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
    writer.close()
    return status, body


async def test_a_96_mib_body_is_refused_without_holding_it(
    process: ServerProcess, database_url: str
) -> None:
    lesson = await prepare_lesson(database_url, process.url)
    before = peak_mib(process)
    # Anonymous, to the sign-in endpoint.
    status, body = await send_chunked(
        process, "/api/auth/login", {"Content-Type": "application/json"}, 96
    )
    assert status == 400 and json.loads(body)["error"]["code"] == "body_too_large"
    # An instructor's course upload (its own, larger limit).
    headers = {"Authorization": f"Bearer {lesson.teacher.token}", "Content-Type": "application/zip"}
    path = f"/api/classrooms/{lesson.classroom['id']}/course"
    status, body = await send_chunked(process, path, headers, 96)
    assert status == 400 and json.loads(body)["error"]["code"] == "body_too_large"
    grown = peak_mib(process) - before
    assert grown < 40, f"the server's peak memory grew {grown:.0f} MiB"
    # Nothing else was harmed: the server answers and signs people in.
    async with httpx.AsyncClient(base_url=process.url) as http:
        assert (await http.get("/health")).status_code == 200
        login = {"email": "teacher@example.org", "password": "correct horse"}
        assert (await http.post("/api/auth/login", json=login)).status_code == 200
