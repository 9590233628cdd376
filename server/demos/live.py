"""Instructor-led demos on the room events socket: the pure Presenter driven by commands,
joins, finished check runs and timers, its events delivered through the hub.

Design note. Every change goes through :meth:`LiveDemos.apply`: under the room's lock
(:mod:`server.demos.presenters`) it applies one Presenter method, stores the drained timeline and
quiz answers (only the process that applied a change stores its records, so nothing is
written twice), rewrites the ``demo`` document when a code step comes on screen, saves, and
only then publishes the events. Publishing inside the lock means every process sees a room's
events in the order they happened. Quiz XP goes to the leaderboards after the lock.

The ``demo`` document shows the *first* file of a code step (the one on screen; the step
event carries every file for the client's tabs), so the document stays a runnable program.

Auto-advance: after a change, the process that made it arms a timer at
``Presenter.next_deadline()`` and tells the others (``demo.deadline`` on the bus), who arm a
backup timer ``BACKUP_DELAY`` later in case it died. ``tick`` under the lock is idempotent,
so whoever fires second finds nothing due.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlmodel import select

from rooms.demos.definition import from_dict as definition_from_dict
from rooms.demos.exceptions import DemoError
from rooms.demos.model import CodeContent
from rooms.demos.presenter import (
    ROOM,
    Event,
    Presenter,
)
from rooms.demos.quiz import QuizResult
from rooms.demos.session import PresentationState
from rooms.events import Command, EventError
from sandbox.model import RunResult
from sandbox.queue import QueuedRun
from server.demos.presenters import Held, PresenterStore, StateUnavailable
from server.documents.registry import DocumentRegistry
from server.documents.writer import replace_text
from server.events.hub import RoomConnection, RoomHub
from server.events.presence import PROCESS_ID
from server.gamification.game import Gamification, PointsAward
from server.models import Demo, DemoSession, DemoTimelineEvent, QuizAnswer, Room
from server.runs.component import Runs
from server.security.ratelimit import RateLimiter
from server.store import Store

log = logging.getLogger("classroom.demos")

BACKUP_DELAY = 2.0
QUIZ_REASON = "quiz"
Act = Callable[[Held, float], Awaitable[list[Event]]]


def instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class LiveDemos:
    """The ``demos`` component. ``now`` is the clock (epoch seconds); tests may replace it."""

    def __init__(
        self,
        store: Store,
        hub: RoomHub,
        presenters: PresenterStore,
        *,
        docs: DocumentRegistry,
        gamification: Gamification,
        runs: Runs,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.store = store
        self.limiter = limiter
        self.hub = hub
        self.docs = docs
        self.gamification = gamification
        self.presenters = presenters
        self.now: Callable[[], float] = time.time
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._classrooms: dict[int, int] = {}
        commands: dict[str, Callable[[RoomConnection, Command], Awaitable[None]]] = {
            "demo.start": self.start_demo,
            "demo.stop": self._simple(lambda p, now, c, cmd: p.stop(now)),
            "demo.goto": self._simple(lambda p, now, c, cmd: p.goto(cmd.get("step"), now)),
            "demo.next": self._simple(lambda p, now, c, cmd: p.next(now)),
            "demo.prev": self._simple(lambda p, now, c, cmd: p.prev(now)),
            "demo.resume": self._simple(lambda p, now, c, cmd: p.resume(now)),
            "demo.detach": self._budgeted(
                self._simple(lambda p, now, c, cmd: p.detach(c.user_id, now))
            ),
            "demo.follow": self._budgeted(
                self._simple(lambda p, now, c, cmd: p.follow(c.user_id, now))
            ),
            "quiz.answer": self._budgeted(
                self._simple(
                    lambda p, now, c, cmd: p.answer(
                        c.user_id, cmd.get("step"), cmd.get("answer"), now
                    )
                )
            ),
            "quiz.reveal": self._simple(lambda p, now, c, cmd: p.reveal(now, cmd.get("step"))),
            "quiz.close": self._simple(lambda p, now, c, cmd: p.close_quiz(now, cmd.get("step"))),
        }
        for kind, handler in commands.items():
            hub.handle(kind, handler)
        hub.snapshot_part("demo", self.snapshot)
        hub.on_join(self.joined)
        hub.on_leave(self.left)
        hub.on_remote("demo.deadline", self._deadline_announced)
        runs.on_finished(self.run_finished)

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Nothing to open: timers are armed by the changes that need them."""

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.presenters.close()

    # -- commands -----------------------------------------------------------------------

    def _budgeted(
        self, handler: Callable[[RoomConnection, Command], Awaitable[None]]
    ) -> Callable[[RoomConnection, Command], Awaitable[None]]:
        """A student's moves (detach, follow, answer) take from ``CLASSROOM_DEMO_MOVES_PER_MINUTE``
        (``rate_limited``). Each is a timeline row and an event to the instructors: one student
        toggling detach and follow within the socket's budget (90 a second) stored 90 rows a
        second and cost the process 17 % of a core, 37 % with Redis."""
        limiter = self.limiter
        if limiter is None:
            return handler

        async def budgeted(conn: RoomConnection, command: Command) -> None:
            await limiter.check_budget(
                "demo-moves-user", str(conn.user_id), "demo moves and answers"
            )
            await handler(conn, command)

        return budgeted

    def _simple(
        self, method: Callable[[Presenter, float, RoomConnection, Command], list[Event]]
    ) -> Callable[[RoomConnection, Command], Awaitable[None]]:
        async def handler(conn: RoomConnection, command: Command) -> None:
            async def act(held: Held, now: float) -> list[Event]:
                return method(held.presenter, now, conn, command)

            await self.apply(conn.room_id, act)

        return handler

    async def start_demo(self, conn: RoomConnection, command: Command) -> None:
        demo_id = command.get("demo_id")
        classroom_id = await self._classroom(conn.room_id)
        async with self.store.session() as session:
            row = (
                await session.exec(
                    select(Demo).where(Demo.classroom_id == classroom_id, Demo.demo_id == demo_id)
                )
            ).first()
        if row is None:
            raise EventError("unknown_demo", f"this classroom has no demo {demo_id!r}")
        try:
            definition = definition_from_dict(row.definition, name=f"demo {demo_id}")
        except DemoError as exc:  # stored by an older version whose format no longer reads
            raise EventError("demo_refused", str(exc)) from None

        async def act(held: Held, now: float) -> list[Event]:
            events = held.presenter.start(definition, now)
            async with self.store.session() as session:
                record = DemoSession(room_id=conn.room_id, demo_id=definition.id)
                record.started_at = instant(now)
                session.add(record)
                await session.flush()
                held.session_id = record.id
            return events

        await self.apply(conn.room_id, act)

    async def run_finished(
        self, conn: RoomConnection, run: QueuedRun, result: RunResult, command: Command
    ) -> None:
        """A room run finished: one with ``demo_step`` is a check of that step."""
        step = command.get("demo_step")
        if step is None:
            return

        async def act(held: Held, now: float) -> list[Event]:
            return held.presenter.record_run(conn.user_id, step, result, now)

        try:
            await self.apply(conn.room_id, act)
        except EventError as exc:
            conn.send(exc.event(command.ref))

    # -- presence -----------------------------------------------------------------------

    async def joined(self, conn: RoomConnection) -> None:
        async def act(held: Held, now: float) -> list[Event]:
            return held.presenter.join(conn.user_id, now, instructor=conn.is_staff)

        await self.apply(conn.room_id, act)

    async def left(self, conn: RoomConnection) -> None:
        async def act(held: Held, now: float) -> list[Event]:
            return held.presenter.leave(conn.user_id, now)

        await self.apply(conn.room_id, act)

    async def snapshot(self, conn: RoomConnection) -> dict[str, Any] | None:
        held = await self.presenters.peek(conn.room_id)
        return held.presenter.snapshot(conn.user_id, self.now())

    # -- applying -----------------------------------------------------------------------

    async def apply(self, room_id: int, act: Act, *, backup: bool = False) -> None:
        """Run ``act`` on the room's presenter under its lock: store its records, write the
        ``demo`` document, save, then announce the next deadline and publish the events.

        Saving comes before telling anyone, so nobody sees a change that was not kept; the
        deadline goes out before the events, so a process that sees the events has armed its
        backup timer. A ``DemoError`` becomes ``EventError("demo_refused")``, nothing saved."""
        results: list[QuizResult] = []
        try:
            async with self.presenters.hold(room_id) as held:
                before = held.presenter.next_deadline()
                now = self.now()
                events = await act(held, now)
                results = await self._store(room_id, held, now)
                if any(to == ROOM and e["type"] == "demo.step" for to, e in events):
                    await self._show_code(room_id, held)
                await self.presenters.save(room_id, held)
                deadline = held.presenter.next_deadline()
                if deadline != before:
                    payload = {"deadline": deadline, "origin": PROCESS_ID}
                    await self.hub.send_remote(room_id, "demo.deadline", payload)
                elif deadline is not None:
                    # A timer that fired early waits again; a process that missed the
                    # announcement (no local socket then) learns the deadline here.
                    self._arm(room_id, deadline, backup=backup)
                await self.hub.publish_all(room_id, events)
        except DemoError as exc:
            raise EventError("demo_refused", str(exc)) from None
        except (StateUnavailable, TimeoutError) as exc:
            log.warning("room %s: demo state unavailable: %s", room_id, exc)
            raise EventError("unavailable", "the demo state is unreachable; try again") from None
        if results:
            await self._award(room_id, results)

    async def _store(self, room_id: int, held: Held, now: float) -> list[QuizResult]:
        """Write the drained records; end the session row once the demo stopped."""
        timeline = held.presenter.drain_timeline()
        results = held.presenter.drain_quiz_results()
        session_id = held.session_id
        if session_id is None:
            if timeline or results:
                log.warning("room %s: demo records without a session dropped", room_id)
            return []
        stopped = held.presenter.state is PresentationState.STOPPED
        if timeline or results or stopped:
            async with self.store.session() as session:
                session.add_all(DemoTimelineEvent.from_record(session_id, r) for r in timeline)
                session.add_all(QuizAnswer.from_result(session_id, r) for r in results)
                if stopped:
                    row = await session.get(DemoSession, session_id)
                    if row is not None:
                        row.ended_at = instant(now)
                        session.add(row)
        if stopped:
            held.session_id = None
        return results

    async def _show_code(self, room_id: int, held: Held) -> None:
        demo, index = held.presenter.demo, held.presenter.index
        if demo is None or index is None:
            return
        content = demo.steps[index].content
        if isinstance(content, CodeContent) and content.files:
            await replace_text(self.docs, room_id, "demo", content.files[0].text)

    async def _award(self, room_id: int, results: list[QuizResult]) -> None:
        classroom_id = await self._classroom(room_id)
        for result in results:
            if result.points <= 0:
                continue
            grant = PointsAward(
                user_id=result.user_id,
                classroom_id=classroom_id,
                room_id=room_id,
                amount=result.points,
                reason=QUIZ_REASON,
                detail=f"quiz of step {result.step}",
                at=instant(result.answered_at),
            )
            try:
                await self.hub.publish_all(room_id, await self.gamification.award(grant))
            except Exception:
                log.error("room %s: quiz points not awarded", room_id, exc_info=True)

    async def _classroom(self, room_id: int) -> int:
        if room_id not in self._classrooms:
            async with self.store.session() as session:
                room = await session.get(Room, room_id)
            if room is None:
                raise EventError("unknown_room", f"room {room_id} does not exist")
            self._classrooms[room_id] = room.classroom_id
        return self._classrooms[room_id]

    # -- timers -------------------------------------------------------------------------

    async def _deadline_announced(self, room_id: int, payload: dict[str, Any]) -> None:
        deadline = payload.get("deadline")
        backup = payload.get("origin") != PROCESS_ID
        self._arm(room_id, None if deadline is None else float(deadline), backup=backup)

    def _arm(self, room_id: int, deadline: float | None, *, backup: bool) -> None:
        old = self._timers.pop(room_id, None)
        if old is not None:
            old.cancel()
        if deadline is None:
            return
        delay = max(deadline - self.now(), 0.0) + (BACKUP_DELAY if backup else 0.0)
        log.debug("room %s: demo timer in %.2f s (backup %s)", room_id, delay, backup)
        loop = asyncio.get_running_loop()
        self._timers[room_id] = loop.call_later(delay, self._fire, room_id, backup)

    def _fire(self, room_id: int, backup: bool) -> None:
        self._timers.pop(room_id, None)
        task = asyncio.create_task(self._tick(room_id, backup), name=f"room-{room_id}-demo-tick")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tick(self, room_id: int, backup: bool) -> None:
        async def act(held: Held, now: float) -> list[Event]:
            return held.presenter.tick(now)

        try:
            await self.apply(room_id, act, backup=backup)
        except Exception:
            log.error("room %s: demo tick failed", room_id, exc_info=True)
