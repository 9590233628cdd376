"""Errors of the operations package.

Hierarchy::

    ClassroomError (server.exceptions)
    └── OperationError      an operator command that cannot do what was asked; the message says why
"""

from __future__ import annotations

from server.exceptions import ClassroomError


class OperationError(ClassroomError):
    """An operator command refused; the message names the file or setting at fault."""
