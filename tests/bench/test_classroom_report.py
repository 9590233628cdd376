"""``bench/classroom_report.py``'s resource rows: the busy cores say when the machine itself
was full, so that a missed latency target there is read as the machine's."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from classroom_report import MACHINE_SATURATED, resource_rows


def result(busy_cores: float) -> dict[str, Any]:
    return {
        "servers": [{"name": "0", "cpu": 60.0, "rss_mib": 150.0, "rss_peak_mib": 155.0}],
        "helpers": {"sandbox runs (server's children)": 60.0},
        "generators": [{"cpu": 25.0}],
        "lag_p99": 10.0,
        "lag_max": 50.0,
        "load_before": "1.0 1.0 1.0",
        "load_after": "2.0 1.5 1.2",
        "machine_cores": busy_cores,
    }


def busy_row(busy_cores: float) -> str:
    return dict(resource_rows(result(busy_cores)))["machine: busy cores (all processes)"]


def test_a_full_machine_is_flagged() -> None:
    cores = os.cpu_count() or 1
    assert busy_row(MACHINE_SATURATED * cores) == (
        f"{MACHINE_SATURATED * cores:.2f} of {cores} "
        "(SATURATED: runs wait for a core; latencies measure the machine)"
    )


def test_a_machine_with_room_is_not() -> None:
    cores = os.cpu_count() or 1
    below = MACHINE_SATURATED * cores - 0.01
    assert busy_row(below) == f"{below:.2f} of {cores}"
