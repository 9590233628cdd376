/* Unit-test runner for C and C++ exercises, run in the sandbox as the entry file (main.c, or
 * main.cpp for C++: this text is valid in both). Tests come from TEST() in the test file; see
 * grade_test.h. It reads and deletes grade-config.json (only its nonce), runs each test in a
 * forked child that reports through a pipe, and prints one line per test:
 *     @@grade:<nonce>@@ {"case": ..., "passed": ..., "message": ...}
 * then {"done": true}. A child that dies without reporting fails with its signal or status.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "grade_test.h"

#define GT_MAX_TESTS 512

static struct {
    const char *name;
    gt_test_fn fn;
} gt_tests[GT_MAX_TESTS];
static int gt_count = 0;
static int gt_report_fd = -1;
static char gt_nonce[80] = "";

void gt_register(const char *name, gt_test_fn fn) {
    if (gt_count < GT_MAX_TESTS) {
        gt_tests[gt_count].name = name;
        gt_tests[gt_count].fn = fn;
        gt_count++;
    }
}

/* In the child: send the verdict to the parent and end the child. */
static void gt_report(int passed, const char *message) {
    char buf[1024];
    fflush(stdout);
    fflush(stderr);
    snprintf(buf, sizeof buf, "%c%s", passed ? 'P' : 'F', message);
    if (write(gt_report_fd, buf, strlen(buf)) < 0) {
        _exit(3);
    }
    _exit(0);
}

void gt_fail(const char *file, int line, const char *message) {
    char text[960];
    snprintf(text, sizeof text, "%s:%d: %s", file, line, message);
    gt_report(0, text);
}

void gt_fail_int(const char *file, int line, const char *expr, long long got, long long want) {
    char text[960];
    snprintf(text, sizeof text, "%s:%d: %s is %lld, expected %lld", file, line, expr, got, want);
    gt_report(0, text);
}

static void gt_json_string(const char *text) {
    const unsigned char *c;
    putchar('"');
    for (c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\') {
            printf("\\%c", *c);
        } else if (*c < 0x20) {
            printf("\\u%04x", *c);
        } else {
            putchar(*c);
        }
    }
    putchar('"');
}

static void gt_emit(const char *name, int passed, const char *message) {
    printf("\n@@grade:%s@@ {\"case\": ", gt_nonce);
    gt_json_string(name);
    printf(", \"passed\": %s, \"message\": ", passed ? "true" : "false");
    gt_json_string(message);
    printf("}\n");
    fflush(stdout);
}

static void gt_run(int i) {
    char buf[1024];
    size_t got = 0;
    ssize_t n;
    int fds[2], status = 0;
    pid_t pid;
    fflush(stdout);
    if (pipe(fds) != 0 || (pid = fork()) < 0) {
        gt_emit(gt_tests[i].name, 0, "the runner could not start a process for this test");
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        gt_report_fd = fds[1];
        gt_tests[i].fn();
        gt_report(1, "");
    }
    close(fds[1]);
    while (got < sizeof buf - 1 && (n = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0) {
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fds[0]);
    waitpid(pid, &status, 0);
    if (got > 0) {
        gt_emit(gt_tests[i].name, buf[0] == 'P', buf + 1);
    } else if (WIFSIGNALED(status)) {
        snprintf(buf, sizeof buf, "crashed: signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
        gt_emit(gt_tests[i].name, 0, buf);
    } else {
        snprintf(buf, sizeof buf, "exited with status %d before the test ended",
                 WEXITSTATUS(status));
        gt_emit(gt_tests[i].name, 0, buf);
    }
}

int main(void) {
    int i;
    FILE *config = fopen("grade-config.json", "r");
    if (config == NULL || fscanf(config, "{\"nonce\": \"%64[0-9a-f]\"", gt_nonce) != 1) {
        fprintf(stderr, "grade-config.json is missing or unreadable\n");
        return 2;
    }
    fclose(config);
    remove("grade-config.json");
    for (i = 0; i < gt_count; i++) {
        gt_run(i);
    }
    printf("\n@@grade:%s@@ {\"done\": true}\n", gt_nonce);
    return 0;
}
