/*
 * Unit tests of plugin/flow.c, the backpressure state machine under a fake
 * clock: a full queue (either limit, or a starved worker) holds the input,
 * a hold that lasts queue.hold.ms becomes a pause, hold 0 pauses at once;
 * the input runs again only when both counts are at or below their
 * low-water marks and nothing is starved (hysteresis, no repeated
 * transitions); counters; ratio and limit edge cases.
 */
#include <criterion/criterion.h>

#include "flow.h"

Test(flow, hold_then_release_below_low_water)
{
    struct kl_flow f;

    kl_flow_init(&f, 1000, 1 << 20, 0.5, 500000);
    cr_expect_eq(kl_flow_update(&f, 999, 0, 0, 0), KL_FLOW_KEEP);
    cr_expect_eq(kl_flow_update(&f, 1000, 0, 0, 10), KL_FLOW_HOLD);
    cr_expect_eq(f.state, KL_FLOW_HELD);
    cr_expect_eq(kl_flow_update(&f, 2000, 0, 0, 20), KL_FLOW_KEEP);
    cr_expect_eq(kl_flow_update(&f, 501, 0, 0, 30), KL_FLOW_KEEP);
    cr_expect_eq(kl_flow_update(&f, 500, 0, 0, 40), KL_FLOW_RESUME);
    cr_expect_eq(f.state, KL_FLOW_RUNNING);
    cr_expect_eq(kl_flow_update(&f, 900, 0, 0, 50), KL_FLOW_KEEP,
                 "hysteresis: nothing below the limit");
    cr_expect_eq(f.holds, 1);
    cr_expect_eq(f.pauses, 0);
    cr_expect_eq(f.resumes, 1);
}

Test(flow, long_hold_becomes_a_pause)
{
    struct kl_flow f;

    kl_flow_init(&f, 100, 1 << 20, 0.5, 1000);
    cr_expect_eq(kl_flow_update(&f, 100, 0, 0, 5000), KL_FLOW_HOLD);
    cr_expect_eq(kl_flow_update(&f, 100, 0, 0, 5999), KL_FLOW_KEEP);
    cr_expect_eq(kl_flow_update(&f, 100, 0, 0, 6000), KL_FLOW_PAUSE);
    cr_expect_eq(f.state, KL_FLOW_PAUSED);
    cr_expect_eq(kl_flow_update(&f, 90, 0, 0, 7000), KL_FLOW_KEEP);
    cr_expect_eq(kl_flow_update(&f, 50, 0, 0, 8000), KL_FLOW_RESUME);
    cr_expect_eq(f.pauses, 1);
    cr_expect_eq(f.holds, 1);
}

Test(flow, hold_zero_pauses_at_once)
{
    struct kl_flow f;

    kl_flow_init(&f, 1000, 1 << 20, 0.5, 0);
    cr_expect_eq(kl_flow_update(&f, 1000, 0, 0, 0), KL_FLOW_PAUSE);
    cr_expect_eq(kl_flow_update(&f, 2000, 0, 0, 1), KL_FLOW_KEEP);
    cr_expect_eq(kl_flow_update(&f, 500, 0, 0, 2), KL_FLOW_RESUME);
    cr_expect_eq(f.holds, 0);
}

Test(flow, bytes_limit_and_both_must_drop)
{
    struct kl_flow f;

    kl_flow_init(&f, 1000, 10000, 0.25, 0);
    cr_expect_eq(kl_flow_update(&f, 10, 10000, 0, 0), KL_FLOW_PAUSE);
    cr_expect_eq(kl_flow_update(&f, 10, 2501, 0, 0), KL_FLOW_KEEP);
    cr_expect_eq(kl_flow_update(&f, 251, 2500, 0, 0), KL_FLOW_KEEP,
                 "events above their low-water mark");
    cr_expect_eq(kl_flow_update(&f, 250, 2500, 0, 0), KL_FLOW_RESUME);
}

Test(flow, starved_worker_holds_the_input)
{
    struct kl_flow f;

    kl_flow_init(&f, 1000, 10000, 0.5, 100);
    cr_expect_eq(kl_flow_update(&f, 0, 0, 1, 0), KL_FLOW_HOLD);
    cr_expect_eq(kl_flow_update(&f, 0, 0, 1, 50), KL_FLOW_KEEP);
    cr_expect_eq(kl_flow_update(&f, 0, 0, 0, 60), KL_FLOW_RESUME);
}

Test(flow, ratio_zero_waits_for_empty)
{
    struct kl_flow f;

    kl_flow_init(&f, 4, 100, 0.0, 0);
    cr_expect_eq(kl_flow_update(&f, 4, 0, 0, 0), KL_FLOW_PAUSE);
    cr_expect_eq(kl_flow_update(&f, 1, 0, 0, 0), KL_FLOW_KEEP);
    cr_expect_eq(kl_flow_update(&f, 0, 0, 0, 0), KL_FLOW_RESUME);
    kl_flow_init(&f, 0, 0, 2.0, -5); /* clamped: limits 1, ratio 0.99, hold 0 */
    cr_expect_eq(f.max_events, 1);
    cr_expect_eq(f.hold_us, 0);
    cr_expect_eq(kl_flow_update(&f, 1, 0, 0, 0), KL_FLOW_PAUSE);
    cr_expect_eq(kl_flow_update(&f, 0, 0, 0, 0), KL_FLOW_RESUME);
}
