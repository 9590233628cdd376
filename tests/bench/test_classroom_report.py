"""``bench/classroom_report.py``'s resource rows: the busy cores say when the machine itself
was full, so that a missed latency target there is read as the machine's; each server's own
event loop lag says whether a stall was the server's loop."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from classroom_metrics import LOOP_LAG_METRIC, METRICS, loop_lag
from classroom_report import MACHINE_SATURATED, resource_rows, table
from histograms import buckets_of


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


BOUNDS = ("0.001", "0.01", "0.1", "0.25", "0.5", "1.0", "+Inf")


def lag_buckets(*counts: int) -> dict[float, float]:
    """The loop-lag histogram as the server's /metrics gives it, cumulative counts."""
    lines = [f"# HELP {LOOP_LAG_METRIC} How late a timer of the event loop fires."]
    lines += [
        f'{LOOP_LAG_METRIC}_bucket{{le="{le}"}} {n}.0' for le, n in zip(BOUNDS, counts, strict=True)
    ]
    lines += [f"{LOOP_LAG_METRIC}_count {counts[-1]}.0", 'other_bucket{le="0.5"} 3.0']
    return buckets_of("\n".join(lines), LOOP_LAG_METRIC)


def lag_row(server: dict[str, Any]) -> str:
    rows = dict(resource_rows({**result(1.0), "servers": [server]}))
    return rows["server 0 event loop lag p99 / max"]


def test_a_stall_of_the_servers_loop_in_the_window_is_reported() -> None:
    before = lag_buckets(10, 18, 20, 20, 20, 20, 20)
    # 120 samples in the window: 100 under 1 ms, 19 under 10 ms, one stall of 0.5 to 1 s.
    after = lag_buckets(110, 137, 139, 139, 139, 140, 140)
    lag = loop_lag(before, after)
    assert lag == {"samples": 120, "p99_ms": 10.0, "max_ms": 1000.0, "over_warning": 1}
    server = {"name": "0", "cpu": 60.0, "rss_mib": 150.0, "rss_peak_mib": 155.0}
    assert lag_row({**server, "loop_lag": lag}) == "≤ 10 / ≤ 1000 ms; 1 of 120 samples over 250 ms"
    quiet = loop_lag(after, lag_buckets(140, 177, 179, 179, 179, 180, 180))
    assert quiet is not None and quiet["over_warning"] == 0 and quiet["max_ms"] == 10.0
    # A server whose /metrics could not be read, or a window with no sample, has no figure.
    assert loop_lag(None, after) is None and loop_lag(after, after) is None
    assert lag_row({**server, "loop_lag": None}) == "not read (no /metrics)"


def test_the_second_servers_rows_are_in_the_table_beside_one_server() -> None:
    def deployment(servers: int) -> dict[str, Any]:
        return {
            **result(1.0),
            "label": f"{servers} processes",
            "stats": {metric: {"n": 0} for metric in METRICS},
            "errors": {},
            "counts": {},
            "verdicts": {},
            "servers": [
                {"name": str(i), "cpu": 40.0 + i, "rss_mib": 140.0, "rss_peak_mib": 150.0}
                for i in range(servers)
            ],
        }

    lines = table([deployment(1), deployment(2)]).split("\n")
    rows = {line.split(" | ")[0]: line for line in lines}
    assert rows["| server 1 CPU % / RSS MiB (peak)"].endswith("| - | 41 % / 140 (peak 150) |")
    assert "| server 1 event loop lag p99 / max" in rows
    names = [line.split(" | ")[0] for line in lines]
    cpu = names.index("| server 0 CPU % / RSS MiB (peak)")
    assert names[cpu + 1] == "| server 1 CPU % / RSS MiB (peak)"
    assert rows["| servers CPU total"].endswith("| 40 % of one core | 81 % of one core |")
