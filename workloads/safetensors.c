/* safetensors reader and writer, with the small JSON parser the header
 * needs (objects, arrays, strings with escapes, non-negative integers). */
#include "safetensors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safefile.h"

#define MAX_HEADER (100u << 20) /* the format's own limit: 100 MB */

static const struct { const char *name; qb_dtype dtype; } st_dtypes[] = {
    {"F32", QB_F32}, {"F64", QB_F64}, {"F16", QB_F16}, {"BF16", QB_BF16},
    {"I8", QB_I8},   {"U8", QB_U8},   {"I16", QB_I16}, {"U16", QB_U16},
    {"I32", QB_I32}, {"U32", QB_U32}, {"I64", QB_I64}, {"U64", QB_U64},
};

/* --- metadata ------------------------------------------------------------ */

qb_status qb_meta_set(qb_meta *m, const char *key, const char *value)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0) {
            char *v = strdup(value);
            if (!v) return qb_error(QB_ERR_NOMEM, "out of memory");
            free(m->values[i]);
            m->values[i] = v;
            return QB_OK;
        }
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 16;
        char **k = realloc(m->keys, (size_t)cap * sizeof *k);
        if (!k) return qb_error(QB_ERR_NOMEM, "out of memory");
        m->keys = k;
        char **v = realloc(m->values, (size_t)cap * sizeof *v);
        if (!v) return qb_error(QB_ERR_NOMEM, "out of memory");
        m->values = v;
        m->cap = cap;
    }
    m->keys[m->n] = strdup(key);
    m->values[m->n] = strdup(value);
    if (!m->keys[m->n] || !m->values[m->n]) {
        free(m->keys[m->n]);
        free(m->values[m->n]);
        return qb_error(QB_ERR_NOMEM, "out of memory");
    }
    m->n++;
    return QB_OK;
}

qb_status qb_meta_setf(qb_meta *m, const char *key, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return qb_meta_set(m, key, buf);
}

const char *qb_meta_get(const qb_meta *m, const char *key)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0) return m->values[i];
    return NULL;
}

void qb_meta_free(qb_meta *m)
{
    for (int i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof *m);
}

/* --- writing ------------------------------------------------------------- */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static const char *st_dtype_name(qb_dtype d)
{
    for (size_t i = 0; i < QB_ARRAY_LEN(st_dtypes); i++)
        if (st_dtypes[i].dtype == d) return st_dtypes[i].name;
    return NULL;
}

qb_status qb_safetensors_write(const char *path, const qb_named_tensor *tensors, int n,
                               const qb_meta *meta)
{
    char *header = NULL;
    size_t header_len = 0;
    FILE *h = open_memstream(&header, &header_len);
    if (!h) return qb_error(QB_ERR_NOMEM, "out of memory");
    fputc('{', h);
    int first = 1;
    if (meta && meta->n > 0) {
        fputs("\"__metadata__\":{", h);
        for (int i = 0; i < meta->n; i++) {
            if (i) fputc(',', h);
            json_string(h, meta->keys[i]);
            fputc(':', h);
            json_string(h, meta->values[i]);
        }
        fputc('}', h);
        first = 0;
    }
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        const qb_tensor *t = tensors[i].tensor;
        const char *dt = st_dtype_name(t->dtype);
        if (!dt) {
            fclose(h);
            free(header);
            return qb_error(QB_ERR_UNSUPPORTED, "%s: tensor %s has dtype %s, which safetensors cannot hold",
                            path, tensors[i].name, qb_dtype_name(t->dtype));
        }
        if (!first) fputc(',', h);
        first = 0;
        json_string(h, tensors[i].name);
        fprintf(h, ":{\"dtype\":\"%s\",\"shape\":[", dt);
        for (int d = 0; d < t->ndim; d++) fprintf(h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        uint64_t bytes = qb_tensor_bytes(t);
        fprintf(h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                (unsigned long long)(offset + bytes));
        offset += bytes;
    }
    fputc('}', h);
    /* pad with spaces so the data starts 8-byte aligned, as the format suggests */
    fflush(h);
    while (header_len % 8) {
        fputc(' ', h);
        fflush(h);
    }
    fclose(h);

    qb_safefile f;
    qb_status s = qb_safefile_open(&f, path);
    if (s != QB_OK) {
        free(header);
        return s;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
    fwrite(len8, 1, 8, f.fp);
    fwrite(header, 1, header_len, f.fp);
    free(header);
    for (int i = 0; i < n; i++) fwrite(tensors[i].tensor->data, 1, qb_tensor_bytes(tensors[i].tensor), f.fp);
    return qb_safefile_commit(&f);
}

/* --- JSON header parsing --------------------------------------------------- */

typedef struct {
    const char *start, *p, *end, *path;
} parser;

static qb_status syntax(parser *ps, const char *what)
{
    return qb_error(QB_ERR_FORMAT, "%s: malformed JSON header: %s at header byte %ld", ps->path,
                    what, (long)(ps->p - ps->start));
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int expect(parser *ps, char c)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return 1;
    }
    return 0;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A JSON string into a malloc'ed UTF-8 C string. */
static qb_status parse_string(parser *ps, char **out)
{
    *out = NULL;
    if (!expect(ps, '"')) return syntax(ps, "expected a string");
    const char *start = ps->p;
    while (ps->p < ps->end && *ps->p != '"') ps->p += *ps->p == '\\' ? 2 : 1;
    if (ps->p >= ps->end) return syntax(ps, "unterminated string");
    char *s = malloc((size_t)(ps->p - start) + 1), *o = s;
    if (!s) return qb_error(QB_ERR_NOMEM, "out of memory");
    for (const char *q = start; q < ps->p; q++) {
        if ((unsigned char)*q < 0x20) {
            free(s);
            return syntax(ps, "control character in a string");
        }
        if (*q != '\\') {
            *o++ = *q;
            continue;
        }
        q++;
        switch (*q) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (ps->p - q < 5 || !hex4(q + 1, &cp)) {
                free(s);
                return syntax(ps, "bad \\u escape");
            }
            q += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && ps->p - q >= 7 && q[1] == '\\' && q[2] == 'u' &&
                hex4(q + 3, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                q += 6;
            }
            if (cp == 0) {
                free(s);
                return syntax(ps, "NUL character in a string");
            }
            o += put_utf8(o, cp); /* never longer than the 6+ escape bytes */
            break;
        }
        default:
            free(s);
            return syntax(ps, "bad escape in a string");
        }
    }
    *o = '\0';
    ps->p++; /* closing quote */
    *out = s;
    return QB_OK;
}

static qb_status parse_uint(parser *ps, uint64_t *out)
{
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return syntax(ps, "expected a non-negative integer");
    uint64_t v = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        if (v > (UINT64_MAX - 9) / 10) return syntax(ps, "integer too large");
        v = v * 10 + (uint64_t)(*ps->p++ - '0');
    }
    *out = v;
    return QB_OK;
}

/* [n, n, ...] with at most `max` elements. */
static qb_status parse_uint_array(parser *ps, uint64_t *out, int max, int *n)
{
    *n = 0;
    if (!expect(ps, '[')) return syntax(ps, "expected '['");
    if (expect(ps, ']')) return QB_OK;
    do {
        if (*n == max) return syntax(ps, "array too long");
        qb_status s = parse_uint(ps, &out[(*n)++]);
        if (s != QB_OK) return s;
    } while (expect(ps, ','));
    if (!expect(ps, ']')) return syntax(ps, "expected ']'");
    return QB_OK;
}

typedef struct {
    char *name;
    qb_dtype dtype;
    int ndim;
    int64_t shape[QB_MAX_DIMS];
    uint64_t begin, end;
} entry;

static qb_status parse_entry(parser *ps, entry *e)
{
    int have_dtype = 0, have_shape = 0, have_offsets = 0;
    if (!expect(ps, '{')) return syntax(ps, "expected '{' for a tensor entry");
    if (expect(ps, '}')) return syntax(ps, "empty tensor entry");
    do {
        char *key;
        qb_status s = parse_string(ps, &key);
        if (s != QB_OK) return s;
        if (!expect(ps, ':')) {
            free(key);
            return syntax(ps, "expected ':'");
        }
        if (strcmp(key, "dtype") == 0) {
            char *dt;
            free(key);
            if ((s = parse_string(ps, &dt)) != QB_OK) return s;
            int found = 0;
            for (size_t i = 0; i < QB_ARRAY_LEN(st_dtypes); i++)
                if (strcmp(dt, st_dtypes[i].name) == 0) {
                    e->dtype = st_dtypes[i].dtype;
                    found = 1;
                }
            if (!found) {
                s = qb_error(QB_ERR_UNSUPPORTED, "%s: tensor %s has dtype %s, which qbench does not support",
                             ps->path, e->name, dt);
                free(dt);
                return s;
            }
            free(dt);
            have_dtype = 1;
        } else if (strcmp(key, "shape") == 0) {
            free(key);
            uint64_t dims[QB_MAX_DIMS];
            if ((s = parse_uint_array(ps, dims, QB_MAX_DIMS, &e->ndim)) != QB_OK) return s;
            for (int d = 0; d < e->ndim; d++) {
                if (dims[d] > (uint64_t)INT64_MAX) return syntax(ps, "dimension too large");
                e->shape[d] = (int64_t)dims[d];
            }
            have_shape = 1;
        } else if (strcmp(key, "data_offsets") == 0) {
            free(key);
            uint64_t off[2];
            int n;
            if ((s = parse_uint_array(ps, off, 2, &n)) != QB_OK) return s;
            if (n != 2) return syntax(ps, "data_offsets needs two numbers");
            e->begin = off[0];
            e->end = off[1];
            have_offsets = 1;
        } else {
            s = qb_error(QB_ERR_FORMAT, "%s: tensor %s has an unknown field '%s'", ps->path, e->name, key);
            free(key);
            return s;
        }
    } while (expect(ps, ','));
    if (!expect(ps, '}')) return syntax(ps, "expected '}' after a tensor entry");
    if (!have_dtype || !have_shape || !have_offsets)
        return qb_error(QB_ERR_FORMAT, "%s: tensor %s lacks %s", ps->path, e->name,
                        !have_dtype ? "a dtype" : !have_shape ? "a shape" : "data_offsets");
    return QB_OK;
}

static qb_status parse_metadata(parser *ps, qb_meta *meta)
{
    if (!expect(ps, '{')) return syntax(ps, "expected '{' for __metadata__");
    if (expect(ps, '}')) return QB_OK;
    do {
        char *k = NULL, *v = NULL;
        qb_status s = parse_string(ps, &k);
        if (s == QB_OK && !expect(ps, ':')) s = syntax(ps, "expected ':'");
        if (s == QB_OK) s = parse_string(ps, &v);
        if (s == QB_OK) s = qb_meta_set(meta, k, v);
        free(k);
        free(v);
        if (s != QB_OK) return s;
    } while (expect(ps, ','));
    if (!expect(ps, '}')) return syntax(ps, "expected '}' after __metadata__");
    return QB_OK;
}

static int cmp_entry_begin(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

qb_status qb_safetensors_read(const char *path, qb_safetensors *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return qb_error(QB_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
    qb_status s = QB_OK;
    char *header = NULL;
    entry *entries = NULL;
    int n = 0, cap = 0;
    unsigned char len8[8];
    if (fseek(f, 0, SEEK_END) != 0) {
        s = qb_error(QB_ERR_IO, "%s: cannot seek (%s)", path, strerror(errno));
        goto done;
    }
    long fsize = ftell(f);
    rewind(f);
    if (fsize < 8 || fread(len8, 1, 8, f) != 8) {
        s = qb_error(QB_ERR_FORMAT, "%s: too short to be a safetensors file (%ld bytes)", path, fsize);
        goto done;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | len8[i];
    if (hlen < 2 || hlen > MAX_HEADER || hlen > (uint64_t)fsize - 8) {
        s = qb_error(QB_ERR_FORMAT,
                     "%s: header length %llu does not fit the file (%ld bytes) or the format's 100 MB "
                     "limit; the file is truncated or not safetensors",
                     path, (unsigned long long)hlen, fsize);
        goto done;
    }
    header = malloc(hlen);
    if (!header || fread(header, 1, hlen, f) != hlen) {
        s = header ? qb_error(QB_ERR_IO, "%s: cannot read the header", path) : QB_ERR_NOMEM;
        goto done;
    }
    uint64_t data_size = (uint64_t)fsize - 8 - hlen;
    parser ps = {header, header, header + hlen, path};
    if (!expect(&ps, '{')) {
        s = syntax(&ps, "the header is not a JSON object");
        goto done;
    }
    if (!expect(&ps, '}')) {
        do {
            char *key;
            if ((s = parse_string(&ps, &key)) != QB_OK) goto done;
            if (!expect(&ps, ':')) {
                free(key);
                s = syntax(&ps, "expected ':'");
                goto done;
            }
            if (strcmp(key, "__metadata__") == 0) {
                free(key);
                if ((s = parse_metadata(&ps, &out->meta)) != QB_OK) goto done;
                continue;
            }
            for (int i = 0; i < n; i++)
                if (strcmp(entries[i].name, key) == 0) {
                    s = qb_error(QB_ERR_FORMAT, "%s: tensor %s appears twice", path, key);
                    free(key);
                    goto done;
                }
            if (n == cap) {
                cap = cap ? 2 * cap : 32;
                entry *ne = realloc(entries, (size_t)cap * sizeof *ne);
                if (!ne) {
                    free(key);
                    s = qb_error(QB_ERR_NOMEM, "out of memory");
                    goto done;
                }
                entries = ne;
            }
            memset(&entries[n], 0, sizeof entries[n]);
            entries[n].name = key;
            n++;
            if ((s = parse_entry(&ps, &entries[n - 1])) != QB_OK) goto done;
        } while (expect(&ps, ','));
        if (!expect(&ps, '}')) {
            s = syntax(&ps, "expected '}' at the end of the header");
            goto done;
        }
    }
    skip_ws(&ps);
    if (ps.p != ps.end) {
        s = syntax(&ps, "trailing characters after the header object");
        goto done;
    }
    /* Byte ranges: each matches its shape; together they tile the data. */
    for (int i = 0; i < n; i++) {
        entry *e = &entries[i];
        int64_t numel = qb_shape_numel(e->ndim, e->shape);
        if (numel < 0 || e->end < e->begin ||
            (uint64_t)numel > (e->end - e->begin) / qb_dtype_size(e->dtype) + 1 ||
            (uint64_t)numel * qb_dtype_size(e->dtype) != e->end - e->begin) {
            char sb[128];
            s = qb_error(QB_ERR_FORMAT, "%s: tensor %s: %s of shape %s does not fill its %llu-byte range",
                         path, e->name, qb_dtype_name(e->dtype), qb_shape_str(e->ndim, e->shape, sb, sizeof sb),
                         (unsigned long long)(e->end - e->begin));
            goto done;
        }
        if (e->end > data_size) {
            s = qb_error(QB_ERR_FORMAT,
                         "%s: tensor %s ends at data byte %llu but the file holds %llu data bytes "
                         "(truncated file?)",
                         path, e->name, (unsigned long long)e->end, (unsigned long long)data_size);
            goto done;
        }
    }
    entry *sorted = n ? malloc((size_t)n * sizeof *sorted) : NULL;
    if (n && !sorted) {
        s = qb_error(QB_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (n) memcpy(sorted, entries, (size_t)n * sizeof *sorted);
    if (n) qsort(sorted, (size_t)n, sizeof *sorted, cmp_entry_begin);
    uint64_t at = 0;
    for (int i = 0; i < n && s == QB_OK; i++) {
        if (sorted[i].begin != at)
            s = qb_error(QB_ERR_FORMAT, "%s: tensor data has a %s at byte %llu (tensor %s)", path,
                         sorted[i].begin > at ? "hole" : "overlap", (unsigned long long)at, sorted[i].name);
        at = sorted[i].end;
    }
    free(sorted);
    if (s == QB_OK && at != data_size)
        s = qb_error(QB_ERR_FORMAT, "%s: %llu bytes after the last tensor's data", path,
                     (unsigned long long)(data_size - at));
    if (s != QB_OK) goto done;

    out->names = qb_calloc((size_t)(n ? n : 1), sizeof *out->names);
    out->tensors = qb_calloc((size_t)(n ? n : 1), sizeof *out->tensors);
    if (!out->names || !out->tensors) {
        s = QB_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        entry *e = &entries[i];
        if ((s = qb_tensor_alloc(&out->tensors[i], e->dtype, e->ndim, e->shape)) != QB_OK) goto done;
        out->names[i] = e->name;
        e->name = NULL;
        out->n = i + 1;
        if (fseek(f, (long)(8 + hlen + e->begin), SEEK_SET) != 0 ||
            fread(out->tensors[i].data, 1, e->end - e->begin, f) != e->end - e->begin) {
            s = qb_error(QB_ERR_IO, "%s: cannot read tensor %s", path, out->names[i]);
            goto done;
        }
    }
done:
    for (int i = 0; i < n; i++) free(entries[i].name);
    free(entries);
    free(header);
    fclose(f);
    if (s != QB_OK) qb_safetensors_free(out);
    return s;
}

const qb_tensor *qb_safetensors_find(const qb_safetensors *st, const char *name)
{
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->names[i], name) == 0) return &st->tensors[i];
    return NULL;
}

void qb_safetensors_free(qb_safetensors *st)
{
    for (int i = 0; i < st->n; i++) {
        free(st->names[i]);
        qb_tensor_free(&st->tensors[i]);
    }
    free(st->names);
    free(st->tensors);
    qb_meta_free(&st->meta);
    memset(st, 0, sizeof *st);
}
