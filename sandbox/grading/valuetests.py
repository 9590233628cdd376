"""Value tests: laying out the one run that calls the student's functions, and reading it back.

Design note (trust). A value test's verdict is reached on the server: the harness in the
sandbox only reports, type-tagged, what the student's function returned
(:mod:`sandbox.grading.values`); the expected value never enters the sandbox. So nothing student
code does inside its process (rewriting the harness, objects whose ``__eq__`` always holds,
printing records, exiting early, ``atexit`` hooks) can make a hidden test pass without returning
the right value. What it can do is speak for *its own* case, which it does anyway by returning.

Rule 1: all value tests of a submission are the cases of ONE run (one container): compiled once,
then every case runs as its own process (:class:`sandbox.model.Case`), every process of the run
user killed between two cases, each case's output framed by the container's main process
with a nonce only the backend and it know (:mod:`sandbox.cases`). A case cannot write into
another's output.
Rule 2: the harness writes one record on its stdout, on a line of its own: ``\\x1evalue <json>``
or ``\\x1eraised <json string>``. The marker need not be secret (a forged record is a value
the student chose); two records in one case, or a case whose framing was forged, is tampering:
the case scores zero and the submission is flagged.
What per-case isolation does not do: the work dir outlives a case (on Docker), so code of case 0
can change files that case 1 reads, the harness included. That gives case 0 nothing case 1's own
code (the same submission) does not have, the choice of what case 1 reports, and nothing that
reaches an expected value. The local backend with bubblewrap gives each case a fresh copy.
Rule 3: the case's stdin carries ``{"file", "function", "args"}`` (read by the Python,
JavaScript/TypeScript and Go harnesses before any student code runs); the C, C++ and Rust
harnesses are generated with the calls written out (their compilers check the argument types)
and take the case number as their argument.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from sandbox.grading.definitions import ValueTest
from sandbox.grading.harness import RUST_MODULE
from sandbox.grading.values import Malformed, Tagged, parse
from sandbox.languages import get_language
from sandbox.model import Case

SUPPORTED = frozenset({"python", "javascript", "typescript", "c", "cpp", "go", "rust"})
SUBMISSION = "submission"
GO_HARNESS = "grade_value.go"
_TEMPLATES = {
    "python": "value.py",
    "javascript": "value.js",
    "typescript": "value.js",
    "go": "value.go",
    "c": "value.c",
    "cpp": "value.cpp",
    "rust": "value.rs",
}
_GO_MAIN = re.compile(r"^func\s+main\s*\(\s*\)", re.MULTILINE)
_RECORD = re.compile(r"^\x1e(value|raised) (.*)$", re.MULTILINE)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


def _template(name: str) -> str:
    return (resources.files("sandbox.grading") / "runners" / name).read_text("utf-8")


def value_run(
    language: str, tests: Sequence[tuple[ValueTest, str]], submission: dict[str, str]
) -> tuple[dict[str, str], tuple[Case, ...]]:
    """The files and cases of the run of ``tests`` (each with the file its function is in)."""
    entry = get_language(language).file_name
    cases = tuple(
        Case(
            json.dumps({"file": file, "function": test.function, "args": list(test.args)}),
            (str(index),),
        )
        for index, (test, file) in enumerate(tests)
    )
    if language in ("python", "javascript", "typescript"):
        files = {entry: _template(_TEMPLATES[language])}
        files |= {f"{SUBMISSION}/{path}": text for path, text in submission.items()}
        return files, cases
    if language == "go":
        names = sorted({test.function for test, _ in tests})
        table = " ".join(f'"{name}": {name},' for name in names)
        harness = _template("value.go").replace("/* @@FUNCTIONS@@ */", table)
        go_files = [text for path, text in submission.items() if path.endswith(".go")]
        if not any(_GO_MAIN.search(text) for text in go_files):
            harness += "\nfunc main() {}\n"
        return {**submission, GO_HARNESS: harness}, cases
    if language in ("c", "cpp"):
        return _c_family(language, tests, submission), cases
    return _rust(tests, submission), cases


def _c_family(
    language: str, tests: Sequence[tuple[ValueTest, str]], submission: dict[str, str]
) -> dict[str, str]:
    extensions = get_language(language).extensions
    files: dict[str, str] = {}
    includes = []
    for path, text in submission.items():
        if path.endswith(extensions):
            inner = f"{SUBMISSION}/{path}.inc"
            files[inner] = f'#line 1 "{path}"\n{text}'
            includes.append(f'#include "{inner}"')
        else:
            files[f"{SUBMISSION}/{path}"] = text
    literal = c_literal if language == "c" else cpp_literal
    lines = []
    for index, (test, _) in enumerate(tests):
        args = ", ".join(literal(arg) for arg in test.args)
        call = f"{test.function}({args})"
        if language == "c":
            lines.append(f"case {index}: {{ __auto_type gv_r = {call}; GV_REPORT(gv_r); break; }}")
        else:
            lines.append(
                f'case {index}: {{ auto gv_r = {call}; gv_emit("value", gv_tag(gv_r)); break; }}'
            )
    template = _template("value.c" if language == "c" else "value.cpp")
    harness = template.replace("/* @@INCLUDES@@ */", "\n".join(includes))
    harness = harness.replace("/* @@CASES@@ */", "\n    ".join(lines))
    return {get_language(language).file_name: harness, **files}


def _rust(tests: Sequence[tuple[ValueTest, str]], submission: dict[str, str]) -> dict[str, str]:
    files = {f"{SUBMISSION}/{path}": text for path, text in submission.items()}
    included = list(dict.fromkeys(file for _, file in tests))
    modules = [
        f'#[path = "{SUBMISSION}/{path}"]\nmod {path[:-3]};'
        for path in submission
        if RUST_MODULE.fullmatch(path) and path not in included
    ]
    blocks = []
    arms = []
    for number, file in enumerate(included):
        calls = []
        for index, (test, test_file) in enumerate(tests):
            if test_file != file:
                continue
            args = ", ".join(f"crate::FromGv::from_gv({rust_literal(a)})" for a in test.args)
            calls.append(
                f"pub fn gv_case_{index}() -> crate::Gv "
                f"{{ crate::ToGv::to_gv(&{test.function}({args})) }}"
            )
            arms.append(f"{index} => gv_file_{number}::gv_case_{index}(),")
        blocks.append(
            f"mod gv_file_{number} {{\n#![allow(dead_code, unused_imports, unused_variables)]\n"
            f'include!("{SUBMISSION}/{file}");\n' + "\n".join(calls) + "\n}"
        )
    dispatch = (
        "fn gv_dispatch(case: usize) -> Gv {\n    match case {\n        "
        + "\n        ".join(arms)
        + '\n        _ => Gv::Other(String::from("no such case")),\n    }\n}'
    )
    harness = _template("value.rs").replace("// @@MODULES@@", "\n".join(modules))
    harness = harness.replace("// @@STUDENT@@", "\n".join(blocks) + "\n" + dispatch)
    return {"main.rs": harness, **files}


# -- literals of the generated harnesses ---------------------------------------------------


def c_literal(value: object) -> str:
    """A C expression for ``value``; a list becomes a compound literal and its length.
    Raises ValueError for what C cannot take (tables, nested lists)."""
    if isinstance(value, list):
        if not value:
            return "NULL, 0"
        if all(isinstance(v, bool) for v in value):
            kind = "bool"
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            kind = "long long" if any(abs(v) >= 2**31 for v in value) else "int"
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            kind = "double"
        elif all(isinstance(v, str) for v in value):
            kind = "const char *"
        else:
            raise ValueError("a C list argument holds numbers, booleans or strings, one kind")
        items = ", ".join(_c_scalar(v, double=kind == "double") for v in value)
        return f"({kind}[]){{{items}}}, {len(value)}"
    return _c_scalar(value)


def _c_scalar(value: object, *, double: bool = False) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        text = str(value) + ("LL" if abs(value) >= 2**31 else "")
        text = f"{text}.0" if double else text
        return f"({text})" if value < 0 else text
    if isinstance(value, float):
        return _float_literal(value, "__builtin_inf()", '__builtin_nan("")')
    if isinstance(value, str):
        return _c_string(value)
    raise ValueError(f"a C argument cannot be a {type(value).__name__} (use a flat list)")


def cpp_literal(value: object) -> str:
    if value is None:
        return "{}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        text = str(value) + ("LL" if abs(value) >= 2**31 else "")
        return f"({text})" if value < 0 else text
    if isinstance(value, float):
        inf = "std::numeric_limits<double>::infinity()"
        return _float_literal(value, inf, "std::numeric_limits<double>::quiet_NaN()")
    if isinstance(value, str):
        return _c_string(value)
    if isinstance(value, list):
        return "{" + ", ".join(cpp_literal(v) for v in value) + "}"
    if isinstance(value, dict):
        pairs = (f"{{{_c_string(str(k))}, {cpp_literal(v)}}}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise ValueError(f"a C++ argument cannot be a {type(value).__name__}")


def rust_literal(value: object) -> str:
    if value is None:
        return "crate::Gv::Null"
    if isinstance(value, bool):
        return f"crate::Gv::Bool({'true' if value else 'false'})"
    if isinstance(value, int):
        return f"crate::Gv::Int({value})"
    if isinstance(value, float):
        return f"crate::Gv::Float({_float_literal(value, 'f64::INFINITY', 'f64::NAN')})"
    if isinstance(value, str):
        return f"crate::Gv::Str({_rust_string(value)})"
    if isinstance(value, list):
        return "crate::Gv::List(vec![" + ", ".join(rust_literal(v) for v in value) + "])"
    if isinstance(value, dict):
        pairs = (f"({_rust_string(str(k))}, {rust_literal(v)})" for k, v in value.items())
        return "crate::Gv::Dict(vec![" + ", ".join(pairs) + "])"
    raise ValueError(f"a Rust argument cannot be a {type(value).__name__}")


def _float_literal(value: float, inf: str, nan: str) -> str:
    if math.isnan(value):
        return nan
    if math.isinf(value):
        return inf if value > 0 else f"(-{inf})"
    text = repr(value)
    text = text if any(c in text for c in ".e") else text + ".0"
    return f"({text})" if value < 0 else text


def _c_string(text: str) -> str:
    out = []
    for byte in text.encode("utf-8", "surrogatepass"):
        char = chr(byte)
        if 0x20 <= byte < 0x7F and char not in '"\\?':
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _rust_string(text: str) -> str:
    out = []
    for char in text:
        if char.isascii() and char.isprintable() and char not in '"\\':
            out.append(char)
        else:
            out.append(f"\\u{{{ord(char):x}}}")
    return '"' + "".join(out) + '"'


def check_args(language: str, args: Sequence[object]) -> str | None:
    """Why ``args`` cannot be written for ``language``'s harness, or None."""
    literal = {"c": c_literal, "cpp": cpp_literal, "rust": rust_literal}.get(language)
    if literal is None:
        return None
    try:
        for arg in args:
            literal(arg)
    except ValueError as exc:
        return str(exc)
    return None


# -- reading a case back ---------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """What one case's harness reported. ``value`` when it returned, ``raised`` when the call
    failed; neither when the process ended first; ``tampered`` when it reported twice."""

    value: Tagged | None = None
    raised: str | None = None
    problem: str | None = None
    output: str = ""
    tampered: bool = False


def read_case(stdout: str) -> Report:
    """The harness's record out of a case's stdout; the rest is the student's own output."""
    records = _RECORD.findall(stdout)
    output = _RECORD.sub("", stdout).replace("\n\n", "\n").strip("\n")
    if len(records) > 1:
        return Report(output=output, tampered=True, problem="two results for one case")
    if not records:
        return Report(output=output, problem="the program ended without returning a value")
    kind, text = records[0]
    if kind == "raised":
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):  # the student's code may write this line too
            message = text
        return Report(raised=str(message), output=output)
    try:
        return Report(value=parse(text), output=output)
    except Malformed as exc:
        return Report(output=output, problem=f"the reported value is malformed: {exc}")
