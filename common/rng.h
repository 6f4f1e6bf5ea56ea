/* Deterministic, seedable random numbers (xoshiro256**, seeded by
 * splitmix64). Every random choice in qbench goes through one of these so
 * that a fixed seed reproduces a run bit for bit. Not thread-safe: give each
 * thread its own generator (qb_rng_split). */
#ifndef QB_RNG_H
#define QB_RNG_H

#include <stdint.h>

typedef struct { uint64_t s[4]; } qb_rng;

void qb_rng_seed(qb_rng *r, uint64_t seed);
/* An independent stream derived from `r` and `stream` (e.g. a thread id). */
qb_rng qb_rng_split(const qb_rng *r, uint64_t stream);
uint64_t qb_rng_u64(qb_rng *r);
/* Uniform in [0, 1) with 24 random bits (exactly representable floats). */
float qb_rng_uniform(qb_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double qb_rng_uniform_d(qb_rng *r);
/* Uniform integer in [0, n). */
uint64_t qb_rng_below(qb_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
float qb_rng_normal(qb_rng *r);

#endif
