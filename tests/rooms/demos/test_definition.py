from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rooms.demos.definition import Format, format_of, from_dict, load, parse
from rooms.demos.exceptions import DefinitionError
from rooms.demos.model import (
    CodeContent,
    GraphFrame,
    LineRange,
    QuizContent,
    QuizKind,
    StepType,
    VisualizationContent,
)
from sandbox.grading.loading import load_course_exercises
from sandbox.model import RunResult, RunStatus

HERE = Path(__file__).parent
BROKEN = HERE / "broken"
COURSE = HERE.parents[2] / "examples" / "course"

TYPES = "expected one of explanation, code, visualization, interaction, exercise"
MERMAID = (
    "graph, flowchart, sequenceDiagram, classDiagram, stateDiagram, stateDiagram-v2, erDiagram, "
    "journey, gantt, pie, mindmap, timeline, gitGraph, quadrantChart"
)
EXPECTED = {
    "unknown_step_type.toml": f"26: step 3 (type 'quiz'): unknown step type; {TYPES}",
    "bad_difficulty.toml": "3: difficulty: "
    "'hard' is not one of beginner, intermediate, advanced, expert",
    "toml_syntax.toml": "15: invalid TOML: Expected '=' after a key in a key/value pair",
    "highlight_outside.toml": "28: step 2 (type 'code'): content.files[1].highlight[1]: "
    "line range 2-4 is outside the file (2 lines)",
    "missing_source.toml": "14: step 1 (type 'code'): content.files[0].source: "
    "cannot read 'code/missing.py': No such file or directory",
    "escaping_source.toml": "14: step 1 (type 'code'): content.files[0].source: "
    "'../../../../etc/passwd' must be a relative path inside the demo folder",
    "pause_without_auto.toml": "14: step 1 (type 'explanation'): timing.pause_points: "
    "pause points need auto_advance = true",
    "auto_without_duration.toml": "12: step 1 (type 'explanation'): timing: "
    "auto_advance needs a duration (seconds)",
    "pause_after_end.toml": "15: step 1 (type 'explanation'): timing.pause_points: "
    "30 is not before the end of the step (30 s)",
    "duplicate_step_id.toml": "14: step 2 (type 'explanation'): id: duplicate step id 'intro'",
    "unknown_key.toml": "13: step 1 (type 'explanation'): timing.auto_advnce: "
    "unknown key; expected one of auto_advance, duration, pause_points",
    "check_both.toml": "22: step 2 (type 'code'): validation: "
    "give exactly one of 'files' or 'student_file' (the student's document)",
    "missing_type.toml": "13: step 2: missing required key 'type'",
    "no_steps.toml": "6: steps: a demo needs at least one step",
    "single_two_correct.yaml": "12: step 1 (type 'interaction'): content.choices: "
    "a single-choice quiz has exactly one correct choice, not 2",
    "short_with_choices.yaml": "9: step 1 (type 'interaction'): content: "
    "a short-answer quiz has 'accept' (the right answers) and no 'choices'",
    "yaml_syntax.yaml": "8: invalid YAML: expected <block end>, but found '<block mapping start>'",
    "tree_two_parents.yaml": "19: step 2 (type 'visualization'): content.frames[1].edges: "
    "node 'c' has two parents; a tree has one",
    "mermaid_unknown.yaml": "11: step 1 (type 'visualization'): content.mermaid: "
    f"unknown diagram type 'flowchat'; expected one of {MERMAID}",
    "array_highlight.yaml": "15: step 1 (type 'visualization'): content.frames[1].highlight[1]: "
    "index 3 is outside the array (0..2)",
    "no_front_matter.md": "1: a Markdown demo starts with YAML front matter between '---' lines",
    "md_bad_exercise.md": "20: step 2 (type 'exercise'): content.exercise: "
    "'Fizz Buzz' is not a valid id (lowercase letters, digits, - and _)",
    "md_explanation_without_text.md": "21: step 2 (type 'explanation'): content: "
    "missing required key 'text'",
    "md_unclosed_block.md": "9: the ```step block has no closing fence",
    # A YAML or TOML escape writes NUL; PostgreSQL's text refused it (a 500 on the import).
    "nul_in_text.yaml": "11: step 1 (type 'interaction'): content.question: "
    "holds U+0000 (NUL), which is not text",
}


def test_every_broken_fixture_has_an_expected_message() -> None:
    assert sorted(p.name for p in BROKEN.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_file_is_refused_with_file_line_and_reason(name: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        load(BROKEN / name, display=f"broken/{name}")
    assert str(caught.value) == f"broken/{name}:{EXPECTED[name]}"
    assert caught.value.file == f"broken/{name}"
    assert caught.value.line == int(EXPECTED[name].split(":")[0])


def test_the_example_course_parses_and_covers_every_step_type() -> None:
    demos = [load(p) for p in sorted((COURSE / "demos").iterdir()) if format_of(p.name)]
    assert len(demos) >= 2
    assert len({d.id for d in demos}) == len(demos)
    complete = [d for d in demos if {s.type for s in d.steps} == set(StepType)]
    assert complete, "no example demo uses every step type"
    formats = {format_of(p.name) for p in (COURSE / "demos").iterdir()}
    assert formats >= {Format.TOML, Format.YAML, Format.MARKDOWN}


def test_example_demos_point_at_exercises_of_the_course() -> None:
    known = {exercise.id for exercise in load_course_exercises(COURSE / "exercises")}
    assert "fizzbuzz" in known
    for path in (COURSE / "demos").iterdir():
        if format_of(path.name):
            for exercise in load(path).exercise_ids():
                assert exercise in known, f"{path.name} points at missing exercise {exercise}"


def test_code_steps_read_source_files_and_highlights() -> None:
    demo = load(COURSE / "demos" / "sorting.toml")
    content = demo.steps[2].content
    assert isinstance(content, CodeContent)
    source = (COURSE / "demos" / "code" / "bubble_sort.py").read_text()
    assert content.files[0].text == source
    assert content.files[0].highlight == (LineRange(5, 5), LineRange(9, 9), LineRange(10, 11))


@pytest.mark.parametrize("name", ["sorting.toml", "recursion.md", "binary-search-tree.yaml"])
def test_stored_json_round_trips_to_the_same_definition(name: str) -> None:
    demo = load(COURSE / "demos" / name)
    stored = json.loads(json.dumps(demo.to_dict()))
    assert from_dict(stored) == demo


def test_stored_json_is_validated_too() -> None:
    data = load(COURSE / "demos" / "sorting.toml").to_dict()
    data["steps"][0]["type"] = "quiz"
    with pytest.raises(DefinitionError, match=r"^<stored>:1: step 1 \(type 'quiz'\): unknown"):
        from_dict(data)


def test_public_step_hides_the_right_answer() -> None:
    demo = load(COURSE / "demos" / "sorting.toml")
    quizzes = [s for s in demo.steps if s.type is StepType.INTERACTION]
    for step in quizzes:
        text = json.dumps(step.public_dict())
        assert '"correct"' not in text and '"accept"' not in text
    single = quizzes[0].content
    assert isinstance(single, QuizContent)
    assert single.right_answer == 1
    checked = next(s for s in demo.steps if s.validation)
    assert "expected_stdout" not in json.dumps(checked.public_dict())


SAME_DEMO = {
    Format.TOML: """
id = "tiny"
title = "Tiny"
difficulty = "expert"
estimated_minutes = 2
[[steps]]
id = "q"
type = "interaction"
title = "Pick"
[steps.content]
kind = "multiple"
question = "Even?"
choices = [{text = "2", correct = true}, {text = "3"}, {text = "4", correct = true}]
[steps.timing]
auto_advance = true
duration = 20
pause_points = [5, 10]
""",
    Format.YAML: """
id: tiny
title: Tiny
difficulty: expert
estimated_minutes: 2
steps:
  - id: q
    type: interaction
    title: Pick
    content:
      kind: multiple
      question: Even?
      choices: [{text: "2", correct: true}, {text: "3"}, {text: "4", correct: true}]
    timing: {auto_advance: true, duration: 20, pause_points: [5, 10]}
""",
    Format.MARKDOWN: """---
id: tiny
title: Tiny
difficulty: expert
estimated_minutes: 2
---
## Pick
```step
id: q
type: interaction
content:
  kind: multiple
  question: Even?
  choices: [{text: "2", correct: true}, {text: "3"}, {text: "4", correct: true}]
timing: {auto_advance: true, duration: 20, pause_points: [5, 10]}
```
""",
}


def test_the_three_formats_give_the_same_definition() -> None:
    parsed = [parse(text, file=f"tiny.{fmt}", fmt=fmt) for fmt, text in SAME_DEMO.items()]
    assert parsed[0] == parsed[1] == parsed[2]
    quiz = parsed[0].steps[0].content
    assert isinstance(quiz, QuizContent)
    assert quiz.kind is QuizKind.MULTIPLE and quiz.right_answer == [0, 2]
    assert parsed[0].steps[0].timing.pause_points == (5.0, 10.0)


def test_toml_header_lookalikes_inside_strings_are_not_steps() -> None:
    text = (
        SAME_DEMO[Format.TOML]
        .replace('question = "Even?"', 'question = """\n[[steps]]\nEven?\n"""')
        .replace("pause_points = [5, 10]", "pause_points = [10, 5]")
    )
    with pytest.raises(DefinitionError) as caught:
        parse(text, file="t.toml", fmt=Format.TOML)
    assert caught.value.line == text.splitlines().index("pause_points = [10, 5]") + 1


def test_source_files_need_a_reader() -> None:
    text = (BROKEN / "missing_source.toml").read_text()
    with pytest.raises(DefinitionError, match="files cannot be read here; inline the code"):
        parse(text, file="x.toml", fmt=Format.TOML)


def test_a_symlink_out_of_the_demo_folder_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("password\n")
    folder = tmp_path / "demos"
    folder.mkdir()
    (folder / "link.py").symlink_to(secret)
    text = (BROKEN / "missing_source.toml").read_text().replace("code/missing.py", "link.py")
    (folder / "demo.toml").write_text(text)
    with pytest.raises(
        DefinitionError, match=r"cannot read 'link\.py': 'link\.py' leaves the demo"
    ):
        load(folder / "demo.toml")


def test_files_that_are_not_utf8_or_not_demos_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'id = "x"\ntitle = "\xff"\n')
    with pytest.raises(DefinitionError, match=r"bad.toml:2: not UTF-8 text$"):
        load(bad)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(DefinitionError, match="not a demo file"):
        load(other)


def test_hostile_shapes_are_refused_not_crashing() -> None:
    shapes: list[Any] = [None, [], "steps", {"steps": "x"}, {"id": 3}]
    for data in shapes:
        with pytest.raises(DefinitionError):
            from_dict(data)
    with pytest.raises(DefinitionError, match="step 1: expected a table, got an integer"):
        parse(
            'id="a"\ntitle="A"\ndifficulty="beginner"\nestimated_minutes=1\nsteps=[1]\n',
            file="a.toml",
            fmt=Format.TOML,
        )


def test_tree_and_graph_frames() -> None:
    demo = load(COURSE / "demos" / "binary-search-tree.yaml")
    tree = demo.steps[1].content
    assert isinstance(tree, VisualizationContent)
    frame = tree.frames[2]
    assert isinstance(frame, GraphFrame)
    assert frame.highlight == ("6",) and ("4", "6") in frame.edges


def test_a_check_builds_the_run_and_passes_only_on_the_right_output() -> None:
    demo = load(COURSE / "demos" / "sorting.toml")
    check = next(s.validation for s in demo.steps if s.validation)
    request = check.request("print(sorted([3, 1, 2]))")
    assert request.language == "python" and request.files == {"main.py": "print(sorted([3, 1, 2]))"}
    with pytest.raises(ValueError, match="pass its text"):
        check.request()
    assert check.passes(RunResult(RunStatus.OK, exit_code=0, stdout="[1, 2, 3]  \n"))
    assert not check.passes(RunResult(RunStatus.OK, exit_code=0, stdout="[3, 1, 2]\n"))
    assert not check.passes(RunResult(RunStatus.TIMEOUT, stdout="[1, 2, 3]\n"))


def test_yaml_aliases_cannot_blow_a_small_file_up() -> None:
    text = "a: &a [" + ", ".join(["x"] * 50) + "]\n"
    for level in range(6):
        previous = "a" if level == 0 else f"b{level - 1}"
        text += f"b{level}: &b{level} [" + ", ".join([f"*{previous}"] * 50) + "]\n"
    assert len(text) < 3_000
    with pytest.raises(DefinitionError, match=r"^lol.yaml:1: more than 100000 values once"):
        parse(text, file="lol.yaml", fmt=Format.YAML)
    with pytest.raises(DefinitionError, match="more than 100000 values"):
        parse("a: &a [*a]\n", file="loop.yaml", fmt=Format.YAML)


@pytest.mark.parametrize("fmt", list(Format))
def test_deep_nesting_is_refused_not_crashing(fmt: Format) -> None:
    text = {Format.TOML: "a = ", Format.YAML: "a: ", Format.MARKDOWN: "---\na: "}[fmt]
    text += "[" * 50_000 + ("\n---\n" if fmt is Format.MARKDOWN else "")
    with pytest.raises(DefinitionError) as caught:
        parse(text, file="deep", fmt=fmt)
    line = 2 if fmt is Format.MARKDOWN else 1  # the front matter starts on line 2
    assert str(caught.value) == f"deep:{line}: nested too deeply"
