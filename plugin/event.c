/*
 * struct kl_event life cycle (include/klabel/event.h): the decoded input
 * record that codecs fill and the stage hands to the model.
 */
#include "klabel/event.h"

#include <stdlib.h>
#include <string.h>

/* Zeroes ev; ts_ms = -1 (absent). ev is caller-owned. */
void kl_event_init(struct kl_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->ts_ms = -1;
}

/* Frees the strings ev owns and re-inits it (safe on an init'ed event). */
void kl_event_fini(struct kl_event *ev)
{
    if (ev->block) {
        free(ev->block);
    } else {
        free(ev->id);
        free(ev->text);
        free(ev->kind);
    }
    kl_event_init(ev);
}
