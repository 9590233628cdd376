"""Grade passback: every stored grade of a classroom bound to an LMS course is sent to the LMS
gradebook (AGS), with retries, and its status is kept per student and exercise.

Design note. :meth:`GradePassback.grade_changed` (the grading's ``GradeListener`` call-out)
only writes a ``pending`` row in ``lti_grade_syncs`` — one per (course, student, exercise),
holding the latest grade — and wakes the sender. The sender, a task of this component, posts
due rows; a failure is retried after ``retry_base * 2**attempts`` seconds, and after
``MAX_ATTEMPTS`` the row is ``failed`` with the LMS's answer in ``last_error`` for the staff to
see. Rows live in the database, so a restart (or another process) picks up what was pending.
A grade that changes while it is being sent stays ``pending`` and is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from functools import partial

from sqlalchemy import Integer, bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from sandbox.cancellation import raise_if_cancelled
from sandbox.output import storable
from server.lti.ags import SCOPE_LINEITEM, Gradebook
from server.lti.exceptions import PlatformError
from server.models import (
    ExerciseRecord,
    LtiContext,
    LtiGradeSync,
    LtiLineItem,
    LtiPlatform,
    LtiUser,
    Submission,
)
from server.models.clock import as_utc, utcnow
from server.store import Store

log = logging.getLogger("classroom.lti")

MAX_ATTEMPTS = 6
IDLE_SECONDS = 30.0
BATCH = 20


class GradePassback:
    """Implements ``server.submissions.GradeListener``."""

    def __init__(self, store: Store, gradebook: Gradebook, *, retry_base: float = 5.0) -> None:
        self.store = store
        self.gradebook = gradebook
        self.retry_base = retry_base
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lti-passback")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def wake(self) -> None:
        self._wake.set()

    async def grade_changed(self, submission: Submission) -> None:
        if submission.status != "graded" or submission.score is None or submission.id is None:
            return
        # Read first, on every grade: most classrooms are bound to no course, and there the
        # check is the whole cost (a statement built once, one hop to the store's thread).
        params = {"classroom_id": submission.classroom_id}
        context_id = await self.store.threaded.read(
            lambda session: session.exec(_CONTEXT_ID, params=params).first()
        )
        if context_id is None:
            return
        pending = await self.store.threaded.write(
            partial(_pend, submission=submission, context_id=context_id)
        )
        if pending:
            self.wake()

    async def _run(self) -> None:
        while True:
            raise_if_cancelled()  # one that a library's wait_for lost (sandbox/cancellation.py)
            self._wake.clear()  # before the round: a wake during it starts the next at once
            try:
                wait = await self.send_due()
            except Exception:
                log.error("grade passback round failed", exc_info=True)
                wait = IDLE_SECONDS
            # asyncio.timeout, not wait_for: on Python 3.11 a wake in the turn this task was
            # cancelled made wait_for drop the cancellation, and close() waited for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def send_due(self) -> float:
        """Send every due row; returns how long until the next one is due."""
        now = utcnow()
        async with self.store.session() as session:
            due = (
                await session.exec(
                    select(LtiGradeSync)
                    .where(
                        LtiGradeSync.status == "pending",
                        col(LtiGradeSync.next_attempt_at) <= now,
                    )
                    .order_by(col(LtiGradeSync.next_attempt_at))
                    .limit(BATCH)
                )
            ).all()
        for row in due:
            await self._send(row)
        async with self.store.session() as session:
            upcoming = (
                await session.exec(
                    select(LtiGradeSync.next_attempt_at)
                    .where(LtiGradeSync.status == "pending")
                    .order_by(col(LtiGradeSync.next_attempt_at))
                    .limit(1)
                )
            ).first()
        if upcoming is None:
            return IDLE_SECONDS
        return max(0.0, min(IDLE_SECONDS, (as_utc(upcoming) - utcnow()).total_seconds()))

    async def _send(self, row: LtiGradeSync) -> None:
        status, error = "sent", None
        try:
            await self._post(row)
        except PlatformError as exc:
            status, error = "retry", storable(str(exc)[:1000])  # quotes the LMS's answer
        except _NoLmsUser as exc:
            status, error = "no_lms_user", str(exc)
        async with self.store.session() as session:
            fresh = await session.get(LtiGradeSync, row.id)
            if fresh is None or as_utc(fresh.updated_at) != as_utc(row.updated_at):
                return  # the grade changed meanwhile: it is pending again, sent next round
            now = utcnow()
            fresh.attempts += 1
            fresh.updated_at, fresh.last_error = now, error
            if status == "sent":
                fresh.status, fresh.sent_at = "sent", now
            elif status == "no_lms_user":
                fresh.status = status
            elif fresh.attempts >= MAX_ATTEMPTS:
                fresh.status = "failed"
            else:
                fresh.next_attempt_at = now + timedelta(
                    seconds=self.retry_base * 2 ** (fresh.attempts - 1)
                )
            session.add(fresh)
        if error is not None:
            log.warning("grade passback %s (%s): %s", row.id, status, error)

    async def _post(self, row: LtiGradeSync) -> None:
        async with self.store.session() as session:
            context = await session.get(LtiContext, row.lti_context_id)
            assert context is not None and context.id is not None
            platform = await session.get(LtiPlatform, context.platform_id)
            assert platform is not None
            subject = (
                await session.exec(
                    select(LtiUser.subject).where(
                        LtiUser.platform_id == platform.id, LtiUser.user_id == row.user_id
                    )
                )
            ).first()
            item = (
                await session.exec(
                    select(LtiLineItem).where(
                        LtiLineItem.lti_context_id == context.id,
                        LtiLineItem.exercise_id == row.exercise_id,
                    )
                )
            ).first()
            title = (
                await session.exec(
                    select(ExerciseRecord.title).where(
                        ExerciseRecord.classroom_id == context.classroom_id,
                        ExerciseRecord.exercise_id == row.exercise_id,
                    )
                )
            ).first()
        if subject is None:
            raise _NoLmsUser("the student has no account on this LMS (launch once, or sync)")
        url = item.url if item is not None else None
        if url is None:
            if not context.lineitems_url or SCOPE_LINEITEM not in context.ags_scopes:
                raise PlatformError("the LMS granted no line item service for this course")
            url = await self.gradebook.line_item(
                platform,
                context.lineitems_url,
                row.exercise_id,
                title or row.exercise_id,
                row.max_score,
            )
            try:
                async with self.store.session() as session:
                    session.add(
                        LtiLineItem(lti_context_id=context.id, exercise_id=row.exercise_id, url=url)
                    )
            except IntegrityError:
                # Another process stored a column first: post to that one. (Had both just
                # created one on the LMS, the other stays there empty.)
                async with self.store.session() as session:
                    stored = (
                        await session.exec(
                            select(LtiLineItem.url).where(
                                LtiLineItem.lti_context_id == context.id,
                                LtiLineItem.exercise_id == row.exercise_id,
                            )
                        )
                    ).first()
                url = stored or url
        await self.gradebook.post_score(
            platform,
            lineitem_url=url,
            subject=subject,
            score=row.score,
            maximum=row.max_score,
            at=as_utc(row.graded_at),
        )


class _NoLmsUser(Exception):
    pass


async def requeue_unlinked(store: Store, lti_context_id: int) -> int:
    """Make ``no_lms_user`` rows of a course pending again (after a roster sync linked users)."""
    async with store.session() as session:
        rows = (
            await session.exec(
                select(LtiGradeSync).where(
                    LtiGradeSync.lti_context_id == lti_context_id,
                    LtiGradeSync.status == "no_lms_user",
                )
            )
        ).all()
        for row in rows:
            row.status, row.attempts, row.next_attempt_at = "pending", 0, utcnow()
            row.updated_at = utcnow()
            session.add(row)
    return len(rows)


_CONTEXT_ID = select(LtiContext.id).where(
    col(LtiContext.classroom_id) == bindparam("classroom_id", type_=Integer)
)


def _pend(session: Session, *, submission: Submission, context_id: int) -> bool:
    """The course's row of this student and exercise holds ``submission``'s grade, pending;
    False if it holds a later attempt's already."""
    assert submission.id is not None and submission.score is not None
    row = session.exec(
        select(LtiGradeSync).where(
            LtiGradeSync.lti_context_id == context_id,
            LtiGradeSync.user_id == submission.user_id,
            LtiGradeSync.exercise_id == submission.exercise_id,
        )
    ).first()
    if row is not None and row.submission_id > submission.id:
        return False  # a later attempt's grade is already there
    now = utcnow()
    row = row or LtiGradeSync(
        lti_context_id=context_id,
        user_id=submission.user_id,
        exercise_id=submission.exercise_id,
        submission_id=submission.id,
        score=0.0,
        max_score=0.0,
        graded_at=now,
    )
    row.submission_id = submission.id
    row.score, row.max_score = submission.score, submission.max_score or 0.0
    row.graded_at = submission.graded_at or now
    row.status, row.attempts, row.last_error = "pending", 0, None
    row.next_attempt_at = row.updated_at = now
    session.add(row)
    return True
