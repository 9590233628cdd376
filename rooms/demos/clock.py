"""Auto-advance timing of the step on screen, against an injected clock.

A step with ``auto_advance`` runs a countdown of ``duration`` seconds from the moment it is
shown. At each pause point (seconds into the step) the countdown stops until the instructor
resumes it. ``poll(now)`` reports the next thing that happened by ``now``, stamped with the
moment it happened rather than ``now``, so a late tick still places it where it belongs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rooms.demos.exceptions import PresentationError
from rooms.demos.model import Timing


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Tick:
    """``pause`` at ``elapsed`` seconds into the step, or ``expire``; ``at`` on the clock."""

    kind: str
    at: float
    elapsed: float


class StepClock:
    def __init__(self, timing: Timing, shown_at: float) -> None:
        if timing.duration is None:
            raise ValueError("a step clock needs a duration")
        self.duration = timing.duration
        self._pauses = list(timing.pause_points)
        self._origin = shown_at  # the clock time at which elapsed was 0
        self._frozen: float | None = None  # elapsed seconds while paused
        self.state = ClockState.RUNNING

    def elapsed(self, now: float) -> float:
        if self._frozen is not None:
            return self._frozen
        return min(now - self._origin, self.duration)

    def remaining(self, now: float) -> float:
        return max(self.duration - self.elapsed(now), 0.0)

    def due(self) -> float | None:
        """The clock time of the next pause or expiry, None while paused or expired."""
        if self.state is not ClockState.RUNNING:
            return None
        offset = self._pauses[0] if self._pauses else self.duration
        return self._origin + offset

    def poll(self, now: float) -> Tick | None:
        due = self.due()
        if due is None or now < due:
            return None
        if self._pauses:
            self._frozen = self._pauses.pop(0)
            self.state = ClockState.PAUSED
            return Tick("pause", due, self._frozen)
        self.state = ClockState.EXPIRED
        return Tick("expire", due, self.duration)

    def resume(self, now: float) -> None:
        if self.state is not ClockState.PAUSED or self._frozen is None:
            raise PresentationError("the step is not paused")
        self._origin = now - self._frozen
        self._frozen = None
        self.state = ClockState.RUNNING

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration": self.duration,
            "pauses": list(self._pauses),
            "origin": self._origin,
            "frozen": self._frozen,
            "state": self.state.value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepClock:
        clock = cls(Timing(True, float(data["duration"]), tuple(data["pauses"])), data["origin"])
        clock._frozen = data["frozen"]
        clock.state = ClockState(data["state"])
        return clock
