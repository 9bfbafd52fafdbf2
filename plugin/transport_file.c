/*
 * The "file" transport: lines in from a FILE*, lines out to a FILE*.
 * Each input line is one message (topic = in_name or "-", partition -1,
 * offset = line number from 1, no key, no headers, the line without its
 * end-of-line as the value). Each produced record is written as its value
 * and a newline; headers and keys are not written. Writes complete at once;
 * their completions are reported from the next poll/service/close, so the
 * caller sees the same order of events as with Kafka. produce() may come
 * from other threads than poll() (the stage's workers): writes and the
 * completion list are under a mutex. Serves `klabel predict`, tests and
 * demos.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "klabel/engine.h"
#include "klabel/transport.h"
#include "log.h"

struct kl_file_transport {
    struct kl_transport base;
    FILE *in, *out, *dlq_out;
    char *dlq_topic;          /* NULL = every record goes to out */
    char *in_name;
    int64_t lineno;           /* lines read so far */
    int eof, paused;
    pthread_mutex_t mu;       /* guards out/dlq_out writes and pending */
    void **pending;           /* (npending) tokens whose write completed */
    size_t npending, pending_cap;
    void **serving;           /* (serving_cap) pending, swapped out to serve */
    size_t serving_cap;
    void (*on_delivery)(void *ud, const struct kl_delivery *d);
    void *ud;
};

static struct kl_file_transport *ft_of(struct kl_transport *t)
{
    return (struct kl_file_transport *)t;
}

static int ft_open(const struct kl_transport_params *p,
                   struct kl_transport **out, char *err, size_t errsz)
{
    struct kl_file_transport *ft = NULL;
    int rc = KL_OK;

    *out = NULL;
    if (!p || !p->on_delivery) {
        snprintf(err, errsz, "file transport: on_delivery callback required");
        rc = KL_EINVAL;
        goto out;
    }
    ft = calloc(1, sizeof *ft);
    if (!ft) {
        rc = KL_ENOMEM;
        goto out;
    }
    ft->base.ops = &kl_transport_file;
    pthread_mutex_init(&ft->mu, NULL);
    ft->in = p->in;
    ft->out = p->out;
    ft->dlq_out = p->dlq_out;
    ft->on_delivery = p->on_delivery;
    ft->ud = p->ud;
    ft->in_name = strdup(p->in_name ? p->in_name : "-");
    if (p->dlq_topic)
        ft->dlq_topic = strdup(p->dlq_topic);
    if (!ft->in_name || (p->dlq_topic && !ft->dlq_topic)) {
        rc = KL_ENOMEM;
        goto out;
    }
    *out = &ft->base;
    ft = NULL;
out:
    if (ft) {
        pthread_mutex_destroy(&ft->mu);
        free(ft->in_name);
        free(ft->dlq_topic);
        free(ft);
    }
    if (rc == KL_ENOMEM)
        snprintf(err, errsz, "file transport: out of memory");
    return rc;
}

/* Reports every completed write to the caller, in order (outside the
 * lock: the callback may produce). */
static void ft_serve(struct kl_file_transport *ft)
{
    void **list;
    size_t i, n, cap;

    pthread_mutex_lock(&ft->mu);
    n = ft->npending;
    list = ft->pending;
    cap = ft->pending_cap;
    ft->pending = ft->serving;
    ft->pending_cap = ft->serving_cap;
    ft->npending = 0;
    pthread_mutex_unlock(&ft->mu);
    for (i = 0; i < n; i++) {
        struct kl_delivery d = {list[i], 0, NULL, NULL, -1, -1, 0};
        ft->on_delivery(ft->ud, &d);
    }
    ft->serving = list;
    ft->serving_cap = cap;
}

static int ft_poll(struct kl_transport *t, struct kl_msg *msgs, size_t max,
                   int64_t timeout_us, size_t *n, char *err, size_t errsz)
{
    struct kl_file_transport *ft = ft_of(t);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = KL_OK;

    (void)timeout_us; /* a file never makes us wait */
    *n = 0;
    ft_serve(ft);
    if (!ft->in || ft->eof) {
        rc = KL_TRANSPORT_END;
        goto out;
    }
    while (!ft->paused && *n < max) {
        struct kl_msg *m = &msgs[*n];

        errno = 0;
        len = getline(&line, &cap, ft->in);
        if (len < 0) {
            if (ferror(ft->in)) {
                snprintf(err, errsz, "file transport: read %s: %s",
                         ft->in_name, strerror(errno ? errno : EIO));
                rc = KL_EIO;
                goto out;
            }
            ft->eof = 1;
            rc = KL_TRANSPORT_END;
            goto out;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        memset(m, 0, sizeof *m);
        m->topic = ft->in_name;
        m->partition = -1;
        m->offset = ++ft->lineno;
        m->value = line;
        m->value_len = (size_t)len;
        m->ts_ms = -1;
        m->priv = line; /* freed by release() */
        line = NULL;
        cap = 0;
        (*n)++;
    }
out:
    free(line);
    return rc;
}

static void ft_release(struct kl_transport *t, struct kl_msg *msgs, size_t n)
{
    size_t i;

    (void)t;
    for (i = 0; i < n; i++) {
        free(msgs[i].priv);
        msgs[i].priv = NULL;
    }
}

static int ft_produce(struct kl_transport *t, const struct kl_out_msg *m,
                      void *token, char *err, size_t errsz)
{
    struct kl_file_transport *ft = ft_of(t);
    FILE *f = ft->out;
    int rc = KL_OK;

    if (ft->dlq_topic && m->topic && !strcmp(m->topic, ft->dlq_topic))
        f = ft->dlq_out;
    pthread_mutex_lock(&ft->mu);
    if (ft->npending == ft->pending_cap) {
        size_t cap = ft->pending_cap ? ft->pending_cap * 2 : 64;
        void **p = realloc(ft->pending, cap * sizeof *p);

        if (!p) {
            snprintf(err, errsz, "file transport: out of memory");
            rc = KL_ENOMEM;
            goto out;
        }
        ft->pending = p;
        ft->pending_cap = cap;
    }
    if (!f) {
        KL_LOG(KL_LOG_DEBUG, "file", "no stream for topic %s; record dropped",
               m->topic ? m->topic : "(null)");
    } else if ((m->value_len &&
                fwrite(m->value, 1, m->value_len, f) != m->value_len) ||
               fputc('\n', f) == EOF) {
        snprintf(err, errsz, "file transport: write: %s", strerror(errno));
        rc = KL_EIO;
        goto out;
    }
    ft->pending[ft->npending++] = token;
out:
    pthread_mutex_unlock(&ft->mu);
    return rc;
}

static int ft_service(struct kl_transport *t, int timeout_ms, char *err,
                      size_t errsz)
{
    (void)timeout_ms;
    (void)err;
    (void)errsz;
    ft_serve(ft_of(t));
    return KL_OK;
}

static int ft_mark_done(struct kl_transport *t, const char *topic,
                        int32_t partition, int64_t next_offset, char *err,
                        size_t errsz)
{
    (void)t; (void)topic; (void)partition; (void)next_offset;
    (void)err; (void)errsz;
    return KL_OK; /* a file has nothing to commit */
}

static int ft_pause(struct kl_transport *t)
{
    ft_of(t)->paused = 1;
    return KL_OK;
}

static int ft_resume(struct kl_transport *t)
{
    ft_of(t)->paused = 0;
    return KL_OK;
}

static int ft_close(struct kl_transport *t, int timeout_ms, char *err,
                    size_t errsz)
{
    struct kl_file_transport *ft = ft_of(t);
    int rc = KL_OK;

    (void)timeout_ms;
    if (!ft)
        return KL_OK;
    ft_serve(ft);
    if ((ft->out && fflush(ft->out) == EOF) ||
        (ft->dlq_out && fflush(ft->dlq_out) == EOF)) {
        snprintf(err, errsz, "file transport: flush: %s", strerror(errno));
        rc = KL_EIO;
    }
    pthread_mutex_destroy(&ft->mu);
    free(ft->pending);
    free(ft->serving);
    free(ft->in_name);
    free(ft->dlq_topic);
    free(ft);
    return rc;
}

const struct kl_transport_ops kl_transport_file = {
    .version = KL_TRANSPORT_ABI_VERSION,
    .name = "file",
    .open = ft_open,
    .poll = ft_poll,
    .release = ft_release,
    .produce = ft_produce,
    .service = ft_service,
    .mark_done = ft_mark_done,
    .pause = ft_pause,
    .resume = ft_resume,
    .close = ft_close,
};
