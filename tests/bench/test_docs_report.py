"""``bench/docs_report.py``'s warning when the load generator was the bottleneck: it names
exactly the runs at or above the threshold, and leaves the median rows out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from docs_report import LOADGEN_SATURATED_PERCENT, Row, medians, saturation_warning
from docs_servers import SCENARIOS


def run(server: str, loadgen_cpu: float) -> Row:
    result: dict[str, Any] = {
        "latencyMs": {"p50": 1.0, "p99": 5.0, "max": 9.0},
        "deliveriesPerSecond": 100.0,
        "expectedPerSecond": 100.0,
        "lost": 0,
        "loadgen": {"cpuPercent": loadgen_cpu, "eventLoopDelayP99Ms": 1.0},
    }
    return Row(server, SCENARIOS["big"], result, 100.0, 100.0, 20.0, 1.0)


def test_the_warning_names_the_saturated_runs_only() -> None:
    rows = [run("ours", 92.0), run("reference", LOADGEN_SATURATED_PERCENT), run("ours", 60.0)]
    warning = saturation_warning(rows + medians(rows))
    assert "in 2 of 3 runs" in warning
    assert "ours/big 92 %" in warning and "reference/big 85 %" in warning
    assert "60 %" not in warning and "median" not in warning


def test_no_warning_when_the_load_generator_kept_up() -> None:
    assert saturation_warning([run("ours", 60.0), run("reference", 84.9)]) == ""
