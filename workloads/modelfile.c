/* Model <-> safetensors (see modelfile.h). */
#include "modelfile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archs.h"

qb_status qb_model_save(const char *path, const qb_model *m, const qb_meta *meta,
                        const qb_named_tensor *extra, int n_extra)
{
    int n = 0;
    for (int i = 0; i < m->n_layers; i++) n += m->layers[i].n_params;
    qb_named_tensor *ts = qb_calloc((size_t)(n + n_extra + 1), sizeof *ts);
    if (!ts) return QB_ERR_NOMEM;
    int k = 0;
    for (int i = 0; i < m->n_layers; i++)
        for (int p = 0; p < m->layers[i].n_params; p++) {
            const qb_param *q = &m->layers[i].params[p];
            if (!q->value.data) continue;
            ts[k].name = q->name;
            ts[k++].tensor = &q->value;
        }
    for (int i = 0; i < n_extra; i++) ts[k++] = extra[i];
    qb_meta md = {0};
    qb_status s = QB_OK;
    for (int i = 0; meta && i < meta->n && s == QB_OK; i++) s = qb_meta_set(&md, meta->keys[i], meta->values[i]);
    if (s == QB_OK) s = qb_meta_set(&md, "format", "qbench-model");
    if (s == QB_OK) s = qb_meta_set(&md, "architecture", m->arch);
    if (s == QB_OK) s = qb_meta_setf(&md, "input_shape", "%dx%dx%d", m->in_c, m->in_h, m->in_w);
    if (s == QB_OK) s = qb_meta_setf(&md, "n_classes", "%d", m->n_classes);
    if (s == QB_OK) s = qb_safetensors_write(path, ts, k, &md);
    qb_meta_free(&md);
    free(ts);
    return s;
}

qb_status qb_model_load(const char *path, qb_model *m, qb_meta *meta, qb_safetensors *st_out)
{
    memset(m, 0, sizeof *m);
    if (meta) memset(meta, 0, sizeof *meta);
    qb_safetensors st;
    qb_status s = qb_safetensors_read(path, &st);
    if (s != QB_OK) return s;
    const char *arch = qb_meta_get(&st.meta, "architecture");
    const char *shape = qb_meta_get(&st.meta, "input_shape");
    const char *classes = qb_meta_get(&st.meta, "n_classes");
    int c, h, w, nc;
    if (!arch || !shape || !classes || sscanf(shape, "%dx%dx%d", &c, &h, &w) != 3 ||
        sscanf(classes, "%d", &nc) != 1) {
        s = qb_error(QB_ERR_FORMAT,
                     "%s: not a qbench model file (its metadata lacks architecture, input_shape "
                     "or n_classes); write models with `qbench train`",
                     path);
        goto fail;
    }
    if ((s = qb_arch_build(arch, c, h, w, nc, m)) != QB_OK) {
        qb_error_context(s, "%s", path);
        goto fail;
    }
    for (int i = 0; i < m->n_layers; i++)
        for (int p = 0; p < m->layers[i].n_params; p++) {
            qb_param *q = &m->layers[i].params[p];
            if (!q->value.data) continue;
            const qb_tensor *t = qb_safetensors_find(&st, q->name);
            char want[128], got[128];
            if (!t) {
                s = qb_error(QB_ERR_FORMAT, "%s: tensor %s of architecture %s is missing", path,
                             q->name, arch);
                goto fail;
            }
            if (t->dtype != QB_F32 || t->ndim != q->value.ndim ||
                memcmp(t->shape, q->value.shape, (size_t)t->ndim * sizeof *t->shape) != 0) {
                s = qb_error(QB_ERR_FORMAT, "%s: tensor %s is %s %s; architecture %s needs float32 %s",
                             path, q->name, qb_dtype_name(t->dtype),
                             qb_shape_str(t->ndim, t->shape, got, sizeof got), arch,
                             qb_shape_str(q->value.ndim, q->value.shape, want, sizeof want));
                goto fail;
            }
            const float *v = t->data;
            for (int64_t j = 0; j < qb_tensor_numel(t); j++)
                if (!isfinite(v[j])) {
                    s = qb_error(QB_ERR_FORMAT, "%s: tensor %s holds a non-finite value at %lld",
                                 path, q->name, (long long)j);
                    goto fail;
                }
            memcpy(q->value.data, t->data, qb_tensor_bytes(t));
        }
    for (int i = 0; i < st.n; i++)
        if (strncmp(st.names[i], "optimizer.", 10) != 0 && !qb_model_find_param(m, st.names[i])) {
            s = qb_error(QB_ERR_FORMAT, "%s: tensor %s is not part of architecture %s", path,
                         st.names[i], arch);
            goto fail;
        }
    if (meta) {
        *meta = st.meta;
        memset(&st.meta, 0, sizeof st.meta);
    }
    if (st_out)
        *st_out = st;
    else
        qb_safetensors_free(&st);
    return QB_OK;
fail:
    qb_model_free(m);
    qb_safetensors_free(&st);
    return s;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *qb_models_dir(void)
{
    static _Thread_local char dir[1024];
    const char *env = getenv("QBENCH_MODELS");
    if (env && *env) return env;
    if (is_dir("workloads/models")) return "workloads/models";
    char exe[900];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        static const char *rel[] = {"workloads/models", "../../workloads/models"};
        for (size_t i = 0; i < QB_ARRAY_LEN(rel); i++) {
            snprintf(dir, sizeof dir, "%s/%s", exe, rel[i]);
            if (is_dir(dir)) return dir;
        }
    }
    return "workloads/models";
}

void qb_model_path(const char *name_or_path, char *out, size_t len)
{
    size_t n = strlen(name_or_path);
    const char *ext = ".safetensors";
    if (strchr(name_or_path, '/') || (n > strlen(ext) && strcmp(name_or_path + n - strlen(ext), ext) == 0))
        snprintf(out, len, "%s", name_or_path);
    else
        snprintf(out, len, "%s/%s.safetensors", qb_models_dir(), name_or_path);
}
