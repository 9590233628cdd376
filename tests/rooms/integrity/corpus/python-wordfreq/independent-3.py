import sys


def main() -> None:
    limit = 5
    args = sys.argv[1:]
    if args:
        limit = int(args[0])
    stop = {"the", "a", "an", "and", "or", "of", "to", "in", "is", "it"}
    seen: dict[str, int] = {}
    order: list[str] = []
    data = sys.stdin.read().lower()
    current = []
    for ch in data + " ":
        if ch.isalpha() or ch == "'":
            current.append(ch)
            continue
        if current:
            word = "".join(current).strip("'")
            current = []
            if word and word not in stop:
                if word not in seen:
                    order.append(word)
                    seen[word] = 0
                seen[word] += 1
    total = sum(seen.values())
    print("distinct words:", len(order))
    print("total words:", total)
    letters = sum(len(w) * n for w, n in seen.items())
    print("average length: %.2f" % (letters / total if total else 0.0))
    ranking = sorted(order, key=lambda w: (-seen[w], w))
    for word in ranking[:limit]:
        print(f"{word:>15} {seen[word]:5d} {'#' * min(seen[word], 40)}")
    by_length = sorted(order, key=len, reverse=True)
    print("longest:", ", ".join(by_length[:3]))


main()
