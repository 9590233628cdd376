"""``bench/split_bench.py`` fills a student's file on a real server, sends one update
splitting every block, and prints how the socket ended and how long ``/health`` waited
(briefly: 1,200 blocks, this checkout beside itself)."""

from __future__ import annotations

import re

from tests.bench import ROOT, bench_output


def test_the_bench_reports_each_shape_for_each_server() -> None:
    out = bench_output("split_bench.py", "--blocks", "1200", "--source", str(ROOT), timeout=300)
    rows = re.findall(
        r"^(this|source) +(delete|insert|map) +(\d+) blocks, frame +([\d,]+) B: "
        r"(answered|closed .*) after +(\d+) ms; /health p50 +([\d.]+) ms, worst +([\d.]+) ms$",
        out,
        re.M,
    )
    assert sorted((r[0], r[1]) for r in rows) == [
        (server, shape) for server in ("source", "this") for shape in ("delete", "insert", "map")
    ], out
    for _, shape, blocks, frame, ended, _, p50, worst in rows:
        assert int(blocks) == (1200 if shape == "delete" else 600)
        assert int(frame.replace(",", "")) > int(blocks)  # a few bytes a block
        assert ended == "answered"  # well within the budget at this size
        assert 0 < float(p50) <= float(worst)
