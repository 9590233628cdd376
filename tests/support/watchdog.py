"""A watchdog for hung tests: before pytest-timeout fails one, print what every loop waits on.

pytest-timeout turns a hang into one failed test (its stack trace shows only where the main
thread waits, often inside an event loop's ``run_until_complete``). This plugin prints, a little
before that, the stack of every thread and of every pending asyncio task, so a CI log says which
task would not finish. It only reads: it never cancels or alters a task.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import sys
import threading
from collections.abc import Generator

import pytest

WARN_BEFORE_SECONDS = 20.0


def _timeout_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    option = item.config.getoption("timeout", None)
    if option is not None:
        return float(option)
    try:
        return float(item.config.getini("timeout") or 0)
    except ValueError:  # pytest-timeout is not installed: nothing to warn before
        return 0.0


def dump_pending(nodeid: str) -> None:
    """Print every thread's stack and every pending task of every open event loop."""
    out = sys.stderr
    print(f"\n=== watchdog: {nodeid} is still running; threads and pending tasks follow", file=out)
    faulthandler.dump_traceback(file=out, all_threads=True)
    loops = [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop)]
    for loop in loops:
        if loop.is_closed():
            continue
        try:
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        except RuntimeError:  # the set changed while read from this thread: try once more
            tasks = [t for t in list(asyncio.all_tasks(loop)) if not t.done()]
        print(f"--- loop {loop!r}: {len(tasks)} pending task(s)", file=out)
        for task in tasks:
            print(f"* {task!r}", file=out)
            task.print_stack(limit=12, file=out)
    out.flush()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    timeout = _timeout_of(item)
    timer = None
    if timeout > WARN_BEFORE_SECONDS:
        timer = threading.Timer(timeout - WARN_BEFORE_SECONDS, dump_pending, args=(item.nodeid,))
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
