"""Every Yjs update a client sends, read before anything decodes it: what a stock Yjs client
could have written, or refused, sans I/O.

Design note. The CRDT library under the server (yrs, through pycrdt) and the browsers' Yjs
do not agree on every update, and yrs does not refuse every update it cannot handle:

- yrs decodes "any" values (lib0's ``writeAny``: what a ``Y.Map`` or a ``Y.Array`` holds, a
  subdocument's options) recursively on the calling thread's stack. An update of 200 KB
  holding an array 100,000 levels deep (two bytes a level) overflowed that stack, and the
  whole server process died of a segmentation fault, every room with it.
- yrs takes kinds of shared types that Yjs has no decoder for (type refs 9 and 15, ten
  bytes in all): stored, they make every browser's ``applyUpdate`` throw on the document's
  whole state, so nobody (its author's teacher included) could open that file again.
- yrs keeps clocks in 32 bits. A struct ending at clock 2**32 - 1 made it panic halfway
  through integrating the update, which can leave the document half-changed (rooms/sync.py
  rule 9 says what happens then).

Rule 1 — each update a client sends is read here in full before anything decodes it
(:meth:`rooms.sync.DocumentSync` calls :func:`check_update`), as the v1 encoding of
y-protocols that y-websocket's sync messages carry: each client's structs, each item's header
and content, every "any" value, then the delete set. It is refused like an update that does
not decode (a ProtocolError: its socket is closed with 1002, nothing is applied, stored or
sent) when it holds what Yjs neither writes nor reads:

- a truncated update, a client block with no structs, an empty struct;
- an item content or a value tag Yjs does not write, a shared type Yjs does not know (it
  knows YArray, YMap, YText, YXmlElement, YXmlFragment, YXmlHook and YXmlText);
- values nested more than :data:`MAX_ANY_DEPTH` arrays and objects deep (documents of code
  hold strings, and the maps the server keeps beside them strings and numbers);
- a struct or a deleted range ending past :data:`CLOCK_LIMIT`, an ID pointing past it;
- a client's deleted ranges out of order, overlapping or empty (Yjs sorts and merges them
  before writing them; yrs panicked on such).

JSON carried as text (embeds, formatting attributes) is parsed by yrs with a depth limit of
its own (128) and is skipped here. With these rules, 900,000 mutated updates that passed
them (of 17 million) made yrs panic 0 times, where it had panicked on 1 in 1,400 before.

Rule 2 — bounded work. Strings and byte arrays are skipped by their length, never decoded; a
string's length in UTF-8 bytes bounds its length in UTF-16 units, which is what Yjs counts in
clocks, so a clock is never underestimated. Every count read (clients, structs, values) is
only a promise: each element takes at least one byte, so the reading ends with the update.
It costs about 3 µs for a typed character, 7 ms for the 72 KB of 3,000 edits, and about 100
ms for a hostile 1 MiB frame of the smallest structs (which yrs takes 26 to 70 ms to apply).
Values of a fixed size (null, booleans, floats, 64-bit integers) inside arrays and objects are
stepped over in place, without a call each: a map entry holding an array of three numbers, the
fan-out benchmark's update, took 6.3 µs and takes 5.3.

Rule 3 — bounded merging. At the end of every transaction yrs merges each new item into its
left neighbour where it can (same client, the next clock, its origin the neighbour's last
character, the same right origin, the same content kind among text, "any" values, JSON and
deleted). It merges them one pair at a time from the right, copying what the right one has
gathered so far and taking it out of the client's list of blocks, so a run of mergeable items
costs the square of its length in time and in memory (in the browsers' Yjs too).
A stock client never sends such a run: its own store merged those items before it wrote them,
and what it left apart (another user's text between them, one deleted and not the other)
yrs does not merge either. A hostile one can: 10,000 one-value items, each after the last, are
60 KB, and yrs took 1.6 s and 2.3 GB to apply them, the whole process waiting, and Yjs in
Node 0.7 s (1,000 items of 100 values: 0.9 s and 1.2 GB; 160,000 one-character strings,
1.1 MB: over 20 s; ``bench/merge_bench.py``). The time is about (the run's merges) x (the
units in the run) x 0.5 ns for text (UTF-8 bytes) and 10 to 45 ns for values, plus about 0.1 ns
per merge per block of the client's in the update. So this reader adds up that work for every
run of items yrs could merge, with those weights, and refuses the update past
:data:`MERGE_WORK_LIMIT` (the largest updates it lets through took yrs 17 to 27 ms).
Legitimate runs of this kind are a handful of pieces (a user's text split where a classmate
typed into it).

Rule 4 — units counted. An update's cost in yrs is not bounded by its size: an item placed
inside a block splits it and moves every later block of its client, and a map entry that
comes without an origin is placed by scanning every value its key ever had; either way each
of its structs may cost up to milliseconds in a large enough document. The reader counts an
update's structs and deleted ranges (:attr:`Reading.units`; a typed character is one or
two), and an update of more than :data:`rooms.pieces.WHOLE_UNITS` is applied a few at a time
(rooms/pieces.py). With a :class:`Plan` the reader also tells it where each lies.

Rule 5 — the common shapes first. Nearly every update of a lesson is one of a few shapes: one
client's one struct placed after (or before) an existing one, a piece of typed text or one
"any" value (a map entry set anew: the old value's deletion comes with it), with no deleted
range or one (a selection typed over); or one deleted range alone (a backspace).
:func:`read_update` reads those first with one match of a compiled pattern and no call per
number, and gives what the full reading gives (the units, the depth, the client); anything
else, or anything it would refuse, it leaves to the full reading, which refuses it as before.
It takes only the small cases of each shape, which need no check of their own against the
limits: clocks below 2**28, a text or a deleted range of at most 127, values of a fixed size
or short strings, in at most one array. About 12 µs a keystroke became 3.4 on a slow machine
here, on the way to every recipient; on a faster one, the fan-out benchmark's map entry (an
array of three values set anew, as a browser's Yjs writes it) took 4.7 µs and takes 1.6, such
an entry of pycrdt's 3.9 and 1.5, a backspace 1.5 and 0.5.
tests/rooms/test_update_check.py and test_update_quick.py read typed, set and deleted
updates, and mutations of them, both ways and compare.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Protocol

from rooms.exceptions import ProtocolError

# The most arrays and objects an update's "any" value may nest one in another.
MAX_ANY_DEPTH = 64
# No struct or deleted range may end past this clock, nor an ID point at or past it. yrs keeps
# clocks in 32 bits and panicked on a struct ending at 2**32 - 1; a client of a classroom makes
# nowhere near 2**31 changes under one client id.
CLOCK_LIMIT = 2**31
# Rule 3: what yrs's merging of one update's items may cost, in its units (about a nanosecond
# each here): a run's merges times its UTF-8 bytes of text, or times 64 per value, plus an
# eighth of the merges times the client's blocks in the update.
MERGE_WORK_LIMIT = 32_000_000
_VALUE_WEIGHT = 64

_ARRAY = 0x75
_OBJECT = 0x76
_STRING_TAG = 0x77
_STRING_OR_BYTES = (_STRING_TAG, 0x74)
_FLAT_TAGS = (0x7F, 0x7E, 0x79, 0x78)  # undefined, null, false, true
_VARINT = 0x7D
_FLOAT32 = 0x7C
_EIGHT_BYTES = (0x7B, 0x7A)  # float64, bigint64
# The bytes after the tag of each value of a fixed size (rule 2's flat values and numbers):
# read in place inside arrays and objects, without a call each.
_FIXED_SIZES = {**dict.fromkeys(_FLAT_TAGS, 0), _FLOAT32: 4, **dict.fromkeys(_EIGHT_BYTES, 8)}

# Item contents (Yjs ``readItemContent``: the low five bits of a struct's info byte).
_GC, _DELETED, _JSON, _BINARY, _STRING, _EMBED, _FORMAT, _TYPE, _ANY, _DOC, _SKIP = range(11)
# Shared types Yjs decodes: YArray .. YXmlText; YXmlElement and YXmlHook carry a name.
_TYPES = range(7)
_NAMED_TYPES = (3, 5)
# The contents yrs merges with a neighbour of the same kind (rule 3).
_MERGING = (_STRING, _ANY, _JSON, _DELETED)

# Rule 5: one client, one struct: its client id (a varUint of at most 8 bytes) and clock (at most
# 4: below 2**28), a text item (content 4) or an "any" item (content 8) with an origin, a right
# origin or both (the parent-sub bit, which Yjs reads only without either, set or not), each an
# ID (a client, then a clock). What follows (the text's length, the values) is read after.
_ID_NUMBER = rb"[\x80-\xff]{0,7}[\x00-\x7f]"
_SMALL = rb"[\x80-\xff]{0,3}[\x00-\x7f]"  # a varUint below 2**28
_SMALL_ID = _ID_NUMBER + _SMALL
_ONE_STRUCT = re.compile(
    rb"\x01\x01("
    + _ID_NUMBER
    + rb")"
    + _SMALL
    + rb"(?:([\x84\xa4\x44\x64\x88\xa8\x48\x68])"
    + _SMALL_ID
    + rb"|([\xc4\xe4\xc8\xe8])"
    + _SMALL_ID
    + _SMALL_ID
    + rb")"
)
# Rule 5: a delete set of one client's one range, starting below 2**28, 1 to 127 long.
_ONE_RANGE = re.compile(rb"\x01" + _ID_NUMBER + rb"\x01" + _SMALL + rb"[\x01-\x7f]")
# Client ids as read (their varUint bytes) to their values: a document has a few writers.
_CLIENT_IDS: dict[bytes, int] = {}
_CLIENT_IDS_KEPT = 4096


class Reading(NamedTuple):
    """What reading an update found: how deep its "any" values nest at most, its structs
    and deleted ranges (rule 4), and the client ids whose structs it holds."""

    deepest: int
    units: int
    clients: list[int]


class Plan(Protocol):
    """Told where each struct and deleted range of an update lies (rule 4)."""

    def struct(self, client: int, clock: int, start: int, end: int) -> None:
        """Client ``client``'s struct at ``clock``: ``update[start:end]``."""

    def deleted(self, client: int, clock: int, length: int) -> None:
        """Client ``client``'s range of ``length`` from ``clock``, deleted."""


def check_update(update: bytes, limit: int = MAX_ANY_DEPTH) -> Reading:
    """Raise ProtocolError unless ``update`` is what rule 1 lets through; what was read."""
    return read_update(update, limit)


def read_update(update: bytes, limit: int = MAX_ANY_DEPTH, plan: Plan | None = None) -> Reading:
    """Read ``update`` in full (rule 1): how deep its "any" values nest at most, and its
    units (rule 4), told to ``plan`` one by one; ProtocolError where
    rule 1 refuses it (at once past ``limit``, which also bounds this reader's own
    recursion)."""
    if plan is None:
        quick = _quick(update, limit)
        if quick is not None:
            return quick
    return _read(update, limit, plan)


def _quick(data: bytes, limit: int) -> Reading | None:
    """Rule 5: the reading of an update of one of the common shapes; None for any other
    update, and for anything rule 1 refuses."""
    if data[:1] == b"\x00":  # no structs: a deleted range alone
        return Reading(0, 1, []) if _ONE_RANGE.fullmatch(data, 1) else None
    found = _ONE_STRUCT.match(data)
    if found is None:
        return None
    client, one_id, two_ids = found.groups()
    pos = found.end()
    end = len(data)
    deepest = 0
    if pos >= end:
        return None
    if (one_id or two_ids)[0] & 0x1F == _STRING:
        length = data[pos]
        if not 0 < length < 0x80:
            return None
        pos += 1 + length
    else:  # one value, of a fixed size or a short string, or an array of such
        if data[pos] != 1:
            return None
        pos += 1
        tag = data[pos] if pos < end else None
        count = 1
        if tag == _ARRAY:  # no deeper than one array: no check of the limit beyond
            if limit < 1 or pos + 1 >= end or data[pos + 1] >= 0x80:
                return None
            deepest = 1
            count = data[pos + 1]
            pos += 2
        fixed = _FIXED_SIZES.get
        for _ in range(count):
            if pos >= end:
                return None
            tag = data[pos]
            size = fixed(tag)
            if size is None:
                if pos + 1 >= end:
                    return None
                if tag == _VARINT:  # at most 5 bytes
                    stop = pos + 1
                    while stop < end and data[stop] >= 0x80 and stop < pos + 5:
                        stop += 1
                    if stop >= end or data[stop] >= 0x80:
                        return None
                    size = stop - pos
                elif tag == _STRING_TAG and data[pos + 1] < 0x80:
                    size = 1 + data[pos + 1]  # a short string
                else:
                    return None
            pos += 1 + size
    if pos >= end:
        return None
    if data[pos] == 0 and pos + 1 == end:
        units = 1
    elif _ONE_RANGE.fullmatch(data, pos):
        units = 2
    else:
        return None
    number = _CLIENT_IDS.get(client)
    if number is None:
        if len(_CLIENT_IDS) >= _CLIENT_IDS_KEPT:
            _CLIENT_IDS.clear()
        number = _CLIENT_IDS[client] = _var_uint(client)
    return Reading(deepest, units, [number])


def _var_uint(data: bytes) -> int:
    """The value of the whole varUint ``data``."""
    value = 0
    for index, byte in enumerate(data):
        value |= (byte & 0x7F) << (7 * index)
    return value


def _read(update: bytes, limit: int, plan: Plan | None) -> Reading:
    """Rule 1's full reading."""
    data, end = update, len(update)
    deepest = work = counted = 0  # counted: rule 4's units
    ids: list[int] = []
    clients, pos = _uint(data, 0, end)
    for _ in range(clients):
        structs, pos = _uint(data, pos, end)
        if not structs:
            raise ProtocolError("update has a client with no structs")  # Yjs writes none
        counted += structs
        client, pos = _uint(data, pos, end)
        ids.append(client)
        clock, pos = _uint(data, pos, end)
        exact = clock  # for a plan: the clock counted in UTF-16 units, as Yjs counts
        # Rule 3: the run of items yrs would merge that ends with the last one read.
        kind, right, merges, run_merges, run_units = -1, None, 0, 0, 0
        for _ in range(structs):
            if pos >= end:
                raise ProtocolError("update ends inside a struct")
            start = pos
            info = data[pos]
            pos += 1
            content = info & 0x1F
            if content in (_GC, _SKIP):
                length, pos = _uint(data, pos, end)
                if not length:
                    raise ProtocolError("update has an empty struct")
                if plan is not None:
                    plan.struct(client, exact, start, pos)
                    exact += length
                clock += length
                kind = -1
                continue
            origin = its_right = None
            if info & 0x80:  # origin
                origin, pos = _id(data, pos, end)
            if info & 0x40:  # right origin
                its_right, pos = _id(data, pos, end)
            if not info & 0xC0:  # the parent, when no origin tells it
                named, pos = _uint(data, pos, end)
                pos = _skip(data, pos, end) if named == 1 else _id(data, pos, end)[1]
                if info & 0x20:
                    pos = _skip(data, pos, end)  # the key in a map
            units = 0
            if content == _STRING:
                length, pos = _uint(data, pos, end)  # UTF-8 bytes >= UTF-16 units (rule 2)
                units = length
                pos += length
                if pos > end:
                    raise ProtocolError("update ends inside a value")
            elif content == _ANY:
                length, pos = _uint(data, pos, end)
                units = length * _VALUE_WEIGHT
                for _ in range(length):
                    pos, depth = _any(data, pos, end, 0, limit)
                    deepest = max(deepest, depth)
            elif content == _DELETED:
                length, pos = _uint(data, pos, end)
            elif content == _TYPE:
                ref, pos = _uint(data, pos, end)
                if ref not in _TYPES:
                    raise ProtocolError(f"update has a shared type of unknown kind {ref}")
                if ref in _NAMED_TYPES:
                    pos = _skip(data, pos, end)
                length = 1
            elif content in (_BINARY, _EMBED):
                pos = _skip(data, pos, end)
                length = 1
            elif content == _FORMAT:
                pos = _skip(data, _skip(data, pos, end), end)  # key, value as JSON text
                length = 1
            elif content == _JSON:
                length, pos = _uint(data, pos, end)
                units = length * _VALUE_WEIGHT
                for _ in range(length):
                    pos = _skip(data, pos, end)
            elif content == _DOC:
                pos, depth = _any(data, _skip(data, pos, end), end, 0, limit)  # guid, options
                deepest = max(deepest, depth)
                length = 1
            else:
                raise ProtocolError(f"update has an item of unknown content {content}")
            if not length:
                raise ProtocolError("update has an empty struct")
            if plan is not None:
                plan.struct(client, exact, start, pos)
                exact += _utf16_units(data, pos - length, pos) if content == _STRING else length
            if content == kind and its_right == right and origin == (client, clock - 1):
                merges += 1
                run_merges += 1
                run_units += units
            else:
                work += run_merges * run_units
                run_merges, run_units = 0, units
            kind = content if content in _MERGING else -1
            right = its_right
            clock += length
        if clock > CLOCK_LIMIT:
            raise ProtocolError(f"update has a clock past {CLOCK_LIMIT}")
        work += run_merges * run_units + merges * structs // 8
    if work > MERGE_WORK_LIMIT:
        raise ProtocolError(
            "update holds runs of items no Yjs client leaves apart, too many for the server "
            "to merge"
        )
    deleted, pos = _uint(data, pos, end)
    for _ in range(deleted):
        client, pos = _uint(data, pos, end)
        ranges, pos = _uint(data, pos, end)
        after = 0  # where the client's previous range ended
        for _ in range(ranges):
            start, pos = _uint(data, pos, end)
            length, pos = _uint(data, pos, end)
            if start < after or not length or start + length > CLOCK_LIMIT:
                raise ProtocolError("update deletes ranges out of order, empty or past the limit")
            after = start + length
            if plan is not None:
                plan.deleted(client, start, length)
        counted += ranges
    return Reading(deepest, counted, ids)


def _any(data: bytes, pos: int, end: int, depth: int, limit: int) -> tuple[int, int]:
    """Read one value inside ``depth`` arrays and objects: (where it ends, its deepest)."""
    if pos >= end:
        raise ProtocolError("update ends inside a value")
    tag = data[pos]
    pos += 1
    if tag in (_ARRAY, _OBJECT):
        depth += 1
        if depth > limit:
            raise ProtocolError(f"update nests values deeper than {limit} levels")
        deepest = depth
        count, pos = _uint(data, pos, end)
        fixed = _FIXED_SIZES.get
        for _ in range(count):
            if tag == _OBJECT:
                pos = _skip(data, pos, end)  # key
            size = fixed(data[pos]) if pos < end else None
            if size is not None:  # a value of fixed size, no deeper than this
                pos += 1 + size
                if pos > end:
                    raise ProtocolError("update ends inside a value")
                continue
            pos, inner = _any(data, pos, end, depth, limit)
            deepest = max(deepest, inner)
        return pos, deepest
    if tag in _FLAT_TAGS:
        return pos, depth
    if tag in _STRING_OR_BYTES:
        return _skip(data, pos, end), depth
    if tag == _VARINT:
        return _uint(data, pos, end)[1], depth  # signed, but its bytes end alike
    if tag == _FLOAT32:
        size = 4
    elif tag in _EIGHT_BYTES:
        size = 8
    else:
        raise ProtocolError(f"update has a value of unknown type {tag}")
    if pos + size > end:
        raise ProtocolError("update ends inside a value")
    return pos + size, depth


def _utf16_units(data: bytes, start: int, end: int) -> int:
    """The UTF-16 units of the UTF-8 text ``data[start:end]`` (what Yjs counts in clocks)."""
    return len(data[start:end].decode("utf-8", "replace").encode("utf-16-le")) // 2


def _uint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """A varUint at ``pos``: (its value, where it ends)."""
    if pos < end:
        byte = data[pos]
        if byte < 0x80:
            return byte, pos + 1
    value = shift = 0
    while pos < end and shift < 70:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise ProtocolError("update has a number it cannot read")


def _id(data: bytes, pos: int, end: int) -> tuple[tuple[int, int], int]:
    """An ID (client, clock) and where it ends, refusing a clock past the limit."""
    client, pos = _uint(data, pos, end)
    clock, pos = _uint(data, pos, end)
    if clock >= CLOCK_LIMIT:
        raise ProtocolError(f"update refers to a clock past {CLOCK_LIMIT}")
    return (client, clock), pos


def _skip(data: bytes, pos: int, end: int) -> int:
    """Skip a length and that many bytes."""
    length, pos = _uint(data, pos, end)
    pos += length
    if pos > end:
        raise ProtocolError("update ends inside a value")
    return pos
