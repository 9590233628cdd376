"""server/ids.py: ids from clients bounded by what the store holds; and a declared body length
read from ASCII digits only (server/security/bodies.py)."""

from __future__ import annotations

import random
import re

import pytest
from starlette.requests import Request

from server.ids import MAX_ID, IdConvertor, at_most, parse_id
from server.security.bodies import declared_over


@pytest.mark.parametrize("limit", [0, 7, 9, 10, 99, 100, 305, 1000, 2**31 - 1, 2**63 - 1])
def test_the_expression_matches_exactly_the_numbers_up_to_its_limit(limit: int) -> None:
    pattern = re.compile(f"(?:{at_most(limit)})")
    rng = random.Random(limit)  # fixed: the same numbers every run
    samples = set(range(1200)) | {limit - 1, limit, limit + 1, limit * 10, limit + 10**9}
    samples |= {rng.randrange(0, 10 ** len(str(limit)) * 10) for _ in range(5000)}
    for value in sorted(v for v in samples if v >= 0):
        assert (pattern.fullmatch(str(value)) is not None) == (value <= limit), value


def test_parse_id_takes_ascii_digits_up_to_the_largest_id() -> None:
    assert parse_id("42") == 42
    assert parse_id(str(MAX_ID)) == MAX_ID
    assert parse_id("007") == 7
    for raw in (
        None,
        "",
        str(MAX_ID + 1),
        "9" * 5000,
        "\u00b2",
        "\u0663",
        "-1",
        "1.0",
        " 1",
        "0x1",
    ):
        assert parse_id(raw) is None, raw


def test_the_convertor_refuses_to_build_a_path_with_an_id_the_store_cannot_hold() -> None:
    convertor = IdConvertor()
    assert convertor.to_string(MAX_ID) == str(MAX_ID)
    with pytest.raises(ValueError, match="not a row id"):
        convertor.to_string(MAX_ID + 1)


def request_with_length(value: str) -> Request:
    headers = [(b"content-length", value.encode("latin-1"))]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers})


@pytest.mark.parametrize(
    ("declared", "over"),
    [("10", False), ("11", True), ("9" * 40, True), ("\u00b2", False), ("", False), ("1e3", False)],
)
def test_a_declared_length_is_read_from_ascii_digits(declared: str, over: bool) -> None:
    assert declared_over(request_with_length(declared), 10) is over
