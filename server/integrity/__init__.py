"""Academic integrity, the I/O side: fingerprints stored per submission and an index per
exercise kept up to date as submissions arrive; instructors' reviews (the only way a
similarity penalty is applied); the typing history kept after compaction, its pruning, and
the replay timeline with paste signals. The pure logic is in ``rooms/integrity``."""
