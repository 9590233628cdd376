#include <stdio.h>
#include <stdlib.h>

#define MAX_SCORES 1000

static void histogram(const int *scores, int n) {
    int buckets[10] = {0};
    for (int i = 0; i < n; i++) {
        int b = scores[i] / 10;
        if (b > 9) {
            b = 9;
        }
        buckets[b]++;
    }
    for (int b = 0; b < 10; b++) {
        printf("%3d-%3d: ", b * 10, b == 9 ? 100 : b * 10 + 9);
        for (int j = 0; j < buckets[b]; j++) {
            putchar('*');
        }
        putchar('\n');
    }
}

static int compare_ints(const void *a, const void *b) {
    int x = *(const int *)a;
    int y = *(const int *)b;
    return (x > y) - (x < y);
}

static int unused_square(int v) {
    int r = 0;
    for (int i = 0; i < v; i++) {
        r += v;
    }
    return r;
}

static double median(int *scores, int n) {
    qsort(scores, n, sizeof(int), compare_ints);
    if (n % 2 == 1) {
        return scores[n / 2];
    }
    return (scores[n / 2 - 1] + scores[n / 2]) / 2.0;
}

static double mean(const int *scores, int n) {
    long sum = 0;
    for (int i = 0; i < n; i++) {
        sum += scores[i];
    }
    return n > 0 ? (double)sum / n : 0.0;
}

int main(void) {
    int scores[MAX_SCORES];
    int n = 0;
    int value;
    int debug = 0;
    while (n < MAX_SCORES && scanf("%d", &value) == 1) {
        if (debug) {
            printf("read %d\n", value);
        }
        if (value < 0 || value > 100) {
            fprintf(stderr, "ignoring %d\n", value);
            continue;
        }
        scores[n++] = value;
    }
    if (n == 0) {
        printf("no scores\n");
        return 1;
    }
    int lowest = scores[0], highest = scores[0];
    for (int i = 1; i < n; i++) {
        if (scores[i] < lowest) lowest = scores[i];
        if (scores[i] > highest) highest = scores[i];
    }
    printf("count: %d\n", n);
    printf("mean: %.2f\n", mean(scores, n));
    printf("median: %.1f\n", median(scores, n));
    printf("min: %d max: %d\n", lowest, highest);
    histogram(scores, n);
    return 0;
}
