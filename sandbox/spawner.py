"""The server's side of :mod:`sandbox.launcher`: one launcher process per local backend, started
on first use, asked over a socket to start each step.

A request carries the step's descriptors (its stdin, stdout and stderr pipes, its status pipe,
the files it passes to bubblewrap) and the answer is the step's pid, which leads the step's
process group. Requests go one at a time (a lock), so each answer is the one asked for: a
request is a few hundred microseconds. A launcher that has died (killed by an operator, say) is
started anew at the next request; the steps it had started run on, and their status pipes say
how they ended.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("classroom.sandbox")

LAUNCHER = str(Path(__file__).with_name("launcher.py"))
MAX_PASSED = 246  # the launcher takes 250 descriptors a request (SCM_MAX_FD is 253); 4 are stdio
_ANSWER_BYTES = 4096


class Spawner:
    """The launcher of one backend. :meth:`spawn` starts a step; :meth:`close` ends it."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = asyncio.Lock()
        self.started = 0  # launchers started, for tests

    @property
    def pid(self) -> int | None:
        """The launcher's pid while one runs."""
        return None if self._process is None else self._process.pid

    async def spawn(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        cwd: str,
        uid: int | None,
        niceness: int,
        limits: str,
        stdio: tuple[int, int, int, int],
        pass_fds: Sequence[int],
    ) -> int:
        """Start ``argv`` with ``stdio`` = (stdin, stdout, stderr, status) and ``pass_fds`` at
        their numbers; its pid. Raises ``OSError`` when it cannot be started."""
        if len(pass_fds) > MAX_PASSED:
            raise OSError(f"too many files to pass to the sandbox: {len(pass_fds)}")
        request = {
            "argv": list(argv),
            "env": env,
            "cwd": cwd,
            "uid": -1 if uid is None else uid,
            "niceness": niceness,
            "limits": limits,
            "fds": list(pass_fds),
        }
        message = json.dumps(request).encode()
        async with self._lock:
            try:
                answer = await self._ask(message, [*stdio, *pass_fds])
            except BaseException:
                # No answer: the launcher died after the request, or this task was cancelled
                # before the answer came, which would then be read as the next request's. A
                # new launcher serves the next one; this one exits, and what it may have
                # started ends with its run's limits. Not asked again: it may have started.
                self._stop()
                raise
        if "pid" not in answer:
            raise OSError(f"the sandbox launcher refused: {answer.get('error')}")
        pid: int = answer["pid"]
        return pid

    async def close(self) -> None:
        """End the launcher (it exits when its socket closes). Steps still running go on."""
        process = self._process
        self._stop()
        if process is not None:
            try:
                async with asyncio.timeout(5):
                    await asyncio.to_thread(process.wait)
            except TimeoutError:
                process.kill()
                await asyncio.to_thread(process.wait)

    async def _ask(self, message: bytes, fds: list[int]) -> dict[str, int]:
        sock = self._running()
        try:
            # A request is far below the socket's buffer: the send does not block.
            socket.send_fds(sock, [message], fds)
        except OSError:  # not delivered: the launcher is gone (killed by an operator, say)
            log.warning("the sandbox launcher is gone; starting a new one", exc_info=True)
            self._stop()
            sock = self._running()
            socket.send_fds(sock, [message], fds)
        answer = await asyncio.get_running_loop().sock_recv(sock, _ANSWER_BYTES)
        if not answer:
            raise ConnectionResetError("the sandbox launcher closed its socket")
        decoded: dict[str, int] = json.loads(answer)
        return decoded

    def _running(self) -> socket.socket:
        if self._sock is not None and self._process is not None and self._process.poll() is None:
            return self._sock
        self._stop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", LAUNCHER, str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                close_fds=True,
                # Nothing of the server's environment (its secrets): each step gets its own.
                env={"LANG": "C.UTF-8"},
                start_new_session=True,  # out of the terminal's group: Ctrl-C is the server's
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self.started += 1
        return ours

    def _stop(self) -> None:
        """Forget the launcher: it exits once its socket is closed (subprocess reaps it)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        self._process = None
