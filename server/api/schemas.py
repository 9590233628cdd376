"""Request and response bodies of the core API (accounts, classrooms, rooms)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from rooms import names
from server.ids import Id


def _shown_as_typed(text: str) -> str:
    """A name or title holding nothing that would show it as something else (rooms/names.py)."""
    found = names.problem(text)
    if found is not None:
        raise ValueError(found)
    return text


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
    AfterValidator(_shown_as_typed),
]
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    AfterValidator(_shown_as_typed),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(Strict):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class JoinBody(Strict):
    join_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=16)]
    name: Name


class UserOut(BaseModel):
    id: int
    name: str
    role: str


class ClassroomRef(BaseModel):
    id: int
    title: str


class TokenOut(BaseModel):
    token: str
    user: UserOut


class JoinOut(TokenOut):
    classroom: ClassroomRef
    rejoin_code: str | None = Field(
        default=None, description="The student's personal code to sign back in; shown once."
    )


class ClassroomBody(Strict):
    title: Title


class ClassroomOut(BaseModel):
    id: int
    title: str
    join_code: str | None = Field(default=None, description="Shown to staff only.")
    role: str | None = None


class ClassroomList(BaseModel):
    classrooms: list[ClassroomOut]


class RoomBody(Strict):
    title: Title
    kind: Literal["lesson", "pair"] = "lesson"


class RoomOut(BaseModel):
    id: int
    title: str
    kind: str
    classroom_id: int


class RoomList(BaseModel):
    rooms: list[RoomOut]


class MemberOut(BaseModel):
    id: int
    name: str
    role: str


class DocumentOut(BaseModel):
    name: str
    updated_at: str | None = None


class RoomDetail(RoomOut):
    role: str
    members: list[MemberOut]
    documents: list[DocumentOut]


class MemberBody(Strict):
    user_id: Id
    role: Literal["instructor", "assistant", "student"]
