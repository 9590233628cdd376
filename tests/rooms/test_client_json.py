"""rooms/client_json.py: JSON from a client, read as a browser reads it, or refused."""

from __future__ import annotations

import json
import sys

import pytest

from rooms.client_json import NotJson, loads

# What JSON.stringify writes, read exactly as json.loads reads it.
ORDINARY = [
    '{"user":{"name":"Ada","color":"#30bced"},"cursor":null}',
    "[1, -2, 3.5, 1e-300, 1.7976931348623157e308, 9007199254740993]",
    '"\\ud83d\\ude00 caf\\u00e9"',
    "[]",
    "0",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_what_a_browser_writes_reads_as_before(text: str) -> None:
    assert loads(text) == json.loads(text)
    assert loads(text.encode()) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"user":NaN}', "NaN is not JSON"),
        ("[Infinity]", "Infinity is not JSON"),
        ("[-Infinity]", "-Infinity is not JSON"),
        ("[1e999]", "too large"),
        ("-1e400", "too large"),
        ("1" * (sys.get_int_max_str_digits() + 1), "too many digits"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"a":', "Expecting value"),
    ],
)
def test_what_json_parse_refuses_or_python_cannot_read_is_not_json(text: str, why: str) -> None:
    with pytest.raises(NotJson, match=why):
        loads(text)


def test_bytes_that_are_not_utf8_are_not_json() -> None:
    with pytest.raises(NotJson, match="UTF-8"):
        loads(b'{"a":"\xff"}')
    with pytest.raises(NotJson, match="UTF-8"):  # a surrogate encoded (json.loads took it)
        loads(b'["\xed\xa0\x80"]')
    assert loads(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}  # a byte order mark, as before


def test_not_json_is_a_value_error() -> None:
    """Callers that caught ValueError go on catching it."""
    with pytest.raises(ValueError, match="NaN"):
        loads("NaN")


@pytest.mark.parametrize("text", [r'"a\ud800b"', r'{"k\udfff": 1}', r'[["\uDBFF"]]'])
def test_half_a_surrogate_pair_is_not_text(text: str) -> None:
    """SQLite, PostgreSQL and every UTF-8 encoder refuse it: refused here, where it came in."""
    with pytest.raises(NotJson, match="surrogate"):
        loads(text)
    assert loads(text, text=False) == json.loads(text)  # what is only passed on may hold it


def test_a_whole_surrogate_pair_and_an_escaped_backslash_are_text() -> None:
    assert loads(r'["\ud83d\ude00", "\\ud800"]') == ["\U0001f600", "\\ud800"]


@pytest.mark.parametrize("text", [r'"a\u0000b"', r'{"k\u0000": 1}', r'[{"deep": ["\u0000"]}]'])
def test_nul_is_not_text(text: str) -> None:
    """PostgreSQL's text refuses U+0000 (a 500 for a comment holding one): refused here."""
    with pytest.raises(NotJson, match="NUL"):
        loads(text)
    assert loads(text, text=False) == json.loads(text)


def test_an_escaped_backslash_before_u0000_and_other_controls_are_text() -> None:
    assert loads(r'["\\u0000", "\u0001\t"]') == ["\\u0000", "\x01\t"]
