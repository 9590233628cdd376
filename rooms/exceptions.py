"""Errors of the rooms package.

Hierarchy::

    RoomsError
    ├── ProtocolError          the peer sent bytes that break the y-websocket protocol (close 1002)
    │   └── DamagedDocument    ... and the CRDT library failed inside the change: reload it
    ├── InvalidDocumentName    a document name that is not demo, students/… or pairs/…
    ├── AchievementError       an achievement catalog that does not validate (names the field)
    ├── RosterError            a roster CSV that cannot be imported (names the line)
    └── LaunchClaimError       an LTI launch whose claims do not check (carries a code)
"""

from __future__ import annotations


class RoomsError(Exception):
    """Base of every error raised on purpose by the rooms package."""


class ProtocolError(RoomsError):
    """The remote side broke the protocol: a truncated, unknown or undecodable frame.

    The connection that sent it should be closed with code 1002; others are unaffected.
    """


class DamagedDocument(ProtocolError):
    """An update made the CRDT library fail (a yrs panic) while it was changing the document,
    which may now be half-changed: it must not be used again. The holder reloads it from the
    store, which has every update accepted before (server/documents/registry.py)."""


class InvalidDocumentName(RoomsError):
    pass


class AchievementError(RoomsError, ValueError):
    """An achievement declaration is invalid; the message names the file, entry and field."""


class RosterError(RoomsError, ValueError):
    """A roster file that cannot be imported; the message names the line."""


class LaunchClaimError(RoomsError, ValueError):
    """An LTI id_token whose claims are missing or wrong; ``code`` says which check failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
