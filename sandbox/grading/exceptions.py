"""Errors of the grading package.

Hierarchy::

    GradingError
    ├── InvalidExercise      an exercise file (or stored dict) is malformed; says where and why
    ├── InvalidSubmission    the submitted files cannot be graded (bad path, too many, too large)
    ├── UnsupportedLanguage  unit-test files are not supported for this language
    └── RunFailed            the sandbox gave no verdict (internal error, cancelled)

Errors of the sandbox while grading (``QueueFull``, ``BackendUnavailable``) are not wrapped:
they mean "grade again later", not "this submission is worth zero".
"""

from __future__ import annotations


class GradingError(Exception):
    """Base of every error raised on purpose by the grading package."""


class InvalidExercise(GradingError):
    """An exercise definition is refused. ``source`` names the file (or ``<dict>``), ``line``
    is 1-based when known, ``reason`` says what is wrong in words an instructor can act on."""

    def __init__(self, source: str, reason: str, line: int | None = None) -> None:
        self.source = source
        self.reason = reason
        self.line = line
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")


class InvalidSubmission(GradingError):
    pass


class UnsupportedLanguage(GradingError):
    pass


class RunFailed(GradingError):
    """The sandbox could not give a verdict (internal error, run cancelled): grade again later
    rather than record a zero."""
