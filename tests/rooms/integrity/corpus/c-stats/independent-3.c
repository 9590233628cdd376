#include <stdio.h>
#include <string.h>

typedef struct {
    int n, min, max;
    long sum;
    int bucket[10];
    int values[1000];
} Summary;

static void add(Summary *s, int v) {
    if (s->n == 0 || v < s->min) s->min = v;
    if (s->n == 0 || v > s->max) s->max = v;
    s->sum += v;
    s->bucket[v == 100 ? 9 : v / 10] += 1;
    s->values[s->n++] = v;
}

static int kth(int *a, int n, int k) {
    /* quickselect, Lomuto partition */
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int pivot = a[hi], store = lo;
        for (int i = lo; i < hi; i++) {
            if (a[i] < pivot) { int t = a[i]; a[i] = a[store]; a[store] = t; store++; }
        }
        int t = a[hi]; a[hi] = a[store]; a[store] = t;
        if (store == k) return a[k];
        if (store < k) lo = store + 1; else hi = store - 1;
    }
    return a[k];
}

int main(void) {
    Summary s;
    memset(&s, 0, sizeof s);
    int v;
    while (s.n < 1000 && scanf("%d", &v) == 1) {
        if (v < 0 || v > 100) { fprintf(stderr, "ignoring %d\n", v); continue; }
        add(&s, v);
    }
    if (s.n == 0) { puts("no scores"); return 1; }
    double median = s.n % 2 ? kth(s.values, s.n, s.n / 2)
                            : (kth(s.values, s.n, s.n / 2 - 1) + kth(s.values, s.n, s.n / 2)) / 2.0;
    printf("count: %d\n", s.n);
    printf("mean: %.2f\n", (double)s.sum / s.n);
    printf("median: %.1f\n", median);
    printf("min: %d max: %d\n", s.min, s.max);
    for (int b = 0; b < 10; b++) {
        printf("%3d-%3d: %.*s\n", b * 10, b == 9 ? 100 : b * 10 + 9, s.bucket[b],
               "****************************************************************");
    }
    return 0;
}
