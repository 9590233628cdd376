"""One run in one container: unpack, compile, run, stream, classify, remove.

Design note.
Rule 1: compile and run are ``exec``s of :mod:`sandbox.wrapper` as uid 10001 in a container
  whose keeper runs as uid 10000; the files ride on the first exec's stdin.
Rule 2: the container is killed at once on timeout, output overflow and cancel, and removed in
  every case (``finally`` + ``shield``), also when the task awaiting the run is cancelled.
  The result is published before the removal finishes; :meth:`DockerExecution.finished`
  waits for both.
Rule 3: OOM is SIGKILL (137) together with the cgroup's failcnt (or peak at the limit).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiodocker.stream import Message

from sandbox.languages import Language
from sandbox.model import Chunk, Limits, RunRequest, RunResult, RunStatus, Stream
from sandbox.output import OutputMeter
from sandbox.pool import Box, new_run_id
from sandbox.wrapper import (
    TMP_DIR,
    WORKDIR,
    TrailerFilter,
    Usage,
    files_archive,
    signal_name,
    wrapped,
)

if TYPE_CHECKING:
    from sandbox.docker import DockerBackend

log = logging.getLogger("classroom.sandbox")

KEEPER_USER = "10000:10000"
RUN_USER = "10001:10001"


async def _pump(stream: Any, inbox: asyncio.Queue[Message | None]) -> None:
    try:
        while (message := await stream.read_out()) is not None:
            inbox.put_nowait(message)
    finally:
        inbox.put_nowait(None)


async def _batches(inbox: asyncio.Queue[Message | None]) -> AsyncIterator[tuple[Stream, bytes]]:
    """Frames that have already arrived, merged per stream: a program writing "one" and "\\n"
    separately (``python -u`` does) still yields one chunk."""
    while (first := await inbox.get()) is not None:
        batch = [first]
        while not inbox.empty():
            message = inbox.get_nowait()
            if message is None:
                inbox.put_nowait(None)  # seen again by the outer loop
                break
            batch.append(message)
        name: Stream = "stderr" if batch[0].stream == 2 else "stdout"
        data = bytearray()
        for message in batch:
            kind: Stream = "stderr" if message.stream == 2 else "stdout"
            if kind != name:
                yield name, bytes(data)
                name, data = kind, bytearray()
            data += message.data
        yield name, bytes(data)


def base_environment() -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": WORKDIR,
        "LANG": "C.UTF-8",
        "TMPDIR": f"{WORKDIR}/{TMP_DIR}",
    }


@dataclass
class _Step:
    usage: Usage
    ended: str | None = None  # "timeout" | "output" when we stopped it
    wall_ms: float = 0.0


class DockerExecution:
    """A started run; see :class:`sandbox.backend.Execution` for the contract."""

    def __init__(
        self,
        backend: DockerBackend,
        language: Language,
        request: RunRequest,
        limits: Limits,
        box: Box | None,
    ) -> None:
        self._backend = backend
        self._language = language
        self._request = request
        self.limits = limits
        self._box = box
        self.pooled = box is not None
        self.id = box.run_id if box else new_run_id()
        self.container_id: str | None = None
        self._meter = OutputMeter(limits.output_bytes)
        self._chunks: asyncio.Queue[Chunk | None] = asyncio.Queue()
        self._stdin: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._result: asyncio.Future[RunResult] = asyncio.get_running_loop().create_future()
        self._cancel_requested = False
        self._compile_output = ""
        self._task: asyncio.Task[None] | None = None

    def begin(self, on_done: Callable[[DockerExecution], None]) -> None:
        if not self._request.interactive:
            if self._request.stdin:
                self._stdin.put_nowait(self._request.stdin.encode("utf-8", "surrogatepass"))
            self._stdin.put_nowait(None)
        self._task = asyncio.get_running_loop().create_task(self._drive())
        self._task.add_done_callback(lambda _: on_done(self))

    # -- the Execution protocol -------------------------------------------------------------
    async def chunks(self) -> AsyncIterator[Chunk]:
        try:
            while (chunk := await self._chunks.get()) is not None:
                yield chunk
        except asyncio.CancelledError:
            await asyncio.shield(self.cancel())
            raise

    async def write_stdin(self, data: str) -> None:
        self._stdin.put_nowait(data.encode("utf-8", "surrogatepass"))

    async def close_stdin(self) -> None:
        self._stdin.put_nowait(None)

    async def cancel(self) -> None:
        """Stop the run now (status ``cancelled``) and return once its container is removed."""
        assert self._task is not None
        if not self._result.done():
            self._cancel_requested = True
            self._task.cancel()
        await self.finished()

    async def wait(self) -> RunResult:
        try:
            return await asyncio.shield(self._result)
        except asyncio.CancelledError:
            await asyncio.shield(self.cancel())
            raise

    async def finished(self) -> None:
        """Wait until the run has ended and its container is gone."""
        assert self._task is not None
        await asyncio.gather(asyncio.shield(self._task), return_exceptions=True)

    # -- the run ------------------------------------------------------------------------------
    async def _drive(self) -> None:
        try:
            try:
                result = await self._steps()
            except asyncio.CancelledError:
                if not self._cancel_requested:  # the backend is closing: end, then re-raise
                    self._publish(self._outcome(RunStatus.CANCELLED, None, message="shut down"))
                    raise
                result = self._outcome(RunStatus.CANCELLED, None, message="cancelled")
            except Exception as exc:  # task boundary: a failing engine must not lose the run
                log.error("run %s failed inside the Docker backend", self.id, exc_info=True)
                result = self._outcome(RunStatus.INTERNAL_ERROR, None, message=str(exc))
            self._publish(result)
        finally:
            if self._box is not None:
                await asyncio.shield(self._kill())

    def _publish(self, result: RunResult) -> None:
        if self._result.done():
            return
        for chunk in self._meter.flush():
            self._chunks.put_nowait(chunk)
        self._chunks.put_nowait(None)
        self._result.set_result(result)

    async def _kill(self) -> None:
        assert self._box is not None
        await self._backend.discard_box(self._box)

    async def _steps(self) -> RunResult:
        language, limits, files = self._language, self.limits, self._request.files
        if self._box is None:
            self._box = await self._backend.create_box(language, limits, self.id)
        self.container_id = self._box.container.id
        archive = files_archive({**language.support_files, **files})
        names = list(files)
        compile_argv = language.compile_argv(names)
        if compile_argv is not None:
            meter = OutputMeter(limits.output_bytes)
            step = await self._exec(compile_argv, archive, limits.compile_time_seconds, meter)
            self._compile_output = meter.text()
            if step.ended == "timeout":
                seconds = limits.compile_time_seconds
                return self._outcome(
                    RunStatus.TIMEOUT, step, message=f"compiling took longer than {seconds:g} s"
                )
            if step.ended == "output" or step.usage.exit_code != 0:
                message = "compilation failed"
                if step.ended == "output":
                    message = "the compiler wrote too much output"
                elif self._oom(step.usage):
                    message = f"the compiler ran out of memory ({limits.memory_mb} MB)"
                return self._outcome(RunStatus.COMPILE_ERROR, step, message=message)
            archive = b""
        argv = language.run_argv(names, self._request.args)
        step = await self._exec(argv, archive, limits.time_seconds, self._meter, stream_out=True)
        code = step.usage.exit_code
        if step.ended == "timeout":
            return self._outcome(
                RunStatus.TIMEOUT, step, message=f"stopped after {limits.time_seconds:g} s"
            )
        if step.ended == "output":
            message = f"output exceeded {limits.output_bytes} bytes"
            return self._outcome(RunStatus.OUTPUT_LIMIT, step, message=message)
        if code == 0:
            return self._outcome(RunStatus.OK, step)
        if code == 137 and self._oom(step.usage):
            message = f"out of memory ({limits.memory_mb} MB)"
            return self._outcome(RunStatus.MEMORY_LIMIT, step, message=message)
        return self._outcome(RunStatus.RUNTIME_ERROR, step)

    async def _exec(
        self,
        argv: tuple[str, ...],
        archive: bytes,
        seconds: float,
        meter: OutputMeter,
        *,
        stream_out: bool = False,
    ) -> _Step:
        """Run ``argv`` in the wrapper; what it writes goes into ``meter`` (and out, if asked)."""
        assert self._box is not None
        env = {**base_environment(), **self._language.environment(WORKDIR)}
        process = await self._box.container.exec(
            wrapped(argv, archive), stdin=True, user=RUN_USER, environment=env, workdir=WORKDIR
        )
        trailer = TrailerFilter()
        step = _Step(Usage())
        started = time.perf_counter()
        async with process.start() as stream:
            loop = asyncio.get_running_loop()
            writer = loop.create_task(self._feed(stream, archive, with_stdin=stream_out))
            inbox: asyncio.Queue[Message | None] = asyncio.Queue()
            pump = loop.create_task(_pump(stream, inbox))
            try:
                async with asyncio.timeout(seconds):
                    async for name, raw in _batches(inbox):
                        data = trailer.feed(raw) if name == "stderr" else raw
                        chunk = meter.feed(name, data) if data else None
                        if chunk is not None and stream_out:
                            self._chunks.put_nowait(chunk)
                        if meter.exceeded:
                            step.ended = "output"
                            break
            except TimeoutError:
                step.ended = "timeout"
            finally:
                for task in (writer, pump):
                    task.cancel()
                await asyncio.gather(writer, pump, return_exceptions=True)
            step.wall_ms = (time.perf_counter() - started) * 1000
            if step.ended is not None:
                await asyncio.shield(self._kill())
                return step
            if held := trailer.flush():
                meter.feed("stderr", held)
        step.usage = trailer.usage or Usage(exit_code=await self._exit_code(process))
        return step

    async def _feed(self, stream: Any, archive: bytes, *, with_stdin: bool) -> None:
        try:
            if archive:
                await stream.write_in(archive)
            if with_stdin:
                while (data := await self._stdin.get()) is not None:
                    await stream.write_in(data)
            # Half-close: the program sees end of input while its output still flows back.
            # aiodocker has no public call for it; its close() shuts both directions.
            transport = stream._resp.connection.transport
            if transport is not None and transport.can_write_eof():
                transport.write_eof()
        except (OSError, RuntimeError, AttributeError):
            log.debug("run %s: the program closed its stdin early", self.id)

    async def _exit_code(self, process: Any) -> int | None:
        # No trailer: the wrapper itself was killed. The stream ends a moment before the
        # engine records the exit code, so ask again briefly rather than report none.
        for _ in range(50):
            info = await process.inspect()
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            await asyncio.sleep(0.01)
        return None

    def _oom(self, usage: Usage) -> bool:
        limit = self.limits.memory_mb << 20
        return usage.failcnt > 0 or (usage.peak_bytes or 0) >= limit * 0.95

    def _outcome(self, status: RunStatus, step: _Step | None, *, message: str = "") -> RunResult:
        usage = step.usage if step else Usage()
        code = usage.exit_code if step and step.ended is None else None
        return RunResult(
            status=status,
            exit_code=code,
            signal=signal_name(code) if code is not None else None,
            wall_ms=step.wall_ms if step else 0.0,
            cpu_ms=usage.cpu_ns / 1e6 if usage.cpu_ns is not None else None,
            memory_peak_bytes=usage.peak_bytes,
            stdout=self._meter.text("stdout"),
            stderr=self._meter.text("stderr"),
            compile_output=self._compile_output,
            message=message,
            extra={"pooled": self.pooled, "container": (self.container_id or "")[:12]},
        )
