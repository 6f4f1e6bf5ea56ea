/* Grid expansion, cell ids and shards (see grid.h). */
#include "grid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "strset.h"
#include "vocab.h"

void qb_cell_canonical(const qb_cell *c, char *buf, size_t len)
{
    const qb_qconfig *q = &c->q;
    snprintf(buf, len,
             "model=%s|scheme=%s|granularity=%s|calib=%s|correction=%s|policy=%s|wbits=%d|abits=%d|"
             "backend=%s|placement=%s|scenario=%s|batch=%d",
             q->model, q->scheme, q->granularity, q->calib, q->correction, q->policy, q->wbits,
             q->abits, q->backend, c->placement, c->scenario, c->batch);
}

typedef struct {
    const qb_spec *spec;
    int grid;          /* the grid being expanded */
    qb_grid *g;
    int cap, group_cap;
    qb_strset ids;     /* cells so far */
} builder;

/* The group of a config: an earlier grid's if it had the config. */
static qb_status config_group(builder *b, const qb_qconfig *q, int *group)
{
    qb_cell probe = {.q = *q, .placement = "", .scenario = ""};
    char canon[1024];
    qb_cell_canonical(&probe, canon, sizeof canon);
    uint64_t key = qb_fnv1a64(canon);
    for (int i = 0; i < b->g->n_groups; i++)
        if (b->g->group_key[i] == key) {
            *group = i;
            return QB_OK;
        }
    if (b->g->n_groups == b->group_cap) {
        int cap = b->group_cap ? b->group_cap * 2 : 64;
        uint64_t *k = realloc(b->g->group_key, (size_t)cap * sizeof *k);
        if (!k) return qb_error(QB_ERR_NOMEM, "out of memory expanding the grid");
        b->g->group_key = k;
        b->group_cap = cap;
    }
    b->g->group_key[b->g->n_groups] = key;
    *group = b->g->n_groups++;
    return QB_OK;
}

/* Appends the placements x scenarios cells of one config that no earlier
 * grid has. */
static qb_status add_config(builder *b, const qb_qconfig *q)
{
    const qb_strlist *pl = qb_spec_grid_list(b->spec, b->grid, QB_SK_PLACEMENTS);
    const qb_strlist *sc = qb_spec_grid_list(b->spec, b->grid, QB_SK_SCENARIOS);
    int batch = qb_spec_int(b->spec, QB_SK_BATCH);
    int group = 0;
    qb_status st = config_group(b, q, &group);
    if (st != QB_OK) return st;
    for (int p = 0; p < pl->n; p++)
        for (int s = 0; s < sc->n; s++) {
            if (b->g->n == b->cap) {
                int cap = b->cap ? b->cap * 2 : 64;
                qb_cell *c = realloc(b->g->cells, (size_t)cap * sizeof *c);
                if (!c) return qb_error(QB_ERR_NOMEM, "out of memory expanding the grid");
                b->g->cells = c;
                b->cap = cap;
            }
            qb_cell *c = &b->g->cells[b->g->n];
            memset(c, 0, sizeof *c);
            c->index = b->g->n;
            c->group = group;
            c->grid = b->grid;
            c->q = *q;
            c->placement = pl->items[p];
            c->scenario = sc->items[s];
            c->batch = strcmp(c->scenario, "latency") == 0 ? 1 : batch;
            char canon[1024];
            qb_cell_canonical(c, canon, sizeof canon);
            snprintf(c->id, sizeof c->id, "%016llx", (unsigned long long)qb_fnv1a64(canon));
            int added;
            if ((st = qb_strset_add(&b->ids, c->id, &added)) != QB_OK) return st;
            if (added) b->g->n++;
        }
    return QB_OK;
}

/* The cells of grid `b->grid`. */
static qb_status expand_grid(builder *b)
{
    const qb_spec *s = b->spec;
    int gi = b->grid;
    const qb_strlist *models = qb_spec_grid_list(s, gi, QB_SK_MODELS),
                     *schemes = qb_spec_grid_list(s, gi, QB_SK_SCHEMES),
                     *wb = qb_spec_grid_list(s, gi, QB_SK_WBITS), *ab = qb_spec_grid_list(s, gi, QB_SK_ABITS),
                     *gr = qb_spec_grid_list(s, gi, QB_SK_GRANULARITY),
                     *ca = qb_spec_grid_list(s, gi, QB_SK_CALIB),
                     *co = qb_spec_grid_list(s, gi, QB_SK_CORRECTION),
                     *po = qb_spec_grid_list(s, gi, QB_SK_POLICY),
                     *be = qb_spec_grid_list(s, gi, QB_SK_BACKEND);
    qb_status st = QB_OK;
    for (int m = 0; m < models->n && st == QB_OK; m++) {
        qb_qconfig fp32 = {models->items[m], "fp32", "", "", "none", "uniform", 32, 32, "auto"};
        st = add_config(b, &fp32);
        for (int si = 0; si < schemes->n && st == QB_OK; si++)
            for (int w = 0; w < wb->n && st == QB_OK; w++) {
                int wbits = atoi(wb->items[w]);
                if (qb_vocab_check_wbits("", schemes->items[si], wbits) != QB_OK) continue;
                for (int a = 0; a < ab->n; a++) {
                    /* float formats run their activations in their own format */
                    int abits = qb_vocab_activation_bits(schemes->items[si], atoi(ab->items[a]));
                    int repeat = 0;
                    for (int b = 0; b < a; b++)
                        repeat |= qb_vocab_activation_bits(schemes->items[si], atoi(ab->items[b])) == abits;
                    if (repeat) continue;
                    for (int g = 0; g < gr->n; g++)
                        for (int c = 0; c < ca->n; c++)
                            for (int r = 0; r < co->n; r++)
                                for (int p = 0; p < po->n; p++)
                                    for (int k = 0; k < be->n && st == QB_OK; k++) {
                                        qb_qconfig q = {models->items[m], schemes->items[si],
                                                        gr->items[g], ca->items[c], co->items[r],
                                                        po->items[p], wbits, abits, be->items[k]};
                                        st = add_config(b, &q);
                                    }
                }
            }
    }
    return st;
}

qb_status qb_grid_expand(const qb_spec *s, qb_grid *out)
{
    memset(out, 0, sizeof *out);
    if (!s->resolved) return qb_error(QB_ERR_INTERNAL, "grid: the spec is not resolved");
    builder b = {s, 0, out, 0, 0, {0}};
    qb_status st = QB_OK;
    for (b.grid = 0; b.grid < qb_spec_n_grids(s) && st == QB_OK; b.grid++) st = expand_grid(&b);
    qb_strset_free(&b.ids);
    qb_clear_error();
    if (st != QB_OK) qb_grid_free(out);
    return st;
}

void qb_grid_free(qb_grid *g)
{
    free(g->cells);
    free(g->group_key);
    memset(g, 0, sizeof *g);
}

qb_status qb_shard_parse(const char *what, const char *text, int *i, int *n)
{
    const char *slash = strchr(text, '/');
    char a[32];
    if (!slash || (size_t)(slash - text) >= sizeof a)
        return qb_error(QB_ERR_ARG, "%s: expected i/N (e.g. 2/4), got '%s'", what, text);
    snprintf(a, sizeof a, "%.*s", (int)(slash - text), text);
    long li, ln;
    if (qb_parse_int(what, slash + 1, 1, 1000000, &ln) != QB_OK ||
        qb_parse_int(what, a, 1, 1000000, &li) != QB_OK)
        return qb_error(QB_ERR_ARG, "%s: expected i/N with integers (e.g. 2/4), got '%s'", what, text);
    if (li > ln)
        return qb_error(QB_ERR_ARG, "%s: shard %ld of %ld does not exist (1 <= i <= N)", what, li, ln);
    *i = (int)li;
    *n = (int)ln;
    return QB_OK;
}

int qb_cell_in_shard(const qb_cell *c, int shard_i, int shard_n)
{
    return shard_n <= 1 || c->index % shard_n == shard_i - 1;
}
