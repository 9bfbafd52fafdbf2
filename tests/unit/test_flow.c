/*
 * Unit tests of plugin/flow.c, the pause/resume state machine: pause at
 * either limit or when a worker is starved, no resume until both values
 * are at or below the low-water marks and nothing is starved, no repeated
 * transitions (hysteresis), counters, and ratio edge cases.
 */
#include <criterion/criterion.h>

#include "flow.h"

Test(flow, pauses_at_event_limit_and_resumes_below_low_water)
{
    struct kl_flow f;

    kl_flow_init(&f, 1000, 1 << 20, 0.5);
    cr_expect_eq(kl_flow_update(&f, 999, 0, 0), KL_FLOW_HOLD);
    cr_expect_eq(kl_flow_update(&f, 1000, 0, 0), KL_FLOW_PAUSE);
    cr_expect(f.paused);
    /* Still paused while above 500, and no second pause. */
    cr_expect_eq(kl_flow_update(&f, 2000, 0, 0), KL_FLOW_HOLD);
    cr_expect_eq(kl_flow_update(&f, 501, 0, 0), KL_FLOW_HOLD);
    cr_expect_eq(kl_flow_update(&f, 500, 0, 0), KL_FLOW_RESUME);
    cr_expect(!f.paused);
    cr_expect_eq(kl_flow_update(&f, 900, 0, 0), KL_FLOW_HOLD,
                 "hysteresis: no pause below the limit");
    cr_expect_eq(f.pauses, 1);
    cr_expect_eq(f.resumes, 1);
}

Test(flow, bytes_limit_and_both_must_drop)
{
    struct kl_flow f;

    kl_flow_init(&f, 1000, 10000, 0.25);
    cr_expect_eq(kl_flow_update(&f, 10, 10000, 0), KL_FLOW_PAUSE);
    cr_expect_eq(kl_flow_update(&f, 10, 2501, 0), KL_FLOW_HOLD);
    cr_expect_eq(kl_flow_update(&f, 251, 2500, 0), KL_FLOW_HOLD,
                 "events above their low-water mark");
    cr_expect_eq(kl_flow_update(&f, 250, 2500, 0), KL_FLOW_RESUME);
}

Test(flow, starved_worker_pauses_and_holds)
{
    struct kl_flow f;

    kl_flow_init(&f, 1000, 10000, 0.5);
    cr_expect_eq(kl_flow_update(&f, 0, 0, 1), KL_FLOW_PAUSE);
    cr_expect_eq(kl_flow_update(&f, 0, 0, 1), KL_FLOW_HOLD);
    cr_expect_eq(kl_flow_update(&f, 0, 0, 0), KL_FLOW_RESUME);
}

Test(flow, ratio_zero_waits_for_empty)
{
    struct kl_flow f;

    kl_flow_init(&f, 4, 100, 0.0);
    cr_expect_eq(kl_flow_update(&f, 4, 0, 0), KL_FLOW_PAUSE);
    cr_expect_eq(kl_flow_update(&f, 1, 0, 0), KL_FLOW_HOLD);
    cr_expect_eq(kl_flow_update(&f, 0, 0, 0), KL_FLOW_RESUME);
    kl_flow_init(&f, 0, 0, 2.0); /* clamped: limits 1, ratio 0.99 */
    cr_expect_eq(f.max_events, 1);
    cr_expect_eq(kl_flow_update(&f, 1, 0, 0), KL_FLOW_PAUSE);
    cr_expect_eq(kl_flow_update(&f, 0, 0, 0), KL_FLOW_RESUME);
}
