"""``bench/bus_bench.py`` measures the Redis bus with both reply parsers (briefly)."""

from __future__ import annotations

import re

from tests.bench import bench_output
from tests.services import REDIS_URL, require


def test_the_bench_reads_and_publishes_with_both_parsers() -> None:
    require("redis")
    out = bench_output("bus_bench.py", "--url", REDIS_URL, "--messages", "300")
    assert "Redis bus, 300 messages of 60 bytes each way, 2 rounds" in out
    rows = re.findall(
        r"^\| (hiredis \(C\)|pure Python) \| ([0-9.]+) \(([0-9.]+), ([0-9.]+)\) "
        r"\| ([0-9.]+) \(([0-9.]+), ([0-9.]+)\) \|$",
        out,
        re.M,
    )
    # hiredis is a dependency (redis[hiredis]), so the parser redis-py picks is the C one.
    assert [row[0] for row in rows] == ["hiredis (C)", "pure Python"], out
    for row in rows:
        assert all(float(value) > 0 for value in row[1:])
