/*
 * klabel events: one decoded input record, as the stage sees it after the
 * codec and before the model. Shared by codecs, the stage and tests.
 */
#ifndef KLABEL_EVENT_H
#define KLABEL_EVENT_H

#include <stddef.h>
#include <stdint.h>

/* Bounds applied to every decoded event (untrusted input). */
#define KL_EVENT_ID_MAX 1024      /* bytes of an event id */
#define KL_EVENT_KIND_MAX 64      /* bytes of an event kind */

/* One input event. All strings are owned by the event (NUL-terminated, with
 * their lengths beside them), valid UTF-8, and freed by kl_event_fini(). */
struct kl_event {
    char *id;          /* event id as text (numbers are printed), may be NULL */
    size_t id_len;
    int id_is_number;  /* 1 when the input id was a JSON number */
    char *text;        /* the text to label, never NULL after a good decode */
    size_t text_len;
    char *kind;        /* "news", "transaction", ... or NULL */
    size_t kind_len;
    int64_t ts_ms;     /* event time in ms since the epoch, -1 if absent */
    char *block;       /* NULL: id, text and kind are each malloc'ed and
                          owned; else they point into this one allocation,
                          which ev owns instead */
};

/* Zeroes ev (ts_ms = -1). */
void kl_event_init(struct kl_event *ev);
/* Frees what ev owns and re-inits it. */
void kl_event_fini(struct kl_event *ev);

#endif /* KLABEL_EVENT_H */
