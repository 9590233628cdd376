#include <stdio.h>
#include <stdlib.h>

struct list {
    int *data;
    size_t len, cap;
};

static void append(struct list *l, int v) {
    if (l->len == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->data = realloc(l->data, l->cap * sizeof *l->data);
        if (!l->data) { perror("realloc"); exit(2); }
    }
    l->data[l->len++] = v;
}

static void insertion_sort(int *a, size_t n) {
    for (size_t i = 1; i < n; i++) {
        int key = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > key) { a[j] = a[j - 1]; j--; }
        a[j] = key;
    }
}

int main(void) {
    struct list l = {0};
    int v;
    while (scanf("%d", &v) == 1) {
        if (v >= 0 && v <= 100) append(&l, v);
        else fprintf(stderr, "ignoring %d\n", v);
    }
    if (l.len == 0) { printf("no scores\n"); return 1; }
    insertion_sort(l.data, l.len);
    double s = 0;
    for (size_t i = 0; i < l.len; i++) s += l.data[i];
    size_t h = l.len / 2;
    double med = l.len % 2 ? l.data[h] : (l.data[h - 1] + l.data[h]) / 2.0;
    printf("count: %zu\nmean: %.2f\nmedian: %.1f\n", l.len, s / l.len, med);
    printf("min: %d max: %d\n", l.data[0], l.data[l.len - 1]);
    size_t at = 0;
    for (int lo = 0; lo < 100; lo += 10) {
        int hi = lo == 90 ? 100 : lo + 9;
        printf("%3d-%3d: ", lo, hi);
        while (at < l.len && l.data[at] <= hi) { putchar('*'); at++; }
        printf("\n");
    }
    free(l.data);
    return 0;
}
