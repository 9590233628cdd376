"""One run on the local backend: a temp dir, the compile step, the run step, streamed output.

Each step is a :class:`~sandbox.child.Child` (under bubblewrap when the backend has it) with
rlimits and a wall-clock timer; see :mod:`sandbox.local` for what confines it.

``memory_limit`` is a heuristic here (there is no OOM killer verdict to read): a run that
failed and whose stderr ends with a runtime's out-of-memory message (``MemoryError``,
``std::bad_alloc``, V8's ``heap out of memory``, Go's and Rust's allocation failures).
Output is coalesced: writes of one stream within ``COALESCE_SECONDS`` make one chunk.

Sweeps. With a uid per run, what the run left running as its uid is killed before the uid goes
to another run and before the result is published: a sweep of ``/proc``
(:func:`~sandbox.child.reap_uid`, in a thread; 1.4 ms for 93 processes on a busy machine here).
Without bubblewrap that is before the first step (what a crashed holder left), after every
step and at the end. Under bubblewrap each step is a pid namespace whose pid 1 is the command
(``--as-pid-1``), and bwrap exits only once it has reaped that pid 1. When a namespace's pid 1
exits, the kernel SIGKILLs every other process of it and reports the exit only once they are
all reaped (``zap_pid_ns_processes``, kernel/pid_namespace.c). So when bwrap *exited* (the
launcher saw it exit, not die by a signal), nothing of its step was alive at the step's end:
600 of 600 steps here whose program left setsid, double-forked orphans that ignored SIGTERM
and SIGHUP, slept or forked. A step we killed is not so: SIGKILL reaches bwrap and the pid 1
in its group, and the rest of the namespace dies when the kernel gets to it (a process of the
uid was still alive after 70 and 103 of 200 killed steps, for 5 to 160 ms). The run's end
therefore sweeps under bubblewrap only when a step did not end by itself: killed by us (time
limit, output cap, cancel), bwrap killed by a signal, or a launcher that could not say.
(bwrap exits before its pid 1 only when one of its own system calls fails; --die-with-parent
or the launcher's kill of the step's group then SIGKILLs that pid 1, and the rest of its
namespace dies a little later, unswept, where no later run of the uid can reach it.)
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import os
import resource
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sandbox.child import Child, Exit, reap_uid
from sandbox.confine import bwrap_argv, open_tree
from sandbox.execution import BaseExecution
from sandbox.languages import Language
from sandbox.local_cases import GRACE_SECONDS, ForkedCases, forks_cases
from sandbox.local_verdicts import (
    cpu_limit_reached,
    out_of_memory,
    stalled_for_memory,
    time_limit_message,
)
from sandbox.model import CaseResult, Chunk, Limits, RunRequest, RunResult, RunStatus, Stream

if TYPE_CHECKING:
    from sandbox.local import LocalBackend

log = logging.getLogger("classroom.sandbox")

HOST_PATH = "/usr/local/bin:/usr/bin:/bin"
COALESCE_SECONDS = 0.005


class LocalExecution(BaseExecution):
    """One run on the local backend; see :class:`sandbox.backend.Execution`."""

    def __init__(
        self, backend: LocalBackend, request: RunRequest, language: Language, limits: Limits
    ) -> None:
        super().__init__(uuid.uuid4().hex)
        self.uid: int | None = None
        """The uid the run's processes have (when the backend runs as root)."""
        self.backend = backend
        self.request = request
        self.language = language
        self.limits = limits
        # Sweep /proc for the run's uid between steps only without bubblewrap: under it every
        # step is a pid namespace of its own, which is gone when bwrap exits by itself. (A
        # sweep reads every process's status: five per run were a third of a busy server's
        # loop.) The run's end sweeps without bubblewrap, and under it when a step did not
        # end by itself: see the module note.
        self._sweeps = backend.bwrap is None
        # Every step so far ended by itself: False from a step's start until its end says so.
        self._ended_by_themselves = True
        self._child: Child | None = None
        self._timer: asyncio.TimerHandle | None = None
        # A Python run's cases under bubblewrap: one step, each case forked (local_cases.py).
        self._forked = (
            ForkedCases(request, language, limits)
            if forks_cases(language, request, backend.forks_python_cases)
            else None
        )
        self._stdin_pending: list[bytes] = []
        self._stdin_closed = not request.interactive
        self._seq = 0
        # per step
        self._phase: Literal["idle", "compile", "run"] = "idle"
        self._pending: tuple[Stream, list[str]] | None = None
        self._flush_at: asyncio.TimerHandle | None = None
        self._output_bytes = 0
        self._over_cap = False
        self._timed_out = False
        self._stalled = False  # the time limit found it stuck for want of memory
        self._captured: dict[Stream, list[str]] = {"stdout": [], "stderr": []}
        self._decoders = {
            s: codecs.getincrementaldecoder("utf-8")("replace") for s in ("stdout", "stderr")
        }

    async def write_stdin(self, data: str) -> None:
        if self._stdin_closed:
            return
        if self._child is not None and self._phase == "run":
            self._child.write_stdin(data.encode())
        else:
            self._stdin_pending.append(data.encode())

    async def close_stdin(self) -> None:
        self._stdin_closed = True
        if self._child is not None and self._phase == "run":
            self._child.close_stdin()

    # -- the run -------------------------------------------------------------------------

    async def _stop(self) -> None:
        if self._child is not None:
            self._child.kill()  # a child spawned later is killed as it starts

    async def _abandoned(self) -> None:
        pass  # nothing is leased or written before _drive runs

    async def _drive(self) -> None:
        lease = None
        workdir: Path | None = None
        try:
            missing = self.backend.missing_toolchain(self.language)
            if missing:
                result = RunResult(
                    RunStatus.INTERNAL_ERROR,
                    message=f"toolchain for {self.language.name} not installed on this host "
                    f"({missing} not found)",
                )
            else:
                lease = self.backend.lease_uid()
                self.uid = lease.uid if lease else None
                if lease is not None and self._sweeps:
                    # Without bubblewrap a crashed holder's processes may still run as this
                    # uid: killed first, in a thread (a sweep reads every process's status).
                    await reap_uid(lease.uid)
                # Disk work off the loop, here and below: removing a run's directory took up
                # to 27 ms in a burst of 30 runs, and every socket of the server waited.
                workdir = await asyncio.to_thread(self._prepare, self.uid)
                result = await self._compile_and_run(workdir, self.uid)
        except Exception as exc:
            log.error("local run %s failed inside the backend", self.id, exc_info=True)
            result = RunResult(RunStatus.INTERNAL_ERROR, message=f"local backend error: {exc}")
        finally:
            if lease is not None:
                if self._sweeps or not self._ended_by_themselves:
                    await reap_uid(lease.uid)  # before the uid can go to another run
                lease.release()
            if workdir is not None:
                await asyncio.to_thread(shutil.rmtree, workdir, ignore_errors=True)
        self._finish(result)

    def _prepare(self, uid: int | None) -> Path:
        workdir = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=self.backend.work_root))
        files = dict(self.request.files)
        if self._forked is not None:
            files.update(self._forked.files())
        for name, text in self.language.support_files.items():
            files.setdefault(name, text)
        for name, text in files.items():
            path = workdir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if uid is not None:
            for root, dirs, names in os.walk(workdir):
                for name in [*dirs, *names]:
                    os.chown(os.path.join(root, name), uid, uid)
            os.chown(workdir, uid, uid)
        return workdir

    async def _compile_and_run(self, workdir: Path, uid: int | None) -> RunResult:
        names = list(self.request.files)
        compile_argv = self.language.compile_argv(names)
        compile_output = ""
        if compile_argv is not None:
            exit_, _wall = await self._step(
                compile_argv, workdir, uid, self.limits.compile_time_seconds, streaming=False
            )
            compile_output = "".join(self._captured["stdout"] + self._captured["stderr"])
            if self._cancel_requested:
                return RunResult(RunStatus.CANCELLED, compile_output=compile_output)
            if self._timed_out:
                return RunResult(
                    RunStatus.TIMEOUT,
                    compile_output=compile_output,
                    message=f"compiling took longer than {self.limits.compile_time_seconds:g} s",
                )
            if self._over_cap or exit_.returncode != 0:
                why = (
                    "the compiler wrote too much output" if self._over_cap else "compilation failed"
                )
                return RunResult(
                    RunStatus.COMPILE_ERROR,
                    exit_code=exit_.returncode,
                    compile_output=compile_output,
                    message=why,
                )
        if self._cancel_requested:
            return RunResult(RunStatus.CANCELLED, compile_output=compile_output)
        if self._forked is not None:
            return await self._run_forked_cases(names, workdir, uid, compile_output)
        if self.request.cases:
            return await self._run_cases(names, workdir, uid, compile_output)
        argv = self.language.run_argv(names, self.request.args)
        exit_, wall_ms = await self._step(
            argv, workdir, uid, self.limits.time_seconds, streaming=True
        )
        stdout = "".join(self._captured["stdout"])
        stderr = "".join(self._captured["stderr"])
        return RunResult(
            status=self._status(exit_, stderr),
            exit_code=exit_.returncode,
            signal=exit_.signal,
            wall_ms=wall_ms,
            cpu_ms=exit_.cpu_ms,
            memory_peak_bytes=exit_.maxrss_bytes,
            stdout=stdout,
            stderr=stderr,
            compile_output=compile_output,
            message=self._message(),
        )

    async def _run_cases(
        self, names: list[str], workdir: Path, uid: int | None, compile_output: str
    ) -> RunResult:
        """Each case in its own process, one after the other; with a uid per run, every
        process of the case is killed before the next one starts."""
        results = []
        for case in self.request.cases:
            argv = self.language.run_argv(names, case.args)
            exit_, wall_ms = await self._step(
                argv, workdir, uid, self.limits.time_seconds, streaming=True, stdin=case.stdin
            )
            if uid is not None and self._sweeps:
                await reap_uid(uid)
            stdout, stderr = "".join(self._captured["stdout"]), "".join(self._captured["stderr"])
            results.append(
                CaseResult(
                    self._status(exit_, stderr),
                    exit_code=exit_.returncode,
                    signal=exit_.signal,
                    wall_ms=wall_ms,
                    cpu_ms=exit_.cpu_ms,
                    stdout=stdout,
                    stderr=stderr,
                    message=self._message(),
                )
            )
            if self._cancel_requested:
                return RunResult(RunStatus.CANCELLED, cases=tuple(results), message="cancelled")
        return RunResult(RunStatus.OK, compile_output=compile_output, cases=tuple(results))

    async def _run_forked_cases(
        self, names: list[str], workdir: Path, uid: int | None, compile_output: str
    ) -> RunResult:
        """Every case in one step, each forked from Python's main process (local_cases.py)."""
        forked = self._forked
        assert forked is not None
        exit_, _wall_ms = await self._step(
            forked.argv,
            workdir,
            uid,
            self.limits.time_seconds + GRACE_SECONDS,
            streaming=True,
            stdin=forked.payload(names),
            on_output=self._on_forked_output,
        )
        forked.flush(self._on_output)
        self._flush()
        cut = None  # how we ended the step, if we did
        if self._cancel_requested:
            cut = (RunStatus.CANCELLED, "cancelled")
        elif self._over_cap or self._timed_out:
            status = RunStatus.OUTPUT_LIMIT if self._over_cap else RunStatus.TIMEOUT
            cut = (status, self._message())
        stderr = "".join(self._captured["stderr"])
        return forked.outcome(exit_.returncode, cut, stderr, compile_output)

    def _on_forked_output(self, stream: Stream, data: bytes) -> None:
        assert self._forked is not None
        self._forked.feed(stream, data, self._on_output, self._case_began)

    def _case_began(self) -> None:
        """Each case has its own time, measured inside the step; the step's timer waits a
        case's limit and a grace from the case's start."""
        timer, child = self._timer, self._child
        if timer is None or child is None or self._timed_out:
            return
        timer.cancel()
        loop = asyncio.get_running_loop()
        seconds = self.limits.time_seconds + GRACE_SECONDS
        self._timer = loop.call_later(seconds, self._on_timeout, child)

    def _status(self, exit_: Exit, stderr: str) -> RunStatus:
        if self._cancel_requested:
            return RunStatus.CANCELLED
        if self._over_cap:
            return RunStatus.OUTPUT_LIMIT
        if self._stalled:
            return RunStatus.MEMORY_LIMIT
        if self._timed_out or cpu_limit_reached(exit_.signal, exit_.cpu_ms, self.limits):
            return RunStatus.TIMEOUT
        if exit_.returncode == 0:
            return RunStatus.OK
        if out_of_memory(stderr):
            return RunStatus.MEMORY_LIMIT
        return RunStatus.RUNTIME_ERROR

    def _message(self) -> str:
        if self._cancel_requested:
            return "cancelled"
        if self._over_cap:
            return f"output limit of {self.limits.output_bytes} bytes reached"
        if self._stalled:
            return (
                f"out of memory ({self.limits.memory_mb} MB): the program stopped, with too "
                "little memory left under the limit to start a thread"
            )
        if self._timed_out:
            return time_limit_message(self.limits)
        return ""

    async def _step(
        self,
        argv: tuple[str, ...],
        workdir: Path,
        uid: int | None,
        seconds: float,
        *,
        streaming: bool,
        stdin: str | bytes | None = None,
        on_output: Callable[[Stream, bytes], None] | None = None,
    ) -> tuple[Exit, float]:
        self._phase = "run" if streaming else "compile"
        self._output_bytes, self._over_cap, self._timed_out = 0, False, False
        self._stalled = False
        self._captured = {"stdout": [], "stderr": []}
        self._decoders = {
            s: codecs.getincrementaldecoder("utf-8")("replace") for s in ("stdout", "stderr")
        }
        bwrap = self.backend.bwrap
        inner = "/work" if bwrap else str(workdir)
        env = {
            "PATH": HOST_PATH,
            "HOME": inner,
            "LANG": "C.UTF-8",
            "TMPDIR": inner,
            **self.language.environment(inner),
        }
        fds: list[int] = []
        so_far, self._ended_by_themselves = self._ended_by_themselves, False
        try:
            if bwrap:
                if streaming:
                    files = open_tree(workdir)
                    fds = [fd for fd, _, _ in files]
                    prefix = bwrap_argv(
                        bwrap, workdir=None, files=files, disk_bytes=self._disk, env=env
                    )
                else:
                    prefix = bwrap_argv(
                        bwrap, workdir=str(workdir), files=(), disk_bytes=self._disk, env=env
                    )
                full = [*prefix, *argv]
            else:
                full = list(argv)
            started = time.monotonic()
            child = await Child.spawn(
                full,
                env=env,
                cwd=str(workdir),
                rlimits=self._rlimits(),
                uid=uid,
                pass_fds=fds,
                on_output=on_output or self._on_output,
                spawner=self.backend.spawner,
                sweep_uid=self._sweeps,
            )
        finally:
            for fd in fds:
                os.close(fd)
        self._child = child
        if self._cancel_requested:
            child.kill()
        if streaming:
            first = self.request.stdin if stdin is None else stdin
            if isinstance(first, str):
                first = first.encode()
            for data in [first, *self._stdin_pending]:
                if data:
                    child.write_stdin(data)
            self._stdin_pending.clear()
            if self._stdin_closed:
                child.close_stdin()
        else:
            child.close_stdin()
        self._timer = asyncio.get_running_loop().call_later(seconds, self._on_timeout, child)
        try:
            exit_ = await child.wait()
        finally:
            self._timer.cancel()
            self._timer = None
        self._ended_by_themselves = so_far and exit_.exited and not child.killed
        wall_ms = (time.monotonic() - started) * 1000.0
        for stream, decoder in self._decoders.items():
            self._deliver(stream, decoder.decode(b"", final=True))  # type: ignore[arg-type]
        self._flush()
        return exit_, wall_ms

    @property
    def _disk(self) -> int:
        return self.limits.disk_mb * 1024 * 1024

    def _rlimits(self) -> list[tuple[int, int]]:
        mb = 1024 * 1024
        memory = self.limits.memory_mb * mb
        cpu = int(max(self.limits.time_seconds, self.limits.compile_time_seconds)) + 1
        limits = [
            (resource.RLIMIT_CPU, cpu),
            (resource.RLIMIT_DATA, memory),
            (resource.RLIMIT_AS, memory + 16 * 1024 * mb),
            (resource.RLIMIT_FSIZE, self._disk),
            (resource.RLIMIT_NOFILE, self.limits.nofile),
            (resource.RLIMIT_CORE, 0),
        ]
        if self.backend.as_root:
            # bwrap itself and its pid-1 monitor count too, and Python's main process.
            extra = 3 if self._forked is not None else 2
            limits.append((resource.RLIMIT_NPROC, self.limits.pids + extra))
        return limits

    def _on_timeout(self, child: Child) -> None:
        self._timed_out = True
        if self._phase == "run" and self._forked is None:
            # Before the kill: what its processes wait on (sandbox/local_verdicts.py).
            self._stalled = stalled_for_memory(child.pid, self.limits.memory_mb * 1024 * 1024)
        child.kill()

    def _on_output(self, stream: Stream, data: bytes) -> None:
        if self._over_cap:
            return
        room = self.limits.output_bytes - self._output_bytes
        if len(data) > room:
            data = data[: max(room, 0)]
            self._over_cap = True
            if self._child is not None:
                self._child.kill()
        self._output_bytes += len(data)
        text = self._decoders[stream].decode(data, final=self._over_cap)
        self._deliver(stream, text)

    def _deliver(self, stream: Stream, text: str) -> None:
        if not text:
            return
        self._captured[stream].append(text)
        if self._phase != "run":
            return
        # Coalesce: `print(a, b)` under `python -u` is four writes; one chunk of them is one
        # event per watcher instead of four. Costs at most COALESCE_SECONDS of latency.
        if self._pending and self._pending[0] != stream:
            self._flush()
        if self._pending:
            self._pending[1].append(text)
        else:
            self._pending = (stream, [text])
            self._flush_at = asyncio.get_running_loop().call_later(COALESCE_SECONDS, self._flush)

    def _flush(self) -> None:
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        if self._pending:
            stream, parts = self._pending
            self._pending = None
            self._emit(Chunk(self._seq, stream, "".join(parts)))
            self._seq += 1
