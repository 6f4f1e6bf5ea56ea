/* Descriptive statistics against worked examples. */
#include "qb_test.h"

#include <math.h>
#include "stats.h"

static void test_median_quantile_mad(void **state)
{
    (void)state;
    double x[] = {7, 1, 3, 5, 9};
    assert_true(qb_median(x, 5) == 5);
    double y[] = {4, 1, 3, 2};
    assert_true(qb_median(y, 4) == 2.5);
    /* NumPy: np.percentile([1,2,3,4], 25) == 1.75 */
    assert_true(fabs(qb_quantile(y, 4, 0.25) - 1.75) < 1e-12);
    /* MAD of {1,1,2,2,4,6,9}: median 2, deviations {1,1,0,0,2,4,7} -> 1 */
    double z[] = {1, 1, 2, 2, 4, 6, 9};
    assert_true(qb_mad(z, 7) == 1);
    assert_true(fabs(qb_mean(x, 5) - 5) < 1e-12);
    assert_true(fabs(qb_stddev(x, 5) - sqrt(10.0)) < 1e-12);
}

static void test_median_ci_order_statistics(void **state)
{
    (void)state;
    /* For n = 10 the 95% interval of the median is (x(2), x(9)) in 1-based
     * order statistics (coverage 97.9%); (x(3), x(8)) covers only 89.1%. */
    double x[10];
    for (int i = 0; i < 10; i++) x[i] = 10 - i;  /* 10..1 */
    double lo, hi;
    qb_median_ci(x, 10, 0.95, &lo, &hi);
    assert_true(lo == 2 && hi == 9);
    /* n = 5: no pair reaches 95%, min and max come back. */
    qb_median_ci(x, 5, 0.95, &lo, &hi);
    assert_true(lo == 6 && hi == 10);
}

static void test_normal(void **state)
{
    (void)state;
    assert_true(fabs(qb_norm_cdf(1.959963984540054) - 0.975) < 1e-12);
    assert_true(fabs(qb_norm_quantile(0.975) - 1.959963984540054) < 1e-9);
    assert_true(fabs(qb_norm_quantile(0.001) + 3.090232306167813) < 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median_quantile_mad),
        cmocka_unit_test(test_median_ci_order_statistics),
        cmocka_unit_test(test_normal),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
