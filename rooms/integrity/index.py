"""The fingerprint index of one exercise: one entry per student, updated one submission at
a time, and the ranked pairs it implies.

Design note. Adding a submission costs its distinct fingerprints times the students sharing
each one: the index keeps, per fingerprint hash, who has it, and per pair of students how
many distinct hashes they share, so the report never compares all pairs from scratch; it
scores every pair that shares anything and extracts fragments only for the pairs it returns.
A student's new submission replaces their previous entry (undoing its counts first).
Hashes of the starter code and the instructor's reference are ignored: what everybody was
given is not evidence of copying.

Similarity is the Dolos measure on distinct hashes: ``2·shared / (|A| + |B|)``, in [0, 1].
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from rooms.integrity.fingerprints import Fingerprint
from rooms.integrity.fragments import Fragment, fragments


@dataclass(frozen=True, slots=True)
class Entry:
    owner: int  # the student
    submission: int
    prints: tuple[Fingerprint, ...]
    hashes: frozenset[int]


@dataclass(frozen=True, slots=True)
class Pair:
    a: Entry
    b: Entry
    similarity: float
    shared: int
    fragments: list[Fragment] = field(default_factory=list)


class SimilarityIndex:
    def __init__(self, ignored: Iterable[int] = ()) -> None:
        self.ignored = frozenset(ignored)
        self._entries: dict[int, Entry] = {}
        self._postings: defaultdict[int, set[int]] = defaultdict(set)
        self._shared: defaultdict[tuple[int, int], int] = defaultdict(int)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, owner: int) -> bool:
        return owner in self._entries

    def entry(self, owner: int) -> Entry | None:
        return self._entries.get(owner)

    def add(self, owner: int, submission: int, prints: Iterable[Fingerprint]) -> Entry:
        """Index ``owner``'s submission, replacing their previous one. An older submission
        than the one indexed is ignored (submissions may arrive out of order)."""
        current = self._entries.get(owner)
        if current is not None:
            if current.submission >= submission:
                return current
            self.remove(owner)
        kept = tuple(p for p in prints if p.hash not in self.ignored)
        entry = Entry(owner, submission, kept, frozenset(p.hash for p in kept))
        # Counter.update counts in C: the hot loop of an add over a crowded index.
        counts: Counter[int] = Counter()
        postings = self._postings
        for h in entry.hashes:
            holders = postings[h]
            counts.update(holders)
            holders.add(owner)
        shared = self._shared
        for other, count in counts.items():
            shared[(owner, other) if owner < other else (other, owner)] += count
        self._entries[owner] = entry
        return entry

    def remove(self, owner: int) -> None:
        entry = self._entries.pop(owner, None)
        if entry is None:
            return
        counts: Counter[int] = Counter()
        postings = self._postings
        for h in entry.hashes:
            holders = postings[h]
            holders.discard(owner)
            if holders:
                counts.update(holders)
            else:
                del postings[h]
        shared = self._shared
        for other, count in counts.items():
            key = (owner, other) if owner < other else (other, owner)
            shared[key] -= count
            if shared[key] <= 0:
                del shared[key]

    def similarity(self, a: int, b: int) -> float:
        ea, eb = self._entries.get(a), self._entries.get(b)
        if ea is None or eb is None:
            return 0.0
        return _score(self._shared.get((min(a, b), max(a, b)), 0), ea, eb)

    def pairs(
        self, limit: int = 50, min_similarity: float = 0.0, exclude: Collection[int] = ()
    ) -> list[Pair]:
        """The ``limit`` most similar pairs, most similar first, each with its fragments;
        none involving an owner in ``exclude`` (staff testing the exercise)."""
        entries = self._entries
        excluded = frozenset(exclude)
        scored = []
        for (a, b), count in self._shared.items():
            if excluded and (a in excluded or b in excluded):
                continue
            value = _score(count, entries[a], entries[b])
            if value > 0 and value >= min_similarity:
                scored.append((value, count, a, b))
        scored.sort(key=lambda s: (-s[0], s[2], s[3]))
        return [self.pair(a, b) for _, _, a, b in scored[:limit]]

    def pair(self, a: int, b: int) -> Pair:
        """One pair with its fragments. Raises KeyError for an owner not indexed."""
        ea, eb = self._entries[a], self._entries[b]
        count = self._shared.get((min(a, b), max(a, b)), 0)
        found = fragments(list(ea.prints), list(eb.prints), self.ignored)
        return Pair(ea, eb, _score(count, ea, eb), count, found)


def _score(shared: int, a: Entry, b: Entry) -> float:
    total = len(a.hashes) + len(b.hashes)
    return 2 * shared / total if total else 0.0


def compare(
    a: list[Fingerprint], b: list[Fingerprint], ignored: frozenset[int] = frozenset()
) -> tuple[float, list[Fragment]]:
    """The similarity and fragments of two fingerprint lists outside any index (the same
    measure as :meth:`SimilarityIndex.pairs`)."""
    hashes_a = {p.hash for p in a} - ignored
    hashes_b = {p.hash for p in b} - ignored
    total = len(hashes_a) + len(hashes_b)
    value = 2 * len(hashes_a & hashes_b) / total if total else 0.0
    return value, fragments(a, b, ignored)
