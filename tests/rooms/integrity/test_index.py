from __future__ import annotations

from rooms.integrity.fingerprints import Fingerprint, fingerprint
from rooms.integrity.index import SimilarityIndex, compare


def prints(*hashes: int) -> list[Fingerprint]:
    return [Fingerprint(h, i, i + 1, i + 1) for i, h in enumerate(hashes)]


def test_incremental_counts_match_a_recomputation() -> None:
    index = SimilarityIndex()
    index.add(1, 10, prints(1, 2, 3, 4))
    index.add(2, 11, prints(3, 4, 5, 6))
    index.add(3, 12, prints(1, 2, 3, 4))
    assert index.similarity(1, 3) == 1.0
    assert index.similarity(1, 2) == 0.5
    # A new submission replaces the student's previous one.
    index.add(3, 13, prints(7, 8))
    assert index.similarity(1, 3) == 0.0
    assert [(p.a.owner, p.b.owner) for p in index.pairs()] == [(1, 2)]
    # An older one than indexed is ignored.
    index.add(3, 5, prints(1, 2, 3, 4))
    assert index.entry(3) is not None and index.entry(3).submission == 13  # type: ignore[union-attr]
    index.remove(2)
    assert index.pairs() == []
    assert len(index) == 2


def test_ignored_hashes_do_not_count() -> None:
    index = SimilarityIndex(ignored={1, 2, 3})
    index.add(1, 1, prints(1, 2, 3, 9))
    index.add(2, 2, prints(1, 2, 3, 8))
    assert index.similarity(1, 2) == 0.0
    assert index.pairs() == []


def test_ranked_with_fragments_and_limit() -> None:
    index = SimilarityIndex()
    index.add(1, 1, prints(*range(100, 120)))
    index.add(2, 2, prints(*range(100, 120)))
    index.add(3, 3, prints(*range(100, 105), *range(300, 315)))
    ranked = index.pairs()
    assert [round(p.similarity, 2) for p in ranked] == [1.0, 0.25, 0.25]
    assert ranked[0].fragments and ranked[0].fragments[0].a_lines == (1, 20)
    assert len(index.pairs(limit=1)) == 1
    assert index.pairs(min_similarity=0.5)[0].similarity == 1.0
    assert [(p.a.owner, p.b.owner) for p in index.pairs(exclude={2})] == [(1, 3)]


def test_real_code_fragments_point_at_the_copied_lines() -> None:
    shared = "".join(f"def f{i}(x):\n    return x * {i} + len(x)\n" for i in range(10))
    own_a = "".join(f"while a{i} < 3:\n    a{i} += {i}\n" for i in range(8))
    own_b = "".join(f"class K{i}:\n    pass\n" for i in range(8))
    a_text = own_a + shared
    b_text = shared + own_b
    index = SimilarityIndex()
    index.add(1, 1, fingerprint(a_text, "python"))
    index.add(2, 2, fingerprint(b_text, "python"))
    (pair,) = index.pairs()
    assert pair.fragments
    for frag in pair.fragments:
        assert frag.a_lines[0] >= 15  # the copied part of a starts on line 17
        assert frag.b_lines[1] <= 21  # and ends on line 20 of b


def test_compare_agrees_with_the_index() -> None:
    index = SimilarityIndex(ignored={9})
    index.add(1, 1, prints(1, 2, 3, 9))
    index.add(2, 2, prints(2, 3, 4, 9))
    value, found = compare(prints(1, 2, 3, 9), prints(2, 3, 4, 9), frozenset({9}))
    assert value == index.similarity(1, 2) == 2 * 2 / 6
    assert found == index.pair(1, 2).fragments
