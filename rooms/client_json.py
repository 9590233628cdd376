"""JSON from a client, read as a browser's ``JSON.parse`` would read it, or refused.

Design note. Python's :func:`json.loads` and a browser disagree at the edges, and each
disagreement was a way for one hostile client to hurt others:

Rule 1 — ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON. Python accepts them; a
browser's ``JSON.parse`` throws. An awareness state ``{"user":NaN}`` passed our check and
made every stock Yjs client of the document throw on each renewal; in a command or a body it
could be stored and sent on (``json.dumps`` writes ``NaN`` back) to pages that then fail.

Rule 2 — a number too large for a double is refused, not read as ``inf``: ``1e999`` is what a
browser reads as ``Infinity`` (rule 1 again, on the way out).

Rule 3 — an integer of more than 4,300 digits makes Python raise a plain ``ValueError`` (not a
``JSONDecodeError``) and nesting past about 1,000 levels a ``RecursionError``; both were
unhandled where only ``JSONDecodeError`` was caught (a 500, or ``internal_error`` with a
traceback). :func:`loads` raises :class:`NotJson` for all of them, and for every ordinary
syntax error.

Rule 4 — a string holding half of a surrogate pair (``"\\ud800"``, which only an escape can
write) is not text: Python keeps it, then SQLite, PostgreSQL and every UTF-8 encoder refuse
it, so a hand raised with such a message was an ``internal_error`` with a traceback. Where the
text is only passed on, never stored or encoded (awareness states), ``text=False`` lets it be.

Rule 5 — a string holding U+0000 (NUL, which only the escape ``\\u0000`` can write) is not
text either: PostgreSQL's ``text`` refuses it, so a comment or a raised hand's message holding
one was a 500 or an ``internal_error`` with a traceback there, and passed on SQLite. No form
field or editor of a browser writes it. ``text=False`` lets it be, as for rule 4.

What a stock client writes (``JSON.stringify`` never writes ``NaN``, ``Infinity`` or 4,300
digits) is read exactly as before. How large an integer a field may hold is the field's
business (the command specs, the body models), not this reader's.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any


class NotJson(ValueError):
    """The text is not JSON a browser would read; the message says why."""


def _refuse_constant(name: str) -> Any:
    raise NotJson(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise NotJson(f"the number {text[:20]}… is too large")
    return value


# One decoder for every call (json.loads with hooks would build one each time).
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite)
# An escape of a surrogate (rule 4; a pair decodes to one character, a lone half stays) or of
# NUL (rule 5): only a string holding one is looked at.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")


def loads(raw: str | bytes, *, text: bool = True) -> Any:
    """Decode ``raw`` (UTF-8 when bytes, a leading byte order mark ignored, as ``json.loads``
    ignores it); :class:`NotJson` if a browser would not read it, or (``text``) if a string in
    it is not text (rules 4 and 5)."""
    try:
        source = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
        value = _DECODER.decode(source)
        if text and _SUSPECT_ESCAPE.search(source) is not None:
            _check_text(value)
        return value
    except NotJson:
        raise
    except RecursionError:
        raise NotJson("nested too deeply") from None
    except UnicodeDecodeError:
        raise NotJson("not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise NotJson(str(exc)) from None
    except ValueError:  # an integer past Python's digit limit (sys.get_int_max_str_digits)
        raise NotJson("a number has too many digits") from None


def _check_text(value: Any) -> None:
    """NotJson if a string (or key) in ``value`` holds a lone surrogate or a NUL."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                raise NotJson("a string holds half a surrogate pair (not Unicode)") from None
            if "\x00" in item:
                raise NotJson("a string holds U+0000 (NUL), which is not text")
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
