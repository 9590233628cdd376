"""The browser tests' waits must work under the pages' Content Security Policy.

Our pages send ``script-src 'self'``, so the page may not evaluate a string as JavaScript.
Playwright's ``wait_for_function`` evaluates its expression anew at each poll unless the
expression is a function: the first poll runs inside the DevTools call (which the policy lets
through), every later one from the page's own animation-frame or timer callback, which the
policy refuses with an ``EvalError``. A bare expression such as ``"window.flag"`` therefore
passes when the condition already holds at the first poll and fails when it has to wait: a CI
run once failed so. A function (``"() => window.flag"``) is evaluated once and then called, so
it always works.

This test reads the test files; it needs no browser.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.services import ROOT

WAITS = ("wait_for_function",)
# `function (...)`, `async (...) =>`, `(a, b) =>`, `a =>`: what Playwright evaluates once.
FUNCTION = re.compile(r"^(async\s+)?(function\b|(\([^()]*\)|[A-Za-z_$][\w$]*)\s*=>)")


def bare_expressions(source: str) -> list[tuple[int, str]]:
    """(line, expression) of each ``wait_for_function`` whose expression is a string that is
    not a function."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in WAITS or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        text = first.value.strip()
        if FUNCTION.match(text):
            continue
        found.append((node.lineno, text))
    return found


def test_the_rule_tells_a_bare_expression_from_a_function() -> None:
    source = "\n".join(
        [
            'page.wait_for_function("window.flag")',
            'page.wait_for_function("() => window.flag")',
            'page.wait_for_function("(n) => window.n >= n", arg=3)',
            'page.wait_for_function("function () { return window.flag; }")',
            "page.wait_for_function(\"document.querySelector('a') !== null\")",
            'page.wait_for_function("window.x === 1 && (() => true)()")',
        ]
    )
    assert [line for line, _ in bare_expressions(source)] == [1, 5, 6]


def test_every_browser_wait_is_a_function() -> None:
    ours = sorted((ROOT / "tests").rglob("*.py")) + sorted((ROOT / "bench").rglob("*.py"))
    bare = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in ours
        if "node_modules" not in path.parts
        for line, text in bare_expressions(Path(path).read_text(encoding="utf-8"))
    ]
    assert not bare, "write these as functions, e.g. '() => window.flag':\n" + "\n".join(bare)
