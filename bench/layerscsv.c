/* layers.csv and pareto.csv writers (see layerscsv.h). */
#include "layerscsv.h"

#include <stdio.h>
#include <string.h>

#include "csvio.h"
#include "safefile.h"

/* Appends the finished line to fp and starts the next one. */
static qb_status flush_line(qb_csv_line *l, FILE *fp, const char *path)
{
    qb_status s = qb_csv_line_status(l);
    if (s == QB_OK && fwrite(l->buf, 1, l->len, fp) != l->len)
        s = qb_error(QB_ERR_IO, "%s: write failed", path);
    qb_csv_line_reset(l);
    return s;
}

static qb_status header(qb_csv_line *l, FILE *fp, const char *path, const char *const *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) qb_csv_str(l, cols[i]);
    qb_csv_end(l);
    return flush_line(l, fp, path);
}

static qb_status finish(qb_safefile *sf, qb_csv_line *l, qb_status s)
{
    qb_csv_line_free(l);
    if (s != QB_OK) {
        qb_safefile_abort(sf);
        return s;
    }
    return qb_safefile_commit(sf);
}

/* SQNRs are empty where not measured: a layer kept float, or exact. */
qb_status qb_print_layers_csv(FILE *fp, const char *name, const char *cell_id, const char *model,
                              const qb_layer_report *rows, int n)
{
    static const char *cols[] = {"cell_id", "model", "layer_index", "layer", "kind", "wbits",
                                 "abits", "weight_sqnr_db", "act_sqnr_db", "sensitivity_pp"};
    qb_csv_line l = {0};
    qb_status s = header(&l, fp, name, cols, QB_ARRAY_LEN(cols));
    for (int i = 0; i < n && s == QB_OK; i++) {
        const qb_layer_report *r = &rows[i];
        qb_csv_str(&l, cell_id);
        qb_csv_str(&l, model);
        qb_csv_int(&l, r->layer, 1);
        qb_csv_str(&l, r->name);
        qb_csv_str(&l, qb_layer_kind_name(r->kind));
        qb_csv_int(&l, r->wbits, 1);
        qb_csv_int(&l, r->abits, 1);
        qb_csv_num(&l, r->weight_sqnr_db);
        qb_csv_num(&l, r->act_sqnr_db);
        qb_csv_num(&l, r->sensitivity_pp);
        qb_csv_end(&l);
        s = flush_line(&l, fp, name);
    }
    qb_csv_line_free(&l);
    return s;
}

qb_status qb_write_layers_csv(const char *path, const char *cell_id, const char *model,
                              const qb_layer_report *rows, int n)
{
    qb_safefile sf;
    qb_status s = qb_safefile_open(&sf, path);
    if (s != QB_OK) return s;
    if ((s = qb_print_layers_csv(sf.fp, path, cell_id, model, rows, n)) != QB_OK) {
        qb_safefile_abort(&sf);
        return s;
    }
    return qb_safefile_commit(&sf);
}

qb_status qb_write_pareto_csv(const char *path, const char *cell_id, const char *model,
                              const qb_model *m, const qb_mixed_result *mix, uint64_t fp32_size)
{
    qb_safefile sf;
    qb_status s = qb_safefile_open(&sf, path);
    if (s != QB_OK) return s;
    static const char *cols[] = {"cell_id", "model", "point", "size_bytes", "compression",
                                 "predicted_kl", "calib_accuracy", "calib_drop_pp", "chosen",
                                 "wbits"};
    qb_csv_line l = {0};
    s = header(&l, sf.fp, path, cols, QB_ARRAY_LEN(cols));
    for (int p = 0; p < mix->n_curve && s == QB_OK; p++) {
        const qb_pareto_point *pt = &mix->curve[p];
        char bits[1024] = "";
        size_t used = 0;
        for (int i = 0; i < m->n_layers && used < sizeof bits; i++)
            if (qb_layer_has_weights(&m->layers[i]))
                used += (size_t)snprintf(bits + used, sizeof bits - used, "%s%d", used ? ";" : "",
                                         pt->wbits[i]);
        qb_csv_str(&l, cell_id);
        qb_csv_str(&l, model);
        qb_csv_int(&l, p, 1);
        qb_csv_int(&l, (long long)pt->size_bytes, 1);
        qb_csv_num(&l, (double)fp32_size / (double)pt->size_bytes);
        qb_csv_num(&l, pt->predicted_kl);
        qb_csv_num(&l, pt->calib_accuracy);
        qb_csv_num(&l, pt->calib_drop_pp);
        qb_csv_int(&l, pt->chosen, 1);
        qb_csv_str(&l, bits);
        qb_csv_end(&l);
        s = flush_line(&l, sf.fp, path);
    }
    return finish(&sf, &l, s);
}
