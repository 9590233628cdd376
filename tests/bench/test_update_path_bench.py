"""``bench/update_path_bench.py`` runs its stages on this checkout (wall times only: the
instruction counts run the same children under valgrind, about a minute each)."""

from __future__ import annotations

import re

from tests.bench import bench_output


def test_the_bench_times_each_stage_of_an_update_before_its_broadcast() -> None:
    out = bench_output("update_path_bench.py", "--updates", "50", "--wall-only")
    rows = re.findall(r"^\| this checkout \| (.+?) \| not counted \| ([0-9.]+) \|$", out, re.M)
    assert [stage for stage, _ in rows] == ["apply + meter", "commit"]
    assert all(float(wall) > 0 for _, wall in rows)
    # What the commits left in the WAL: at least a page and its frame header each.
    stored = re.search(r"^\| this checkout \| ([0-9,]+) \| ([0-9.]+) \|$", out, re.M)
    assert stored, out
    assert int(stored.group(1).replace(",", "")) > 1024 and float(stored.group(2)) > 0
