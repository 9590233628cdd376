"""The language table: seven languages, argv expansion for one and many files, lookups."""

from __future__ import annotations

import pytest

from sandbox.exceptions import InvalidRequest, UnknownLanguage
from sandbox.languages import LANGUAGES, get_language
from sandbox.model import Limits


def test_the_seven_languages_are_in_the_table() -> None:
    assert set(LANGUAGES) == {"python", "javascript", "typescript", "c", "cpp", "go", "rust"}
    for name, language in LANGUAGES.items():
        assert language.name == name
        assert language.title and language.image
        assert language.file_name.endswith(language.extensions)
        assert isinstance(language.limits, Limits)
        assert language.run


def test_unknown_language_names_the_known_ones() -> None:
    with pytest.raises(UnknownLanguage, match=r"'cobol'.*python"):
        get_language("cobol")
    assert get_language("rust") is LANGUAGES["rust"]


def test_c_compiles_every_c_file_and_no_header() -> None:
    c = get_language("c")
    argv = c.compile_argv(["main.c", "util.h", "util.c"])
    assert argv == ("gcc", "-O2", "-std=gnu17", "-Wall", "-o", "main", "main.c", "util.c", "-lm")
    assert c.run_argv(["main.c"], ["a", "b c"]) == ("./main", "a", "b c")


def test_go_builds_all_go_files() -> None:
    assert get_language("go").compile_argv(["main.go", "util.go"]) == (
        "go",
        "build",
        "-o",
        "main",
        "main.go",
        "util.go",
    )


def test_rust_compiles_the_crate_root_only() -> None:
    rust = get_language("rust")
    argv = rust.compile_argv(["util.rs", "main.rs"])
    assert argv is not None and argv[-1] == "main.rs" and "util.rs" not in argv


def test_entry_is_the_default_file_name_else_the_first_file() -> None:
    python = get_language("python")
    assert python.entry(["util.py", "main.py"]) == "main.py"
    assert python.entry(["prog.py", "util.py"]) == "prog.py"
    assert python.run_argv(["prog.py", "util.py"]) == ("python3", "-u", "prog.py")
    with pytest.raises(InvalidRequest):
        python.entry([])


def test_typescript_runs_the_compiled_entry_and_brings_node_globals() -> None:
    ts = get_language("typescript")
    argv = ts.compile_argv(["app.ts", "lib.ts"])
    assert argv is not None and argv[0] == "tsc"
    assert argv[-3:] == ("app.ts", "lib.ts", "classroom-node-globals.d.ts")
    assert ts.run_argv(["app.ts", "lib.ts"]) == ("node", "app.js")
    assert "declare var process" in ts.support_files["classroom-node-globals.d.ts"]


def test_a_user_file_shadows_a_support_file_name() -> None:
    ts = get_language("typescript")
    argv = ts.compile_argv(["main.ts", "classroom-node-globals.d.ts"])
    assert argv is not None and argv.count("classroom-node-globals.d.ts") == 1


def test_go_environment_lives_in_the_work_dir_and_never_downloads() -> None:
    env = get_language("go").environment("/w")
    assert env["GOCACHE"].startswith("/w/") and env["GOPATH"].startswith("/w/")
    assert env["GOPROXY"] == "off"
    assert get_language("python").environment("/w") == {"PYTHONDONTWRITEBYTECODE": "1"}


def test_interpreted_languages_have_no_compile_step() -> None:
    assert get_language("python").compile_argv(["main.py"]) is None
    assert get_language("javascript").compile_argv(["main.js"]) is None
