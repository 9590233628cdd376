"""What yrs's merging of one update's items costs, beside what rooms/update_check.py rule 3
lets through.

    .venv/bin/python bench/merge_bench.py [--cap-seconds 20]

yrs merges, at the end of each transaction, every new item into its left neighbour where it
can, one pair at a time, so a run of mergeable items costs the square of its length in time
and memory. For each shape below this script builds the update by hand (the v1 encoding a
hostile client would send), asks rule 3 whether it passes, and applies it to a fresh
``pycrdt.Doc`` in a child process of its own, which reports the wall time of
``apply_update`` and its peak RSS. The shapes: runs of one-value items, of 100-value items,
of one-character and of 100-character strings, and runs of two (a string pair, then a value
pair, repeated). A case that takes longer than ``--cap-seconds`` is stopped and printed as
such (a 40,000-value run would take minutes and tens of GB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rooms.exceptions import ProtocolError  # noqa: E402
from rooms.update_check import check_update  # noqa: E402
from tests.support.updates import merging_run, null_values, one_string  # noqa: E402

# (name, item content, clocks per item, run lengths)
SHAPES: list[tuple[str, bytes | None, int, list[int]]] = [
    ("one value each", null_values(), 1, [300, 700, 1_000, 2_000, 5_000, 10_000]),
    ("100 values each", null_values(100), 100, [30, 70, 100, 300, 1_000]),
    ("1 character each", one_string("a"), 1, [2_000, 5_000, 10_000, 40_000, 160_000]),
    ("100 characters each", one_string("a" * 100), 100, [300, 500, 1_000, 2_000, 5_000]),
    ("runs of two", None, 1, [2_000, 20_000, 40_000, 160_000]),
]


def build(content: bytes | None, units: int, count: int) -> bytes:
    if content is None:  # runs of two: a string pair, a value pair, again and again
        pairs = [one_string("a"), one_string("b"), null_values(), null_values()]
        return merging_run(9, (pairs * (count // 4 + 1))[:count])
    return merging_run(9, [content] * count, units=units)


def child(shape: int, count: int) -> None:
    """Apply one update in this process; print its time and the process's peak RSS."""
    import resource

    import pycrdt

    _, content, units, _ = SHAPES[shape]
    update = build(content, units, count)
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    doc.get("text", type=pycrdt.Text)
    started = time.perf_counter()
    doc.apply_update(update)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"ms": elapsed * 1000, "rss_mib": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cap-seconds", type=float, default=20.0)
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    baseline = _run(0, 1, args.cap_seconds)
    if baseline is not None:
        print(f"a child applying one item: {baseline['rss_mib']:.0f} MiB peak RSS\n")
    print("| shape | items | bytes | rule 3 | yrs apply ms | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for index, (name, content, units, counts) in enumerate(SHAPES):
        for count in counts:
            update = build(content, units, count)
            try:
                check_update(update)
                verdict = "passes"
            except ProtocolError:
                verdict = "refused"
            result = _run(index, count, args.cap_seconds)
            if result is None:
                figures = f"over {args.cap_seconds:.0f} s (stopped) | -"
            else:
                figures = f"{result['ms']:.1f} | {result['rss_mib']:.0f}"
            print(f"| {name} | {count:,} | {len(update):,} | {verdict} | {figures} |", flush=True)


def _run(shape: int, count: int, cap: float) -> dict[str, float] | None:
    command = [sys.executable, __file__, "--child", str(shape), str(count)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=cap, check=True)
    except subprocess.TimeoutExpired:
        return None
    result: dict[str, float] = json.loads(done.stdout)
    return result


if __name__ == "__main__":
    main()
