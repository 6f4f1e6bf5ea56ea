/* Fashion-MNIST loading, validation and the train/calib/test split. */
#include "dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "idx.h"

const char *qb_dataset_dir(const char *flag)
{
    if (flag && *flag) return flag;
    const char *env = getenv("QBENCH_DATA");
    if (env && *env) return env;
    return QB_FMNIST_DEFAULT_DIR;
}

static qb_status missing_data(const char *what)
{
    return qb_error(QB_ERR_IO,
                    "%s: Fashion-MNIST not found. Install it with `make deps` (Debian package "
                    "dataset-fashion-mnist, into %s), or point --data DIR or QBENCH_DATA at a "
                    "folder holding train-images-idx3-ubyte.gz and the three other IDX files",
                    what, QB_FMNIST_DEFAULT_DIR);
}

/* Finds dir/name.gz or dir/name and reads it. */
static qb_status read_part(const char *dir, const char *name, qb_tensor *out)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s.gz", dir, name);
    if (stat(path, &st) != 0) {
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (stat(path, &st) != 0) {
            snprintf(path, sizeof path, "%s/%s.gz", dir, name);
            return missing_data(path);
        }
    }
    return qb_idx_read(path, out);
}

static qb_status check_pair(const char *dir, const char *what, const qb_tensor *px,
                            const qb_tensor *lb, int min_n)
{
    if (px->dtype != QB_U8 || px->ndim != 3 || px->shape[1] != 28 || px->shape[2] != 28)
        return qb_error(QB_ERR_FORMAT,
                        "%s/%s-images-idx3-ubyte: expected uint8 images of shape (n, 28, 28), got "
                        "%s of rank %d",
                        dir, what, qb_dtype_name(px->dtype), px->ndim);
    if (lb->dtype != QB_U8 || lb->ndim != 1)
        return qb_error(QB_ERR_FORMAT, "%s/%s-labels-idx1-ubyte: expected a uint8 vector of labels",
                        dir, what);
    if (lb->shape[0] != px->shape[0])
        return qb_error(QB_ERR_FORMAT, "%s: %s has %lld images but %lld labels", dir, what,
                        (long long)px->shape[0], (long long)lb->shape[0]);
    if (px->shape[0] < min_n)
        return qb_error(QB_ERR_FORMAT, "%s: %s has %lld images; qbench needs at least %d", dir,
                        what, (long long)px->shape[0], min_n);
    const uint8_t *l = lb->data;
    for (int64_t i = 0; i < lb->shape[0]; i++)
        if (l[i] >= QB_FMNIST_CLASSES)
            return qb_error(QB_ERR_FORMAT, "%s/%s-labels-idx1-ubyte: label %lld is %d (expected 0-9)",
                            dir, what, (long long)i, l[i]);
    return QB_OK;
}

static qb_images view(const qb_tensor *px, const qb_tensor *lb, int64_t begin, int64_t n)
{
    qb_images v = {.n = (int)n, .c = 1, .h = (int)px->shape[1], .w = (int)px->shape[2],
                   .n_classes = QB_FMNIST_CLASSES};
    v.pixels = (const uint8_t *)px->data + begin * v.h * v.w;
    v.labels = (const uint8_t *)lb->data + begin;
    return v;
}

qb_status qb_fmnist_load(const char *dir, qb_fmnist *out)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return missing_data(dir);
    snprintf(out->dir, sizeof out->dir, "%s", dir);
    qb_status s;
    if ((s = read_part(dir, "train-images-idx3-ubyte", &out->train_pixels)) != QB_OK ||
        (s = read_part(dir, "train-labels-idx1-ubyte", &out->train_labels)) != QB_OK ||
        (s = read_part(dir, "t10k-images-idx3-ubyte", &out->test_pixels)) != QB_OK ||
        (s = read_part(dir, "t10k-labels-idx1-ubyte", &out->test_labels)) != QB_OK ||
        (s = check_pair(dir, "train", &out->train_pixels, &out->train_labels,
                        QB_FMNIST_CALIB + 1)) != QB_OK ||
        (s = check_pair(dir, "t10k", &out->test_pixels, &out->test_labels, 1)) != QB_OK) {
        qb_fmnist_free(out);
        return s;
    }
    int64_t ntrain = out->train_pixels.shape[0] - QB_FMNIST_CALIB;
    out->train = view(&out->train_pixels, &out->train_labels, 0, ntrain);
    out->calib = view(&out->train_pixels, &out->train_labels, ntrain, QB_FMNIST_CALIB);
    out->test = view(&out->test_pixels, &out->test_labels, 0, out->test_pixels.shape[0]);
    return QB_OK;
}

void qb_fmnist_free(qb_fmnist *d)
{
    qb_tensor_free(&d->train_pixels);
    qb_tensor_free(&d->train_labels);
    qb_tensor_free(&d->test_pixels);
    qb_tensor_free(&d->test_labels);
    memset(d, 0, sizeof *d);
}

void qb_images_batch(const qb_images *d, const int *idx, int n, float *out, int *labels)
{
    const float scale = 1.0f / (255.0f * QB_FMNIST_STD), shift = QB_FMNIST_MEAN / QB_FMNIST_STD;
    int64_t per = (int64_t)d->c * d->h * d->w;
    for (int i = 0; i < n; i++) {
        int k = idx ? idx[i] : i;
        const uint8_t *src = d->pixels + k * per;
        float *dst = out + i * per;
        for (int64_t j = 0; j < per; j++) dst[j] = (float)src[j] * scale - shift;
        if (labels) labels[i] = d->labels[k];
    }
}

qb_images qb_images_head(const qb_images *d, int n)
{
    qb_images v = *d;
    if (n < v.n) v.n = n;
    return v;
}
