from __future__ import annotations

from rooms.integrity.index import SimilarityIndex
from rooms.integrity.sources import compared_text, given_hashes, lines_of, submission_prints

STARTER = "".join(
    f"def helper_{i}(data):\n    return [x * {i} for x in data if x]\n" for i in range(8)
)


def test_files_are_compared_in_name_order_as_one_text() -> None:
    assert compared_text({"b.py": "two", "a.py": "one\n"}) == "one\ntwo\n"
    assert lines_of("a\nb\nc", [2, 3, 9]) == ["b", "c", ""]


def test_starter_code_is_not_evidence() -> None:
    ignored = given_hashes("python", {"main.py": STARTER})
    index = SimilarityIndex(ignored)
    index.add(1, 1, submission_prints({"main.py": STARTER + "print(helper_1([1]))\n"}, "python"))
    index.add(
        2, 2, submission_prints({"main.py": STARTER + "x = 3\nwhile x:\n    x -= 1\n"}, "python")
    )
    assert index.similarity(1, 2) == 0.0
    plain = SimilarityIndex()
    plain.add(1, 1, submission_prints({"main.py": STARTER + "print(helper_1([1]))\n"}, "python"))
    plain.add(
        2, 2, submission_prints({"main.py": STARTER + "x = 3\nwhile x:\n    x -= 1\n"}, "python")
    )
    assert plain.similarity(1, 2) > 0.5  # without the exclusion, the starter alone looks copied


def test_only_the_first_part_of_a_huge_submission_is_lexed() -> None:
    from rooms.integrity.sources import MAX_COMPARED_CHARS

    huge = "x = 1\n" * (MAX_COMPARED_CHARS // 3)
    prints = submission_prints({"main.py": huge}, "python")
    assert max(p.end_line for p in prints) <= MAX_COMPARED_CHARS // 6 + 1
