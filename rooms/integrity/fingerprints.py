"""Winnowing fingerprints (Schleimer, Wilkerson and Aiken 2003: MOSS; Dolos uses the same).

Every run of ``k`` consecutive tokens (a k-gram) is hashed; in every window of ``w``
consecutive k-gram hashes the smallest is kept (the rightmost on a tie), once. That keeps
about ``2 / (w + 1)`` of the hashes and guarantees that any match of at least ``w + k - 1``
tokens shares at least one fingerprint, while matches shorter than ``k`` tokens never count.

Hashes are a polynomial rolling hash over CRC-32s of the normalised tokens, modulo the
Mersenne prime 2^61 - 1: stable across processes and Python versions, so they can be stored.
A fingerprint keeps the k-gram's position (to chain matches into fragments) and its first and
last line. ``pack``/``unpack`` turn a list into 20 bytes a record for the database.
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from dataclasses import dataclass
from functools import cache

from rooms.integrity.exceptions import CorruptFingerprints
from rooms.integrity.tokens import Tokens, tokenize

K_GRAM = 12
WINDOW = 8
_MOD = (1 << 61) - 1
_BASE = 1_000_003
_RECORD = struct.Struct("<QIII")


@dataclass(frozen=True, slots=True)
class Fingerprint:
    hash: int
    index: int  # position of the k-gram in the token stream
    start_line: int
    end_line: int


@cache
def _token_id(kind: str) -> int:
    return zlib.crc32(kind.encode("utf-8")) + 1


def kgram_hashes(kinds: tuple[str, ...], k: int = K_GRAM) -> list[int]:
    """The hash of every k-gram, in order; empty when there are fewer than ``k`` tokens."""
    n = len(kinds)
    if n < k:
        return []
    ids = [_token_id(kind) for kind in kinds]
    top = pow(_BASE, k - 1, _MOD)
    h = 0
    for value in ids[:k]:
        h = (h * _BASE + value) % _MOD
    hashes = [h]
    for i in range(k, n):
        h = ((h - ids[i - k] * top) * _BASE + ids[i]) % _MOD
        hashes.append(h)
    return hashes


def winnow(hashes: list[int], w: int = WINDOW) -> list[int]:
    """Positions of the hashes robust winnowing selects, in increasing order."""
    if not hashes:
        return []
    if len(hashes) <= w:
        low = min(hashes)
        return [max(i for i, h in enumerate(hashes) if h == low)]
    picked: list[int] = []
    window: deque[int] = deque()  # positions, hashes increasing from the left
    for i, h in enumerate(hashes):
        while window and hashes[window[-1]] >= h:
            window.pop()
        window.append(i)
        if window[0] <= i - w:
            window.popleft()
        if i >= w - 1 and (not picked or picked[-1] != window[0]):
            picked.append(window[0])
    return picked


def fingerprint_tokens(tokens: Tokens, k: int = K_GRAM, w: int = WINDOW) -> list[Fingerprint]:
    hashes = kgram_hashes(tokens.kinds, k)
    lines = tokens.lines
    return [Fingerprint(hashes[i], i, lines[i], lines[i + k - 1]) for i in winnow(hashes, w)]


def fingerprint(source: str, language: str, k: int = K_GRAM, w: int = WINDOW) -> list[Fingerprint]:
    """Fingerprints of one source file. Raises :class:`UnknownLanguage`."""
    return fingerprint_tokens(tokenize(source, language), k, w)


def pack(prints: list[Fingerprint]) -> bytes:
    return b"".join(_RECORD.pack(p.hash, p.index, p.start_line, p.end_line) for p in prints)


def unpack(data: bytes) -> list[Fingerprint]:
    """Raises :class:`CorruptFingerprints` for bytes that are not whole records."""
    if len(data) % _RECORD.size:
        raise CorruptFingerprints(f"{len(data)} bytes is not a multiple of {_RECORD.size}")
    return [Fingerprint(*fields) for fields in _RECORD.iter_unpack(data)]
