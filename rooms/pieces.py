"""An update that may split many of the document's blocks, applied a piece at a time.

Design note. yrs keeps each client's blocks (runs of items) in one array. Where an item is
inserted inside a block, or a deleted range begins or ends inside one, yrs splits that block
in two and inserts the new half into the array, moving every block after it; at the end of
the transaction it merges deleted neighbours back, taking blocks out the same way. So an
update costs about its splits times the blocks of the client it splits: 10 to 50 µs a split
on a document of 50,000 to 100,000 blocks here (``pycrdt`` 0.14). A document's quota
(1 MiB) holds that many, and one frame can hold tens of thousands of splits: a student who
had filled their own file with 50,000 two-character blocks sent one 190 KB update deleting
the first character of each, and yrs took 0.6 to 0.9 s to apply it; 50,000 one-character
insertions, each inside another block, 2.5 s. Every room of the process waited meanwhile
(on a real server, 40,000 blocks: ``/health`` waited 0.4 s, ``bench/split_bench.py``), and
the work budget (server/security/floods.py) only bounds how often, after the frame.
Stock clients make such updates too, only smaller: a "replace all", many cursors, a
reconnecting client's offline edits.

Rule 1 — cut, never refuse. An update the reader counts more than :data:`PIECE_SPLITS`
possible splits in (rooms/update_check.py rule 4) is cut into :func:`pieces` of at most
that many each, in its own order: its structs first, client by client in clock order, then
its deleted ranges. Each piece is an update of the same v1 encoding that a client could have
sent, and applying them one after another gives the document the update's state: yrs
integrates a struct whose origin is in a later piece once that piece comes.

Rule 2 — one piece a turn. The sender's socket takes each piece like a frame of its own, one
per turn of the event loop (server/documents/endpoint.py): stored, passed on to the room and
charged to the sender's work budget, so a turn holds at most one piece's splits (up to
about 15 ms at the quota) and every other socket's frames go between them. The socket's next
frames wait until its pieces are in, so their order is kept. If the budget runs out halfway
the socket is closed as after any costly frame: the pieces applied are stored, and the
client's resync brings the rest when it reconnects.
"""

from __future__ import annotations

from rooms.update_check import read_update
from rooms.varint import write_var_uint

# The most blocks one piece may split: at 10 to 60 µs a split, up to about 15 ms.
PIECE_SPLITS = 256


class Cutter:
    """Groups an update's structs and deleted ranges into pieces as the reader tells them."""

    def __init__(self, update: bytes, most: int = PIECE_SPLITS) -> None:
        self.update = update
        self.most = most
        self.done: list[tuple[list[list[int]], dict[int, list[tuple[int, int]]]]] = []
        # The piece being gathered: runs of structs [client, first clock, start, end, count]
        # or deleted ranges by client, and the blocks it may split so far.
        self.runs: list[list[int]] = []
        self.ranges: dict[int, list[tuple[int, int]]] = {}
        self.splits = 0

    def struct(self, client: int, clock: int, start: int, end: int, splits: int) -> None:
        if self.runs and self.splits + splits > self.most:
            self.cut()
        self.splits += splits
        last = self.runs[-1] if self.runs else None
        if last is not None and last[0] == client and last[3] == start:
            last[3] = end
            last[4] += 1
        else:
            self.runs.append([client, clock, start, end, 1])

    def deleted(self, client: int, clock: int, length: int) -> None:
        if self.runs or self.splits + 2 > self.most:
            self.cut()  # the structs go first, in pieces of their own
        self.splits += 2
        self.ranges.setdefault(client, []).append((clock, length))

    def cut(self) -> None:
        """End the piece being gathered."""
        if self.runs or self.ranges:
            self.done.append((self.runs, self.ranges))
        self.runs, self.ranges, self.splits = [], {}, 0

    def finish(self) -> list[bytes]:
        """The pieces, once the reader has told every struct and range."""
        self.cut()
        update, out = self.update, []
        for runs, ranges in self.done:
            parts = [write_var_uint(len(runs))]
            for client, clock, start, end, count in runs:
                parts += (write_var_uint(count), write_var_uint(client), write_var_uint(clock))
                parts.append(update[start:end])
            parts.append(write_var_uint(len(ranges)))
            for client, deleted in ranges.items():
                parts += (write_var_uint(client), write_var_uint(len(deleted)))
                for clock, length in deleted:
                    parts += (write_var_uint(clock), write_var_uint(length))
            out.append(b"".join(parts))
        return out


def pieces(update: bytes, most: int = PIECE_SPLITS) -> list[bytes]:
    """``update`` (which the reader let through) as updates of at most ``most`` possible
    splits each, to apply in order (rule 1)."""
    cutter = Cutter(update, most)
    read_update(update, plan=cutter)
    return cutter.finish()
