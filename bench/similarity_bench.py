"""Similarity index benchmark: one exercise, many ~200-line submissions.

    .venv/bin/python bench/similarity_bench.py [--submissions 300] [--lines 200] [--seed 1]

Generates Python submissions from a pool of function shapes (each student picks ~25, with
their own names, constants and order; one in ten copies another student and disguises it),
then measures, in this process:

* adding one submission to the index: lexing + winnowing + the incremental index update
  (p50, p95, max over all submissions, the last ones against a nearly full index);
* the ranked report: every pair scored, the top 50 with their fragments (median of 5);
* memory: the index's Python allocations (tracemalloc) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rooms.integrity.index import SimilarityIndex
from rooms.integrity.sources import submission_prints

SHAPES = [
    "\n".join(
        [
            "def {f}({a}, {b}):",
            "    {c} = 0",
            "    for {d} in range({a}):",
            "        {c} += {d} * {b} + {n}",
            "    return {c}",
            "",
        ]
    ),
    "\n".join(
        [
            "def {f}({a}):",
            "    {b} = []",
            "    for {c} in {a}:",
            "        if {c} % {n} == 0:",
            "            {b}.append({c})",
            "    return {b}",
            "",
        ]
    ),
    "\n".join(
        [
            "def {f}({a}, {b}):",
            "    while {a} > {n}:",
            "        {a} = {a} // 2",
            "        {b} += 1",
            "    return {a}, {b}",
            "",
        ]
    ),
    "\n".join(
        [
            "def {f}({a}):",
            "    {b} = {{}}",
            "    for {c} in {a}.split():",
            "        {b}[{c}] = {b}.get({c}, 0) + {n}",
            "    return sorted({b}.items())",
            "",
        ]
    ),
    "\n".join(
        [
            "def {f}({a}, {b}={n}):",
            "    try:",
            "        return int({a}) + {b}",
            "    except ValueError:",
            "        return None",
            "",
        ]
    ),
    "\n".join(
        [
            "class {F}:",
            "    def __init__(self, {a}):",
            "        self.{b} = {a}",
            "        self.{c} = {n}",
            "",
            "    def {f}(self):",
            "        return self.{b} * self.{c}",
            "",
        ]
    ),
    "\n".join(
        [
            "def {f}({a}):",
            "    if not {a}:",
            "        return {n}",
            "    {b} = max({a})",
            "    {c} = min({a})",
            "    return ({b} - {c}) / len({a})",
            "",
        ]
    ),
    "\n".join(
        [
            "def {f}({a}, {b}):",
            "    {c} = [{d} for {d} in {a} if {d} not in {b}]",
            "    return len({c}) + {n}",
            "",
        ]
    ),
    "\n".join(
        [
            "def {f}({a}):",
            "    with open({a}) as {b}:",
            "        {c} = [{d}.strip() for {d} in {b}]",
            "    return {c}[:{n}]",
            "",
        ]
    ),
    "\n".join(
        [
            "def {f}({a}, {b}):",
            "    {c} = {a}",
            "    {a} = {b}",
            "    {b} = {c} % {n}",
            "    return {a} if {b} else {c}",
            "",
        ]
    ),
]
WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "value",
    "item",
    "total",
    "count",
    "data",
    "result",
    "node",
    "key",
    "acc",
    "tmp",
]


def variant(shape: str, rng: random.Random, tag: int) -> str:
    names = {k: f"{rng.choice(WORDS)}_{tag}_{k}" for k in "abcd"}
    return shape.format(
        f=f"{rng.choice(WORDS)}_{tag}_fn",
        F=f"K{tag}{rng.choice(WORDS).title()}",
        n=rng.randrange(2, 99),
        **names,
    )


def submission(rng: random.Random, lines: int) -> str:
    parts: list[str] = []
    tag = 0
    while sum(part.count("\n") + 1 for part in parts) < lines:
        shape = rng.choice(SHAPES)
        # Each student: their own choice and order of shapes, names and constants.
        parts.append(variant(shape, rng, tag))
        tag += 1
    return "\n".join(parts)


def disguise(text: str, rng: random.Random) -> str:
    blocks = text.split("\n\n")
    rng.shuffle(blocks)
    renamed = "\n\n".join(blocks)
    for word in WORDS:
        renamed = renamed.replace(word + "_", word[::-1] + "_")
    return "# my own work\n" + renamed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    texts: list[str] = []
    for number in range(args.submissions):
        if number >= 10 and number % 10 == 0:
            texts.append(disguise(texts[rng.randrange(number)], rng))
        else:
            texts.append(submission(rng, args.lines))
    avg_lines = statistics.mean(text.count("\n") + 1 for text in texts)

    # Wall time and this thread's CPU time: on a shared machine the wall time includes
    # waiting for a core; the CPU time is the work itself. tracemalloc slows allocation
    # several times, so memory is measured in a second, untimed pass.
    index = SimilarityIndex()
    adds: list[float] = []
    add_cpu: list[float] = []
    for number, text in enumerate(texts):
        started, cpu = time.perf_counter(), time.thread_time()
        index.add(number, number, submission_prints({"main.py": text}, "python"))
        adds.append((time.perf_counter() - started) * 1000)
        add_cpu.append((time.thread_time() - cpu) * 1000)
    prints = [submission_prints({"main.py": text}, "python") for text in texts]
    tracemalloc.start()
    measured = SimilarityIndex()
    for number, found in enumerate(prints):
        measured.add(number, number, found)
    index_bytes, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del measured, prints

    reports: list[float] = []
    report_cpu: list[float] = []
    for _ in range(5):
        started, cpu = time.perf_counter(), time.thread_time()
        pairs = index.pairs(limit=50)
        reports.append((time.perf_counter() - started) * 1000)
        report_cpu.append((time.thread_time() - cpu) * 1000)
    adds_sorted = sorted(adds)
    print(f"{args.submissions} submissions, {avg_lines:.0f} lines on average (Python)")
    print(
        f"add one submission: wall p50 {statistics.median(adds):.1f} ms, "
        f"p95 {adds_sorted[int(len(adds) * 0.95)]:.1f} ms, max {adds_sorted[-1]:.1f} ms; "
        f"CPU p50 {statistics.median(add_cpu):.1f} ms, max {max(add_cpu):.1f} ms"
    )
    print(
        "ranked report (all pairs scored, top 50 with fragments): "
        f"wall median {statistics.median(reports):.0f} ms, max {max(reports):.0f} ms; "
        f"CPU median {statistics.median(report_cpu):.0f} ms"
    )
    top = pairs[0]
    print(
        f"top pair {top.a.owner}-{top.b.owner}: similarity {top.similarity:.2f}, "
        f"{len(top.fragments)} fragments; pairs sharing anything: {len(index._shared)}"
    )
    print(
        f"index memory {index_bytes / 2**20:.1f} MiB (tracemalloc); "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
