"""Sandbox benchmark: submit → first output byte, cold vs warm pool vs plain ``docker run``,
and sustained runs per second, on this machine's Docker engine.

    .venv/bin/python bench/sandbox_bench.py [--runs 40] [--seconds 15] [--concurrency 8]

Prints one table (milliseconds, p50/p99 over ``--runs`` runs each). "plain docker run" starts
``docker run --rm -i`` of the same image with the same code on stdin, as a naive sandbox
would. Needs the images of sandbox/images/build-offline.sh.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import time
from collections.abc import Awaitable, Callable

from sandbox.docker import DockerBackend
from sandbox.languages import LANGUAGES
from sandbox.model import RunRequest, RunStatus
from sandbox.pool import new_run_id

PREFIX = "opencode-classroom"
CODE = {
    "python": ("main.py", "print('hello')\n", "python3 -u main.py"),
    "c": (
        "main.c",
        '#include <stdio.h>\nint main(void){puts("hello");return 0;}\n',
        "gcc -O2 -o main main.c && ./main",
    ),
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def first_byte(backend: DockerBackend, language: str) -> float:
    name, source, _ = CODE[language]
    started = time.perf_counter()
    execution = await backend.run(RunRequest(language, {name: source}))
    first = None
    async for _ in execution.chunks():
        if first is None:
            first = time.perf_counter() - started
    result = await execution.wait()
    if result.status is not RunStatus.OK or first is None:
        raise RuntimeError(f"bench run failed: {result}")
    await execution.finished()  # removal is not timed, but not left to overlap the next run
    return first * 1000


async def plain_docker_run(language: str) -> float:
    name, source, command = CODE[language]
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        "docker", "run", "--rm", "-i", "--network", "none", "--user", "10001:10001",
        "--tmpfs", "/work:exec,uid=10001,gid=10001", "-w", "/work",
        f"{PREFIX}-{language}:latest", "bash", "-c", f"cat > {name}; {command}",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(source.encode())
    process.stdin.close()
    await process.stdout.read(1)
    elapsed = (time.perf_counter() - started) * 1000
    await process.stdout.read()
    if await process.wait() != 0:
        raise RuntimeError("plain docker run failed")
    return elapsed


async def sample(runs: int, once: Callable[[], Awaitable[float]]) -> list[float]:
    return [await once() for _ in range(runs)]


async def sustained(seconds: float, concurrency: int, pool_size: int) -> tuple[float, int]:
    backend = DockerBackend(
        None, image_prefix=PREFIX, pool_size=pool_size, pool_languages=["python"]
    )
    await backend.start()
    await backend.pool.wait_full()
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await first_byte(backend, "python")
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    hits = backend.pool.hits
    await backend.close()
    return done / elapsed, hits


async def engine_ceiling(seconds: float, concurrency: int) -> float:
    """Containers/s the engine creates, starts and removes with nothing run in them: the
    ceiling of runs/s when every run has its own container."""
    backend = DockerBackend(None, image_prefix=PREFIX, pool_size=0)
    await backend.start()
    python = LANGUAGES["python"]
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            box = await backend.create_box(python, backend.limits_for(python), new_run_id())
            await backend.discard_box(box)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    rate = done / (time.perf_counter() - started)
    await backend.close()
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    cold = DockerBackend(None, image_prefix=PREFIX, pool_size=0)
    warm = DockerBackend(None, image_prefix=PREFIX, pool_size=1, pool_languages=list(CODE))
    await cold.start()
    await warm.start()
    rows: list[tuple[str, list[float]]] = []
    try:
        for language in CODE:
            plain = await sample(args.runs, functools.partial(plain_docker_run, language))
            rows.append((f"{language}: plain docker run --rm", plain))
            cold_runs = await sample(args.runs, functools.partial(first_byte, cold, language))
            rows.append((f"{language}: backend, cold (pool 0)", cold_runs))

            async def warm_once(lang: str = language) -> float:
                await warm.pool.wait_full()  # measure a hit, not a refill race
                return await first_byte(warm, lang)

            rows.append((f"{language}: backend, warm pool", await sample(args.runs, warm_once)))
    finally:
        await cold.close()
        await warm.close()

    rate, hits = await sustained(args.seconds, args.concurrency, pool_size=args.concurrency)
    ceiling = await engine_ceiling(args.seconds, args.concurrency)
    print(f"\nsubmit -> first output byte, ms ({args.runs} runs each)\n")
    print(f"| {'case':<36} | {'p50':>7} | {'p99':>7} | {'mean':>7} |")
    print(f"|{'-' * 38}|{'-' * 9}|{'-' * 9}|{'-' * 9}|")
    for label, values in rows:
        p50, p99, mean = percentile(values, 0.5), percentile(values, 0.99), statistics.mean(values)
        print(f"| {label:<36} | {p50:7.1f} | {p99:7.1f} | {mean:7.1f} |")
    print(
        f"\nsustained: {rate:.1f} Python runs/s to completion "
        f"({args.concurrency} concurrent, pool {args.concurrency}/language, {args.seconds:g} s, "
        f"{hits} pool hits)"
    )
    print(f"engine ceiling: {ceiling:.1f} containers/s created, started and removed (no run)")


if __name__ == "__main__":
    asyncio.run(main())
