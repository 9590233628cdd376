"""The frames of the y-websocket protocol: message types and the frames the server builds.

A frame is a varint message type, then for sync messages a varint sub-type and the payload as
var-bytes (y-protocols ``sync.js``), for awareness the var-bytes of an awareness update
(``awareness.js``), for auth a permission-denied reason (``auth.js``).
"""

from __future__ import annotations

from enum import IntEnum

from rooms.varint import write_var_bytes, write_var_string, write_var_uint

EMPTY_UPDATE = b"\x00\x00"
PERMISSION_DENIED = "permission denied: this document is read-only for you"


class MessageType(IntEnum):
    SYNC = 0
    AWARENESS = 1
    AUTH = 2
    QUERY_AWARENESS = 3


class SyncType(IntEnum):
    STEP1 = 0
    STEP2 = 1
    UPDATE = 2


def update_frame(update: bytes) -> bytes:
    return bytes((MessageType.SYNC, SyncType.UPDATE)) + write_var_bytes(update)


def step1_frame(state_vector: bytes) -> bytes:
    return bytes((MessageType.SYNC, SyncType.STEP1)) + write_var_bytes(state_vector)


def step2_frame(update: bytes) -> bytes:
    return bytes((MessageType.SYNC, SyncType.STEP2)) + write_var_bytes(update)


def awareness_frame(payload: bytes) -> bytes:
    return write_var_uint(MessageType.AWARENESS) + write_var_bytes(payload)


def permission_denied_frame(reason: str = PERMISSION_DENIED) -> bytes:
    return write_var_uint(MessageType.AUTH) + b"\x00" + write_var_string(reason)
