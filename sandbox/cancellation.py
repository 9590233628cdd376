"""A task's cancellation that CPython 3.11 lost, raised again.

Design note. On CPython 3.11, ``asyncio.wait_for`` returns the inner result when the awaited
future completes in the same turn of the loop as the task is cancelled, and the cancellation
is lost (python/cpython#86296; 3.12 rebuilt ``wait_for`` on ``asyncio.timeout``). redis-py
opens its connections through it, so a task cancelled while one of its commands reconnects
goes on as if it had not been: a loop that polls Redis then never ends, and whoever awaits
the cancelled task waits for ever. A sandbox worker once ignored SIGTERM that way (its queue
sampler went on sampling; CI hung 600 s in a test's teardown).

The task itself still knows it was asked to stop (``Task.cancelling()`` counts requests not
yet handled). Every long-lived loop that awaits Redis calls :func:`raise_if_cancelled` once
a turn, so a lost cancellation ends it one turn late instead of never.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Raise CancelledError if the current task was cancelled and that got lost on the way."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
