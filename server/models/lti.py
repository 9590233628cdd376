"""LTI 1.3: registered platforms and deployments, login states and used nonces (shared by every
process through the database), the LMS users, contexts and resource links bound to ours, AGS
line items, and the passback status of every grade."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.clock import utcnow


def _at() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class LtiPlatform(SQLModel, table=True):
    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id", name="uq_lti_platform"),)

    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(sa_column=Column(String(255), nullable=False))
    client_id: str = Field(sa_column=Column(String(255), nullable=False))
    auth_url: str = Field(sa_column=Column(String(1024), nullable=False))
    token_url: str = Field(sa_column=Column(String(1024), nullable=False))
    jwks_url: str = Field(sa_column=Column(String(1024), nullable=False))
    created_at: datetime = _at()


class LtiDeployment(SQLModel, table=True):
    __tablename__ = "lti_deployments"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id", name="uq_lti_deployment"),)

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="lti_platforms.id", index=True)
    deployment_id: str = Field(sa_column=Column(String(255), nullable=False))


class LtiLogin(SQLModel, table=True):
    """An OIDC login in flight: the state we sent and the nonce the id_token must carry."""

    __tablename__ = "lti_logins"

    state: str = Field(sa_column=Column(String(64), primary_key=True))
    nonce: str = Field(sa_column=Column(String(64), nullable=False))
    platform_id: int = Field(foreign_key="lti_platforms.id")
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class LtiNonce(SQLModel, table=True):
    """A nonce already seen in an id_token: the unique constraint makes a replay fail."""

    __tablename__ = "lti_nonces"
    __table_args__ = (UniqueConstraint("platform_id", "nonce", name="uq_lti_nonce"),)

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="lti_platforms.id")
    nonce: str = Field(sa_column=Column(String(255), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class LtiUser(SQLModel, table=True):
    __tablename__ = "lti_users"
    __table_args__ = (UniqueConstraint("platform_id", "subject", name="uq_lti_user"),)

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="lti_platforms.id")
    subject: str = Field(sa_column=Column(String(255), nullable=False))
    user_id: int = Field(foreign_key="users.id", index=True)


class LtiContext(SQLModel, table=True):
    """An LMS course bound to one of our classrooms, with its AGS and NRPS endpoints."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("platform_id", "context_id", name="uq_lti_context"),)

    id: int | None = Field(default=None, primary_key=True)
    platform_id: int = Field(foreign_key="lti_platforms.id")
    deployment_id: str = Field(sa_column=Column(String(255), nullable=False))
    context_id: str = Field(sa_column=Column(String(255), nullable=False))
    classroom_id: int = Field(foreign_key="classrooms.id", unique=True)
    lineitems_url: str | None = Field(default=None, sa_column=Column(String(1024)))
    ags_scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    memberships_url: str | None = Field(default=None, sa_column=Column(String(1024)))


class LtiResourceLink(SQLModel, table=True):
    """An LMS link into a room (and maybe one exercise of it)."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (
        UniqueConstraint("lti_context_id", "resource_link_id", name="uq_lti_resource_link"),
    )

    id: int | None = Field(default=None, primary_key=True)
    lti_context_id: int = Field(foreign_key="lti_contexts.id")
    resource_link_id: str = Field(sa_column=Column(String(255), nullable=False))
    room_id: int = Field(foreign_key="rooms.id")
    exercise_id: str | None = Field(default=None, sa_column=Column(String(100)))


class LtiLineItem(SQLModel, table=True):
    """The gradebook column of one exercise in an LMS course."""

    __tablename__ = "lti_line_items"
    __table_args__ = (UniqueConstraint("lti_context_id", "exercise_id", name="uq_lti_line_item"),)

    id: int | None = Field(default=None, primary_key=True)
    lti_context_id: int = Field(foreign_key="lti_contexts.id")
    exercise_id: str = Field(sa_column=Column(String(100), nullable=False))
    url: str = Field(sa_column=Column(String(1024), nullable=False))


class LtiGradeSync(SQLModel, table=True):
    """The passback of one student's grade on one exercise: the latest score to send and
    whether it reached the LMS (``pending``, ``sent``, ``failed`` after the last retry,
    ``no_lms_user`` when the student has no account on that LMS)."""

    __tablename__ = "lti_grade_syncs"
    __table_args__ = (
        UniqueConstraint("lti_context_id", "user_id", "exercise_id", name="uq_lti_grade_sync"),
    )

    id: int | None = Field(default=None, primary_key=True)
    lti_context_id: int = Field(foreign_key="lti_contexts.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    exercise_id: str = Field(sa_column=Column(String(100), nullable=False))
    submission_id: int = Field(foreign_key="submissions.id")
    score: float
    max_score: float
    graded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _at()
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    sent_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    updated_at: datetime = _at()
