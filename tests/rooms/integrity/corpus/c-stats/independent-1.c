#include <stdio.h>

int main(void) {
    int count[101] = {0};
    int total = 0, sum = 0, x;
    while (scanf("%d", &x) == 1) {
        if (x < 0 || x > 100) {
            fprintf(stderr, "ignoring %d\n", x);
            continue;
        }
        count[x]++;
        total++;
        sum += x;
    }
    if (!total) {
        puts("no scores");
        return 1;
    }
    int lo = 0, hi = 100;
    while (!count[lo]) lo++;
    while (!count[hi]) hi--;
    /* median from the counting table */
    int seen = 0, left = -1, right = -1;
    for (int v = 0; v <= 100; v++) {
        seen += count[v];
        if (left < 0 && seen >= (total + 1) / 2) left = v;
        if (right < 0 && seen >= total / 2 + 1) right = v;
    }
    printf("count: %d\n", total);
    printf("mean: %.2f\n", (double)sum / total);
    printf("median: %.1f\n", (left + right) / 2.0);
    printf("min: %d max: %d\n", lo, hi);
    for (int d = 0; d < 10; d++) {
        int top = d == 9 ? 100 : d * 10 + 9, stars = 0;
        for (int v = d * 10; v <= top; v++) stars += count[v];
        printf("%3d-%3d: ", d * 10, top);
        while (stars-- > 0) putchar('*');
        putchar('\n');
    }
    return 0;
}
