"""A class's Python runs: the containers' main process (sandbox/python_main.py) starting a
``python3`` per run and per case (its exec mode, as for the other languages) against forking
each from an interpreter up with the container (Python's), side by side in one process, on
this machine's Docker engine; or, with ``--sandbox local``, the local backend under
bubblewrap: a step (a bwrap and a ``python3``) per case against one step per run whose cases
are forked from that main process (sandbox/local_cases.py).

    .venv/bin/python bench/cases_bench.py [--runs 30] [--cases 3] [--rounds 3]
        [--sandbox docker|local]

Each round measures both sides, the order alternating (a ``python3`` started per run first in
the first round). A side fills a warm pool of ``--runs`` Python containers and waits until
they are idle, then starts ``--runs`` graded runs of ``--cases`` cases (the grading bench's
solution and stdins; ``--cases 0``: plain runs of it, stdin ``3``) at once, and reports: the
wall time from the first start to the last result; the CPU of every container over that
window (the engine's cgroup: the program, the main process, the unpack); the program's own
CPU and wall time per run (the sum of the cases'), from the trailers; and the statuses. The only
difference between the sides is :attr:`sandbox.languages.Language.forks`. Locally there is no
pool: the CPU is every step's (what the backend's launcher reaped, read once it has exited),
and the only difference is whether :func:`sandbox.local_cases.forks_cases` says yes.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import time

from grading_bench import SOLUTION
from processes import containers_cpu_seconds

from sandbox import languages, local_run
from sandbox.docker import DockerBackend
from sandbox.local import LocalBackend
from sandbox.model import Case, RunRequest, RunResult

PREFIX = "opencode-classroom"


async def one_run(backend: DockerBackend | LocalBackend, request: RunRequest) -> RunResult:
    execution = await backend.run(request)
    async for _ in execution.chunks():
        pass
    return await execution.wait()


async def idle(seconds: float = 0.25, quiet: float = 0.01, at_most: float = 10.0) -> None:
    """Until the containers use less than ``quiet`` CPU seconds in ``seconds`` (the warm
    containers' own starts over)."""
    deadline = time.perf_counter() + at_most
    before = containers_cpu_seconds()
    while time.perf_counter() < deadline:
        await asyncio.sleep(seconds)
        now = containers_cpu_seconds()
        if now - before < quiet:
            return
        before = now


def request_of(args: argparse.Namespace) -> RunRequest:
    cases = tuple(Case(f"{n}\n") for n in range(args.cases))
    return RunRequest("python", {"main.py": SOLUTION}, "3\n", cases=cases)


def reaped_cpu_seconds() -> float:
    times = os.times()
    return times.children_user + times.children_system


async def local_side(
    per_case: bool, args: argparse.Namespace
) -> tuple[str, float, float, list[RunResult]]:
    forks_cases = local_run.forks_cases
    if per_case:
        local_run.forks_cases = lambda *_: False  # type: ignore[assignment]
    backend = LocalBackend(confinement="bwrap")
    await backend.start()
    cpu = reaped_cpu_seconds()
    try:
        request = request_of(args)
        started = time.perf_counter()
        results = await asyncio.gather(*(one_run(backend, request) for _ in range(args.runs)))
        wall = time.perf_counter() - started
    finally:
        await backend.close()  # the launcher exits and is reaped: its steps' CPU is ours
        local_run.forks_cases = forks_cases
    name = "a step per case" if per_case else "forked cases"
    return name, wall, reaped_cpu_seconds() - cpu, results


async def side(afresh: bool, args: argparse.Namespace) -> str:
    if args.sandbox == "local":
        name, wall, cpu, results = await local_side(afresh, args)
    else:
        name, wall, cpu, results = await docker_side(afresh, args)
    statuses: dict[str, int] = {}
    for result in results:
        for run in result.cases or (result,):
            statuses[run.status.value] = statuses.get(run.status.value, 0) + 1
    parts = [r.cases or (r,) for r in results]
    case_cpu = statistics.median(sum(c.cpu_ms or 0 for c in p) for p in parts)
    case_wall = statistics.median(sum(c.wall_ms for c in p) for p in parts)
    return (
        f"| {name} | {wall * 1000:.0f} | {cpu:.2f} | {cpu / args.runs * 1000:.0f} "
        f"| {case_cpu:.1f} | {case_wall:.1f} | {statuses} |"
    )


async def docker_side(
    afresh: bool, args: argparse.Namespace
) -> tuple[str, float, float, list[RunResult]]:
    python = languages.LANGUAGES["python"]
    if afresh:
        languages.LANGUAGES["python"] = dataclasses.replace(python, forks=False)
    backend = DockerBackend(
        None,  # type: ignore[arg-type]
        image_prefix=PREFIX,
        pool_size=args.runs,
        pool_languages=["python"],
    )
    await backend.start()
    try:
        await backend.pool.wait_full()
        await idle()
        request = request_of(args)
        cpu, started = containers_cpu_seconds(), time.perf_counter()
        results = await asyncio.gather(*(one_run(backend, request) for _ in range(args.runs)))
        wall, cpu = time.perf_counter() - started, containers_cpu_seconds() - cpu
    finally:
        await backend.close()
        languages.LANGUAGES["python"] = python
    return "python3 started" if afresh else "python3 forked", wall, cpu, list(results)


async def main(args: argparse.Namespace) -> None:
    what = f"graded Python runs of {args.cases} cases" if args.cases else "plain Python runs"
    where = "on the local backend" if args.sandbox == "local" else f"warm pool of {args.runs}"
    print(
        f"{args.runs} {what} at once, {where}\n"
        "| side | all results ms | sandbox CPU s | per run ms | program CPU ms (median) "
        "| program wall ms (median) | statuses |\n|---|---|---|---|---|---|---|"
    )
    for round_ in range(args.rounds):
        order = (True, False) if round_ % 2 == 0 else (False, True)
        for afresh in order:
            print(await side(afresh, args), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--cases", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sandbox", choices=["docker", "local"], default="docker")
    asyncio.run(main(parser.parse_args()))
