"""The objects one server process shares between its endpoints, built in the lifespan.

Endpoints reach it as ``request.app.state.classroom``; tests build an app and read it the same
way. Feature components register themselves with :meth:`AppState.add` so the lifespan starts
and closes them in order.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from server.accounts.auth import TokenSigner
from server.bus import Bus
from server.metrics import Metrics
from server.settings import Settings
from server.store import Store

log = logging.getLogger("classroom.server")


class Component(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...


class AppState:
    """What a process holds: settings, store, bus, signer, metrics and the feature components."""

    def __init__(self, settings: Settings, store: Store, bus: Bus, metrics: Metrics) -> None:
        self.settings = settings
        self.store = store
        self.bus = bus
        self.metrics = metrics
        self.signer = TokenSigner(settings.secret_key, settings.token_ttl_seconds)
        self.components: dict[str, Any] = {}
        self._order: list[Component] = []

    def add(self, name: str, component: Component) -> None:
        """Register a component under ``name``; it starts with the app and closes in reverse."""
        self.components[name] = component
        self._order.append(component)

    def get(self, name: str) -> Any:
        return self.components[name]

    async def start(self) -> None:
        for component in self._order:
            await component.start()

    async def close(self) -> None:
        for component in reversed(self._order):
            try:
                await component.close()
            except Exception:
                log.exception("closing %r failed", component)
