/* Fine-tuning loop with quantization hooks and exact resume (see
 * finetune.h). */
#include "finetune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train.h"

typedef struct {
    qb_named_tensor *items;
    int n;
} tensor_list;

/* Every tensor a checkpoint holds: parameters, momentum, hook state. */
static qb_status collect(const qb_model *m, const qb_sgd *opt, const qb_finetune_hooks *h,
                         tensor_list *out)
{
    int n = opt->n + (h ? h->n_state : 0);
    for (int i = 0; i < m->n_layers; i++)
        for (int p = 0; p < m->layers[i].n_params; p++) n += m->layers[i].params[p].value.data != NULL;
    out->items = qb_calloc((size_t)n, sizeof *out->items);
    if (!out->items) return QB_ERR_NOMEM;
    out->n = 0;
    for (int i = 0; i < m->n_layers; i++)
        for (int p = 0; p < m->layers[i].n_params; p++) {
            const qb_param *q = &m->layers[i].params[p];
            if (q->value.data) out->items[out->n++] = (qb_named_tensor){q->name, &q->value};
        }
    for (int i = 0; i < opt->n; i++)
        out->items[out->n++] = (qb_named_tensor){opt->names[i], &opt->velocity[i]};
    for (int i = 0; h && i < h->n_state; i++) out->items[out->n++] = h->state[i];
    return QB_OK;
}

static qb_status save(const qb_finetune_options *o, const tensor_list *t, int64_t step,
                      int64_t total)
{
    qb_meta md = {0};
    qb_meta_set(&md, "finetune", o->tag ? o->tag : "");
    qb_meta_setf(&md, "step", "%lld", (long long)step);
    qb_meta_setf(&md, "total_steps", "%lld", (long long)total);
    qb_status s = qb_safetensors_write(o->checkpoint, t->items, t->n, &md);
    qb_meta_free(&md);
    return s;
}

/* Restores every tensor of t from the checkpoint; *step gets its progress. */
static qb_status load(const qb_finetune_options *o, const tensor_list *t, int64_t total,
                      int64_t *step)
{
    qb_safetensors st;
    qb_status s = qb_safetensors_read(o->checkpoint, &st);
    if (s != QB_OK) return qb_error_context(s, "cannot resume fine-tuning");
    const char *tag = qb_meta_get(&st.meta, "finetune"), *sp = qb_meta_get(&st.meta, "step"),
               *tp = qb_meta_get(&st.meta, "total_steps");
    long long done = -1, tot = -1;
    if (!tag || strcmp(tag, o->tag ? o->tag : "") != 0)
        s = qb_error(QB_ERR_ARG, "%s: a checkpoint of another fine-tuning run ('%s', not '%s'); "
                     "remove it or use another --checkpoint", o->checkpoint, tag ? tag : "(none)",
                     o->tag ? o->tag : "");
    else if (!sp || !tp || sscanf(sp, "%lld", &done) != 1 || sscanf(tp, "%lld", &tot) != 1 ||
             done < 0 || done > tot)
        s = qb_error(QB_ERR_FORMAT, "%s: checkpoint lacks its step count", o->checkpoint);
    else if (tot != total)
        s = qb_error(QB_ERR_ARG, "%s: checkpoint of a %lld-step run; this one has %lld steps",
                     o->checkpoint, tot, (long long)total);
    for (int i = 0; s == QB_OK && i < t->n; i++) {
        const qb_tensor *v = qb_safetensors_find(&st, t->items[i].name);
        if (!v || v->dtype != t->items[i].tensor->dtype ||
            qb_tensor_bytes(v) != qb_tensor_bytes(t->items[i].tensor))
            s = qb_error(QB_ERR_FORMAT, "%s: checkpoint lacks %s (or its shape differs)",
                         o->checkpoint, t->items[i].name);
        else
            memcpy(t->items[i].tensor->data, v->data, qb_tensor_bytes(v));
    }
    qb_safetensors_free(&st);
    if (s == QB_OK) *step = done;
    return s;
}

/* The first non-finite value a step left in m's parameters or the hooks'
 * state: its tensor's name, or NULL. */
static const char *nonfinite_tensor(const tensor_list *t)
{
    for (int i = 0; i < t->n; i++) {
        const qb_tensor *v = t->items[i].tensor;
        if (v->dtype != QB_F32) continue;
        const float *d = v->data;
        int64_t n = qb_tensor_numel(v);
        for (int64_t j = 0; j < n; j++)
            if (!isfinite(d[j])) return t->items[i].name;
    }
    return NULL;
}

static qb_status diverged(const qb_finetune_options *o, const qb_model *m, int64_t t, int64_t spe,
                          int64_t total, const char *what)
{
    return qb_error(QB_ERR_ARG, "%s of %s diverged at epoch %lld, step %lld of %lld: %s (peak "
                    "learning rate %g); rerun with a lower --lr, e.g. %g", o->lever ? o->lever : "fine-tuning",
                    m->arch, (long long)(t / spe + 1), (long long)t + 1, (long long)total, what,
                    (double)o->recipe.lr, (double)o->recipe.lr / 10);
}

#define CALL(hook, ...) ((hooks && hooks->hook) ? hooks->hook(hooks->ctx, ##__VA_ARGS__) : QB_OK)

qb_status qb_finetune(qb_model *m, const qb_fmnist *data, const qb_finetune_options *o,
                      const qb_finetune_hooks *hooks, qb_finetune_result *res)
{
    memset(res, 0, sizeof *res);
    const qb_train_recipe *r = &o->recipe;
    if (!(o->epochs > 0) || o->segments < 1 || r->batch < 1 || !(r->lr > 0))
        return qb_error(QB_ERR_ARG, "fine-tuning needs epochs > 0, segments >= 1, batch >= 1, lr > 0");
    const qb_images *train = &data->train;
    int batch = r->batch < train->n ? r->batch : train->n;
    int64_t spe = (train->n + batch - 1) / batch;
    int64_t seg_steps = llround(o->epochs * (double)spe);
    if (seg_steps < 1) seg_steps = 1;
    int64_t total = seg_steps * o->segments;
    res->steps = total;
    int64_t per = (int64_t)train->c * train->h * train->w;
    qb_exec *e = NULL;
    qb_sgd opt = {0};
    tensor_list tl = {0};
    float *x = qb_malloc((size_t)(batch * per), sizeof *x), *tmp = qb_malloc((size_t)per, sizeof *tmp);
    int *labels = qb_malloc((size_t)batch, sizeof *labels), *order = qb_malloc((size_t)train->n, sizeof *order);
    qb_status s = QB_OK;
    if (!x || !tmp || !labels || !order) {
        s = QB_ERR_NOMEM;
        goto done;
    }
    if ((s = qb_exec_create(&e, m, batch, o->pool, QB_EXEC_TRAIN)) != QB_OK ||
        (s = qb_sgd_init(&opt, m)) != QB_OK || (s = collect(m, &opt, hooks, &tl)) != QB_OK)
        goto done;
    if (hooks) qb_exec_set_hooks(e, &hooks->exec);
    int64_t t = 0;
    struct stat sb;
    if (o->checkpoint && stat(o->checkpoint, &sb) == 0) {
        if ((s = load(o, &tl, total, &t)) != QB_OK) goto done;
        res->resumed_at = t;
        if (o->log) fprintf(o->log, "fine-tuning resumed at step %lld of %lld from %s\n", (long long)t,
                            (long long)total, o->checkpoint);
    }
    qb_rng er;
    int64_t cur_epoch = -1;
    double loss_sum = 0;
    int64_t loss_n = 0;
    float first_loss = 0;
    for (; t < total; t++) {
        int64_t seg = t / seg_steps, in_seg = t % seg_steps;
        if (in_seg == 0 && (s = CALL(begin_segment, (int)seg)) != QB_OK) goto done;
        int64_t epoch = t / spe, bi = t % spe;
        if (epoch != cur_epoch) {
            er = qb_train_epoch_order(o->seed, (int)epoch, order, train->n);
            cur_epoch = epoch;
        }
        int b0 = (int)(bi * batch), n = train->n - b0 < batch ? train->n - b0 : batch;
        qb_train_batch(r, train, order, b0, n, &er, x, tmp, labels);
        float loss;
        if ((s = CALL(begin_step)) != QB_OK || (s = qb_exec_forward(e, x, n)) != QB_OK ||
            (s = qb_exec_backward(e, labels, &loss, NULL)) != QB_OK)
            goto done;
        float lr = qb_train_lr(r, in_seg, seg_steps, 0);
        if (t == res->resumed_at) first_loss = loss;
        /* a loss ten times the first one's (or chance's, ln K) is a run
         * flying apart, even before its values overflow */
        if (!isfinite(loss) || loss > 10 * fmaxf(first_loss, logf((float)m->n_classes))) {
            char what[160];
            snprintf(what, sizeof what, "the training loss went from %.4g to %.4g", (double)first_loss,
                     (double)loss);
            s = diverged(o, m, t, spe, total, what);
            goto done;
        }
        if ((s = CALL(after_backward)) != QB_OK) goto done;
        qb_sgd_step(&opt, r, lr);
        if ((s = CALL(after_step, lr)) != QB_OK) goto done;
        const char *bad = nonfinite_tensor(&tl);
        if (bad) {
            char what[256];
            snprintf(what, sizeof what, "%s is no longer finite (training loss %.4g)", bad, (double)loss);
            s = diverged(o, m, t, spe, total, what);
            goto done;
        }
        loss_sum += (double)loss * n;
        loss_n += n;
        int epoch_end = bi == spe - 1, seg_end = in_seg == seg_steps - 1;
        int stop = o->stop_after > 0 && t + 1 >= o->stop_after && t + 1 < total;
        if (epoch_end || seg_end || stop) {
            res->final_loss = loss_sum / (double)loss_n;
            if (o->log) {
                fprintf(o->log, "fine-tuning %s: step %lld/%lld (segment %lld/%d) loss %.4f lr %.5f\n",
                        m->arch, (long long)t + 1, (long long)total, (long long)seg + 1, o->segments,
                        res->final_loss, (double)lr);
                fflush(o->log);
            }
            loss_sum = 0;
            loss_n = 0;
            if (o->checkpoint && (s = save(o, &tl, t + 1, total)) != QB_OK) goto done;
        }
        if (stop) {
            res->stopped = 1;
            break;
        }
    }
done:
    free(x);
    free(tmp);
    free(labels);
    free(order);
    free(tl.items);
    qb_sgd_free(&opt);
    qb_exec_free(e);
    return s;
}
