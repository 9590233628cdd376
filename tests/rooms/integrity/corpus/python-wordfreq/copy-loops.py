import sys

STOPS = {"the", "a", "an", "and", "or", "of", "to", "in", "is", "it"}


def norm(s):
    # letters and apostrophes
    kept = "".join(ch for ch in s.lower() if ch.isalpha() or ch == "'")
    return kept.strip("'")


def count_words(text, skip):
    table = {}
    parts = text.split()
    i = 0
    while i < len(parts):
        word = norm(parts[i])
        i += 1
        if not word:
            continue
        if skip and word in STOPS:
            continue
        table[word] = table.get(word, 0) + 1
    return table


def top_words(table, limit):
    ordered = sorted(table.items(), key=lambda item: (-item[1], item[0]))
    return ordered[:limit]


def average_length(table):
    letters = 0
    words = 0
    for word, count in table.items():
        letters += len(word) * count
        words += count
    if words == 0:
        return 0.0
    return letters / words


def longest_words(table, limit):
    result = [(len(word), word) for word in table]
    result.sort(reverse=True)
    return [word for _, word in result[:limit]]


def main():
    text = sys.stdin.read()
    limit = 5
    if len(sys.argv) > 1:
        limit = int(sys.argv[1])
    table = count_words(text, True)
    print("distinct words:", len(table))
    print("total words:", sum(table.values()))
    print("average length: %.2f" % average_length(table))
    for word, count in top_words(table, limit):
        print(f"{word:>15} {count:5d} " + "#" * min(count, 40))
    print("longest:", ", ".join(longest_words(table, 3)))


if __name__ == "__main__":
    main()
