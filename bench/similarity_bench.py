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
import random
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rooms.integrity.index import SimilarityIndex  # noqa: E402
from rooms.integrity.sources import submission_prints  # noqa: E402

SHAPES = [
    "def {f}({a}, {b}):\n    {c} = 0\n    for {d} in range({a}):\n        {c} += {d} * {b} + {n}\n    return {c}\n",
    "def {f}({a}):\n    {b} = []\n    for {c} in {a}:\n        if {c} % {n} == 0:\n            {b}.append({c})\n    return {b}\n",
    "def {f}({a}, {b}):\n    while {a} > {n}:\n        {a} = {a} // 2\n        {b} += 1\n    return {a}, {b}\n",
    "def {f}({a}):\n    {b} = {{}}\n    for {c} in {a}.split():\n        {b}[{c}] = {b}.get({c}, 0) + {n}\n    return sorted({b}.items())\n",
    "def {f}({a}, {b}={n}):\n    try:\n        return int({a}) + {b}\n    except ValueError:\n        return None\n",
    "class {F}:\n    def __init__(self, {a}):\n        self.{b} = {a}\n        self.{c} = {n}\n\n    def {f}(self):\n        return self.{b} * self.{c}\n",
    "def {f}({a}):\n    if not {a}:\n        return {n}\n    {b} = max({a})\n    {c} = min({a})\n    return ({b} - {c}) / len({a})\n",
    "def {f}({a}, {b}):\n    {c} = [{d} for {d} in {a} if {d} not in {b}]\n    return len({c}) + {n}\n",
    "def {f}({a}):\n    with open({a}) as {b}:\n        {c} = [{d}.strip() for {d} in {b}]\n    return {c}[:{n}]\n",
    "def {f}({a}, {b}):\n    {c} = {a}\n    {a} = {b}\n    {b} = {c} % {n}\n    return {a} if {b} else {c}\n",
]
WORDS = "alpha beta gamma delta value item total count data result node key acc tmp".split()


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
        # Each student writes shapes in their own way: a shuffled statement tail.
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

    # Timed without tracemalloc (it slows allocation several times); memory in a second pass.
    index = SimilarityIndex()
    adds: list[float] = []
    for number, text in enumerate(texts):
        started = time.perf_counter()
        index.add(number, number, submission_prints({"main.py": text}, "python"))
        adds.append((time.perf_counter() - started) * 1000)
    prints = [submission_prints({"main.py": text}, "python") for text in texts]
    tracemalloc.start()
    measured = SimilarityIndex()
    for number, found in enumerate(prints):
        measured.add(number, number, found)
    index_bytes, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del measured, prints

    reports: list[float] = []
    for _ in range(5):
        started = time.perf_counter()
        pairs = index.pairs(limit=50)
        reports.append((time.perf_counter() - started) * 1000)
    adds_sorted = sorted(adds)
    print(f"{args.submissions} submissions, {avg_lines:.0f} lines on average (Python)")
    print(
        "add one submission: p50 %.1f ms, p95 %.1f ms, max %.1f ms (last 30: p50 %.1f ms)"
        % (
            statistics.median(adds),
            adds_sorted[int(len(adds) * 0.95)],
            adds_sorted[-1],
            statistics.median(adds[-30:]),
        )
    )
    print(
        "ranked report (all pairs scored, top 50 with fragments): median %.0f ms, max %.0f ms"
        % (statistics.median(reports), max(reports))
    )
    top = pairs[0]
    print(f"top pair {top.a.owner}-{top.b.owner}: similarity {top.similarity:.2f}, "
          f"{len(top.fragments)} fragments; pairs sharing anything: {len(index._shared)}")
    print(f"index memory {index_bytes / 2**20:.1f} MiB (tracemalloc); "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
