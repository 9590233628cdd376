"""A class's graded Python submissions: the shell wrapper's case loop against Python's case
runner (sandbox/case_runner.py), side by side in one process, on this machine's Docker engine.

    .venv/bin/python bench/cases_bench.py [--runs 30] [--cases 3] [--rounds 3]

Each round measures both sides, the order alternating (the shell loop first in the first). A
side fills a warm pool of ``--runs`` Python containers, then starts ``--runs`` graded runs of
``--cases`` cases (the grading bench's solution and stdins) at once, and reports: the wall
time from the first start to the last result; the CPU of every container over that window
(the engine's cgroup: the cases, the wrapper, the runner's own start); the cases' own CPU and
wall time per run, from their trailers; and the statuses. The only difference between the
sides is :attr:`sandbox.languages.Language.case_runner`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import time

from grading_bench import SOLUTION
from processes import containers_cpu_seconds

from sandbox import languages
from sandbox.docker import DockerBackend
from sandbox.model import Case, RunRequest, RunResult

PREFIX = "opencode-classroom"


async def one_run(backend: DockerBackend, request: RunRequest) -> RunResult:
    execution = await backend.run(request)
    async for _ in execution.chunks():
        pass
    return await execution.wait()


async def side(shell_loop: bool, args: argparse.Namespace) -> str:
    python = languages.LANGUAGES["python"]
    if shell_loop:
        languages.LANGUAGES["python"] = dataclasses.replace(python, case_runner=())
    backend = DockerBackend(
        None,  # type: ignore[arg-type]
        image_prefix=PREFIX,
        pool_size=args.runs,
        pool_languages=["python"],
    )
    await backend.start()
    try:
        await backend.pool.wait_full()
        cases = tuple(Case(f"{n}\n") for n in range(args.cases))
        request = RunRequest("python", {"main.py": SOLUTION}, cases=cases)
        cpu, started = containers_cpu_seconds(), time.perf_counter()
        results = await asyncio.gather(*(one_run(backend, request) for _ in range(args.runs)))
        wall, cpu = time.perf_counter() - started, containers_cpu_seconds() - cpu
    finally:
        await backend.close()
        languages.LANGUAGES["python"] = python
    statuses: dict[str, int] = {}
    for result in results:
        for case in result.cases:
            statuses[case.status.value] = statuses.get(case.status.value, 0) + 1
    case_cpu = statistics.median(sum(c.cpu_ms or 0 for c in r.cases) for r in results)
    case_wall = statistics.median(sum(c.wall_ms for c in r.cases) for r in results)
    name = "shell loop" if shell_loop else "case runner"
    return (
        f"| {name} | {wall * 1000:.0f} | {cpu:.2f} | {cpu / args.runs * 1000:.0f} "
        f"| {case_cpu:.1f} | {case_wall:.1f} | {statuses} |"
    )


async def main(args: argparse.Namespace) -> None:
    print(
        f"{args.runs} graded Python runs of {args.cases} cases at once, warm pool of {args.runs}\n"
        "| side | all results ms | containers CPU s | per run ms | cases CPU ms (median) "
        "| cases wall ms (median) | case statuses |\n|---|---|---|---|---|---|---|"
    )
    for round_ in range(args.rounds):
        order = (True, False) if round_ % 2 == 0 else (False, True)
        for shell_loop in order:
            print(await side(shell_loop, args), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--cases", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
