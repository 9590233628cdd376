"""Brief runs of the benchmarks under ``bench/``, checking what they print."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bench_output(script: str, *args: str, timeout: float = 120) -> str:
    """What ``bench/<script> args…`` prints, run by this interpreter from the checkout's root;
    a non-zero exit fails the test with the script's error output."""
    done = subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done.stdout
