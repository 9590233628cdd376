from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.grading import (
    InvalidExercise,
    check_course_exercises,
    load_course_exercises,
    load_exercise,
)
from sandbox.grading.definitions import UnitTest
from sandbox.grading.dump import exercise_to_dict
from sandbox.grading.loading import toml_lines
from sandbox.grading.schema import exercise_from_dict

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "course" / "exercises"

TOML = '''\
id = "add"
title = "Add"
language = "python"
prompt = """
Add two numbers.
points = 3
"""

[rubric]
correctness = 1

[[tests]]
name = "first"
expected = "3"

[[tests]]
name = "second"
expected = "4"
{extra}
'''

YAML = """\
id: add
title: Add
language: python
tests:
  - name: first
    expected: "3"
  - name: second
    expected: "4"
{extra}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> InvalidExercise:
    with pytest.raises(InvalidExercise) as info:
        load_exercise(path)
    return info.value


def test_examples_load_and_round_trip() -> None:
    exercises = load_course_exercises(EXAMPLES)
    ids = [exercise.id for exercise in exercises]
    assert sorted(ids) == ["clamp", "fizzbuzz", "gcd", "greet", "mean", "stack", "word-count"]
    languages = {exercise.language for exercise in exercises}
    assert {"python", "javascript", "c"} <= languages
    for exercise in exercises:
        assert exercise_from_dict(json.loads(json.dumps(exercise_to_dict(exercise)))) == exercise
    fizzbuzz = next(e for e in exercises if e.id == "fizzbuzz")
    unit = fizzbuzz.tests[0]
    assert isinstance(unit, UnitTest)
    assert unit.source == (EXAMPLES / "fizzbuzz" / "test_fizzbuzz.py").read_text()


def test_toml_error_in_a_test_names_its_line(tmp_path: Path) -> None:
    error = refused(write(tmp_path, "add.toml", TOML.format(extra='compare = "fuzzy"')))
    assert (error.line, error.reason) == (
        19,
        "tests[1].compare: expected one of exact, trim, regex, numeric, got 'fuzzy'",
    )
    assert str(error) == f"{tmp_path / 'add.toml'}:19: {error.reason}"


def test_toml_missing_key_points_at_its_table(tmp_path: Path) -> None:
    text = TOML.format(extra="").replace('expected = "4"\n', "")
    error = refused(write(tmp_path, "add.toml", text))
    assert (error.line, error.reason) == (16, "tests[1].expected: missing required key")


def test_toml_unknown_key_line_ignores_multiline_strings(tmp_path: Path) -> None:
    # "points = 3" inside the prompt must not be mistaken for a key
    text = TOML.format(extra="").replace("correctness = 1", "correctness = 1\npionts = 2")
    error = refused(write(tmp_path, "add.toml", text))
    assert (error.line, error.reason) == (11, "rubric.pionts: unknown key")


def test_toml_syntax_error(tmp_path: Path) -> None:
    error = refused(write(tmp_path, "add.toml", TOML.format(extra="points = ")))
    assert error.line == 19
    assert error.reason == "Invalid value"


def test_toml_lines_map() -> None:
    lines = toml_lines(TOML.format(extra=""))
    assert lines[("id",)] == 1
    assert lines[("rubric", "correctness")] == 10
    assert lines[("tests", 0)] == 12
    assert lines[("tests", 1, "expected")] == 18
    assert ("points",) not in lines


def test_yaml_error_names_its_line(tmp_path: Path) -> None:
    error = refused(write(tmp_path, "add.yaml", YAML.format(extra="    points: lots")))
    assert (error.line, error.reason) == (9, "tests[1].points: expected a number, got string")


def test_yaml_syntax_error(tmp_path: Path) -> None:
    error = refused(write(tmp_path, "add.yml", YAML.format(extra="  - name: [unclosed")))
    assert error.line == 10
    assert error.reason.startswith("YAML: ")


def test_yaml_aliases_are_refused(tmp_path: Path) -> None:
    text = YAML.format(extra="") + "prompt: &p hi\nextra: *p\n"
    error = refused(write(tmp_path, "add.yaml", text))
    assert (error.line, error.reason) == (11, "YAML aliases (*name) are not supported")


@pytest.mark.parametrize(
    ("name", "value"),
    [("add.toml", "x = " + "[" * 3000 + "]" * 3000), ("add.yaml", "x: " + "[" * 3000 + "]" * 3000)],
)
def test_nesting_past_the_parsers_recursion_is_a_bad_file(
    tmp_path: Path, name: str, value: str
) -> None:
    # tomllib and PyYAML recurse per level: a RecursionError failed the whole import.
    error = refused(write(tmp_path, name, value + "\n"))
    assert (error.line, error.reason) == (1, "nested too deeply")


def test_unit_test_file_is_read_next_to_the_exercise(tmp_path: Path) -> None:
    folder = tmp_path / "adder"
    folder.mkdir()
    (folder / "test_add.py").write_text("def test_one():\n    assert True\n")
    write(
        folder, "exercise.yaml", YAML.format(extra="  - {kind: unit, name: u, file: test_add.py}")
    )
    exercise = load_exercise(folder / "exercise.yaml")
    unit = exercise.tests[2]
    assert isinstance(unit, UnitTest) and [c.name for c in unit.cases] == ["test_one"]
    text = YAML.format(extra="  - {kind: unit, name: u, file: test_gone.py}")
    error = refused(write(folder, "exercise.yaml", text))
    assert error.reason == "tests[2].file: cannot read test_gone.py: No such file or directory"
    assert error.line == 9


def test_bad_files(tmp_path: Path) -> None:
    assert (
        refused(tmp_path / "none.toml").reason == "cannot read the file: No such file or directory"
    )
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'title = "caf\xe9"\n')
    assert refused(bad).reason == "not UTF-8 text (byte 12)"
    big = write(tmp_path, "big.toml", "#" * (1024 * 1024 + 1))
    assert refused(big).reason == "the file is larger than 1048576 bytes"
    assert refused(write(tmp_path, "x.json", "{}")).reason == (
        "not an exercise file (expected one of ('.toml', '.yaml', '.yml'))"
    )


@pytest.mark.parametrize(
    ("name", "text", "line", "reason"),
    [
        ("a.toml", TOML.replace('title = "Add"', 'title = "A\\u0000dd"'), 2, "title: holds"),
        (
            "b.yaml",
            YAML.replace('expected: "4"', 'expected: "4\\0"'),
            8,
            "tests[1].expected: holds",
        ),
    ],
)
def test_a_string_holding_nul_is_refused(
    tmp_path: Path, name: str, text: str, line: int, reason: str
) -> None:
    """A TOML or YAML escape writes U+0000; PostgreSQL's text refused it (a 500 on import)."""
    error = refused(write(tmp_path, name, text.format(extra="")))
    assert (error.line, error.reason) == (line, f"{reason} U+0000 (NUL), which is not text")


def test_course_folder_refuses_duplicate_ids(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", TOML.format(extra=""))
    write(tmp_path, "b.yaml", YAML.format(extra=""))
    (tmp_path / "README.md").write_text("not an exercise")
    with pytest.raises(InvalidExercise) as info:
        load_course_exercises(tmp_path)
    assert (
        str(info.value)
        == f"{tmp_path / 'b.yaml'}: exercise id 'add' is already used by {tmp_path / 'a.toml'}"
    )
    (tmp_path / "b.yaml").unlink()
    assert [e.id for e in load_course_exercises(tmp_path)] == ["add"]


def test_course_check_reports_every_bad_file(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", TOML.format(extra=""))
    write(tmp_path, "b.toml", TOML.format(extra='compare = "fuzzy"'))
    (tmp_path / "c").mkdir()
    write(tmp_path / "c", "exercise.yaml", YAML.format(extra="    points: lots"))
    good, problems = check_course_exercises(tmp_path)
    assert [e.id for e in good] == ["add"]
    assert [(Path(p.source).name, p.line) for p in problems] == [
        ("b.toml", 19),
        ("exercise.yaml", 9),
    ]
    assert check_course_exercises(tmp_path / "nowhere")[1][0].reason == "not a folder"


def test_unknown_language_names_its_file_and_line(tmp_path: Path) -> None:
    text = TOML.format(extra="").replace('language = "python"', 'language = "cobol"')
    error = refused(write(tmp_path, "add.toml", text))
    assert str(error) == (
        f"{tmp_path / 'add.toml'}:3: language: unknown language 'cobol'; "
        "known: c, cpp, go, javascript, python, rust, typescript"
    )
