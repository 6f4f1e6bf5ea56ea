/* The trainer (see train.h). */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "exec.h"
#include "layers.h"
#include "modelfile.h"
#include "rng.h"
#include "gemm.h"
#include "version.h"

#define EVAL_BATCH 250

void qb_augment_image(const float *src, float *dst, int c, int h, int w, int dy, int dx, int flip,
                      float background)
{
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int sy = y + dy, sx = flip ? w - 1 - (x + dx) : x + dx;
                float v = background;
                if (sy >= 0 && sy < h && sx >= 0 && sx < w) v = src[(ch * h + sy) * w + sx];
                dst[(ch * h + y) * w + x] = v;
            }
}

qb_status qb_accuracy(qb_model *m, const qb_images *images, qb_pool *pool, double *accuracy)
{
    *accuracy = 0;
    if (images->c != m->in_c || images->h != m->in_h || images->w != m->in_w)
        return qb_error(QB_ERR_ARG, "model %s expects %dx%dx%d images, the data has %dx%dx%d",
                        m->arch, m->in_c, m->in_h, m->in_w, images->c, images->h, images->w);
    qb_exec *e;
    qb_status s = qb_exec_create(&e, m, EVAL_BATCH, pool, QB_EXEC_INFER);
    if (s != QB_OK) return s;
    int64_t per = (int64_t)images->c * images->h * images->w;
    float *x = qb_malloc((size_t)(EVAL_BATCH * per), sizeof *x);
    int *labels = qb_malloc(EVAL_BATCH, sizeof *labels);
    int *idx = qb_malloc(EVAL_BATCH, sizeof *idx);
    long right = 0;
    if (!x || !labels || !idx) s = QB_ERR_NOMEM;
    for (int b = 0; s == QB_OK && b < images->n; b += EVAL_BATCH) {
        int n = images->n - b < EVAL_BATCH ? images->n - b : EVAL_BATCH;
        for (int i = 0; i < n; i++) idx[i] = b + i;
        qb_images_batch(images, idx, n, x, labels);
        if ((s = qb_exec_forward(e, x, n)) != QB_OK) break;
        const float *z = qb_exec_logits(e);
        for (int i = 0; i < n; i++) right += qb_argmax(z + i * m->n_classes, m->n_classes) == labels[i];
    }
    if (s == QB_OK) *accuracy = 100.0 * (double)right / images->n;
    free(x);
    free(labels);
    free(idx);
    qb_exec_free(e);
    return s;
}

float qb_train_lr(const qb_train_recipe *r, int64_t t, int64_t total, int64_t warmup)
{
    if (t < warmup) return r->lr * (0.1f + 0.9f * (float)t / (float)warmup);
    double p = (double)(t - warmup) / (double)(total - warmup > 0 ? total - warmup : 1);
    return (float)(r->lr * 0.5 * (1.0 + cos(M_PI * p)));
}

void qb_sgd_free(qb_sgd *o)
{
    for (int i = 0; i < o->n; i++) {
        qb_tensor_free(&o->velocity[i]);
        free(o->names[i]);
    }
    free(o->params);
    free(o->velocity);
    free(o->names);
    memset(o, 0, sizeof *o);
}

qb_status qb_sgd_init(qb_sgd *o, qb_model *m)
{
    memset(o, 0, sizeof *o);
    int n = 0;
    for (int i = 0; i < m->n_layers; i++)
        for (int p = 0; p < m->layers[i].n_params; p++)
            n += m->layers[i].params[p].value.data && m->layers[i].params[p].trainable;
    o->params = qb_calloc((size_t)n, sizeof *o->params);
    o->velocity = qb_calloc((size_t)n, sizeof *o->velocity);
    o->names = qb_calloc((size_t)n, sizeof *o->names);
    if (!o->params || !o->velocity || !o->names) {
        qb_sgd_free(o);
        return QB_ERR_NOMEM;
    }
    for (int i = 0; i < m->n_layers; i++)
        for (int p = 0; p < m->layers[i].n_params; p++) {
            qb_param *q = &m->layers[i].params[p];
            if (!q->value.data || !q->trainable) continue;
            o->params[o->n] = q;
            qb_status s = qb_tensor_alloc(&o->velocity[o->n], QB_F32, q->value.ndim, q->value.shape);
            if (s == QB_OK && asprintf(&o->names[o->n], "optimizer.momentum.%s", q->name) < 0)
                s = qb_error(QB_ERR_NOMEM, "out of memory");
            o->n++;
            if (s != QB_OK) {
                qb_sgd_free(o);
                return s;
            }
        }
    return QB_OK;
}

void qb_sgd_step(qb_sgd *o, const qb_train_recipe *r, float lr)
{
    for (int i = 0; i < o->n; i++) {
        qb_param *q = o->params[i];
        float *w = q->value.data, *v = o->velocity[i].data;
        const float *g = q->grad.data;
        float wd = q->decay ? r->weight_decay : 0.0f;
        for (int64_t j = 0; j < qb_tensor_numel(&q->value); j++) {
            v[j] = r->momentum * v[j] + g[j] + wd * w[j];
            w[j] -= lr * v[j];
        }
    }
}

static void recipe_meta(qb_meta *md, const qb_train_options *o, int n_train, int epochs_done,
                        double seconds)
{
    const qb_train_recipe *r = &o->recipe;
    qb_meta_set(md, "dataset", QB_FMNIST_NAME);
    qb_meta_setf(md, "seed", "%llu", (unsigned long long)o->seed);
    qb_meta_setf(md, "epochs", "%d", epochs_done);
    qb_meta_setf(md, "planned_epochs", "%d", r->epochs);
    qb_meta_setf(md, "train_images", "%d", n_train);
    qb_meta_setf(md, "recipe",
                 "sgd lr %g momentum %g weight_decay %g batch %d warmup %d cosine; crop_pad %d "
                 "flip %d",
                 (double)r->lr, (double)r->momentum, (double)r->weight_decay, r->batch,
                 r->warmup_epochs, r->crop_pad, r->flip);
    qb_meta_setf(md, "preprocess", "x/255, mean %.4f, std %.4f", (double)QB_FMNIST_MEAN,
                 (double)QB_FMNIST_STD);
    qb_meta_set(md, "qbench_version", qb_version());
    qb_meta_set(md, "git_commit", qb_git_commit());
    qb_meta_set(md, "gemm", qb_gemm_describe(qb_gemm_current()));
    qb_meta_setf(md, "train_seconds", "%.1f", seconds);
}

/* Restores parameters, momentum and progress from a checkpoint written by
 * the same arch, seed and recipe. */
static qb_status load_checkpoint(const qb_train_options *o, int n_train, qb_model *m,
                                 qb_sgd *opt, int *epochs_done, double *seconds)
{
    qb_model ck;
    qb_meta meta;
    qb_safetensors st;
    qb_status s = qb_model_load(o->checkpoint_path, &ck, &meta, &st);
    if (s != QB_OK) return qb_error_context(s, "cannot resume");
    qb_meta want = {0};
    recipe_meta(&want, o, n_train, 0, 0);
    static const char *must_match[] = {"seed", "planned_epochs", "recipe", "train_images"};
    for (size_t i = 0; i < QB_ARRAY_LEN(must_match) && s == QB_OK; i++) {
        const char *have = qb_meta_get(&meta, must_match[i]), *need = qb_meta_get(&want, must_match[i]);
        if (!have || strcmp(have, need) != 0)
            s = qb_error(QB_ERR_ARG,
                         "%s: checkpoint has %s '%s' but this run asks for '%s'; run with the same "
                         "flags, or without --resume to start over",
                         o->checkpoint_path, must_match[i], have ? have : "(none)", need);
    }
    if (s == QB_OK && strcmp(ck.arch, m->arch) != 0)
        s = qb_error(QB_ERR_ARG, "%s: checkpoint is a %s model, not %s", o->checkpoint_path, ck.arch,
                     m->arch);
    const char *ep = qb_meta_get(&meta, "epochs"), *secs = qb_meta_get(&meta, "train_seconds");
    if (s == QB_OK && (!ep || sscanf(ep, "%d", epochs_done) != 1 || !secs ||
                       sscanf(secs, "%lf", seconds) != 1))
        s = qb_error(QB_ERR_FORMAT, "%s: checkpoint lacks its epoch count", o->checkpoint_path);
    for (int i = 0; s == QB_OK && i < m->n_layers; i++)
        for (int p = 0; p < m->layers[i].n_params; p++)
            if (m->layers[i].params[p].value.data)
                memcpy(m->layers[i].params[p].value.data, ck.layers[i].params[p].value.data,
                       qb_tensor_bytes(&m->layers[i].params[p].value));
    for (int i = 0; s == QB_OK && i < opt->n; i++) {
        const qb_tensor *v = qb_safetensors_find(&st, opt->names[i]);
        if (!v || qb_tensor_bytes(v) != qb_tensor_bytes(&opt->velocity[i]))
            s = qb_error(QB_ERR_FORMAT, "%s: checkpoint lacks %s", o->checkpoint_path, opt->names[i]);
        else
            memcpy(opt->velocity[i].data, v->data, qb_tensor_bytes(v));
    }
    qb_meta_free(&want);
    qb_meta_free(&meta);
    qb_safetensors_free(&st);
    qb_model_free(&ck);
    return s;
}

static qb_status save_checkpoint(const qb_train_options *o, int n_train, const qb_model *m,
                                 const qb_sgd *opt, int epochs_done, double seconds)
{
    qb_named_tensor *extra = qb_calloc((size_t)opt->n, sizeof *extra);
    if (!extra) return QB_ERR_NOMEM;
    for (int i = 0; i < opt->n; i++) {
        extra[i].name = opt->names[i];
        extra[i].tensor = &opt->velocity[i];
    }
    qb_meta md = {0};
    recipe_meta(&md, o, n_train, epochs_done, seconds);
    qb_meta_set(&md, "checkpoint", "1");
    qb_status s = qb_model_save(o->checkpoint_path, m, &md, extra, opt->n);
    qb_meta_free(&md);
    free(extra);
    return s;
}

static void format_duration(double s, char *buf, size_t len)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
}

void qb_train_batch(const qb_train_recipe *r, const qb_images *train, const int *order, int b0,
                    int n, const qb_rng *epoch_rng, float *x, float *tmp, int *labels)
{
    int64_t per = (int64_t)train->c * train->h * train->w;
    float background = -QB_FMNIST_MEAN / QB_FMNIST_STD;
    for (int i = 0; i < n; i++) {
        int k = order[b0 + i];
        qb_images_batch(train, &k, 1, tmp, &labels[i]);
        /* each sample's augmentation from its own stream: independent of batching */
        qb_rng rr = qb_rng_split(epoch_rng, (uint64_t)(b0 + i) + 1);
        int dy = r->crop_pad ? (int)qb_rng_below(&rr, (uint64_t)(2 * r->crop_pad + 1)) - r->crop_pad : 0;
        int dx = r->crop_pad ? (int)qb_rng_below(&rr, (uint64_t)(2 * r->crop_pad + 1)) - r->crop_pad : 0;
        int flip = r->flip ? (int)qb_rng_below(&rr, 2) : 0;
        qb_augment_image(tmp, x + i * per, train->c, train->h, train->w, dy, dx, flip, background);
    }
}

qb_rng qb_train_epoch_order(uint64_t seed, int epoch, int *order, int n)
{
    qb_rng base;
    qb_rng_seed(&base, seed);
    qb_rng er = qb_rng_split(&base, (uint64_t)epoch + 1000);
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int j = (int)qb_rng_below(&er, (uint64_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    return er;
}

qb_status qb_train(const qb_train_options *o, const qb_fmnist *data, qb_train_result *res)
{
    memset(res, 0, sizeof *res);
    const qb_train_recipe *r = &o->recipe;
    if (r->epochs < 1 || r->batch < 1 || r->lr <= 0)
        return qb_error(QB_ERR_ARG, "training needs epochs >= 1, batch >= 1 and lr > 0");
    qb_images train = data->train;
    if (o->limit > 0 && o->limit < train.n) train.n = o->limit;
    qb_model m = {0};
    qb_sgd opt = {0};
    qb_exec *e = NULL;
    float *x = NULL, *tmp = NULL;
    int *labels = NULL, *order = NULL;
    qb_status s = qb_arch_build(o->arch, train.c, train.h, train.w, train.n_classes, &m);
    if (s != QB_OK) return s;
    qb_model_init_params(&m, o->seed);
    int batch = r->batch < train.n ? r->batch : train.n;
    int64_t per = (int64_t)train.c * train.h * train.w;
    if ((s = qb_sgd_init(&opt, &m)) != QB_OK ||
        (s = qb_exec_create(&e, &m, batch, o->pool, QB_EXEC_TRAIN)) != QB_OK)
        goto done;
    x = qb_malloc((size_t)(batch * per), sizeof *x);
    tmp = qb_malloc((size_t)per, sizeof *tmp);
    labels = qb_malloc((size_t)batch, sizeof *labels);
    order = qb_malloc((size_t)train.n, sizeof *order);
    if (!x || !tmp || !labels || !order) {
        s = QB_ERR_NOMEM;
        goto done;
    }
    int start_epoch = 0;
    double seconds = 0;
    struct stat st;
    if (o->resume && o->checkpoint_path && stat(o->checkpoint_path, &st) == 0) {
        if ((s = load_checkpoint(o, train.n, &m, &opt, &start_epoch, &seconds)) != QB_OK) goto done;
        res->resumed_from = start_epoch;
        if (o->log) fprintf(o->log, "resumed %s after epoch %d (%.0f s so far)\n", o->arch, start_epoch, seconds);
    }
    int64_t steps_per_epoch = (train.n + batch - 1) / batch;
    int64_t total = steps_per_epoch * r->epochs, warmup = steps_per_epoch * r->warmup_epochs;
    for (int epoch = start_epoch; epoch < r->epochs; epoch++) {
        double t0 = qb_now(), last_draw = 0;
        qb_rng er = qb_train_epoch_order(o->seed, epoch, order, train.n);
        double loss_sum = 0;
        long right = 0;
        for (int64_t step = 0; step < steps_per_epoch; step++) {
            int b0 = (int)(step * batch), n = train.n - b0 < batch ? train.n - b0 : batch;
            qb_train_batch(r, &train, order, b0, n, &er, x, tmp, labels);
            float loss;
            int correct;
            if ((s = qb_exec_forward(e, x, n)) != QB_OK ||
                (s = qb_exec_backward(e, labels, &loss, &correct)) != QB_OK)
                goto done;
            if (!isfinite(loss)) {
                s = qb_error(QB_ERR_INTERNAL, "training %s diverged (loss %g at epoch %d step %lld)",
                             o->arch, (double)loss, epoch + 1, (long long)step);
                goto done;
            }
            qb_sgd_step(&opt, r, qb_train_lr(r, epoch * steps_per_epoch + step, total, warmup));
            loss_sum += (double)loss * n;
            right += correct;
            double t = qb_now() - t0;
            if (o->progress && (t - last_draw > 0.5 || step + 1 == steps_per_epoch)) {
                last_draw = t;
                double frac = (double)(step + 1) / (double)steps_per_epoch;
                double eta_s = t / frac * (1 - frac) + t / frac * (r->epochs - epoch - 1);
                char eta[32];
                format_duration(eta_s, eta, sizeof eta);
                fprintf(stderr, "\r%s epoch %d/%d %3.0f%%  loss %.4f  acc %.2f%%  %.0f img/s  ETA %s   ",
                        o->arch, epoch + 1, r->epochs, 100 * frac, loss_sum / (b0 + n),
                        100.0 * (double)right / (b0 + n), (b0 + n) / t, eta);
                fflush(stderr);
            }
        }
        double epoch_s = qb_now() - t0;
        seconds += epoch_s;
        res->final_loss = loss_sum / train.n;
        if ((s = qb_accuracy(&m, &data->calib, o->pool, &res->calib_accuracy)) != QB_OK) goto done;
        if (o->checkpoint_path &&
            (s = save_checkpoint(o, train.n, &m, &opt, epoch + 1, seconds)) != QB_OK)
            goto done;
        if (o->progress) fputc('\n', stderr);
        if (o->log) {
            fprintf(o->log, "%s epoch %d/%d loss %.4f train_acc %.2f calib_acc %.2f lr %.5f epoch_s %.1f total_s %.1f\n",
                    o->arch, epoch + 1, r->epochs, res->final_loss, 100.0 * (double)right / train.n,
                    res->calib_accuracy, (double)qb_train_lr(r, (epoch + 1) * steps_per_epoch - 1, total, warmup),
                    epoch_s, seconds);
            fflush(o->log);
        }
        if (o->stop_after > 0 && epoch + 1 >= o->stop_after && epoch + 1 < r->epochs) {
            res->epochs = epoch + 1;
            res->seconds = seconds;
            res->stopped = 1;
            if (o->log) fprintf(o->log, "%s stopped after epoch %d; continue with --resume\n", o->arch, epoch + 1);
            goto done;
        }
    }
    res->epochs = r->epochs;
    res->seconds = seconds;
    if ((s = qb_accuracy(&m, &data->test, o->pool, &res->test_accuracy)) != QB_OK) goto done;
    if (start_epoch == r->epochs &&
        (s = qb_accuracy(&m, &data->calib, o->pool, &res->calib_accuracy)) != QB_OK)
        goto done;
    qb_meta md = {0};
    recipe_meta(&md, o, train.n, r->epochs, seconds);
    qb_meta_setf(&md, "fp32_test_accuracy", "%.2f", res->test_accuracy);
    qb_meta_setf(&md, "fp32_calib_accuracy", "%.2f", res->calib_accuracy);
    s = qb_model_save(o->out_path, &m, &md, NULL, 0);
    qb_meta_free(&md);
    if (s == QB_OK && o->checkpoint_path) unlink(o->checkpoint_path);
    if (s == QB_OK && o->log)
        fprintf(o->log, "%s done: test accuracy %.2f%%, %.0f s training, wrote %s\n", o->arch,
                res->test_accuracy, seconds, o->out_path);
done:
    free(x);
    free(tmp);
    free(labels);
    free(order);
    qb_exec_free(e);
    qb_sgd_free(&opt);
    qb_model_free(&m);
    return s;
}
