/*
 * engine/prefetch.h: a read prefetch of every cache line of a span, for
 * the rows prediction is about to sum. Always inlined: gcc's pure/const
 * analysis finds a function that only prefetches free of side effects and
 * drops the calls to it that it can see (tests/unit/prefetch_check.sh
 * checks that the instructions are in the built code). Not installed.
 */
#ifndef KL_ENGINE_PREFETCH_H
#define KL_ENGINE_PREFETCH_H

#include <stddef.h>
#include <stdint.h>

/* Asks the memory system for the lines of p[0..bytes) (bytes > 0), for
 * reading, into the outer caches (a hint: nothing can fail). */
static inline __attribute__((always_inline)) void
kl_prefetch_span(const void *p, size_t bytes)
{
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)63, end = (uintptr_t)p + bytes;

    for (; a < end; a += 64)
        __builtin_prefetch((const void *)a, 0, 1);
}

#endif
