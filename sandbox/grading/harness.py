"""Unit-test files: finding their tests, laying out the run, reading the verdicts back.

A unit-test run is an ordinary sandbox run whose entry file is one of our runners
(``runners/``): ``main.py`` for Python (plain ``assert`` in ``test_*`` functions, no pytest in
the image), ``main.js`` for JavaScript and TypeScript (a global ``test(name, fn)``), ``main.c``
for C and C++ (``TEST(name)`` from ``grade_test.h``), ``main.go`` for Go (``Test(name, fn)``
and ``Check``), ``main.rs`` for Rust (``pub fn test_*()`` with ``assert!``). The runner takes
the language's entry file name, so a submitted file of that name is left out of unit-test runs.

Verdicts come back on stdout as lines ``@@grade:<nonce>@@ <json>``. The nonce is fresh for every
grading and the runner deletes its config file before loading student code, so a program that
prints cannot fake a result by accident or by guessing. A submission running in the same process
as the runner can still tamper with it on purpose (as with any in-process harness, CodeRunner's
included): these verdicts are forgeable, which is why an exercise can make a unit test hidden only
with ``forgeable_hidden = true`` (schema.py). Grades that count come from value tests
(valuetests.py) and I/O tests, decided on the server.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from importlib import resources

from sandbox.grading.exceptions import UnsupportedLanguage
from sandbox.languages import get_language

CONFIG_FILE = "grade-config.json"
VERDICT_CHARS = 4000
_JS_TEST = re.compile(r"""(?<![\w.$])test\(\s*(?:"([^"\\\n]*)"|'([^'\\\n]*)')""")
_C_TEST = re.compile(r"^[ \t]*TEST\([ \t]*([A-Za-z_]\w*)[ \t]*\)", re.MULTILINE)
_GO_TEST = re.compile(r'(?<![\w.])Test\(\s*"([^"\\\n]*)"')
_RUST_TEST = re.compile(r"^[ \t]*pub[ \t]+fn[ \t]+(test_\w*)[ \t]*\([ \t]*\)", re.MULTILINE)
_RUST_KEYWORDS = "as|fn|if|in|let|loop|match|mod|move|mut|pub|ref|self|super|type|use|where|while"
_RUST_KEYWORDS += "|crate|impl|trait|struct|enum|const|static|main"
# A top-level .rs file that can be declared as a module of the same name (main.rs is ours).
RUST_MODULE = re.compile(rf"(?!(?:{_RUST_KEYWORDS})\.rs$)[a-z_][a-z0-9_]*\.rs")
# language -> (runner template, extra files shipped with it)
_RUNNERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "python": ("main.py", ()),
    "javascript": ("main.js", ()),
    "typescript": ("main.js", ("grade_test.d.ts",)),
    "c": ("main.c", ("grade_test.h",)),
    "cpp": ("main.c", ("grade_test.h",)),
    "go": ("main.go", ()),
    "rust": ("main.rs", ()),
}
SUPPORTED = frozenset(_RUNNERS)


def discover_cases(language: str, source: str) -> list[str]:
    """Names of the tests in a unit-test file, in file order. Raises ``UnsupportedLanguage``,
    or ``ValueError`` when the file cannot be read as such (syntax error, duplicate names)."""
    if language == "python":
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            raise ValueError(f"line {exc.lineno}: {exc.msg}") from None
        names = [
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test")
        ]
    elif language in ("javascript", "typescript"):
        names = [double or single for double, single in _JS_TEST.findall(source)]
    elif language in ("c", "cpp"):
        names = _C_TEST.findall(source)
    elif language == "go":
        names = _GO_TEST.findall(source)
    elif language == "rust":
        names = _RUST_TEST.findall(source)
    else:
        supported = ", ".join(sorted(_RUNNERS))
        raise UnsupportedLanguage(
            f"unit-test files are not supported for {language}; supported: {supported}"
        )
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ValueError(f"two tests are named {name!r}")
    return names


def reserved_names(language: str) -> set[str]:
    """File names a unit-test run uses for itself."""
    _, extras = _RUNNERS[language]
    return {get_language(language).file_name, CONFIG_FILE, *extras}


def unit_files(
    language: str,
    *,
    test_file: str,
    test_source: str,
    cases: list[str],
    submission: dict[str, str],
    nonce: str,
) -> dict[str, str]:
    """The files of the run of one unit-test file against ``submission``: runner first.
    ``nonce`` must be hex (the C runner reads it with a fixed pattern, first in the config)."""
    template, extras = _RUNNERS[language]
    runners = resources.files("sandbox.grading") / "runners"
    reserved = reserved_names(language) | {test_file}
    runner = (runners / template).read_text("utf-8")
    if language == "rust":
        runner = _rust_runner(runner, [test_file, *submission], cases, test_file)
    files = {get_language(language).file_name: runner}
    files |= {extra: (runners / extra).read_text("utf-8") for extra in extras}
    files[CONFIG_FILE] = json.dumps({"nonce": nonce, "file": test_file, "cases": cases})
    files[test_file] = test_source
    files |= {path: text for path, text in submission.items() if path not in reserved}
    return files


def _rust_runner(template: str, paths: list[str], cases: list[str], test_file: str) -> str:
    """rustc compiles the crate root only: declare every top-level .rs file as a module, and
    list the tests (a Rust program cannot enumerate its functions)."""
    modules = [path for path in dict.fromkeys(paths) if RUST_MODULE.fullmatch(path)]
    lines = "\n".join(f'#[path = "{path}"]\nmod {path[:-3]};' for path in modules)
    stem = test_file[:-3]
    listed = ", ".join(f'("{case}", {stem}::{case} as fn())' for case in cases)
    return template.replace("// @@MODULES@@", lines).replace("/* @@CASES@@ */", listed)


@dataclass(frozen=True)
class CaseVerdict:
    passed: bool
    message: str = ""
    output: str = ""


@dataclass
class Verdicts:
    """What a runner reported. ``done`` is False when it did not reach its end (timeout, crash,
    output cap); ``error`` when it could not load the tests at all."""

    cases: dict[str, CaseVerdict] = field(default_factory=dict)
    done: bool = False
    error: str | None = None


def read_verdicts(stdout: str, nonce: str) -> Verdicts:
    """Parse the runner's lines out of ``stdout``; anything else (the program's own output,
    lines with another nonce, broken JSON) is ignored. The first verdict of a test wins."""
    verdicts = Verdicts()
    marker = f"@@grade:{nonce}@@ "
    for line in stdout.splitlines():
        if not line.startswith(marker):
            continue
        try:
            record = json.loads(line[len(marker) :])
        except (ValueError, RecursionError):  # RecursionError: nested past the decoder's depth
            continue
        if not isinstance(record, dict):
            continue
        if record.get("done") is True:
            verdicts.done = True
        elif isinstance(record.get("error"), str):
            verdicts.error = verdicts.error or _cut(record["error"])
        elif isinstance(record.get("case"), str) and isinstance(record.get("passed"), bool):
            verdicts.cases.setdefault(
                record["case"],
                CaseVerdict(
                    passed=record["passed"],
                    message=_cut(str(record.get("message", ""))),
                    output=_cut(str(record.get("output", ""))),
                ),
            )
    return verdicts


def _cut(text: str) -> str:
    return text if len(text) <= VERDICT_CHARS else text[:VERDICT_CHARS] + "… (cut)"
