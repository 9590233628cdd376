"""The small process between the server and a run's command, so that its peak memory is its own.

Run as ``python -I -S launcher.py STATUS_FD UID NICENESS LIMITS -- ARGV...`` by
:class:`sandbox.child.Child`, where ``LIMITS`` is ``resource:soft:hard`` joined by commas.

Why it exists: Linux keeps ``ru_maxrss`` across ``execve``. A command forked straight from the
server starts with the server's resident set counted as its own (fork copies the page tables;
vfork shares them), so ``wait4`` reported a "peak" of at least the server's size: 160 MiB for a
Python run in a grown server, above the run's own 128 MiB limit. This launcher is a fresh, small
interpreter: the command it forks starts from a few MiB, and the launcher sends that command's
own rusage back on ``STATUS_FD`` (``maxrss_kib utime stime``) before it exits with the
command's status (dying by the same signal when the command died by one).

The launcher stays the server's uid; the command takes ``UID`` (``-1``: keep it), so the uid
sweep that kills a run's leftovers does not kill the launcher before it reports. The launcher
sets the rlimits and lowers its priority by ``NICENESS`` first, and the command inherits both:
the server starts it with no code between fork and exec, so Python can vfork (a fork of a
grown server, page tables and all, cost the event loop about a tenth of its time under a
class's runs). Only ``os``, ``resource``, ``signal`` and ``sys``: it starts in about 10 ms.
"""

from __future__ import annotations

import os
import resource
import signal
import sys


def main(args: list[str]) -> int:
    status_fd, uid, niceness, limits = int(args[0]), int(args[1]), int(args[2]), args[3]
    argv = args[5:]
    for item in filter(None, limits.split(",")):
        number, soft, hard = (int(part) for part in item.split(":"))
        resource.setrlimit(number, (soft, hard))
    if niceness:
        os.nice(niceness)
        # The server started this launcher in a session of its own, which with scheduler
        # autogroups (most kernels' default) is a CPU group of its own that competes with the
        # server's whole group as an equal, whatever the niceness inside it: lower the group.
        try:
            with open("/proc/self/autogroup", "w") as autogroup:
                autogroup.write(str(niceness))
        except OSError:  # no autogroups here, or not allowed: the niceness alone then
            pass
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
            os.execve(_resolve(argv[0]), argv, os.environ)
        except OSError as exc:
            os.write(2, f"cannot run {argv[0]}: {exc}\n".encode())
        os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    os.write(status_fd, f"{usage.ru_maxrss} {usage.ru_utime} {usage.ru_stime}".encode())
    os.close(status_fd)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        return 128 + number  # a signal that cannot end this process: bwrap's convention
    return os.waitstatus_to_exitcode(status)


def _resolve(program: str) -> str:
    """``program`` on PATH, as execvp does, without execvp's imports: after setuid the run's
    uid may not be able to read this interpreter's standard library."""
    if "/" in program:
        return program
    for directory in os.environ.get("PATH", os.defpath).split(":"):
        candidate = f"{directory or '.'}/{program}"
        if os.access(candidate, os.X_OK):
            return candidate
    return program


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
