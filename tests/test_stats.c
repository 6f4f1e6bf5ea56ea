/* Statistics against published worked examples. */
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

/* Hollander & Wolfe (1973), p. 69: permeability constants of the human
 * chorioamnion at term (x) and at 12-26 weeks (y); R's wilcox.test example.
 * Published: W = 35, exact one-sided p (x greater) = 0.1272, two-sided
 * 0.2544, and the Hodges-Lehmann "difference in location" 0.305. */
static const double hw_x[] = {0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46};
static const double hw_y[] = {1.15, 0.88, 0.90, 0.74, 1.21};

static void test_mann_whitney_exact_hollander_wolfe(void **state)
{
    (void)state;
    qb_mann_whitney r;
    assert_int_equal(qb_mann_whitney_test(hw_x, 10, hw_y, 5, &r), 0);
    assert_true(r.exact);
    assert_true(r.u == 35);
    /* exact enumeration: 382 of the C(15,5) = 3003 rank sets have W >= 35 */
    assert_true(fabs(r.p_greater - 382.0 / 3003.0) < 1e-12);
    assert_true(fabs(r.p_greater - 0.1272) < 5e-5);
    assert_true(fabs(r.p_two_sided - 0.2544) < 5e-5);
    assert_true(r.p_less > 0.85);
    /* Swapping the samples mirrors the statistic: U_y = nx*ny - U_x. */
    assert_int_equal(qb_mann_whitney_test(hw_y, 5, hw_x, 10, &r), 0);
    assert_true(r.u == 15);
    assert_true(fabs(r.p_less - 0.1272) < 5e-5);
}

/* Smallest samples: with 3 against 3 fully separated, the exact two-sided
 * p is 2 / C(6,3) = 0.1; 5 against 5 gives 2 / 252. */
static void test_mann_whitney_exact_extremes(void **state)
{
    (void)state;
    double a[] = {1, 2, 3, 4, 5}, b[] = {6, 7, 8, 9, 10};
    qb_mann_whitney r;
    assert_int_equal(qb_mann_whitney_test(a, 3, b, 3, &r), 0);
    assert_true(r.u == 0 && fabs(r.p_two_sided - 0.1) < 1e-12);
    assert_int_equal(qb_mann_whitney_test(a, 5, b, 5, &r), 0);
    assert_true(fabs(r.p_two_sided - 2.0 / 252.0) < 1e-12);
    assert_true(fabs(r.p_less - 1.0 / 252.0) < 1e-12);
    assert_int_equal(qb_mann_whitney_test(a, 0, b, 5, &r), -1);
}

/* Ties force the normal approximation with tie-corrected variance and a
 * continuity correction. Published example (DolphinDB mannWhitneyUTest,
 * same convention as R): x = 5 1 4 3 5, y = 2 4 7 -1 0 4 gives a
 * two-sided p of 0.518023 and one-sided p values 0.259011 / 0.797036.
 * By hand: midranks give U_x = 19, sigma^2 = 30/12 * (12 - 30/110). */
static void test_mann_whitney_ties_normal(void **state)
{
    (void)state;
    double x[] = {5, 1, 4, 3, 5}, y[] = {2, 4, 7, -1, 0, 4};
    qb_mann_whitney r;
    assert_int_equal(qb_mann_whitney_test(x, 5, y, 6, &r), 0);
    assert_false(r.exact);
    assert_true(r.u == 19);
    assert_true(fabs(r.p_two_sided - 0.518023) < 1e-6);
    assert_true(fabs(r.p_greater - 0.259011) < 1e-6);
    assert_true(fabs(r.p_less - 0.797036) < 1e-6);
    /* All values equal: no evidence either way. */
    double c[] = {2, 2, 2};
    assert_int_equal(qb_mann_whitney_test(c, 3, c, 3, &r), 0);
    assert_true(r.p_two_sided == 1);
}

/* Large samples go to the normal approximation even without ties, and agree
 * with the exact distribution just below the limit. */
static void test_mann_whitney_large(void **state)
{
    (void)state;
    double x[60], y[60];
    for (int i = 0; i < 60; i++) {
        x[i] = 2 * i + 1;       /* odd */
        y[i] = 2 * i + 10.5;    /* shifted up a little */
    }
    qb_mann_whitney big, small;
    assert_int_equal(qb_mann_whitney_test(x, 60, y, 60, &big), 0);
    assert_false(big.exact);
    assert_int_equal(qb_mann_whitney_test(x, 49, y, 49, &small), 0);
    assert_true(small.exact);
    assert_true(big.p_less < 0.5 && small.p_less < 0.5);
    qb_mann_whitney approx;
    double x2[49], y2[49];
    for (int i = 0; i < 49; i++) {
        x2[i] = x[i];
        y2[i] = y[i];
    }
    x2[0] = x2[1]; /* one tie forces the approximation on the same data */
    assert_int_equal(qb_mann_whitney_test(x2, 49, y2, 49, &approx), 0);
    assert_false(approx.exact);
    assert_true(fabs(approx.p_two_sided - small.p_two_sided) < 0.01);
}

static void test_hodges_lehmann(void **state)
{
    (void)state;
    assert_true(fabs(qb_hodges_lehmann(hw_x, 10, hw_y, 5) - 0.305) < 1e-12);
    assert_true(isnan(qb_hodges_lehmann(hw_x, 0, hw_y, 5)));
}

/* Fagerland, Lydersen & Laake (2013), BMC Med Res Methodol 13:91, Table 1
 * (Bentur et al.): 1 and 7 discordant pairs. Published: exact conditional
 * p = 0.070, mid-p = 0.039, asymptotic p = 0.034. */
static void test_mcnemar_fagerland(void **state)
{
    (void)state;
    qb_mcnemar m;
    qb_mcnemar_test(1, 7, &m);
    assert_true(fabs(m.p_exact - 18.0 / 256.0) < 1e-12);
    assert_true(fabs(m.p_exact - 0.070) < 5e-4);
    assert_true(fabs(m.p_mid - 0.039) < 5e-4);
    assert_true(fabs(m.p_asymptotic - 0.034) < 5e-4);
    assert_true(fabs(m.chi2 - 4.5) < 1e-12);
    qb_mcnemar_test(7, 1, &m);   /* symmetric */
    assert_true(fabs(m.p_mid - 0.039) < 5e-4);
    qb_mcnemar_test(0, 0, &m);
    assert_true(m.p_exact == 1 && m.p_mid == 1);
    qb_mcnemar_test(3, 3, &m);   /* b = c: mid-p = 1 - pmf/2, pmf = C(6,3)/64 */
    assert_true(fabs(m.p_mid - (1 - 10.0 / 64.0)) < 1e-12);
    /* Thousands of discordant pairs stay finite and sensible. */
    qb_mcnemar_test(2400, 2600, &m);
    assert_true(m.p_mid > 0.001 && m.p_mid < 0.01);
    assert_true(fabs(m.p_mid - m.p_asymptotic) < 0.001);
}

static void test_binomial_cdf(void **state)
{
    (void)state;
    assert_true(fabs(qb_binom_half_cdf(8, 1) - 9.0 / 256.0) < 1e-15);
    assert_true(qb_binom_half_cdf(8, 8) == 1 && qb_binom_half_cdf(8, -1) == 0);
    /* symmetric: P(X <= n/2 - 1) + P(X <= n/2) = 1 for even n */
    assert_true(fabs(qb_binom_half_cdf(20000, 9999) + qb_binom_half_cdf(20000, 10000) - 1) < 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median_quantile_mad),
        cmocka_unit_test(test_median_ci_order_statistics),
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_mann_whitney_exact_hollander_wolfe),
        cmocka_unit_test(test_mann_whitney_exact_extremes),
        cmocka_unit_test(test_mann_whitney_ties_normal),
        cmocka_unit_test(test_mann_whitney_large),
        cmocka_unit_test(test_hodges_lehmann),
        cmocka_unit_test(test_mcnemar_fagerland),
        cmocka_unit_test(test_binomial_cdf),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
