/*
 * Private to the Avro input codec (codec_avro.c decodes, codec_avro_cache.c
 * keeps the writer schemas by id): the decoder and its cache entries.
 */
#ifndef KL_PLUGIN_CODEC_AVRO_PRIV_H
#define KL_PLUGIN_CODEC_AVRO_PRIV_H

#include "codec_avro.h"

#define KL_AVRO_MAX_BYTES_DEFAULT 1048576
#define KL_AVRO_PATH_MAX 8          /* components of a dotted field path */
#define KL_AVRO_UNKNOWN_RETRY_MS 60000

enum { F_ID, F_TEXT, F_KIND, F_TS, F_N };

/* A field path resolved in one writer schema: record field indices. */
struct path {
    int found;                  /* 0: the writer has no such field */
    int n;
    int idx[KL_AVRO_PATH_MAX];
};

/* What we know of one schema id. */
struct entry {
    int32_t id;
    int state;                  /* ST_* */
    int64_t retry_us;           /* ST_UNKNOWN: ask again after this */
    char why[200];              /* ST_UNKNOWN / ST_BAD: the reason */
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t value;         /* reused for every datum of this schema */
    int has_value;
    struct path path[F_N];
};

enum { ST_OK, ST_UNKNOWN, ST_BAD };

struct kl_avro_dec {
    char *field[F_N];           /* dotted paths (owned) */
    char *comp[F_N][KL_AVRO_PATH_MAX]; /* their components, into field copies */
    int ncomp[F_N];
    char *split[F_N];           /* the copies comp[] points into */
    size_t max_bytes;
    struct kl_sr *sr;
    int64_t unknown_retry_us;
    struct entry **e;           /* (KL_AVRO_CACHE_MAX) n used, newest last */
    size_t n;
    avro_reader_t reader;
};

/* The entry of schema id id: cached, else fetched from the registry (a
 * 404 is cached as ST_UNKNOWN for unknown_retry_us). Returns 0 with *out
 * set (borrowed until the next call), or KL_EIO / KL_ENOMEM with a reason
 * in err (nothing cached). (codec_avro_cache.c) */
int kl_avro_dec_lookup(struct kl_avro_dec *d, int32_t id, struct entry **out,
                       char *err, size_t errsz);

#endif
