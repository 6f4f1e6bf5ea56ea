/* Provenance strings; the Makefile passes the values on the command line. */
#include "version.h"

#ifndef QB_VERSION
#define QB_VERSION "0.0.0"
#endif
#ifndef QB_GIT_COMMIT
#define QB_GIT_COMMIT "unknown"
#endif
#ifndef QB_CFLAGS
#define QB_CFLAGS ""
#endif

const char *qb_version(void) { return QB_VERSION; }
const char *qb_git_commit(void) { return QB_GIT_COMMIT; }

const char *qb_compiler(void)
{
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown";
#endif
}

const char *qb_build_flags(void) { return QB_CFLAGS; }
