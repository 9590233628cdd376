from __future__ import annotations

import pytest

from rooms.integrity.exceptions import UnknownLanguage
from rooms.integrity.tokens import LEXERS, tokenize

SAMPLES = {
    "python": (
        "def area(w, h):\n    # rect\n    return w * h + 2\n",
        "def size(a, b):\n    return a*b+7  # other\n",
    ),
    "javascript": (
        "function area(w, h) { return w * h + 2; } // c",
        "function size(a,b){\n return a*b+7;\n}",
    ),
    "typescript": (
        "function area(w: number): number { return w * 2; }",
        "function sz(q: number): number {\n  return q*9; /* x */ }",
    ),
    "c": (
        "int area(int w, int h) { /* c */ return w * h + 2; }",
        "int size(int a,int b){return a*b+7;}",
    ),
    "cpp": (
        "int area(int w, int h) { return w * h + 2; } // c",
        "int size(int a, int b)\n{\n  return a * b + 7;\n}",
    ),
    "go": (
        "func area(w int, h int) int { return w * h + 2 }",
        "func size(a int, b int) int {\n\t// c\n\treturn a*b + 7\n}",
    ),
    "rust": (
        "fn area(w: i32, h: i32) -> i32 { w * h + 2 }",
        "fn size(a: i32, b: i32) -> i32 {\n    // c\n    a * b + 7\n}",
    ),
}


@pytest.mark.parametrize("language", sorted(LEXERS))
def test_renaming_reformatting_comments_and_constants_do_not_change_the_stream(
    language: str,
) -> None:
    one, other = SAMPLES[language]
    assert tokenize(one, language).kinds == tokenize(other, language).kinds
    assert "V" in tokenize(one, language).kinds


def test_structure_changes_the_stream() -> None:
    assert tokenize("x = a + b\n", "python").kinds != tokenize("x = a - b\n", "python").kinds


def test_strings_are_one_token_and_lines_are_kept() -> None:
    tokens = tokenize('x = 1\n\ny = "a {b} c" + f"{x}!"\n', "python")
    assert tokens.kinds == ("V", "=", "N", "V", "=", "S", "+", "S", "V", "S")
    assert tokens.lines[:3] == (1, 1, 1)
    assert tokens.lines[3] == 3


def test_builtins_are_kept() -> None:
    assert "len" in tokenize("n = len(xs)\n", "python").kinds


def test_unknown_language_is_refused_with_the_list() -> None:
    with pytest.raises(UnknownLanguage, match="python"):
        tokenize("x", "cobol")
