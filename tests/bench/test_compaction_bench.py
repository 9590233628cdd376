"""``bench/compaction_bench.py`` times a compaction's fold on this checkout (SQLite, briefly)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_bench_times_each_fold_and_its_time_in_the_driver() -> None:
    done = subprocess.run(
        [sys.executable, "bench/compaction_bench.py", "--rounds", "3", "--updates", "40"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "SQLite: 40 updates folded per compaction, history kept" in done.stdout
    row = re.search(
        r"^\| this checkout \| (\d+) \| ([0-9.]+) \(([0-9.]+)-([0-9.]+)\) \| ([0-9.]+) ",
        done.stdout,
        re.M,
    )
    assert row, done.stdout
    folds, median, low, high, driver = row.groups()
    assert int(folds) == 4  # two processes, the first of their three rounds left out
    assert 0 < float(low) <= float(median) <= float(high)
    assert 0 < float(driver) <= float(high)
