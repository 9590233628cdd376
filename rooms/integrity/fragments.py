"""Matched fragments of a pair: shared fingerprints chained into line ranges on both sides.

Two matches belong to one fragment when both sides move forward by at most ``gap`` k-grams
from the fragment's last match (Dolos chains the same way), so a fragment survives small
edits and inserted lines between its matches; reordered functions give one fragment each.
Fragments whose ranges overlap on both sides are merged, and the result is sorted by the
first side's lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from rooms.integrity.fingerprints import K_GRAM, WINDOW, Fingerprint

GAP = K_GRAM + WINDOW


@dataclass(slots=True)
class Fragment:
    a_lines: tuple[int, int]
    b_lines: tuple[int, int]
    matches: int
    last_a: int = 0
    last_b: int = 0

    def to_dict(self) -> dict[str, list[int]]:
        return {"a_lines": list(self.a_lines), "b_lines": list(self.b_lines)}


def _overlap(x: tuple[int, int], y: tuple[int, int]) -> bool:
    return x[0] <= y[1] and y[0] <= x[1]


def _span(x: tuple[int, int], y: tuple[int, int]) -> tuple[int, int]:
    return (min(x[0], y[0]), max(x[1], y[1]))


def fragments(
    a: list[Fingerprint],
    b: list[Fingerprint],
    ignored: Collection[int] = (),
    gap: int = GAP,
) -> list[Fragment]:
    """The fragments ``a`` and ``b`` share, ignoring hashes in ``ignored``."""
    by_hash: defaultdict[int, list[Fingerprint]] = defaultdict(list)
    for print_b in b:
        if print_b.hash not in ignored:
            by_hash[print_b.hash].append(print_b)
    matches = [
        (print_a, print_b)
        for print_a in a
        if print_a.hash in by_hash
        for print_b in by_hash[print_a.hash]
    ]
    matches.sort(key=lambda m: (m[0].index, m[1].index))
    open_: list[Fragment] = []
    done: list[Fragment] = []
    for print_a, print_b in matches:
        a_lines = (print_a.start_line, print_a.end_line)
        b_lines = (print_b.start_line, print_b.end_line)
        chosen = None
        keep: list[Fragment] = []
        for frag in open_:
            if print_a.index - frag.last_a > gap:
                done.append(frag)  # too far behind to be extended again
                continue
            keep.append(frag)
            if (
                chosen is None
                and print_a.index - frag.last_a > 0
                and (0 < print_b.index - frag.last_b <= gap)
            ):
                chosen = frag
        open_ = keep
        if chosen is None:
            open_.append(Fragment(a_lines, b_lines, 1, print_a.index, print_b.index))
        else:
            chosen.a_lines = _span(chosen.a_lines, a_lines)
            chosen.b_lines = _span(chosen.b_lines, b_lines)
            chosen.matches += 1
            chosen.last_a, chosen.last_b = print_a.index, print_b.index
    return _merged(done + open_)


def _merged(found: list[Fragment]) -> list[Fragment]:
    found.sort(key=lambda f: (f.a_lines, f.b_lines))
    merged: list[Fragment] = []
    for frag in found:
        for other in merged:
            if _overlap(other.a_lines, frag.a_lines) and _overlap(other.b_lines, frag.b_lines):
                other.a_lines = _span(other.a_lines, frag.a_lines)
                other.b_lines = _span(other.b_lines, frag.b_lines)
                other.matches += frag.matches
                break
        else:
            merged.append(frag)
    return merged
