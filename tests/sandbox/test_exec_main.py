"""The main process of the other languages' containers (sandbox/python_main.py in exec mode) in
the real images: each run and case is started afresh, as from a shell, and the program can
neither read the main process, nor find the nonce, nor interrupt it, nor read another case's
input."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from sandbox import languages
from sandbox.languages import LANGUAGES
from sandbox.model import Case, RunRequest, RunStatus
from tests.sandbox.docker_support import docker_backend, run

pytestmark = pytest.mark.docker

# Prints what a program started afresh should see, and what it must not reach.
PROBE = r"""
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *disposition(int number) {
    struct sigaction action;
    sigaction(number, NULL, &action);
    return action.sa_handler == SIG_DFL ? "default"
         : action.sa_handler == SIG_IGN ? "ignored" : "handled";
}

static void reach(const char *what) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)getppid(), what);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s %s\n", what, strerror(errno));
        return;
    }
    char buf[16];
    printf("%s %s\n", what, read(fd, buf, sizeof buf) < 0 ? strerror(errno) : "readable");
    close(fd);
}

int main(int argc, char **argv) {
    sigset_t blocked;
    sigprocmask(SIG_BLOCK, NULL, &blocked);
    int any = 0;
    for (int n = 1; n < 32; n++) any |= sigismember(&blocked, n);
    printf("PIPE %s XFSZ %s INT %s TERM %s ALRM %s blocked %d\n", disposition(SIGPIPE),
           disposition(SIGXFSZ), disposition(SIGINT), disposition(SIGTERM), disposition(SIGALRM),
           any);
    reach("mem");
    reach("environ");
    char fds[64];
    snprintf(fds, sizeof fds, "/proc/%d/fd", (int)getppid());
    DIR *theirs = opendir(fds);
    printf("its descriptors %s\n", theirs ? "listed" : strerror(errno));
    DIR *mine = opendir("/proc/self/fd");
    int count = 0;
    for (struct dirent *e; (e = readdir(mine)) != NULL;) count += e->d_name[0] != '.';
    printf("my descriptors %d\n", count - 1);  /* less the one listing them */
    printf("cases %s\n", access(".cases", F_OK) == 0 ? "there" : "gone");
    char input[64] = {0};
    fread(input, 1, sizeof input - 1, stdin);
    printf("stdin %s|", input);
    for (int n = 1; n < argc; n++) printf(" %s", argv[n]);
    printf("\n");
    if (argc > 1 && strcmp(argv[1], "signals") == 0) {
        int sent[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSTOP, SIGKILL};
        for (int n = 0; n < 6; n++) kill(getppid(), sent[n]);
        printf("sent to %d\n", (int)getppid());
    }
    return 0;
}
"""

SEEN = [
    "PIPE default XFSZ default INT default TERM default ALRM default blocked 0",
    "mem Permission denied",
    "environ Permission denied",
    "its descriptors Permission denied",
    "my descriptors 3",
]


async def test_a_started_program_has_a_fresh_start_and_cannot_reach_the_main_process() -> None:
    files = {"main.c": PROBE}
    cases = (Case(stdin="first", args=("signals",)), Case(stdin="second", args=("x", "y")))
    async with docker_backend() as backend:
        _, alone = await run(backend, RunRequest("c", files, stdin="mine", args=("a b",)))
        _, graded = await run(backend, RunRequest("c", files, cases=cases))
    assert alone.status is RunStatus.OK, alone
    assert alone.stdout.splitlines() == [*SEEN, "cases gone", "stdin mine| a b"]
    first, second = graded.cases
    assert first.status is second.status is RunStatus.OK and not first.tampered, graded
    # The cases' inputs were taken away before the first case: each reads its own only.
    assert first.stdout.splitlines() == [*SEEN, "cases gone", "stdin first| signals", "sent to 1"]
    # The main process is the container's pid 1, which takes no signal from inside that it has
    # no handler for, SIGSTOP and SIGKILL included: the next case ran.
    assert second.stdout.splitlines() == [*SEEN, "cases gone", "stdin second| x y"]


# Forks, again and again, a child that leaves an orphan behind and exits: every orphan comes
# to the main process (pid 1), and if it did not reap them while the case runs, their zombies
# would fill the container's process limit (64) and fork would fail for good.
ORPHANS = r"""
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int made = 0;
    for (int n = 0; n < 400; n++) {
        int ok = 0;
        for (int tries = 0; tries < 2000 && !ok; tries++) {
            pid_t child = fork();
            if (child == 0) {
                pid_t orphan = fork();
                if (orphan == 0) _exit(0);
                _exit(orphan < 0);  /* 1: no process left for the orphan */
            }
            int status = 1;
            if (child > 0) waitpid(child, &status, 0);
            ok = child > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
            if (!ok) usleep(1000);
        }
        if (!ok) break;
        made++;
    }
    printf("made %d\n", made);
    return 0;
}
"""


async def test_orphans_are_reaped_while_the_case_runs() -> None:
    files = {"main.c": ORPHANS}
    async with docker_backend() as backend:
        _, result = await run(backend, RunRequest("c", files, cases=(Case(), Case())))
    assert [case.stdout for case in result.cases] == ["made 400\n", "made 400\n"], result


async def test_a_program_that_cannot_start_reads_as_the_shell_reports_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = LANGUAGES["c"]
    monkeypatch.setitem(LANGUAGES, "c", dataclasses.replace(c, run=("./missing",)))
    files = {"main.c": "int main(void) { return 0; }\n"}
    async with docker_backend() as backend:
        _, alone = await run(backend, RunRequest("c", files))
        _, graded = await run(backend, RunRequest("c", files, cases=(Case(), Case())))
    assert alone.exit_code == 127 and alone.status is RunStatus.RUNTIME_ERROR, alone
    assert "sandbox: ./missing: No such file or directory" in alone.stderr
    assert [case.exit_code for case in graded.cases] == [127, 127], graded


async def test_a_compiler_that_fails_ends_the_run_with_its_output_and_code() -> None:
    files = {"main.c": "int main(void) { return undeclared; }\n"}
    async with docker_backend() as backend:
        _, result = await run(backend, RunRequest("c", files, cases=(Case(),)))
    assert result.status is RunStatus.COMPILE_ERROR, result
    assert "undeclared" in (result.compile_output or result.stderr)


@pytest.mark.parametrize(
    ("main", "said"),
    [
        (("sh", "-c", "exit 3"), "ended (exit code 3) before it read the run"),
        (("no-such-main-process",), "executable file not found"),
    ],
)
async def test_a_container_whose_main_process_cannot_start_fails_at_once_and_says_why(
    monkeypatch: pytest.MonkeyPatch, main: tuple[str, ...], said: str
) -> None:
    """As in an image built before its main process needed python3: the run says so at once,
    not after the compile time limit (30 s for C)."""
    monkeypatch.setattr(languages, "EXEC_MAIN", main)
    files = {"main.c": "int main(void) { return 0; }\n"}
    async with docker_backend() as backend:
        async with asyncio.timeout(10):
            _, result = await run(backend, RunRequest("c", files))
    assert result.status is RunStatus.INTERNAL_ERROR, result
    assert said in result.message, result
    assert result.message.endswith("its image may be out of date (sandbox/images/build-offline.sh)")
