/* Build provenance, baked in at compile time (see Makefile). */
#ifndef QB_VERSION_H
#define QB_VERSION_H

const char *qb_version(void);     /* "0.1.0" */
const char *qb_git_commit(void);  /* short hash, "-dirty" if the tree had changes */
const char *qb_compiler(void);    /* "gcc 12.2.0" */
const char *qb_build_flags(void); /* optimisation and sanitizer flags */

#endif
