"""The gate in front of every backend: is this request runnable at all?

Checked once when a run is submitted (so a bad request is refused before it waits in the
queue) and again by the local backend (which may be called directly). File names end up in
argv (``{sources}``) and on a file system, so they are held to a strict alphabet: a name
starting with ``-`` would be read as a compiler flag, ``..`` would leave the work dir.
"""

from __future__ import annotations

import re

from sandbox.exceptions import InvalidRequest
from sandbox.languages import Language, get_language
from sandbox.model import Limits, RunRequest

MAX_FILES = 64
MAX_PATH = 200
MAX_SOURCE_BYTES = 1 << 20
MAX_STDIN_BYTES = 1 << 20
MAX_ARGS = 64
MAX_ARG_CHARS = 4096
MAX_CASES = 256

_COMPONENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


def check_request(request: RunRequest) -> Language:
    """The request's language; raises ``UnknownLanguage`` or ``InvalidRequest`` (exact reason)."""
    language = get_language(request.language)
    if not request.files:
        raise InvalidRequest("a run needs at least one file")
    if len(request.files) > MAX_FILES:
        raise InvalidRequest(f"too many files: {len(request.files)} (at most {MAX_FILES})")
    total = 0
    for name, text in request.files.items():
        check_path(name)
        if not isinstance(text, str):
            raise InvalidRequest(f"file {name!r}: content must be text")
        total += len(text.encode("utf-8", "surrogatepass"))
    if total > MAX_SOURCE_BYTES:
        raise InvalidRequest(f"files too large: {total} bytes (at most {MAX_SOURCE_BYTES})")
    if len(request.stdin.encode("utf-8", "surrogatepass")) > MAX_STDIN_BYTES:
        raise InvalidRequest(f"stdin too large (at most {MAX_STDIN_BYTES} bytes)")
    _check_args(request.args)
    if len(request.cases) > MAX_CASES:
        raise InvalidRequest(f"too many cases: {len(request.cases)} (at most {MAX_CASES})")
    if request.cases and request.interactive:
        raise InvalidRequest("a run with cases cannot be interactive")
    for case in request.cases:
        total += len(case.stdin.encode("utf-8", "surrogatepass"))
        _check_args(case.args)
    if total > MAX_SOURCE_BYTES + MAX_STDIN_BYTES:
        raise InvalidRequest("the cases' inputs are too large")
    if request.limits is not None:
        check_limits(request.limits)
    return language


def _check_args(args: tuple[str, ...]) -> None:
    if len(args) > MAX_ARGS:
        raise InvalidRequest(f"too many args: {len(args)} (at most {MAX_ARGS})")
    for arg in args:
        if len(arg) > MAX_ARG_CHARS or "\x00" in arg:
            raise InvalidRequest("an argument is too long or contains a NUL byte")


def check_path(name: str) -> None:
    """A relative path of plain components: letters, digits, ``_.+-``; no leading ``-`` or ``.``."""
    if not name or len(name) > MAX_PATH:
        raise InvalidRequest(f"bad file name {name[:MAX_PATH]!r}: 1 to {MAX_PATH} characters")
    for part in name.split("/"):
        if not _COMPONENT.fullmatch(part):
            raise InvalidRequest(
                f"bad file name {name!r}: use letters, digits and _.+- in relative paths "
                "(no leading '-' or '.', no '..')"
            )


def check_limits(limits: Limits) -> None:
    for key in ("time_seconds", "memory_mb", "pids", "output_bytes", "cpus", "disk_mb", "nofile"):
        if getattr(limits, key) <= 0:
            raise InvalidRequest(f"limit {key} must be positive")
