#include "grade_test.h"

int gcd(int a, int b);

TEST(coprime) { CHECK_EQ_INT(gcd(8, 15), 1); }

TEST(common_factor) {
    CHECK_EQ_INT(gcd(12, 18), 6);
    CHECK_EQ_INT(gcd(18, 12), 6);
}

TEST(with_zero) {
    CHECK(gcd(0, 5) == 5);
    CHECK(gcd(0, 0) == 0);
}
