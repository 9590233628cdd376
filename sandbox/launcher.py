"""The small process between the server and a run's commands, so that a command's peak memory
is its own, and that starting one costs no interpreter.

Run once per backend as ``python -I -S launcher.py SOCKET_FD`` by
:class:`sandbox.spawner.Spawner`. It waits on ``SOCKET_FD`` (a ``SOCK_SEQPACKET`` socket) for
requests: a JSON object (``argv``, ``env``, ``cwd``, ``uid``, ``niceness``, ``limits``,
``fds``) with the descriptors attached (stdin, stdout, stderr, a status pipe, then the
descriptors to pass, whose numbers ``fds`` gives). For each it forks a *step launcher* and
answers ``{"pid": N}``. The step launcher leads a session of its own (so ``killpg`` reaches the
step), puts the descriptors in place, sets the rlimits and lowers its priority by ``niceness``,
then forks the command, which takes ``uid`` (``-1``: keep it) and execs ``argv``. It waits for
the command and writes the command's own ``maxrss_kib utime stime waitstatus`` on the status
pipe, then exits with the command's status (dying by the same signal when the command died by
one). When a step launcher has exited, this process kills what is left of its group (the exited
leader still holds the group id until it is reaped) and reaps it, then writes ``exit
waitstatus cpu_seconds`` on its status pipe and closes its copy of it: the end of the pipe is
the end of the step, with its verdict, even when the step launcher was killed before it wrote.

Why a launcher at all: Linux keeps ``ru_maxrss`` across ``execve``. A command forked straight
from the server starts with the server's resident set counted as its own (fork copies the page
tables; vfork shares them), so ``wait4`` reported a "peak" of at least the server's size: 160
MiB for a Python run in a grown server, above the run's own 128 MiB limit. A fork of this small
process starts from a few MiB.

Why one that stays: a fresh interpreter per step cost 17 ms of CPU on its own, more than bwrap
and a Python hello world together (15 ms): half of what a class's runs cost the machine. A
fork of this process costs well under a millisecond.

The step launcher stays the server's uid; the command takes ``UID``, so the uid sweep that kills
a run's leftovers does not kill the step launcher before it reports. This process exits when
the server closes its end of the socket.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import socket
import sys

MAX_REQUEST = 1 << 20
MAX_FDS = 250  # SCM_MAX_FD is 253 per message


def serve(sock: socket.socket) -> None:
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    steps: dict[int, tuple[int, int]] = {}  # pidfd -> (pid, status fd)
    while True:
        for fd, _event in poller.poll():
            if fd != sock.fileno():
                pid, status_fd = steps.pop(fd)
                poller.unregister(fd)
                os.close(fd)
                _reap(pid, status_fd)
                continue
            try:
                message, fds, _flags, _addr = socket.recv_fds(sock, MAX_REQUEST, MAX_FDS)
            except ConnectionError:
                message, fds = b"", []
            if not message:  # the server is gone
                os._exit(0)
            try:
                request = json.loads(message)
                pid = _fork_step(request, fds, sock.fileno())
            except Exception as exc:  # a bad request: refused, the others go on
                for received in fds:
                    os.close(received)
                sock.send(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
                continue
            pidfd = os.pidfd_open(pid)
            steps[pidfd] = (pid, fds[3])
            poller.register(pidfd, select.POLLIN)
            for received in fds[:3] + fds[4:]:
                os.close(received)
            sock.send(json.dumps({"pid": pid}).encode())


def _reap(pid: int, status_fd: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)  # leftovers of the step in its group
    _, status, usage = os.wait4(pid, 0)
    with contextlib.suppress(OSError):
        os.write(status_fd, f"\nexit {status} {usage.ru_utime + usage.ru_stime}\n".encode())
    os.close(status_fd)


def _fork_step(request: dict[str, object], fds: list[int], sock_fd: int) -> int:
    argv = [str(a) for a in request["argv"]]  # type: ignore[attr-defined]
    env = {str(k): str(v) for k, v in request["env"].items()}  # type: ignore[attr-defined]
    targets = [int(n) for n in request["fds"]]  # type: ignore[attr-defined]
    if not argv or len(fds) != 4 + len(targets):
        raise ValueError(f"{len(fds)} descriptors for {len(targets)} to pass")
    pid = os.fork()
    if pid:
        return pid
    try:  # the step launcher: never back into the loop above
        os.setsid()
        status_fd = _place(fds, targets, sock_fd)
        os.chdir(str(request["cwd"]))
        code = step(
            status_fd,
            uid=int(str(request["uid"])),
            niceness=int(str(request["niceness"])),
            limits=str(request["limits"]),
            argv=argv,
            env=env,
        )
    except BaseException as exc:
        try:
            os.write(2, f"sandbox launcher: {exc}\n".encode())
        finally:
            os._exit(127)
    os._exit(code)


def _place(fds: list[int], targets: list[int], sock_fd: int) -> int:
    """Stdin, stdout, stderr at 0-2 and each passed descriptor at its number; everything else
    this process held (the socket, other steps' status pipes) closed. Returns the status
    pipe's descriptor, which the command does not inherit."""
    wanted = [0, 1, 2, *targets]
    high = max([*fds, *wanted, sock_fd, *_open_fds()]) + 1
    moved = [os.dup2(fd, high + i, inheritable=False) for i, fd in enumerate(fds)]
    status_fd = moved[3]
    for fd, target in zip(moved[:3] + moved[4:], wanted, strict=True):
        os.dup2(fd, target, inheritable=True)
    keep = {*wanted, status_fd}
    for fd in _open_fds():
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)
    return status_fd


def _open_fds() -> list[int]:
    return [int(name) for name in os.listdir("/proc/self/fd")]


def step(
    status_fd: int, *, uid: int, niceness: int, limits: str, argv: list[str], env: dict[str, str]
) -> int:
    """Run ``argv`` as the step's command; its exit code (``128 + n`` for signal ``n``, once
    this process could not die by it itself)."""
    for item in filter(None, limits.split(",")):
        number, soft, hard = (int(part) for part in item.split(":"))
        resource.setrlimit(number, (soft, hard))
    if niceness:
        os.nice(niceness)
        # A session of its own is, with scheduler autogroups (most kernels' default), a CPU
        # group of its own that competes with the server's whole group as an equal, whatever
        # the niceness inside it: lower the group.
        try:
            with open("/proc/self/autogroup", "w") as autogroup:
                autogroup.write(str(niceness))
        except OSError:  # no autogroups here, or not allowed: the niceness alone then
            pass
    for caught in (signal.SIGINT, signal.SIGTERM):
        signal.signal(caught, signal.SIG_DFL)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(status_fd)
            for ignored in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores them; exec keeps that
                signal.signal(ignored, signal.SIG_DFL)
            if uid >= 0:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            os.execve(_resolve(argv[0], env), argv, env)
        except OSError as exc:
            os.write(2, f"cannot run {argv[0]}: {exc}\n".encode())
        os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    report = f"{usage.ru_maxrss} {usage.ru_utime} {usage.ru_stime} {status}"
    os.write(status_fd, report.encode())
    os.close(status_fd)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        return 128 + number  # a signal that cannot end this process: bwrap's convention
    return os.waitstatus_to_exitcode(status)


def _resolve(program: str, env: dict[str, str]) -> str:
    """``program`` on the step's PATH, as execvp does, without execvp's imports: after setuid
    the run's uid may not be able to read this interpreter's standard library."""
    if "/" in program:
        return program
    for directory in env.get("PATH", os.defpath).split(":"):
        candidate = f"{directory or '.'}/{program}"
        if os.access(candidate, os.X_OK):
            return candidate
    return program


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server's Ctrl-C is the server's to act on
    serve(socket.socket(fileno=int(sys.argv[1])))
