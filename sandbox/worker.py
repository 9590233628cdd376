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
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import redis.asyncio as redis
from prometheus_client import start_http_server

from sandbox.backend import Backend, Execution
from sandbox.cancellation import raise_if_cancelled
from sandbox.demand import PoolBudget
from sandbox.demand_reader import DemandReader
from sandbox.exceptions import SandboxError
from sandbox.metrics import WorkerMetrics
from sandbox.model import RunRequest, RunResult, RunState, RunStatus
from sandbox.pool import WarmPool
from sandbox.redis_queue import (
    GROUP,
    WORKER_LOST,
    Keys,
    Subscriber,
    encode,
    ensure_group,
    queue_figures,
    settle,
)
from sandbox.selection import operator_maxima, runs_at_once, select_backend

if TYPE_CHECKING:
    from server.settings import Settings

log = logging.getLogger("classroom.sandbox")

STOPPED = "the sandbox worker stopped before the run ended (shutdown deadline); run it again"
# The longest one step of a stopping worker's clean-up may take (after its runs drained).
CLOSE_STEP_SECONDS = 10.0


async def _close_step(what: str, step: Any) -> None:
    """Await one clean-up step of a stopping worker, at most CLOSE_STEP_SECONDS: a step that
    hangs (a connection that never answers) must not keep the process from exiting."""
    try:
        async with asyncio.timeout(CLOSE_STEP_SECONDS):
            await step
    except TimeoutError:
        log.warning("stopping: %s took over %.0f s; going on", what, CLOSE_STEP_SECONDS)
    except Exception:
        log.warning("stopping: %s failed; going on", what, exc_info=True)


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
        metrics: WorkerMetrics | None = None,
        drain_seconds: float = 30.0,
    ) -> None:
        self.client = client
        self.backend = backend
        self.keys = Keys(prefix)
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.concurrency = concurrency
        self.alive_ttl_ms = alive_ttl_ms
        self.claim_idle_ms = claim_idle_ms
        self.result_ttl = result_ttl
        self.metrics = metrics
        self.drain_seconds = drain_seconds
        self._out_of_time = False
        self._active: dict[str, _Active] = {}
        self._slot_free = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._control = Subscriber(client, f"{prefix}worker:{self.name}", self._on_control)

    def stop(self) -> None:
        """Take no new runs; :meth:`serve` returns once the running ones have finished, or
        after ``drain_seconds``, having cancelled and reported the ones still running."""
        if not self._stopping.is_set():
            log.info("worker %s stopping: draining %d runs", self.name, len(self._active))
        self._stopping.set()
        self._slot_free.set()

    async def serve(self) -> None:
        await ensure_group(self.client, self.keys)
        await self._control.start()
        heartbeat = asyncio.create_task(self._heartbeat(), name="worker-heartbeat")
        sampler = asyncio.create_task(self._sample_queue(), name="worker-queue-sampler")
        if self.metrics is not None:
            self.metrics.concurrency.set(self.concurrency)
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
                if self._stopping.is_set():
                    break
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
            await self._drain()
        finally:
            for task in (heartbeat, sampler):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await _close_step(task.get_name(), task)
            await _close_step("the control channel", self._control.close())

    async def _drain(self) -> None:
        """Let running runs finish within ``drain_seconds``; cancel the rest, which then end
        ``cancelled`` with their results stored and published like any other."""
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=self.drain_seconds)
        if pending:
            self._out_of_time = True
            log.warning("worker %s: %d runs still running at the deadline: cancelling",
                        self.name, len(pending))  # fmt: skip
            for active in list(self._active.values()):
                active.cancelled = True
                if active.execution is not None:
                    await active.execution.cancel()
            await asyncio.wait(pending, timeout=10)

    async def _sample_queue(self) -> None:
        """Queue depth and the age of its oldest waiting run, for the metrics endpoint."""
        metrics = self.metrics
        if metrics is None:
            return
        while True:
            raise_if_cancelled()
            try:
                depth, age = await queue_figures(self.client, self.keys)
                metrics.queue_depth.set(depth)
                metrics.queue_age.set(age)
                metrics.redis_up.set(1)
            except redis.RedisError:
                metrics.redis_up.set(0)
            metrics.active.set(len(self._active))
            await asyncio.sleep(2.0)

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
                if self.metrics is not None:
                    self.metrics.lost.inc()
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
        language = "unknown"
        try:
            request = RunRequest.from_dict(json.loads(fields["request"]))
            language = request.language
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
            if self._out_of_time and result.status is RunStatus.CANCELLED:
                result = replace(result, message=STOPPED)
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
            if self.metrics is not None and result is not None:
                self.metrics.finished(language, result)

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
            raise_if_cancelled()
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
        pool_budget=args.pool_budget,
        pool_parallel=args.pool_parallel,
        allow_unconfined=args.allow_unconfined,
    )
    client: redis.Redis = redis.Redis.from_url(args.redis_url, decode_responses=True)
    metrics = WorkerMetrics()
    metrics.watch_backend(backend)
    if args.metrics_port:
        start_http_server(args.metrics_port, args.metrics_host, registry=metrics.registry)
        log.info("worker metrics on http://%s:%d/metrics", args.metrics_host, args.metrics_port)
    worker = Worker(
        client,
        backend,
        prefix=args.prefix,
        name=args.name,
        concurrency=args.concurrency or runs_at_once(backend.name, args.pool_budget.max_containers),
        claim_idle_ms=args.claim_idle_ms,
        metrics=metrics,
        drain_seconds=args.drain_seconds,
    )
    demand = None
    pool = getattr(backend, "pool", None)
    if isinstance(pool, WarmPool):  # Docker: the pool follows the classes the servers see
        demand = DemandReader(client, args.prefix, worker.name, pool.set_demand)
        demand.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    try:
        print(f"worker {worker.name} ready", flush=True)
        await worker.serve()
    finally:
        log.info("worker %s: no more runs; closing", worker.name)
        if demand is not None:
            await _close_step("the demand reader", demand.close())
        await _close_step(f"the {backend.name} sandbox", backend.close())
        await _close_step("the Redis client", client.aclose())
        log.info("worker %s stopped", worker.name)


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
    parser.add_argument(
        "--concurrency",
        type=int,
        default=settings.run_concurrency,
        help="runs at once (default CLASSROOM_RUN_CONCURRENCY; 0: automatic, as the server)",
    )
    parser.add_argument("--name", default=None, help="consumer name (default host-pid-random)")
    parser.add_argument("--claim-idle-ms", type=int, default=10_000)
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=settings.worker_metrics_port,
        help="Prometheus metrics port (default CLASSROOM_WORKER_METRICS_PORT; 0: off)",
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=settings.shutdown_grace_seconds,
        help="on SIGTERM, how long runs may go on (default CLASSROOM_SHUTDOWN_GRACE_SECONDS)",
    )
    args = parser.parse_args(argv)
    if not args.redis_url:
        parser.error("no Redis: set CLASSROOM_REDIS_URL or pass --redis-url")
    args.maxima = operator_maxima(
        settings.max_time_seconds, settings.max_memory_mb, settings.max_output_bytes
    )
    args.docker_url = settings.docker_url
    args.image_prefix = settings.image_prefix
    args.pool_size = settings.pool_size
    args.pool_budget = PoolBudget(
        settings.pool_size, settings.pool_max_containers, settings.pool_memory_mb
    )
    args.pool_parallel = settings.pool_parallel
    args.allow_unconfined = settings.allow_unconfined
    args.metrics_host = settings.host
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    asyncio.run(_main(args))


if __name__ == "__main__":
    # A process entry point: the one place in sandbox/ that reads the environment.
    from server.settings import Settings

    main(Settings.from_env())
