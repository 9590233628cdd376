"""server/security/sockets.py: the trust changes a socket still being opened must see."""

from __future__ import annotations

from server.security.sockets import MAX_REMEMBERED_CHANGES, OpenSockets


async def test_a_change_after_the_mark_is_seen_for_that_user_only() -> None:
    sockets = OpenSockets()
    mark = sockets.mark()
    assert await sockets.close_user(7, "role") == 0  # nothing held yet
    assert sockets.changed_since(7, mark)
    assert not sockets.changed_since(8, mark)
    assert not sockets.changed_since(7, sockets.mark())  # a socket begun after it


async def test_past_the_bound_the_table_forgets_and_errs_towards_a_reconnect() -> None:
    sockets = OpenSockets()
    early = sockets.mark()
    for user in range(MAX_REMEMBERED_CHANGES):
        await sockets.close_user(user, "role")
    late = sockets.mark()
    await sockets.close_user(MAX_REMEMBERED_CHANGES, "role")  # forgets the others
    # A socket begun before the forgetting cannot tell: it reconnects (never keeps stale trust).
    assert sockets.changed_since(MAX_REMEMBERED_CHANGES + 1, early)
    # One begun just before the last change still tells users apart.
    assert sockets.changed_since(MAX_REMEMBERED_CHANGES, late)
    assert not sockets.changed_since(MAX_REMEMBERED_CHANGES + 1, late)
