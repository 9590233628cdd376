"""What one load generator records, and how the results of several are merged and summed up.

Every time is ``time.monotonic()`` (CLOCK_MONOTONIC, one clock for every process of the
machine). Only actions *sent* inside the measured window count; an action sent in the window
whose delivery never came before the end of the drain is an error (``missing …``).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from histograms import Observed, window

from server.operations.loop_lag import WARN_SECONDS as LOOP_LAG_WARN_SECONDS

METRICS = {
    "doc": "document fan-out (student update → instructor's view)",
    "event": "event delivery (demo.goto → each student's demo.step)",
    "run_first": "run first output (run.start → first run.output)",
    "run_done": "run completion (run.start → run.finished)",
    "grade": "submit → grade.result",
}
TARGETS = {"doc": ("p99", 100.0), "event": ("p99", 200.0), "run_first": ("p95", 500.0)}


@dataclass
class Window:
    start: float
    end: float

    def __contains__(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass
class Pending:
    """An action sent at ``sent`` whose delivery is awaited (in the window or not)."""

    sent: float
    counted: bool
    first: float | None = None
    done: float | None = None
    refused: bool = False

    def refuse(self, at: float) -> None:
        """Refused by the server (counted as an error where the refusal was seen)."""
        if self.done is None:
            self.done, self.refused = at, True


@dataclass
class Recorder:
    window: Window
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in METRICS})
    errors: Counter[str] = field(default_factory=Counter)
    counts: Counter[str] = field(default_factory=Counter)
    lag: list[float] = field(default_factory=list)
    doc_sent: dict[bytes, Pending] = field(default_factory=dict)
    runs: dict[str, Pending] = field(default_factory=dict)
    grades: dict[int, Pending] = field(default_factory=dict)
    stopping: bool = False

    def error(self, kind: str) -> None:
        if not self.stopping:
            self.errors[kind] += 1

    def sample(self, metric: str, pending: Pending, at: float) -> None:
        if pending.counted:
            self.latencies[metric].append((at - pending.sent) * 1000)

    # -- documents -------------------------------------------------------------------------

    def doc_update_sent(self, update: bytes, at: float) -> None:
        counted = at in self.window
        self.doc_sent[update] = Pending(at, counted)
        self.counts["doc updates sent"] += counted

    def doc_update_seen(self, update: bytes, at: float) -> None:
        pending = self.doc_sent.get(update)
        if pending is None or pending.done is not None:
            return
        pending.done = at
        self.sample("doc", pending, at)

    # -- runs and grades -------------------------------------------------------------------

    def run_sent(self, ref: str, at: float) -> Pending:
        pending = self.runs[ref] = Pending(at, at in self.window)
        self.counts["runs started"] += pending.counted
        return pending

    def run_output(self, pending: Pending, at: float) -> None:
        if pending.first is None:
            pending.first = at
            self.sample("run_first", pending, at)

    def run_finished(self, pending: Pending, status: str, at: float) -> None:
        if pending.done is None:
            pending.done = at
            self.sample("run_done", pending, at)
            if status != "ok" and pending.counted:
                self.error(f"run status {status}")

    def submit_sent(self, user: int, at: float) -> Pending:
        pending = self.grades[user] = Pending(at, at in self.window)
        self.counts["submissions"] += pending.counted
        return pending

    def graded(self, user: int, at: float) -> None:
        pending = self.grades.get(user)
        if pending is not None and pending.done is None:
            pending.done = at
            self.sample("grade", pending, at)

    # -- the end -----------------------------------------------------------------------------

    def outstanding(self) -> int:
        """Deliveries still awaited for actions sent in the window."""
        waiting = [p for p in self.doc_sent.values() if p.counted and p.done is None]
        waiting += [p for p in self.runs.values() if p.counted and p.done is None]
        waiting += [p for p in self.grades.values() if p.counted and p.done is None]
        return len(waiting)

    def close(self) -> None:
        """Count what never came as errors; stop counting socket closes (we close them)."""
        missing = sum(1 for p in self.doc_sent.values() if p.counted and p.done is None)
        if missing:
            self.errors["missing doc update deliveries"] += missing
        missing = sum(1 for p in self.runs.values() if p.counted and p.done is None)
        if missing:
            self.errors["runs not finished by the end of the drain"] += missing
        silent = [p for p in self.runs.values() if p.counted and p.done and not p.refused]
        missing = sum(1 for p in silent if p.first is None)
        if missing:
            self.errors["runs finished without output"] += missing
        missing = sum(1 for p in self.grades.values() if p.counted and p.done is None)
        if missing:
            self.errors["missing grade.result"] += missing
        self.stopping = True

    def to_json(self) -> dict[str, Any]:
        return {
            "latencies": self.latencies,
            "errors": dict(self.errors),
            "counts": dict(self.counts),
            "lag": self.lag,
        }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {k: [] for k in METRICS}
    errors: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    lag: list[float] = []
    for part in parts:
        for key, values in part["latencies"].items():
            latencies[key] += values
        errors.update(part["errors"])
        counts.update(part["counts"])
        lag += part["lag"]
    return {"latencies": latencies, "errors": errors, "counts": counts, "lag": lag}


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
    }


def verdicts(stats: dict[str, dict[str, float]], errors: int) -> dict[str, bool]:
    out = {}
    for metric, (key, limit) in TARGETS.items():
        value = stats[metric][key]
        out[metric] = not math.isnan(value) and value <= limit
    out["errors"] = errors == 0
    return out


# The server's own event loop lag (server/operations/loop_lag.py): a timer every 0.5 s, how
# late it fired. A stall of the server's loop shows here; a stall of the machine shows in the
# generator's timer lag as well. Samples over LOOP_LAG_WARN_SECONDS the server also logs.
LOOP_LAG_METRIC = "classroom_event_loop_lag_seconds"


def loop_lag(
    before: dict[float, float] | None, after: dict[float, float] | None
) -> dict[str, float] | None:
    """The window's loop-lag samples: how many, the buckets of the p99 and the largest (ms),
    and how many were later than the server's own warning (it logs those)."""
    held: Observed | None = None if before is None or after is None else window(before, after)
    if held is None:
        return None
    return {
        "samples": held.total,
        "p99_ms": held.bound_of(0.99) * 1000,
        "max_ms": held.bound_of(1.0) * 1000,
        "over_warning": held.above(LOOP_LAG_WARN_SECONDS),
    }
