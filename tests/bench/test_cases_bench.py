"""``bench/cases_bench.py`` measures both case loops on the real engine (two runs, one round)."""

from __future__ import annotations

import re

import pytest

from tests.bench import bench_output
from tests.sandbox.docker_support import require_images

pytestmark = pytest.mark.docker


def test_the_bench_runs_both_case_loops_and_every_case_passes() -> None:
    require_images()
    out = bench_output("cases_bench.py", "--runs", "2", "--rounds", "1")
    rows = re.findall(r"^\| (shell loop|case runner) \| (\d+) \| ([0-9.]+) \| .+ \| (\{.*\}) \|$",
                      out, re.M)  # fmt: skip
    assert [side for side, *_ in rows] == ["shell loop", "case runner"], out
    assert all(int(wall) > 0 and float(cpu) > 0 for _, wall, cpu, _ in rows), out
    assert all(statuses == "{'ok': 6}" for *_, statuses in rows), out
