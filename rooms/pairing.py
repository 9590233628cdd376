"""Pairs for a whole class, sans I/O: who works with whom, and who drives.

:func:`make_pairs` takes the online students with a skill score (the server computes it from
progress and XP) and a strategy:

``random``
    shuffled, then taken two by two;
``mixed``
    strong with weaker (the guide's peer matching): the strongest with the weakest, the
    second with the second weakest, …; the weaker partner drives first, so the stronger one
    explains rather than types;
``alike``
    like with like: neighbours in skill order.

With an odd number, the one left over joins a pair as a third member (a trio), never alone:
in ``random`` the last pair, in ``mixed`` the middle pair (the median student fits any), in
``alike`` the pair nearest in skill. Ties in score are broken by the random generator the
caller passes (seed it in tests). Driver and navigator: :func:`rotate` hands the keyboard to
the next member. :func:`repair` re-pairs students whose partners left.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Strategy(StrEnum):
    RANDOM = "random"
    MIXED = "mixed"
    ALIKE = "alike"


class PairingError(ValueError):
    """The class cannot be paired as asked; the message says why."""


@dataclass(frozen=True)
class Candidate:
    user_id: int
    score: float = 0.0


@dataclass(frozen=True)
class Pair:
    group: str
    members: tuple[int, ...]
    driver: int

    @property
    def navigators(self) -> tuple[int, ...]:
        return tuple(m for m in self.members if m != self.driver)

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "members": list(self.members), "driver": self.driver}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pair:
        members = tuple(int(m) for m in data["members"])
        driver = int(data["driver"])
        if driver not in members:
            raise ValueError(f"driver {driver} is not a member of {data['group']}")
        return cls(str(data["group"]), members, driver)


def group_name(round_: int, index: int) -> str:
    """``r{round}g{n}``: a valid ``pairs/{group}/…`` segment, new in every pairing."""
    return f"r{round_}g{index}"


def make_pairs(
    candidates: Sequence[Candidate], strategy: Strategy, rng: random.Random, round_: int
) -> list[Pair]:
    """Every candidate in exactly one pair (or one trio when their number is odd)."""
    people = list({c.user_id: c for c in candidates}.values())
    if len(people) < 2:
        raise PairingError("pairing needs at least two online students")
    rng.shuffle(people)
    # A stable sort after the shuffle: equal scores in random order.
    ranked = sorted(people, key=lambda c: -c.score)
    groups: list[list[Candidate]]
    if strategy is Strategy.RANDOM:
        groups = [people[i : i + 2] for i in range(0, len(people) - 1, 2)]
        if len(people) % 2:
            groups[-1].append(people[-1])
    elif strategy is Strategy.ALIKE:
        groups = [ranked[i : i + 2] for i in range(0, len(ranked) - 1, 2)]
        if len(ranked) % 2:
            groups[-1].append(ranked[-1])  # the weakest joins the two just above
    elif strategy is Strategy.MIXED:
        n = len(ranked)
        groups = [[ranked[i], ranked[n - 1 - i]] for i in range(n // 2)]
        if n % 2:
            groups[len(groups) // 2].append(ranked[n // 2])
    else:  # pragma: no cover - StrEnum is closed
        raise PairingError(f"unknown strategy {strategy!r}")
    pairs = []
    for index, group in enumerate(groups, start=1):
        members = tuple(c.user_id for c in group)
        if strategy is Strategy.MIXED:
            driver = min(group, key=lambda c: c.score).user_id
        else:
            driver = rng.choice(members)
        pairs.append(Pair(group_name(round_, index), members, driver))
    return pairs


def rotate(pair: Pair) -> Pair:
    """The next member (in member order) drives."""
    at = pair.members.index(pair.driver)
    return Pair(pair.group, pair.members, pair.members[(at + 1) % len(pair.members)])


def repair(pairs: Sequence[Pair], online: Collection[int], rng: random.Random) -> list[Pair]:
    """Pairs again for the students left alone by partners who went offline.

    A pair or trio with two or more online members stays (its driver passes on if the driver
    left). Students alone in their group are paired with each other in new groups named after
    their old ones (``{group}x``); a single one left over joins the smallest intact group.
    A group with nobody online stays as it was; a group whose one online member moved on is
    dissolved (its offline members are paired again at the next pairing)."""
    kept: list[Pair] = []
    alone: list[tuple[int, Pair]] = []
    for pair in pairs:
        here = [m for m in pair.members if m in online]
        if len(here) >= 2:
            driver = pair.driver if pair.driver in here else here[0]
            kept.append(Pair(pair.group, pair.members, driver))
        elif len(here) == 1:
            alone.append((here[0], pair))
        else:
            kept.append(pair)
    rng.shuffle(alone)
    while len(alone) >= 2:
        (a, pa), (b, _) = alone.pop(), alone.pop()
        kept.append(Pair(f"{pa.group}x", (a, b), a))
    if alone:
        student, old = alone.pop()
        intact = [p for p in kept if sum(m in online for m in p.members) >= 2]
        if intact:
            target = min(intact, key=lambda p: len(p.members))
            kept[kept.index(target)] = Pair(target.group, (*target.members, student), target.driver)
        else:
            kept.append(old)
    return kept
