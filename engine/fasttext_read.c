/*
 * engine/fasttext_read.c: reading fastText .bin / .ftz model files (layout
 * in fasttext_read.h): the cursor, Args, the dictionary with its prune
 * index, dense matrices, and the checks that tie them together. Quantized
 * matrices are fasttext_quant.c. Nothing is allocated before the file has
 * been shown to hold the bytes it claims.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "klabel/engine.h"
#include "error.h"
#include "fasttext_read.h"
#include "file.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the fastText reader copies little-endian values directly"
#endif

/* Contract in fasttext_read.h. */
int kl_ft_need(struct kl_ft_cursor *c, uint64_t n, const char *what)
{
    size_t left = c->len - c->off;

    if (n <= left)
        return KL_OK;
    return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                        "%s: %s needs %llu bytes at offset %zu, file has %zu "
                        "bytes left (truncated?)", c->name, what,
                        (unsigned long long)n, c->off, left);
}

/* Contract in fasttext_read.h. */
int kl_ft_i32(struct kl_ft_cursor *c, int32_t *v, const char *what)
{
    int rc = kl_ft_need(c, 4, what);

    if (rc == KL_OK) {
        memcpy(v, c->p + c->off, 4);
        c->off += 4;
    }
    return rc;
}

/* Contract in fasttext_read.h. */
int kl_ft_i64(struct kl_ft_cursor *c, int64_t *v, const char *what)
{
    int rc = kl_ft_need(c, 8, what);

    if (rc == KL_OK) {
        memcpy(v, c->p + c->off, 8);
        c->off += 8;
    }
    return rc;
}

/* Contract in fasttext_read.h: one byte that must be 0 or 1. */
int kl_ft_bool(struct kl_ft_cursor *c, int *v, const char *what)
{
    int rc = kl_ft_need(c, 1, what);

    if (rc != KL_OK)
        return rc;
    if (c->p[c->off] > 1)
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: %s at offset %zu is %u, not a boolean (0/1)",
                            c->name, what, c->off, c->p[c->off]);
    *v = c->p[c->off++];
    return KL_OK;
}

/* Contract in fasttext_read.h. */
int kl_fasttext_sniff(const unsigned char *buf, size_t len)
{
    int32_t magic;

    if (buf == NULL || len < 4)
        return 0;
    memcpy(&magic, buf, 4);
    return magic == KL_FT_MAGIC;
}

static int read_header(struct kl_ft_cursor *c, struct kl_fasttext *ft)
{
    int32_t magic;
    int rc;

    if ((rc = kl_ft_i32(c, &magic, "the magic number")) != KL_OK)
        return rc;
    if (magic != KL_FT_MAGIC)
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: magic number %d is not fastText's (%d): not "
                            "a fastText .bin/.ftz file", c->name, (int)magic,
                            KL_FT_MAGIC);
    if ((rc = kl_ft_i32(c, &ft->version, "the version")) != KL_OK)
        return rc;
    if (ft->version != 11 && ft->version != KL_FT_VERSION)
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: fastText file version %d is not supported "
                            "(11 or 12)", c->name, (int)ft->version);
    return KL_OK;
}

static int read_args(struct kl_ft_cursor *c, struct kl_fasttext *ft)
{
    struct kl_ft_args *a = &ft->args;
    int32_t *f[] = {&a->dim, &a->ws, &a->epoch, &a->min_count, &a->neg,
                    &a->word_ngrams, &a->loss, &a->model, &a->bucket,
                    &a->minn, &a->maxn, &a->lr_update_rate};
    int rc;

    if ((rc = kl_ft_need(c, 12 * 4 + 8, "Args")) != KL_OK)
        return rc;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        kl_ft_i32(c, f[i], "Args");
    memcpy(&a->t, c->p + c->off, 8);
    c->off += 8;
    if (a->dim < 1)
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: Args dim is %d, must be at least 1", c->name,
                            (int)a->dim);
    if (a->loss < KL_FT_LOSS_HS || a->loss > KL_FT_LOSS_OVA)
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: Args loss is %d, not one of fastText's (1 hs, "
                            "2 ns, 3 softmax, 4 ova)", c->name, (int)a->loss);
    if (a->model < KL_FT_MODEL_CBOW || a->model > KL_FT_MODEL_SUP)
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: Args model is %d, not one of fastText's (1 "
                            "cbow, 2 skipgram, 3 supervised)", c->name,
                            (int)a->model);
    if (a->bucket < 0)
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: Args bucket is %d, negative", c->name,
                            (int)a->bucket);
    /* fastText's loader: version-11 supervised models had no char n-grams. */
    if (ft->version == 11 && a->model == KL_FT_MODEL_SUP)
        a->maxn = 0;
    return KL_OK;
}

/* n dictionary entries of the given type (0 word, 1 label): their strings
 * into *buf (each NUL-terminated), their counts into counts[0..n). Two
 * passes, so the string buffer is allocated only once its size is known to
 * be in the file. */
static int read_entries(struct kl_ft_cursor *c, int32_t first, int32_t n,
                        int type, char **buf, size_t *buf_len,
                        int64_t *counts)
{
    size_t start = c->off, total = 0, pos = 0;
    int rc;

    for (int32_t i = 0; i < n; i++) {
        const unsigned char *w = c->p + c->off;
        const unsigned char *nul = memchr(w, '\0', c->len - c->off);
        if (nul == NULL)
            return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                                "%s: dictionary entry %d at offset %zu has no "
                                "terminating NUL before the end of the file",
                                c->name, (int)(first + i), c->off);
        if (nul == w)
            return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                                "%s: dictionary entry %d at offset %zu is an "
                                "empty string", c->name, (int)(first + i),
                                c->off);
        total += (size_t)(nul - w) + 1;
        c->off += (size_t)(nul - w) + 1;
        if ((rc = kl_ft_need(c, 9, "a dictionary entry's count and type")) !=
            KL_OK)
            return rc;
        if (c->p[c->off + 8] != type)
            return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                                "%s: dictionary entry %d has type %u, "
                                "expected %d (%s): words come first, then "
                                "labels", c->name, (int)(first + i),
                                c->p[c->off + 8], type,
                                type ? "label" : "word");
        memcpy(&counts[i], c->p + c->off, 8);
        c->off += 9;
    }
    if ((*buf = malloc(total ? total : 1)) == NULL)
        return KL_ENOMEM;
    *buf_len = total;
    for (int32_t i = 0; i < n; i++) {
        size_t len = strlen((const char *)c->p + start) + 1;
        memcpy(*buf + pos, c->p + start, len);
        pos += len;
        start += len + 9;
    }
    return KL_OK;
}

static int read_dict(struct kl_ft_cursor *c, struct kl_fasttext *ft)
{
    int32_t size;
    size_t left;
    int rc;

    if ((rc = kl_ft_i32(c, &size, "the dictionary size")) != KL_OK ||
        (rc = kl_ft_i32(c, &ft->nwords, "the dictionary size")) != KL_OK ||
        (rc = kl_ft_i32(c, &ft->nlabels, "the dictionary size")) != KL_OK ||
        (rc = kl_ft_i64(c, &ft->ntokens, "the dictionary size")) != KL_OK ||
        (rc = kl_ft_i64(c, &ft->pruneidx_size, "the prune index size")) !=
            KL_OK)
        return rc;
    left = c->len - c->off;
    if (size < 0 || ft->nwords < 0 || ft->nlabels < 0 ||
        (int64_t)ft->nwords + ft->nlabels != size)
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: dictionary claims %d entries = %d words + %d "
                            "labels, which does not add up", c->name,
                            (int)size, (int)ft->nwords, (int)ft->nlabels);
    /* An entry takes at least 11 bytes: one character, NUL, count, type. */
    if ((uint64_t)size > left / 11)
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: dictionary claims %d words and labels, file "
                            "has %zu bytes left", c->name, (int)size, left);
    if ((ft->counts = malloc(((size_t)size + 1) * sizeof *ft->counts)) ==
        NULL)
        return KL_ENOMEM;
    if ((rc = read_entries(c, 0, ft->nwords, 0, &ft->words, &ft->words_len,
                           ft->counts)) != KL_OK ||
        (rc = read_entries(c, ft->nwords, ft->nlabels, 1, &ft->labels,
                           &ft->labels_len, ft->counts + ft->nwords)) != KL_OK)
        return rc;
    left = c->len - c->off;
    if (ft->pruneidx_size < -1 ||
        (ft->pruneidx_size > 0 && (uint64_t)ft->pruneidx_size > left / 8))
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: prune index claims %lld pairs, file has %zu "
                            "bytes left", c->name,
                            (long long)ft->pruneidx_size, left);
    if (ft->pruneidx_size <= 0)
        return KL_OK;
    ft->pruneidx = malloc((size_t)ft->pruneidx_size * 2 * sizeof(int32_t));
    if (ft->pruneidx == NULL)
        return KL_ENOMEM;
    memcpy(ft->pruneidx, c->p + c->off, (size_t)ft->pruneidx_size * 8);
    c->off += (size_t)ft->pruneidx_size * 8;
    for (int64_t i = 0; i < ft->pruneidx_size; i++) {
        int32_t key = ft->pruneidx[2 * i], row = ft->pruneidx[2 * i + 1];
        if (key < 0 || key >= ft->args.bucket || row < 0 ||
            row >= ft->pruneidx_size)
            return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                                "%s: prune index pair %lld is (%d, %d): the "
                                "n-gram id must be in [0, bucket %d) and the "
                                "row in [0, %lld)", c->name, (long long)i,
                                (int)key, (int)row, (int)ft->args.bucket,
                                (long long)ft->pruneidx_size);
    }
    return KL_OK;
}

/* A dense matrix: int64 rows, cols, then rows * cols floats. */
static int read_dense(struct kl_ft_cursor *c, const char *what,
                      struct kl_ft_matrix *m)
{
    size_t left, n;
    int rc;

    if ((rc = kl_ft_i64(c, &m->rows, what)) != KL_OK ||
        (rc = kl_ft_i64(c, &m->cols, what)) != KL_OK)
        return rc;
    left = c->len - c->off;
    if (m->rows < 0 || m->cols < 0 ||
        (m->cols > 0 && (uint64_t)m->rows > left / 4 / (uint64_t)m->cols))
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: %s claims %lld x %lld floats, file has %zu "
                            "bytes left", c->name, what, (long long)m->rows,
                            (long long)m->cols, left);
    n = (size_t)m->rows * (size_t)m->cols;
    if ((m->data = malloc(n ? n * sizeof(float) : 1)) == NULL)
        return KL_ENOMEM;
    memcpy(m->data, c->p + c->off, n * sizeof(float));
    c->off += n * sizeof(float);
    return KL_OK;
}

/* The shape a matrix must have, given Args and the dictionary. */
static int check_shape(struct kl_ft_cursor *c, const char *what,
                       const struct kl_ft_matrix *m, int64_t rows,
                       const char *rows_why, int32_t dim)
{
    if (m->rows == rows && m->cols == dim)
        return KL_OK;
    return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                        "%s: %s is %lld x %lld, expected %lld (%s) x %d (dim)",
                        c->name, what, (long long)m->rows, (long long)m->cols,
                        (long long)rows, rows_why, (int)dim);
}

static int read_matrices(struct kl_ft_cursor *c, struct kl_fasttext *ft)
{
    const struct kl_ft_args *a = &ft->args;
    int pruned = ft->pruneidx_size >= 0;
    int64_t in_rows = (int64_t)ft->nwords +
                      (pruned ? ft->pruneidx_size : (int64_t)a->bucket);
    int64_t out_rows = a->model == KL_FT_MODEL_SUP ? ft->nlabels : ft->nwords;
    int rc;

    if ((rc = kl_ft_bool(c, &ft->quant_input, "the input quantization "
                                              "flag")) != KL_OK)
        return rc;
    rc = ft->quant_input
             ? kl_ft_read_quant(c, "the input matrix", a->dim, &ft->input)
             : read_dense(c, "the input matrix", &ft->input);
    if (rc != KL_OK ||
        (rc = check_shape(c, "the input matrix", &ft->input, in_rows,
                          pruned ? "words + pruned n-grams"
                                 : "words + buckets",
                          a->dim)) != KL_OK)
        return rc;
    if ((rc = kl_ft_bool(c, &ft->qout, "the output quantization flag")) !=
        KL_OK)
        return rc;
    if (ft->qout && !ft->quant_input)
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: the output matrix is marked quantized but the "
                            "input is not (fastText quantizes the input "
                            "first)", c->name);
    rc = ft->qout ? kl_ft_read_quant(c, "the output matrix", a->dim,
                                     &ft->output)
                  : read_dense(c, "the output matrix", &ft->output);
    if (rc != KL_OK ||
        (rc = check_shape(c, "the output matrix", &ft->output, out_rows,
                          a->model == KL_FT_MODEL_SUP ? "labels" : "words",
                          a->dim)) != KL_OK)
        return rc;
    if (c->off != c->len)
        return kl_error_set(c->err, c->errsz, KL_EFORMAT,
                            "%s: %zu bytes after the output matrix (not a "
                            "fastText model, or a damaged one)", c->name,
                            c->len - c->off);
    return KL_OK;
}

/* Contract in fasttext_read.h. */
int kl_fasttext_read(const unsigned char *buf, size_t len, const char *name,
                     struct kl_fasttext *ft, char *err, size_t errsz)
{
    struct kl_ft_cursor c = {buf, len, 0, name ? name : "fastText model",
                             err, errsz};
    int rc;

    if (err != NULL && errsz > 0)
        err[0] = '\0';
    if (ft == NULL || (buf == NULL && len > 0))
        return kl_error_set(err, errsz, KL_EINVAL, "no buffer or output");
    memset(ft, 0, sizeof *ft);
    if ((rc = read_header(&c, ft)) != KL_OK ||
        (rc = read_args(&c, ft)) != KL_OK ||
        (rc = read_dict(&c, ft)) != KL_OK ||
        (rc = read_matrices(&c, ft)) != KL_OK)
        goto out;
out:
    if (rc == KL_ENOMEM && err != NULL && errsz > 0 && err[0] == '\0')
        kl_error_set(err, errsz, rc, "%s: out of memory", c.name);
    if (rc != KL_OK)
        kl_fasttext_fini(ft);
    return rc;
}

/* Contract in fasttext_read.h. */
int kl_fasttext_read_file(const char *path, struct kl_fasttext *ft, char *err,
                          size_t errsz)
{
    struct stat st;
    void *map = MAP_FAILED;
    int fd = -1, rc;

    if (ft != NULL)
        memset(ft, 0, sizeof *ft);
    if (path == NULL || ft == NULL)
        return kl_error_set(err, errsz, KL_EINVAL, "no path or output");
    if ((rc = kl_file_open_regular(path, &fd, &st, err, errsz)) != KL_OK)
        goto out;
    if (st.st_size == 0) {
        rc = kl_fasttext_read(NULL, 0, path, ft, err, errsz);
        goto out;
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        rc = kl_error_set(err, errsz, KL_EIO, "%s: mmap: %s", path,
                          strerror(errno));
        goto out;
    }
    rc = kl_fasttext_read(map, (size_t)st.st_size, path, ft, err, errsz);
out:
    if (map != MAP_FAILED)
        munmap(map, (size_t)st.st_size);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Contract in fasttext_read.h. */
void kl_fasttext_fini(struct kl_fasttext *ft)
{
    if (ft == NULL)
        return;
    free(ft->words);
    free(ft->labels);
    free(ft->counts);
    free(ft->pruneidx);
    for (int i = 0; i < 2; i++) {
        struct kl_ft_matrix *m = i ? &ft->output : &ft->input;
        free(m->data);
        free(m->codes);
        free(m->centroids);
        free(m->norm_codes);
        free(m->norm_centroids);
    }
    memset(ft, 0, sizeof *ft);
}
