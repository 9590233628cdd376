"""Errors of the cockpit's pure logic.

Hierarchy::

    RoomsError
    └── CockpitError
        ├── UnknownTest     the exercise has no test of that name
        └── NoHintLeft      every hint of the test is already unlocked (or it has none)
"""

from __future__ import annotations

from rooms.exceptions import RoomsError


class CockpitError(RoomsError):
    """A cockpit request that cannot be met; the message says why."""


class UnknownTest(CockpitError):
    pass


class NoHintLeft(CockpitError):
    pass
