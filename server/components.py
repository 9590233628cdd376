"""What one server process holds: its resources and feature components, typed.

:func:`server.app.build_components` builds a :class:`Components` in dependency order, each
component receiving its collaborators in ``__init__``; the lifespan starts
:meth:`Components.lifecycle` in order and closes it in reverse. Endpoints reach it as
``request.app.state.classroom`` through :func:`server.api.base.components_of`; nothing is
looked up by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from server.auth import TokenSigner
from server.bus import Bus
from server.cockpit.component import Cockpit
from server.demos.live import LiveDemos
from server.documents.access import RoomRoles
from server.documents.keepalive import KeepAlive
from server.documents.registry import DocumentRegistry
from server.events.hub import RoomHub
from server.gamification.game import Gamification
from server.grading.submissions import Submissions
from server.hands.queue import HelpQueue
from server.identity.component import Identity
from server.integrity.component import Integrity
from server.lesson.component import Lesson
from server.lti.tool import LtiTool
from server.metrics import Metrics
from server.operations.loop_lag import LoopLag
from server.operations.probes import DependencyProbe
from server.runs.component import Runs
from server.security.component import Security
from server.settings import Settings
from server.store import Store


class Lifecycle(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Components:
    settings: Settings
    store: Store
    bus: Bus
    metrics: Metrics
    signer: TokenSigner
    security: Security
    hub: RoomHub
    docs: DocumentRegistry
    keepalive: KeepAlive
    doc_roles: RoomRoles
    gamification: Gamification
    hands: HelpQueue
    runs: Runs
    submissions: Submissions
    demos: LiveDemos
    integrity: Integrity
    lti: LtiTool
    identity: Identity
    loop_lag: LoopLag
    probe: DependencyProbe
    cockpit: Cockpit
    lesson: Lesson

    def lifecycle(self) -> list[Lifecycle]:
        """What starts with the process, in order (after the bus, which everything publishes
        on); it closes in reverse. The runs close after demos, documents and submissions
        (whose tasks wait on runs) and record the last results."""
        return [
            self.security,
            self.hub,
            self.gamification,
            self.runs,
            self.submissions,
            self.docs,
            self.keepalive,
            self.demos,
            self.integrity,
            self.lti,
            self.identity,
            self.loop_lag,
            self.probe,
            self.lesson,
        ]
