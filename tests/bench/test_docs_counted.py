"""``bench/docs_bench.py --callgrind``: a real process under callgrind counts nothing until it is
told to, then its dump is read (bench/docs_counted.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import services

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from docs_counted import control, counted_command, dumped_instructions, per_update

BUSY = "print('ready', flush=True)\nwhile True:\n    sum(range(1000))"


def counted_child(out_file: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [*counted_command(out_file), sys.executable, "-c", BUSY],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    return child


@pytest.mark.parametrize("counting", [False, True], ids=["never-on", "on"])
def test_only_what_runs_while_counting_is_on_is_counted(tmp_path: Path, counting: bool) -> None:
    services.require("valgrind")
    out_file = tmp_path / "callgrind.out"
    child = counted_child(out_file)
    try:
        if counting:
            control(child.pid, "-i", "on")
        control(child.pid, "-i", "off")
        control(child.pid, "-d")
        counted = dumped_instructions(out_file)
    finally:
        child.kill()
        child.communicate(timeout=30)  # and closes its pipe
    if counting:
        assert counted > 0
    else:
        assert counted == 0  # the interpreter's start and its loop before "on": not counted


def test_no_dump_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no dump"):
        dumped_instructions(tmp_path / "callgrind.out")


def test_instructions_per_update_from_the_deliveries() -> None:
    # 1,900 deliveries in a room of 20: 100 updates, each sent to 19 others.
    assert per_update(1_234_500, 1_900, 20) == 12_345
