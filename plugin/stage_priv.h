/*
 * The stage's private state, shared by stage.c (life cycle and run loop)
 * and stage_out.c (producing, delivery reports, rebalance hooks).
 */
#ifndef KL_PLUGIN_STAGE_PRIV_H
#define KL_PLUGIN_STAGE_PRIV_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "buf.h"
#include "codec.h"
#include "dlq.h"
#include "offsets.h"
#include "stage.h"

#define COMP "stage"

/* What a produced record remembers until its delivery report. */
struct kl_inflight {
    const char *topic;   /* interned input topic (s->topics) */
    int32_t partition;
    int64_t offset;
    int64_t t_poll_us;
    int is_dlq;
};

struct kl_stage {
    /* settings */
    char *output_topic, *dlq_topic, *instance;
    char *field_id, *field_text, *field_kind, *field_ts;
    struct kl_json_opts jo;
    size_t batch_max;
    int64_t batch_delay_us;
    int shutdown_ms;
    int top_k;
    float threshold;
    /* parts */
    const struct kl_model *model;
    struct kl_model *own_model;  /* set when we opened it */
    const struct kl_model_info *mi;
    const struct kl_transport_ops *ops;
    struct kl_transport *t;
    struct kl_offsets *offsets;
    struct kl_batch b;
    struct kl_scratch scratch;
    struct kl_dlq dlq;
    struct kl_buf enc;
    char **topics;               /* (ntopics) interned input topic names */
    size_t ntopics;
    /* state */
    atomic_int stop;
    atomic_int assigned;         /* input partitions assigned to us now */
    int ran;
    int eof;
    int failed;                  /* a delivery failed or offsets could not be stored */
    char fail_reason[512];
    struct kl_stage_stats st;
};

static inline int64_t kl_stage_now_us(void)
{
    return (int64_t)(kl_now_ns() / 1000);
}

/* Transport callbacks (ud is the stage). */
void kl_stage_on_delivery(void *ud, const struct kl_delivery *d);
void kl_stage_on_assign(void *ud, const char *topic, int32_t partition);
void kl_stage_on_revoke(void *ud, const char *topic, int32_t partition);

/* Predicts the batch in hand, then produces every item in input order.
 * Returns 0 or a negative code with a reason in err. */
int kl_stage_process_batch(struct kl_stage *s, char *err, size_t errsz);

#endif
