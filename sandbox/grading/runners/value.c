/* Value-test harness for C, run in the sandbox as main.c, once per case (the case number is
 * argv[1]). The student's sources are included below (their own main renamed), so each call is
 * checked against the student's real prototypes; the grader writes the calls, with the
 * arguments as literals (a list is a pointer to its first element followed by its length).
 * The returned value is reported by its C type (_Generic) as one record on stdout, on a line of
 * its own: "\x1evalue <tagged JSON>". It decides nothing: the server compares the value with
 * the expected one, which is not here. A second record makes the case count as tampered. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define main gv_student_main
/* @@INCLUDES@@ */
#undef main

static char gv_buf[1 << 16];
static size_t gv_len = 0;

static void gv_put(const char *text) {
    size_t n = strlen(text);
    if (gv_len + n < sizeof gv_buf) {
        memcpy(gv_buf + gv_len, text, n);
        gv_len += n;
    }
}

static void gv_text(const char *s) {
    char one[8];
    const unsigned char *c;
    gv_put("\"");
    for (c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            snprintf(one, sizeof one, "\\%c", *c);
        } else if (*c < 0x20) {
            snprintf(one, sizeof one, "\\u%04x", *c);
        } else {
            one[0] = (char)*c;
            one[1] = '\0';
        }
        gv_put(one);
    }
    gv_put("\"");
}

static void gv_emit(void) {
    fflush(stdout);
    if (write(1, "\n\x1evalue ", 8) < 0 || write(1, gv_buf, gv_len) < 0 || write(1, "\n", 1) < 0) {
        _exit(3);
    }
}

static void gv_bool(bool v) { gv_put(v ? "{\"t\": \"bool\", \"v\": true}" : "{\"t\": \"bool\", \"v\": false}"); }
static void gv_ll(long long v) {
    char text[64];
    snprintf(text, sizeof text, "{\"t\": \"int\", \"v\": \"%lld\"}", v);
    gv_put(text);
}
static void gv_ull(unsigned long long v) {
    char text[64];
    snprintf(text, sizeof text, "{\"t\": \"int\", \"v\": \"%llu\"}", v);
    gv_put(text);
}
static void gv_double(double v) {
    char text[64];
    snprintf(text, sizeof text, "{\"t\": \"float\", \"v\": \"%.17g\"}", v);
    gv_put(text);
}
static void gv_char(char v) {
    char text[2] = {v, '\0'};
    gv_put("{\"t\": \"str\", \"v\": ");
    gv_text(text);
    gv_put("}");
}
static void gv_str(const char *v) {
    if (v == NULL) {
        gv_put("{\"t\": \"null\"}");
        return;
    }
    gv_put("{\"t\": \"str\", \"v\": ");
    gv_text(v);
    gv_put("}");
}

#define GV_REPORT(x) _Generic((x), \
    _Bool: gv_bool, char: gv_char, signed char: gv_ll, short: gv_ll, int: gv_ll, long: gv_ll, \
    long long: gv_ll, unsigned char: gv_ull, unsigned short: gv_ull, unsigned int: gv_ull, \
    unsigned long: gv_ull, unsigned long long: gv_ull, float: gv_double, double: gv_double, \
    long double: gv_double, char *: gv_str, const char *: gv_str)(x)

int main(int argc, char **argv) {
    int gv_case = argc > 1 ? atoi(argv[1]) : -1;
    switch (gv_case) {
    /* @@CASES@@ */
    default:
        fprintf(stderr, "no such case\n");
        return 2;
    }
    gv_emit();
    return 0;
}
