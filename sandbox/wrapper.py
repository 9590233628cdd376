"""What runs inside a sandbox container around the user's command, and how to read its trailer.

Every ``exec`` is ``bash -c WRAPPER sandbox <tar bytes> <argv...>`` as the run user:

1. the first ``<tar bytes>`` of stdin are the run's files, unpacked into the work dir (the
   files go in through the API; Docker 20.10 cannot ``put_archive`` into a tmpfs below a
   read-only root, and a second ``exec`` would cost ~50 ms);
2. the command runs with the rest of stdin;
3. every other process of the run user is killed, so children that outlive the program
   neither survive nor hold the output stream open (the keeper runs as another uid);
4. a trailer line goes to stderr last: exit code, cgroup CPU time before/after, peak memory
   and failcnt — read in-band because the engine's stats endpoint waits for a 1 s tick.

The user's program can write a fake trailer, but the real one comes after it and wins; only a
program that kills the wrapper keeps its own (and reports SIGKILL of the wrapper as its exit).
"""

from __future__ import annotations

import io
import signal
import tarfile
import time
from dataclasses import dataclass

WORKDIR = "/work"
TMP_DIR = ".tmp"  # inside the work dir: the root file system is read-only
UNPACK_FAILED = 125
MARK = b"\x1esandbox-usage "

WRAPPER = f"""\
usage() {{
  local g=/sys/fs/cgroup k v cpu=- peak=- fail=0
  if [ -r $g/cpuacct/cpuacct.usage ]; then
    cpu=$(<$g/cpuacct/cpuacct.usage)
    peak=$(<$g/memory/memory.max_usage_in_bytes)
    fail=$(<$g/memory/memory.failcnt)
  elif [ -r $g/cpu.stat ]; then
    while read -r k v; do [ "$k" = usage_usec ] && cpu=${{v}}000; done < $g/cpu.stat
    [ -r $g/memory.peak ] && peak=$(<$g/memory.peak)
    while read -r k v; do [ "$k" = oom_kill ] && fail=$v; done < $g/memory.events
  fi
  echo "$cpu $peak $fail"
}}
if [ "$1" -gt 0 ]; then
  if ! head -c "$1" | tar -x -f - -C {WORKDIR}; then
    echo "sandbox: cannot unpack the files" >&2
    exit {UNPACK_FAILED}
  fi
fi
shift
before=$(usage)
exec 3>&2 2>/dev/null
"$@" 2>&3 3>&-
code=$?
kill -s KILL -- -1
printf '{MARK.decode()}%s %s %s\\n' "$code" "${{before%% *}}" "$(usage)" >&3
exit $code
"""


def wrapped(argv: tuple[str, ...], archive: bytes) -> list[str]:
    return ["bash", "-c", WRAPPER, "sandbox", str(len(archive)), *argv]


def files_archive(files: dict[str, str]) -> bytes:
    """A tar of the run's files (names already validated) and the temp dir."""
    buf = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tmp = tarfile.TarInfo(TMP_DIR)
        tmp.type, tmp.mode, tmp.mtime = tarfile.DIRTYPE, 0o700, now
        tar.addfile(tmp)
        for name, text in files.items():
            data = text.encode("utf-8", "surrogatepass")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = now
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def signal_name(exit_code: int) -> str | None:
    """The signal a shell-style exit code (128 + n) reports, if any."""
    if 128 < exit_code < 128 + 65:
        try:
            return signal.Signals(exit_code - 128).name
        except ValueError:
            return None
    return None


@dataclass
class Usage:
    exit_code: int | None = None
    cpu_ns: int | None = None
    peak_bytes: int | None = None
    failcnt: int = 0


class TrailerFilter:
    """Passes stderr bytes through, cutting out trailer lines; :attr:`usage` is the last one."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self._held = b""
        self._line: bytes | None = None  # inside a trailer line when not None

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        buf = self._held + data
        self._held = b""
        while buf:
            if self._line is not None:
                end = buf.find(b"\n")
                if end < 0:
                    self._line += buf[:200]
                    break
                self.usage = _parse(self._line + buf[:end])
                self._line, buf = None, buf[end + 1 :]
                continue
            start = buf.find(MARK)
            if start >= 0:
                out += buf[:start]
                self._line, buf = b"", buf[start + len(MARK) :]
                continue
            keep = next((k for k in range(len(MARK) - 1, 0, -1) if buf.endswith(MARK[:k])), 0)
            out += buf[: len(buf) - keep]
            self._held = buf[len(buf) - keep :]
            break
        return bytes(out)

    def flush(self) -> bytes:
        held, self._held = self._held, b""
        return held


def _parse(line: bytes) -> Usage:
    fields = line.decode("ascii", "replace").split()
    numbers = [int(f) if f.isdigit() else None for f in fields[:5]]
    numbers += [None] * (5 - len(numbers))
    code, cpu_before, cpu_after, peak, fail = numbers
    cpu = cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
    return Usage(exit_code=code, cpu_ns=cpu, peak_bytes=peak, failcnt=fail or 0)
