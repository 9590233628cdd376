"""server/security/sockets.py close_reason: what a close frame can carry."""

from __future__ import annotations

import pytest
from websockets.frames import Close

from server.security.sockets import MAX_CLOSE_REASON_BYTES, close_reason


@pytest.mark.parametrize(
    "text", ["unknown room", "x" * 500, "一" * 60, "é" * 100 + "一", "a\ud800b" * 50, ""]
)
def test_a_reason_fits_a_close_frame_and_keeps_whole_characters(text: str) -> None:
    reason = close_reason(text)
    assert len(reason.encode()) <= MAX_CLOSE_REASON_BYTES
    Close(1008, reason).serialize()  # what websockets refused: "control frame too long"
    sendable = text.encode("utf-8", "replace").decode()  # half a surrogate pair becomes '?'
    assert sendable.startswith(reason)
    if len(sendable.encode()) <= MAX_CLOSE_REASON_BYTES:
        assert reason == sendable
    else:  # cut at most inside one character (of up to four bytes)
        assert len(reason.encode()) > MAX_CLOSE_REASON_BYTES - 4
