"""How deeply a Yjs update nests its values, read before anything decodes it, sans I/O.

Design note. A Yjs item may carry "any" values (lib0's ``writeAny``: what a ``Y.Map`` or a
``Y.Array`` holds, a subdocument's options), and an array or object there holds more of them.
The CRDT library under the server (yrs, through pycrdt) decodes them recursively on the
calling thread's stack: an update of 200 KB holding an array 100,000 levels deep (two bytes
a level) overflows that stack, and the whole server process dies of a segmentation fault,
every room with it. A client's JavaScript decoder recurses too. No editor nests that deep:
documents of code hold strings, and the maps the server keeps beside them strings and numbers.

Rule 1 — every update a client sends is checked before anything decodes it
(:meth:`rooms.sync.DocumentSync` calls :func:`check_nesting`), and one nested deeper than
:data:`MAX_ANY_DEPTH` is refused like any undecodable update (a ProtocolError: its socket is
closed with 1002, nothing is applied, stored or sent).

Rule 2 — the check costs nothing for almost every update. Each level of nesting takes a tag
byte, 0x75 (array) or 0x76 (object): an update with no more of those bytes than the limit
cannot nest deeper, whatever the bytes mean, and is passed at once (``bytes.count``, in C).
Typed text, most pastes, a map entry are all such updates.

Rule 3 — otherwise the update is read, in Python, as the v1 encoding of y-protocols (what
y-websocket's sync messages carry): each client's structs, each item's header and content,
every "any" value with its depth. Strings and byte arrays are skipped by their length, not
read. Whatever this reading cannot make sense of (a truncated update, an unknown content or
value tag) is refused too: the check must not pass what it did not read. The delete set after
the structs holds numbers only and is not read. JSON carried as text (embeds, formatting
attributes) is parsed by yrs with a depth limit of its own (128) and needs no check here.
Reading costs about 0.1 µs a byte: 7 ms for the 72 KB of 3,000 edits, about 100 ms for a
hostile 1 MiB frame of the smallest structs (which yrs takes 26 to 70 ms to apply).
"""

from __future__ import annotations

from rooms.exceptions import ProtocolError

# The most arrays and objects an update's "any" value may nest one in another.
MAX_ANY_DEPTH = 64

_ARRAY = 0x75
_OBJECT = 0x76
_FLAT_TAGS = (127, 126, 121, 120)
_ARRAY_TAG = bytes((_ARRAY,))
_OBJECT_TAG = bytes((_OBJECT,))

# Item content refs (Yjs ``readItemContent``: the low five bits of an item's info byte).
_GC = 0
_DELETED = 1
_JSON = 2
_BINARY = 3
_STRING = 4
_EMBED = 5
_FORMAT = 6
_TYPE = 7
_ANY = 8
_DOC = 9
_SKIP = 10
# Type refs: YArray, YMap, YText, YXmlElement, YXmlFragment, YXmlHook, YXmlText (what Yjs
# writes); the two of them that carry a name. Others (yrs has more) are refused (rule 3).
_TYPES = range(7)
_NAMED_TYPES = (3, 5)


def check_nesting(update: bytes, limit: int = MAX_ANY_DEPTH) -> None:
    """Raise ProtocolError when the v1 update ``update`` nests arrays and objects of "any"
    values more than ``limit`` deep, or (when it had to be read) cannot be read."""
    if update.count(_ARRAY_TAG) + update.count(_OBJECT_TAG) <= limit:
        return  # rule 2
    nesting_depth(update, limit)


def nesting_depth(update: bytes, limit: int = MAX_ANY_DEPTH) -> int:
    """How many arrays and objects of "any" values ``update`` nests at its deepest, read in
    full (rule 3); ProtocolError when it cannot be read, or at once past ``limit`` (which
    also bounds this reader's own recursion)."""
    scan = _Scan(update, limit)
    scan.update()
    return scan.deepest


class _Scan:
    __slots__ = ("data", "deepest", "end", "limit", "pos")

    def __init__(self, data: bytes, limit: int) -> None:
        self.data = data
        self.end = len(data)
        self.limit = limit
        self.deepest = 0
        self.pos = 0

    def update(self) -> None:
        for _ in range(self.var_uint()):
            structs = self.var_uint()
            self.var_uint()  # client
            self.var_uint()  # clock
            for _ in range(structs):
                self.struct()

    def struct(self) -> None:
        info = self.byte()
        content = info & 0x1F
        if content in (_GC, _SKIP):
            self.var_uint()  # length
            return
        if info & 0x80:  # origin
            self.var_uint()
            self.var_uint()
        if info & 0x40:  # right origin
            self.var_uint()
            self.var_uint()
        if not info & 0xC0:  # the parent, when no origin tells it
            if self.var_uint() == 1:
                self.skip_bytes()  # a root type's name
            else:
                self.var_uint()
                self.var_uint()
            if info & 0x20:
                self.skip_bytes()  # the key in a map
        if content in (_STRING, _BINARY, _EMBED):
            self.skip_bytes()
        elif content == _ANY:
            for _ in range(self.var_uint()):
                self.any(0)
        elif content == _DELETED:
            self.var_uint()
        elif content == _FORMAT:
            self.skip_bytes()  # key
            self.skip_bytes()  # value, as JSON text
        elif content == _TYPE:
            ref = self.var_uint()
            if ref not in _TYPES:
                raise ProtocolError(f"update has a shared type of unknown kind {ref}")
            if ref in _NAMED_TYPES:
                self.skip_bytes()
        elif content == _JSON:
            for _ in range(self.var_uint()):
                self.skip_bytes()
        elif content == _DOC:
            self.skip_bytes()  # guid
            self.any(0)  # options
        else:
            raise ProtocolError(f"update has an item of unknown content {content}")

    def any(self, depth: int) -> None:
        """Read one value inside ``depth`` arrays and objects."""
        tag = self.byte()
        if tag in (_ARRAY, _OBJECT):
            depth += 1
            if depth > self.deepest:
                if depth > self.limit:
                    raise ProtocolError(f"update nests values deeper than {self.limit} levels")
                self.deepest = depth
            for _ in range(self.var_uint()):
                if tag == _OBJECT:
                    self.skip_bytes()  # key
                self.any(depth)
        elif tag in _FLAT_TAGS:  # undefined, null, true, false
            return
        elif tag in (119, 116):  # string, bytes
            self.skip_bytes()
        elif tag == 125:  # signed varint
            self.var_uint()
        elif tag == 124:  # float32
            self.advance(4)
        elif tag in (123, 122):  # float64, bigint64
            self.advance(8)
        else:
            raise ProtocolError(f"update has a value of unknown type {tag}")

    def byte(self) -> int:
        pos = self.pos
        if pos >= self.end:
            raise ProtocolError("update ends inside a struct")
        self.pos = pos + 1
        return self.data[pos]

    def var_uint(self) -> int:
        data, pos, end = self.data, self.pos, self.end
        value = 0
        shift = 0
        while pos < end:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                self.pos = pos
                return value
            shift += 7
            if shift > 63:
                break
        raise ProtocolError("update has a number it cannot read")

    def skip_bytes(self) -> None:
        self.advance(self.var_uint())

    def advance(self, count: int) -> None:
        pos = self.pos + count
        if pos > self.end:
            raise ProtocolError("update ends inside a value")
        self.pos = pos
