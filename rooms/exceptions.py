"""Errors of the rooms package.

Hierarchy::

    RoomsError
    ├── ProtocolError          the peer sent bytes that break the y-websocket protocol (close 1002)
    ├── InvalidDocumentName    a document name that is not demo, students/… or pairs/…
    └── AchievementError       an achievement catalog that does not validate (names the field)
"""

from __future__ import annotations


class RoomsError(Exception):
    """Base of every error raised on purpose by the rooms package."""


class ProtocolError(RoomsError):
    """The remote side broke the protocol: a truncated, unknown or undecodable frame.

    The connection that sent it should be closed with code 1002; others are unaffected.
    """


class InvalidDocumentName(RoomsError):
    pass


class AchievementError(RoomsError, ValueError):
    """An achievement declaration is invalid; the message names the file, entry and field."""
