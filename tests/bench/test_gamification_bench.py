"""``bench/gamification_bench.py`` records a small class's grades on this checkout and prints
the CPU per graded submission and the wall time per round; with ``--cockpit`` the cockpit's
record and cell come first, and the bench checks the cell counts each attempt and its error."""

from __future__ import annotations

import re

import pytest

from tests.bench import bench_output


@pytest.mark.parametrize("cockpit", [[], ["--cockpit"]], ids=["gamification", "cockpit"])
def test_the_bench_measures_a_class_graded_at_once(cockpit: list[str]) -> None:
    out = bench_output(
        "gamification_bench.py", "--students", "3", "--rounds", "4", "--repeat", "1", *cockpit
    )
    [(cpu, wall)] = re.findall(r"^\| this checkout \| 1 \| ([0-9.]+) \| ([0-9.]+) \|$", out, re.M)
    assert float(cpu) > 0 and float(wall) > 0
    assert "this checkout, median of 1:" in out
