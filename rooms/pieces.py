"""An update of many structs, applied a few at a time, as many as the loop can spare.

Design note. What yrs takes to apply an update is not bounded by its size, because one
struct may cost up to milliseconds in a document built for it (``pycrdt`` 0.14, here):

- yrs keeps each client's blocks (runs of items) in one array. Where an item is inserted
  inside a block, or a deleted range begins or ends inside one, it splits the block and
  inserts the new half into the array, moving every block after it: 10 to 60 µs a split in
  a document of 50,000 to 100,000 blocks, which the 1 MiB quota holds. A student who had
  filled their own file with 50,000 two-character blocks sent one 190 KB update deleting the
  first character of each: yrs took 0.6 to 0.9 s to apply it; 50,000 characters each inside
  another block, 2.5 s (on a real server, 40,000 blocks: ``/health`` waited 0.4 s,
  ``bench/split_bench.py``).
- A map entry that comes without an origin is placed by walking and scanning every value its
  key ever had (Yjs does the same). 16,000 such entries of one key, 128 KB, took 1.1 s;
  32,000 from as many client ids, 400 KB, 9.4 s (on a real server, 20,000 from one client
  id: ``/health`` waited 1.8 s); and since the values stay, every later one costs more:
  after 100 updates of 256 such entries, 0.4 s each.
- An item without a left origin is placed by scanning from the start of its sequence (or of
  its map key's values) up to its right origin: 2,000 such items whose right origin is the
  last of 20,000 blocks written by two alternating client ids (16 KB) took 4.6 s in text and
  5.2 s in a map.

Every room of the process waited meanwhile, and the work budget (server/security/floods.py)
only bounds how often, after the frame. The last two cost as much again at every load of the
document, which pieces do not touch (server/security/quotas.py rule 3 bounds that). Stock
clients send updates of many structs too: a "replace all", many cursors, a reconnecting
client's offline edits.

Rule 1 — cut, never refuse. An update of more than :data:`WHOLE_UNITS` structs and deleted
ranges (rooms/update_check.py rule 4) is cut into pieces in its own order: its structs first,
client by client in clock order, then its deleted ranges. Each piece is an update of the same
v1 encoding that a client could have sent, and applying them one after another gives the
document the update's state: yrs integrates a struct whose origin is in a later piece once
that piece comes.

Rule 2 — one piece a turn, as large as the last one's time allows. The sender's socket takes
each piece like a frame of its own, one per turn of the event loop
(server/documents/endpoint.py): stored, passed on to the room and charged to the sender's work
budget, so every other socket's frames go between them. The first piece holds
:data:`FIRST_PIECE` units; :func:`next_piece` doubles the next while a piece takes less than
half of :data:`PIECE_SECONDS` and halves it, down to one, while one takes more than twice as
long, and never past :data:`MOST_PIECE` (so that cheap structs first cannot grow a piece that
costly ones then fill): a turn holds about that long, or up to 64 structs' cost where single
structs cost more. The socket's next frames wait until its pieces are in, so their order is
kept. If the budget runs out halfway the socket is closed as after any costly frame: the
pieces applied are stored, and the client's resync brings the rest when it reconnects.
"""

from __future__ import annotations

from rooms.update_check import read_update
from rooms.varint import write_var_uint

# Rule 1: an update of more structs and deleted ranges than this is cut.
WHOLE_UNITS = 32
# Rule 2: the first piece's units, the most any piece holds, and the time a piece aims at.
FIRST_PIECE = 8
MOST_PIECE = 64
PIECE_SECONDS = 0.004


def next_piece(units: int, took: float) -> int:
    """How many units the next piece may hold, after one of ``units`` took ``took`` s."""
    if took < PIECE_SECONDS / 2:
        return min(units * 2, MOST_PIECE)
    if took > PIECE_SECONDS * 2:
        return max(units // 2, 1)
    return units


class Pieces:
    """An update's structs and deleted ranges, handed out a piece at a time."""

    def __init__(
        self,
        update: bytes,
        structs: list[tuple[int, int, int, int]],
        ranges: list[tuple[int, int, int]],
    ) -> None:
        self.update = update
        self.structs = structs  # (client, clock, start, end) of update[start:end]
        self.ranges = ranges  # (client, clock, length), deleted
        self.taken = 0  # units handed out: the structs, then the ranges

    def __len__(self) -> int:
        """The units not yet handed out."""
        return len(self.structs) + len(self.ranges) - self.taken

    def take(self, most: int) -> bytes:
        """The next piece: at most ``most`` units (never structs and ranges together)."""
        first = self.taken
        if first < len(self.structs):
            chosen = self.structs[first : first + most]
            self.taken += len(chosen)
            return self._structs(chosen)
        skip = first - len(self.structs)
        chosen_ranges = self.ranges[skip : skip + most]
        self.taken += len(chosen_ranges)
        return self._ranges(chosen_ranges)

    def _structs(self, chosen: list[tuple[int, int, int, int]]) -> bytes:
        # Runs of one client's structs that lie one after another in the update.
        runs: list[list[int]] = []
        for client, clock, start, end in chosen:
            last = runs[-1] if runs else None
            if last is not None and last[0] == client and last[3] == start:
                last[3] = end
                last[4] += 1
            else:
                runs.append([client, clock, start, end, 1])
        parts = [write_var_uint(len(runs))]
        for client, clock, start, end, count in runs:
            parts += (write_var_uint(count), write_var_uint(client), write_var_uint(clock))
            parts.append(self.update[start:end])
        parts.append(b"\x00")  # no deleted ranges
        return b"".join(parts)

    @staticmethod
    def _ranges(chosen: list[tuple[int, int, int]]) -> bytes:
        by_client: dict[int, list[tuple[int, int]]] = {}
        for client, clock, length in chosen:
            by_client.setdefault(client, []).append((clock, length))
        parts = [b"\x00", write_var_uint(len(by_client))]  # no structs
        for client, deleted in by_client.items():
            parts += (write_var_uint(client), write_var_uint(len(deleted)))
            for clock, length in deleted:
                parts += (write_var_uint(clock), write_var_uint(length))
        return b"".join(parts)


class Cutter:
    """Notes where an update's structs and deleted ranges lie as the reader tells them
    (rooms/update_check.py's ``Plan``)."""

    def __init__(self, update: bytes) -> None:
        self.update = update
        self.structs: list[tuple[int, int, int, int]] = []
        self.ranges: list[tuple[int, int, int]] = []

    def struct(self, client: int, clock: int, start: int, end: int) -> None:
        self.structs.append((client, clock, start, end))

    def deleted(self, client: int, clock: int, length: int) -> None:
        self.ranges.append((client, clock, length))

    def pieces(self) -> Pieces:
        return Pieces(self.update, self.structs, self.ranges)


def pieces(update: bytes) -> Pieces:
    """``update`` (which the reader let through), to hand out a piece at a time (rule 1)."""
    cutter = Cutter(update)
    read_update(update, plan=cutter)
    return cutter.pieces()
