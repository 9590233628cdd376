"""``bench/cases_bench.py`` measures the shell wrapper and Python's main process on the real
engine (two runs, one round), graded and plain."""

from __future__ import annotations

import re

import pytest

from tests.bench import bench_output
from tests.sandbox.docker_support import require_images

pytestmark = pytest.mark.docker
ROW = re.compile(
    r"^\| (shell wrapper|python main) \| (\d+) \| ([0-9.]+) \| .+ \| (\{.*\}) \|$", re.M
)


@pytest.mark.parametrize(("cases", "statuses"), [("3", "{'ok': 6}"), ("0", "{'ok': 2}")])
def test_the_bench_runs_both_sides_and_every_run_passes(cases: str, statuses: str) -> None:
    require_images()
    out = bench_output("cases_bench.py", "--runs", "2", "--rounds", "1", "--cases", cases)
    rows = ROW.findall(out)
    assert [side for side, *_ in rows] == ["shell wrapper", "python main"], out
    assert all(int(wall) > 0 and float(cpu) > 0 for _, wall, cpu, _ in rows), out
    assert [seen for *_, seen in rows] == [statuses, statuses], out
