/*
 * engine/safetensors.h: reading and writing the safetensors container
 * (https://github.com/huggingface/safetensors: 8-byte little-endian header
 * length N, N bytes of JSON header, then the raw tensor bytes). Knows
 * nothing of klabel's metadata; engine/model.c does. Not installed.
 */
#ifndef KL_ENGINE_SAFETENSORS_H
#define KL_ENGINE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#define KL_ST_HEADER_MAX ((uint64_t)100 << 20) /* largest JSON header */
#define KL_ST_NDIM_MAX 4
#define KL_ST_ALIGN 64 /* the writer starts the data at a multiple of this */

enum kl_st_dtype { KL_ST_F32, KL_ST_F16, KL_ST_BF16, KL_ST_F64, KL_ST_U8,
                   KL_ST_I8, KL_ST_I32, KL_ST_I64, KL_ST_BOOL };

/* One tensor of an opened file; every field has been checked against the
 * file size. */
struct kl_st_tensor {
    const char *name;  /* borrowed from the parsed header */
    int dtype;         /* enum kl_st_dtype */
    int ndim;
    uint64_t shape[KL_ST_NDIM_MAX]; /* (ndim) */
    uint64_t begin, end;            /* data_offsets, relative to the data */
    uint64_t file_off;              /* absolute offset of the first byte */
    const unsigned char *data;      /* (end - begin) bytes, in the mapping */
};

/* An opened, validated file. Caller-owned struct: kl_safetensors_close(). */
struct kl_st_file {
    void *map;            /* (size) the whole file, read-only mapping */
    size_t size;
    uint64_t header_len;  /* N */
    uint64_t data_len;    /* size - 8 - N */
    cJSON *header;        /* parsed header; owns the tensor names */
    const cJSON *metadata; /* "__metadata__" object or NULL */
    struct kl_st_tensor *t; /* (nt) tensors in header order */
    size_t nt;
};

/* Maps path read-only and validates the container: size >= 8, N within the
 * file and <= KL_ST_HEADER_MAX, header is UTF-8 JSON (an object), every
 * tensor has a known dtype, a shape of non-negative integers and
 * data_offsets [begin, end] with end - begin == product(shape) * dtype size,
 * inside the data section, not overlapping another tensor (checked 64-bit
 * math throughout). Errors are KL_EIO (open/stat/mmap), KL_EFORMAT or
 * KL_ENOMEM, with a reason naming path in err. On success f is
 * caller-owned: kl_safetensors_close(). */
int kl_safetensors_open(struct kl_st_file *f, const char *path, char *err,
                        size_t errsz);

/* Unmaps and frees what f holds (a zeroed f is fine). */
void kl_safetensors_close(struct kl_st_file *f);

/* Borrowed tensor called name, or NULL. */
const struct kl_st_tensor *kl_safetensors_find(const struct kl_st_file *f,
                                               const char *name);

/* Bytes per element of a dtype. */
size_t kl_safetensors_dtype_size(int dtype);

/* Name of a dtype as the header spells it ("F32", "I8", ...; "?" for an
 * unknown one). Static string. */
const char *kl_safetensors_dtype_name(int dtype);

/* One tensor to write: data (nbytes = product(shape) * dtype size) is
 * borrowed for the duration of the call. */
struct kl_st_out {
    const char *name;
    int dtype;
    int ndim;
    uint64_t shape[KL_ST_NDIM_MAX];
    const void *data;
};

/* Writes the tensors (in order, packed without holes) to path with
 * "__metadata__" holding the string pairs meta_keys[i] -> meta_vals[i].
 * The header is padded with spaces so the data starts at a multiple of
 * KL_ST_ALIGN. Writes path + ".tmp" first, fsyncs, then renames, so readers
 * see the old file or the new one. Returns 0, KL_EIO, KL_ENOMEM or
 * KL_EINVAL with a reason in err. */
int kl_safetensors_write(const char *path, const char *const *meta_keys,
                         const char *const *meta_vals, size_t nmeta,
                         const struct kl_st_out *t, size_t nt, char *err,
                         size_t errsz);

#endif /* KL_ENGINE_SAFETENSORS_H */
