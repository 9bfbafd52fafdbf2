/*
 * The pause/resume state machine of plugin/flow.h.
 */
#include "flow.h"

#include <string.h>

void kl_flow_init(struct kl_flow *f, uint64_t max_events, uint64_t max_bytes,
                  double resume_ratio)
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
}

int kl_flow_update(struct kl_flow *f, uint64_t events, uint64_t bytes,
                   int starved)
{
    if (!f->paused) {
        if (events >= f->max_events || bytes >= f->max_bytes || starved) {
            f->paused = 1;
            f->pauses++;
            return KL_FLOW_PAUSE;
        }
        return KL_FLOW_HOLD;
    }
    if (events <= f->low_events && bytes <= f->low_bytes && !starved) {
        f->paused = 0;
        f->resumes++;
        return KL_FLOW_RESUME;
    }
    return KL_FLOW_HOLD;
}
