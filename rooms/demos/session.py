"""The state of one demo presentation in a room (the :class:`~rooms.demos.presenter.Presenter`'s
session)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from rooms.demos.clock import StepClock
from rooms.demos.model import DemoDefinition
from rooms.demos.quiz import Quiz


class PresentationState(StrEnum):
    """idle → presenting ⇄ stopped; every other command needs ``presenting``."""

    IDLE = "idle"
    PRESENTING = "presenting"
    STOPPED = "stopped"


@dataclass
class Session:
    """The demo being presented: its step on screen, its clock, who detached and who is done."""

    demo: DemoDefinition
    index: int = 0
    clock: StepClock | None = None
    detached: dict[int, int] = field(default_factory=dict)  # user → step they stayed on
    completed: dict[int, set[int]] = field(default_factory=dict)  # step → users
    quizzes: dict[int, Quiz] = field(default_factory=dict)
