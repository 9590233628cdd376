"""One student's update that splits every block of their own file, against a real server.

    .venv/bin/python bench/split_bench.py [--source OTHER_CHECKOUT] [--blocks 40000] [--repeat 2]

yrs keeps a client's blocks in one array and moves every later block at each split, so an
update placing items inside many blocks, or deleting ranges that end inside them, costs its
splits times the file's blocks (rooms/pieces.py). For each server (this checkout, and
``--source`` beside it, alternating) and each shape this script starts ``python -m server``
on a fresh SQLite file (its default budgets, local sandbox), signs a student in, sends their
own file ``--blocks`` two-character blocks (each written before the last, so yrs keeps them
apart) and waits until the server has them all, then sends one update splitting each block,
followed by a sync step1 whose answer comes after it. Meanwhile another connection asks
``/health`` every 20 ms. It prints how the student's socket ended (the step1 answered, or the
close), after how long, and ``/health``'s p50 and worst during that time: how long every
other room of the process waited. Shapes: ``delete`` (the first character of each block),
``insert`` (a character inside each block; half the blocks, so that the frame stays within
the file's 1 MiB quota) and ``map`` (as many map entries of one key, from one client id,
none with an origin, as half the blocks: each is placed by scanning the others).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import pycrdt  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from rooms.frames import step1_frame, update_frame  # noqa: E402
from tests.server.processes import ServerProcess, prepare_lesson, server_env  # noqa: E402
from tests.support.updates import (  # noqa: E402
    fragmenting,
    orphan_entries,
    splitting_deletes,
    splitting_inserts,
)

# Each shape: the update it sends, made from the filled file, and what share of --blocks.
SHAPES = {
    "delete": (splitting_deletes, 1),
    "insert": (splitting_inserts, 2),
    "map": (
        lambda doc: orphan_entries(len(doc.get("text", type=pycrdt.Text)) // 2, one_client=True),
        2,
    ),
}


async def step2_or_close(ws: object, timeout: float) -> str:  # noqa: ASYNC109
    """Read until a sync step2 arrives ("answered") or the server closes ("closed …")."""
    try:
        while True:
            frame = await asyncio.wait_for(ws.recv(), timeout)  # type: ignore[attr-defined]
            if isinstance(frame, bytes) and frame[:2] == b"\x00\x01":
                return "answered"
    except ConnectionClosed as closed:
        got = closed.rcvd
        return f"closed {got.code} {got.reason!r}" if got else "closed without a close frame"


async def one_run(source: Path, shape: str, blocks: int) -> str:
    make, fewer = SHAPES[shape]
    blocks //= fewer
    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{tmp}/classroom.db"
        server = ServerProcess(server_env(Path(tmp), database), cwd=source)
        await server.start()
        url = server.url
        try:
            lesson = await prepare_lesson(database, url)
            doc = f"students/{lesson.alice.id}/main.py"
            ws_url = f"{server.ws_url}/yjs/{lesson.room_id}/{doc}?token={lesson.alice.token}"
            base, fragmented = fragmenting(blocks)
            hit = update_frame(make(fragmented))
            async with connect(ws_url, max_size=None) as ws:
                await ws.recv()  # the server's step1
                await ws.send(update_frame(base))
                await ws.send(step1_frame(b"\x00"))
                assert await step2_or_close(ws, 120) == "answered"
                waits: list[float] = []
                done = asyncio.Event()

                async def ask() -> None:
                    async with httpx.AsyncClient() as http:
                        while not done.is_set():
                            started = time.perf_counter()
                            await http.get(url + "/health")
                            waits.append((time.perf_counter() - started) * 1000)
                            await asyncio.sleep(0.02)

                asker = asyncio.create_task(ask())
                await asyncio.sleep(0.3)
                started = time.perf_counter()
                await ws.send(hit)
                await ws.send(step1_frame(b"\x00"))
                ended = await step2_or_close(ws, 120)
                took = (time.perf_counter() - started) * 1000
                await asyncio.sleep(0.3)
                done.set()
                await asker
            return (
                f"{shape:6} {blocks:6} blocks, frame {len(hit):7,} B: {ended} after {took:5.0f} ms;"
                f" /health p50 {statistics.median(waits):5.1f} ms, worst {max(waits):6.1f} ms"
            )
        finally:
            await server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, help="another checkout, run beside this one")
    parser.add_argument("--blocks", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--shape", action="append", choices=sorted(SHAPES))
    args = parser.parse_args()
    sources = [("this", ROOT)] + ([("source", args.source.resolve())] if args.source else [])
    for _ in range(args.repeat):
        for shape in args.shape or sorted(SHAPES):
            for name, source in sources:
                print(f"{name:6} {await one_run(source, shape, args.blocks)}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
