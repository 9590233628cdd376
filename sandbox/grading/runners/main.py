"""Unit-test runner for Python exercises, run in the sandbox as the entry file (no pytest needed).

It reads and deletes ``grade-config.json`` (nonce, test file, test names), imports the test file,
calls each ``test_*`` function (no arguments, plain ``assert``), and prints one line per test:
``@@grade:<nonce>@@ {"case": ..., "passed": ..., "message": ..., "output": ...}``, then a final
``{"done": true}`` line. Output printed by a test is captured and reported with that test.
The nonce keeps a program that merely prints from faking results; it is no defence against a
submission that sets out to attack the runner (see sandbox/grading/harness.py).
"""

from __future__ import annotations

import sys

# The standard modules below must not be shadowed by a submitted json.py or io.py: leave the
# work dir out of the path while importing them, and put it back for the tests.
HERE = sys.path.pop(0)

import contextlib  # noqa: E402
import importlib.util  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import traceback  # noqa: E402

CONFIG = "grade-config.json"
LIMIT = 2000


def main() -> None:
    with open(CONFIG, encoding="utf-8") as handle:
        config = json.load(handle)
    os.unlink(CONFIG)
    marker = "@@grade:" + config["nonce"] + "@@ "
    out = sys.__stdout__
    assert out is not None

    def emit(record: dict[str, object]) -> None:
        out.write("\n" + marker + json.dumps(record) + "\n")
        out.flush()

    sys.path.insert(0, HERE)
    path = config["file"]
    name = os.path.splitext(os.path.basename(path))[0]
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except BaseException:  # the student's module is imported from here: anything can happen
        emit({"error": "importing the tests failed:\n" + _tail(_their_traceback())})
        sys.exit(1)
    for case in config["cases"]:
        captured = io.StringIO()
        passed, message = True, ""
        try:
            with contextlib.redirect_stdout(captured):
                getattr(module, case)()
        except AssertionError as exc:
            passed, message = False, _describe(exc, "assertion failed")
        except BaseException as exc:  # SystemExit and friends fail this test only
            passed, message = False, _describe(exc, type(exc).__name__)
        emit(
            {
                "case": case,
                "passed": passed,
                "message": message,
                "output": _tail(captured.getvalue()),
            }
        )
    emit({"done": True})


def _their_traceback() -> str:
    """The exception being handled, without this runner's frames or importlib's: a student
    needs the lines of their code and of the test file, not ours."""
    kind, exc, tb = sys.exc_info()
    assert kind is not None and exc is not None
    ours = os.path.abspath(__file__)
    frames = [
        frame
        for frame in traceback.extract_tb(tb)
        if os.path.abspath(frame.filename) != ours and not frame.filename.startswith("<frozen ")
    ]
    lines = (
        ["Traceback (most recent call last):\n", *traceback.format_list(frames)] if frames else []
    )
    return "".join(lines + traceback.format_exception_only(kind, exc))


def _describe(exc: BaseException, default: str) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = (
        f" (line {frames[-1].lineno} of {os.path.basename(frames[-1].filename)})" if frames else ""
    )
    text = str(exc) if str(exc) else default
    if not isinstance(exc, AssertionError) and str(exc):
        text = f"{type(exc).__name__}: {exc}"
    return _tail(text + where)


def _tail(text: str) -> str:
    return text if len(text) <= LIMIT else "…" + text[-LIMIT:]


if __name__ == "__main__":
    main()
