"""Word frequency report: read text on stdin, print statistics and the top words."""
import sys

STOP_WORDS = {"the", "a", "an", "and", "or", "of", "to", "in", "is", "it"}


def normalise(word):
    # keep letters and apostrophes only
    cleaned = "".join(ch for ch in word.lower() if ch.isalpha() or ch == "'")
    return cleaned.strip("'")


def count_words(text, skip_stop_words):
    counts = {}
    for raw in text.split():
        word = normalise(raw)
        if not word:
            continue
        if skip_stop_words and word in STOP_WORDS:
            continue
        counts[word] = counts.get(word, 0) + 1
    return counts


def top_words(counts, limit):
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ordered[:limit]


def average_length(counts):
    total_letters = 0
    total_words = 0
    for word, count in counts.items():
        total_letters += len(word) * count
        total_words += count
    if total_words == 0:
        return 0.0
    return total_letters / total_words


def longest_words(counts, limit):
    result = []
    for word in counts:
        result.append((len(word), word))
    result.sort(reverse=True)
    return [word for _, word in result[:limit]]


def main():
    text = sys.stdin.read()
    limit = 5
    if len(sys.argv) > 1:
        limit = int(sys.argv[1])
    counts = count_words(text, True)
    print("distinct words:", len(counts))
    print("total words:", sum(counts.values()))
    print("average length: %.2f" % average_length(counts))
    for word, count in top_words(counts, limit):
        print(f"{word:>15} {count:5d} " + "#" * min(count, 40))
    print("longest:", ", ".join(longest_words(counts, 3)))


if __name__ == "__main__":
    main()
