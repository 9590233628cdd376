"""``bench/classroom.py`` on a tiny class (2 rooms x 3 students, a few seconds, schedules
shortened so every student types, runs and submits inside the window), once on one server and
twice on two with PostgreSQL and Redis: each socket placed as the load balancer places it
(hashed), then a room's students alternating between the servers (spread). Every metric has
samples and nothing went wrong. The targets are not asserted: this machine's load decides
them, not the code under test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import POSTGRES_URL, require

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.bwrap]
METRICS = ("doc", "event", "run_first", "run_done", "grade")


def run_bench(
    tmp_path: Path, processes: str, env: dict[str, str] | None = None, *extra: str
) -> list[dict]:
    out = tmp_path / "result.json"
    cmd = [
        sys.executable, str(ROOT / "bench" / "classroom.py"),
        "--students", "6", "--rooms", "2", "--duration", "6", "--warmup", "2",
        "--demo-every", "3", "--run-every", "4", "--submit-every", "5",
        "--processes", processes, "--nice", "0", "--json", str(out), *extra,
    ]  # fmt: skip
    done = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env, check=False
    )
    assert out.exists(), f"no result (exit {done.returncode}):\n{done.stderr[-3000:]}"
    assert "document fan-out" in done.stdout, done.stdout
    results: list[dict] = json.loads(out.read_text())["results"]
    return results


def check(result: dict) -> None:
    assert result["errors"] == {}, result["errors"]
    for metric in METRICS:
        assert result["stats"][metric]["n"] > 0, f"{metric}: no samples"
    # 6 students x 3 keystrokes/s over 6 s, each delivered to the instructor's view.
    assert result["stats"]["doc"]["n"] >= 90
    # every student sees each demo move made in the window
    assert result["stats"]["event"]["n"] % 3 == 0
    assert result["counts"]["runs started"] >= 6
    assert result["counts"]["submissions"] >= 6
    for server in result["servers"]:
        assert server["cpu"] > 0 and server["rss_mib"] > 0


def test_one_process(tmp_path: Path) -> None:
    (result,) = run_bench(tmp_path, "1")
    assert result["processes"] == 1
    check(result)


@pytest.mark.postgres
@pytest.mark.redis
def test_two_processes(tmp_path: Path) -> None:
    require("postgres")
    require("redis")  # the bench starts its own redis-server; where Redis is, so is it
    env = {**os.environ, "CLASSROOM_BENCH_POSTGRES_URL": POSTGRES_URL}
    hashed, spread = run_bench(tmp_path, "2", env, "--placement", "both")
    assert hashed["label"].endswith("sockets hashed"), hashed["label"]
    assert spread["label"].endswith("sockets spread"), spread["label"]
    for result in (hashed, spread):
        assert result["processes"] == 2
        check(result)
        backends = "postgresql (this database's backends)"
        assert set(result["helpers"]) == {"redis", "worker", backends}
        assert result["helpers"][backends] > 0  # both servers stored updates and runs there
