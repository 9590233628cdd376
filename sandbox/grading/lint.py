"""Linting submitted code on the server, for the quality and style parts of a grade.

Python is linted with ruff (a dependency): the files go to a temp dir and
``ruff check --output-format json`` runs there with a fixed rule set, ``--isolated`` (no config
of ours or theirs) and ``--ignore-noqa`` (a ``# noqa`` does not buy marks). Findings of the
pycodestyle and naming families (E, W, N) count against style; the others (pyflakes, bugbear,
simplify, complexity) against quality. Other languages have no linter here: :func:`ruff_lint`
answers None and the grader gives those weights to correctness.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.grading.exceptions import InvalidSubmission
from sandbox.grading.tables import path_problem

log = logging.getLogger("classroom.grading")

RULES = "E,W,N,F,B,SIM,C90"
STYLE_PREFIXES = ("E", "W", "N")
TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.code} {self.message}"


@dataclass(frozen=True)
class LintReport:
    style: list[Finding] = field(default_factory=list)
    quality: list[Finding] = field(default_factory=list)


Linter = Callable[[str, dict[str, str]], Coroutine[Any, Any, LintReport | None]]
"""``await linter(language, files)``: a report, or None when the language has no linter."""


async def ruff_lint(language: str, files: dict[str, str]) -> LintReport | None:
    if language != "python":
        return None
    sources = {path: text for path, text in files.items() if path.endswith(".py")}
    if not sources:
        return LintReport()
    with tempfile.TemporaryDirectory(prefix="classroom-lint-") as tmp:
        _write(tmp, sources)
        argv = [sys.executable, "-m", "ruff", "check", "--output-format", "json", "--isolated"]
        argv += ["--no-cache", "--preview", "--ignore-noqa", "--exit-zero", "--line-length", "100"]
        argv += ["--select", RULES, "."]
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=tmp,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                out, err = await process.communicate()
        except BaseException:
            # Timed out, or the grading was cancelled (a run stopped, a server shutting
            # down): ruff is not left running, its pipes open, with nobody to read them.
            process.kill()
            await process.wait()
            raise
        if process.returncode != 0:
            raise RuntimeError(
                f"ruff failed ({process.returncode}): {err.decode(errors='replace')}"
            )
        report = _report(out, tmp)
    log.debug("ruff: %s style, %s quality findings", len(report.style), len(report.quality))
    return report


def _write(root: str, sources: dict[str, str]) -> None:
    for path, text in sources.items():
        problem = path_problem(path)
        if problem is not None:
            raise InvalidSubmission(f"file name {path!r}: {problem}")
        target = Path(root) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _report(out: bytes, root: str) -> LintReport:
    report = LintReport()
    base = Path(root).resolve()
    for item in json.loads(out):
        name = Path(item["filename"]).resolve().relative_to(base).as_posix()
        found = Finding(item["code"] or "", item["message"], name, item["location"]["row"])
        (report.style if found.code.startswith(STYLE_PREFIXES) else report.quality).append(found)
    return report
