"""Course assets: images and other media shipped in a course archive under ``assets/`` and
shown in demo steps and prompts (``![a tree](assets/tree.png)``), sans I/O.

Rules:

1. Only known types, by extension, and the bytes must be what the extension says (the magic
   numbers of PNG, JPEG, GIF, WebP, MP3, MP4, WebM, Ogg, WAV, PDF); SVG must parse as an SVG
   document without script, event handlers or foreign content. The server serves each with the
   type decided here, never what a browser might sniff.
2. Limits: :data:`MAX_ASSET_BYTES` a file, :data:`MAX_TOTAL_BYTES` a course.
3. Every ``assets/…`` a demo file mentions must be in the course.

A refusal is a :class:`~rooms.demos.exceptions.DefinitionError`: ``file:line: reason``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree import ElementTree

from rooms.demos.exceptions import DefinitionError

MAX_ASSET_BYTES = 5 << 20
MAX_TOTAL_BYTES = 40 << 20
MAX_ASSETS = 500
_PATH = re.compile(
    r"assets/(?:[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}/){0,4}[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}"
)
# A reference in Markdown or HTML: after "(", a quote or "=" (src=assets/…), up to a delimiter.
_REFERENCE = re.compile(r"""(?:^|[\s("'=])(assets/[^\s)"'<>]*)""")


def _is_mp4(data: bytes) -> bool:
    return data[4:8] == b"ftyp"


TYPES: dict[str, tuple[str, object]] = {
    "png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    "jpg": ("image/jpeg", b"\xff\xd8\xff"),
    "jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    "gif": ("image/gif", (b"GIF87a", b"GIF89a")),
    "webp": ("image/webp", lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP"),
    "svg": ("image/svg+xml", None),
    "mp3": ("audio/mpeg", lambda d: d[:3] == b"ID3" or d[:2] in (b"\xff\xfb", b"\xff\xf3")),
    "wav": ("audio/wav", lambda d: d[:4] == b"RIFF" and d[8:12] == b"WAVE"),
    "ogg": ("audio/ogg", b"OggS"),
    "mp4": ("video/mp4", _is_mp4),
    "webm": ("video/webm", b"\x1a\x45\xdf\xa3"),
    "pdf": ("application/pdf", b"%PDF-"),
}

_SVG_FORBIDDEN = {"script", "foreignobject", "iframe", "object", "embed", "use"}


@dataclass(frozen=True)
class Asset:
    path: str  # "assets/…"
    content_type: str
    data: bytes


def check_asset(path: str, data: bytes) -> Asset:
    """One asset file, or DefinitionError naming it."""
    if not _PATH.fullmatch(path):
        raise DefinitionError(
            path, 1, "an asset path is assets/[folders/]name.ext of letters, digits, . _ -"
        )
    extension = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    kind = TYPES.get(extension)
    if kind is None:
        known = ", ".join(sorted(TYPES))
        raise DefinitionError(
            path, 1, f"unsupported asset type {extension or '(none)'!r}; use one of {known}"
        )
    if len(data) > MAX_ASSET_BYTES:
        raise DefinitionError(
            path,
            1,
            f"the file is {len(data)} bytes; an asset is at most {MAX_ASSET_BYTES >> 20} MiB",
        )
    content_type, magic = kind
    if magic is None:
        _check_svg(path, data)
    elif not _matches(magic, data):
        raise DefinitionError(path, 1, f"the content is not {content_type} as the extension says")
    return Asset(path, content_type, data)


def _matches(magic: object, data: bytes) -> bool:
    if isinstance(magic, bytes):
        return data.startswith(magic)
    if isinstance(magic, tuple):
        return any(data.startswith(m) for m in magic)
    assert callable(magic)
    return bool(magic(data))


def _check_svg(path: str, data: bytes) -> None:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise DefinitionError(path, 1, "an SVG asset may not declare a DOCTYPE or entities")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        line = exc.position[0] if exc.position else 1
        raise DefinitionError(path, line, f"not a well-formed SVG document: {exc}") from None
    if root.tag.rsplit("}", 1)[-1] != "svg":
        raise DefinitionError(path, 1, "the document's root is not <svg>")
    for element in root.iter():
        name = element.tag.rsplit("}", 1)[-1].lower()
        if name in _SVG_FORBIDDEN:
            raise DefinitionError(path, 1, f"an SVG asset may not contain <{name}>")
        for attribute, value in element.attrib.items():
            attr = attribute.rsplit("}", 1)[-1].lower()
            if attr.startswith("on") or (attr == "href" and not value.startswith("#")):
                raise DefinitionError(
                    path, 1, f"an SVG asset may not use {attr}= (script or links)"
                )


def check_total(assets: list[Asset]) -> None:
    if len(assets) > MAX_ASSETS:
        raise DefinitionError("assets/", 1, f"a course has at most {MAX_ASSETS} assets")
    total = sum(len(a.data) for a in assets)
    if total > MAX_TOTAL_BYTES:
        raise DefinitionError(
            "assets/", 1, f"the assets come to {total} bytes; at most {MAX_TOTAL_BYTES >> 20} MiB"
        )


def check_references(display: str, text: str, known: set[str]) -> None:
    """Every ``assets/…`` that ``text`` (a demo file) mentions is one of ``known``."""
    for number, line in enumerate(text.splitlines(), start=1):
        for match in _REFERENCE.finditer(line):
            ref = match.group(1).rstrip(".,;:")
            if ref not in known:
                raise DefinitionError(display, number, f"{ref} is not in the course's assets/")
