"""``bench/clients_bench.py`` prints, for each count of client ids, rule 14's verdict and
yrs's times (briefly: 200 and 12,000)."""

from __future__ import annotations

import re

from tests.bench import bench_output


def test_the_bench_reports_the_verdict_and_times_for_each_count() -> None:
    out = bench_output("clients_bench.py", "--counts", "200", "12000")
    rows = re.findall(
        r"^\| ([\d,]+) \| ([\d,]+) \| (passes|refused) \| (\d+) \| (\d+) \| (\d+) \|$", out, re.M
    )
    assert [(r[0], r[2]) for r in rows] == [("200", "passes"), ("12,000", "refused")], out
    for _, size, _, *times in rows:
        assert int(size.replace(",", "")) > 1_000
        assert all(int(t) >= 0 for t in times)
