"""Value-test harness for Python, run in the sandbox as the entry file (main.py), once per case.

It reads the case from stdin, ``{"file", "function", "args"}``, before any student code runs,
gives the student's code an empty stdin, imports ``submission/<file>``, calls the function with
the args and writes one record on stdout, on a line of its own:
``\\x1evalue <tagged JSON>`` or ``\\x1eraised <JSON string>``. It decides nothing: the server
compares the value with the expected one, which is not here (sandbox/grading/values.py). Student
code in this process can change what is reported for this case, and only for this case (the
main process runs every case in its own process); a second record makes the case count as tampered.
"""

from __future__ import annotations

import sys

# Standard modules must not be shadowed by a submitted json.py: the submission is in its own
# folder, put on the path only once they are imported.
sys.path.pop(0)

import contextlib
import importlib.util
import json
import os
import traceback

LIMIT = 2000
DEPTH = 64


def tag(value: object, depth: int = 0) -> dict[str, object]:
    """Strict: exact built-in types only, so no subclass or proxy can pass for another value;
    the built-in types' own methods, so nothing the student's class defines is called."""
    kind = type(value)
    if depth > DEPTH:
        return {"t": "other", "v": "value nested too deeply"}
    if value is None:
        return {"t": "null"}
    if isinstance(value, bool) and kind is bool:
        return {"t": "bool", "v": value is True}
    if isinstance(value, int) and kind is int:
        return {"t": "int", "v": int.__repr__(value)}
    if isinstance(value, float) and kind is float:
        return {"t": "float", "v": float.__repr__(value)}
    if isinstance(value, str) and kind is str:
        return {"t": "str", "v": str.__str__(value)}
    if isinstance(value, list | tuple) and kind in (list, tuple):
        return {"t": "list", "v": [tag(item, depth + 1) for item in value]}
    if isinstance(value, dict) and kind is dict:
        pairs = dict.items(value)
        return {"t": "dict", "v": [[tag(k, depth + 1), tag(v, depth + 1)] for k, v in pairs]}
    return {"t": "other", "v": kind.__name__}


def emit(kind: str, data: object) -> None:
    # The student may have replaced or closed sys.stdout: the record goes to fd 1 regardless.
    with contextlib.suppress(BaseException):
        sys.stdout.flush()
    os.write(1, b"\n\x1e" + kind.encode() + b" " + json.dumps(data).encode() + b"\n")


def main() -> None:
    case = json.loads(sys.stdin.read())
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.chdir("submission")
    sys.path.insert(0, os.getcwd())
    path = case["file"]
    name = os.path.splitext(os.path.basename(path))[0]
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        function = getattr(module, case["function"], None)
        if not callable(function):
            emit("raised", f"{path} defines no function {case['function']}")
            return
        record = tag(function(*case["args"]))
    except BaseException:  # the student's code runs here: anything can happen, SystemExit too
        emit("raised", _tail(traceback.format_exc()))
        return
    emit("value", record)


def _tail(text: str) -> str:
    return text if len(text) <= LIMIT else "…" + text[-LIMIT:]


if __name__ == "__main__":
    main()
