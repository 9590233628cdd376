"""One run in one container: unpack, compile, run, stream, classify, remove.

Design note.
Rule 1: the container's main process (:mod:`sandbox.python_main`, uid 10001) compiles and runs;
  the payload of :mod:`sandbox.wrapper` and the files ride on its stdin, through an attach.
Rule 2: the container is killed at once on timeout, output overflow and cancel, and removed in
  every case (``finally`` + ``shield``), also when the task awaiting the run is cancelled.
  The result is published before the removal finishes; :meth:`DockerExecution.finished`
  waits for both. A run the main process ended (its processes killed, its trailers out) leaves
  its container idle, and the removal waits for the runs in flight to end (pool rule 4).
Rule 3: OOM is SIGKILL (137) together with the cgroup's failcnt (or peak at the limit).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiodocker
from aiodocker.stream import Message
from aiodocker.stream import Stream as DockerStream
from yarl import URL

from sandbox.cases import CaseSplitter
from sandbox.execution import BaseExecution
from sandbox.languages import Language
from sandbox.model import (
    CaseResult,
    Limits,
    RunRequest,
    RunResult,
    RunStatus,
    Stream,
)
from sandbox.output import OutputMeter
from sandbox.pool import Box, new_run_id
from sandbox.wrapper import (
    TMP_DIR,
    UNPACK_FAILED,
    WORKDIR,
    Trailer,
    TrailerFilter,
    case_files,
    files_archive,
    payload,
    signal_name,
)

if TYPE_CHECKING:
    from sandbox.docker import DockerBackend

log = logging.getLogger("classroom.sandbox")
IMAGE_HINT = "its image may be out of date (sandbox/images/build-offline.sh)"

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
class _Session:
    compiling: bool
    nonce: str
    ended: str | None = None  # "timeout" | "output" when we stopped it; "gone": it was dead
    gone_exit_code: int | None = None  # the container's, when the engine said it was not running
    run_started: float = 0.0
    wall_ms: float = 0.0
    trailers: dict[str, Trailer] = field(default_factory=dict)
    usage_seen: set[str] = field(default_factory=set)  # streams that carried the last trailer
    splitter: CaseSplitter | None = None
    begun: bool = False  # the main process said it has the payload: the container is alive
    fed: list[bytes | None] = field(default_factory=list)  # stdin sent before it said so


def _attach_stream(docker: aiodocker.Docker, container_id: str) -> DockerStream:
    """stdin/stdout/stderr of the container's main process (aiodocker's own ``attach`` first
    inspects the container: one round trip more)."""

    async def setup() -> tuple[URL, bytes | None, bool]:
        query = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1, "logs": 0}
        return URL(f"containers/{container_id}/attach").with_query(query), None, False

    return DockerStream(docker, setup)


class DockerExecution(BaseExecution):
    """A started run; see :class:`sandbox.backend.Execution` for the contract."""

    def __init__(
        self,
        backend: DockerBackend,
        language: Language,
        request: RunRequest,
        limits: Limits,
        box: Box | None,
    ) -> None:
        super().__init__(box.run_id if box else new_run_id())
        self._backend = backend
        self._language = language
        self._request = request
        self.limits = limits
        self._box = box
        self.pooled = box is not None
        self.in_flight = True  # counted by the warm pool until the result is out
        self.container_id: str | None = None
        # A run with cases has the output of as many runs (the local backend meters each case).
        self._meter = OutputMeter(limits.output_bytes * max(1, len(request.cases)))
        self._stdin: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._compile_output = ""
        if not request.interactive:
            if request.stdin:
                self._stdin.put_nowait(request.stdin.encode("utf-8", "surrogatepass"))
            self._stdin.put_nowait(None)

    async def write_stdin(self, data: str) -> None:
        self._stdin.put_nowait(data.encode("utf-8", "surrogatepass"))

    async def close_stdin(self) -> None:
        self._stdin.put_nowait(None)

    # -- the run ------------------------------------------------------------------------------
    async def _stop(self) -> None:
        assert self._task is not None
        self._task.cancel()  # _drive ends as cancelled, and removes the container

    async def _abandoned(self) -> None:
        if self._box is not None:
            await self._kill()

    def _cancelled(self, message: str) -> RunResult:
        return self._outcome(RunStatus.CANCELLED, None, None, message=message)

    async def _drive(self) -> None:
        ended_well = False  # the main process ended the run: the container may wait to be removed
        try:
            try:
                result = await self._steps()
                ended_well = True
            except asyncio.CancelledError:
                if not self._cancel_requested:  # the backend is closing: end, then re-raise
                    self._publish(self._cancelled("shut down"))
                    raise
                result = self._cancelled("cancelled")
            except Exception as exc:  # task boundary: a failing engine must not lose the run
                log.error("run %s failed inside the Docker backend", self.id, exc_info=True)
                message = str(exc)
                if "executable file not found" in message:  # runc: no main process in the image
                    message = f"{message}; {IMAGE_HINT}"
                result = self._outcome(RunStatus.INTERNAL_ERROR, None, None, message=message)
            self._publish(result)
        finally:
            self._backend.run_over(self)
            if self._box is not None:
                if ended_well:
                    await asyncio.shield(self._backend.retire_box(self._box))
                else:
                    await asyncio.shield(self._kill())

    def _publish(self, result: RunResult) -> None:
        if not self._result.done():
            self._finish(result, self._meter.flush())

    async def _kill(self) -> None:
        assert self._box is not None
        await self._backend.discard_box(self._box)

    async def _steps(self) -> RunResult:
        language, limits, files = self._language, self.limits, self._request.files
        if self._box is None:
            self._box = await self._backend.create_box(language, limits, self.id)
        self.container_id = self._box.container.id
        names = list(files)
        compile_argv = language.compile_argv(names)
        nonce = secrets.token_hex(8)
        session = self._session(compile_argv is not None, nonce)
        cases = self._request.cases
        case_dir = case_files([case.stdin for case in cases])
        data = payload(
            nonce,
            files_archive({**language.support_files, **files, **case_dir}),
            compile_argv,
            language.run_argv(names, self._request.args),
            case_args=[case.args for case in cases],
            case_seconds=limits.time_seconds,
        )
        await self._attach(session, data)
        if session.ended == "gone" and self.pooled:
            # A pooled container died while waiting (engine restart, killed from outside):
            # nothing ran in it, so take the cold path, with the stdin sent so far.
            log.warning(
                "run %s: pooled container %s is gone, starting a fresh one",
                self.id,
                self.container_id,
            )
            await self._kill()
            self._box = await self._backend.create_box(language, limits, self.id)
            self.container_id, self.pooled = self._box.container.id, False
            self._stdin = _replayed(session.fed, self._stdin)
            session = self._session(compile_argv is not None, nonce)
            await self._attach(session, data)
        if session.ended == "gone":
            if session.gone_exit_code is None:
                session.gone_exit_code = (await self._container_exit())[0]
            log.error(
                "run %s: container %s ended (exit code %s) before its main process read the "
                "payload; an image without python3? Rebuild: sandbox/images/build-offline.sh",
                self.id,
                self.container_id,
                session.gone_exit_code,
            )
        if session.ended is not None:
            await asyncio.shield(self._kill())
        return await self._classify(session)

    def _session(self, compiling: bool, nonce: str) -> _Session:
        session = _Session(compiling=compiling, nonce=nonce)
        if cases := self._request.cases:
            limits = self.limits
            session.splitter = CaseSplitter(len(cases), limits.time_seconds, limits.memory_mb)
        return session

    async def _attach(self, session: _Session, data: bytes) -> None:
        """Send the payload and stdin; stream the output until the main process ends or we stop
        it. Every container is watched (a pooled one may have died while it waited; a fresh one's
        main process may be missing from an old image): unless the *begun* trailer comes within
        the backend's ``alive_check_seconds``, ask the engine, and end with ``session.ended =
        "gone"`` if the container is not running; output that ends before *begun* ends so too."""
        assert self._box is not None
        limits = self.limits
        compile_meter = OutputMeter(limits.output_bytes)
        trailers = {name: TrailerFilter(session.nonce) for name in ("stdout", "stderr")}
        loop = asyncio.get_running_loop()
        first = limits.compile_time_seconds if session.compiling else limits.time_seconds
        session.run_started = time.perf_counter()
        async with _attach_stream(self._backend.docker, self._box.container.id) as stream:
            writer = loop.create_task(self._feed(stream, data, session))
            inbox: asyncio.Queue[Message | None] = asyncio.Queue()
            pump = loop.create_task(_pump(stream, inbox))
            tasks = [writer, pump, loop.create_task(self._watch(session, inbox))]
            try:
                async with asyncio.timeout(first) as deadline:
                    async for name, raw in _batches(inbox):
                        for piece in trailers[name].feed(raw):
                            if isinstance(piece, Trailer):
                                if piece.kind == "begun":
                                    session.begun, session.fed = True, []
                                    continue
                                session.trailers[piece.kind] = piece
                                if piece.kind == "usage":
                                    session.usage_seen.add(name)
                                if piece.kind == "compiled" and piece.exit_code == 0:
                                    session.compiling = False
                                    session.run_started = time.perf_counter()
                                    deadline.reschedule(loop.time() + limits.time_seconds)
                                if session.splitter is not None:
                                    session.splitter.trailer(name, piece)
                                    if piece.kind == "case" and name == "stdout":
                                        # each case has its own time (the main process's SIGKILL)
                                        grace = limits.time_seconds + 2.0
                                        deadline.reschedule(loop.time() + grace)
                                continue
                            assert isinstance(piece, bytes)
                            if session.splitter is not None:
                                # Filed only while a case is open on this stream: the two
                                # streams are not ordered against each other, so stdout of
                                # case 0 may come before stderr's "compiled" trailer.
                                session.splitter.data(name, piece)
                            meter = self._meter
                            if session.compiling and name == "stderr":
                                meter = compile_meter
                            chunk = meter.feed(name, piece)
                            if chunk is not None and meter is self._meter:
                                self._emit(chunk)
                            if meter.exceeded:
                                session.ended = "output"
                                break
                        if session.ended or len(session.usage_seen) == 2:
                            break
            except TimeoutError:
                session.ended = "timeout"
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self._compile_output = compile_meter.text()
        if not session.begun and session.ended is None:
            session.ended = "gone"  # the output ended before the main process said a word
        session.wall_ms = (time.perf_counter() - session.run_started) * 1000
        if held := trailers["stdout"].flush():
            self._meter.feed("stdout", held)
        if held := trailers["stderr"].flush():
            (compile_meter if session.compiling else self._meter).feed("stderr", held)

    async def _classify(self, session: _Session) -> RunResult:
        limits = self.limits
        usage = session.trailers.get("usage")
        compiled = session.trailers.get("compiled")
        if session.ended == "gone":
            code = session.gone_exit_code
            message = f"the sandbox container ended (exit code {code}) before it read the run: "
            message += IMAGE_HINT
            return self._outcome(RunStatus.INTERNAL_ERROR, session, None, message=message)
        if session.compiling:  # the compile step never finished well
            if session.ended == "timeout":
                seconds = limits.compile_time_seconds
                message = f"compiling took longer than {seconds:g} s"
                return self._outcome(RunStatus.TIMEOUT, session, None, message=message)
            message = "compilation failed"
            if session.ended == "output":
                message = "the compiler wrote too much output"
            elif compiled is None:
                code, oom = await self._container_exit()
                if code == UNPACK_FAILED:
                    return self._outcome(
                        RunStatus.INTERNAL_ERROR,
                        session,
                        None,
                        message="the files could not be unpacked",
                    )
                message = "the compiler was killed" + (": out of memory" if oom else "")
            elif self._oom(compiled):
                message = f"the compiler ran out of memory ({limits.memory_mb} MB)"
            return self._outcome(RunStatus.COMPILE_ERROR, session, None, message=message)
        if session.ended == "timeout":
            message = f"stopped after {limits.time_seconds:g} s"
            return self._outcome(RunStatus.TIMEOUT, session, None, message=message)
        if session.ended == "output":
            message = f"output exceeded {limits.output_bytes} bytes"
            return self._outcome(RunStatus.OUTPUT_LIMIT, session, None, message=message)
        if usage is not None:
            code, oom = usage.exit_code, self._oom(usage)
        else:  # the main process itself was killed
            code, oom = await self._container_exit()
        if code == 0:
            return self._outcome(RunStatus.OK, session, code)
        if code == 137 and oom:
            message = f"out of memory ({limits.memory_mb} MB)"
            return self._outcome(RunStatus.MEMORY_LIMIT, session, code, message=message)
        return self._outcome(RunStatus.RUNTIME_ERROR, session, code)

    async def _watch(self, session: _Session, inbox: asyncio.Queue[Message | None]) -> None:
        await asyncio.sleep(self._backend.alive_check_seconds)
        if session.begun or await self._alive(session) or session.begun:
            return
        session.ended = "gone"
        inbox.put_nowait(None)  # the output loop ends

    async def _feed(self, stream: Any, data: bytes, session: _Session) -> None:
        try:
            await stream.write_in(data)
            while True:
                more = await self._stdin.get()
                if not session.begun:  # sent again if this container turns out dead
                    session.fed.append(more)
                if more is None:
                    break
                await stream.write_in(more)
            # Half-close: the program sees end of input while its output still flows back.
            # aiodocker has no public call for it; its close() shuts both directions.
            transport = stream._resp.connection.transport
            if transport is not None and transport.can_write_eof():
                transport.write_eof()
        except (OSError, RuntimeError, AttributeError):
            log.debug("run %s: the program closed its stdin early", self.id)

    async def _alive(self, session: _Session) -> bool:
        assert self._box is not None
        self._backend.alive_checks += 1
        try:
            state = (await self._box.container.show()).get("State", {})
        except aiodocker.DockerError:
            return False
        session.gone_exit_code = state.get("ExitCode")
        return bool(state.get("Running"))

    async def _container_exit(self) -> tuple[int | None, bool]:
        """Exit code and OOM flag of the container, once the engine has recorded them."""
        assert self._box is not None
        for _ in range(50):
            state = (await self._box.container.show()).get("State", {})
            if not state.get("Running"):
                return state.get("ExitCode"), bool(state.get("OOMKilled"))
            await asyncio.sleep(0.01)
        return None, False

    def _oom(self, trailer: Trailer) -> bool:
        limit = self.limits.memory_mb << 20
        return trailer.failcnt > 0 or (trailer.peak_bytes or 0) >= limit * 0.95

    def _outcome(
        self, status: RunStatus, session: _Session | None, code: int | None, *, message: str = ""
    ) -> RunResult:
        usage = session.trailers.get("usage") if session else None
        cases: tuple[CaseResult, ...] = ()
        if session is not None and session.splitter is not None and not session.compiling:
            cases = session.splitter.results(status, message or status.value)
        return RunResult(
            cases=cases,
            status=status,
            exit_code=code,
            signal=signal_name(code) if code is not None else None,
            wall_ms=session.wall_ms if session else 0.0,
            cpu_ms=usage.cpu_ns / 1e6 if usage and usage.cpu_ns is not None else None,
            memory_peak_bytes=usage.peak_bytes if usage else None,
            stdout=self._meter.text("stdout"),
            stderr=self._meter.text("stderr"),
            compile_output=self._compile_output,
            message=message,
            extra={"pooled": self.pooled, "container": (self.container_id or "")[:12]},
        )


def _replayed(
    fed: list[bytes | None], rest: asyncio.Queue[bytes | None]
) -> asyncio.Queue[bytes | None]:
    """A stdin queue holding what was ``fed`` to a dead container, then what was still queued."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    for item in fed:
        queue.put_nowait(item)
    while not rest.empty():
        queue.put_nowait(rest.get_nowait())
    return queue
