"""Type-tagged values: what a value test's harness reports, and how the server compares it.

A harness serializes the value the student's function returned as one JSON document::

    {"t": "null"}                 {"t": "bool", "v": true}
    {"t": "int", "v": "42"}       {"t": "float", "v": "0.1"}     (decimal text: no precision lost;
                                                                  "inf", "-inf", "nan" too)
    {"t": "str", "v": "text"}     {"t": "list", "v": [tagged, …]}
    {"t": "dict", "v": [[tagged key, tagged value], …]}           (order does not matter)
    {"t": "other", "v": "TypeName"}                               (never equal to anything)

Rule 1: the comparison happens here, on the server, between this document and the exercise's
expected value, which never enters the sandbox. Nothing the student's code does to objects,
equality or the harness in its own process can change what an honest expected value is equal to.
Rule 2: types are strict: ``1`` is not ``1.0`` is not ``"1"`` is not ``true``. The one widening
is an int where a float is expected (JavaScript has one number type), compared as a number.
Rule 3: floats are equal when ``|got - want| <= max(abs_tol, rel_tol * |want|)`` (both 0 by
default: exactly equal); NaN equals NaN, an infinity only itself.
Rule 4: a document that is not well formed is a failed test, never an error of the grader.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64
MAX_NODES = 100_000
_SHOW = 200

Tagged = dict[str, Any]


class Malformed(ValueError):
    """The harness's document is not a tagged value (tampering or a harness bug)."""


def tag(value: object, depth: int = 0) -> Tagged:
    """The tagged form of an exercise's expected value (from TOML, YAML or JSON)."""
    if depth > MAX_DEPTH:
        raise ValueError("nested too deeply")
    if value is None:
        return {"t": "null"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": str(value)}
    if isinstance(value, float):
        return {"t": "float", "v": repr(value)}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, list | tuple):
        return {"t": "list", "v": [tag(item, depth + 1) for item in value]}
    if isinstance(value, dict):
        return {"t": "dict", "v": [[tag(str(k)), tag(v, depth + 1)] for k, v in value.items()]}
    raise ValueError(f"a {type(value).__name__} cannot be an expected value")


def parse(text: str) -> Tagged:
    """Check a harness's document; raises :class:`Malformed`."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise Malformed(f"not JSON: {exc}") from None
    nodes = [0]
    _check(data, 0, nodes)
    return data  # type: ignore[no-any-return]


def _check(node: object, depth: int, nodes: list[int]) -> None:
    nodes[0] += 1
    if depth > MAX_DEPTH or nodes[0] > MAX_NODES:
        raise Malformed("the value is nested too deeply or too large")
    if not isinstance(node, dict) or not isinstance(node.get("t"), str):
        raise Malformed("a value must be an object with a type tag")
    kind, value = node["t"], node.get("v")
    expected_keys = {"t"} if kind == "null" else {"t", "v"}
    if set(node) != expected_keys:
        raise Malformed(f"a {kind} value has the keys {sorted(node)}")
    if kind == "null":
        return
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, str) and _is_int(value)
    elif kind == "float":
        ok = isinstance(value, str) and _float(value) is not None
    elif kind in ("str", "other"):
        ok = isinstance(value, str)
    elif kind == "list":
        ok = isinstance(value, list)
        if isinstance(value, list):
            for item in value:
                _check(item, depth + 1, nodes)
    elif kind == "dict":
        ok = isinstance(value, list) and all(
            isinstance(pair, list) and len(pair) == 2 for pair in value
        )
        if ok and isinstance(value, list):
            for key, item in value:
                _check(key, depth + 1, nodes)
                _check(item, depth + 1, nodes)
    else:
        raise Malformed(f"unknown type tag {kind!r}")
    if not ok:
        raise Malformed(f"a {kind} value carries {json.dumps(value)[:60]}")


def _is_int(text: str) -> bool:
    digits = text[1:] if text[:1] == "-" else text
    return 0 < len(digits) <= 4300 and digits.isascii() and digits.isdigit()


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def equal(want: Tagged, got: Tagged, abs_tol: float = 0.0, rel_tol: float = 0.0) -> str | None:
    """None when ``got`` matches ``want`` (both already checked); else why not."""
    kind, other = want["t"], got["t"]
    if kind == "float" and other in ("float", "int"):
        w, g = float(want["v"]), float(got["v"])
        if math.isnan(w) and math.isnan(g):
            return None
        if math.isinf(w) or math.isinf(g):
            return None if w == g else _differ(want, got)
        return None if abs(g - w) <= max(abs_tol, rel_tol * abs(w)) else _differ(want, got)
    if kind != other:
        return f"expected {_a(kind)}, got {_a(other)}: {show(got)}"
    if kind == "int":
        return None if int(want["v"]) == int(got["v"]) else _differ(want, got)
    if kind in ("null", "bool", "str"):
        return None if want.get("v") == got.get("v") else _differ(want, got)
    if kind == "list":
        wants, gots = want["v"], got["v"]
        if len(wants) != len(gots):
            return f"expected {len(wants)} items, got {len(gots)}: {show(got)}"
        for index, (w, g) in enumerate(zip(wants, gots, strict=True)):
            if (why := equal(w, g, abs_tol, rel_tol)) is not None:
                return f"item {index}: {why}"
        return None
    if kind == "dict":
        wants = {_key(k): v for k, v in want["v"]}
        gots = {_key(k): v for k, v in got["v"]}
        if len(gots) != len(got["v"]) or wants.keys() != gots.keys():
            return f"expected the keys {_keys(want)}, got {_keys(got)}"
        for key, w in wants.items():
            if (why := equal(w, gots[key], abs_tol, rel_tol)) is not None:
                return f"key {key}: {why}"
        return None
    return f"expected {show(want)}, got {show(got)}"  # "other" is never equal


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _differ(want: Tagged, got: Tagged) -> str:
    return f"expected {show(want)}, got {show(got)}"


def _key(key: Tagged) -> str:
    return json.dumps(key, sort_keys=True)


def _keys(value: Tagged) -> str:
    return "{" + ", ".join(sorted(show(k) for k, _ in value["v"])) + "}"


def show(value: Tagged) -> str:
    """Readable text of a tagged value, cut at a few hundred characters."""
    text = _show(value)
    return text if len(text) <= _SHOW else text[:_SHOW] + "…"


def _show(value: Tagged) -> str:
    kind = value["t"]
    if kind == "null":
        return "null"
    if kind == "bool":
        return "true" if value["v"] else "false"
    if kind in ("int", "float"):
        return str(value["v"])
    if kind == "str":
        return json.dumps(value["v"], ensure_ascii=False)
    if kind == "list":
        return "[" + ", ".join(_show(item) for item in value["v"]) + "]"
    if kind == "dict":
        return "{" + ", ".join(f"{_show(k)}: {_show(v)}" for k, v in value["v"]) + "}"
    return f"<{value['v']}>"
