/*
 * engine/safetensors.c: the safetensors container, read (mmap, validate
 * every size and offset with checked 64-bit math, never copy) and written
 * (header padded so the data is KL_ST_ALIGN-aligned; temp file + rename).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "klabel/engine.h"
#include "error.h"
#include "file.h"
#include "safetensors.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "klabel maps little-endian tensors directly; big-endian hosts are not supported"
#endif

static const struct {
    const char *name;
    size_t size;
} st_dtypes[] = {
    [KL_ST_F32] = {"F32", 4}, [KL_ST_F16] = {"F16", 2},
    [KL_ST_BF16] = {"BF16", 2}, [KL_ST_F64] = {"F64", 8},
    [KL_ST_U8] = {"U8", 1},   [KL_ST_I8] = {"I8", 1},
    [KL_ST_I32] = {"I32", 4}, [KL_ST_I64] = {"I64", 8},
    [KL_ST_BOOL] = {"BOOL", 1},
};
#define ST_NDTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

/* Contract in safetensors.h. 0 for an unknown dtype. */
size_t kl_safetensors_dtype_size(int dtype)
{
    if (dtype < 0 || (size_t)dtype >= ST_NDTYPES)
        return 0;
    return st_dtypes[dtype].size;
}

/* Contract in safetensors.h. */
const char *kl_safetensors_dtype_name(int dtype)
{
    if (dtype < 0 || (size_t)dtype >= ST_NDTYPES)
        return "?";
    return st_dtypes[dtype].name;
}

/* A JSON number that is an integer in [0, 2^53]. */
static int json_u64(const cJSON *v, uint64_t *out)
{
    double d;

    if (!cJSON_IsNumber(v))
        return -1;
    d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

/* Parses and checks one tensor entry of the header. */
static int st_parse_tensor(const struct kl_st_file *f, const char *path,
                           const cJSON *e, struct kl_st_tensor *t, char *err,
                           size_t errsz)
{
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    const cJSON *v;
    uint64_t nbytes;
    size_t i;

    t->name = e->string;
    if (!cJSON_IsObject(e) || !cJSON_IsString(dt) || !cJSON_IsArray(sh) ||
        !cJSON_IsArray(of))
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor '%s' needs \"dtype\" (string), "
                            "\"shape\" and \"data_offsets\" (arrays)",
                            path, t->name);
    t->dtype = -1;
    for (i = 0; i < ST_NDTYPES; i++)
        if (strcmp(dt->valuestring, st_dtypes[i].name) == 0)
            t->dtype = (int)i;
    if (t->dtype < 0)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor '%s' has unsupported dtype \"%.32s\"",
                            path, t->name, dt->valuestring);
    nbytes = st_dtypes[t->dtype].size;
    t->ndim = cJSON_GetArraySize(sh);
    if (t->ndim > KL_ST_NDIM_MAX)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor '%s' has %d dimensions (at most %d)",
                            path, t->name, t->ndim, KL_ST_NDIM_MAX);
    i = 0;
    cJSON_ArrayForEach(v, sh) {
        if (json_u64(v, &t->shape[i]) != 0)
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "%s: tensor '%s' shape[%zu] is not a "
                                "non-negative integer", path, t->name, i);
        if (__builtin_mul_overflow(nbytes, t->shape[i], &nbytes))
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "%s: tensor '%s' shape overflows 64 bits",
                                path, t->name);
        i++;
    }
    if (cJSON_GetArraySize(of) != 2 || json_u64(of->child, &t->begin) != 0 ||
        json_u64(of->child->next, &t->end) != 0)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor '%s' data_offsets must be two "
                            "non-negative integers", path, t->name);
    if (t->begin > t->end || t->end > f->data_len)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor '%s' data_offsets [%llu, %llu] exceed "
                            "the data section (%llu bytes)", path, t->name,
                            (unsigned long long)t->begin,
                            (unsigned long long)t->end,
                            (unsigned long long)f->data_len);
    if (t->end - t->begin != nbytes)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: tensor '%s' data_offsets [%llu, %llu] hold "
                            "%llu bytes, its dtype and shape need %llu",
                            path, t->name, (unsigned long long)t->begin,
                            (unsigned long long)t->end,
                            (unsigned long long)(t->end - t->begin),
                            (unsigned long long)nbytes);
    t->file_off = 8 + f->header_len + t->begin;
    t->data = (const unsigned char *)f->map + t->file_off;
    return KL_OK;
}

static int cmp_by_begin(const void *a, const void *b)
{
    const struct kl_st_tensor *x = *(const struct kl_st_tensor *const *)a;
    const struct kl_st_tensor *y = *(const struct kl_st_tensor *const *)b;

    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* No two non-empty tensors share a byte; no name appears twice. */
static int st_check_layout(const struct kl_st_file *f, const char *path,
                           char *err, size_t errsz)
{
    const struct kl_st_tensor **s = NULL, *prev = NULL;
    int rc = KL_OK;

    if (f->nt == 0)
        return KL_OK;
    s = malloc(f->nt * sizeof *s);
    if (s == NULL)
        return KL_ENOMEM;
    for (size_t i = 0; i < f->nt; i++)
        s[i] = &f->t[i];
    qsort(s, f->nt, sizeof *s, cmp_by_begin);
    for (size_t i = 0; i < f->nt; i++) {
        if (s[i]->begin == s[i]->end)
            continue;
        if (prev != NULL && prev->end > s[i]->begin) {
            rc = kl_error_set(err, errsz, KL_EFORMAT,
                              "%s: tensors '%s' [%llu, %llu] and '%s' "
                              "[%llu, %llu] overlap", path, prev->name,
                              (unsigned long long)prev->begin,
                              (unsigned long long)prev->end, s[i]->name,
                              (unsigned long long)s[i]->begin,
                              (unsigned long long)s[i]->end);
            goto out;
        }
        prev = s[i];
    }
    for (size_t i = 0; i < f->nt && f->nt <= 4096; i++)
        for (size_t j = i + 1; j < f->nt; j++)
            if (strcmp(f->t[i].name, f->t[j].name) == 0) {
                rc = kl_error_set(err, errsz, KL_EFORMAT,
                                  "%s: tensor '%s' appears twice", path,
                                  f->t[i].name);
                goto out;
            }
out:
    free(s);
    return rc;
}

/* Parses the JSON header of a mapped file into f->header, f->t. */
static int st_parse_header(struct kl_st_file *f, const char *path, char *err,
                           size_t errsz)
{
    const char *hdr = (const char *)f->map + 8, *end = NULL;
    const cJSON *e;
    size_t bad = 0, i = 0;

    if (kl_utf8_validate(hdr, f->header_len, &bad) != KL_OK)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: header is not valid UTF-8 (byte %zu)", path,
                            bad);
    f->header = cJSON_ParseWithLengthOpts(hdr, f->header_len, &end, 0);
    if (f->header == NULL)
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: header is not valid JSON (error near byte "
                            "%zu of %llu)", path,
                            end ? (size_t)(end - hdr) : (size_t)0,
                            (unsigned long long)f->header_len);
    for (const char *p = end; p < hdr + f->header_len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "%s: header has bytes after its JSON object "
                                "(byte %zu)", path, (size_t)(p - hdr));
    if (!cJSON_IsObject(f->header))
        return kl_error_set(err, errsz, KL_EFORMAT,
                            "%s: header is not a JSON object", path);
    cJSON_ArrayForEach(e, f->header) f->nt++;
    f->metadata = cJSON_GetObjectItemCaseSensitive(f->header, "__metadata__");
    if (f->metadata != NULL) {
        f->nt--;
        if (!cJSON_IsObject(f->metadata))
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "%s: \"__metadata__\" is not an object", path);
        cJSON_ArrayForEach(e, f->metadata) if (!cJSON_IsString(e))
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "%s: __metadata__ value '%s' is not a string",
                                path, e->string);
    }
    f->t = calloc(f->nt ? f->nt : 1, sizeof *f->t);
    if (f->t == NULL)
        return KL_ENOMEM;
    cJSON_ArrayForEach(e, f->header) {
        int rc;
        if (e == f->metadata)
            continue;
        if (strcmp(e->string, "__metadata__") == 0)
            return kl_error_set(err, errsz, KL_EFORMAT,
                                "%s: \"__metadata__\" appears twice", path);
        rc = st_parse_tensor(f, path, e, &f->t[i++], err, errsz);
        if (rc != KL_OK)
            return rc;
    }
    return st_check_layout(f, path, err, errsz);
}

/* Contract in safetensors.h. */
int kl_safetensors_open(struct kl_st_file *f, const char *path, char *err,
                        size_t errsz)
{
    struct stat st;
    int fd = -1, rc = KL_OK;

    memset(f, 0, sizeof *f);
    if ((rc = kl_file_open_regular(path, &fd, &st, err, errsz)) != KL_OK)
        goto out;
    if (st.st_size < 8) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "%s: file is %lld bytes, shorter than the 8-byte "
                          "safetensors header length", path,
                          (long long)st.st_size);
        goto out;
    }
    f->size = (size_t)st.st_size;
    f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        rc = kl_error_set(err, errsz, KL_EIO, "%s: mmap: %s", path,
                          strerror(errno));
        goto out;
    }
    memcpy(&f->header_len, f->map, 8); /* little-endian host */
    if (f->header_len > f->size - 8) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "%s: header length %llu exceeds the %llu bytes "
                          "after the length field (truncated file?)", path,
                          (unsigned long long)f->header_len,
                          (unsigned long long)(f->size - 8));
        goto out;
    }
    if (f->header_len > KL_ST_HEADER_MAX) {
        rc = kl_error_set(err, errsz, KL_EFORMAT,
                          "%s: header length %llu exceeds the limit of %llu "
                          "bytes", path, (unsigned long long)f->header_len,
                          (unsigned long long)KL_ST_HEADER_MAX);
        goto out;
    }
    f->data_len = f->size - 8 - f->header_len;
    rc = st_parse_header(f, path, err, errsz);
out:
    if (fd >= 0)
        close(fd);
    if (rc != KL_OK)
        kl_safetensors_close(f);
    return rc;
}

/* Contract in safetensors.h. */
void kl_safetensors_close(struct kl_st_file *f)
{
    if (f->map != NULL)
        munmap(f->map, f->size);
    cJSON_Delete(f->header);
    free(f->t);
    memset(f, 0, sizeof *f);
}

/* Contract in safetensors.h. */
const struct kl_st_tensor *kl_safetensors_find(const struct kl_st_file *f,
                                               const char *name)
{
    for (size_t i = 0; i < f->nt; i++)
        if (strcmp(f->t[i].name, name) == 0)
            return &f->t[i];
    return NULL;
}

/* The header JSON for kl_safetensors_write(), or NULL (out of memory or
 * a size that overflows). Caller frees with cJSON_free(). */
static char *st_header_json(const char *const *mk, const char *const *mv,
                            size_t nmeta, const struct kl_st_out *t,
                            size_t nt, int *rc)
{
    cJSON *root = cJSON_CreateObject(), *meta, *o, *a;
    uint64_t off = 0;
    char *text = NULL;

    *rc = KL_ENOMEM;
    if (root == NULL)
        return NULL;
    if (nmeta > 0) {
        meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (size_t i = 0; meta != NULL && i < nmeta; i++)
            if (cJSON_AddStringToObject(meta, mk[i], mv[i]) == NULL)
                goto out;
        if (meta == NULL)
            goto out;
    }
    for (size_t i = 0; i < nt; i++) {
        uint64_t nbytes = kl_safetensors_dtype_size(t[i].dtype);
        if (nbytes == 0 || t[i].ndim < 0 || t[i].ndim > KL_ST_NDIM_MAX) {
            *rc = KL_EINVAL;
            goto out;
        }
        o = cJSON_AddObjectToObject(root, t[i].name);
        if (o == NULL || !cJSON_AddStringToObject(o, "dtype",
                                                  st_dtypes[t[i].dtype].name))
            goto out;
        if ((a = cJSON_AddArrayToObject(o, "shape")) == NULL)
            goto out;
        for (int d = 0; d < t[i].ndim; d++) {
            if (__builtin_mul_overflow(nbytes, t[i].shape[d], &nbytes)) {
                *rc = KL_EINVAL;
                goto out;
            }
            if (!cJSON_AddItemToArray(a, cJSON_CreateNumber((double)t[i].shape[d])))
                goto out;
        }
        if ((a = cJSON_AddArrayToObject(o, "data_offsets")) == NULL ||
            !cJSON_AddItemToArray(a, cJSON_CreateNumber((double)off)) ||
            !cJSON_AddItemToArray(a, cJSON_CreateNumber((double)(off + nbytes))))
            goto out;
        off += nbytes;
    }
    text = cJSON_PrintUnformatted(root);
    if (text != NULL)
        *rc = KL_OK;
out:
    cJSON_Delete(root);
    return text;
}

/* Writes n spaces, then the tensors' bytes. 0 or -1 (errno set). */
static int st_write_body(FILE *fp, uint64_t spaces, const struct kl_st_out *t,
                         size_t nt)
{
    for (uint64_t i = 0; i < spaces; i++)
        if (fputc(' ', fp) == EOF)
            return -1;
    for (size_t i = 0; i < nt; i++) {
        uint64_t nbytes = kl_safetensors_dtype_size(t[i].dtype);
        for (int d = 0; d < t[i].ndim; d++)
            nbytes *= t[i].shape[d]; /* checked in st_header_json */
        if (nbytes > 0 && fwrite(t[i].data, 1, nbytes, fp) != nbytes)
            return -1;
    }
    return 0;
}

/* Contract in safetensors.h. */
int kl_safetensors_write(const char *path, const char *const *meta_keys,
                         const char *const *meta_vals, size_t nmeta,
                         const struct kl_st_out *t, size_t nt, char *err,
                         size_t errsz)
{
    char *json = NULL, *tmp = NULL;
    FILE *fp = NULL;
    uint64_t hlen;
    size_t jlen;
    int rc, closed;

    json = st_header_json(meta_keys, meta_vals, nmeta, t, nt, &rc);
    if (json == NULL) {
        rc = kl_error_set(err, errsz, rc, "%s: cannot build the header: %s",
                          path, kl_strerror(rc));
        goto out;
    }
    jlen = strlen(json);
    hlen = (8 + jlen + KL_ST_ALIGN - 1) / KL_ST_ALIGN * KL_ST_ALIGN - 8;
    if ((tmp = malloc(strlen(path) + 32)) == NULL) {
        rc = KL_ENOMEM;
        goto out;
    }
    sprintf(tmp, "%s.tmp.%ld", path, (long)getpid());
    if ((fp = fopen(tmp, "wb")) == NULL) {
        rc = kl_error_set(err, errsz, KL_EIO, "%s: cannot create: %s", tmp,
                          strerror(errno));
        goto out;
    }
    if (fwrite(&hlen, 8, 1, fp) != 1 || fwrite(json, 1, jlen, fp) != jlen ||
        st_write_body(fp, hlen - jlen, t, nt) != 0 || fflush(fp) != 0 ||
        fsync(fileno(fp)) != 0) {
        rc = kl_error_set(err, errsz, KL_EIO, "%s: write failed: %s", tmp,
                          strerror(errno));
        goto out;
    }
    closed = fclose(fp);
    fp = NULL;
    if (closed != 0 || rename(tmp, path) != 0) {
        rc = kl_error_set(err, errsz, KL_EIO, "%s: write failed: %s", path,
                          strerror(errno));
        goto out;
    }
    rc = KL_OK;
out:
    if (fp != NULL)
        fclose(fp);
    if (rc != KL_OK && tmp != NULL)
        unlink(tmp);
    cJSON_free(json);
    free(tmp);
    return rc;
}
