"""CSV cells a spreadsheet will not run: a text cell starting with ``= + - @``, a tab or a
carriage return is a formula to Excel, LibreOffice and Sheets (``=HYPERLINK(…)`` in a student's
name). Such cells get a leading apostrophe, which spreadsheets show as text (OWASP's advice)."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    """``value`` as is, or, for a string a spreadsheet would evaluate, made plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
