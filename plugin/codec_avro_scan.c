/*
 * Bounded scan of one Avro binary datum (plugin/codec_avro.h): walks the
 * writer schema over the bytes the way Avro-C's avro_value_read() will,
 * without allocating, and refuses anything Avro-C would trust blindly: a
 * string, bytes or fixed longer than the bytes that remain (Avro-C mallocs
 * the length, then leaks it when the read comes up short), a block count
 * of INT64_MIN (negated by Avro-C), items that cannot fit, a union or enum
 * index out of range, a varint longer than its type, nesting deeper than
 * KL_AVRO_MAX_DEPTH (Avro-C recurses on the C stack) and more than
 * KL_AVRO_MAX_ITEMS array/map items (memory grows per item). The datum
 * must use every byte.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codec_avro.h"

struct scan {
    const uint8_t *start, *p, *end;
    size_t items;     /* array/map items so far */
    char *err;
    size_t errsz;
};

static int fail(struct scan *s, const char *what)
{
    snprintf(s->err, s->errsz, "not a datum of the writer schema: %s at byte %zu",
             what, (size_t)(s->p - s->start));
    return -1;
}

/* Reads a zigzag varint of at most maxb bytes (5: int, 10: long). */
static int scan_varint(struct scan *s, int maxb, int64_t *out, const char *what)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < maxb; i++) {
        uint8_t b;

        if (s->p >= s->end)
            return fail(s, what);
        b = *s->p++;
        v |= (uint64_t)(b & 0x7F) << (7 * i);
        if (!(b & 0x80)) {
            if (maxb == 5 && v > 0xFFFFFFFFu)
                return fail(s, what);
            if (maxb == 10 && i == 9 && b > 1)
                return fail(s, what);
            *out = (int64_t)((v >> 1) ^ (~(v & 1) + 1));
            return 0;
        }
    }
    return fail(s, what);
}

static avro_schema_t deref(avro_schema_t sc)
{
    int guard = 0;

    while (sc && avro_typeof(sc) == AVRO_LINK && guard++ < 64)
        sc = avro_schema_link_target(sc);
    return sc;
}

/* 1 when a value of sc always takes at least one byte, 0 when it may take
 * none (null, an empty record, fixed of size 0, ...). */
static int takes_bytes(avro_schema_t sc, int depth)
{
    size_t i, n;

    sc = deref(sc);
    if (!sc || depth > KL_AVRO_MAX_DEPTH)
        return 1;
    switch (avro_typeof(sc)) {
    case AVRO_NULL:
        return 0;
    case AVRO_FIXED:
        return avro_schema_fixed_size(sc) > 0;
    case AVRO_RECORD:
        n = avro_schema_record_size(sc);
        for (i = 0; i < n; i++)
            if (takes_bytes(avro_schema_record_field_get_by_index(sc, (int)i),
                            depth + 1))
                return 1;
        return 0;
    default:
        return 1;
    }
}

static int scan_value(struct scan *s, avro_schema_t sc, int depth);

/* A length-prefixed string or bytes value. */
static int scan_lenbytes(struct scan *s, const char *what)
{
    int64_t n;

    if (scan_varint(s, 10, &n, what))
        return -1;
    if (n < 0 || (uint64_t)n > (uint64_t)(s->end - s->p))
        return fail(s, n < 0 ? "a negative length" : "a length past the end");
    s->p += n;
    return 0;
}

/* Array items (values != NULL: a map, each item a string key + a value). */
static int scan_blocks(struct scan *s, avro_schema_t items, int is_map,
                       int depth)
{
    int nonzero = is_map || takes_bytes(items, depth);
    int64_t count, size;

    for (;;) {
        if (scan_varint(s, 10, &count, "a block count"))
            return -1;
        if (count == 0)
            return 0;
        if (count == INT64_MIN)
            return fail(s, "a block count out of range");
        if (count < 0) {
            count = -count;
            if (scan_varint(s, 10, &size, "a block size"))
                return -1;
            if (size < 0 || (uint64_t)size > (uint64_t)(s->end - s->p))
                return fail(s, "a block size past the end");
        }
        if (nonzero && (uint64_t)count > (uint64_t)(s->end - s->p))
            return fail(s, "more items than bytes left");
        if ((uint64_t)count > KL_AVRO_MAX_ITEMS - s->items)
            return fail(s, "more than KL_AVRO_MAX_ITEMS items");
        s->items += (size_t)count;
        while (count-- > 0) {
            if (is_map && scan_lenbytes(s, "a map key"))
                return -1;
            if (scan_value(s, items, depth + 1))
                return -1;
        }
    }
}

static int scan_value(struct scan *s, avro_schema_t sc, int depth)
{
    int64_t v;
    size_t i, n;

    sc = deref(sc);
    if (!sc)
        return fail(s, "an unresolved schema link");
    if (depth > KL_AVRO_MAX_DEPTH)
        return fail(s, "values nested too deep");
    switch (avro_typeof(sc)) {
    case AVRO_NULL:
        return 0;
    case AVRO_BOOLEAN:
        if (s->p >= s->end || *s->p > 1)
            return fail(s, "a bad boolean");
        s->p++;
        return 0;
    case AVRO_INT32:
        return scan_varint(s, 5, &v, "a bad int");
    case AVRO_INT64:
        return scan_varint(s, 10, &v, "a bad long");
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
        n = avro_typeof(sc) == AVRO_FLOAT ? 4 : 8;
        if ((size_t)(s->end - s->p) < n)
            return fail(s, "a truncated float/double");
        s->p += n;
        return 0;
    case AVRO_STRING:
        return scan_lenbytes(s, "a bad string length");
    case AVRO_BYTES:
        return scan_lenbytes(s, "a bad bytes length");
    case AVRO_FIXED:
        v = avro_schema_fixed_size(sc);
        if (v < 0 || (uint64_t)v > (uint64_t)(s->end - s->p))
            return fail(s, "a truncated fixed");
        s->p += v;
        return 0;
    case AVRO_ENUM:
        if (scan_varint(s, 10, &v, "a bad enum index"))
            return -1;
        if (v < 0 || v >= avro_schema_enum_number_of_symbols(sc))
            return fail(s, "an enum index out of range");
        return 0;
    case AVRO_UNION:
        if (scan_varint(s, 10, &v, "a bad union index"))
            return -1;
        if (v < 0 || (uint64_t)v >= avro_schema_union_size(sc))
            return fail(s, "a union index out of range");
        return scan_value(s, avro_schema_union_branch(sc, (int)v), depth + 1);
    case AVRO_RECORD:
        n = avro_schema_record_size(sc);
        for (i = 0; i < n; i++)
            if (scan_value(s, avro_schema_record_field_get_by_index(sc, (int)i),
                           depth + 1))
                return -1;
        return 0;
    case AVRO_ARRAY:
        return scan_blocks(s, avro_schema_array_items(sc), 0, depth);
    case AVRO_MAP:
        return scan_blocks(s, avro_schema_map_values(sc), 1, depth);
    default:
        return fail(s, "a schema type this reader does not know");
    }
}

/* Contract in codec_avro.h. */
int kl_avro_scan(avro_schema_t schema, const void *buf, size_t len,
                 char *err, size_t errsz)
{
    struct scan s;

    s.start = s.p = buf;
    s.end = s.p + len;
    s.items = 0;
    s.err = err;
    s.errsz = errsz;
    if (scan_value(&s, schema, 0))
        return -1;
    if (s.p != s.end) {
        snprintf(err, errsz, "not a datum of the writer schema: %zu trailing "
                 "byte(s) after it", (size_t)(s.end - s.p));
        return -1;
    }
    return 0;
}
