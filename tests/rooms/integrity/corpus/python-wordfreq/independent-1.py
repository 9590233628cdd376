import sys
from collections import Counter

COMMON = set("the a an and or of to in is it".split())


def words_of(text):
    out = []
    for token in text.lower().split():
        token = token.strip(".,;:!?\"()[]")
        if token and token not in COMMON:
            out.append(token)
    return out


def report(words, how_many):
    counter = Counter(words)
    print("distinct words:", len(counter))
    print("total words:", len(words))
    mean = sum(map(len, words)) / len(words) if words else 0
    print("average length: %.2f" % mean)
    for word, n in counter.most_common(how_many):
        bar = "#" * min(n, 40)
        print(word.rjust(15), str(n).rjust(5), bar)
    longest = sorted(set(words), key=len, reverse=True)[:3]
    print("longest:", ", ".join(longest))


if __name__ == "__main__":
    how_many = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    report(words_of(sys.stdin.read()), how_many)
