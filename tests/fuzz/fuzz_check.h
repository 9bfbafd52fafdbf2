/*
 * tests/fuzz/fuzz_check.h: CHECK(cond, fmt, ...) for the fuzz targets: a
 * failed property prints the condition, its line and the message, then
 * aborts, so libFuzzer keeps the input as a crash.
 */
#ifndef KL_FUZZ_CHECK_H
#define KL_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "fuzz check failed: %s (%s:%d): ", #cond,       \
                    __FILE__, __LINE__);                                    \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
            abort();                                                        \
        }                                                                   \
    } while (0)

#endif
