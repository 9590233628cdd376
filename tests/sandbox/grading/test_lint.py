from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sandbox.grading import lint
from sandbox.grading.exceptions import InvalidSubmission
from sandbox.grading.lint import LintReport, ruff_lint

CLEAN = 'def add(a, b):\n    """Add."""\n    return a + b\n'
MESSY = "import os\ndef Add( a,b ):\n  unused = 1 # noqa\n  return a+b\n"


async def test_clean_code_has_no_findings() -> None:
    assert await ruff_lint("python", {"main.py": CLEAN, "pkg/util.py": CLEAN}) == LintReport()


async def test_findings_are_split_into_style_and_quality() -> None:
    report = await ruff_lint("python", {"main.py": CLEAN, "src/messy.py": MESSY})
    assert report is not None
    style = {f.code for f in report.style}
    quality = {f.code for f in report.quality}
    assert {"E302", "E201", "E111", "N802"} <= style
    assert {"F401", "F841"} <= quality  # the noqa comment buys nothing
    assert all(f.file == "src/messy.py" for f in report.style + report.quality)
    unused = next(f for f in report.quality if f.code == "F401")
    assert unused.line == 1
    assert str(unused) == "src/messy.py:1: F401 `os` imported but unused"


async def test_other_languages_have_no_linter() -> None:
    assert await ruff_lint("c", {"main.c": "int main(void){return 0;}"}) is None
    assert await ruff_lint("python", {"notes.txt": "hello"}) == LintReport()


async def test_hostile_file_names_are_refused() -> None:
    with pytest.raises(InvalidSubmission, match=r"file name '\.\./evil\.py'"):
        await ruff_lint("python", {"../evil.py": CLEAN})


async def test_a_cancelled_lint_leaves_no_ruff_running(monkeypatch: pytest.MonkeyPatch) -> None:
    # A grading cancelled while ruff ran (a stopped run, a server shutting down) left ruff
    # running, its pipes open; the garbage collector later warned of them in another test.
    started: list[asyncio.subprocess.Process] = []
    ruff_started = asyncio.Event()
    real_exec = asyncio.create_subprocess_exec

    async def watched_exec(*argv: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        process = await real_exec(*argv, **kwargs)
        started.append(process)
        ruff_started.set()
        return process

    monkeypatch.setattr(lint.asyncio, "create_subprocess_exec", watched_exec)
    linting = asyncio.create_task(ruff_lint("python", {"main.py": MESSY * 200}))
    await asyncio.wait_for(ruff_started.wait(), 30)
    linting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await linting
    (process,) = started
    assert process.returncode is not None  # killed and reaped, not left running
