"""A sandbox worker: takes runs from the Redis stream and runs them on its backend.

Start one (or several, on any machine that reaches Redis) with ``python -m sandbox.worker``;
settings come from the ``CLASSROOM_*`` environment, flags override them (``--help``).

Per run: subscribe to ``run:{id}:control`` (so a cancel or stdin cannot be missed), give up if
the run was cancelled while queued, start the heartbeat, start the backend, publish
``running``, relay every chunk, store and publish the result, XACK and XDEL the entry. The
heartbeat also resets the idle time of the run's pending entry (XCLAIM to itself), so the
XAUTOCLAIM sweep only ever claims entries of workers that stopped; see Rule 2 in
:mod:`sandbox.redis_queue` for what happens to those.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import uuid
from typing import TYPE_CHECKING, Any

import redis.asyncio as redis

from sandbox.backend import Backend, Execution
from sandbox.exceptions import SandboxError
from sandbox.model import RunRequest, RunResult, RunState, RunStatus
from sandbox.redis_queue import GROUP, WORKER_LOST, Keys, Subscriber, encode, ensure_group, settle
from sandbox.select import operator_maxima, select_backend

if TYPE_CHECKING:
    from server.settings import Settings

log = logging.getLogger("classroom.sandbox")


class _Active:
    def __init__(self, run_id: str, entry: str) -> None:
        self.run_id, self.entry = run_id, entry
        self.execution: Execution | None = None
        self.cancelled = False


class Worker:
    def __init__(
        self,
        client: redis.Redis,
        backend: Backend,
        *,
        prefix: str = "",
        name: str | None = None,
        concurrency: int = 2,
        alive_ttl_ms: int = 3000,
        claim_idle_ms: int = 10_000,
        result_ttl: int = 3600,
    ) -> None:
        self.client = client
        self.backend = backend
        self.keys = Keys(prefix)
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.concurrency = concurrency
        self.alive_ttl_ms = alive_ttl_ms
        self.claim_idle_ms = claim_idle_ms
        self.result_ttl = result_ttl
        self._active: dict[str, _Active] = {}
        self._slot_free = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._control = Subscriber(client, f"{prefix}worker:{self.name}", self._on_control)

    def stop(self) -> None:
        """Take no new runs; :meth:`serve` returns once the running ones have finished."""
        self._stopping.set()

    async def serve(self) -> None:
        await ensure_group(self.client, self.keys)
        await self._control.start()
        heartbeat = asyncio.create_task(self._heartbeat(), name="worker-heartbeat")
        log.info(
            "worker %s serving %s (concurrency %d)", self.name, self.keys.stream, self.concurrency
        )
        try:
            await self.reclaim()
            claimed_at = asyncio.get_running_loop().time()
            while not self._stopping.is_set():
                free = self.concurrency - len(self._active)
                if free <= 0:
                    self._slot_free.clear()
                    await self._slot_free.wait()
                    continue
                try:
                    reply: Any = await self.client.xreadgroup(
                        GROUP, self.name, {self.keys.stream: ">"}, count=free, block=1000
                    )
                except (redis.ConnectionError, redis.TimeoutError):
                    log.warning("worker %s: Redis unreachable; retrying", self.name, exc_info=True)
                    await asyncio.sleep(1.0)
                    continue
                except redis.ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    await ensure_group(self.client, self.keys)  # the stream was deleted
                    continue
                for _stream, entries in reply or []:
                    for entry, fields in entries:
                        self._take(entry, fields)
                now = asyncio.get_running_loop().time()
                if now - claimed_at > self.claim_idle_ms / 2000:
                    with contextlib.suppress(redis.RedisError):
                        await self.reclaim()
                    claimed_at = now
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self._control.close()

    async def reclaim(self) -> int:
        """Settle entries of dead workers as lost (never re-run them). Returns how many."""
        count, start = 0, "0-0"
        while True:
            reply = await self.client.xautoclaim(
                self.keys.stream, GROUP, self.name, self.claim_idle_ms, start, count=100
            )
            start, claimed = reply[0], reply[1]
            for entry, fields in claimed:
                count += 1
                run_id = (fields or {}).get("id")
                if run_id:
                    lost = RunResult(RunStatus.INTERNAL_ERROR, message=WORKER_LOST)
                    result = await settle(self.client, self.keys, run_id, lost, self.result_ttl)
                    await self._publish(run_id, {"t": "result", "result": result.to_dict()})
                await self._done(entry)
                log.warning("run %s: its worker died; entry %s claimed, marked lost", run_id, entry)
            if start == "0-0":
                return count

    # -- one run -------------------------------------------------------------------------

    def _take(self, entry: str, fields: dict[str, str]) -> None:
        active = _Active(fields.get("id", ""), entry)
        self._active[entry] = active
        task = asyncio.create_task(self._run(active, fields), name=f"worker-run-{active.run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, active: _Active, fields: dict[str, str]) -> None:
        run_id = active.run_id
        result: RunResult | None = None
        control = self.keys.control(run_id)
        try:
            request = RunRequest.from_dict(json.loads(fields["request"]))
            await self._control.subscribe(control)
            if await self.client.exists(self.keys.cancelled(run_id)):
                log.info("run %s was cancelled before it started", run_id)
                return
            await self.client.set(self.keys.alive(run_id), self.name, px=self.alive_ttl_ms)
            try:
                execution = await self.backend.run(request)
            except SandboxError as exc:
                result = RunResult(RunStatus.INTERNAL_ERROR, message=str(exc))
                return
            active.execution = execution
            if active.cancelled:
                await execution.cancel()
            try:
                await self._publish(run_id, {"t": "state", "state": RunState.RUNNING.value})
                async for chunk in execution.chunks():
                    await self._publish(run_id, {"t": "chunk", **chunk.to_dict()})
            except BaseException:
                await execution.cancel()  # nobody could see it any more: stop it
                raise
            result = await execution.wait()
        except Exception as exc:  # task boundary: the run must end with a result
            log.error("run %s failed in worker %s", run_id, self.name, exc_info=True)
            result = RunResult(RunStatus.INTERNAL_ERROR, message=f"worker error: {exc}")
        finally:
            # Stored first (a relay that finds no heartbeat adopts it), published last (a
            # submitter that has the result finds the run's keys and entry cleaned up).
            with contextlib.suppress(redis.RedisError):
                if result is not None and run_id:
                    result = await settle(self.client, self.keys, run_id, result, self.result_ttl)
                await self.client.delete(self.keys.alive(run_id))
                await self._control.unsubscribe(control)
                await self._done(active.entry)
                if result is not None and run_id:
                    await self._publish(run_id, {"t": "result", "result": result.to_dict()})
            self._active.pop(active.entry, None)
            self._slot_free.set()

    async def _done(self, entry: str) -> None:
        await self.client.xack(self.keys.stream, GROUP, entry)
        await self.client.xdel(self.keys.stream, entry)

    async def _publish(self, run_id: str, message: dict[str, Any]) -> None:
        await self.client.publish(self.keys.events(run_id), encode(message))

    async def _on_control(self, channel: str, message: dict[str, Any]) -> None:
        run_id = channel[len(self.keys.prefix) + len("run:") : -len(":control")]
        active = next((a for a in self._active.values() if a.run_id == run_id), None)
        if active is None:
            return
        execution, kind = active.execution, message.get("t")
        if kind == "cancel":
            active.cancelled = True
            if execution is not None:
                await execution.cancel()
        elif execution is None:
            return  # the submitter sends stdin only after `running`
        elif kind == "stdin":
            await execution.write_stdin(str(message.get("data", "")))
        elif kind == "close_stdin":
            await execution.close_stdin()

    async def _heartbeat(self) -> None:
        while True:
            try:
                if self._active:
                    async with self.client.pipeline(transaction=False) as pipe:
                        for active in self._active.values():
                            pipe.set(
                                self.keys.alive(active.run_id), self.name, px=self.alive_ttl_ms
                            )
                        entries: list[Any] = [a.entry for a in self._active.values()]
                        # Resets the entries' idle time: XAUTOCLAIM leaves live runs alone.
                        pipe.xclaim(self.keys.stream, GROUP, self.name, 0, entries, justid=True)
                        await pipe.execute()
            except redis.RedisError:
                log.warning("worker %s: heartbeat failed", self.name, exc_info=True)
            await asyncio.sleep(min(1.0, self.alive_ttl_ms / 3000))


async def _main(args: argparse.Namespace) -> None:
    backend = await select_backend(
        args.sandbox,
        maxima=args.maxima,
        docker_url=args.docker_url,
        image_prefix=args.image_prefix,
        pool_size=args.pool_size,
    )
    client: redis.Redis = redis.Redis.from_url(args.redis_url, decode_responses=True)
    worker = Worker(
        client,
        backend,
        prefix=args.prefix,
        name=args.name,
        concurrency=args.concurrency,
        claim_idle_ms=args.claim_idle_ms,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    try:
        print(f"worker {worker.name} ready", flush=True)
        await worker.serve()
    finally:
        await backend.close()
        await client.aclose()


def main(settings: Settings, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.worker", description="Run code from the Redis run stream."
    )
    parser.add_argument("--redis-url", default=settings.redis_url)
    parser.add_argument(
        "--prefix",
        default=settings.redis_prefix,
        help="Redis key prefix of the stream and channels (default CLASSROOM_REDIS_PREFIX)",
    )
    parser.add_argument("--sandbox", default=settings.sandbox, choices=["auto", "docker", "local"])
    parser.add_argument("--concurrency", type=int, default=settings.run_concurrency)
    parser.add_argument("--name", default=None, help="consumer name (default host-pid-random)")
    parser.add_argument("--claim-idle-ms", type=int, default=10_000)
    args = parser.parse_args(argv)
    if not args.redis_url:
        parser.error("no Redis: set CLASSROOM_REDIS_URL or pass --redis-url")
    args.maxima = operator_maxima(
        settings.max_time_seconds, settings.max_memory_mb, settings.max_output_bytes
    )
    args.docker_url = settings.docker_url
    args.image_prefix = settings.image_prefix
    args.pool_size = settings.pool_size
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    asyncio.run(_main(args))


if __name__ == "__main__":
    # A process entry point: the one place in sandbox/ that reads the environment.
    from server.settings import Settings

    main(Settings.from_env())
