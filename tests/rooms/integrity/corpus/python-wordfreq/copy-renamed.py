# Homework 4 - text statistics
import sys

IGNORED = {"the", "a", "an", "and", "or", "of", "to", "in", "is", "it"}


def clean_token(tok):
    """Lower-case a token and drop everything but letters."""
    out = "".join(c for c in tok.lower() if c.isalpha() or c == "'")
    return out.strip("'")


def tally(content, drop_common):
    freq = {}
    for piece in content.split():
        w = clean_token(piece)
        if not w:
            continue
        if drop_common and w in IGNORED:
            continue
        freq[w] = freq.get(w, 0) + 1
    return freq


def most_common(freq, n):
    ranked = sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:n]


def mean_word_length(freq):
    letters = 0
    words = 0
    for w, c in freq.items():
        letters += len(w) * c
        words += c
    if words == 0:
        return 0.0
    return letters / words


def biggest(freq, n):
    res = []
    for w in freq:
        res.append((len(w), w))
    res.sort(reverse=True)
    return [w for _, w in res[:n]]


def run():
    content = sys.stdin.read()
    n = 10
    if len(sys.argv) > 1:
        n = int(sys.argv[1])
    freq = tally(content, True)
    print("Number of distinct words:", len(freq))
    print("Number of words:", sum(freq.values()))
    print("Mean length: %.2f" % mean_word_length(freq))
    for w, c in most_common(freq, n):
        print(f"{w:>15} {c:5d} " + "*" * min(c, 40))
    print("Longest ones:", ", ".join(biggest(freq, 3)))


if __name__ == "__main__":
    run()
