import re
import sys

SKIP = ["the", "a", "an", "and", "or", "of", "to", "in", "is", "it"]
WORD = re.compile(r"[a-z']+")


class Stats:
    def __init__(self):
        self.freq = {}
        self.letters = 0
        self.total = 0

    def feed(self, line):
        for match in WORD.finditer(line.lower()):
            w = match.group(0).strip("'")
            if w == "" or w in SKIP:
                continue
            self.total += 1
            self.letters += len(w)
            if w in self.freq:
                self.freq[w] += 1
            else:
                self.freq[w] = 1

    def mean(self):
        return self.letters / self.total if self.total else 0.0

    def best(self, k):
        keys = list(self.freq)
        keys.sort(key=lambda w: (-self.freq[w], w))
        return keys[:k]


stats = Stats()
for line in sys.stdin:
    stats.feed(line)
k = 5 if len(sys.argv) < 2 else int(sys.argv[1])
print("distinct words:", len(stats.freq))
print("total words:", stats.total)
print("average length: %.2f" % stats.mean())
for w in stats.best(k):
    print("%15s %5d %s" % (w, stats.freq[w], "#" * min(stats.freq[w], 40)))
longest = sorted(stats.freq, key=lambda w: (len(w), w), reverse=True)
print("longest:", ", ".join(longest[:3]))
