"""Unit-test runs of the grader in JavaScript, TypeScript, C, C++, Go and Rust, on the real
sandbox (the Python ones and the rest of the grader are in test_grader.py)."""

from __future__ import annotations

from sandbox.grading import (
    grade,
)
from tests.sandbox.grading.conftest import Sandbox
from tests.sandbox.grading.test_grader import NOW, SOLUTIONS, by_name, examples, inline


async def test_javascript_unit_tests(sandbox: Sandbox) -> None:
    sandbox.need("javascript")
    exercise = examples()["stack"]
    fifo = SOLUTIONS["stack"]["stack.js"].replace("this.items.pop()", "this.items.shift()")
    result = await grade(exercise, {"stack.js": fifo}, run=sandbox.run, now=NOW)
    tests = by_name(result)
    assert tests["stack: starts empty"].passed and tests["stack: peek does not remove"].passed
    failed = tests["stack: pop returns the last pushed"]
    assert not failed.passed and failed.output.startswith("AssertionError")
    assert "1 !== 2" in failed.output
    assert result.score == 2.0


async def test_c_unit_crash_fails_only_that_test(sandbox: Sandbox) -> None:
    sandbox.need("c")
    exercise = examples()["gcd"]
    crashy = "int gcd(int a, int b) {\n    if (a == 0) { volatile int *p = 0; return *p; }\n"
    crashy += "    while (b) { int t = a % b; a = b; b = t; }\n    return a;\n}\n"
    result = await grade(exercise, {"gcd.c": crashy}, run=sandbox.run, now=NOW)
    tests = by_name(result)
    assert tests["gcd: coprime"].passed and tests["gcd: common_factor"].passed
    assert tests["gcd: with_zero"].output == "crashed: signal 11 (Segmentation fault)"
    assert result.score == 4.0
    wrong = await grade(
        exercise, {"gcd.c": "int gcd(int a, int b) { return a; }\n"}, run=sandbox.run, now=NOW
    )
    assert (
        by_name(wrong)["gcd: common_factor"].output == "test_gcd.c:8: gcd(12, 18) is 12, expected 6"
    )


async def test_cpp_and_typescript_unit_tests(sandbox: Sandbox) -> None:
    sandbox.need("cpp")
    cpp = inline(
        language="cpp",
        tests=[
            {
                "kind": "unit",
                "name": "sq",
                "file": "test_sq.cpp",
                "source": (
                    '#include "grade_test.h"\n#include <string>\nint square(int x);\n'
                    "TEST(small) { CHECK_EQ_INT(square(3), 9); }\n"
                    'TEST(text) { CHECK(std::to_string(square(4)) == "16"); }\n'
                    "TEST(negative) { CHECK(square(-2) == -4); }\n"
                ),
            }
        ],
    )
    result = await grade(
        cpp, {"sq.cpp": "int square(int x) { return x * x; }\n"}, run=sandbox.run, now=NOW
    )
    assert [t.passed for t in result.tests] == [True, True, False]
    assert by_name(result)["sq: negative"].output.startswith(
        "test_sq.cpp:6: CHECK(square(-2) == -4) failed"
    )
    sandbox.need("typescript")
    ts = inline(
        language="typescript",
        tests=[
            {
                "kind": "unit",
                "name": "greet",
                "file": "greet.test.ts",
                "source": (
                    'const assert = require("assert");\nimport { greet } from "./greet";\n'
                    'test("says hello", () => {\n'
                    '  assert.strictEqual(greet("Ada"), "Hello, Ada");\n});\n'
                    'test("shouts", async () => {\n'
                    '  assert.strictEqual(greet("ADA"), "HELLO, ADA");\n});\n'
                ),
            }
        ],
    )
    source = "export function greet(name: string): string {\n  return `Hello, ${name}`;\n}\n"
    result = await grade(ts, {"greet.ts": source}, run=sandbox.run, now=NOW)
    assert [t.passed for t in result.tests] == [True, False]


GO_TESTS = """\
package main

var _ = Test("adds", func() {
\tCheck(Add(1, 2) == 3, "Add(1, 2) should be 3")
})

var _ = Test("negative", func() {
\tCheck(Add(-1, -2) == -3, "Add(-1, -2) should be -3")
})

var _ = Test("indexes", func() {
\txs := []int{1}
\tCheck(xs[Add(1, 1)] == 1, "unreachable")
})
"""


RUST_TESTS = """\
use crate::gcd::gcd;

pub fn test_coprime() {
    assert_eq!(gcd(8, 15), 1);
}

pub fn test_zero() {
    assert_eq!(gcd(0, 0), 0, "gcd(0, 0) is 0");
}
"""


async def test_go_unit_tests(sandbox: Sandbox) -> None:
    sandbox.need("go")
    exercise = inline(
        language="go",
        tests=[{"kind": "unit", "name": "add", "file": "add_cases.go", "source": GO_TESTS}],
    )
    add = "package main\n\nfunc Add(a, b int) int {\n\tif a < 0 {\n\t\treturn 0\n\t}\n"
    add += "\treturn a + b\n}\n"
    result = await grade(exercise, {"add.go": add}, run=sandbox.run, now=NOW)
    tests = by_name(result)
    assert tests["add: adds"].passed
    assert tests["add: negative"].output == "Add(-1, -2) should be -3"
    assert tests["add: indexes"].output.startswith("panic: runtime error: index out of range")


async def test_rust_unit_tests(sandbox: Sandbox) -> None:
    sandbox.need("rust")
    exercise = inline(
        language="rust",
        tests=[{"kind": "unit", "name": "gcd", "file": "test_gcd.rs", "source": RUST_TESTS}],
    )
    good = "pub fn gcd(a: u32, b: u32) -> u32 {\n    if b == 0 { a } else { gcd(b, a % b) }\n}\n"
    result = await grade(exercise, {"gcd.rs": good}, run=sandbox.run, now=NOW)
    assert [t.passed for t in result.tests] == [True, True]
    bad = "pub fn gcd(a: u32, b: u32) -> u32 {\n    a / b\n}\n"
    result = await grade(exercise, {"gcd.rs": bad}, run=sandbox.run, now=NOW)
    assert [t.passed for t in result.tests] == [False, False]
    assert "attempt to divide by zero" in by_name(result)["gcd: test_zero"].output
