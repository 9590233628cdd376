from __future__ import annotations

import pytest

from rooms.demos.clock import ClockState, StepClock, Tick
from rooms.demos.exceptions import PresentationError
from rooms.demos.model import Timing


def test_pauses_then_expires_at_the_right_moments() -> None:
    clock = StepClock(Timing(True, 30.0, (5.0, 12.0)), 100.0)
    assert clock.due() == 105.0 and clock.poll(104.9) is None
    assert clock.poll(200.0) == Tick("pause", 105.0, 5.0)
    states = [clock.state]
    assert clock.due() is None
    assert clock.remaining(500.0) == 25.0
    clock.resume(300.0)
    assert clock.due() == 307.0
    assert clock.poll(307.0) == Tick("pause", 307.0, 12.0)
    clock.resume(400.0)
    assert clock.remaining(410.0) == 8.0
    assert clock.poll(418.0) == Tick("expire", 418.0, 30.0)
    states.append(clock.state)
    assert states == [ClockState.PAUSED, ClockState.EXPIRED]
    assert clock.poll(1e9) is None
    assert clock.remaining(1e9) == 0.0


def test_resume_needs_a_pause_and_a_clock_needs_a_duration() -> None:
    clock = StepClock(Timing(True, 10.0), 0.0)
    with pytest.raises(PresentationError, match="not paused"):
        clock.resume(1.0)
    with pytest.raises(ValueError, match="needs a duration"):
        StepClock(Timing(), 0.0)
