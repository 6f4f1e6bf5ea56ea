/* Provenance collection and meta.csv I/O (see meta.h). */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "counters.h"
#include "csvio.h"
#include "results.h"
#include "safefile.h"
#include "version.h"

/* "model name" and the SIMD flags qbench's kernels care about. */
static void cpu_info(char *model, size_t mlen, char *flags, size_t flen)
{
    static const char *const simd[] = {
        "sse4_2", "avx", "avx2", "fma", "f16c", "bmi2", "avx_vnni", "avx512f", "avx512dq",
        "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx512vbmi",
        "avx512_vpopcntdq", "avx512_bitalg", "amx_tile", "amx_int8", "amx_bf16"};
    snprintf(model, mlen, "unknown");
    flags[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[8192];
    int have_model = 0, have_flags = 0;
    while (fgets(line, sizeof line, f) && !(have_model && have_flags)) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        char *val = colon + 1;
        while (*val == ' ') val++;
        val[strcspn(val, "\n")] = '\0';
        if (!have_model && strncmp(line, "model name", 10) == 0) {
            snprintf(model, mlen, "%s", val);
            have_model = 1;
        } else if (!have_flags && strncmp(line, "flags", 5) == 0) {
            size_t used = 0;
            for (size_t i = 0; i < QB_ARRAY_LEN(simd); i++) {
                char pat[64];
                snprintf(pat, sizeof pat, " %s ", simd[i]);
                char padded[8200];
                snprintf(padded, sizeof padded, " %s ", val);
                if (strstr(padded, pat) && used < flen)
                    used += (size_t)snprintf(flags + used, flen - used, "%s%s", used ? " " : "", simd[i]);
            }
            have_flags = 1;
        }
    }
    fclose(f);
}

qb_status qb_runmeta_collect(qb_meta *m, const qb_spec *spec, const char *shard, const qb_topo *topo,
                          const qb_workload_set *models)
{
    memset(m, 0, sizeof *m);
    char buf[4096], buf2[4096], hash[17];
    qb_status s = QB_OK;
#define SET(k, v) do { if (s == QB_OK) s = qb_meta_set(m, (k), (v)); } while (0)
    snprintf(buf, sizeof buf, "%d", QB_SCHEMA_VERSION);
    SET("schema_version", buf);
    SET("qbench_version", qb_version());
    SET("git_commit", qb_git_commit());
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    SET("date", buf);
    if (gethostname(buf, sizeof buf) != 0) snprintf(buf, sizeof buf, "unknown");
    buf[sizeof buf - 1] = '\0';
    SET("host", buf);
    cpu_info(buf, sizeof buf, buf2, sizeof buf2);
    SET("cpu_model", buf);
    SET("cpu_flags", buf2);
    SET("compiler", qb_compiler());
    SET("cflags", qb_build_flags());
    struct utsname u;
    if (uname(&u) == 0) snprintf(buf, sizeof buf, "%s %s", u.sysname, u.release);
    else snprintf(buf, sizeof buf, "unknown");
    SET("kernel", buf);
    unsigned v = hwloc_get_api_version();
    snprintf(buf, sizeof buf, "%u.%u.%u", v >> 16, (v >> 8) & 0xff, v & 0xff);
    SET("hwloc_version", buf);
    qb_topo_summary(topo, buf, sizeof buf);
    SET("topology", buf);
    qb_papi_describe(buf, sizeof buf, buf2, sizeof buf2);
    SET("papi_version", buf);
    SET("papi_components", buf2);
    const qb_strlist *ev = qb_spec_list(spec, QB_SK_EVENTS);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < ev->n && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? ";" : "", ev->items[i]);
    SET("events", buf);
    SET("blas", models->blas ? models->blas() : "");
    SET("backend", models->backend ? models->backend() : "");
    qb_spec_hash(spec, hash);
    SET("spec_hash", hash);
    char *canon = qb_spec_canonical(spec);
    if (!canon && s == QB_OK) s = QB_ERR_NOMEM;
    SET("spec", canon);
    free(canon);
    SET("shard", shard ? shard : "");
#undef SET
    if (s != QB_OK) qb_meta_free(m);
    return s;
}

qb_status qb_runmeta_write(const qb_meta *m, const char *path)
{
    qb_safefile f;
    qb_status s = qb_safefile_open(&f, path);
    if (s != QB_OK) return s;
    qb_csv_line l = {0};
    qb_csv_str(&l, "key");
    qb_csv_str(&l, "value");
    qb_csv_end(&l);
    fwrite(l.buf, 1, l.len, f.fp);
    for (int i = 0; i < m->n; i++) {
        qb_csv_line_reset(&l);
        qb_csv_str(&l, m->keys[i]);
        qb_csv_str(&l, m->values[i]);
        qb_csv_end(&l);
        if (l.failed) break;
        fwrite(l.buf, 1, l.len, f.fp);
    }
    s = qb_csv_line_status(&l);
    qb_csv_line_free(&l);
    if (s != QB_OK) {
        qb_safefile_abort(&f);
        return s;
    }
    return qb_safefile_commit(&f);
}

qb_status qb_runmeta_read(const char *path, qb_meta *m)
{
    memset(m, 0, sizeof *m);
    qb_csv_records t;
    qb_status s = qb_csv_read_records(path, &t);
    if (s != QB_OK) return s;
    if (t.n < 1 || t.rec[0].n != 2 || strcmp(t.rec[0].f[0], "key") != 0) {
        qb_csv_records_free(&t);
        return qb_error(QB_ERR_FORMAT, "%s:1: expected the header 'key,value'", path);
    }
    for (int i = 1; i < t.n && s == QB_OK; i++) s = qb_meta_set(m, t.rec[i].f[0], t.rec[i].f[1]);
    qb_csv_records_free(&t);
    const char *sv = s == QB_OK ? qb_meta_get(m, "schema_version") : NULL;
    if (s == QB_OK && (!sv || atoi(sv) < 1))
        s = qb_error(QB_ERR_FORMAT, "%s: no schema_version; is this a qbench run folder?", path);
    else if (s == QB_OK && atoi(sv) > QB_SCHEMA_VERSION)
        s = qb_error(QB_ERR_FORMAT, "%s: schema_version %s is newer than this qbench knows (%d); "
                     "use a newer qbench", path, sv, QB_SCHEMA_VERSION);
    if (s != QB_OK) qb_meta_free(m);
    return s;
}
