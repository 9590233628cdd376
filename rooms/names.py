"""People's names as everybody else sees them: in member lists, on cursors, on the leaderboard
projected to the class, in exports.

A student picks their own name when they join. Three kinds of characters let a name show as
something else than it is, and none belongs in a name:

1. Controls (Unicode category Cc: line breaks, tabs, escape sequences): a name on two lines
   ("Alice" then "Ada (teacher)"), or one that moves a terminal's cursor in a log.
2. Bidirectional overrides, embeddings and isolates (U+202A-U+202E, U+2066-U+2069), which
   turn the text after them around: "\u202erehcaet" shows as "teacher".
3. Invisible characters that join nothing: zero-width space, word joiner, the byte order
   mark, and the line and paragraph separators. The zero-width joiner and non-joiner stay:
   Persian and Indic names and emoji sequences need them.

:func:`problem` names what a typed name holds of these (the caller refuses it);
:func:`printable` takes them out of a name that came from elsewhere (an LMS), which is not
ours to refuse. :func:`folded` is what two names are compared by, so that "Ada" and "ADA "
written in full-width letters (U+FF21...) are one name.
"""

from __future__ import annotations

import unicodedata

_BIDI = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))
_INVISIBLE = frozenset((0x200B, 0x2060, 0xFEFF, 0x2028, 0x2029, 0x180E))


def _bad(char: str) -> str | None:
    code = ord(char)
    if unicodedata.category(char) == "Cc":
        return "a control character"
    if code in _BIDI:
        return "a character that reverses the text's direction"
    if code in _INVISIBLE:
        return "an invisible character"
    return None


def problem(name: str) -> str | None:
    """What ``name`` holds that no name may (see the module's note), or None."""
    for char in name:
        found = _bad(char)
        if found is not None:
            return f"a name may not hold {found} (U+{ord(char):04X})"
    return None


def printable(name: str) -> str:
    """``name`` without what :func:`problem` refuses (a control as a space), its spaces
    collapsed."""
    out = []
    for char in name:
        if unicodedata.category(char) == "Cc":
            out.append(" ")
        elif _bad(char) is None:
            out.append(char)
    return " ".join("".join(out).split())


def folded(name: str) -> str:
    """The form two names are compared in: compatibility-normalized, case-folded, its spaces
    collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())
