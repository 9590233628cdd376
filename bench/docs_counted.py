"""``--callgrind``: the instructions our server executes per update, counted while it serves.

Design note. The fan-out benchmark's CPU figure moves by up to 30 % between runs of the same
server on the shared machines here (three runs of one checkout: 18.3, 20.3 and 24.3 % of a
core), so a change worth a few percent cannot be seen in it, however real. Instructions do not
move with the machine's load: ``valgrind --tool=callgrind`` counts them whatever else runs.
With ``--callgrind`` each of our servers runs under callgrind with counting off
(``--instr-atstart=no``); ``callgrind_control`` turns it on when the load generator opens the
measured window and off when it closes it, then has the count dumped. Divided by the updates
the writers sent in the window, that is the user-space work of one update: receiving it,
checking, applying and committing it, and writing it to every other client of its room,
awareness renewals and timers included. What the kernel does for the system calls (the
sends, the commit's writes) is not counted, nor are cache misses: a count is not a time.

Under callgrind the server runs about 50 times slower, so these runs want a light load (the
``light`` scenario: 10 rooms of 20, two writers each at 1 Hz); their latency and CPU figures
say nothing about speed. How often updates share a turn of the loop changes with the load,
so a count from ``light`` is of that load, not of ``many``'s.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

COUNTER = ("valgrind", "--tool=callgrind", "--instr-atstart=no")
_TOTALS = re.compile(r"^totals:\s+(\d+)", re.MULTILINE)


def counted_command(out_file: Path) -> list[str]:
    """The prefix that runs a command under callgrind, counting nothing until told to."""
    return [*COUNTER, f"--callgrind-out-file={out_file}"]


def control(pid: int, *args: str) -> None:
    """Send ``callgrind_control`` a command for the process ``pid``; raise if it failed."""
    subprocess.run(
        ["callgrind_control", *args, str(pid)],
        check=True,
        capture_output=True,
        timeout=120,
    )


def dumped_instructions(out_file: Path) -> int:
    """The instructions counted in the dumps callgrind wrote next to ``out_file`` (the dump
    ``control(pid, "-d")`` asked for, named ``out_file.1`` and so on)."""
    total = 0
    dumps = sorted(out_file.parent.glob(out_file.name + ".*"))
    if not dumps:
        raise RuntimeError(f"callgrind wrote no dump beside {out_file}")
    for dump in dumps:
        found = _TOTALS.search(dump.read_text(errors="replace"))
        if found is None:
            raise RuntimeError(f"no totals in {dump}")
        total += int(found.group(1))
    return total


def per_update(instructions: int, deliveries: int, clients_per_room: int) -> float:
    """Instructions per update sent, from the deliveries in the window: each update reaches
    every other client of its room."""
    updates = deliveries / max(1, clients_per_room - 1)
    return instructions / updates if updates else float("nan")
