"""Errors of the demos package.

Hierarchy::

    DemoError
    ├── DefinitionError     a demo file that does not parse or validate; carries file, line, reason
    ├── PresentationError   an illegal move of the presentation (goto out of range, acting on a
    │                       stopped demo, starting twice); the caller's command was wrong
    └── QuizError           an answer the quiz refuses (closed quiz, malformed answer, no quiz here)

Every message is meant to be shown to the person who caused it as is.
"""

from __future__ import annotations


class DemoError(Exception):
    """Base of every error raised on purpose by the demos package."""


class DefinitionError(DemoError):
    """``str()`` reads ``file:line: reason``, the form editors and CI logs link to."""

    def __init__(self, file: str, line: int, reason: str) -> None:
        super().__init__(f"{file}:{line}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason


class PresentationError(DemoError):
    pass


class QuizError(DemoError):
    pass
