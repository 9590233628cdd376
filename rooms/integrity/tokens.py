"""Token streams for similarity: a real lexer per language, with the details a copier changes
for free normalised away.

Design note. A copy is hidden cheaply by renaming, reformatting, rewording comments and
changing constants. So the stream keeps what carries the structure (keywords, operators,
punctuation, builtin names such as ``len`` or ``println!``) and maps the rest to a class:
every identifier becomes ``V``, every string literal (however many lexer tokens it spans,
interpolations included) ``S``, every number ``N``; comments, preprocessor lines and
whitespace vanish. Each token keeps the line it starts on, so matches map back to lines.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import cache

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import Comment, Keyword, Literal, Name, Number, String, Text, Token

from rooms.integrity.exceptions import UnknownLanguage

# Our language names (sandbox/languages.py) -> Pygments lexer aliases.
LEXERS = {
    "python": "python",
    "javascript": "javascript",
    "typescript": "typescript",
    "c": "c",
    "cpp": "cpp",
    "go": "go",
    "rust": "rust",
}


@dataclass(frozen=True, slots=True)
class Tokens:
    """A normalised stream: ``kinds[i]`` is the token's text after normalisation and
    ``lines[i]`` the (1-based) line it starts on."""

    kinds: tuple[str, ...]
    lines: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.kinds)


@cache
def _lexer(language: str) -> Lexer:
    alias = LEXERS.get(language)
    if alias is None:
        raise UnknownLanguage(f"no lexer for {language!r}; languages: {', '.join(sorted(LEXERS))}")
    # stripnl would shift line numbers; ensurenl is harmless.
    return get_lexer_by_name(alias, stripnl=False, stripall=False)


def _kind(token: object, value: str) -> str | None:
    """The normalised text of one lexer token, or None when it is dropped."""
    if token in Comment or token in Text or not value.strip():
        return None
    if token in Name.Builtin or token in Name.Function.Magic:
        return value
    if token in Name:
        return "V"
    if token in String or token in Literal.String:
        return "S"
    if token in Number or token in Literal.Number:
        return "N"
    if token in Literal:
        return "S"
    if token in Keyword:
        return value
    if token in Token.Error:
        return value[:1]
    return value.strip()


def tokenize(source: str, language: str) -> Tokens:
    """The normalised token stream of ``source``. Raises :class:`UnknownLanguage`."""
    lexer = _lexer(language)
    if not source.endswith("\n"):
        source += "\n"  # a comment on the last line ends at a newline, for every lexer
    starts = [0]
    find = source.find
    at = find("\n")
    while at != -1:
        starts.append(at + 1)
        at = find("\n", at + 1)
    kinds: list[str] = []
    lines: list[int] = []
    in_string = False
    for index, token, value in lexer.get_tokens_unprocessed(source):
        kind = _kind(token, value)
        if kind is None:
            continue
        string_part = kind == "S" or token in String.Interpol or token in String.Affix
        if string_part and in_string:
            continue  # one S per literal, however the lexer splits it
        in_string = string_part
        if string_part:
            kind = "S"
        kinds.append(kind)
        lines.append(bisect.bisect_right(starts, index))
    return Tokens(tuple(kinds), tuple(lines))
