"""``bench/update_path_bench.py`` runs its stages on this checkout (wall times only: the
instruction counts run the same children under valgrind, about a minute each)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_bench_times_each_stage_of_an_update_before_its_broadcast() -> None:
    done = subprocess.run(
        [sys.executable, "bench/update_path_bench.py", "--updates", "50", "--wall-only"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = re.findall(
        r"^\| this checkout \| (.+?) \| not counted \| ([0-9.]+) \|$", done.stdout, re.M
    )
    assert [stage for stage, _ in rows] == ["apply + meter", "commit"]
    assert all(float(wall) > 0 for _, wall in rows)
