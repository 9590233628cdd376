"""rooms/sync.py: an update frame whose header is read in place (a short update) is taken
exactly as the frame reader takes it, and every other frame goes to the reader."""

from __future__ import annotations

import pycrdt
import pytest

from rooms import sync as sync_module
from rooms.exceptions import ProtocolError
from rooms.frames import update_frame
from rooms.sync import DocumentSync
from rooms.varint import write_var_uint


def _taken(frame: bytes) -> object:
    """What a document of three connections makes of ``frame`` from the first."""
    server = DocumentSync()
    for conn in (1, 2, 3):
        server.connect(conn, writable=True)
    try:
        out = server.receive(1, frame)
    except ProtocolError as exc:
        return f"refused: {exc}"
    text = str(server.doc.get("m", type=pycrdt.Map).to_py())
    return out.sends, out.persist, out.publish, out.units, text


def _frames() -> list[bytes]:
    source: pycrdt.Doc[object] = pycrdt.Doc(client_id=7)
    entries = source.get("m", type=pycrdt.Map)
    updates: list[bytes] = []
    source.observe(lambda event: updates.append(event.update))
    entries["k"] = [1, 2.5, True]
    entries["k"] = "w" * 200  # an update of more than 127 bytes
    short, long = update_frame(updates[0]), update_frame(updates[1])
    assert short[2] < 0x80 and long[2] >= 0x80
    return [
        short,
        long,
        short + b"\x00",  # a byte after the update: the reader ignores it
        short[:-1],  # one short
        short[:3],
        short[:2],
        b"\x00\x02\x00",  # an empty update
        b"\x00\x02" + write_var_uint(len(short) - 2) + short[3:],  # the length too large
        b"\x00\x02\x80" + short[3:],  # the length's first byte says more follows
        b"\x00\x02\x81\x01" + b"\x00" * 128,  # so does this one's, the frame 3 + 0x81 long
    ]


@pytest.mark.parametrize("index", range(10))
def test_an_update_frame_is_taken_alike_read_in_place_or_not(
    index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = _frames()[index]
    in_place = _taken(frame)
    monkeypatch.setattr(sync_module, "_SHORT_UPDATE", b"none")  # every frame to the reader
    assert _taken(frame) == in_place
    if index == 0:  # the common case, applied and passed on
        sends, persist, *_ = in_place  # type: ignore[misc]
        assert [conn for conn, _ in sends] == [2, 3] and persist
