"""One-line errors: the telling line of an output, its signature, clusters."""

from __future__ import annotations

from rooms.cockpit.errors import (
    error_line,
    first_failure,
    owning_test,
    signature,
    verdicts,
)

TRACEBACK = """runtime error (exit code 1)
--- stderr ---
Traceback (most recent call last):
  File "/work/main.py", line 3, in <module>
    print(totl)
NameError: name 'totl' is not defined. Did you mean: 'total'?
"""
GCC = """compile error
main.c:4:12: error: 'count' undeclared (first use in this function)
    4 |     return count + 1;
      |            ^~~~~
"""


def test_error_line_picks_the_telling_line() -> None:
    assert error_line(TRACEBACK) == "NameError: name 'totl' is not defined. Did you mean: 'total'?"
    assert error_line(GCC) == "main.c:4:12: error: 'count' undeclared (first use in this function)"
    assert error_line("line 1: expected 'ADA', got 'ada'\n--- input ---\nada") == (
        "line 1: expected 'ADA', got 'ada'"
    )
    assert error_line("") == ""
    assert len(error_line("x" * 1000)) == 200


def test_signature_strips_names_numbers_and_paths() -> None:
    a = signature("NameError: name 'totl' is not defined. Did you mean: 'total'?")
    b = signature("NameError: name 'summ' is not defined. Did you mean: 'sum'?")
    c = signature("NameError: name 'x' is not defined")
    assert a == b == c == "NameError: name <name> is not defined"
    assert signature("main.c:4:12: error: 'count' undeclared") == signature(
        "/tmp/x/main.c:9:1: error: 'n' undeclared; did you mean 'm'?"
    )
    assert signature("IndexError: list index 7 out of range") == (
        "IndexError: list index <n> out of range"
    )
    assert signature("line 12: expected 4.5, got -3") == "line <n>: expected <n>, got <n>"


def test_first_failure_and_verdicts_of_results() -> None:
    results = {
        "tests": [
            {"name": "one", "status": "passed", "output": "passed"},
            {"name": "two", "status": "failed", "output": TRACEBACK},
            {"name": "three", "status": "failed", "output": "line 1: expected 'x', got 'y'"},
        ]
    }
    assert first_failure(results) == ("two", error_line(TRACEBACK))
    assert first_failure({"tests": [{"name": "one", "status": "passed"}]}) == ("", "")
    assert first_failure(None, "sandbox down") == ("", "sandbox down")
    assert first_failure(None) == ("", "")
    assert verdicts(results, ["one", "two", "three"]) == {"one": True, "two": False, "three": False}
    unit = {"tests": [{"name": "u: a", "status": "passed"}, {"name": "u: b", "status": "failed"}]}
    assert verdicts(unit, ["u"]) == {"u": False}
    assert verdicts(None, ["u"]) == {}


def test_unit_cases_belong_to_their_test() -> None:
    names = ["adds", "unit file"]
    assert owning_test("adds", names) == "adds"
    assert owning_test("unit file: test_zero", names) == "unit file"
    assert owning_test("addsmore", names) is None
