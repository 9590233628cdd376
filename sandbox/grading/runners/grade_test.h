/* grade_test.h: the unit-test harness of OpenCode Classroom for C and C++ exercises.
 *
 * A test file includes this header and defines tests with TEST(name) { ... }:
 *
 *     #include "grade_test.h"
 *     int add(int a, int b);            // from the student's solution.c
 *     TEST(adds_small) { CHECK(add(1, 2) == 3); }
 *     TEST(adds_negative) { CHECK_EQ_INT(add(-1, -2), -3); }
 *
 * CHECK(cond) ends the test as failed, naming the file, line and condition; CHECK_EQ_INT also
 * shows both values. A test passes when it returns. The runner (main.c, shipped with it) runs
 * each test in its own child process, so a crash or an exit() fails that test only.
 * Test names must be C identifiers and unique within the file.
 */
#ifndef GRADE_TEST_H
#define GRADE_TEST_H

#ifdef __cplusplus
extern "C" {
#endif
typedef void (*gt_test_fn)(void);
void gt_register(const char *name, gt_test_fn fn);
void gt_fail(const char *file, int line, const char *message);
void gt_fail_int(const char *file, int line, const char *expr, long long got, long long want);
#ifdef __cplusplus
}
#endif

#define TEST(name)                                                              \
    static void gt_test_##name(void);                                           \
    __attribute__((constructor)) static void gt_register_##name(void) {         \
        gt_register(#name, gt_test_##name);                                     \
    }                                                                           \
    static void gt_test_##name(void)

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) gt_fail(__FILE__, __LINE__, "CHECK(" #cond ") failed");    \
    } while (0)

#define CHECK_EQ_INT(got, want)                                                 \
    do {                                                                        \
        long long gt_got_ = (long long)(got), gt_want_ = (long long)(want);     \
        if (gt_got_ != gt_want_)                                                \
            gt_fail_int(__FILE__, __LINE__, #got, gt_got_, gt_want_);           \
    } while (0)

#endif
