"""Pairing a whole class: every student once, trios for the odd one, the strategies' order."""

from __future__ import annotations

import random

import pytest

from rooms.pairing import Candidate, Pair, PairingError, Strategy, make_pairs, repair, rotate


def _class(n: int) -> list[Candidate]:
    return [Candidate(user_id=i, score=float(i * 10)) for i in range(1, n + 1)]


@pytest.mark.parametrize("strategy", list(Strategy))
@pytest.mark.parametrize("n", [2, 3, 30, 31])
def test_everyone_is_in_exactly_one_group_of_two_or_three(strategy: Strategy, n: int) -> None:
    pairs = make_pairs(_class(n), strategy, random.Random(n), round_=4)
    members = [m for p in pairs for m in p.members]
    assert sorted(members) == list(range(1, n + 1))
    assert all(len(p.members) == 2 for p in pairs[: len(pairs)]) or n % 2
    assert sum(len(p.members) == 3 for p in pairs) == n % 2
    assert all(len(p.members) in (2, 3) for p in pairs)
    assert all(p.driver in p.members for p in pairs)
    assert len({p.group for p in pairs}) == len(pairs)
    assert all(p.group.startswith("r4g") for p in pairs)


def test_mixed_pairs_the_strongest_with_the_weakest_and_the_weaker_drives() -> None:
    pairs = make_pairs(_class(6), Strategy.MIXED, random.Random(1), round_=1)
    assert {frozenset(p.members) for p in pairs} == {
        frozenset({6, 1}),
        frozenset({5, 2}),
        frozenset({4, 3}),
    }
    assert {p.driver for p in pairs} == {1, 2, 3}


def test_alike_pairs_neighbours_and_the_weakest_odd_one_joins_the_lowest_pair() -> None:
    pairs = make_pairs(_class(5), Strategy.ALIKE, random.Random(1), round_=1)
    assert [sorted(p.members) for p in pairs] == [[4, 5], [1, 2, 3]]


def test_mixed_puts_the_median_student_in_the_middle_pair() -> None:
    pairs = make_pairs(_class(7), Strategy.MIXED, random.Random(1), round_=1)
    trio = next(p for p in pairs if len(p.members) == 3)
    assert 4 in trio.members


def test_one_student_cannot_be_paired() -> None:
    with pytest.raises(PairingError, match="at least two"):
        make_pairs(_class(1), Strategy.RANDOM, random.Random(1), round_=1)


def test_rotation_cycles_through_a_trio() -> None:
    pair = Pair("g", (1, 2, 3), 2)
    assert [
        rotate(pair).driver,
        rotate(rotate(pair)).driver,
        rotate(rotate(rotate(pair))).driver,
    ] == [3, 1, 2]


def test_repair_pairs_the_students_left_alone() -> None:
    pairs = [Pair("a", (1, 2), 1), Pair("b", (3, 4), 3), Pair("c", (5, 6), 5), Pair("d", (7, 8), 7)]
    online = {1, 2, 4, 6, 8}  # 3, 5, 7 left: 4, 6, 8 are alone
    fixed = repair(pairs, online, random.Random(2))
    # Two of the three left alone make a new pair; the third joins the intact pair "a".
    assert next(p for p in fixed if p.group.endswith("x")).members in {
        (4, 6),
        (6, 4),
        (4, 8),
        (8, 4),
        (6, 8),
        (8, 6),
    }
    group_a = next(p for p in fixed if p.group == "a")
    assert group_a.members[:2] == (1, 2) and len(group_a.members) == 3
    placed = sorted(m for p in fixed for m in p.members if m in online)
    assert placed == [1, 2, 4, 6, 8]
    for p in fixed:
        assert sum(m in online for m in p.members) != 1, p


def test_a_leaving_driver_hands_over() -> None:
    fixed = repair([Pair("a", (1, 2, 3), 1)], {2, 3}, random.Random(1))
    assert fixed == [Pair("a", (1, 2, 3), 2)]
