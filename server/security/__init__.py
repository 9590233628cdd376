"""Defences against hostile callers that cut across features.

- :mod:`.ratelimit`  counters per address, account and join code (memory, or Redis shared by
  every process), answered with 429 and ``Retry-After``.
- :mod:`.passwords`  argon2 checks on a bounded thread pool, off the event loop.
- :mod:`.bodies`     request bodies read with a running limit, never whole before the check.
- :mod:`.origins`    the CSRF rule for cookie-authenticated calls and the socket ``Origin`` check.
- :mod:`.sessions`   revocable tokens (a per-user generation) and single-use socket tickets.
- :mod:`.sockets`    the open sockets of each user, closed when their role or session changes.
- :mod:`.cells`      spreadsheet-safe CSV cells; :mod:`.redirects` same-origin ``next=``.
"""
