"""The garbage collector's thresholds for a serving process (the document fan-out)."""

from __future__ import annotations

import gc
import time


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for the fan-out's many short-lived objects.

    Called once by the server entry point before serving (not by the app: tests build many
    apps in one process and keep the default collector).

    Fan-out allocates a queue entry per recipient per update; with the default threshold
    (700) the collector ran every few updates and, walking everything the app holds, took
    about 40 % of a busy server's time in profiles (py-spy, 100 clients, 10 writers at
    20 Hz). Objects alive at start (modules, mappers) are frozen out of collections, and
    young objects are collected every 50,000 allocations.
    """
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(50_000, second, third)


# CPU seconds the collector took, on whichever thread it ran (gc.callbacks): what a
# measurement of the loop's work subtracts, so that a collection that happened to run inside
# an update is not counted as the update's (server/security/quotas.py rule 3).
_collecting = {"since": 0.0, "total": 0.0}


def _on_collection(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _collecting["since"] = time.thread_time()
    else:
        _collecting["total"] += time.thread_time() - _collecting["since"]


def collection_seconds() -> float:
    """The CPU seconds every garbage collection of this process took so far."""
    return _collecting["total"]


if _on_collection not in gc.callbacks:
    gc.callbacks.append(_on_collection)
