/*
 * The backpressure state machine of plugin/flow.h.
 */
#include "flow.h"

#include <string.h>

void kl_flow_init(struct kl_flow *f, uint64_t max_events, uint64_t max_bytes,
                  double resume_ratio, int64_t hold_us)
{
    memset(f, 0, sizeof *f);
    f->max_events = max_events ? max_events : 1;
    f->max_bytes = max_bytes ? max_bytes : 1;
    if (resume_ratio < 0)
        resume_ratio = 0;
    if (resume_ratio >= 1)
        resume_ratio = 0.99;
    f->low_events = (uint64_t)((double)f->max_events * resume_ratio);
    f->low_bytes = (uint64_t)((double)f->max_bytes * resume_ratio);
    f->hold_us = hold_us > 0 ? hold_us : 0;
    f->state = KL_FLOW_RUNNING;
}

int kl_flow_update(struct kl_flow *f, uint64_t events, uint64_t bytes,
                   int starved, int64_t now_us)
{
    int full = events >= f->max_events || bytes >= f->max_bytes || starved;
    int low = events <= f->low_events && bytes <= f->low_bytes && !starved;

    switch (f->state) {
    case KL_FLOW_RUNNING:
        if (!full)
            return KL_FLOW_KEEP;
        if (f->hold_us > 0) {
            f->state = KL_FLOW_HELD;
            f->held_since = now_us;
            f->holds++;
            return KL_FLOW_HOLD;
        }
        f->state = KL_FLOW_PAUSED;
        f->pauses++;
        return KL_FLOW_PAUSE;
    case KL_FLOW_HELD:
        if (low) {
            f->state = KL_FLOW_RUNNING;
            f->resumes++;
            return KL_FLOW_RESUME;
        }
        if (now_us - f->held_since >= f->hold_us) {
            f->state = KL_FLOW_PAUSED;
            f->pauses++;
            return KL_FLOW_PAUSE;
        }
        return KL_FLOW_KEEP;
    default: /* KL_FLOW_PAUSED */
        if (!low)
            return KL_FLOW_KEEP;
        f->state = KL_FLOW_RUNNING;
        f->resumes++;
        return KL_FLOW_RESUME;
    }
}
