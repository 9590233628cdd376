"""The API's JSON answers never fail on stored text (server/api/base.py ``ApiJson``)."""

from __future__ import annotations

import json

from server.api.base import ApiJson


def test_text_as_it_is_is_sent_as_utf8() -> None:
    assert ApiJson({"name": "Zoë 😀"}).body == '{"name":"Zoë 😀"}'.encode()


def test_half_a_surrogate_pair_is_sent_escaped_not_failed() -> None:
    """Stored before program output was made storable: a 500 for the whole list before."""
    body = ApiJson({"output": "bad\ud800", "name": "Zoë"}).body
    assert body == b'{"output":"bad\\ud800","name":"Zo\\u00eb"}'
    assert json.loads(body) == {"output": "bad\ud800", "name": "Zoë"}  # what a browser reads
