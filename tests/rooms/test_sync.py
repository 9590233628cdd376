"""Protocol tests: real pycrdt client docs synced through DocumentSync, bytes in, bytes out."""

from __future__ import annotations

import contextlib
from collections import deque

import pycrdt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rooms import sync as sync_module
from rooms.awareness import AwarenessEntry, decode_awareness, encode_awareness
from rooms.exceptions import DamagedDocument, ProtocolError
from rooms.frames import MessageType, awareness_frame, permission_denied_frame, update_frame
from rooms.pieces import FIRST_PIECE, WHOLE_UNITS
from rooms.sync import CUT_WHILE_READING, DocumentSync, build
from rooms.sync_output import Output
from rooms.varint import write_var_string, write_var_uint
from tests.support.updates import (
    PANIC_CLOCK,
    any_item_update,
    fragmenting,
    many_clients,
    nested_arrays,
    splitting_deletes,
    text_insert,
)


class Client:
    """A y-websocket client reduced to its protocol: a pycrdt Doc and an Awareness."""

    def __init__(self) -> None:
        self.doc: pycrdt.Doc = pycrdt.Doc()
        self.text = self.doc.get("text", type=pycrdt.Text)
        self.awareness = pycrdt.Awareness(self.doc)
        self.outbox: list[bytes] = []
        self.received: list[bytes] = []
        self.doc.observe(self._on_update)

    def _on_update(self, event: pycrdt.TransactionEvent) -> None:
        if event.update != b"\x00\x00" and not getattr(self, "_applying", False):
            self.outbox.append(update_frame(event.update))

    def open(self) -> None:
        self.outbox.append(pycrdt.create_sync_message(self.doc))

    def handle(self, frame: bytes) -> None:
        self.received.append(frame)
        if frame[0] == MessageType.SYNC:
            self._applying = True
            try:
                reply = pycrdt.handle_sync_message(frame[1:], self.doc)
            finally:
                self._applying = False
            if reply is not None:
                self.outbox.append(reply)
        elif frame[0] == MessageType.AWARENESS:
            self.awareness.apply_awareness_update(pycrdt.read_message(frame[1:]), "remote")

    def announce(self, state: dict[str, object]) -> None:
        self.awareness.set_local_state(state)
        payload = self.awareness.encode_awareness_update([self.awareness.client_id])
        self.outbox.append(pycrdt.create_awareness_message(payload))


class Link:
    """Carries frames between clients and the server object until nothing moves."""

    def __init__(self, server: DocumentSync) -> None:
        self.server = server
        self.clients: dict[int, Client] = {}
        self.persisted: list[bytes] = []
        self.published: list[bytes] = []

    def connect(self, conn: int, *, writable: bool = True) -> Client:
        client = Client()
        self.clients[conn] = client
        client.open()
        self.run(self.server.connect(conn, writable=writable))
        return client

    def run(self, out: Output) -> None:
        pending: deque[Output] = deque([out])
        while pending:
            out = pending.popleft()
            self.persisted.extend(out.persist)
            self.published.extend(out.publish)
            for conn, frame in out.sends:
                if conn in self.clients:
                    self.clients[conn].handle(frame)
            for conn, client in list(self.clients.items()):
                while client.outbox:
                    pending.append(self.server.receive(conn, client.outbox.pop(0)))
                    later = pending[-1].later
                    while later:  # rule 13: an update's pieces, handed back one by one
                        piece = update_frame(later.take(FIRST_PIECE))
                        pending.append(self.server.receive(conn, piece, cut=False))

    def flush(self) -> None:
        self.run(Output())


def _awareness_of(frame: bytes) -> list[AwarenessEntry]:
    return decode_awareness(pycrdt.read_message(frame[1:]))


def test_two_clients_converge_through_the_server() -> None:
    link = Link(DocumentSync())
    a = link.connect(1)
    b = link.connect(2)
    a.text += "hello"
    link.flush()
    b.text += " world"
    link.flush()
    assert str(a.text) == str(b.text) == "hello world"
    assert str(link.server.doc.get("text", type=pycrdt.Text)) == "hello world"
    assert len(link.persisted) == 2
    assert link.published and all(f[0] == MessageType.SYNC for f in link.published)


def test_late_joiner_gets_the_document_in_step2() -> None:
    link = Link(DocumentSync())
    a = link.connect(1)
    a.text += "before"
    link.flush()
    c = link.connect(3)
    assert str(c.text) == "before"


def test_fan_out_forwards_the_received_bytes_and_skips_the_sender() -> None:
    server = DocumentSync()
    for conn in (1, 2, 3):
        server.connect(conn, writable=True)
    source = pycrdt.Doc()
    source.get("text", type=pycrdt.Text).insert(0, "x")
    frame = update_frame(source.get_update())
    out = server.receive(1, frame)
    assert sorted(conn for conn, _ in out.sends) == [2, 3]
    assert all(sent is frame for _, sent in out.sends)
    assert out.persist == [source.get_update()]
    assert out.publish == [frame]


def test_read_only_connection_cannot_write_and_is_told_once() -> None:
    link = Link(DocumentSync())
    writer = link.connect(1)
    writer.text += "demo code"
    link.flush()
    reader = link.connect(2, writable=False)
    assert str(reader.text) == "demo code"
    reader.text += " hacked"
    link.flush()
    reader.text += " again"
    link.flush()
    denied = [f for f in reader.received if f[0] == MessageType.AUTH]
    assert denied == [permission_denied_frame()]
    assert str(writer.text) == "demo code"
    assert str(link.server.doc.get("text", type=pycrdt.Text)) == "demo code"
    assert len(link.persisted) == 1


def test_read_only_handshake_without_news_is_not_denied() -> None:
    link = Link(DocumentSync())
    writer = link.connect(1)
    writer.text += "abc"
    link.flush()
    del writer.text[0:1]  # a delete set travels in every later step2
    link.flush()
    reader = link.connect(2, writable=False)
    link.flush()
    # Reconnect: the reader's step2 carries the delete set but no new structs.
    link.server.disconnect(2)
    link.clients[2] = reader
    reader.open()
    link.run(link.server.connect(2, writable=False))
    assert str(reader.text) == "bc"
    assert not [f for f in reader.received if f[0] == MessageType.AUTH]


def test_read_only_offline_edit_in_step2_is_denied() -> None:
    link = Link(DocumentSync())
    reader = Client()
    reader.text += "offline"
    reader.outbox.clear()
    link.clients[5] = reader
    reader.open()
    link.run(link.server.connect(5, writable=False))
    assert [f for f in reader.received if f[0] == MessageType.AUTH] == [permission_denied_frame()]
    assert str(link.server.doc.get("text", type=pycrdt.Text)) == ""


def test_remote_frames_are_applied_and_sent_to_everyone_without_persisting() -> None:
    origin, here = DocumentSync(), DocumentSync()
    origin.connect(1, writable=True)
    here.connect(1, writable=True)
    here.connect(2, writable=True)
    source = pycrdt.Doc()
    source.get("text", type=pycrdt.Text).insert(0, "remote")
    out = origin.receive(1, update_frame(source.get_update()))
    [published] = out.publish
    remote = here.receive_remote(published)
    assert sorted(conn for conn, _ in remote.sends) == [1, 2]
    assert remote.persist == [] and remote.publish == []
    assert str(here.doc.get("text", type=pycrdt.Text)) == "remote"


def test_resync_frame_is_idempotent() -> None:
    a = DocumentSync()
    a.connect(1, writable=True)
    source = pycrdt.Doc()
    source.get("text", type=pycrdt.Text).insert(0, "same")
    a.receive(1, update_frame(source.get_update()))
    b = DocumentSync()
    b.receive_remote(a.resync_frame())
    b.receive_remote(a.resync_frame())
    assert str(b.doc.get("text", type=pycrdt.Text)) == "same"


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x07",
        b"\x00",
        b"\x00\x05",
        b"\x00\x02\x05ab",
        b"\x00\x02\x03\x01\x02\x03",
        b"\x01\x03\x01\x01",
        b"\x01\x06\x01\x01\x01\x02{x",
        b"\x01\x05\x01\x01\x01\x02\xff\xfe",
        b"\x00\x00\x02\xff\xff",
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff",
    ],
)
def test_malformed_frames_raise_protocol_error_and_change_nothing(frame: bytes) -> None:
    server = DocumentSync()
    server.connect(1, writable=True)
    before = server.doc.get_update()
    with pytest.raises(ProtocolError):
        server.receive(1, frame)
    assert server.doc.get_update() == before
    assert server.connections == [1]


@pytest.mark.parametrize("writable", [True, False])
def test_an_update_nested_past_the_limit_is_refused_before_yrs_decodes_it(writable: bool) -> None:
    # 100,000 levels: applying it (writable) or reading its state (read-only) overflowed
    # yrs's stack and killed the process.
    server = DocumentSync()
    server.connect(1, writable=writable)
    before = server.doc.get_update()
    deep = update_frame(any_item_update(nested_arrays(100_000)))
    with pytest.raises(ProtocolError, match="deeper than 64 levels"):
        server.receive(1, deep)
    assert server.doc.get_update() == before
    # At the limit, the same shape is an ordinary update.
    out = server.receive(1, update_frame(any_item_update(nested_arrays(64))))
    assert len(out.persist) == int(writable)


def test_an_update_that_breaks_yrs_halfway_damages_the_document_for_good() -> None:
    server = DocumentSync()
    server.connect(1, writable=True)
    assert server.receive(1, update_frame(text_insert(77, 0, "hello world"))).persist
    breaking = update_frame(text_insert(77, PANIC_CLOCK, "hello"))
    # From a client it is refused before yrs sees it (rooms/update_check.py): no damage.
    with pytest.raises(ProtocolError, match="clock past") as refused:
        server.receive(1, breaking)
    assert not isinstance(refused.value, DamagedDocument) and not server.damaged
    # Another process's frames are not read first. If yrs stops panicking on this, this
    # test says so: find another such update.
    with pytest.raises(DamagedDocument, match="broke the CRDT library"):
        server.receive_remote(breaking)
    assert server.damaged
    # Nothing more is applied to it, from a client or by the server itself.
    with pytest.raises(DamagedDocument, match="damaged by an earlier update"):
        server.receive(1, update_frame(text_insert(78, 0, "fine")))
    with pytest.raises(DamagedDocument):
        server.replace_text("text", "new")


def test_a_document_is_built_from_stored_updates_without_the_one_that_damages_it() -> None:
    hello = text_insert(77, 0, "hello world")
    later: pycrdt.Doc = pycrdt.Doc(client_id=78)
    later.apply_update(hello)
    before = later.get_state()
    later.get("text", type=pycrdt.Text).insert(11, "!")
    breaking = text_insert(77, PANIC_CLOCK, "x")
    stored = [hello, b"\x01\x02", breaking, later.get_update(before)]
    sync, problems = build(stored)
    assert sync.text("text") == "hello world!" and not sync.damaged
    assert len(problems) == 2
    assert problems[0].startswith("stored update 2 of 4: update does not decode")
    assert problems[1] == "stored update 3 of 4 damages the document: left out"


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=64),
        st.tuples(
            st.sampled_from([b"\x00\x00", b"\x00\x01", b"\x00\x02", b"\x01", b"\x03"]),
            st.binary(max_size=64),
        ).map(lambda t: t[0] + t[1]),
    )
)
def test_arbitrary_frames_never_raise_anything_but_protocol_error(frame: bytes) -> None:
    for writable in (True, False):
        server = DocumentSync()
        server.connect(1, writable=writable)
        server.connect(2, writable=True)
        with contextlib.suppress(ProtocolError):
            server.receive(1, frame)
        with contextlib.suppress(ProtocolError):
            server.receive_remote(frame)
        # The object still works for everyone afterwards.
        server.disconnect(1)
        assert server.connections == [2]


def test_server_edit_reaches_every_client_and_is_persisted_and_published() -> None:
    link = Link(DocumentSync())
    a = link.connect(1)
    b = link.connect(2, writable=False)
    a.text += "student code"
    link.flush()
    out = link.server.replace_text("text", "print('demo')")
    assert sorted(conn for conn, _ in out.sends) == [1, 2]  # read-only connections too
    [update] = out.persist
    assert out.publish == [update_frame(update)]
    link.run(out)
    assert str(a.text) == str(b.text) == "print('demo')"
    # Another process applying the published frame sees the same document.
    elsewhere = DocumentSync()
    for stored in link.persisted[:-1]:
        elsewhere.apply_stored(stored)
    elsewhere.receive_remote(out.publish[0])
    assert elsewhere.text("text") == "print('demo')"


def test_server_edit_that_changes_nothing_says_nothing() -> None:
    server = DocumentSync()
    server.connect(1, writable=True)
    first = server.replace_text("text", "same")
    assert first.persist
    again = server.replace_text("text", "same")
    assert again.sends == [] and again.persist == [] and again.publish == []
    assert server.edit(lambda doc: None).persist == []


def test_server_edit_of_another_field_leaves_the_text_alone() -> None:
    link = Link(DocumentSync())
    a = link.connect(1)
    a.text += "mine"
    link.flush()
    link.run(link.server.replace_text("notes", "theirs"))
    assert str(a.text) == "mine"
    assert str(a.doc.get("notes", type=pycrdt.Text)) == "theirs"


def test_resync_sends_clients_only_what_they_missed_and_publishes_everything() -> None:
    # Process `here` lost the bus; meanwhile `there` stored an update we never heard of.
    here = DocumentSync()
    link = Link(here)
    a = link.connect(1)
    a.text += "ours "
    link.flush()
    link.server.receive(1, awareness_frame(encode_awareness([AwarenessEntry(7, 1, '{"n":1}')])))
    there = Client()
    there.doc.apply_update(here.doc.get_update())
    there.text += "theirs"
    missed = there.doc.get_update(here.doc.get_state())

    out = here.resync([*link.persisted, missed])
    assert out.persist == []
    [(conn, frame)] = out.sends
    assert conn == 1 and frame == update_frame(missed)
    link.run(out)
    assert str(a.text) == "ours theirs"
    whole, awareness, query = out.publish
    assert whole == here.resync_frame()
    assert _awareness_of(awareness) == [AwarenessEntry(7, 1, '{"n":1}')]
    assert query == bytes([MessageType.QUERY_AWARENESS])
    # The other process takes in our whole state; seeing its own update again is harmless.
    remote = DocumentSync()
    remote.apply_stored(missed)
    remote.receive_remote(whole)
    assert remote.text("text") == "ours theirs"
    # It answers the query with its own connections' presence (which we may have missed):
    # once, as an awareness frame, never another query.
    remote.connect(5, writable=True, user=9)
    remote.receive(5, awareness_frame(encode_awareness([AwarenessEntry(8, 1, '{"n":2}')])))
    answer = remote.receive_remote(query)
    [announced] = answer.publish
    assert _awareness_of(announced) == [AwarenessEntry(8, 1, '{"n":2}')] and answer.sends == []
    assert here.receive_remote(announced).sends, "our clients are told of the other's presence"


def test_resync_with_nothing_missed_sends_nothing_and_skips_bad_stored_updates() -> None:
    server = DocumentSync()
    server.connect(1, writable=True)
    source = pycrdt.Doc()
    source.get("text", type=pycrdt.Text).insert(0, "x")
    server.receive(1, update_frame(source.get_update()))
    out = server.resync([b"\x05garbage", source.get_update()])
    assert out.sends == [] and out.persist == []
    assert out.publish == [server.resync_frame(), bytes([MessageType.QUERY_AWARENESS])]
    assert server.text("text") == "x"
    assert server.receive_remote(bytes([MessageType.QUERY_AWARENESS])).publish == [], (
        "a process with no presence of its own answers nothing"
    )


def test_whole_state_requests_past_a_connections_budget_are_dropped() -> None:
    """Rule 10: a step1 or an awareness query costs the whole document (every state) for a few
    bytes; a connection gets five at once, then one a second, and no more."""
    now = [0.0]
    server = DocumentSync(clock=lambda: now[0])
    server.doc.get("text", type=pycrdt.Text).insert(0, "x" * 50_000)
    server.connect(1, writable=False)
    server.connect(2, writable=True)
    step1 = pycrdt.create_sync_message(pycrdt.Doc())
    query = bytes([MessageType.QUERY_AWARENESS])
    answered = [len(server.receive(1, step1 if i % 2 else query).sends) for i in range(50)]
    assert answered == [1] * 5 + [0] * 45
    assert len(server.receive(2, step1).sends) == 1  # another connection's budget is its own
    now[0] = 1.0
    reply = server.receive(1, step1).sends
    assert len(reply) == 1 and len(reply[0][1]) > 50_000  # a second later: one more, whole
    assert server.receive(1, step1).sends == []
    # What a client writes is not a request: it goes on however many requests were dropped.
    writer = Client()
    writer.text.insert(0, "typed")
    assert [conn for conn, _ in server.receive(2, writer.outbox[-1]).sends] == [1]


def test_a_big_update_sent_again_is_neither_stored_nor_sent() -> None:
    """Rule 12: a copy of an update changes nothing, so nothing is stored or sent."""
    server = DocumentSync()
    for conn in (1, 2):
        server.connect(conn, writable=True)
    source: pycrdt.Doc = pycrdt.Doc()
    source.get("text", type=pycrdt.Text).insert(0, "x" * 2_000)
    frame = update_frame(source.get_update())
    first = server.receive(1, frame)
    assert [conn for conn, _ in first.sends] == [2] and len(first.persist) == 1
    for _ in range(3):
        again = server.receive(1, frame)
        assert again.sends == [] and again.persist == [] and again.publish == []
    # A small one (a typed character) keeps the direct path: the frame as it came.
    typed = pycrdt.Doc()
    typed.apply_update(source.get_update())
    small: list[bytes] = []
    typed.observe(lambda event: small.append(event.update))
    typed.get("text", type=pycrdt.Text).insert(0, "y")
    small_frame = update_frame(small[0])
    out = server.receive(1, small_frame)
    assert out.sends == [(2, small_frame)] and out.persist == small


def test_what_a_big_update_changed_is_what_is_stored_and_sent() -> None:
    """Rule 12: 2,000 characters the server has and 5 it has not: the 5 are stored and
    sent (the room converges the same), not the 2,000 again."""
    link = Link(DocumentSync())
    a = link.connect(1)
    b = link.connect(2)
    a.text += "x" * 2_000
    link.flush()
    stored = len(link.persisted)
    a.text += "hello"  # one more change, sent with everything before it, as a step2 does
    whole = update_frame(a.doc.get_update())
    a.outbox.clear()
    out = link.server.receive(1, whole)
    link.run(out)
    assert str(b.text) == str(a.text) == "x" * 2_000 + "hello"
    assert len(link.persisted) == stored + 1
    assert len(link.persisted[-1]) < 100
    assert len(whole) > 2_000
    assert all(len(frame) < 100 for _, frame in out.sends)


def test_items_the_document_holds_back_count_but_are_not_stored() -> None:
    """Rule 12: a big update of items whose origin nobody sent (client 5's) is held back by
    yrs, neither stored nor passed on, and its bytes are counted for the quota."""
    server = DocumentSync()
    server.connect(1, writable=True)
    server.connect(2, writable=True)
    after_five = bytes([0x84]) + write_var_uint(5) + write_var_uint(3) + write_var_string("z" * 300)
    held = write_var_uint(1) + write_var_uint(1) + write_var_uint(78) + b"\x00" + after_five
    out = server.receive(1, update_frame(held + b"\x00"))
    assert out.sends == [] and out.persist == []
    assert server.held_back > 300
    # An update half held back: what was placed is stored and sent, the rest counted.
    both = pycrdt.merge_updates(text_insert(77, 0, "w" * 500), held + b"\x00")
    before = server.held_back
    out = server.receive(1, update_frame(both))
    assert [conn for conn, _ in out.sends] == [2] and len(out.persist) == 1
    assert b"z" * 300 not in out.persist[0] and b"w" * 500 in out.persist[0]
    assert server.held_back > before


@pytest.mark.parametrize("native", [True, False])
def test_a_small_update_that_places_nothing_is_neither_stored_nor_sent(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule 12, updates of 128 bytes or less: a copy of a typed character, and an item whose
    origin nobody sent, leave the state vector as it was: nothing stored or sent, the bytes
    counted. A deletion alone (no items) still goes. Alike through the library's own objects
    and, where pycrdt no longer holds them, through its methods."""
    assert sync_module._NATIVE  # this pycrdt's: otherwise both runs would take its methods
    monkeypatch.setattr(sync_module, "_NATIVE", native)
    server = DocumentSync()
    for conn in (1, 2):
        server.connect(conn, writable=True)
    typed = update_frame(text_insert(77, 0, "a"))
    assert len(server.receive(1, typed).persist) == 1
    for _ in range(3):
        again = server.receive(1, typed)
        assert again.sends == [] and again.persist == [] and again.publish == []
    waiting = bytes([0x84]) + write_var_uint(5) + write_var_uint(3) + write_var_string("z")
    held = write_var_uint(1) + write_var_uint(1) + write_var_uint(78) + b"\x00" + waiting + b"\x00"
    out = server.receive(1, update_frame(held))
    assert out.sends == [] and out.persist == []
    assert server.held_back == 3 * len(text_insert(77, 0, "a")) + len(held)
    deleting = b"\x00" + write_var_uint(1) + write_var_uint(77) + b"\x01\x00\x01"
    out = server.receive(1, update_frame(deleting))
    assert [conn for conn, _ in out.sends] == [2] and out.persist == [deleting]
    assert str(server.doc.get("text", type=pycrdt.Text)) == ""


@pytest.mark.parametrize("size", [4_000, 1_000])  # cut while read, and read twice
def test_an_update_of_many_structs_comes_back_in_pieces(size: int) -> None:
    """Rule 13: nothing of it is applied, stored or sent at once; each piece handed back
    is an update like any other, and once all are in, everyone has the whole of it."""
    base, doc = fragmenting(size)
    link = Link(DocumentSync())
    a = link.connect(1)
    b = link.connect(2)
    a.doc.apply_update(base)  # sent to the server like a paste, in pieces of its own
    link.flush()
    assert str(b.text) == str(a.text) == "xx" * size
    deletes = update_frame(splitting_deletes(doc))
    assert len(deletes) > CUT_WHILE_READING if size == 4_000 else len(deletes) < CUT_WHILE_READING
    stored, seen = len(link.persisted), len(b.received)
    out = link.server.receive(1, deletes)
    assert out.sends == [] and out.persist == [] and out.publish == []
    assert out.later is not None and len(out.later) == size > WHOLE_UNITS
    assert str(link.server.doc.get("text", type=pycrdt.Text)) == "xx" * size
    count = 0
    while out.later:
        got = link.server.receive(1, update_frame(out.later.take(100)), cut=False)
        assert got.later is None and len(got.persist) == 1
        assert [conn for conn, _ in got.sends] == [2]
        link.run(got)
        count += 1
    assert count == size // 100
    assert str(b.text) == str(doc.get("text", type=pycrdt.Text)) == "x" * size
    assert len(link.persisted) - stored == count == len(b.received) - seen
    # A piece is never cut again, however many units it holds.
    again = link.server.receive(1, update_frame(splitting_deletes(doc)), cut=False)
    assert again.later is None


def test_a_document_holds_the_changes_of_a_bounded_number_of_client_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rule 14: an update that would bring the document past ``MAX_DOC_CLIENTS`` client ids
    is refused before yrs sees it, nothing applied; known ids go on writing, and the ids the
    document got otherwise (the server's own edits) count."""
    server = DocumentSync()
    server.connect(1, writable=True)
    with pytest.raises(ProtocolError, match="past 10000 client ids"):
        server.receive(1, update_frame(many_clients(12_000)))
    assert str(server.doc.get("text", type=pycrdt.Text)) == ""

    monkeypatch.setattr(sync_module, "MAX_DOC_CLIENTS", 32)
    server = DocumentSync()
    server.connect(1, writable=True)
    assert len(server.receive(1, update_frame(many_clients(30))).persist) == 1
    server.replace_text("text", "from the server")  # its own client id: 31
    assert len(server.receive(1, update_frame(text_insert(77, 0, "x"))).persist) == 1  # 32
    with pytest.raises(ProtocolError, match="past 32 client ids"):
        server.receive(1, update_frame(text_insert(78, 0, "y")))
    assert server.receive(1, update_frame(text_insert(77, 1, "z"))).persist
    assert str(server.doc.get("text", type=pycrdt.Text)).count("y") == 0
