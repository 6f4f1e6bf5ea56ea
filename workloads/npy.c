/* .npy reading and writing (see npy.h). The header is a Python dict
 * literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * parsed here by a small hand-written scanner that accepts what NumPy
 * writes and rejects anything it does not understand. */
#include "npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "safefile.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_HELP "(qbench reads float16/32/64 and int8-64/uint8-64 arrays; in NumPy: " \
                 "np.save(path, np.ascontiguousarray(a, dtype=np.float32)))"

static const struct { qb_dtype dt; const char *descr; } descrs[] = {
    {QB_F32, "<f4"}, {QB_F64, "<f8"}, {QB_F16, "<f2"},
    {QB_I8, "|i1"},  {QB_U8, "|u1"},  {QB_I16, "<i2"}, {QB_U16, "<u2"},
    {QB_I32, "<i4"}, {QB_U32, "<u4"}, {QB_I64, "<i8"}, {QB_U64, "<u8"},
};

const char *qb_npy_descr(qb_dtype d)
{
    for (size_t i = 0; i < QB_ARRAY_LEN(descrs); i++)
        if (descrs[i].dt == d) return descrs[i].descr;
    return NULL;
}

/* ---- header parsing ---- */

typedef struct {
    const char *p, *end;
    const char *name; /* file name for messages */
} scanner;

typedef struct {
    qb_dtype dtype;
    int swap; /* big-endian data */
    int ndim;
    int64_t shape[QB_MAX_DIMS];
} npy_header;

static void skip_ws(scanner *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static qb_status bad_header(const scanner *s, const char *what)
{
    return qb_error(QB_ERR_FORMAT, "%s: malformed .npy header: %s (near '%.20s'); "
                    "rewrite the file with numpy.save", s->name, what,
                    s->p < s->end ? s->p : "end of header");
}

static int accept(scanner *s, char c)
{
    skip_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string (no escapes needed for the keys and dtypes). */
static qb_status read_str(scanner *s, char *buf, size_t len)
{
    skip_ws(s);
    if (s->p >= s->end || (*s->p != '\'' && *s->p != '"')) return bad_header(s, "expected a string");
    char q = *s->p++;
    size_t n = 0;
    while (s->p < s->end && *s->p != q) {
        if (n + 1 >= len) return bad_header(s, "string too long");
        buf[n++] = *s->p++;
    }
    if (s->p >= s->end) return bad_header(s, "unterminated string");
    s->p++;
    buf[n] = '\0';
    return QB_OK;
}

static qb_status parse_descr(scanner *s, npy_header *h)
{
    char d[64];
    skip_ws(s);
    if (s->p < s->end && *s->p == '[')
        return qb_error(QB_ERR_UNSUPPORTED, "%s: structured (record) arrays are not supported "
                        NPY_HELP, s->name);
    qb_status st = read_str(s, d, sizeof d);
    if (st != QB_OK) return st;
    char order = d[0];
    const char *type = d + 1;
    if (order != '<' && order != '>' && order != '|' && order != '=') {
        order = '=';
        type = d;
    }
    for (size_t i = 0; i < QB_ARRAY_LEN(descrs); i++) {
        if (strcmp(type, descrs[i].descr + 1) != 0) continue;
        h->dtype = descrs[i].dt;
        h->swap = order == '>' && qb_dtype_size(h->dtype) > 1;
        return QB_OK;
    }
    return qb_error(QB_ERR_UNSUPPORTED, "%s: dtype '%s' is not supported " NPY_HELP, s->name, d);
}

static qb_status parse_shape(scanner *s, npy_header *h)
{
    if (!accept(s, '(')) return bad_header(s, "shape must be a tuple");
    h->ndim = 0;
    for (;;) {
        skip_ws(s);
        if (accept(s, ')')) return QB_OK;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9')
            return bad_header(s, "shape entries must be non-negative integers");
        int64_t v = 0;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
            int digit = *s->p++ - '0';
            if (v > (INT64_MAX - digit) / 10)
                return qb_error(QB_ERR_FORMAT, "%s: a dimension in the .npy shape overflows a "
                                "64-bit integer", s->name);
            v = v * 10 + digit;
        }
        if (s->p < s->end && (*s->p == 'L' || *s->p == 'l')) s->p++; /* Python 2 longs */
        if (h->ndim >= QB_MAX_DIMS)
            return qb_error(QB_ERR_UNSUPPORTED, "%s: arrays of rank above %d are not supported",
                            s->name, QB_MAX_DIMS);
        h->shape[h->ndim++] = v;
        if (!accept(s, ',')) {
            if (accept(s, ')')) return QB_OK;
            return bad_header(s, "expected ',' or ')' in the shape");
        }
    }
}

static qb_status parse_header(const char *text, size_t len, const char *name, npy_header *h)
{
    scanner s = {text, text + len, name};
    int have_descr = 0, have_order = 0, have_shape = 0;
    memset(h, 0, sizeof *h);
    if (!accept(&s, '{')) return bad_header(&s, "expected '{'");
    for (;;) {
        if (accept(&s, '}')) break;
        char key[32];
        qb_status st = read_str(&s, key, sizeof key);
        if (st != QB_OK) return st;
        if (!accept(&s, ':')) return bad_header(&s, "expected ':' after a key");
        if (strcmp(key, "descr") == 0) {
            st = parse_descr(&s, h);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            skip_ws(&s);
            if ((size_t)(s.end - s.p) >= 5 && strncmp(s.p, "False", 5) == 0) {
                s.p += 5;
            } else if ((size_t)(s.end - s.p) >= 4 && strncmp(s.p, "True", 4) == 0) {
                return qb_error(QB_ERR_UNSUPPORTED, "%s: Fortran-ordered arrays are not supported; "
                                "save a C-ordered copy (np.ascontiguousarray)", name);
            } else {
                return bad_header(&s, "fortran_order must be True or False");
            }
            have_order = 1;
        } else if (strcmp(key, "shape") == 0) {
            st = parse_shape(&s, h);
            have_shape = 1;
        } else {
            return bad_header(&s, "unknown key in the header dict");
        }
        if (st != QB_OK) return st;
        if (!accept(&s, ',')) {
            if (accept(&s, '}')) break;
            return bad_header(&s, "expected ',' or '}'");
        }
    }
    if (!have_descr || !have_order || !have_shape)
        return bad_header(&s, "the dict must have the keys 'descr', 'fortran_order' and 'shape'");
    return QB_OK;
}

/* Reads the preamble (magic, version, header length) from the first bytes. */
static qb_status parse_preamble(const unsigned char *b, size_t have, const char *name,
                                size_t *preamble, size_t *header_len)
{
    if (have < 10 || memcmp(b, NPY_MAGIC, 6) != 0)
        return qb_error(QB_ERR_FORMAT, "%s: not a .npy file (it does not start with "
                        "\\x93NUMPY); write it with numpy.save", name);
    int major = b[6];
    if (major == 1) {
        *preamble = 10;
        *header_len = (size_t)b[8] | (size_t)b[9] << 8;
    } else if (major == 2 || major == 3) {
        if (have < 12)
            return qb_error(QB_ERR_FORMAT, "%s: truncated .npy preamble", name);
        *preamble = 12;
        *header_len = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    } else {
        return qb_error(QB_ERR_UNSUPPORTED, "%s: .npy format version %d.%d is not supported "
                        "(1.0, 2.0 and 3.0 are)", name, major, b[7]);
    }
    return QB_OK;
}

/* Checks the data size the header implies against what the file holds. */
static qb_status check_size(const npy_header *h, const char *name, uint64_t data_bytes,
                            size_t *need)
{
    char sbuf[200];
    int64_t numel = qb_shape_numel(h->ndim, h->shape);
    size_t bytes;
    if (numel < 0 || qb_mul_overflow((size_t)numel, qb_dtype_size(h->dtype), &bytes))
        return qb_error(QB_ERR_NOMEM, "%s: shape %s is too large (its size in bytes overflows); "
                        "the header is probably corrupt", name,
                        qb_shape_str(h->ndim, h->shape, sbuf, sizeof sbuf));
    if (data_bytes < bytes)
        return qb_error(QB_ERR_FORMAT, "%s: truncated: the header says %s %s, %zu bytes of data, "
                        "but only %llu follow", name, qb_shape_str(h->ndim, h->shape, sbuf, sizeof sbuf),
                        qb_dtype_name(h->dtype), bytes, (unsigned long long)data_bytes);
    if (data_bytes > bytes)
        return qb_error(QB_ERR_FORMAT, "%s: %llu bytes follow the data the header describes (%s %s, "
                        "%zu bytes); the header or the file is wrong", name,
                        (unsigned long long)(data_bytes - bytes),
                        qb_shape_str(h->ndim, h->shape, sbuf, sizeof sbuf), qb_dtype_name(h->dtype),
                        bytes);
    *need = bytes;
    return QB_OK;
}

static void byteswap(void *data, size_t n, size_t size)
{
    unsigned char *b = data;
    for (size_t i = 0; i < n; i++, b += size)
        for (size_t j = 0; j < size / 2; j++) {
            unsigned char t = b[j];
            b[j] = b[size - 1 - j];
            b[size - 1 - j] = t;
        }
}

static qb_status alloc_for(const npy_header *h, const char *name, qb_tensor *out)
{
    qb_status st = qb_tensor_alloc(out, h->dtype, h->ndim, h->shape);
    if (st != QB_OK) return qb_error_context(st, "%s", name);
    return QB_OK;
}

qb_status qb_npy_read_mem(const void *buf, size_t len, const char *name, qb_tensor *out)
{
    memset(out, 0, sizeof *out);
    const unsigned char *b = buf;
    size_t pre, hlen, need;
    qb_status st = parse_preamble(b, len, name, &pre, &hlen);
    if (st != QB_OK) return st;
    if (len - pre < hlen)
        return qb_error(QB_ERR_FORMAT, "%s: truncated .npy header (%zu bytes announced, %zu present)",
                        name, hlen, len - pre);
    npy_header h;
    st = parse_header((const char *)b + pre, hlen, name, &h);
    if (st == QB_OK) st = check_size(&h, name, len - pre - hlen, &need);
    if (st == QB_OK) st = alloc_for(&h, name, out);
    if (st != QB_OK) return st;
    memcpy(out->data, b + pre + hlen, need);
    if (h.swap) byteswap(out->data, need / qb_dtype_size(h.dtype), qb_dtype_size(h.dtype));
    return QB_OK;
}

qb_status qb_npy_read(const char *path, qb_tensor *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return qb_error(QB_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
    struct stat sb;
    char *header = NULL;
    qb_status st = QB_OK;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = qb_error(QB_ERR_IO, "%s: not a regular file", path);
        goto done;
    }
    unsigned char pre_buf[12];
    size_t have = fread(pre_buf, 1, sizeof pre_buf, f), pre, hlen, need;
    st = parse_preamble(pre_buf, have, path, &pre, &hlen);
    if (st != QB_OK) goto done;
    if ((uint64_t)sb.st_size < pre + hlen) {
        st = qb_error(QB_ERR_FORMAT, "%s: truncated .npy header (%zu bytes announced, %lld present)",
                      path, hlen, (long long)sb.st_size - (long long)pre);
        goto done;
    }
    header = qb_malloc(hlen ? hlen : 1, 1);
    if (!header || fseek(f, (long)pre, SEEK_SET) != 0 || fread(header, 1, hlen, f) != hlen) {
        st = header ? qb_error(QB_ERR_IO, "%s: read error", path) : QB_ERR_NOMEM;
        goto done;
    }
    npy_header h;
    st = parse_header(header, hlen, path, &h);
    if (st == QB_OK) st = check_size(&h, path, (uint64_t)sb.st_size - pre - hlen, &need);
    if (st == QB_OK) st = alloc_for(&h, path, out);
    if (st != QB_OK) goto done;
    if (fread(out->data, 1, need, f) != need) {
        qb_tensor_free(out);
        st = qb_error(QB_ERR_IO, "%s: read error (the file changed while being read?)", path);
        goto done;
    }
    if (h.swap) byteswap(out->data, need / qb_dtype_size(h.dtype), qb_dtype_size(h.dtype));
done:
    free(header);
    fclose(f);
    return st;
}

qb_status qb_npy_write(const char *path, const qb_tensor *t)
{
    const char *descr = qb_npy_descr(t->dtype);
    if (!descr)
        return qb_error(QB_ERR_UNSUPPORTED, "%s: %s has no .npy dtype; convert to float32 first",
                        path, qb_dtype_name(t->dtype));
    char dict[512], shape[300];
    size_t off = (size_t)snprintf(shape, sizeof shape, "(");
    for (int i = 0; i < t->ndim; i++)
        off += (size_t)snprintf(shape + off, sizeof shape - off, "%s%lld", i ? ", " : "",
                                (long long)t->shape[i]);
    snprintf(shape + off, sizeof shape - off, t->ndim == 1 ? ",)" : ")");
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     descr, shape);
    /* Pad with spaces and end with '\n' so the data starts 64-byte aligned. */
    size_t total = 10 + (size_t)n + 1;
    size_t padded = (total + 63) / 64 * 64;
    size_t hlen = padded - 10;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xFF),
                             (unsigned char)(hlen >> 8)};
    qb_safefile sf;
    qb_status st = qb_safefile_open(&sf, path);
    if (st != QB_OK) return st;
    fwrite(pre, 1, sizeof pre, sf.fp);
    fwrite(dict, 1, (size_t)n, sf.fp);
    for (size_t i = 10 + (size_t)n; i + 1 < padded; i++) fputc(' ', sf.fp);
    fputc('\n', sf.fp);
    size_t bytes = qb_tensor_bytes(t);
    if (bytes && fwrite(t->data, 1, bytes, sf.fp) != bytes) {
        st = qb_error(QB_ERR_IO, "%s: write failed (%s); the previous file, if any, is unchanged",
                      path, strerror(errno));
        qb_safefile_abort(&sf);
        return st;
    }
    return qb_safefile_commit(&sf);
}
