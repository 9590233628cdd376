"""``bench/pg_writer_bench.py`` times both ways of committing document updates on PostgreSQL
(briefly, on a private database of the test server)."""

from __future__ import annotations

import re

import pytest

from tests.bench import bench_output
from tests.services import POSTGRES_URL, require

pytestmark = pytest.mark.postgres


def test_the_bench_times_each_way_for_each_batch_size(monkeypatch: pytest.MonkeyPatch) -> None:
    require("postgres")
    monkeypatch.setenv("CLASSROOM_BENCH_POSTGRES_URL", POSTGRES_URL)
    out = bench_output("pg_writer_bench.py", "--commits", "30", "--rows", "1", "4")
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \| (\d) \| (\d+) \| (\d+) / (\d+) \|$", out, re.M)
    assert len(rows) == 2 * 2 * 2, out  # batch sizes x ways x rounds
    assert {(int(r[0]), r[1].strip()) for r in rows} == {
        (size, way)
        for size in (1, 4)
        for way in (
            "SQLAlchemy Core, BEGIN/INSERT/COMMIT (before)",
            "one INSERT, autocommit (now)",
        )
    }
    for _, _, _, cpu, p50, p99 in rows:
        assert int(cpu) > 0 and 0 < int(p50) <= int(p99)
