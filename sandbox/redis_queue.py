"""Runs through Redis: a stream of requests for sandbox workers, pub/sub for what comes back.

Names (``P`` is the key prefix, empty by default)::

    P runs                 stream of {id, request}; consumer group ``workers``
    P run:{id}             pub/sub: {"t": "state"|"chunk"|"result", ...} from the worker
    P run:{id}:control     pub/sub: {"t": "stdin"|"close_stdin"|"cancel"} to the worker
    P run:{id}:alive       heartbeat of the worker running it (PX ttl, refreshed every second)
    P run:{id}:result      the result, kept ``result_ttl`` seconds for a late reader
    P run:{id}:cancel      set when the run was cancelled before a worker started it

Rule 1: the submitter subscribes to ``run:{id}`` (and waits for Redis to confirm) before the
XADD, so no message of the run can be missed; the result key backs that up.

Rule 2: a run is never run twice. A worker that dies mid-run leaves the run ``internal_error``
("worker lost"): the submitter's relay notices the heartbeat key expire (a few seconds),
and a live worker that later claims the dead worker's pending entry (XAUTOCLAIM) marks it the
same way and acknowledges it instead of running it again, since the code may already have had
side effects (partial output streamed to a class) and the student can simply run it again.
Whoever writes the result key first (SET NX) decides; the other side adopts that result.

Rule 3: the queue bound counts runs not yet started: stream length minus pending entries
(workers XACK and XDEL an entry once its run has finished). The check and the XADD are one
Lua script, so concurrent submitters cannot overshoot it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
from redis.exceptions import ResponseError

from sandbox.cancellation import raise_if_cancelled
from sandbox.exceptions import BackendUnavailable
from sandbox.model import Chunk, RunRequest, RunResult, RunState, RunStatus
from sandbox.queue import OnChunk, OnState, QueuedRun, queue_full
from sandbox.validate import check_request

log = logging.getLogger("classroom.sandbox")

GROUP = "workers"
WORKER_LOST = "worker lost: the sandbox worker stopped during the run (it is not re-run)"

_SUBMIT = """
local waiting = redis.call('XLEN', KEYS[1])
local ok, info = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1])
if ok then waiting = waiting - info[1] end
if waiting < 0 then waiting = 0 end
if waiting >= tonumber(ARGV[2]) then return {0, tostring(waiting)} end
return {1, redis.call('XADD', KEYS[1], '*', 'id', ARGV[3], 'request', ARGV[4])}
"""


@dataclass(frozen=True)
class Keys:
    prefix: str = ""

    @property
    def stream(self) -> str:
        return f"{self.prefix}runs"

    def events(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}"

    def control(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}:control"

    def alive(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}:alive"

    def result(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}:result"

    def cancelled(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}:cancel"

    def run_id(self, events_channel: str) -> str:
        return events_channel[len(self.prefix) + len("run:") :]


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


async def ensure_group(client: redis.Redis, keys: Keys) -> None:
    try:
        await client.xgroup_create(keys.stream, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def queue_figures(client: redis.Redis, keys: Keys) -> tuple[int, float]:
    """Runs no worker has taken yet, and the age in seconds of the oldest of them.

    Entries stay in the stream while they run (workers XDEL them when done), so the waiting
    ones are those after the group's last-delivered id; a stream id starts with its XADD time
    in milliseconds."""
    try:
        groups = await client.xinfo_groups(keys.stream)
    except ResponseError:
        return 0, 0.0  # no stream yet
    group = next((g for g in groups if g["name"] == GROUP), None)
    last = str(group["last-delivered-id"]) if group else "0-0"
    waiting = await client.xrange(keys.stream, min=f"({last}", max="+", count=1)
    if not waiting:
        return 0, 0.0
    length = int(await client.xlen(keys.stream))
    pending = int(group["pending"]) if group else 0
    now_s, now_us = await client.time()
    oldest_ms = int(str(waiting[0][0]).split("-")[0])
    age = max(0.0, (int(now_s) * 1000 + int(now_us) // 1000 - oldest_ms) / 1000)
    return max(1, length - pending), age


async def settle(
    client: redis.Redis, keys: Keys, run_id: str, result: RunResult, ttl: int
) -> RunResult:
    """Store ``result`` unless a result is stored already; return the stored one (Rule 2)."""
    stored = await client.set(keys.result(run_id), encode(result.to_dict()), nx=True, ex=ttl)
    if stored:
        return result
    raw = await client.get(keys.result(run_id))
    return RunResult.from_dict(json.loads(raw)) if raw else result


class Subscriber:
    """One pub/sub connection for many channels; :meth:`subscribe` returns once Redis confirms."""

    def __init__(self, client: redis.Redis, home: str, on_message: Any) -> None:
        self._pubsub = client.pubsub()
        self._home = home
        self._on_message = on_message
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Listening needs one subscription at all times; the home channel is that one.
        await self._pubsub.subscribe(self._home)
        self._task = asyncio.create_task(self._listen(), name=f"subscriber-{self._home}")

    async def subscribe(self, channel: str) -> None:
        confirmed = asyncio.get_running_loop().create_future()
        self._confirmed[channel] = confirmed
        await self._pubsub.subscribe(channel)
        async with asyncio.timeout(10):
            await confirmed

    async def unsubscribe(self, channel: str) -> None:
        with contextlib.suppress(redis.ConnectionError):
            await self._pubsub.unsubscribe(channel)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]  # typed since redis 8.2

    async def _listen(self) -> None:
        while True:
            raise_if_cancelled()
            try:
                async for message in self._pubsub.listen():
                    await self._dispatch(message)
            except (redis.ConnectionError, redis.TimeoutError):
                # redis-py reconnects and resubscribes on the next read; messages published
                # meanwhile are lost, which heartbeats and the result keys make up for.
                log.warning("pub/sub connection to Redis lost; retrying", exc_info=True)
                await asyncio.sleep(1.0)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        if message["type"] == "subscribe":
            confirmed = self._confirmed.pop(channel, None)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
        elif message["type"] == "message":
            try:
                await self._on_message(channel, json.loads(message["data"]))
            except Exception:  # one bad message must not stop the relay
                log.error("bad message on %s", channel, exc_info=True)


class _Control:
    def __init__(self, client: redis.Redis, channel: str) -> None:
        self._client, self._channel = client, channel

    async def write_stdin(self, data: str) -> None:
        await self._client.publish(self._channel, encode({"t": "stdin", "data": data}))

    async def close_stdin(self) -> None:
        await self._client.publish(self._channel, encode({"t": "close_stdin"}))

    async def cancel(self) -> None:
        await self._client.publish(self._channel, encode({"t": "cancel"}))


class RedisRunQueue:
    """The :class:`~sandbox.queue.Dispatcher` whose runs execute on sandbox workers."""

    def __init__(
        self,
        url: str,
        *,
        max_queued: int,
        prefix: str = "",
        check_interval: float = 1.0,
        result_ttl: int = 3600,
    ) -> None:
        self.keys = Keys(prefix)
        self.max_queued = max_queued
        self.check_interval = check_interval
        self.result_ttl = result_ttl
        self._client: redis.Redis = redis.Redis.from_url(url, decode_responses=True)
        self._runs: dict[str, QueuedRun] = {}
        self._entries: dict[str, str] = {}
        self._subscriber = Subscriber(self._client, f"{prefix}runs:relay", self._on_message)
        self._submit = self._client.register_script(_SUBMIT)
        self._monitor: asyncio.Task[None] | None = None

    @property
    def running(self) -> int:
        return sum(1 for run in self._runs.values() if run.state is RunState.RUNNING)

    async def start(self) -> None:
        await ensure_group(self._client, self.keys)
        await self._subscriber.start()
        self._monitor = asyncio.create_task(self._watch_heartbeats(), name="run-heartbeats")

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        # Like the local queue, a closing server cancels its runs: nobody is left to watch them.
        for run in list(self._runs.values()):
            with contextlib.suppress(redis.RedisError):
                await run.cancel()
            if run.state is not RunState.FINISHED:
                run.finish(RunResult(RunStatus.CANCELLED, message="the server is shutting down"))
        await self._subscriber.close()
        await self._client.aclose()

    async def submit(
        self,
        request: RunRequest,
        *,
        on_chunk: OnChunk | None = None,
        on_state: OnState | None = None,
    ) -> QueuedRun:
        check_request(request)
        run = QueuedRun(
            request, on_chunk=on_chunk, on_state=on_state, on_queued_cancel=self._cancel_queued
        )
        channel = self.keys.events(run.id)
        self._runs[run.id] = run
        try:
            await self._subscriber.subscribe(channel)
            payload = encode(request.to_dict())
            args: list[str | int] = [GROUP, self.max_queued, run.id, payload]
            accepted, value = await self._submit(keys=[self.keys.stream], args=args)
        except (redis.RedisError, TimeoutError) as exc:
            self._runs.pop(run.id, None)
            raise BackendUnavailable(f"cannot reach the run queue in Redis: {exc}") from exc
        if not accepted:
            self._runs.pop(run.id, None)
            await self._subscriber.unsubscribe(channel)
            raise queue_full(int(value))
        self._entries[run.id] = value
        run.announce()
        return run

    def get(self, run_id: str) -> QueuedRun | None:
        return self._runs.get(run_id)

    async def depth(self) -> int:
        length = await self._client.xlen(self.keys.stream)
        try:
            pending = (await self._client.xpending(self.keys.stream, GROUP))["pending"]
        except ResponseError:
            pending = 0
        return max(0, int(length) - int(pending))

    # -- relay ---------------------------------------------------------------------------

    async def _on_message(self, channel: str, message: dict[str, Any]) -> None:
        run = self._runs.get(self.keys.run_id(channel))
        if run is None or run.state is RunState.FINISHED:
            return
        kind = message.get("t")
        if kind == "state" and message.get("state") == RunState.RUNNING:
            if run.state is RunState.QUEUED:
                await run.started(_Control(self._client, self.keys.control(run.id)))
        elif kind == "chunk":
            run.add_chunk(Chunk.from_dict(message))
        elif kind == "result":
            await self._finish(run, RunResult.from_dict(message["result"]))

    async def _finish(self, run: QueuedRun, result: RunResult) -> None:
        if run.state is not RunState.FINISHED:
            run.finish(result)
        await self._forget(run)

    async def _forget(self, run: QueuedRun) -> None:
        self._runs.pop(run.id, None)
        self._entries.pop(run.id, None)
        await self._subscriber.unsubscribe(self.keys.events(run.id))

    async def _cancel_queued(self, run: QueuedRun) -> None:
        """Cancelled before it started: make sure no worker starts it, and drop its entry."""
        await self._client.set(self.keys.cancelled(run.id), "1", ex=self.result_ttl)
        await self._client.publish(self.keys.control(run.id), encode({"t": "cancel"}))
        entry = self._entries.get(run.id)
        if entry is not None:
            await self._client.xdel(self.keys.stream, entry)
        await self._forget(run)

    async def _watch_heartbeats(self) -> None:
        # The worker's heartbeat key lives a few seconds; checking each second notices a
        # dead worker within that TTL plus one interval.
        while True:
            raise_if_cancelled()
            await asyncio.sleep(self.check_interval)
            try:
                await self._check_heartbeats()
            except redis.ConnectionError:
                log.warning("cannot reach Redis to check run heartbeats", exc_info=True)

    async def _check_heartbeats(self) -> None:
        for run in [r for r in self._runs.values() if r.state is RunState.RUNNING]:
            if await self._client.exists(self.keys.alive(run.id)):
                continue
            lost = RunResult(RunStatus.INTERNAL_ERROR, message=WORKER_LOST)
            result = await settle(self._client, self.keys, run.id, lost, self.result_ttl)
            if result is lost:
                log.warning("run %s: its worker stopped heartbeating; marked lost", run.id)
            await self._finish(run, result)
