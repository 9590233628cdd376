"""Two deployments with different CLASSROOM_REDIS_PREFIX values share one Redis: deployment A
(two server processes and a worker on PostgreSQL) and deployment B (one process and a worker on
SQLite) have the same room and user ids, and hear nothing of each other. Every key and every
channel either touches starts with its prefix (a PSUBSCRIBE * watcher sees every publish)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.node.harness import YjsHarness
from tests.server.processes import (
    PrivateRedis,
    ServerProcess,
    prepare_lesson,
    server_env,
    start_worker,
    stop_worker,
)
from tests.support.events import EventClient

pytestmark = pytest.mark.bwrap

DATABASES = ("postgres",)
A, B = "schoolA:", "schoolB:"


class Watcher:
    """Every channel anything publishes on, from a PSUBSCRIBE * connection."""

    def __init__(self, url: str) -> None:
        self.client = aioredis.Redis.from_url(url, decode_responses=True)
        # Document updates are binary: this connection leaves payloads as bytes.
        self.pubsub = aioredis.Redis.from_url(url).pubsub()
        self.channels: list[str] = []
        self._new = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.pubsub.psubscribe("*")
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.pubsub.listen():
            if message["type"] == "pmessage":
                self.channels.append(message["channel"].decode())
                self._new.set()

    async def wait_for(self, channel: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        async def seen() -> None:
            while channel not in self.channels:
                self._new.clear()
                await self._new.wait()

        try:
            await asyncio.wait_for(seen(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"nothing on {channel}; seen {sorted(set(self.channels))}"
            ) from None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.pubsub.aclose()  # type: ignore[no-untyped-call]
        await self.client.aclose()


def output_of(client: EventClient) -> str:
    return "".join(e["data"] for e in client.seen if e["type"] == "run.output")


async def test_two_prefixes_share_one_redis_without_crosstalk(
    database_url: str, private_redis: PrivateRedis, yjs: YjsHarness, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    env_a = server_env(tmp_path / "a", database_url, redis_url=private_redis.url, redis_prefix=A)
    url_b = f"sqlite:///{tmp_path / 'b' / 'classroom.db'}"
    env_b = server_env(tmp_path / "b", url_b, redis_url=private_redis.url, redis_prefix=B)
    a1, a2, b1 = ServerProcess(env_a), ServerProcess(env_a), ServerProcess(env_b)
    watcher = Watcher(private_redis.url)
    await watcher.start()
    await a1.start()  # one migrates the shared database first
    await asyncio.gather(a2.start(), b1.start())
    workers = await asyncio.gather(start_worker(env_a), start_worker(env_b))
    clients: list[EventClient] = []
    try:
        lesson_a = await prepare_lesson(database_url, a1.url)
        lesson_b = await prepare_lesson(url_b, b1.url)
        assert lesson_a.room_id == lesson_b.room_id  # the same ids: only the prefix separates
        assert lesson_a.alice.id == lesson_b.alice.id
        room = lesson_a.room_id
        doc = f"{room}/students/{lesson_a.alice.id}/main.py"

        # Documents: A's two processes converge; B's document stays its own.
        for name, server, token in (
            ("a1", a1, lesson_a.alice.token),
            ("a2", a2, lesson_a.teacher.token),
            ("b1", b1, lesson_b.alice.token),
        ):
            reply = await yjs.call(
                "open", client=name, url=f"{server.ws_url}/yjs", doc=doc, token=token
            )
            assert reply["synced"], reply
        await yjs.call("insert", client="a1", text="from A\n")
        await yjs.call("wait_text", client="a2", equals="from A\n")
        await yjs.call("insert", client="b1", text="from B\n")
        await watcher.wait_for(f"{B}doc:{room}:students/{lesson_b.alice.id}/main.py")
        # B's update is out on Redis; a later A update reaching a2 shows a2 took nothing from B.
        await yjs.call("insert", client="a1", text="again A\n")
        assert (await yjs.call("wait_text", client="a2", contains=["again A\n"]))["text"] == (
            "from A\nagain A\n"
        )
        assert (await yjs.call("text", client="b1"))["text"] == "from B\n"

        # Presence: Alice online in B is not online in A's room of the same id.
        alice_b = await EventClient.open(b1.ws_url, room, lesson_b.alice.token)
        clients.append(alice_b)
        await alice_b.expect("room.snapshot")
        teacher_a = await EventClient.open(a2.ws_url, room, lesson_a.teacher.token)
        clients.append(teacher_a)
        snapshot = await teacher_a.expect("room.snapshot")
        assert {m["name"] for m in snapshot["members"] if m["online"]} == {"Ada"}

        # Runs: each deployment's run goes to its own worker and comes back to its own room.
        bob_a = await EventClient.open(a1.ws_url, room, lesson_a.bob.token)
        clients.append(bob_a)
        await bob_a.expect("room.snapshot")
        for client, word in ((bob_a, "alpha"), (alice_b, "beta")):
            await client.send(
                {
                    "type": "run.start",
                    "language": "python",
                    "files": {"main.py": f"print('{word}')"},
                }
            )
        for client, word in ((bob_a, "alpha"), (alice_b, "beta")):
            finished = await client.expect("run.finished", timeout=60)
            assert finished["status"] == "ok", finished
            assert output_of(client) == f"{word}\n"
        # The staff of A saw A's run only (B's run was started before A's finished).
        await teacher_a.expect("run.finished", timeout=30)
        assert output_of(teacher_a) == "alpha\n"

        # Nothing outside the two prefixes: not one key, not one channel.
        keys = [key async for key in watcher.client.scan_iter("*")]
        assert keys, "the deployments wrote no keys at all"
        assert [k for k in keys if not k.startswith((A, B))] == []
        assert any(k.startswith(A) for k in keys) and any(k.startswith(B) for k in keys)
        assert await watcher.client.exists(f"{A}runs", f"{B}runs") == 2
        assert [c for c in watcher.channels if not c.startswith((A, B))] == []
        subscribed = await watcher.client.pubsub_channels()
        assert [c for c in subscribed if not c.startswith((A, B))] == []
    finally:
        for client in clients:
            await client.close()
        await asyncio.gather(*(stop_worker(worker) for worker in workers))
        await asyncio.gather(a1.stop(), a2.stop(), b1.stop())
        await watcher.close()
        for name, server in (("a1", a1), ("a2", a2), ("b1", b1)):  # shown when the test fails
            print(f"--- {name}", *server.log[-40:], sep="\n")
