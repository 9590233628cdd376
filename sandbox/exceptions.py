"""Errors of the sandbox package.

Hierarchy::

    SandboxError
    ├── UnknownLanguage      the request names a language not in the table
    ├── InvalidRequest       bad file names, too many or too large files, bad limits
    ├── QueueFull            the run queue is at its bound; retry later
    ├── BackendUnavailable   no engine to run on (Docker unreachable, image missing)
    └── StateError           a run was moved through an illegal state transition (our bug)
"""

from __future__ import annotations


class SandboxError(Exception):
    """Base of every error raised on purpose by the sandbox."""


class UnknownLanguage(SandboxError):
    pass


class InvalidRequest(SandboxError):
    pass


class QueueFull(SandboxError):
    pass


class BackendUnavailable(SandboxError):
    pass


class StateError(SandboxError):
    pass
