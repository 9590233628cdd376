"""Numbers a client puts in a path, a query or a body, bounded before they reach the store.

Design note. Row ids are INTEGER columns: up to 2**31 - 1 on PostgreSQL, 2**63 - 1 on SQLite.
Starlette's ``{x:int}`` took any run of digits and the store was handed whatever came: on
PostgreSQL ``/api/rooms/2147483648`` failed the query ("integer out of range"), on SQLite
``/api/rooms/9223372036854775808`` raised OverflowError (a 500 with a traceback, from every
route with an id, signed in or not), and 5,000 digits made ``int()`` itself raise ValueError
while matching the route. The same held for ids in bodies and queries.

Rule 1 — a path id is ``{name:id}``: ASCII digits for a number from 0 to :data:`MAX_ID` (the
regular expression, :func:`at_most`, says exactly that, so a larger number never matches).
Anything else does not match the route: 404, as for an id that is not there.
Rule 2 — an id in a body is :data:`Id` (1 … :data:`MAX_ID`), checked by the body's model
(400 ``invalid_body``); one in a query or a header is read by :func:`parse_id`.
Rule 3 — the convertor is registered when this module is imported, which
:mod:`server.api.base` does (every module with routes imports it); a route declared with
``{x:id}`` before that fails at import ("Unknown path convertor"), never silently.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import Field
from starlette.convertors import Convertor, register_url_convertor

from rooms.events import MAX_ROW_ID

MAX_ID: Final = MAX_ROW_ID  # 2**31 - 1: room socket commands share it


def at_most(limit: int) -> str:
    """A regular expression for the decimal numbers from 0 to ``limit``, leading zeros
    allowed up to ``limit``'s length: shorter numbers, or as long and below it digit by digit."""
    digits = str(limit)
    shorter = f"[0-9]{{1,{len(digits) - 1}}}" if len(digits) > 1 else None
    same_length = [digits]
    for i, d in enumerate(digits):
        if d != "0":
            rest = len(digits) - i - 1
            below = f"[0-{int(d) - 1}]"
            same_length.append(digits[:i] + below + (f"[0-9]{{{rest}}}" if rest else ""))
    return "|".join(([shorter] if shorter else []) + same_length)


_ID = re.compile(f"(?:{at_most(MAX_ID)})")

Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class IdConvertor(Convertor[int]):
    regex = _ID.pattern

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        if not 0 <= value <= MAX_ID:
            raise ValueError(f"{value} is not a row id")
        return str(value)


register_url_convertor("id", IdConvertor())


def parse_id(raw: str | None) -> int | None:
    """``raw`` as a row id (rule 1's digits), or None."""
    if raw is None or _ID.fullmatch(raw) is None:
        return None
    return int(raw)
