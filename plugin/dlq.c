/*
 * Dead-letter records (plugin/dlq.h): copy the input's headers except
 * klabel.*, then add the error class, a bounded reason, the source
 * coordinates (topic, partition, offset, timestamp) and the instance name.
 */
#include "dlq.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"

void kl_dlq_init(struct kl_dlq *d)
{
    memset(d, 0, sizeof *d);
}

void kl_dlq_fini(struct kl_dlq *d)
{
    free(d->h);
    kl_dlq_init(d);
}

/* Longest prefix of s[0..n) that is at most max bytes and does not end in
 * the middle of a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static void add(struct kl_dlq *d, const char *name, const void *v, size_t len)
{
    d->h[d->n].name = name;
    d->h[d->n].value = v;
    d->h[d->n].value_len = len;
    d->n++;
}

int kl_dlq_build(struct kl_dlq *d, const struct kl_msg *msg, const char *topic,
                 const char *error_class, const char *reason,
                 const char *instance, struct kl_out_msg *out)
{
    size_t need = msg->nheaders + 7, i;

    if (need > d->cap) {
        struct kl_header *h = realloc(d->h, need * sizeof *h);

        if (!h)
            return KL_ENOMEM;
        d->h = h;
        d->cap = need;
    }
    d->n = 0;
    for (i = 0; i < msg->nheaders; i++)
        if (strncmp(msg->headers[i].name, "klabel.", 7) != 0)
            d->h[d->n++] = msg->headers[i];
    snprintf(d->partition, sizeof d->partition, "%" PRId32, msg->partition);
    snprintf(d->offset, sizeof d->offset, "%" PRId64, msg->offset);
    add(d, KL_HDR_ERROR_CLASS, error_class, strlen(error_class));
    add(d, KL_HDR_ERROR_REASON, reason,
        utf8_cut(reason, strlen(reason), KL_DLQ_REASON_MAX));
    add(d, KL_HDR_SOURCE_TOPIC, msg->topic ? msg->topic : "",
        msg->topic ? strlen(msg->topic) : 0);
    add(d, KL_HDR_SOURCE_PARTITION, d->partition, strlen(d->partition));
    add(d, KL_HDR_SOURCE_OFFSET, d->offset, strlen(d->offset));
    if (msg->ts_ms >= 0) {
        snprintf(d->timestamp, sizeof d->timestamp, "%" PRId64, msg->ts_ms);
        add(d, KL_HDR_SOURCE_TIMESTAMP, d->timestamp, strlen(d->timestamp));
    }
    add(d, KL_HDR_INSTANCE, instance, strlen(instance));
    memset(out, 0, sizeof *out);
    out->topic = topic;
    out->partition = -1;
    out->key = msg->key;
    out->key_len = msg->key_len;
    out->value = msg->value;
    out->value_len = msg->value_len;
    out->headers = d->h;
    out->nheaders = d->n;
    return KL_OK;
}
