"""``bench/compaction_bench.py`` times a compaction's fold on this checkout (SQLite, briefly)."""

from __future__ import annotations

import re

from tests.bench import bench_output


def test_the_bench_times_each_fold_and_its_time_in_the_driver() -> None:
    out = bench_output("compaction_bench.py", "--rounds", "3", "--updates", "40")
    assert "SQLite: 40 updates folded per compaction, history kept" in out
    row = re.search(
        r"^\| this checkout \| (\d+) \| ([0-9.]+) \(([0-9.]+)-([0-9.]+)\) \| ([0-9.]+) ",
        out,
        re.M,
    )
    assert row, out
    folds, median, low, high, driver = row.groups()
    assert int(folds) == 4  # two processes, the first of their three rounds left out
    assert 0 < float(low) <= float(median) <= float(high)
    assert 0 < float(driver) <= float(high)
