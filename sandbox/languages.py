"""The language table: for each language, its image, entry file, compile and run commands, limits.

Commands are argv tuples run in the work dir, shared by every backend. Two tokens are expanded
per run by :meth:`Language.compile_argv` / :meth:`Language.run_argv`:

* ``{sources}`` — every file of the run with one of the language's source extensions, in the
  order given (so ``gcc`` compiles all ``*.c`` of a multi-file run); it expands to several args.
* ``{entry}`` — the entry file; ``{entry_stem}`` — the entry file without its extension.

The entry is the file named like :attr:`Language.file_name` when the run has one, else the
first file of the run. ``{workdir}`` in :attr:`Language.env` values is the run's work dir.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.exceptions import InvalidRequest, UnknownLanguage
from sandbox.model import Limits

# tsc without @types/node knows no `require` or `process`; Debian ships no node typings, so a
# small ambient declaration is written next to the user's files on every TypeScript run.
_TS_NODE_GLOBALS = """\
declare var process: any;
declare var require: any;
declare var module: any;
declare var exports: any;
declare var Buffer: any;
declare var __dirname: string;
declare var __filename: string;
"""


# Every container's main process (sandbox/python_main.py). Python's is unbuffered (its runs are
# forked from it); the others' is isolated from the environment and imports no site packages.
_MAIN_SOURCE = (Path(__file__).parent / "python_main.py").read_text("utf-8")
FORKING_MAIN = ("python3", "-u", "-c", _MAIN_SOURCE)
EXEC_MAIN = ("python3", "-I", "-S", "-c", _MAIN_SOURCE, "exec")


@dataclass(frozen=True)
class Language:
    name: str
    title: str
    image: str
    file_name: str
    compile: tuple[str, ...] | None
    run: tuple[str, ...]
    limits: Limits
    extensions: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    support_files: Mapping[str, str] = field(default_factory=dict)
    """Files written into the work dir besides the user's (never overriding theirs)."""
    forks: bool = False
    """Whether a Docker container's main process (:mod:`sandbox.python_main`) forks each run
    and case from an interpreter up before the code is known (Python's), rather than starting
    the run command afresh (``posix_spawn``)."""

    @property
    def main(self) -> tuple[str, ...]:
        """The Docker container's main process, its source in the command: it runs before
        any file of the run is there."""
        return FORKING_MAIN if self.forks else EXEC_MAIN

    def entry(self, files: Sequence[str]) -> str:
        if not files:
            raise InvalidRequest("a run needs at least one file")
        return self.file_name if self.file_name in files else files[0]

    def sources(self, files: Sequence[str]) -> list[str]:
        names = [*files, *(n for n in self.support_files if n not in files)]
        return [n for n in names if n.endswith(self.extensions)]

    def compile_argv(self, files: Sequence[str]) -> tuple[str, ...] | None:
        if self.compile is None:
            return None
        return self._expand(self.compile, files)

    def run_argv(self, files: Sequence[str], args: Sequence[str] = ()) -> tuple[str, ...]:
        return (*self._expand(self.run, files), *args)

    def environment(self, workdir: str) -> dict[str, str]:
        """Variables this language needs on top of PATH/HOME/LANG."""
        return {k: v.replace("{workdir}", workdir) for k, v in self.env.items()}

    def _expand(self, argv: tuple[str, ...], files: Sequence[str]) -> tuple[str, ...]:
        entry = self.entry(files)
        stem = posixpath.splitext(entry)[0]
        out: list[str] = []
        for arg in argv:
            if arg == "{sources}":
                out.extend(self.sources(files) or [entry])
            else:
                out.append(arg.replace("{entry_stem}", stem).replace("{entry}", entry))
        return tuple(out)


_COMPILED = Limits(memory_mb=512, pids=64, disk_mb=128)

LANGUAGES: dict[str, Language] = {
    lang.name: lang
    for lang in (
        Language(
            name="python",
            title="Python",
            image="python",
            file_name="main.py",
            compile=None,
            run=("python3", "-u", "{entry}"),
            limits=Limits(),
            extensions=(".py",),
            env={"PYTHONDONTWRITEBYTECODE": "1"},
            forks=True,
        ),
        Language(
            name="javascript",
            title="JavaScript",
            image="javascript",
            file_name="main.js",
            compile=None,
            run=("node", "{entry}"),
            limits=Limits(memory_mb=512),
            extensions=(".js", ".mjs", ".cjs"),
        ),
        Language(
            name="typescript",
            title="TypeScript",
            image="typescript",
            file_name="main.ts",
            compile=(
                "tsc",
                "--target",
                "es2020",
                "--module",
                "commonjs",
                "--lib",
                "es2020,dom",
                "--skipLibCheck",
                "--pretty",
                "false",
                "{sources}",
            ),
            run=("node", "{entry_stem}.js"),
            limits=Limits(memory_mb=512),
            extensions=(".ts",),
            support_files={"classroom-node-globals.d.ts": _TS_NODE_GLOBALS},
        ),
        Language(
            name="c",
            title="C",
            image="c",
            file_name="main.c",
            compile=("gcc", "-O2", "-std=gnu17", "-Wall", "-o", "main", "{sources}", "-lm"),
            run=("./main",),
            limits=Limits(),
            extensions=(".c",),
        ),
        Language(
            name="cpp",
            title="C++",
            image="cpp",
            file_name="main.cpp",
            compile=("g++", "-O2", "-std=gnu++20", "-Wall", "-o", "main", "{sources}"),
            run=("./main",),
            limits=Limits(),
            extensions=(".cpp", ".cc", ".cxx"),
        ),
        Language(
            name="go",
            title="Go",
            image="go",
            file_name="main.go",
            compile=("go", "build", "-o", "main", "{sources}"),
            run=("./main",),
            limits=_COMPILED,
            extensions=(".go",),
            # The build cache lives in the (size-capped) work dir; no module download ever.
            env={
                "GOCACHE": "{workdir}/.cache/go-build",
                "GOPATH": "{workdir}/.cache/go",
                "GOFLAGS": "-mod=mod",
                "GOPROXY": "off",
                "GOTOOLCHAIN": "local",
                "CGO_ENABLED": "0",
            },
        ),
        Language(
            name="rust",
            title="Rust",
            image="rust",
            file_name="main.rs",
            # rustc compiles the crate root; other files come in through `mod`.
            compile=("rustc", "--edition", "2021", "-O", "-o", "main", "{entry}"),
            run=("./main",),
            limits=_COMPILED,
            extensions=(".rs",),
        ),
    )
}


def get_language(name: str) -> Language:
    try:
        return LANGUAGES[name]
    except KeyError:
        known = ", ".join(sorted(LANGUAGES))
        raise UnknownLanguage(f"unknown language {name!r}; known: {known}") from None
