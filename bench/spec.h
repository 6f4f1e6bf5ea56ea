/* The sweep spec: an INI-style file plus command-line overrides.
 *
 *   # comment                 ; comment
 *   [grid]
 *   models = mlp, lenet       comma-separated lists
 *   ...
 *   [grid.calibration]        a named sub-grid: [grid] keys only; the keys
 *   calib = mse, kl           it does not set are the [grid]'s
 *
 * The cells of a sweep are the union of the [grid]'s and every sub-grid's
 * (grid.h). A flag for a grid key applies to every grid.
 *
 * Sections and keys are a fixed table (spec.c; README "Sweep spec"). Unknown
 * sections or keys, repeated keys, empty lists or items and bad values are
 * errors naming file:line (or the flag) - QB_ERR_ARG, the CLI exits 2.
 *
 * Life cycle: qb_spec_init (defaults) -> qb_spec_parse_file / _text ->
 * qb_spec_set (flags) -> qb_spec_resolve (expands `all` / `default`,
 * validates names against the quantizer vocabulary, the models and the
 * topology) -> qb_spec_canonical / qb_spec_hash. */
#ifndef QB_SPEC_H
#define QB_SPEC_H

#include <stdint.h>
#include "status.h"
#include "topo.h"
#include "workload.h"

typedef enum {
    /* [grid] */
    QB_SK_MODELS, QB_SK_SCHEMES, QB_SK_WBITS, QB_SK_ABITS, QB_SK_GRANULARITY, QB_SK_CALIB,
    QB_SK_CORRECTION, QB_SK_POLICY, QB_SK_BACKEND, QB_SK_PLACEMENTS, QB_SK_SCENARIOS,
    /* [timing] */
    QB_SK_BATCH, QB_SK_WARMUP, QB_SK_REPETITIONS, QB_SK_MIN_TIME, QB_SK_MAX_REPS, QB_SK_TIMEOUT,
    /* [counters] */
    QB_SK_EVENTS,
    QB_SK_COUNT
} qb_spec_key;

typedef struct {
    char **items;
    int n;
} qb_strlist;

/* The keys of [grid] come first in qb_spec_key. */
#define QB_SK_GRID_COUNT (QB_SK_SCENARIOS + 1)

/* A [grid.NAME] section. Before resolve only its own keys are set (own[k]);
 * resolve fills the rest from [grid], so afterwards every list is explicit. */
typedef struct {
    char *section;                     /* "grid.NAME" */
    int line;                          /* of the section header */
    qb_strlist list[QB_SK_GRID_COUNT];
    char *origin[QB_SK_GRID_COUNT];
    int own[QB_SK_GRID_COUNT];         /* line that set it; 0: inherited */
} qb_subgrid;

typedef struct {
    qb_strlist list[QB_SK_COUNT]; /* every key, as a list of trimmed strings */
    char *origin[QB_SK_COUNT];    /* "spec.ini:7", "--wbits" or "default" */
    qb_subgrid *sub;              /* [grid.NAME] sections, in file order */
    int n_sub;
    int resolved;
} qb_spec;

/* Name of a key ("min_time") and of its flag ("--min-time"). */
const char *qb_spec_key_name(qb_spec_key k);
const char *qb_spec_key_flag(qb_spec_key k);
const char *qb_spec_key_help(qb_spec_key k);

/* Fills every key with its default. */
qb_status qb_spec_init(qb_spec *s);
void qb_spec_free(qb_spec *s);

/* Parses INI text; `name` is used in messages ("bench/default.ini"). */
qb_status qb_spec_parse_text(qb_spec *s, const char *name, const char *text);
qb_status qb_spec_parse_file(qb_spec *s, const char *path);
/* Overrides one key with a value from `origin` (a flag name); a grid key
 * is overridden in every grid. */
qb_status qb_spec_set(qb_spec *s, qb_spec_key k, const char *value, const char *origin);

/* Keeps only the sub-grids named in `names` ("calibration, policy"; "none":
 * none, the [grid] alone); call before resolve. An unknown name is an
 * error naming `origin` and the spec's sub-grids. */
qb_status qb_spec_keep_grids(qb_spec *s, const char *names, const char *origin);

/* Expands and validates against the models, the quantizer vocabulary and
 * the topology. After it, every list is explicit (no `all`, no `default`). */
qb_status qb_spec_resolve(qb_spec *s, const qb_workload_set *models, const qb_topo *topo);

/* Typed access (valid after resolve). */
int qb_spec_int(const qb_spec *s, qb_spec_key k);
double qb_spec_double(const qb_spec *s, qb_spec_key k);
const qb_strlist *qb_spec_list(const qb_spec *s, qb_spec_key k);

/* Grids: 0 is [grid], 1..n_sub the sub-grids. Their names: "grid",
 * "grid.NAME" (the section). A grid's list of key k (valid after resolve;
 * for a key outside [grid], the spec's). */
int qb_spec_n_grids(const qb_spec *s);
const char *qb_spec_grid_name(const qb_spec *s, int g);
const qb_strlist *qb_spec_grid_list(const qb_spec *s, int g, qb_spec_key k);

/* The canonical text (every key, table order, ", "-joined; each sub-grid
 * after [grid] with all its keys) - malloc'ed - and its FNV-1a 64 hash as
 * 16 hex digits. A spec without sub-grids has the text it always had. */
char *qb_spec_canonical(const qb_spec *s);
void qb_spec_hash(const qb_spec *s, char out[17]);

/* FNV-1a 64 (shared with cell ids). */
uint64_t qb_fnv1a64(const char *text);

#endif
