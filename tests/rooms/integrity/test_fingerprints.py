from __future__ import annotations

import random

import pytest

from rooms.integrity.exceptions import CorruptFingerprints
from rooms.integrity.fingerprints import (
    K_GRAM,
    fingerprint,
    kgram_hashes,
    pack,
    unpack,
    winnow,
)

PROGRAM = "\n".join(f"def f{i}(x):\n    return x * {i} + len(x)\n" for i in range(20))


def test_every_window_has_a_selected_hash() -> None:
    rng = random.Random(4)
    hashes = [rng.randrange(50) for _ in range(300)]
    picked = winnow(hashes, 6)
    assert picked == sorted(set(picked))
    for start in range(len(hashes) - 6 + 1):
        window = range(start, start + 6)
        assert any(p in window for p in picked)
        assert min(hashes[i] for i in window) in {hashes[p] for p in picked if p in window}


def test_short_inputs() -> None:
    assert kgram_hashes(("a",) * (K_GRAM - 1)) == []
    assert winnow([]) == []
    assert winnow([5, 3, 3]) == [2]


def test_hashes_are_stable_values() -> None:
    # Stored in the database: must not change between processes or Python versions.
    assert kgram_hashes(("a", "b", "c"), 2) == kgram_hashes(("a", "b", "c"), 2)
    assert kgram_hashes(("V", "=", "N"), 3) == [849376940096202413]


def test_fingerprints_carry_lines_and_round_trip() -> None:
    prints = fingerprint(PROGRAM, "python")
    assert prints
    assert all(1 <= p.start_line <= p.end_line <= PROGRAM.count("\n") + 1 for p in prints)
    assert unpack(pack(prints)) == prints


def test_renamed_copy_has_the_same_fingerprints() -> None:
    renamed = PROGRAM.replace("x", "value").replace("def f", "def g")
    assert {p.hash for p in fingerprint(renamed, "python")} == {
        p.hash for p in fingerprint(PROGRAM, "python")
    }


def test_corrupt_bytes_are_refused() -> None:
    with pytest.raises(CorruptFingerprints):
        unpack(b"\x00" * 7)
