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
  processes that left the process group: without bubblewrap before the run's first step
  (what a crashed holder of the uid left), after every step and at the run's end. Under
  bubblewrap each step is a pid namespace, gone when bwrap exits by itself; the run's end
  sweeps there only when a step did not (killed at its time limit, output cap or cancel),
  since the kernel kills the rest of a namespace asynchronously. Every sweep runs in a
  thread (:func:`reap_uid`); see :mod:`sandbox.local_run`.
* **rlimits**: CPU, DATA (memory), AS (a loose backstop), NPROC, FSIZE, NOFILE, no core, set
  by the launcher with niceness 10 (runs never starve the server's event loop).

Memory is limited with RLIMIT_DATA rather than RLIMIT_AS: V8 and Go reserve gigabytes of
address space they never touch, so an AS limit near the memory limit stops ``node`` from
starting at all. RLIMIT_DATA (Linux >= 4.7) counts private writable mappings, i.e. heaps.
A step's peak memory is its command's own: :mod:`sandbox.launcher` (a small interpreter
started once per backend, which forks a step launcher per step) forks the command and reports
its rusage, since a process forked straight from the server would carry the server's resident
set as its peak.

One run (its steps, its output, its verdict) is a :class:`~sandbox.local_run.LocalExecution`.
A graded Python run under bubblewrap runs all its cases in one step, each forked from Python's
main process as the namespace's pid 1 (:mod:`sandbox.local_cases`).
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Literal

from sandbox.child import Child
from sandbox.confine import UID_LOCK_DIR, UidLease, UidLeases, bwrap_argv
from sandbox.exceptions import BackendUnavailable
from sandbox.languages import Language
from sandbox.local_run import HOST_PATH, LocalExecution
from sandbox.model import Limits, RunRequest
from sandbox.spawner import Spawner
from sandbox.validate import check_request

log = logging.getLogger("classroom.sandbox")

Confinement = Literal["auto", "bwrap", "none"]

# sandbox/python_main.py needs Python 3.9 (os.waitstatus_to_exitcode): an older host python3
# runs each case of a graded run as a step of its own.
PYTHON_MAIN_CHECK = "import sys; sys.exit(sys.version_info < (3, 9))"


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
        # Whether a graded Python run's cases share one step (sandbox/local_cases.py): with a
        # working bubblewrap and a host python3 that can run sandbox/python_main.py.
        self.forks_python_cases = False
        self.work_root = work_root or Path(tempfile.gettempdir()) / "classroom-local-runs"
        self.as_root = os.geteuid() == 0
        self._uids = UidLeases(UID_LOCK_DIR, uid_base, uid_count) if self.as_root else None
        self.spawner = Spawner()  # the launcher every step is started through
        self._executions: set[LocalExecution] = set()

    async def start(self) -> None:
        self.work_root.mkdir(mode=0o711, parents=True, exist_ok=True)
        if self.as_root:
            self._check_reachable(self.work_root)
        self._sweep_leftovers()
        if self.confinement != "none":
            self.bwrap = shutil.which(self._bwrap_name)
            works = bool(self.bwrap) and await self._bwrap_works()
            if works and shutil.which("python3", path=HOST_PATH):
                self.forks_python_cases = await self._probe(
                    ["python3", "-c", PYTHON_MAIN_CHECK], "python3 cannot fork cases"
                )
            # The probes' launcher ends with them: the first run starts the one that stays, so
            # a server whose class never runs code holds no launcher (about 11 MiB resident).
            await self.spawner.close()
            if self.bwrap and not works:
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
        await self.spawner.close()

    # -- helpers used by executions ------------------------------------------------------

    def lease_uid(self) -> UidLease | None:
        return self._uids.lease() if self._uids else None

    def missing_toolchain(self, language: Language) -> str | None:
        for argv in (language.compile, language.run):
            if argv and "/" not in argv[0] and shutil.which(argv[0], path=HOST_PATH) is None:
                return argv[0]
        return None

    async def _bwrap_works(self) -> bool:
        return await self._probe(["true"], "bubblewrap probe failed")

    async def _probe(self, command: list[str], failed: str) -> bool:
        """Whether ``command`` succeeds under bubblewrap (``failed`` is logged if not)."""
        assert self.bwrap
        lease = self.lease_uid()
        said: list[bytes] = []
        try:
            argv = bwrap_argv(self.bwrap, workdir=None, files=(), disk_bytes=1 << 20, env={})
            child = await Child.spawn(
                [*argv, *command],
                env={"PATH": HOST_PATH},
                cwd="/",
                rlimits=(),
                uid=lease.uid if lease else None,
                pass_fds=(),
                on_output=lambda stream, data: said.append(data),
                spawner=self.spawner,
            )
            if (await child.wait()).returncode == 0:
                return True
            log.warning("%s: %r", failed, b"".join(said)[-500:])
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
