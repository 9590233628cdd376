"""Errors of the integrity package.

Hierarchy::

    IntegrityError
    ├── UnknownLanguage      no lexer for the language named
    └── CorruptFingerprints  stored fingerprint bytes that do not decode
"""

from __future__ import annotations


class IntegrityError(Exception):
    """Base of every error raised on purpose by the integrity package."""


class UnknownLanguage(IntegrityError, ValueError):
    """The language has no lexer here; the message lists the ones that do."""


class CorruptFingerprints(IntegrityError, ValueError):
    """Stored fingerprints whose length is not a whole number of records."""
