"""The local backend: runs code as a child process of this host, for a laptop without Docker.

NOT isolation for untrusted code unless bubblewrap is used (and even then weaker than a
container). What it does, in order of strength:

* **bubblewrap** (``bwrap``, when installed and user namespaces work): new user, pid, net,
  ipc and uts namespaces (no network at all), read-only ``/usr`` and libraries, a read-only
  root (no writable ``/tmp``: ``TMPDIR`` is the work dir), a size-capped tmpfs as the work
  dir ``/work``. The compile step binds the host work dir
  (only the compiler writes there, capped by RLIMIT_FSIZE); the run step gets a fresh tmpfs
  into which the host dir's files are copied by bwrap (``--file``), so user code never writes
  to the host's disk. Killing bwrap kills the pid namespace, orphans included.
* **a uid per run** when the backend runs as root: uids ``uid_base + n`` leased host-wide
  through lock files. RLIMIT_NPROC is ignored for root and counted per uid, so one uid per
  run is what makes the process limit real and per run; it also lets :func:`kill_uid` find
  processes that left the process group.
* **rlimits**: CPU, DATA (memory), AS (a loose backstop), NPROC, FSIZE, NOFILE, no core.

Memory is limited with RLIMIT_DATA rather than RLIMIT_AS: V8 and Go reserve gigabytes of
address space they never touch, so an AS limit near the memory limit stops ``node`` from
starting at all. RLIMIT_DATA (Linux >= 4.7) counts private writable mappings, i.e. heaps.

``memory_limit`` is a heuristic here (there is no OOM killer verdict to read): a run that
failed and whose stderr ends with a runtime's out-of-memory message (``MemoryError``,
``std::bad_alloc``, V8's ``heap out of memory``, Go's and Rust's allocation failures).
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import os
import resource
import shutil
import stat
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Literal

from sandbox.child import Child, Exit, reap_uid
from sandbox.confine import UID_LOCK_DIR, UidLease, UidLeases, bwrap_argv, open_tree
from sandbox.exceptions import BackendUnavailable
from sandbox.languages import Language
from sandbox.model import Chunk, Limits, RunRequest, RunResult, RunStatus, Stream
from sandbox.validate import check_request

log = logging.getLogger("classroom.sandbox")

HOST_PATH = "/usr/local/bin:/usr/bin:/bin"
Confinement = Literal["auto", "bwrap", "none"]

_MEMORY_MARKERS = (
    "MemoryError",
    "std::bad_alloc",
    "heap out of memory",
    "Array buffer allocation failed",
    "Fatal process OOM",
    "runtime: out of memory",
    "memory allocation of",
    "Cannot allocate memory",
)
_TIMEOUT_SIGNALS = ("SIGXCPU",)
COALESCE_SECONDS = 0.005


class LocalBackend:
    """Runs each request in a fresh temp dir as a child process group. See the module note."""

    name = "local"

    def __init__(
        self,
        *,
        maxima: Limits | None = None,
        confinement: Confinement = "auto",
        bwrap: str = "bwrap",
        uid_base: int = 990_000,
        uid_count: int = 4096,
        work_root: Path | None = None,
        allow_unconfined: bool = False,
    ) -> None:
        self.maxima = maxima
        # Without bubblewrap, "auto" refuses every run unless the operator opted in
        # (CLASSROOM_ALLOW_UNCONFINED=1); confinement="none" is that opt-in made in code.
        self.allow_unconfined = allow_unconfined or confinement == "none"
        self.refusal: str | None = None
        self.confinement = confinement
        self._bwrap_name = bwrap
        self.bwrap: str | None = None
        self.work_root = work_root or Path(tempfile.gettempdir()) / "classroom-local-runs"
        self.as_root = os.geteuid() == 0
        self._uids = UidLeases(UID_LOCK_DIR, uid_base, uid_count) if self.as_root else None
        self._executions: set[LocalExecution] = set()

    async def start(self) -> None:
        self.work_root.mkdir(mode=0o711, parents=True, exist_ok=True)
        if self.as_root:
            self._check_reachable(self.work_root)
        self._sweep_leftovers()
        if self.confinement != "none":
            self.bwrap = shutil.which(self._bwrap_name)
            if self.bwrap and not await self._bwrap_works():
                log.warning("bubblewrap at %s cannot create namespaces here", self.bwrap)
                self.bwrap = None
            if self.confinement == "bwrap" and self.bwrap is None:
                raise BackendUnavailable("bubblewrap (bwrap) is required but does not work")
        if self.bwrap:
            log.warning(
                "local sandbox: runs are child processes confined by bubblewrap (%s) and "
                "rlimits; weaker than the Docker backend",
                self.bwrap,
            )
        elif not self.allow_unconfined:
            self.refusal = (
                "the local sandbox refuses to run code: bubblewrap (bwrap) is missing or does not "
                "work, and unconfined runs are not allowed (CLASSROOM_ALLOW_UNCONFINED=1)"
            )
            log.error("%s", self.refusal)
        else:
            log.warning(
                "local sandbox WITHOUT bubblewrap: this is NOT isolation for untrusted code "
                "(network, file system and other processes are reachable); rlimits only"
            )
        if not self.as_root:
            log.warning("local sandbox not running as root: process count is not limited")

    async def run(self, request: RunRequest) -> LocalExecution:
        if self.refusal is not None:
            raise BackendUnavailable(self.refusal)
        language = check_request(request)
        limits = language.limits
        if request.limits is not None:
            # As the Docker backend: a request field left at its default keeps the language's.
            plain = Limits()
            limits = limits.with_overrides(
                {
                    name: value
                    for name in Limits.__dataclass_fields__
                    if (value := getattr(request.limits, name)) != getattr(plain, name)
                }
            )
        if self.maxima is not None:
            limits = limits.capped(self.maxima)
        execution = LocalExecution(self, request, language, limits)
        self._executions.add(execution)
        execution.begin(on_done=self._executions.discard)
        return execution

    async def close(self) -> None:
        running = list(self._executions)
        for execution in running:
            await execution.cancel()
        for execution in running:
            await execution.wait()

    # -- helpers used by executions ------------------------------------------------------

    def lease_uid(self) -> UidLease | None:
        return self._uids.lease() if self._uids else None

    def missing_toolchain(self, language: Language) -> str | None:
        for argv in (language.compile, language.run):
            if argv and "/" not in argv[0] and shutil.which(argv[0], path=HOST_PATH) is None:
                return argv[0]
        return None

    async def _bwrap_works(self) -> bool:
        assert self.bwrap
        lease = self.lease_uid()
        said: list[bytes] = []
        try:
            argv = bwrap_argv(self.bwrap, workdir=None, files=(), disk_bytes=1 << 20, env={})
            child = await Child.spawn(
                [*argv, "true"],
                env={"PATH": HOST_PATH},
                cwd="/",
                rlimits=(),
                uid=lease.uid if lease else None,
                pass_fds=(),
                on_output=lambda stream, data: said.append(data),
            )
            if (await child.wait()).returncode == 0:
                return True
            log.warning("bubblewrap probe failed: %r", b"".join(said)[-500:])
            return False
        except OSError:
            return False
        finally:
            if lease:
                lease.release()

    @staticmethod
    def _check_reachable(root: Path) -> None:
        """Run uids are not root: every directory above their work dirs must let others pass."""
        for directory in [root, *root.resolve().parents]:
            if not directory.stat().st_mode & stat.S_IXOTH:
                raise BackendUnavailable(
                    f"local sandbox work root {root} is unreachable for the run uids: "
                    f"{directory} is not searchable by others (chmod o+x or pick another root)"
                )

    def _sweep_leftovers(self) -> None:
        """Remove work dirs of backends whose process is gone (a crash skips cleanup)."""
        for entry in self.work_root.glob("run-*"):
            pid = entry.name.split("-")[1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                shutil.rmtree(entry, ignore_errors=True)


class LocalExecution:
    """One run on the local backend; see :class:`sandbox.backend.Execution`."""

    def __init__(
        self, backend: LocalBackend, request: RunRequest, language: Language, limits: Limits
    ) -> None:
        self.id = uuid.uuid4().hex
        self.uid: int | None = None
        """The uid the run's processes have (when the backend runs as root)."""
        self.backend = backend
        self.request = request
        self.language = language
        self.limits = limits
        self._chunks: asyncio.Queue[Chunk | None] = asyncio.Queue()
        self._done: asyncio.Future[RunResult] = asyncio.get_running_loop().create_future()
        self._child: Child | None = None
        self._stdin_pending: list[bytes] = []
        self._stdin_closed = not request.interactive
        self._cancelled = False
        self._seq = 0
        self._task: asyncio.Task[None] | None = None
        # per step
        self._phase: Literal["idle", "compile", "run"] = "idle"
        self._pending: tuple[Stream, list[str]] | None = None
        self._flush_at: asyncio.TimerHandle | None = None
        self._output_bytes = 0
        self._over_cap = False
        self._timed_out = False
        self._captured: dict[Stream, list[str]] = {"stdout": [], "stderr": []}
        self._decoders = {
            s: codecs.getincrementaldecoder("utf-8")("replace") for s in ("stdout", "stderr")
        }

    def begin(self, on_done: Callable[[LocalExecution], None]) -> None:
        self._task = asyncio.create_task(self._main(), name=f"local-run-{self.id}")
        self._task.add_done_callback(lambda _t: on_done(self))

    async def chunks(self) -> AsyncIterator[Chunk]:
        while (chunk := await self._chunks.get()) is not None:
            yield chunk

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

    async def cancel(self) -> None:
        self._cancelled = True
        if self._child is not None:
            self._child.kill()

    async def wait(self) -> RunResult:
        return await asyncio.shield(self._done)

    # -- the run -------------------------------------------------------------------------

    async def _main(self) -> None:
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
                workdir = self._prepare(self.uid)
                result = await self._compile_and_run(workdir, self.uid)
        except Exception as exc:
            log.error("local run %s failed inside the backend", self.id, exc_info=True)
            result = RunResult(RunStatus.INTERNAL_ERROR, message=f"local backend error: {exc}")
        finally:
            if lease is not None:
                await reap_uid(lease.uid)  # before the uid can go to another run
                lease.release()
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
        self._chunks.put_nowait(None)
        self._done.set_result(result)

    def _prepare(self, uid: int | None) -> Path:
        workdir = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=self.backend.work_root))
        files = dict(self.request.files)
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
            if self._cancelled:
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
        if self._cancelled:
            return RunResult(RunStatus.CANCELLED, compile_output=compile_output)
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

    def _status(self, exit_: Exit, stderr: str) -> RunStatus:
        if self._cancelled:
            return RunStatus.CANCELLED
        if self._over_cap:
            return RunStatus.OUTPUT_LIMIT
        cpu_limit_ms = (int(self.limits.time_seconds) + 1) * 1000
        if self._timed_out or exit_.signal in _TIMEOUT_SIGNALS:
            return RunStatus.TIMEOUT
        if exit_.signal == "SIGKILL" and exit_.cpu_ms >= cpu_limit_ms:
            return RunStatus.TIMEOUT
        if exit_.returncode == 0:
            return RunStatus.OK
        tail = stderr[-2000:]
        if any(marker in tail for marker in _MEMORY_MARKERS):
            return RunStatus.MEMORY_LIMIT
        return RunStatus.RUNTIME_ERROR

    def _message(self) -> str:
        if self._cancelled:
            return "cancelled"
        if self._over_cap:
            return f"output limit of {self.limits.output_bytes} bytes reached"
        if self._timed_out:
            return f"time limit of {self.limits.time_seconds:g}s reached"
        return ""

    async def _step(
        self,
        argv: tuple[str, ...],
        workdir: Path,
        uid: int | None,
        seconds: float,
        *,
        streaming: bool,
    ) -> tuple[Exit, float]:
        self._phase = "run" if streaming else "compile"
        self._output_bytes, self._over_cap, self._timed_out = 0, False, False
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
                on_output=self._on_output,
            )
        finally:
            for fd in fds:
                os.close(fd)
        self._child = child
        if self._cancelled:
            child.kill()
        if streaming:
            for data in [self.request.stdin.encode(), *self._stdin_pending]:
                if data:
                    child.write_stdin(data)
            self._stdin_pending.clear()
            if self._stdin_closed:
                child.close_stdin()
        else:
            child.close_stdin()
        timer = asyncio.get_running_loop().call_later(seconds, self._on_timeout, child)
        try:
            exit_ = await child.wait()
        finally:
            timer.cancel()
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
            # bwrap itself and its pid-1 monitor count too.
            limits.append((resource.RLIMIT_NPROC, self.limits.pids + 2))
        return limits

    def _on_timeout(self, child: Child) -> None:
        self._timed_out = True
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
            self._chunks.put_nowait(Chunk(self._seq, stream, "".join(parts)))
            self._seq += 1
