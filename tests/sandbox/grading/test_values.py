"""Type-tagged values: strict parsing of what a harness reports, the server's comparison, and the
literals and record reading of value runs (pure)."""

from __future__ import annotations

import json

import pytest

from sandbox.grading import valuetests
from sandbox.grading.definitions import ValueTest
from sandbox.grading.values import Malformed, equal, parse, show, tag


def t(value: object) -> dict[str, object]:
    return tag(value)


def test_tags_of_plain_values() -> None:
    assert tag(None) == {"t": "null"}
    assert tag(True) == {"t": "bool", "v": True}
    assert tag(12345678901234567890) == {"t": "int", "v": "12345678901234567890"}
    assert tag(0.1) == {"t": "float", "v": "0.1"}
    assert tag({"a": [1, "x"]}) == {
        "t": "dict",
        "v": [[{"t": "str", "v": "a"}, {"t": "list", "v": [t(1), t("x")]}]],
    }
    with pytest.raises(ValueError, match="cannot be an expected value"):
        tag({1, 2})


def test_types_are_strict() -> None:
    assert equal(t(1), t(1)) is None
    assert equal(t(1), t(1.0)) == "expected an int, got a float: 1.0"
    assert equal(t(1), t(True)) == "expected an int, got a bool: true"
    assert equal(t("1"), t(1)) == "expected a str, got an int: 1"
    assert equal(t(None), t(0)) is not None
    # the one widening: an int where a float is expected (JavaScript numbers)
    assert equal(t(2.0), t(2)) is None


def test_float_tolerance_and_special_values() -> None:
    assert equal(t(0.3), t(0.1 + 0.2)) is not None
    assert equal(t(0.3), t(0.1 + 0.2), abs_tol=1e-9) is None
    assert equal(t(100.0), t(101.0), rel_tol=0.02) is None
    assert equal(t(float("nan")), {"t": "float", "v": "NaN"}) is None
    assert equal(t(float("inf")), {"t": "float", "v": "Infinity"}) is None
    assert equal(t(float("inf")), t(1e308), abs_tol=1e309) is not None


def test_lists_and_dicts_compare_deeply_dicts_in_any_order() -> None:
    assert equal(t([1, [2, 3]]), t([1, [2, 4]])) == "item 1: item 1: expected 3, got 4"
    assert equal(t([1]), t([1, 2])) == "expected 1 items, got 2: [1, 2]"
    got = {"t": "dict", "v": [[t("b"), t(2)], [t("a"), t(1)]]}
    assert equal(t({"a": 1, "b": 2}), got) is None
    doubled = {"t": "dict", "v": [[t("a"), t(1)], [t("a"), t(1)]]}
    assert equal(t({"a": 1}), doubled) is not None
    assert equal(t("x"), {"t": "other", "v": "Liar"}) == "expected a str, got an other: <Liar>"


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"t": "int", "v": 5}',
        '{"t": "int", "v": "5.0"}',
        '{"t": "int", "v": "5", "extra": 1}',
        '{"t": "float", "v": "fast"}',
        '{"t": "list", "v": [1]}',
        '{"t": "dict", "v": [[{"t": "null"}]]}',
        '{"t": "object", "v": "x"}',
        '{"t": "bool", "v": "true"}',
        '{"t": "list", "v": ' + "[" * 2000 + "]" * 2000 + "}",
    ],
)
def test_malformed_documents_are_refused(text: str) -> None:
    with pytest.raises(Malformed):
        parse(text)


def test_show_is_readable_and_cut() -> None:
    assert show(t({"k": [None, 1.5, "é"]})) == '{"k": [null, 1.5, "é"]}'
    assert show(t("x" * 500)).endswith("…")


def test_read_case_separates_the_record_from_the_output() -> None:
    report = valuetests.read_case('hi\n\n\x1evalue {"t": "int", "v": "3"}\n')
    assert report.value == t(3) and report.output == "hi" and not report.tampered
    twice = valuetests.read_case('\x1evalue {"t": "int", "v": "3"}\n\x1eraised "x"\n')
    assert twice.tampered and twice.value is None
    raised = valuetests.read_case('\n\x1eraised "ZeroDivisionError"\n')
    assert raised.raised == "ZeroDivisionError"
    assert valuetests.read_case("bye\n").problem == "the program ended without returning a value"
    broken = valuetests.read_case('\x1evalue {"t": "int"}\n')
    assert broken.problem is not None and broken.problem.startswith("the reported value is")
    # The student's code may write a record itself, nested past Python's decoder: read as
    # text, never a RecursionError out of the grader.
    deep = valuetests.read_case("\x1eraised " + "[" * 5000 + "\n")
    assert deep.raised == "[" * 5000


def test_literals_of_generated_harnesses() -> None:
    assert valuetests.c_literal([1, 2]) == "(int[]){1, 2}, 2"
    assert valuetests.c_literal([1, 2.5]) == "(double[]){1.0, 2.5}, 2"
    assert valuetests.c_literal([]) == "NULL, 0"
    assert valuetests.c_literal(-3) == "(-3)"
    assert valuetests.c_literal(2**40) == "1099511627776LL"
    assert valuetests.c_literal('a"é\n') == '"a\\042\\303\\251\\012"'
    assert valuetests.check_args("c", [[[1]]]) is not None
    assert valuetests.check_args("c", [{"a": 1}]) is not None
    assert valuetests.cpp_literal({"a": [1.5, float("inf")]}) == (
        '{{"a", {1.5, std::numeric_limits<double>::infinity()}}}'
    )
    assert valuetests.rust_literal(["x", None]) == (
        'crate::Gv::List(vec![crate::Gv::Str("x"), crate::Gv::Null])'
    )


def test_value_run_layout_keeps_expected_values_out() -> None:
    test = ValueTest("t", "f", (1, "two"), "SECRET-EXPECTED")
    for language in sorted(valuetests.SUPPORTED):
        files, cases = valuetests.value_run(language, [(test, "sol.x")], {"sol.x": "code"})
        blob = json.dumps([files, [c.stdin for c in cases], [c.args for c in cases]])
        assert "SECRET-EXPECTED" not in blob, language
        assert [c.args for c in cases] == [("0",)]
        assert json.loads(cases[0].stdin) == {"file": "sol.x", "function": "f", "args": [1, "two"]}
