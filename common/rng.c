/* xoshiro256** by Blackman and Vigna (public domain), seeded by splitmix64. */
#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void qb_rng_seed(qb_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

qb_rng qb_rng_split(const qb_rng *r, uint64_t stream)
{
    qb_rng out;
    uint64_t x = r->s[0] ^ (stream * 0xd1342543de82ef95ULL) ^ r->s[3];
    for (int i = 0; i < 4; i++) out.s[i] = splitmix64(&x);
    return out;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t qb_rng_u64(qb_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float qb_rng_uniform(qb_rng *r) { return (float)(qb_rng_u64(r) >> 40) * 0x1.0p-24f; }

double qb_rng_uniform_d(qb_rng *r) { return (double)(qb_rng_u64(r) >> 11) * 0x1.0p-53; }

uint64_t qb_rng_below(qb_rng *r, uint64_t n)
{
    /* Lemire's nearly-divisionless method would be faster; modulo bias is
     * below 2^-40 for the n qbench uses, so plain rejection is enough. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = qb_rng_u64(r); while (x >= limit);
    return x % n;
}

float qb_rng_normal(qb_rng *r)
{
    double u1 = qb_rng_uniform_d(r), u2 = qb_rng_uniform_d(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
