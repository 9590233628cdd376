"""``next=`` after sign-in: a path on this site, never another origin.

Browsers read ``/\\evil.example/x`` as ``//evil.example/x`` (a backslash is a slash in the
authority of special schemes), and ``/%09/evil.example`` loses its tab; anything but a plain
path starting with one ``/`` falls back to the default.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(raw: str | None, default: str = "/dashboard") -> str:
    if not raw or len(raw) > 2000 or not raw.startswith("/"):
        return default
    if raw.startswith("//") or "\\" in raw or any(ord(c) < 0x21 for c in raw):
        return default
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return default
    return raw
