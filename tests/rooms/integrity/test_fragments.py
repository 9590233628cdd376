from __future__ import annotations

from rooms.integrity.fingerprints import Fingerprint
from rooms.integrity.fragments import fragments


def fp(h: int, index: int, line: int) -> Fingerprint:
    return Fingerprint(h, index, line, line + 1)


def test_consecutive_matches_chain_into_one_fragment() -> None:
    a = [fp(h, i * 3, i + 1) for i, h in enumerate(range(10))]
    b = [fp(h, 50 + i * 3, 40 + i) for i, h in enumerate(range(10))]
    (frag,) = fragments(a, b)
    assert frag.to_dict() == {"a_lines": [1, 11], "b_lines": [40, 50]}
    assert frag.matches == 10


def test_reordered_blocks_give_separate_fragments() -> None:
    a = [Fingerprint(h, i * 2, i + 1, i + 1) for i, h in enumerate([1, 2, 3, 7, 8, 9])]
    b = [Fingerprint(h, i * 2, i + 1, i + 1) for i, h in enumerate([7, 8, 9, 1, 2, 3])]
    found = fragments(a, b, gap=2)
    assert [f.to_dict() for f in found] == [
        {"a_lines": [1, 3], "b_lines": [4, 6]},
        {"a_lines": [4, 6], "b_lines": [1, 3]},
    ]


def test_ignored_hashes_make_no_fragment() -> None:
    a = [fp(1, 0, 1)]
    assert fragments(a, a, ignored={1}) == []
