from __future__ import annotations

import json

import pytest

from sandbox.grading.exceptions import UnsupportedLanguage
from sandbox.grading.harness import (
    CONFIG_FILE,
    CaseVerdict,
    discover_cases,
    read_verdicts,
    reserved_names,
    unit_files,
)

NONCE = "0123456789abcdef"


def test_python_cases_are_top_level_test_functions_in_order() -> None:
    source = (
        "import os\n\ndef test_b():\n    pass\n\nasync def test_async():\n    pass\n\n"
        "class TestX:\n    def test_method(self):\n        pass\n\n"
        "def helper():\n    pass\n\ndef test_a():\n    pass\n"
    )
    assert discover_cases("python", source) == ["test_b", "test_a"]


def test_javascript_cases_are_literal_test_names() -> None:
    source = (
        'test("adds", () => {});\n'
        "test('subtracts',\n  async () => {});\n"
        'mytest("not a test", () => {});\n'
        'obj.test("nor this", () => {});\n'
        "// test(`template`) is not read\n"
    )
    assert discover_cases("javascript", source) == ["adds", "subtracts"]
    assert discover_cases("typescript", source) == ["adds", "subtracts"]


def test_c_cases_are_test_macros() -> None:
    source = '#include "grade_test.h"\nTEST(first) { CHECK(1); }\n  TEST( second ) {}\n// TEST(x)\n'
    assert discover_cases("c", source) == ["first", "second"]
    assert discover_cases("cpp", source) == ["first", "second"]


def test_go_cases_are_registered_names() -> None:
    source = (
        'package main\n\nvar _ = Test("adds", func() {})\nvar _ = Test( "b", f)\nx.Test("no")\n'
    )
    assert discover_cases("go", source) == ["adds", "b"]


def test_rust_cases_are_public_test_functions() -> None:
    source = "pub fn test_a() {}\nfn test_private() {}\n  pub fn test_c( ) {}\npub fn helper() {}\n"
    assert discover_cases("rust", source) == ["test_a", "test_c"]


def test_rust_runner_declares_modules_and_lists_tests() -> None:
    files = unit_files(
        "rust",
        test_file="test_gcd.rs",
        test_source="pub fn test_a() {}",
        cases=["test_a", "test_b"],
        submission={"gcd.rs": "", "main.rs": "fn main() {}", "notes.txt": "", "Bad.rs": ""},
        nonce=NONCE,
    )
    runner = files["main.rs"]
    assert '#[path = "test_gcd.rs"]\nmod test_gcd;' in runner
    assert '#[path = "gcd.rs"]\nmod gcd;' in runner
    assert "Bad" not in runner and "fn main() {}" not in runner
    assert '("test_a", test_gcd::test_a as fn()), ("test_b", test_gcd::test_b as fn())' in runner


def test_discovery_refusals() -> None:
    with pytest.raises(ValueError, match="two tests are named 'x'"):
        discover_cases("c", "TEST(x) {}\nTEST(x) {}\n")
    with pytest.raises(ValueError, match="line 1: invalid syntax"):
        discover_cases("python", "def test_x(:\n")
    with pytest.raises(UnsupportedLanguage):
        discover_cases("kotlin", "fun main() {}")


def test_unit_files_put_the_runner_at_the_entry_and_drop_clashing_files() -> None:
    submission = {"main.py": "print('mine')", "solution.py": "x = 1", "test_add.py": "fake"}
    files = unit_files(
        "python",
        test_file="test_add.py",
        test_source="def test_one(): pass",
        cases=["test_one"],
        submission=submission,
        nonce=NONCE,
    )
    assert next(iter(files)) == "main.py"
    assert "import importlib.util" in files["main.py"]
    assert files["test_add.py"] == "def test_one(): pass"
    assert files["solution.py"] == "x = 1"
    config = json.loads(files[CONFIG_FILE])
    assert config == {"nonce": NONCE, "file": "test_add.py", "cases": ["test_one"]}
    # the C runner reads the nonce with a fixed pattern at the start of the file
    assert files[CONFIG_FILE].startswith('{"nonce": "0123456789abcdef"')


def test_c_layout_ships_the_header() -> None:
    files = unit_files(
        "cpp", test_file="t.cpp", test_source="", cases=[], submission={"s.cpp": ""}, nonce=NONCE
    )
    assert set(files) == {"main.cpp", "grade_test.h", CONFIG_FILE, "t.cpp", "s.cpp"}
    assert "#define TEST(name)" in files["grade_test.h"]
    assert reserved_names("typescript") == {"main.ts", CONFIG_FILE, "grade_test.d.ts"}


def test_read_verdicts_takes_only_our_lines() -> None:
    marker = f"@@grade:{NONCE}@@ "
    stdout = "\n".join(
        [
            "student output",
            marker + json.dumps({"case": "a", "passed": True, "message": "", "output": "hi"}),
            "@@grade:ffffffffffffffff@@ " + json.dumps({"case": "b", "passed": True}),
            "text before " + marker + json.dumps({"case": "b", "passed": True}),
            marker + "{broken json",
            marker + "[" * 5000,  # deeper than Python's decoder goes: RecursionError
            marker + json.dumps(["not", "a", "record"]),
            marker + json.dumps({"case": "b", "passed": False, "message": "boom"}),
            marker + json.dumps({"case": "b", "passed": True, "message": "again"}),
            marker + json.dumps({"case": "c", "passed": "yes"}),
        ]
    )
    verdicts = read_verdicts(stdout, NONCE)
    assert verdicts.cases == {
        "a": CaseVerdict(True, "", "hi"),
        "b": CaseVerdict(False, "boom"),
    }
    assert not verdicts.done and verdicts.error is None
    done = read_verdicts(stdout + "\n" + marker + '{"done": true}\n', NONCE)
    assert done.done
    failed = read_verdicts(marker + '{"error": "no module"}\n', NONCE)
    assert failed.error == "no module" and not failed.cases


def test_verdict_texts_are_capped() -> None:
    record = {"case": "a", "passed": False, "message": "m" * 10_000, "output": "o" * 5000}
    verdict = read_verdicts(f"@@grade:{NONCE}@@ " + json.dumps(record), NONCE).cases["a"]
    assert verdict.message == "m" * 4000 + "… (cut)"
    assert verdict.output == "o" * 4000 + "… (cut)"
