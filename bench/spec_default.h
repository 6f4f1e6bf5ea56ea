/* The default sweep spec (bench/default.ini), embedded at build time. */
#ifndef QB_SPEC_DEFAULT_H
#define QB_SPEC_DEFAULT_H

extern const char qb_default_spec_text[];
#define QB_DEFAULT_SPEC_NAME "bench/default.ini"

#endif
