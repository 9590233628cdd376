"""``bench/cases_bench.py`` measures a ``python3`` started per run and case against one forked
from the containers' main process on the real engine (two runs, one round), graded and plain;
and, on the local backend under bubblewrap, a step per case against forked cases."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.bench import bench_output
from tests.sandbox.docker_support import require_images

ROW = re.compile(
    r"^\| (python3 started|python3 forked|a step per case|forked cases) \| (\d+) "
    r"\| ([0-9.]+) \| .+ \| (\{.*\}) \|$",
    re.M,
)


@pytest.mark.docker
@pytest.mark.parametrize(("cases", "statuses"), [("3", "{'ok': 6}"), ("0", "{'ok': 2}")])
def test_the_bench_runs_both_sides_and_every_run_passes(cases: str, statuses: str) -> None:
    require_images()
    out = bench_output("cases_bench.py", "--runs", "2", "--rounds", "1", "--cases", cases)
    rows = ROW.findall(out)
    assert [side for side, *_ in rows] == ["python3 started", "python3 forked"], out
    assert all(int(wall) > 0 and float(cpu) > 0 for _, wall, cpu, _ in rows), out
    assert [seen for *_, seen in rows] == [statuses, statuses], out


def test_the_local_sides_run_and_every_case_passes() -> None:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    out = bench_output("cases_bench.py", "--sandbox", "local", "--runs", "2", "--rounds", "2")
    rows = ROW.findall(out)
    sides = ["a step per case", "forked cases", "forked cases", "a step per case"]
    assert [side for side, *_ in rows] == sides, out
    assert all(int(wall) > 0 and float(cpu) > 0 for _, wall, cpu, _ in rows), out
    assert all(seen == "{'ok': 6}" for *_, seen in rows), out
