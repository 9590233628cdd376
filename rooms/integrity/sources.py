"""What of a submission is compared, and what every student was given.

A submission may have several files; they are compared as one text, the files in name
order, so the line numbers of a fragment refer to that text (:func:`compared_text`, which
the side-by-side view shows). The exercise's starter files and the instructor's reference
solution give the hashes to ignore (:func:`given_hashes`). Only the first
``MAX_COMPARED_CHARS`` of a submission are lexed: a student cannot make the server spend
unbounded time on one file, and a copy is found in far less.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rooms.integrity.fingerprints import Fingerprint, fingerprint

MAX_COMPARED_CHARS = 200_000


def compared_text(files: Mapping[str, str]) -> str:
    parts = [files[name] for name in sorted(files)]
    return "".join(part if part.endswith("\n") or not part else part + "\n" for part in parts)


def submission_prints(files: Mapping[str, str], language: str) -> list[Fingerprint]:
    """Raises :class:`~rooms.integrity.exceptions.UnknownLanguage`."""
    return fingerprint(compared_text(files)[:MAX_COMPARED_CHARS], language)


def given_hashes(language: str, *given: Mapping[str, str]) -> set[int]:
    """The hashes of the starter code and the reference: each file on its own."""
    hashes: set[int] = set()
    for files in given:
        for text in files.values():
            hashes.update(p.hash for p in fingerprint(text, language))
    return hashes


def lines_of(text: str, lines: Iterable[int]) -> list[str]:
    """The given 1-based lines of ``text`` (missing ones as empty strings)."""
    all_lines = text.split("\n")
    return [all_lines[n - 1] if 0 < n <= len(all_lines) else "" for n in lines]
