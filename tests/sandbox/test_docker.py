"""The Docker backend against the real engine and the real images: languages, streaming,
stdin, cancellation, the warm pool, removal and the sweep."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator

import aiodocker
import pytest

from sandbox.docker import LABEL_OWNER, LABEL_RUN, DockerBackend, docker_available
from sandbox.exceptions import BackendUnavailable, InvalidRequest, UnknownLanguage
from sandbox.languages import get_language
from sandbox.model import Chunk, Limits, RunRequest, RunStatus
from tests.sandbox.docker_support import (
    PREFIX,
    collect,
    containers_of,
    docker_backend,
    require_images,
    run,
)

pytestmark = pytest.mark.docker

HELLO = {
    "python": {"main.py": "print('hello from python')\n"},
    "javascript": {"main.js": "console.log('hello from javascript');\n"},
    "typescript": {
        "main.ts": "const who: string = 'typescript';\nconsole.log(`hello from ${who}`);\n"
    },
    "c": {"main.c": '#include <stdio.h>\nint main(void){puts("hello from c");return 0;}\n'},
    "cpp": {"main.cpp": '#include <iostream>\nint main(){std::cout << "hello from cpp\\n";}\n'},
    "go": {"main.go": 'package main\nimport "fmt"\nfunc main() { fmt.Println("hello from go") }\n'},
    "rust": {"main.rs": 'fn main() { println!("hello from rust"); }\n'},
}

# Interpreted languages have no compile step: their syntax errors are runtime errors.
BROKEN = {
    "typescript": {"main.ts": "const n: number = 'not a number';\n"},
    "c": {"main.c": "int main(void){ return undefined_name; }\n"},
    "cpp": {"main.cpp": "int main(){ std::cout << 1; }\n"},
    "go": {"main.go": "package main\nfunc main() { x := 1 }\n"},
    "rust": {"main.rs": 'fn main() { let x: u8 = "s"; }\n'},
}

CRASH = {
    "python": ({"main.py": "raise ValueError('boom')\n"}, 1, None, "ValueError"),
    "javascript": ({"main.js": "throw new Error('boom');\n"}, 1, None, "boom"),
    "typescript": ({"main.ts": "throw new Error('boom');\n"}, 1, None, "boom"),
    "c": ({"main.c": "int main(void){ volatile int *p = 0; return *p; }\n"}, 139, "SIGSEGV", ""),
    "cpp": (
        {"main.cpp": '#include <stdexcept>\nint main(){ throw std::runtime_error("boom"); }\n'},
        134,
        "SIGABRT",
        "boom",
    ),
    "go": ({"main.go": 'package main\nfunc main() { panic("boom") }\n'}, 2, None, "boom"),
    "rust": ({"main.rs": 'fn main() { panic!("boom"); }\n'}, 101, None, "boom"),
}

MULTI = {
    "python": {
        "main.py": "from util import twice\nprint(twice(21))\n",
        "util.py": "def twice(n):\n    return 2 * n\n",
    },
    "javascript": {
        "main.js": "const { twice } = require('./util');\nconsole.log(twice(21));\n",
        "util.js": "exports.twice = (n) => 2 * n;\n",
    },
    "typescript": {
        "main.ts": "import { twice } from './util';\nconsole.log(twice(21));\n",
        "util.ts": "export function twice(n: number): number { return 2 * n; }\n",
    },
    "c": {
        "main.c": '#include <stdio.h>\n#include "util.h"\n'
        'int main(void){printf("%d\\n", twice(21));}\n',
        "util.c": '#include "util.h"\nint twice(int n){return 2*n;}\n',
        "util.h": "int twice(int n);\n",
    },
    "cpp": {
        "main.cpp": '#include <cstdio>\n#include "util.h"\n'
        'int main(){std::printf("%d\\n", twice(21));}\n',
        "util.cpp": '#include "util.h"\nint twice(int n){return 2*n;}\n',
        "util.h": "int twice(int n);\n",
    },
    "go": {
        "main.go": 'package main\nimport "fmt"\nfunc main() { fmt.Println(twice(21)) }\n',
        "util.go": "package main\nfunc twice(n int) int { return 2 * n }\n",
    },
    "rust": {
        "main.rs": 'mod util;\nfn main() { println!("{}", util::twice(21)); }\n',
        "util.rs": "pub fn twice(n: i32) -> i32 { 2 * n }\n",
    },
}


@pytest.fixture
async def backend() -> AsyncIterator[DockerBackend]:
    async with docker_backend(pool_size=0) as b:
        yield b


@pytest.mark.parametrize("language", sorted(HELLO))
async def test_hello_world(backend: DockerBackend, language: str) -> None:
    chunks, result = await run(backend, RunRequest(language, HELLO[language]))
    assert result.status is RunStatus.OK, result
    assert result.exit_code == 0 and result.signal is None
    assert result.stdout == f"hello from {language}\n"
    assert "".join(c.data for c in chunks) == result.stdout
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert result.wall_ms > 0 and result.cpu_ms is not None
    assert result.memory_peak_bytes is not None and result.memory_peak_bytes > 0


@pytest.mark.parametrize("language", sorted(BROKEN))
async def test_compile_error(backend: DockerBackend, language: str) -> None:
    chunks, result = await run(backend, RunRequest(language, BROKEN[language]))
    assert result.status is RunStatus.COMPILE_ERROR, result
    assert result.compile_output.strip(), result
    assert "main." in result.compile_output  # the message names the file
    assert chunks == [] and result.stdout == ""


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_syntax_error_of_interpreted_language_is_runtime_error(
    backend: DockerBackend, language: str
) -> None:
    source = {"python": {"main.py": "def f(:\n"}, "javascript": {"main.js": "function (\n"}}
    _, result = await run(backend, RunRequest(language, source[language]))
    assert result.status is RunStatus.RUNTIME_ERROR, result
    assert "SyntaxError" in result.stderr


@pytest.mark.parametrize("language", sorted(CRASH))
async def test_runtime_error(backend: DockerBackend, language: str) -> None:
    files, code, signal, text = CRASH[language]
    _, result = await run(backend, RunRequest(language, files))
    assert result.status is RunStatus.RUNTIME_ERROR, result
    assert result.exit_code == code
    assert result.signal == signal
    assert text in result.stderr


@pytest.mark.parametrize("language", sorted(MULTI))
async def test_multi_file(backend: DockerBackend, language: str) -> None:
    _, result = await run(backend, RunRequest(language, MULTI[language]))
    assert result.status is RunStatus.OK, result
    assert result.stdout == "42\n"


async def test_stdin_and_args(backend: DockerBackend) -> None:
    source = "import sys\nprint(sys.argv[1:], sys.stdin.read().upper())\n"
    request = RunRequest("python", {"main.py": source}, stdin="abc\ndef", args=("x", "y z"))
    _, result = await run(backend, request)
    assert result.stdout == "['x', 'y z'] ABC\nDEF\n", result


async def test_stdin_in_c(backend: DockerBackend) -> None:
    source = (
        '#include <stdio.h>\nint main(void){int a,b; scanf("%d %d",&a,&b); printf("%d\\n",a+b);}\n'
    )
    _, result = await run(backend, RunRequest("c", {"main.c": source}, stdin="40 2\n"))
    assert result.stdout == "42\n", result


async def test_interactive_stdin(backend: DockerBackend) -> None:
    source = "name = input()\nprint('hi', name, flush=True)\nprint('bye', input())\n"
    execution = await backend.run(RunRequest("python", {"main.py": source}, interactive=True))
    chunks = execution.chunks()
    await execution.write_stdin("ada\n")
    async with asyncio.timeout(30):
        text = ""
        while not text.endswith("\n"):  # python -u may write a line in pieces
            text += (await anext(chunks)).data
        assert text == "hi ada\n"
        await execution.write_stdin("lovelace\n")
        await execution.close_stdin()
        rest = [c async for c in chunks]
        result = await execution.wait()
    assert "".join(c.data for c in rest) == "bye lovelace\n"
    assert result.status is RunStatus.OK


async def test_stderr_and_stdout_are_told_apart(backend: DockerBackend) -> None:
    source = "import sys\nprint('out', flush=True)\nprint('err', file=sys.stderr, flush=True)\n"
    chunks, result = await run(backend, RunRequest("python", {"main.py": source}))
    assert "".join(c.data for c in chunks if c.stream == "stdout") == "out\n"
    assert "".join(c.data for c in chunks if c.stream == "stderr") == "err\n"
    assert result.stdout == "out\n" and result.stderr == "err\n"


async def test_a_character_split_across_reads_stays_whole(backend: DockerBackend) -> None:
    source = (
        "import os, time\nos.write(1, 'é'.encode()[:1])\ntime.sleep(0.3)\n"
        "os.write(1, 'é'.encode()[1:] + b'\\n')\n"
    )
    _, result = await run(backend, RunRequest("python", {"main.py": source}))
    assert result.stdout == "é\n"


async def test_streaming_delivers_output_as_produced(backend: DockerBackend) -> None:
    source = "import time\nprint('one', flush=True)\ntime.sleep(1)\nprint('two', flush=True)\n"
    execution = await backend.run(RunRequest("python", {"main.py": source}))
    arrivals: list[tuple[float, Chunk]] = []
    async with asyncio.timeout(30):
        async for chunk in execution.chunks():
            arrivals.append((time.monotonic(), chunk))
        await execution.wait()
    assert "".join(c.data for _, c in arrivals) == "one\ntwo\n"
    one = next(t for t, c in arrivals if "one" in c.data)
    two = next(t for t, c in arrivals if "two" in c.data)
    assert two - one >= 0.7


async def test_cancel_stops_at_once_and_removes_the_container(backend: DockerBackend) -> None:
    source = "import time\nprint('started', flush=True)\ntime.sleep(100)\n"
    execution = await backend.run(RunRequest("python", {"main.py": source}))
    chunks = execution.chunks()
    async with asyncio.timeout(30):
        assert (await anext(chunks)).data.startswith("started")
        started = time.monotonic()
        await execution.cancel()
        result = await execution.wait()
    assert time.monotonic() - started < 5
    assert result.status is RunStatus.CANCELLED
    assert result.stdout.startswith("started")
    assert await containers_of(backend, execution.id) == []
    await execution.cancel()  # safe after the end


async def test_cancelling_the_consumer_task_removes_the_container(backend: DockerBackend) -> None:
    source = "import time\nprint('started', flush=True)\ntime.sleep(100)\n"
    execution = await backend.run(RunRequest("python", {"main.py": source}))
    seen = asyncio.Event()

    async def consume() -> None:
        async for _ in execution.chunks():
            seen.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(30):
        await seen.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await containers_of(backend, execution.id) == []
    assert (await execution.wait()).status is RunStatus.CANCELLED


async def test_cancelling_right_after_submit_leaves_no_container(backend: DockerBackend) -> None:
    execution = await backend.run(RunRequest("python", HELLO["python"]))
    waiter = asyncio.create_task(execution.wait())
    await asyncio.sleep(0)  # let the run begin creating its container
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    async with asyncio.timeout(30):
        await execution.finished()
    assert await containers_of(backend, execution.id) == []


@pytest.mark.parametrize("pool_size", [0, 1])
async def test_cancel_before_the_run_began_ends_it(pool_size: int) -> None:
    # cancel() before the run's task ever ran: chunks() and wait() must still end.
    async with docker_backend(pool_size=pool_size) as backend:
        if pool_size:
            async with asyncio.timeout(60):
                await backend.pool.wait_full()
        execution = await backend.run(RunRequest("python", HELLO["python"]))
        await execution.cancel()
        async with asyncio.timeout(30):
            chunks = [chunk async for chunk in execution.chunks()]
            result = await execution.wait()
        assert chunks == [] and result.status is RunStatus.CANCELLED
        assert await containers_of(backend, execution.id) == []


async def test_every_container_is_removed_after_runs(backend: DockerBackend) -> None:
    results = await asyncio.gather(
        *(run(backend, RunRequest("python", HELLO["python"])) for _ in range(4))
    )
    assert all(r.status is RunStatus.OK for _, r in results)
    await asyncio.wait_for(asyncio.gather(*(e.finished() for e in list(backend._executions))), 30)
    assert await containers_of(backend) == []


async def test_time_limit_is_capped_by_the_maxima() -> None:
    async with docker_backend(maxima=Limits(time_seconds=1.0, memory_mb=256)) as backend:
        source = "import time\ntime.sleep(5)\n"
        request = RunRequest("python", {"main.py": source}, limits=Limits(time_seconds=10))
        _, result = await run(backend, request)
    assert result.status is RunStatus.TIMEOUT
    assert 900 <= result.wall_ms < 3000


async def test_output_limit_from_the_request(backend: DockerBackend) -> None:
    request = RunRequest(
        "python", {"main.py": "print('x' * 5000)\n"}, limits=Limits(output_bytes=1000)
    )
    _, result = await run(backend, request)
    assert result.status is RunStatus.OUTPUT_LIMIT
    assert result.stdout == "x" * 1000


async def test_bad_requests_are_refused(backend: DockerBackend) -> None:
    with pytest.raises(UnknownLanguage):
        await backend.run(RunRequest("cobol", {"main.cob": ""}))
    with pytest.raises(InvalidRequest):
        await backend.run(RunRequest("python", {"../main.py": "print(1)"}))
    with pytest.raises(InvalidRequest):
        await backend.run(RunRequest("python", {}))


async def test_missing_image_is_reported() -> None:
    require_images()
    backend = DockerBackend(None, image_prefix="no-such-prefix", pool_size=1)
    await backend.start()
    try:
        with pytest.raises(BackendUnavailable, match="no-such-prefix-python:latest"):
            await backend.run(RunRequest("python", HELLO["python"]))
    finally:
        await backend.close()


async def test_docker_available() -> None:
    require_images()
    assert await docker_available(None)
    assert not await docker_available("unix:///nonexistent/docker.sock")


async def test_warm_pool_hit_then_refill() -> None:
    async with docker_backend(pool_size=1) as backend:
        async with asyncio.timeout(60):
            await backend.pool.wait_full()
        assert backend.pool.size("python") == 1
        execution = await backend.run(RunRequest("python", HELLO["python"]))
        _, result = await collect(execution)
        assert result.status is RunStatus.OK and result.extra["pooled"] is True
        assert backend.pool.hits == 1
        # Other container limits than the pooled ones: the cold path, counted as a miss.
        other = RunRequest("python", HELLO["python"], limits=Limits(memory_mb=128))
        _, cold = await run(backend, other)
        assert cold.extra["pooled"] is False and backend.pool.misses == 1
        async with asyncio.timeout(60):
            await backend.pool.wait_full()
        assert backend.pool.size("python") == 1
        pooled = set(await containers_of(backend)) - {execution.container_id}
        assert execution.container_id is not None
        assert not any(execution.container_id.startswith(c) for c in pooled)  # never reused
    assert await containers_of(backend) == []  # close() removes the pool


async def test_sweep_removes_containers_of_a_dead_process() -> None:
    require_images()
    dead = await asyncio.create_subprocess_exec("true")
    await dead.wait()
    host = socket.gethostname()
    owners = {"dead": f"{host}:{dead.pid}:feedface", "alive": f"{host}:{os.getpid()}:elsewhere"}
    async with aiodocker.Docker() as docker:
        made = {
            kind: await docker.containers.create(
                {
                    "Image": f"{PREFIX}-python:latest",
                    "Cmd": ["sleep", "infinity"],
                    "Labels": {LABEL_OWNER: owner, LABEL_RUN: f"sweep-{kind}"},
                }
            )
            for kind, owner in owners.items()
        }
        try:
            async with docker_backend(pool_size=0):
                pass
            present = {c.id for c in await docker.containers.list(all=True)}
            assert made["dead"].id not in present
            assert made["alive"].id in present
        finally:
            for container in made.values():
                with contextlib.suppress(aiodocker.DockerError):
                    await container.delete(force=True)


async def test_a_dead_pooled_container_falls_back_to_a_fresh_one() -> None:
    async with docker_backend(pool_size=1, pool_languages=["python"]) as backend:
        async with asyncio.timeout(60):
            await backend.pool.wait_full()
        (waiting,) = await containers_of(backend)
        async with aiodocker.Docker() as docker:
            await docker.containers.container(waiting).kill()
        _, result = await run(backend, RunRequest("python", HELLO["python"]))
    assert result.status is RunStatus.OK, result
    assert result.stdout == "hello from python\n"
    assert result.extra["pooled"] is False


async def test_without_stdin_the_program_reads_end_of_input(backend: DockerBackend) -> None:
    source = "try:\n    input()\nexcept EOFError:\n    print('eof')\n"
    _, result = await run(backend, RunRequest("python", {"main.py": source}))
    assert result.stdout == "eof\n", result


async def test_output_without_final_newline_is_kept_exactly(backend: DockerBackend) -> None:
    source = "import sys\nsys.stdout.write('no newline')\nsys.stderr.write('err, too')\n"
    _, result = await run(backend, RunRequest("python", {"main.py": source}))
    assert (result.stdout, result.stderr) == ("no newline", "err, too"), result


async def test_compile_step_has_its_own_time_limit(backend: DockerBackend) -> None:
    limits = Limits(compile_time_seconds=0.05, memory_mb=512)
    _, result = await run(backend, RunRequest("rust", HELLO["rust"], limits=limits))
    assert result.status is RunStatus.TIMEOUT, result
    assert "compiling took longer than 0.05 s" in result.message


async def test_exit_code_without_a_crash(backend: DockerBackend) -> None:
    _, result = await run(backend, RunRequest("python", {"main.py": "raise SystemExit(3)\n"}))
    assert (result.status, result.exit_code, result.signal) == (RunStatus.RUNTIME_ERROR, 3, None)


def test_request_limits_override_only_what_they_change() -> None:
    maxima = Limits(time_seconds=20, memory_mb=1024, disk_mb=1024, compile_time_seconds=60)
    backend = DockerBackend(None, maxima=maxima)  # not started: limits_for is pure
    rust = get_language("rust")
    limits = backend.limits_for(rust, RunRequest("rust", {}, limits=Limits(time_seconds=2)))
    assert limits.time_seconds == 2 and limits.memory_mb == rust.limits.memory_mb
    capped = backend.limits_for(rust, RunRequest("rust", {}, limits=Limits(memory_mb=4096)))
    assert capped.memory_mb == 1024
    assert backend.limits_for(rust) == rust.limits
