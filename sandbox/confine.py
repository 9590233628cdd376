"""Confinement pieces of the local backend: host-wide uid leases and bubblewrap's command line.

See :mod:`sandbox.local` for what they add up to and what they do not.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import stat
import tempfile
from pathlib import Path

from sandbox.exceptions import BackendUnavailable

# One directory per host, whatever a backend's work root: two backends (a server and a worker,
# two test sessions) must never hand out the same uid, or one's sweep kills the other's runs.
UID_LOCK_DIR = Path(tempfile.gettempdir()) / "classroom-sandbox-uids"


class UidLeases:
    """Host-wide exclusive uids: a run holds ``flock`` on ``uid-N.lock`` while it uses uid N."""

    def __init__(self, root: Path, base: int, count: int) -> None:
        self.root, self.base, self.count = root, base, count
        # A random start: backends in other processes seldom contend for the same lock.
        self._next = secrets.randbelow(count)

    def lease(self) -> UidLease:
        """An exclusive uid. Without bubblewrap, what a crashed holder left running as it is
        the caller's to kill before use (``sandbox.child.reap_uid``, off the event loop)."""
        self.root.mkdir(mode=0o700, exist_ok=True)
        for i in range(self.count):
            n = (self._next + i) % self.count
            fd = os.open(self.root / f"uid-{n}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._next = n + 1
            return UidLease(self.base + n, fd)
        raise BackendUnavailable("no free sandbox uid: too many local runs at once")


class UidLease:
    def __init__(self, uid: int, fd: int) -> None:
        self.uid, self._fd = uid, fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def bwrap_argv(
    bwrap: str,
    *,
    workdir: str | None,
    files: tuple[tuple[int, str, bool], ...],
    disk_bytes: int,
    env: dict[str, str],
) -> list[str]:
    """bwrap's argv up to the command: ``workdir`` is bound at /work (compile step), else
    /work is a fresh tmpfs filled from ``files`` = (fd, relative path, executable)."""
    # --as-pid-1: the command is the pid namespace's pid 1, so bwrap exits only once the whole
    # namespace is gone, and sandbox.local_run skips the run's end sweep on that. With a pid 1
    # of bwrap's own, bwrap exits as soon as the command ends, while that pid 1 and the
    # command's orphans may still run (in 30 of 100 such steps here).
    argv = [bwrap, "--unshare-all", "--as-pid-1", "--die-with-parent", "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    for name in ("alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime"):
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    if workdir is not None:
        argv += ["--bind", workdir, "/work"]
    else:
        argv += ["--size", str(disk_bytes), "--tmpfs", "/work"]
        for fd, rel, executable in files:
            argv += ["--perms", "0755" if executable else "0644", "--file", str(fd), f"/work/{rel}"]
    # The sandbox root is bwrap's own uncapped tmpfs: read-only, so only /work takes writes.
    argv += ["--remount-ro", "/", "--chdir", "/work", "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    argv.append("--")
    return argv


def open_tree(workdir: Path) -> tuple[tuple[int, str, bool], ...]:
    """Read-only fds of the regular files under ``workdir`` (build caches skipped), for bwrap."""
    found: list[tuple[int, str, bool]] = []
    for root, dirs, names in os.walk(workdir):
        if Path(root) == workdir:
            dirs[:] = [d for d in dirs if d != ".cache"]
        for name in names:
            path = os.path.join(root, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                continue  # a symlink or a vanished file: not copied
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                os.close(fd)
                continue
            found.append((fd, os.path.relpath(path, workdir), bool(mode & 0o111)))
    return tuple(found)
